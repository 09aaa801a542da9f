//! The collector's partition tasks: at most one current loop per partition.
//!
//! `AddSyncTask` ([`TaskManager::add_sync_task`]) answers at once:
//! * the request is checked ([`crate::validate`]); a bad one is refused with
//!   the field and why;
//! * the same token as the partition's current loop (running, dormant, or
//!   ended after its work dir went): nothing to do (idempotent; never a
//!   second loop for one assignment, and a late repeat does not read a
//!   finished part again);
//! * otherwise the new assignment is persisted (`task.progress`, and
//!   `task.state` set active) under a new [`Lease`] on the work dir, the old
//!   loop (an older assignment, possibly dormant) is told to stop, and the new
//!   loop starts; it waits for the old one to end before touching the work
//!   dir and reuses its links. Tablet calls, linking and opening the snapshot
//!   all run in the new loop, after the answer.
//!
//! [`TaskManager::recover`] restarts the tasks persisted in the work dirs:
//! active ones resume from their accepted point, finishing ones wait for the
//! commit, dormant ones stay dormant.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use sync_core::point::Point;
use sync_core::proto::datasync::AddSyncTaskRequest;
use sync_infra::store::LocalStore;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::transport::Channel;
use tracing::{info, warn};

use crate::lease::{Lease, Leases};
use crate::rate::ReadRate;
use crate::record::{RecordedPhase, TaskRecord};
use crate::status::{SharedStatus, TaskState, TaskStatus};
use crate::tablet_client::TabletApi;
use crate::task_run::{Start, TaskEnv, run_task};
use crate::validate::{RequestError, check_request};
use crate::workdir::WorkDirError;

type Key = (u32, u32);

/// How long an ended task stays on the status page.
const ENDED_KEPT_MS: u64 = 3_600_000;

