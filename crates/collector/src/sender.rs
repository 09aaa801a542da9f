//! Streams one partition task's packs to SyncTool over `SendDataStream`, with
//! flow control, and applies SyncTool's answers.
//!
//! A producer (on a thread of its own: file and RocksDB reads block) builds packs into a
//! bounded queue; the async side forwards them on one long-lived, ordered gRPC
//! stream and reads the replies in order. At most `window` packs are unanswered
//! at a time, so a slow SyncTool slows the collector down instead of failing
//! it (OpenMLDB answers "server is overcrowded"). Per reply:
//! - code 0: the pack is accepted; its next point becomes the task's accepted
//!   point (reported through [`SendObserver::accepted`], which persists it),
//!   and the committed point it carries is reported too (the work dir keeps
//!   data back to there);
//! - `delete_task`: the task is over for this collector; the stream ends with
//!   [`SendEnd::Dropped`] and the reply's [`DropReason`] (deleted, finished,
//!   reassigned, FAILED, malformed), which decides what the work dir keeps;
//! - any other error: every unanswered pack is discarded and the producer
//!   rewinds to the accepted point after a pause (OpenMLDB re-reads too); when
//!   the reply names a `resume_point` (SyncTool's accepted point, after this
//!   collector lost its place, e.g. in a restart) that point becomes the
//!   accepted point first.
//!
//! Every reply's committed point is reported ([`SendObserver::committed`]).
//!
//! When the producer has caught up it sends an empty pack every
//! `heartbeat` as a sign of life. When reading fails, the failure pack
//! ([`crate::beacon::Signal::Failure`], no rows, at the point reading
//! stopped) follows the packs before it on the same stream, and the stream
//! ends with [`SendEnd::ReadFailed`] once they are all answered: the rows
//! before the failure reach SyncTool first. A transport error ends the
//! stream with [`SendEnd::Transport`]; the caller reconnects and resumes from
//! the accepted point.

use std::collections::VecDeque;
use std::time::Duration;

use sync_core::point::Point;
use sync_core::proto::datasync::sync_tool_client::SyncToolClient;
use sync_core::proto::datasync::{DropReason, SendDataRequest, SendDataResponse};
use tokio::sync::mpsc;
use tonic::transport::Channel;

use crate::beacon::{Answer, Signal, signal_pack};
use crate::fault::ReadFault;
use crate::packer::BuiltPack;

/// Builds packs for the producer thread; rebuilt from a point on rewind.
pub trait PackSource: Send + 'static {
    /// The next pack (empty when caught up).
    fn next_pack(&mut self) -> Result<BuiltPack, ReadFault>;
    /// The next pack while tailing a caught-up source: called every tail
    /// interval, so it should skip periodic work [`PackSource::next_pack`]
    /// does (the next heartbeat's call does it).
    fn poll_tail(&mut self) -> Result<BuiltPack, ReadFault> {
        self.next_pack()
    }
    /// Restart reading at `point` (an accepted point).
    fn rewind(&mut self, point: &Point) -> Result<(), ReadFault>;
}

/// What a pack SyncTool accepted carried.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AcceptedPack {
    /// Rows sent.
    pub rows: u64,
    /// Bytes of encoded rows sent.
    pub bytes: u64,
    /// Binlog deletes the pack's range passed over (not sent).
    pub deletes_skipped: u64,
}

/// Told about progress as replies come in.
pub trait SendObserver: Send {
    /// SyncTool accepted the pack ending at `next`, which carried `pack`.
    fn accepted(&mut self, next: &Point, pack: AcceptedPack);
    /// A reply named SyncTool's committed point (every reply may).
    fn committed(&mut self, _at: &Point) {}
    /// SyncTool refused a pack; the producer rewinds.
    fn rejected(&mut self, message: &str);
    /// SyncTool said where this assignment's stream continues (the collector
    /// had lost its place); the producer rewinds to `at`, which is now the
    /// accepted point.
    fn resumed(&mut self, _at: &Point) {}
}

