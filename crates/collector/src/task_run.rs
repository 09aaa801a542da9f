//! One partition task's life on the collector, from an assignment (or a
//! recovered work dir) to its end, as a loop over phases:
//!
//! * **preparing** ([`crate::preparing`]): wait for a replaced loop to end,
//!   ask the tablet, link, open the snapshot; `preparing` packs every
//!   `preparing_interval` keep the part alive meanwhile;
//! * **streaming** ([`crate::streaming`]): packs to SyncTool; ends finished
//!   (mode 0), dropped (with SyncTool's reason), broken or failed;
//! * **retrying** ([`crate::waiting`]): a broken stream or a transient read
//!   failure waits with exponential backoff (`retry_interval` doubling up to
//!   `retry_max_interval`), repeating the failure pack, then prepares again;
//! * **finishing**: mode 0's last pack is accepted; heartbeats until its end
//!   is committed, then the work dir goes;
//! * **dormant**: no rows, the links kept; a probe every `probe_interval`
//!   learns the committed point (releasing what it no longer needs) or that
//!   the task is deleted (the work dir goes).
//!
//! Beside every phase the [`Linker`] links new binlog files on its timer.
//! What SyncTool's `delete_task` means is [`TaskLoop::on_drop`]: only a
//! deleted or finished task loses its work dir; a reassigned, FAILED or
//! malformed one goes dormant. Phases that must survive a restart are
//! recorded in `task.state` ([`crate::record`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sync_core::proto::datasync::{AddSyncTaskRequest, DropReason};
use sync_core::task::Backoff;
use sync_infra::store::LocalStore;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::channels::SharedChannel;
use crate::keeper::Keeper;
use crate::lease::Lease;
use crate::linker::Linker;
use crate::prepare::{Prepared, ReadContext};
use crate::record::{Dormancy, RecordedPhase, TabletPaths, TaskRecord};
use crate::sender::ProducerMode;
use crate::status::{SharedStatus, TaskState};
use crate::tablet_client::TabletApi;
use crate::tracker::Tracker;
use crate::workdir::WorkDir;

/// How the collector reads and sends (from its flags).
#[derive(Debug, Clone)]
pub struct CollectorSettings {
    /// Bytes of rows per pack.
    pub max_pack_size: usize,
    /// Check binlog record checksums.
    pub verify_crc: bool,
    /// Unanswered packs per stream at most.
    pub window: usize,
    /// Between heartbeats (packs without rows) when caught up; also between
    /// a finishing task's heartbeats.
    pub idle_interval: Duration,
    /// When a caught-up task first looks for new rows (sent at once); the
    /// pause doubles while none come, up to a second.
    pub tail_interval: Duration,
    /// The first pause before trying again after a broken stream or a
    /// transient failure; it doubles with each failure in a row.
    pub retry_interval: Duration,
    /// The longest such pause.
    pub retry_max_interval: Duration,
    /// Timeout of calls to tablets and to SyncTool.
    pub request_timeout: Duration,
    /// How often the accepted point is written to `task.progress` while streaming.
    pub persist_interval: Duration,
    /// How often links the committed point no longer needs are released.
    pub release_interval: Duration,
    /// How often new binlog files are linked, in every phase.
    pub link_interval: Duration,
    /// How often a dormant task probes SyncTool.
    pub probe_interval: Duration,
    /// How often a preparing task (and one waiting after a transient read
    /// failure) tells SyncTool it is alive.
    pub preparing_interval: Duration,
    /// Where each stream's pack producer runs.
    pub producer: ProducerMode,
}

impl Default for CollectorSettings {
    fn default() -> Self {
        Self {
            max_pack_size: 1 << 20,
            verify_crc: false,
            window: 16,
            idle_interval: Duration::from_secs(5),
            tail_interval: Duration::from_millis(100),
            retry_interval: Duration::from_secs(5),
            retry_max_interval: Duration::from_secs(30),
            request_timeout: Duration::from_secs(20),
            persist_interval: Duration::from_secs(1),
            release_interval: Duration::from_secs(10),
            link_interval: Duration::from_secs(1),
            probe_interval: Duration::from_secs(10),
            preparing_interval: Duration::from_secs(1),
            producer: ProducerMode::Thread,
        }
    }
}

impl CollectorSettings {
    /// The pause after `attempt` failures in a row (≥ 1).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let backoff = Backoff {
            base_ms: ms(self.retry_interval).max(1),
            cap_ms: ms(self.retry_max_interval).max(ms(self.retry_interval)),
        };
        Duration::from_millis(backoff.delay_ms(attempt))
    }
}