/// Why `AddSyncTask` was refused.
#[derive(Debug, thiserror::Error)]
pub enum AddError {
    #[error("bad AddSyncTask request: {0}")]
    BadRequest(#[from] RequestError),
    #[error("bad AddSyncTask request: {0}")]
    BadEndpoint(String),
    #[error("tid {tid} pid {pid}: cannot persist the task: {error}")]
    Persist {
        tid: u32,
        pid: u32,
        error: WorkDirError,
    },
}

struct Running {
    token: String,
    cancel: watch::Sender<bool>,
    join: JoinHandle<TaskState>,
    status: SharedStatus,
}

/// The partition tasks of one collector.
pub struct TaskManager<S, T> {
    env: TaskEnv<S, T>,
    leases: Leases,
    running: Mutex<HashMap<Key, Running>>,
    statuses: Mutex<BTreeMap<Key, SharedStatus>>,
}

impl<S, T> TaskManager<S, T>
where
    S: LocalStore + Clone,
    T: TabletApi + 'static,
{
    pub fn new(env: TaskEnv<S, T>) -> Self {
        Self {
            env,
            leases: Leases::default(),
            running: Mutex::new(HashMap::new()),
            statuses: Mutex::new(BTreeMap::new()),
        }
    }

    /// Records the status of `key`'s newest assignment, and forgets tasks
    /// that ended more than [`ENDED_KEPT_MS`] ago.
    fn set_status(&self, key: Key, status: SharedStatus) {
        let now = (self.env.clock)();
        let mut statuses = self.statuses.lock().unwrap_or_else(|p| p.into_inner());
        statuses.insert(key, status);
        statuses.retain(|_, s| {
            let s = s.lock();
            !(s.state.is_over()
                && s.ended_ms
                    .is_some_and(|t| now.saturating_sub(t) > ENDED_KEPT_MS))
        });
    }

    /// The status of every partition task this collector has seen.
    pub fn statuses(&self) -> Vec<TaskStatus> {
        let statuses = self.statuses.lock().unwrap_or_else(|p| p.into_inner());
        statuses.values().map(SharedStatus::snapshot).collect()
    }

    /// Handles `AddSyncTask` (see the module docs); never waits for the
    /// tablet or for a loop to stop.
    pub async fn add_sync_task(&self, task: AddSyncTaskRequest) -> Result<(), AddError> {
        let (key, point) = check_request(&task)?;
        let (tid, pid) = key;
        let timeout = self.env.settings.request_timeout;
        let channel =
            (self.env.connect)(task.des_endpoint(), timeout).map_err(AddError::BadEndpoint)?;
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = running.get(&key)
            && r.token == task.token()
        {
            // A loop that ended without saying how (it panicked) may start again.
            let ended_cleanly = r.status.lock().state.is_over();
            if !r.join.is_finished() || ended_cleanly {
                return Ok(());
            }
        }
        let work = &self.env.work;
        let (lease, ()) = self
            .leases
            .take(key, || {
                work.save_task(&task)?;
                let mut record = TaskRecord::load(work, tid, pid).unwrap_or_default();
                record.phase = RecordedPhase::Active;
                record.save(work, tid, pid)
            })
            .map_err(|error| AddError::Persist { tid, pid, error })?;
        let previous = running.remove(&key).map(|old| {
            info!(tid, pid, old = %old.token, new = task.token(), "a new assignment replaces the task");
            old.cancel.send_replace(true);
            old.join
        });
        info!(tid, pid, token = task.token(), point = %point, sync_tool = task.des_endpoint(), "task assigned");
        let status = self.new_status(&task, &point);
        let r = self.spawn(
            task,
            Start::Assigned { previous },
            status.clone(),
            lease,
            channel,
        );
        running.insert(key, r);
        drop(running);
        self.set_status(key, status);
        Ok(())
    }

    /// Restarts the tasks persisted in the work dirs; returns how many.
    pub async fn recover(&self) -> Result<usize, WorkDirError> {
        let (tasks, unreadable) = self.env.work.load_tasks()?;
        for bad in unreadable {
            warn!("a persisted task cannot be read (left as is): {bad}");
        }
        let mut count = 0;
        for task in tasks {
            let (key, point) = match check_request(&task) {
                Ok(checked) => checked,
                Err(e) => {
                    warn!(
                        tid = task.tid(),
                        pid = task.pid(),
                        "a persisted task is not valid; left as is: {e}"
                    );
                    continue;
                }
            };
            let channel =
                match (self.env.connect)(task.des_endpoint(), self.env.settings.request_timeout) {
                    Ok(c) => c,
                    Err(e) => {
                        warn!(
                            tid = key.0,
                            pid = key.1,
                            "a persisted task cannot reach SyncTool; left as is: {e}"
                        );
                        continue;
                    }
                };
            info!(tid = key.0, pid = key.1, token = task.token(), point = %point, "resuming a persisted task");
            let (lease, ()) = self
                .leases
                .take(key, || Ok::<(), std::convert::Infallible>(()))
                .unwrap_or_else(|never| match never {});
            let status = self.new_status(&task, &point);
            match TaskRecord::load(&self.env.work, key.0, key.1).map(|r| r.phase) {
                Ok(RecordedPhase::Dormant { why, since_ms }) => {
                    let mut s = status.lock();
                    s.set_dormant(Some(why.to_string()), Some(since_ms));
                    s.set_state(TaskState::Dormant);
                }
                Ok(RecordedPhase::Finishing) => status.lock().set_state(TaskState::Finishing),
                Ok(RecordedPhase::Active) | Err(_) => {}
            }
            let r = self.spawn(task, Start::Recovered, status.clone(), lease, channel);
            let old = self
                .running
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(key, r);
            if let Some(old) = old {
                old.cancel.send_replace(true);
            }
            self.set_status(key, status);
            count += 1;
        }
        Ok(count)
    }

    /// Stops every task (they stay persisted, to be resumed).
    pub async fn shutdown(&self) {
        let all: Vec<Running> = {
            let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
            running.drain().map(|(_, r)| r).collect()
        };
        for r in &all {
            r.cancel.send_replace(true);
        }
        for r in all {
            if let Err(e) = r.join.await {
                warn!("a task loop ended abnormally: {e}");
            }
        }
    }

    fn new_status(&self, task: &AddSyncTaskRequest, point: &Point) -> SharedStatus {
        let point = point.to_string();
        let now = (self.env.clock)();
        let mut status = TaskStatus {
            tid: task.tid(),
            pid: task.pid(),
            token: task.token().to_string(),
            mode: task.mode.unwrap_or_default(),
            tablet_endpoint: task.tablet_endpoint().to_string(),
            des_endpoint: task.des_endpoint().to_string(),
            state: TaskState::Preparing,
            phase: String::new(),
            assigned_point: point.clone(),
            accepted_point: point,
            started_ms: now,
            read_rate: ReadRate::starting_at(now),
            ..TaskStatus::default()
        };
        status.set_state(TaskState::Preparing);
        SharedStatus::new(status)
    }

    fn spawn(
        &self,
        task: AddSyncTaskRequest,
        start: Start,
        status: SharedStatus,
        lease: Lease,
        channel: Channel,
    ) -> Running {
        let (cancel, cancelled) = watch::channel(false);
        let token = task.token().to_string();
        let join = tokio::spawn(run_task(
            self.env.clone(),
            task,
            start,
            status.clone(),
            cancelled,
            lease,
            channel,
        ));
        Running {
            token,
            cancel,
            join,
            status,
        }
    }
}