/// Where the pack producer and the other blocking reads (a task's
/// preparation) run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProducerMode {
    /// On one of the shared producer threads (reads block; the daemon's
    /// choice; see [`crate::producer_threads`]).
    #[default]
    Thread,
    /// As a task on the caller's runtime (deterministic simulation, where
    /// every host runs on one simulated thread and reads are in memory-fast:
    /// work on another thread would finish at a wall-clock moment).
    Inline,
}

impl ProducerMode {
    /// Runs the blocking `work` where this says (tokio's blocking threads,
    /// or inline) and waits for it; `Err` if its thread stopped.
    pub async fn run_blocking<T: Send + 'static>(
        self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, String> {
        match self {
            ProducerMode::Inline => Ok(work()),
            ProducerMode::Thread => tokio::task::spawn_blocking(work)
                .await
                .map_err(|e| e.to_string()),
        }
    }
}

/// How to stream.
#[derive(Debug, Clone)]
pub struct SendSettings {
    pub tid: u32,
    pub pid: u32,
    pub token: String,
    /// Unanswered packs at most.
    pub window: usize,
    /// Between heartbeats when caught up, and before re-reading after a refusal.
    pub idle_interval: Duration,
    /// The first look at a caught-up source comes after this pause, and the
    /// pause doubles while nothing comes, up to a second: new rows go out
    /// at once, an empty pack only every `idle_interval`.
    pub tail_interval: Duration,
    /// Where the producer runs.
    pub producer: ProducerMode,
}

/// Why a stream ended.
#[derive(Debug, Clone, PartialEq)]
pub enum SendEnd {
    /// Mode 0: the last pack was accepted.
    Finished,
    /// SyncTool told this collector to drop the task, and why.
    Dropped { reason: DropReason, message: String },
    /// The connection or the stream broke; resume from the accepted point.
    Transport(String),
    /// Reading failed (e.g. a corrupt binlog). The failure pack went after
    /// every pack before it; `answer` is SyncTool's answer to it, if one came.
    ReadFailed {
        fault: ReadFault,
        answer: Option<Answer>,
    },
    /// The caller stopped the task.
    Cancelled,
}

enum Control {
    /// Read again from `point`; after `idle` first when `back_off` (SyncTool
    /// refused to take rows now, e.g. busy), at once when it asked for
    /// another start point (a restarted collector resuming where SyncTool
    /// stands).
    Rewind { point: Point, back_off: bool },
}

struct Produced {
    generation: u64,
    pack: Result<BuiltPack, ReadFault>,
}

/// The producer ended without a reason (it panicked or could not start).
fn producer_stopped() -> ReadFault {
    ReadFault::unavailable("the pack producer stopped")
}

