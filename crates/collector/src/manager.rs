//! The collector's partition tasks: at most one loop per partition.
//!
//! `AddSyncTask` ([`TaskManager::add_sync_task`]):
//! * the same token as the running task, or as one that finished or was
//!   dropped: nothing to do (idempotent; never a second loop for one
//!   partition, and a late repeat does not read a finished part again);
//! * a partition whose last read failed less than `failure_hold` ago: refused
//!   with that error, so SyncTool reports it instead of reassigning in a loop;
//! * otherwise the running loop (an older assignment) is stopped and awaited,
//!   the new one is prepared — the tablet is asked and the data linked before
//!   the call returns, so an assignment that cannot be read is refused with the
//!   reason — persisted to `task.progress`, and started.
//!
//! Calls for different partitions run concurrently; calls for one partition
//! are serialised. [`TaskManager::recover`] restarts the tasks persisted in the
//! work dirs (a restarted collector resumes from its last accepted point).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sync_core::proto::datasync::AddSyncTaskRequest;
use sync_core::task::Mode;
use sync_infra::store::LocalStore;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::prepare::assigned_point;
use crate::status::{SharedStatus, TaskState, TaskStatus};
use crate::tablet_client::TabletApi;
use crate::task_run::{Ready, TaskEnv, prepare_task, run_task};

type Key = (u32, u32);

/// How long an ended task stays on the status page.
const ENDED_KEPT_MS: u64 = 3_600_000;

/// Why `AddSyncTask` was refused.
#[derive(Debug, thiserror::Error)]
pub enum AddError {
    #[error("bad AddSyncTask request: {0}")]
    BadRequest(String),
    #[error("tid {tid} pid {pid}: reading failed {ago:?} ago: {error}")]
    RecentFailure {
        tid: u32,
        pid: u32,
        ago: Duration,
        error: String,
    },
    #[error("{0}")]
    Prepare(String),
    #[error("tid {tid} pid {pid}: cannot persist the task: {error}")]
    Persist { tid: u32, pid: u32, error: String },
}

struct Running {
    token: String,
    cancel: watch::Sender<bool>,
    join: JoinHandle<TaskState>,
}

impl Running {
    async fn stop(self) {
        self.cancel.send_replace(true);
        if let Err(e) = self.join.await {
            warn!("a task loop ended abnormally: {e}");
        }
    }
}

type Slot = Arc<tokio::sync::Mutex<Option<Running>>>;

