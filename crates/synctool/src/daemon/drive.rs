//! The drive loop: the one task that owns the [`Supervisor`].
//!
//! Everything else (gRPC and HTTP handlers, pack streams, sink workers,
//! assignment calls, the coordinator poller) sends a [`Command`] over one
//! mpsc channel. Between commands the loop sleeps until the supervisor's
//! [`Supervisor::next_deadline`] and then feeds it [`Input::Tick`] (no
//! periodic ticking); while commands keep coming it looks at the deadline
//! once per `DEADLINE_EVERY` of them, not per command. For each input the
//! loop reads the clock once, calls [`Supervisor::handle`] and executes the
//! actions **in order**:
//!
//! * `Persist` is written with `write_atomic` (temp + fsync + rename) and
//!   awaited before any later action, so a reply never overtakes the state it
//!   depends on (the supervisor delays the persists nobody waits on, see
//!   `Config::persist_delay_ms`, and [`Command::Flush`] writes the delayed
//!   one when the daemon stops); if the write fails, the replies of that step become errors
//!   (a collector then resends the pack, which the core acknowledges as a
//!   duplicate);
//! * `Assign` becomes a spawned `AddSyncTask` call (at most
//!   `assign_slots::PER_COLLECTOR` in flight per collector, the others
//!   queued); [`Input::AssignSent`] says when it goes out, and its result
//!   comes back as [`Input::AssignResult`];
//! * `ClaimPart` (with fencing) becomes a spawned claim of the part's epoch
//!   in the cluster, retried until it succeeds; each attempt's result comes
//!   back as [`Input::PartClaimed`];
//! * `Stage` / `Commit` / `ClearStaging` go to the partition's ordered sink
//!   worker ([`super::workers`]); `ReleaseDestination` drops a destination's
//!   clients once the jobs queued before it are done;
//! * the reply actions (`CreateReply`, `DeleteReply`, `RetryReply`,
//!   `PackReply`) answer the command's oneshot.
//!
//! After each input the loop publishes what the supervisor holds to the
//! [`super::memory_gate::MemoryGate`], which pack streams pass before
//! handing in a pack with rows (flow control towards the collectors).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sync_core::task::{Action, AssignFailure, Assignment, Input, StatusReport, Supervisor};
use sync_infra::store::LocalStore;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, error, info, warn};

use super::clock::Clock;
use super::collector_client::CollectorClient;
use super::fence::{EpochCheck, Fence, part_lost};
use super::metrics::Metrics;
use super::workers::{ClearStaging, Workers};

/// The longest the loop sleeps without a command, even when no deadline is
/// near (a backstop: every timer is a deadline of the supervisor).
const MAX_SLEEP: Duration = Duration::from_secs(5);

/// Commands taken from a non-empty channel in a row before the loop looks at
/// the supervisor's next deadline again. Finding it visits every part, too
/// dear per pack with thousands of parts; a busy loop still ticks after at
/// most this many commands.
const DEADLINE_EVERY: u32 = 64;

/// The first and the longest wait between attempts of a failed claim.
const CLAIM_RETRY_FIRST: Duration = Duration::from_millis(200);
const CLAIM_RETRY_MAX: Duration = Duration::from_secs(5);

/// What a waiting caller gets: the reply action, or why there is none.
pub type Reply = Result<Action, String>;

/// A message for the drive loop (most are inputs; the size difference is fine
/// for a channel of short-lived messages).
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Feed an input; the reply action (if any) goes to `reply`.
    Input {
        /// The input.
        input: Input,
        /// Where the reply action goes.
        reply: Option<oneshot::Sender<Reply>>,
    },
    /// The status report now.
    Status(oneshot::Sender<StatusReport>),
    /// The table ids with a task.
    Tids(oneshot::Sender<Vec<u32>>),
    /// Persist the changes whose write is still delayed, then answer (the
    /// daemon stops).
    Flush(oneshot::Sender<()>),
}