/// Streams packs from `start` until the task ends; returns why it ended.
pub async fn stream_task(
    client: &mut SyncToolClient<Channel>,
    settings: &SendSettings,
    start: Point,
    mut source: impl PackSource,
    observer: &mut impl SendObserver,
    mut cancel: tokio::sync::watch::Receiver<bool>,
) -> SendEnd {
    let (pack_tx, mut pack_rx) = mpsc::channel::<Produced>(settings.window.max(1));
    let (control_tx, control_rx) = mpsc::unbounded_channel::<Control>();
    let pauses = Pauses {
        idle: settings.idle_interval,
        tail: settings.tail_interval.min(settings.idle_interval),
    };
    let producer = spawn_producer(settings.producer, async move {
        produce(&mut source, &pack_tx, control_rx, pauses).await
    });

    let (request_tx, request_rx) = mpsc::channel::<SendDataRequest>(settings.window.max(1));
    let end = match client
        .send_data_stream(tokio_stream::wrappers::ReceiverStream::new(request_rx))
        .await
    {
        Ok(response) => {
            let mut replies = response.into_inner();
            let mut state = StreamState {
                produced: start.clone(),
                accepted: start,
                generation: 0,
                unanswered: VecDeque::new(),
                failing: false,
            };
            let mut producer_done = false;
            loop {
                let window_open = !producer_done && state.unanswered.len() < settings.window.max(1);
                tokio::select! {
                    _ = cancel.changed() => break SendEnd::Cancelled,
                    reply = replies.message() => match reply {
                        Ok(Some(reply)) => {
                            if let Some(end) = state.on_reply(&reply, observer, &control_tx) {
                                break end;
                            }
                            if producer_done && state.unanswered.is_empty() {
                                break SendEnd::ReadFailed { fault: producer_stopped(), answer: None };
                            }
                        }
                        Ok(None) => break SendEnd::Transport("SyncTool closed the stream".into()),
                        Err(status) => break SendEnd::Transport(status.to_string()),
                    },
                    produced = pack_rx.recv(), if window_open => match produced {
                        Some(Produced { generation, .. }) if generation != state.generation => {}
                        Some(Produced { pack: Err(fault), .. }) => {
                            // Reading stopped here: say so after the packs before it.
                            let request = match signal_pack(settings.tid, settings.pid, &settings.token, &state.produced, &Signal::Failure(fault.clone())) {
                                Ok(r) => r,
                                Err(_) => break SendEnd::ReadFailed { fault, answer: None },
                            };
                            producer_done = true;
                            state.failing = true;
                            state.unanswered.push_back(Unanswered::Failure(fault.clone()));
                            if request_tx.send(request).await.is_err() {
                                break SendEnd::ReadFailed { fault, answer: None };
                            }
                        }
                        Some(Produced { pack: Ok(pack), .. }) => {
                            let bytes = pack.rows.len() as u64;
                            let request = SendDataRequest {
                                tid: Some(settings.tid),
                                pid: Some(settings.pid),
                                start_point: pack.start.to_proto().ok(),
                                count: Some(pack.count),
                                token: Some(settings.token.clone()),
                                finished: Some(pack.finished),
                                next_point: pack.next.to_proto().ok(),
                                rows: Some(pack.rows),
                                preparing: None,
                                failure: None,
                            };
                            if request.start_point.is_none() || request.next_point.is_none() {
                                let fault = ReadFault::new(
                                    sync_core::proto::datasync::ReadFailureKind::KCorrupt,
                                    format!("pack points cannot be encoded: {:?} → {:?}", pack.start, pack.next),
                                );
                                break SendEnd::ReadFailed { fault, answer: None };
                            }
                            state.produced = pack.next.clone();
                            let counts = AcceptedPack { rows: pack.count, bytes, deletes_skipped: pack.deletes };
                            state.unanswered.push_back(Unanswered::Rows(SentRows { next: pack.next, counts, finished: pack.finished, stale: false }));
                            if request_tx.send(request).await.is_err() {
                                break SendEnd::Transport("the request stream closed".into());
                            }
                        }
                        // The producer stopped (a read failure went out before): wait for the answers.
                        None if state.unanswered.is_empty() => break SendEnd::ReadFailed { fault: producer_stopped(), answer: None },
                        None => producer_done = true,
                    },
                }
            }
        }
        Err(status) => SendEnd::Transport(status.to_string()),
    };
    drop(pack_rx);
    drop(control_tx);
    if !producer.join().await {
        tracing::error!(
            tid = settings.tid,
            pid = settings.pid,
            "the pack producer panicked"
        );
    }
    end
}

/// A sent pack of rows (or a heartbeat) waiting for its answer.
struct SentRows {
    next: Point,
    counts: AcceptedPack,
    finished: bool,
    /// Sent after a pack that was refused: its answer is ignored.
    stale: bool,
}

enum Unanswered {
    Rows(SentRows),
    /// The failure pack that ends the stream.
    Failure(ReadFault),
}