/// How a task reaches its SyncTool (TCP in the daemon, the simulated network
/// in the simulation).
pub use sync_infra::one_port::{Connector, tcp_connector};

/// What a task needs from the daemon.
pub struct TaskEnv<S, T> {
    pub work: WorkDir<S>,
    pub tablet: Arc<T>,
    pub settings: Arc<CollectorSettings>,
    /// Wall-clock ms (TTL and the status page).
    pub clock: fn() -> u64,
    /// How to reach SyncTool.
    pub connect: Connector,
}

impl<S: Clone, T> Clone for TaskEnv<S, T> {
    fn clone(&self) -> Self {
        Self {
            work: self.work.clone(),
            tablet: self.tablet.clone(),
            settings: self.settings.clone(),
            clock: self.clock,
            connect: self.connect.clone(),
        }
    }
}

/// A partition ready to stream.
pub struct Ready {
    pub ctx: ReadContext,
    pub prepared: Prepared,
}

/// How a loop begins.
pub enum Start {
    /// A new assignment; `previous` is the loop it replaces (still ending).
    Assigned {
        previous: Option<JoinHandle<TaskState>>,
    },
    /// A task found in the work dir at start-up: its recorded phase goes on.
    Recovered,
}

/// The next phase of a loop.
pub(crate) enum Phase {
    Prepare,
    Stream(Box<Ready>),
    /// Wait, then prepare again. With a fault, the failure pack is repeated
    /// while waiting (`announce`: the first one right away).
    Retry {
        cause: String,
        fault: Option<crate::fault::ReadFault>,
        announce: bool,
    },
    Finishing,
    /// `announce`: the first probe right away (a failure SyncTool may not
    /// have heard yet).
    Dormant {
        why: Dormancy,
        since_ms: u64,
        announce: bool,
    },
    End(TaskState),
}

/// One partition task's loop.
pub(crate) struct TaskLoop<S, T> {
    pub(crate) env: TaskEnv<S, T>,
    pub(crate) task: AddSyncTaskRequest,
    pub(crate) status: SharedStatus,
    pub(crate) cancel: watch::Receiver<bool>,
    pub(crate) lease: Lease,
    pub(crate) channel: SharedChannel,
    pub(crate) tracker: Tracker<S>,
    pub(crate) linker: Option<Linker>,
    pub(crate) record: TaskRecord,
    /// Failures in a row (for the backoff).
    pub(crate) attempts: u32,
    /// The loop this one replaces, until it has ended.
    pub(crate) previous: Option<JoinHandle<TaskState>>,
}

/// Runs `task` until it ends; returns how it ended. `lease` is the task's
/// claim on its work dir, `channel` its connection to SyncTool.
pub async fn run_task<S, T>(
    env: TaskEnv<S, T>,
    task: AddSyncTaskRequest,
    start: Start,
    status: SharedStatus,
    cancel: watch::Receiver<bool>,
    lease: Lease,
    channel: SharedChannel,
) -> TaskState
where
    S: LocalStore + Clone,
    T: TabletApi,
{
    let (tid, pid) = (task.tid(), task.pid());
    let record = TaskRecord::load(&env.work, tid, pid).unwrap_or_else(|e| {
        warn!(
            tid,
            pid, "the task record cannot be read; taken as active: {e}"
        );
        TaskRecord::default()
    });
    let linker = Linker::start(
        env.work.clone(),
        tid,
        pid,
        record
            .tablet_paths
            .as_ref()
            .map(|p| PathBuf::from(&p.binlog_path)),
        env.settings.link_interval,
        status.clone(),
    );
    let keeper = Keeper::new(
        env.work.clone(),
        tid,
        pid,
        lease.clone(),
        status.clone(),
        env.settings.release_interval,
    );
    let tracker = match Tracker::new(&env, &task, status.clone(), lease.clone(), keeper) {
        Ok(t) => t,
        Err(e) => {
            // The manager checks the point first; a persisted one may be bad.
            warn!(tid, pid, "{e}");
            status.lock().set_error(e, (env.clock)());
            linker.stop().await;
            return finish(&status, env.clock, TaskState::Stopped);
        }
    };
    let mut previous = None;
    let mut phase = match start {
        Start::Assigned { previous: p } => {
            previous = p;
            Phase::Prepare
        }
        Start::Recovered => match &record.phase {
            RecordedPhase::Active => Phase::Prepare,
            RecordedPhase::Finishing => Phase::Finishing,
            RecordedPhase::Dormant { why, since_ms } => Phase::Dormant {
                announce: matches!(why, Dormancy::ReadFailed { .. }),
                why: why.clone(),
                since_ms: *since_ms,
            },
        },
    };
    let mut task_loop = TaskLoop {
        env,
        task,
        status,
        cancel,
        lease,
        channel,
        tracker,
        linker: Some(linker),
        record,
        attempts: 0,
        previous,
    };
    loop {
        phase = match phase {
            Phase::End(state) => return task_loop.end(state).await,
            _ if task_loop.cancelled() => Phase::End(TaskState::Stopped),
            Phase::Prepare => task_loop.preparing().await,
            Phase::Stream(ready) => task_loop.streaming(*ready).await,
            Phase::Retry {
                cause,
                fault,
                announce,
            } => task_loop.retrying(cause, fault, announce).await,
            Phase::Finishing => task_loop.finishing().await,
            Phase::Dormant {
                why,
                since_ms,
                announce,
            } => task_loop.dormant(why, since_ms, announce).await,
        };
    }
}