/// The loop's state; `commands` is the loop's own channel (weak, so the
/// loop ends when every handle is gone).
pub struct DriveLoop {
    pub(crate) sup: Supervisor,
    /// The pack streams' flow control: told when a pack with rows is taken
    /// and what the supervisor holds after each input.
    pub(crate) memory_gate: Arc<super::memory_gate::MemoryGate>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) local: Arc<dyn LocalStore>,
    pub(crate) state_path: PathBuf,
    /// Where the state file's atomic write runs (`SinkConfig::offload`).
    pub(crate) offload: sync_sinks::Offload,
    /// At most this many `AddSyncTask` calls in flight to each collector.
    pub(crate) assign_slots: Arc<super::assign_slots::AssignSlots>,
    pub(crate) collectors: Arc<dyn CollectorClient>,
    pub(crate) workers: Workers,
    /// Where parts are claimed and assignments checked (with fencing).
    pub(crate) fence: Fence,
    pub(crate) commands: mpsc::WeakSender<Command>,
    pub(crate) metrics: Metrics,
}

impl DriveLoop {
    /// How long to sleep before the next deadline (`None`: no deadline).
    fn until_deadline(&self) -> Duration {
        match self.sup.next_deadline() {
            Some(at) => {
                Duration::from_millis(at.saturating_sub(self.clock.now_ms())).min(MAX_SLEEP)
            }
            None => MAX_SLEEP,
        }
    }

    /// Executes the start-up actions (recovery), then serves commands until
    /// every sender is gone; with `wake_on_deadlines`, also ticks the
    /// supervisor when its next deadline comes.
    pub async fn run(
        mut self,
        initial: Vec<Action>,
        mut rx: mpsc::Receiver<Command>,
        wake_on_deadlines: bool,
    ) {
        self.execute(initial, None).await;
        let mut streak = 0u32;
        let mut tables = self.sup.tables().len();
        loop {
            let ready = if wake_on_deadlines && streak < DEADLINE_EVERY {
                rx.try_recv().ok()
            } else {
                None
            };
            let cmd = if ready.is_some() {
                streak += 1;
                // `try_recv` does not count against tokio's cooperative
                // budget as `recv` does: yield as often as it would.
                tokio::task::consume_budget().await;
                ready
            } else if wake_on_deadlines {
                streak = 0;
                let sleep = self.until_deadline();
                tokio::select! {
                    cmd = rx.recv() => cmd,
                    () = tokio::time::sleep(sleep) => Some(Command::Input { input: Input::Tick, reply: None }),
                }
            } else {
                rx.recv().await
            };
            let Some(cmd) = cmd else { break };
            match cmd {
                Command::Input { input, reply } => {
                    let now = self.clock.now_ms();
                    if let Input::Pack(p) = &input
                        && p.row_count > 0
                    {
                        self.memory_gate.taken(p.rows.len() as u64);
                    }
                    let actions = self.sup.handle(now, input);
                    self.memory_gate.publish(self.sup.held_bytes());
                    self.execute(actions, reply).await;
                    // Sink workers of ended tables go; looked at only when
                    // the number of tables changed (one input adds or
                    // removes at most one), not per pack.
                    if self.sup.tables().len() != tables {
                        tables = self.sup.tables().len();
                        let sup = &self.sup;
                        self.workers.retain_tables(|tid| sup.table(tid).is_some());
                    }
                }
                Command::Status(tx) => {
                    let _ = tx.send(self.sup.status(self.clock.now_ms()));
                }
                Command::Tids(tx) => {
                    let _ = tx.send(self.sup.tables().keys().copied().collect());
                }
                Command::Flush(tx) => {
                    if let Some(persist) = self.sup.flush() {
                        self.execute(vec![persist], None).await;
                    }
                    let _ = tx.send(());
                }
            }
        }
        debug!("drive loop stopped: no more senders");
    }