/// The partition tasks of one collector.
pub struct TaskManager<S, T> {
    env: TaskEnv<S, T>,
    slots: Mutex<HashMap<Key, Slot>>,
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
            slots: Mutex::new(HashMap::new()),
            statuses: Mutex::new(BTreeMap::new()),
        }
    }

    fn slot(&self, key: Key) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.entry(key).or_default().clone()
    }

    fn status_of(&self, key: Key) -> Option<SharedStatus> {
        let statuses = self.statuses.lock().unwrap_or_else(|p| p.into_inner());
        statuses.get(&key).cloned()
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

    /// Handles `AddSyncTask` (see the module docs).
    pub async fn add_sync_task(&self, task: AddSyncTaskRequest) -> Result<(), AddError> {
        let key = check_request(&task)?;
        let (tid, pid) = key;
        let slot = self.slot(key);
        let mut running = slot.lock().await;
        if let Some(r) = running.as_ref()
            && r.token == task.token()
        {
            let ended = self.status_of(key).map(|s| s.lock().state);
            if !r.join.is_finished()
                || matches!(ended, Some(TaskState::Finished | TaskState::Dropped))
            {
                return Ok(());
            }
        }
        if let Some(failure) = self.recent_failure(key) {
            return Err(failure);
        }
        if let Some(old) = running.take() {
            info!(tid, pid, "a new assignment replaces the running task");
            old.stop().await;
        }
        let status = self.new_status(&task);
        let point = assigned_point(&task).map_err(|e| AddError::BadRequest(e.to_string()))?;
        let ready = match prepare_task(&self.env, &task, &point).await {
            Ok(ready) => ready,
            Err(failure) => {
                {
                    let mut s = status.lock();
                    s.state = TaskState::Refused;
                    s.error = Some(failure.message.clone());
                    s.ended_ms = Some((self.env.clock)());
                }
                self.set_status(key, status);
                return Err(AddError::Prepare(failure.message));
            }
        };
        self.env
            .work
            .save_task(&task)
            .map_err(|e| AddError::Persist {
                tid,
                pid,
                error: e.to_string(),
            })?;
        info!(tid, pid, token = task.token(), point = %point, sync_tool = task.des_endpoint(), "task assigned");
        *running = Some(self.spawn(task, Some(ready), status.clone()));
        self.set_status(key, status);
        Ok(())
    }

    /// Restarts the tasks persisted in the work dirs; returns how many.
    pub async fn recover(&self) -> Result<usize, crate::workdir::WorkDirError> {
        let (tasks, unreadable) = self.env.work.load_tasks()?;
        for bad in unreadable {
            warn!("a persisted task cannot be read (left as is): {bad}");
        }
        let count = tasks.len();
        for task in tasks {
            let Ok(key) = check_request(&task) else {
                warn!(
                    tid = task.tid(),
                    pid = task.pid(),
                    "a persisted task is incomplete; ignored"
                );
                continue;
            };
            info!(
                tid = key.0,
                pid = key.1,
                token = task.token(),
                "resuming a persisted task"
            );
            let slot = self.slot(key);
            let mut running = slot.lock().await;
            let status = self.new_status(&task);
            *running = Some(self.spawn(task, None, status.clone()));
            self.set_status(key, status);
        }
        Ok(count)
    }

    /// Stops every task (they stay persisted, to be resumed).
    pub async fn shutdown(&self) {
        let slots: Vec<Slot> = {
            let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            slots.values().cloned().collect()
        };
        for slot in slots {
            if let Some(r) = slot.lock().await.take() {
                r.stop().await;
            }
        }
    }

    fn recent_failure(&self, key: Key) -> Option<AddError> {
        let status = self.status_of(key)?.snapshot();
        if status.state != TaskState::Failed {
            return None;
        }
        let ended = status.ended_ms?;
        let ago = Duration::from_millis((self.env.clock)().saturating_sub(ended));
        (ago < self.env.settings.failure_hold).then(|| AddError::RecentFailure {
            tid: key.0,
            pid: key.1,
            ago,
            error: status.error.unwrap_or_default(),
        })
    }

    fn new_status(&self, task: &AddSyncTaskRequest) -> SharedStatus {
        let point = assigned_point(task).map_or_else(|e| e.to_string(), |p| p.to_string());
        SharedStatus::new(TaskStatus {
            tid: task.tid(),
            pid: task.pid(),
            token: task.token().to_string(),
            mode: task.mode.unwrap_or_default(),
            tablet_endpoint: task.tablet_endpoint().to_string(),
            des_endpoint: task.des_endpoint().to_string(),
            state: TaskState::Preparing,
            assigned_point: point.clone(),
            accepted_point: point,
            committed_point: None,
            rows_sent: 0,
            bytes_sent: 0,
            packs_sent: 0,
            caught_up: false,
            last_accepted_ms: None,
            started_ms: (self.env.clock)(),
            ended_ms: None,
            error: None,
        })
    }

    fn spawn(
        &self,
        task: AddSyncTaskRequest,
        ready: Option<Ready>,
        status: SharedStatus,
    ) -> Running {
        let (cancel, cancelled) = watch::channel(false);
        let token = task.token().to_string();
        let join = tokio::spawn(run_task(self.env.clone(), task, ready, status, cancelled));
        Running {
            token,
            cancel,
            join,
        }
    }
}

/// The partition of a complete request.
fn check_request(task: &AddSyncTaskRequest) -> Result<Key, AddError> {
    let missing = |field: &str| AddError::BadRequest(format!("`{field}` is missing or empty"));
    let tid = task.tid.ok_or_else(|| missing("tid"))?;
    let pid = task.pid.ok_or_else(|| missing("pid"))?;
    if task.token().is_empty() {
        return Err(missing("token"));
    }
    if task.des_endpoint().is_empty() {
        return Err(missing("des_endpoint"));
    }
    if task.tablet_endpoint().is_empty() {
        return Err(missing("tablet_endpoint"));
    }
    let mode = task.mode.ok_or_else(|| missing("mode"))?;
    Mode::from_i32(mode).map_err(|_| AddError::BadRequest(format!("unknown mode {mode}")))?;
    Ok((tid, pid))
}