struct StreamState {
    accepted: Point,
    /// Where the last pack sent ends (the next pack starts there).
    produced: Point,
    generation: u64,
    unanswered: VecDeque<Unanswered>,
    /// The failure pack is sent; no more packs follow.
    failing: bool,
}

impl StreamState {
    fn on_reply(
        &mut self,
        reply: &SendDataResponse,
        observer: &mut impl SendObserver,
        control: &mpsc::UnboundedSender<Control>,
    ) -> Option<SendEnd> {
        let Some(sent) = self.unanswered.pop_front() else {
            return Some(SendEnd::Transport(
                "SyncTool answered a pack that was not sent".into(),
            ));
        };
        let answer = Answer::of(reply);
        if let Some(committed) = answer.committed() {
            observer.committed(committed);
        }
        match (sent, answer) {
            (Unanswered::Failure(fault), answer) => {
                return Some(SendEnd::ReadFailed {
                    fault,
                    answer: Some(answer),
                });
            }
            (
                _,
                Answer::Drop {
                    reason, message, ..
                },
            ) => {
                return Some(SendEnd::Dropped { reason, message });
            }
            (Unanswered::Rows(sent), _) if sent.stale => return None,
            (Unanswered::Rows(sent), Answer::Accepted { .. }) => {
                self.accepted = sent.next;
                observer.accepted(&self.accepted, sent.counts);
                return sent.finished.then_some(SendEnd::Finished);
            }
            (Unanswered::Rows(_), Answer::Refused { message, .. }) => observer.rejected(&message),
        }
        if self.failing {
            // The failure pack was built on the refused one: read again.
            return Some(SendEnd::Transport(
                "a pack before the read failure was refused; reading again".into(),
            ));
        }
        let mut back_off = true;
        if let Some(resume) = reply
            .resume_point
            .as_ref()
            .and_then(|p| Point::from_proto(p).ok())
        {
            back_off = resume == self.accepted;
            self.accepted = resume;
            observer.resumed(&self.accepted);
        }
        // Packs sent after the refused one were built on it: their answers
        // are ignored and the producer re-reads from the accepted point.
        for later in &mut self.unanswered {
            if let Unanswered::Rows(later) = later {
                later.stale = true;
            }
        }
        self.generation += 1;
        self.produced = self.accepted.clone();
        if control
            .send(Control::Rewind {
                point: self.accepted.clone(),
                back_off,
            })
            .is_err()
        {
            return Some(SendEnd::ReadFailed {
                fault: producer_stopped(),
                answer: None,
            });
        }
        None
    }
}

/// A running producer.
enum Producer {
    /// On a producer thread: how it ended.
    Pooled(tokio::sync::oneshot::Receiver<bool>),
    Task(tokio::task::JoinHandle<()>),
}

impl Producer {
    /// Waits for the producer to end; false if it panicked.
    async fn join(self) -> bool {
        match self {
            Producer::Pooled(ended) => ended.await.unwrap_or(false),
            Producer::Task(handle) => handle.await.is_ok(),
        }
    }
}

fn spawn_producer(
    mode: ProducerMode,
    work: impl std::future::Future<Output = ()> + Send + 'static,
) -> Producer {
    match mode {
        ProducerMode::Inline => Producer::Task(tokio::spawn(work)),
        ProducerMode::Thread => Producer::Pooled(crate::producer_threads::spawn(work)),
    }
}

/// The producer's pauses.
#[derive(Clone, Copy)]
struct Pauses {
    /// Between heartbeats when caught up; after a refused pack.
    idle: Duration,
    /// The first look at a caught-up source; the pause doubles with each
    /// look that finds nothing, up to [`Pauses::longest_look`].
    tail: Duration,
}

impl Pauses {
    /// The longest pause between looks: a second (or `idle`, if shorter), so
    /// a row written after a quiet spell still goes out within about a
    /// second, while thousands of idle partitions cost few reads.
    fn longest_look(&self) -> Duration {
        self.idle.min(Duration::from_secs(1)).max(self.tail)
    }
}