fn finish(status: &SharedStatus, clock: fn() -> u64, state: TaskState) -> TaskState {
    let mut s = status.lock();
    s.set_state(state);
    s.ended_ms = Some(clock());
    state
}

/// Resolves once `cancel` says stop (or its sender is gone).
pub(crate) async fn stopped(cancel: &mut watch::Receiver<bool>) {
    let _ = cancel.wait_for(|c| *c).await;
}

impl<S, T> TaskLoop<S, T>
where
    S: LocalStore + Clone,
    T: TabletApi,
{
    pub(crate) fn ids(&self) -> (u32, u32) {
        (self.task.tid(), self.task.pid())
    }

    pub(crate) fn now(&self) -> u64 {
        (self.env.clock)()
    }

    pub(crate) fn cancelled(&self) -> bool {
        *self.cancel.borrow()
    }

    /// What SyncTool's `delete_task` means for this task.
    pub(crate) fn on_drop(&self, reason: DropReason, message: String) -> Phase {
        let (tid, pid) = self.ids();
        info!(tid, pid, ?reason, "SyncTool dropped the task: {message}");
        let dormant = |why| Phase::Dormant {
            why,
            since_ms: self.now(),
            announce: false,
        };
        match reason {
            DropReason::KDropUnspecified | DropReason::KDropDeleted => {
                Phase::End(TaskState::Deleted)
            }
            DropReason::KDropFinished => Phase::End(TaskState::Finished),
            DropReason::KDropReassigned => dormant(Dormancy::Reassigned { message }),
            DropReason::KDropFailed => dormant(Dormancy::PartFailed { message }),
            DropReason::KDropMalformed => dormant(Dormancy::Malformed { message }),
        }
    }

    /// Records the task's phase in `task.state` (under the lease).
    pub(crate) fn record_phase(&mut self, phase: RecordedPhase) {
        if self.record.phase == phase {
            return;
        }
        self.record.phase = phase;
        self.save_record();
    }

    /// Remembers the tablet's paths (the linker follows them at once).
    pub(crate) fn record_paths(&mut self, paths: TabletPaths) {
        if let Some(linker) = &self.linker {
            linker.set_binlog_dir(PathBuf::from(&paths.binlog_path));
        }
        if self.record.tablet_paths.as_ref() != Some(&paths) {
            self.record.tablet_paths = Some(paths);
            self.save_record();
        }
    }

    fn save_record(&self) {
        let (tid, pid) = self.ids();
        if let Some(Err(e)) = self
            .lease
            .with(|| self.record.save(&self.env.work, tid, pid))
        {
            warn!(tid, pid, "cannot record the task's phase: {e}");
        }
    }

    /// Ends the loop: stops linking, removes the work dir of a finished or
    /// deleted task (only while this loop owns it).
    async fn end(mut self, state: TaskState) -> TaskState {
        let (tid, pid) = self.ids();
        if let Some(linker) = self.linker.take() {
            linker.stop().await;
        }
        if matches!(state, TaskState::Finished | TaskState::Deleted) {
            match self.lease.with(|| self.env.work.remove_task(tid, pid)) {
                Some(Ok(())) => info!(tid, pid, ?state, "the work dir and its links are removed"),
                Some(Err(e)) => warn!(tid, pid, "cannot remove the work dir of an ended task: {e}"),
                None => info!(tid, pid, "a newer assignment owns the work dir; it stays"),
            }
            self.status.lock().links = Default::default();
        }
        finish(&self.status, self.env.clock, state)
    }
}
