//! The collector's partition tasks: at most one current loop per partition.
//!
//! `AddSyncTask` ([`TaskManager::add_sync_task`]) answers at once:
//! * the request is checked ([`crate::validate`]); a bad one is refused with
//!   the field and why;
//! * the same token as the partition's current loop (running, dormant, or
//!   ended after its work dir went): nothing to do (idempotent; never a
//!   second loop for one assignment, and a late repeat does not read a
//!   finished part again);
//! * an assignment whose `part_epoch` is older than the newest one this
//!   collector was given for the partition (kept across restarts in the
//!   persisted task) is refused: it comes from a SyncTool that no longer
//!   owns the partition (`FAULTS.md` §4);
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
use std::sync::{Arc, Mutex};

use sync_core::point::Point;
use sync_core::proto::datasync::AddSyncTaskRequest;
use sync_infra::store::LocalStore;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::channels::{ChannelPool, SharedChannel};
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
/// How often the status page's ended tasks are looked at for forgetting.
const PRUNE_EVERY_MS: u64 = 60_000;

/// Why `AddSyncTask` was refused.
#[derive(Debug, thiserror::Error)]
pub enum AddError {
    #[error("bad AddSyncTask request: {0}")]
    BadRequest(#[from] RequestError),
    #[error("bad AddSyncTask request: {0}")]
    BadEndpoint(String),
    #[error(
        "tid {tid} pid {pid}: stale assignment: partition epoch {epoch} is older than epoch {newest}, \
         assigned already (the SyncTool that sent it no longer owns the partition)"
    )]
    StaleEpoch {
        tid: u32,
        pid: u32,
        epoch: u64,
        newest: u64,
    },
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
    /// One `AddSyncTask` at a time per partition; calls for different
    /// partitions go on at once (each persists its task, which waits for
    /// the disk: done under one lock, thousands of assignments queued for
    /// seconds and their callers timed out).
    turns: Mutex<HashMap<Key, Arc<tokio::sync::Mutex<()>>>>,
    /// The newest partition epoch assigned per partition (several
    /// SyncTools): an assignment with an older one is refused.
    epochs: Mutex<HashMap<Key, u64>>,
    statuses: Mutex<Statuses>,
    /// Connections to SyncTool, shared by the tasks' pack streams.
    channels: ChannelPool,
}

/// The status of each partition's newest assignment, and when ended ones
/// were last forgotten.
#[derive(Default)]
struct Statuses {
    by_key: BTreeMap<Key, SharedStatus>,
    pruned_ms: u64,
}