/// A caught-up stream's quiet spell: how long it has slept since the last
/// pack went out, and the next pause (no clock is read, so the simulation
/// replays the same looks).
#[derive(Clone, Copy)]
struct Quiet {
    slept: Duration,
    next: Duration,
}

impl Quiet {
    fn after(slept: Duration, pause: Duration, pauses: &Pauses) -> Self {
        Quiet {
            slept: slept + pause,
            next: (pause * 2).min(pauses.longest_look()),
        }
    }
}

/// Whether a pack carries nothing: no rows, no progress, not the end.
fn is_quiet(pack: &BuiltPack) -> bool {
    pack.caught_up
        && !pack.finished
        && pack.count == 0
        && pack.deletes == 0
        && pack.start == pack.next
}

/// Rewinds `source` to `point` for a new generation of packs; `false` (the
/// error sent as the last pack) if it cannot.
async fn rewind(
    source: &mut impl PackSource,
    packs: &mpsc::Sender<Produced>,
    generation: &mut u64,
    point: &Point,
) -> bool {
    *generation += 1;
    match source.rewind(point) {
        Ok(()) => true,
        Err(err) => {
            let _ = packs
                .send(Produced {
                    generation: *generation,
                    pack: Err(err),
                })
                .await;
            false
        }
    }
}

/// The producer: builds packs until the queue closes. When caught up it
/// looks again after `tail`, then less often while nothing comes (see
/// [`Pauses`]), and sends what appeared at once; a pack that carries
/// nothing goes out only every `idle` (the heartbeat). After the finished
/// pack of mode 0 it waits: a refusal of an earlier pack still rewinds it.
async fn produce(
    source: &mut impl PackSource,
    packs: &mpsc::Sender<Produced>,
    mut control: mpsc::UnboundedReceiver<Control>,
    pauses: Pauses,
) {
    let mut generation = 0u64;
    let mut quiet: Option<Quiet> = None;
    loop {
        let mut pause = false;
        loop {
            match control.try_recv() {
                Ok(Control::Rewind { point, back_off }) => {
                    if !rewind(source, packs, &mut generation, &point).await {
                        return;
                    }
                    pause |= back_off;
                    quiet = None;
                }
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => return,
            }
        }
        if pause {
            tokio::time::sleep(pauses.idle).await;
        }
        let heartbeat_due = quiet.is_none_or(|q| q.slept >= pauses.idle);
        let pack = if heartbeat_due {
            source.next_pack()
        } else {
            source.poll_tail()
        };
        if let (false, Some(q), true) = (heartbeat_due, quiet, pack.as_ref().is_ok_and(is_quiet)) {
            tokio::time::sleep(q.next).await;
            quiet = Some(Quiet::after(q.slept, q.next, &pauses));
            continue;
        }
        let caught_up = pack.as_ref().map_or(true, |p| p.caught_up && !p.finished);
        let failed = pack.is_err();
        let finished = pack.as_ref().is_ok_and(|p| p.finished);
        if packs.send(Produced { generation, pack }).await.is_err() || failed {
            return;
        }
        if finished {
            // Nothing more to read, unless SyncTool refuses an earlier pack
            // (busy, say) and the stream rewinds: wait for that, or the end.
            match control.recv().await {
                Some(Control::Rewind { point, back_off }) => {
                    if !rewind(source, packs, &mut generation, &point).await {
                        return;
                    }
                    if back_off {
                        tokio::time::sleep(pauses.idle).await;
                    }
                    quiet = None;
                    continue;
                }
                None => return,
            }
        }
        if caught_up {
            tokio::time::sleep(pauses.tail).await;
            quiet = Some(Quiet::after(Duration::ZERO, pauses.tail, &pauses));
        } else {
            quiet = None;
        }
    }
}