    async fn execute(&mut self, actions: Vec<Action>, mut reply: Option<oneshot::Sender<Reply>>) {
        let mut persist_error: Option<String> = None;
        for action in actions {
            self.metrics.record(&action);
            match action {
                Action::Persist(state) => {
                    if let Err(e) = self.persist(state.to_bytes()).await {
                        error!(path = %self.state_path.display(), "cannot persist the task state: {e}");
                        persist_error = Some(e);
                    }
                }
                Action::CreateReply(_)
                | Action::DeleteReply(_)
                | Action::RetryReply(_)
                | Action::PackReply(_) => match reply.take() {
                    Some(tx) => {
                        let answer = match &persist_error {
                            Some(e) => Err(format!("cannot persist the task state: {e}")),
                            None => Ok(action),
                        };
                        let _ = tx.send(answer);
                    }
                    None => debug!(?action, "reply with no one waiting"),
                },
                Action::Assign(a) => self.assign(a),
                Action::ClaimPart { tid, pid } => self.claim(tid, pid),
                Action::Stage(s) => self.workers.stage(s),
                Action::Commit(c) => self.workers.commit(c),
                Action::ClearStaging {
                    tid,
                    pid,
                    task_id,
                    dest,
                    from_seq,
                } => self.workers.clear(ClearStaging {
                    dest,
                    tid,
                    pid,
                    task_id,
                    from_seq,
                }),
                Action::ReleaseDestination { dest } => self.workers.release(dest),
                Action::PartFailed { tid, pid, error } => {
                    warn!(
                        tid,
                        pid,
                        kind = error.kind(),
                        "partition task FAILED: {error}"
                    );
                }
                Action::SegmentCommitted { .. } => {}
                Action::TableCompleted {
                    tid,
                    task_id,
                    db,
                    table,
                } => {
                    info!(tid, task_id, "sync task of {db}.{table} completed");
                }
            }
        }
    }

    async fn persist(&self, bytes: Vec<u8>) -> Result<(), String> {
        let local = Arc::clone(&self.local);
        let path = self.state_path.clone();
        match self
            .offload
            .run(move || local.write_atomic(&path, &bytes))
            .await
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(e) => Err(format!("persist task failed: {e}")),
        }
    }

    /// Claims part `(tid, pid)` until the claim succeeds (a ZooKeeper
    /// outage is shown on the part and retried with a growing delay).
    fn claim(&self, tid: u32, pid: u32) {
        let fence = self.fence.clone();
        let commands = self.commands.clone();
        tokio::spawn(async move {
            let mut delay = CLAIM_RETRY_FIRST;
            loop {
                let result = fence.claim(tid, pid).await;
                match &result {
                    Ok(epoch) => info!(tid, pid, epoch, "partition claimed"),
                    Err(e) => warn!(tid, pid, "cannot claim the partition: {e}"),
                }
                let done = result.is_ok();
                if !feed(&commands, Input::PartClaimed { tid, pid, result }).await || done {
                    return;
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(CLAIM_RETRY_MAX);
            }
        });
    }

    fn assign(&self, a: Assignment) {
        let client = Arc::clone(&self.collectors);
        let commands = self.commands.clone();
        let metrics = self.metrics.clone();
        let slots = Arc::clone(&self.assign_slots);
        let fence = self.fence.clone();
        info!(tid = a.tid, pid = a.pid, collector = %a.collector, point = %a.point, "assigning");
        tokio::spawn(async move {
            // A SyncTool that lost the part (it was paused while another
            // took it) learns so here rather than by the collector refusing
            // its old epoch; a cluster that cannot be asked does not hold
            // the assignment up (its commits are fenced anyway).
            if let Some(epoch) = a.part_epoch
                && let EpochCheck::Stale(why) = fence.check(a.tid, a.pid, epoch).await
            {
                feed(&commands, part_lost(a.tid, a.pid, why)).await;
                return;
            }
            let _slot = slots.acquire(&a.collector).await;
            let sent = Input::AssignSent {
                tid: a.tid,
                pid: a.pid,
                token: a.token.clone(),
            };
            if !feed(&commands, sent).await {
                return;
            }
            let result = match a.to_proto() {
                Ok(request) => client.add_sync_task(a.collector.clone(), request).await,
                Err(e) => Err(AssignFailure::Refused {
                    collector: a.collector.clone(),
                    message: format!("cannot encode the assignment's point: {e}"),
                }),
            };
            if let Err(e) = &result {
                warn!(tid = a.tid, pid = a.pid, "assignment failed: {e}");
                metrics.assign_failed(e);
            }
            let input = Input::AssignResult {
                tid: a.tid,
                pid: a.pid,
                token: a.token,
                result,
            };
            feed(&commands, input).await;
        });
    }
}

/// Hands `input` (no reply) to the loop of `commands`; false when the loop
/// is gone.
pub(crate) async fn feed(commands: &mpsc::WeakSender<Command>, input: Input) -> bool {
    match commands.upgrade() {
        Some(tx) => tx.send(Command::Input { input, reply: None }).await.is_ok(),
        None => false,
    }
}
