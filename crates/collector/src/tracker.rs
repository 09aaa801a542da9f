//! Follows SyncTool's answers for one task: the accepted point (shown, and
//! persisted in `task.progress` at most every `persist_interval` and when a
//! stream ends), the committed point (handed to the [`Keeper`], which
//! releases what it no longer needs), and the status page's counters.
//! Writes need the task's lease.

use std::sync::Arc;

use sync_core::point::Point;
use sync_core::proto::datasync::AddSyncTaskRequest;
use sync_infra::store::LocalStore;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::keeper::Keeper;
use crate::lease::Lease;
use crate::sender::{AcceptedPack, SendObserver};
use crate::status::SharedStatus;
use crate::task_run::{CollectorSettings, TaskEnv};
use crate::workdir::WorkDir;

/// One task's progress as SyncTool reports it.
pub struct Tracker<S> {
    work: WorkDir<S>,
    task: AddSyncTaskRequest,
    status: SharedStatus,
    lease: Lease,
    pub(crate) keeper: Keeper<S>,
    /// The end of the last accepted pack.
    pub(crate) accepted: Point,
    persisted: Point,
    last_persist: Instant,
    /// A pack was accepted since the last [`Tracker::take_progressed`].
    progressed: bool,
    settings: Arc<CollectorSettings>,
    clock: fn() -> u64,
}

impl<S: LocalStore + Clone> Tracker<S> {
    pub fn new<T>(
        env: &TaskEnv<S, T>,
        task: &AddSyncTaskRequest,
        status: SharedStatus,
        lease: Lease,
        keeper: Keeper<S>,
    ) -> Result<Self, String> {
        let accepted = crate::prepare::assigned_point(task)
            .map_err(|e| format!("tid {} pid {}: {e}", task.tid(), task.pid()))?;
        Ok(Self {
            work: env.work.clone(),
            task: task.clone(),
            status,
            lease,
            keeper,
            persisted: accepted.clone(),
            accepted,
            last_persist: Instant::now(),
            progressed: false,
            settings: env.settings.clone(),
            clock: env.clock,
        })
    }

    /// Whether a pack was accepted since the last call.
    pub fn take_progressed(&mut self) -> bool {
        std::mem::take(&mut self.progressed)
    }

    /// Writes the accepted point to `task.progress` if it moved.
    pub fn persist(&mut self) {
        if self.persisted == self.accepted {
            return;
        }
        let (tid, pid) = (self.task.tid(), self.task.pid());
        let mut task = self.task.clone();
        match self.accepted.to_proto() {
            Ok(point) => task.sync_point = Some(point),
            Err(e) => {
                warn!(tid, pid, "accepted point not persisted: {e}");
                return;
            }
        }
        match self.lease.with(|| self.work.save_task(&task)) {
            Some(Ok(())) => {
                self.persisted = self.accepted.clone();
                self.last_persist = Instant::now();
            }
            Some(Err(e)) => warn!(tid, pid, "cannot persist progress: {e}"),
            None => {}
        }
    }
}

impl<S: LocalStore + Clone> SendObserver for Tracker<S> {
    fn accepted(&mut self, next: &Point, pack: AcceptedPack) {
        self.accepted = next.clone();
        self.progressed = true;
        {
            let mut s = self.status.lock();
            s.accepted_point = next.to_string();
            s.rows_sent += pack.rows;
            s.bytes_sent += pack.bytes;
            s.deletes_skipped += pack.deletes_skipped;
            s.packs_sent += 1;
            let now = (self.clock)();
            s.last_accepted_ms = Some(now);
            let (rows, bytes) = (s.rows_sent, s.bytes_sent);
            s.read_rate.record(now, rows, bytes);
            s.clear_error();
        }
        if self.last_persist.elapsed() >= self.settings.persist_interval {
            self.persist();
        }
    }

    fn committed(&mut self, at: &Point) {
        self.keeper.on_committed(at);
    }

    fn rejected(&mut self, message: &str) {
        let now = (self.clock)();
        self.status
            .lock()
            .set_error(format!("SyncTool refused a pack: {message}"), now);
    }

    fn resumed(&mut self, at: &Point) {
        info!(tid = self.task.tid(), pid = self.task.pid(), point = %at, "resuming at SyncTool's accepted point");
        self.accepted = at.clone();
        self.status.lock().accepted_point = at.to_string();
        self.persist();
    }
}