impl<S, T> TaskManager<S, T>
where
    S: LocalStore + Clone,
    T: TabletApi + 'static,
{
    pub fn new(env: TaskEnv<S, T>) -> Self {
        Self {
            channels: ChannelPool::new(env.connect.clone()),
            env,
            leases: Leases::default(),
            running: Mutex::new(HashMap::new()),
            turns: Mutex::new(HashMap::new()),
            epochs: Mutex::new(HashMap::new()),
            statuses: Mutex::new(Statuses::default()),
        }
    }

    /// Records the status of `key`'s newest assignment, and forgets tasks
    /// that ended more than [`ENDED_KEPT_MS`] ago (looked for at most every
    /// [`PRUNE_EVERY_MS`]: not a scan of every part per assignment).
    fn set_status(&self, key: Key, status: SharedStatus) {
        let now = (self.env.clock)();
        let mut statuses = self.statuses.lock().unwrap_or_else(|p| p.into_inner());
        statuses.by_key.insert(key, status);
        if now.saturating_sub(statuses.pruned_ms) < PRUNE_EVERY_MS {
            return;
        }
        statuses.pruned_ms = now;
        statuses.by_key.retain(|_, s| {
            let s = s.lock();
            !(s.state.is_over()
                && s.ended_ms
                    .is_some_and(|t| now.saturating_sub(t) > ENDED_KEPT_MS))
        });
    }

    /// The status of every partition task this collector has seen.
    pub fn statuses(&self) -> Vec<TaskStatus> {
        let statuses = self.statuses.lock().unwrap_or_else(|p| p.into_inner());
        statuses
            .by_key
            .values()
            .map(SharedStatus::snapshot)
            .collect()
    }

    /// The lock that lets one `AddSyncTask` for `key` run at a time.
    fn turn(&self, key: Key) -> Arc<tokio::sync::Mutex<()>> {
        let mut turns = self.turns.lock().unwrap_or_else(|p| p.into_inner());
        turns.entry(key).or_default().clone()
    }

    /// Handles `AddSyncTask` (see the module docs); never waits for the
    /// tablet or for a loop to stop.
    pub async fn add_sync_task(&self, task: AddSyncTaskRequest) -> Result<(), AddError> {
        let (key, point) = check_request(&task)?;
        let (tid, pid) = key;
        let timeout = self.env.settings.request_timeout;
        let channel = self
            .channels
            .get(task.des_endpoint(), timeout)
            .map_err(AddError::BadEndpoint)?;
        let turn = self.turn(key);
        let _turn = turn.lock().await;
        self.check_epoch(key, &task)?;
        if let Some(r) = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
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
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
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

    /// Refuses an assignment whose partition epoch is older than the newest
    /// one assigned to this collector (a SyncTool that lost the partition);
    /// an assignment without one (a single SyncTool) is not checked.
    fn check_epoch(&self, key: Key, task: &AddSyncTaskRequest) -> Result<(), AddError> {
        let Some(epoch) = task.part_epoch else {
            return Ok(());
        };
        let newest = self.note_epoch(key, epoch);
        if epoch < newest {
            return Err(AddError::StaleEpoch {
                tid: key.0,
                pid: key.1,
                epoch,
                newest,
            });
        }
        Ok(())
    }

    /// Records that `key` was assigned with `epoch`; returns the newest
    /// epoch seen for it.
    fn note_epoch(&self, key: Key, epoch: u64) -> u64 {
        let mut epochs = self.epochs.lock().unwrap_or_else(|p| p.into_inner());
        let newest = epochs.entry(key).or_insert(epoch);
        *newest = (*newest).max(epoch);
        *newest
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
            let channel = match self
                .channels
                .get(task.des_endpoint(), self.env.settings.request_timeout)
            {
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
            if let Some(epoch) = task.part_epoch {
                self.note_epoch(key, epoch);
            }
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
        channel: SharedChannel,
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

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::sync::Condvar;
    use std::time::Duration;

    use sync_core::proto::datasync::SyncMode;
    use sync_infra::store::{DirEntry, FsStore, StoreError};

    use super::*;
    use crate::tablet_client::HttpTabletClient;
    use crate::task_run::{CollectorSettings, tcp_connector};
    use crate::workdir::WorkDir;

    /// Holds writes under one directory until opened.
    #[derive(Default)]
    struct Gate {
        /// (a write reached the gate, the gate is open)
        state: Mutex<(bool, bool)>,
        changed: Condvar,
    }

    impl Gate {
        fn update(&self, f: impl FnOnce(&mut (bool, bool))) {
            f(&mut self.state.lock().expect("gate"));
            self.changed.notify_all();
        }

        fn wait_until(&self, done: impl Fn(&(bool, bool)) -> bool) {
            let state = self.state.lock().expect("gate");
            drop(self.changed.wait_while(state, |s| !done(s)));
        }
    }

    #[derive(Clone)]
    struct GatedStore {
        gate: Arc<Gate>,
        held: PathBuf,
    }

    impl LocalStore for GatedStore {
        fn create_dir_all(&self, path: &Path) -> Result<(), StoreError> {
            FsStore.create_dir_all(path)
        }
        fn list_dir(&self, path: &Path) -> Result<Vec<DirEntry>, StoreError> {
            FsStore.list_dir(path)
        }
        fn hard_link(&self, original: &Path, link: &Path) -> Result<(), StoreError> {
            FsStore.hard_link(original, link)
        }
        fn read(&self, path: &Path) -> Result<Option<Vec<u8>>, StoreError> {
            FsStore.read(path)
        }
        fn read_at(&self, path: &Path, offset: u64, buf: &mut [u8]) -> Result<usize, StoreError> {
            FsStore.read_at(path, offset, buf)
        }
        fn write_atomic(&self, path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
            if path.starts_with(&self.held) {
                self.gate.update(|s| s.0 = true);
                self.gate.wait_until(|s| s.1);
            }
            FsStore.write_atomic(path, bytes)
        }
        fn rename(&self, from: &Path, to: &Path) -> Result<(), StoreError> {
            FsStore.rename(from, to)
        }
        fn remove_file(&self, path: &Path) -> Result<(), StoreError> {
            FsStore.remove_file(path)
        }
        fn remove_dir_all(&self, path: &Path) -> Result<(), StoreError> {
            FsStore.remove_dir_all(path)
        }
    }

    fn task(pid: u32) -> AddSyncTaskRequest {
        AddSyncTaskRequest {
            tid: Some(1),
            pid: Some(pid),
            mode: Some(SyncMode::KFullAndContinuous as i32),
            tablet_endpoint: Some("127.0.0.1:1".into()),
            des_endpoint: Some("127.0.0.1:2".into()),
            token: Some(format!("token-{pid}")),
            ..AddSyncTaskRequest::default()
        }
    }

    fn now_ms() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_slow_persist_of_one_partition_does_not_hold_up_another() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("collector");
        let gate = Arc::new(Gate::default());
        let store = GatedStore {
            gate: gate.clone(),
            held: root.join("1-0"),
        };
        let manager = Arc::new(TaskManager::new(TaskEnv {
            work: WorkDir::new(store, root),
            tablet: Arc::new(HttpTabletClient::new(Duration::from_secs(1))),
            settings: Arc::new(CollectorSettings::default()),
            clock: now_ms,
            connect: tcp_connector(),
        }));
        let slow = tokio::spawn({
            let manager = manager.clone();
            async move { manager.add_sync_task(task(0)).await }
        });
        let reached = gate.clone();
        tokio::task::spawn_blocking(move || reached.wait_until(|s| s.0))
            .await
            .expect("wait for the slow persist");
        let quick =
            tokio::time::timeout(Duration::from_secs(5), manager.add_sync_task(task(1))).await;
        gate.update(|s| s.1 = true);
        assert!(
            matches!(quick, Ok(Ok(()))),
            "partition 1's assignment waited for partition 0's disk: {quick:?}"
        );
        assert!(slow.await.expect("join").is_ok());
        assert_eq!(manager.statuses().len(), 2);
        manager.shutdown().await;
    }
}
