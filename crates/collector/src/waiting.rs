//! The phases of a task's loop that send no rows:
//! * **retrying**: after a broken stream or a transient read failure, wait
//!   with exponential backoff, repeating the failure pack (a sign of life
//!   with the reason) every `preparing_interval`, then prepare again;
//! * **finishing**: mode 0's last pack is accepted; a heartbeat every
//!   `idle_interval` until SyncTool's committed point reaches the final
//!   point (or it says finished or deleted): only then does the work dir go;
//! * **dormant**: the part is not this task's to read (reassigned, FAILED,
//!   a permanent read failure, a malformed pack); the links stay, the linker
//!   goes on, and a probe every `probe_interval` (the failure pack itself
//!   after a read failure, a heartbeat otherwise, always with the task's own
//!   token) learns the committed point, releasing what it no longer needs,
//!   or that the task is deleted or finished (then the work dir goes). Only
//!   a new assignment (a new loop) makes a dormant partition read again.

use std::cmp::Ordering;
use std::time::Duration;

use sync_core::point::Point;
use sync_core::proto::datasync::DropReason;
use sync_infra::store::LocalStore;
use tracing::{info, warn};

use crate::beacon::{Beacon, Signal, signal_pack};
use crate::fault::ReadFault;
use crate::preparing::next_answer;
use crate::record::{Dormancy, RecordedPhase};
use crate::status::TaskState;
use crate::tablet_client::TabletApi;
use crate::task_run::{Phase, TaskLoop, stopped};

/// Whether `committed` is at or past `end`.
fn reached(committed: Option<&Point>, end: &Point) -> bool {
    committed.is_some_and(|c| {
        matches!(
            c.progress_cmp(end),
            Some(Ordering::Equal | Ordering::Greater)
        )
    })
}

impl<S, T> TaskLoop<S, T>
where
    S: LocalStore + Clone,
    T: TabletApi,
{
    /// A beacon of `signal` at the accepted point (`None` if the point
    /// cannot be sent).
    fn beacon(&self, signal: &Signal, first_after: Duration, interval: Duration) -> Option<Beacon> {
        let (tid, pid) = self.ids();
        match signal_pack(tid, pid, self.task.token(), &self.tracker.accepted, signal) {
            Ok(pack) => Some(Beacon::start(
                self.channel.channel(),
                pack,
                first_after,
                interval,
                self.env.settings.request_timeout,
            )),
            Err(e) => {
                warn!(tid, pid, "cannot tell SyncTool: {e}");
                None
            }
        }
    }

    /// The retrying phase (see the module doc).
    pub(crate) async fn retrying(
        &mut self,
        cause: String,
        fault: Option<ReadFault>,
        announce: bool,
    ) -> Phase {
        let (tid, pid) = self.ids();
        self.attempts = self.attempts.saturating_add(1);
        let delay = self.env.settings.backoff(self.attempts);
        let now = self.now();
        {
            let mut s = self.status.lock();
            s.set_error(cause.clone(), now);
            s.set_state(TaskState::Retrying);
        }
        warn!(
            tid,
            pid,
            attempt = self.attempts,
            ?delay,
            "trying again after: {cause}"
        );
        let interval = self.env.settings.preparing_interval;
        let first = if announce { Duration::ZERO } else { interval };
        let mut beacon =
            fault.and_then(|fault| self.beacon(&Signal::Failure(fault), first, interval));
        let sleep = tokio::time::sleep(delay);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                () = &mut sleep => return Phase::Prepare,
                () = stopped(&mut self.cancel) => return Phase::End(TaskState::Stopped),
                answer = next_answer(&mut beacon) => {
                    if let Some((reason, message)) = self.heard(answer) {
                        return self.on_drop(reason, message);
                    }
                }
            }
        }
    }

    /// The finishing phase (see the module doc).
    pub(crate) async fn finishing(&mut self) -> Phase {
        let (tid, pid) = self.ids();
        self.record_phase(RecordedPhase::Finishing);
        self.status.lock().set_state(TaskState::Finishing);
        let end = self.tracker.accepted.clone();
        if reached(self.tracker.keeper.committed(), &end) {
            return Phase::End(TaskState::Finished);
        }
        let interval = self.env.settings.idle_interval;
        let mut beacon = self.beacon(&Signal::Heartbeat, interval, interval);
        loop {
            tokio::select! {
                () = stopped(&mut self.cancel) => return Phase::End(TaskState::Stopped),
                answer = next_answer(&mut beacon) => {
                    if let Some((reason, message)) = self.heard(answer) {
                        return self.on_drop(reason, message);
                    }
                    if reached(self.tracker.keeper.committed(), &end) {
                        info!(tid, pid, point = %end, "every row is committed");
                        return Phase::End(TaskState::Finished);
                    }
                }
            }
        }
    }

    /// The dormant phase (see the module doc).
    pub(crate) async fn dormant(&mut self, why: Dormancy, since_ms: u64, announce: bool) -> Phase {
        let (tid, pid) = self.ids();
        self.record_phase(RecordedPhase::Dormant {
            why: why.clone(),
            since_ms,
        });
        {
            let mut s = self.status.lock();
            s.set_caught_up(false);
            s.set_dormant(Some(why.to_string()), Some(since_ms));
            s.set_state(TaskState::Dormant);
        }
        info!(tid, pid, "dormant, keeping the links: {why}");
        let interval = self.env.settings.probe_interval;
        let first = if announce { Duration::ZERO } else { interval };
        let signal = match &why {
            Dormancy::ReadFailed { kind, message } => {
                Signal::Failure(ReadFault::new(*kind, message.clone()))
            }
            _ => Signal::Heartbeat,
        };
        let mut beacon = self.beacon(&signal, first, interval);
        loop {
            tokio::select! {
                () = stopped(&mut self.cancel) => return Phase::End(TaskState::Stopped),
                answer = next_answer(&mut beacon) => match self.heard(answer) {
                    None => {}
                    Some((reason, message)) => match reason {
                        DropReason::KDropUnspecified
                        | DropReason::KDropDeleted
                        | DropReason::KDropFinished => return self.on_drop(reason, message),
                        // The part moved on: probe as a bystander from now on.
                        DropReason::KDropReassigned if !matches!(why, Dormancy::Reassigned { .. }) => {
                            return self.on_drop(reason, message);
                        }
                        _ => {}
                    },
                },
            }
        }
    }
}
