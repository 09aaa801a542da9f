//! The pack stream against an in-process SyncTool over real loopback gRPC:
//! ordered delivery with a bounded window, heartbeats, a refusal that makes
//! the collector re-read from the accepted point (no row lost or sent past a
//! refusal), `delete_task` with its reason, mode 0's finish, and a read
//! failure whose failure pack follows the rows before it.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use data_collector::beacon::Answer;
use data_collector::fault::ReadFault;
use data_collector::packer::BuiltPack;
use data_collector::sender::{
    AcceptedPack, PackSource, ProducerMode, SendEnd, SendObserver, SendSettings, stream_task,
};
use sync_core::point::Point;
use sync_core::proto::datasync::sync_tool_client::SyncToolClient;
use sync_core::proto::datasync::*;

use common::{Judge, drop_reply, reply, serve_fake};

/// What the fake SyncTool did.
#[derive(Default)]
struct Log {
    accepted_rows: Vec<u8>,
    packs_seen: usize,
    heartbeats: usize,
    /// Where failure packs started, and what they said.
    failures: Vec<(Option<SyncPoint>, ReadFailure)>,
}

/// Accepts a pack iff it starts at the accepted point (at first
/// `stands_at`, else offset 0); refuses pack number `refuse_at` once; sends
/// `delete_task` after `drop_after` accepted packs. An out-of-order pack is
/// refused with the accepted point to resume from when `stands_at` is set
/// (as SyncTool answers a collector restarted behind it).
struct Rules {
    log: Arc<Mutex<Log>>,
    refuse_at: Option<usize>,
    drop_after: Option<usize>,
    stands_at: Option<u64>,
}

#[derive(Default)]
struct StreamState {
    accepted_point: Option<SyncPoint>,
    accepted_packs: usize,
}

impl Judge for Rules {
    type Stream = StreamState;

    fn judge(&self, stream: &mut StreamState, pack: &SendDataRequest) -> SendDataResponse {
        let mut log = self.log.lock().expect("lock");
        log.packs_seen += 1;
        if pack.count() == 0 {
            log.heartbeats += 1;
        }
        let refuse = self.refuse_at == Some(log.packs_seen);
        let expected = stream.accepted_point.clone().or_else(|| {
            Point::Binlog {
                offset: self.stands_at.unwrap_or(0),
            }
            .to_proto()
            .ok()
        });
        let in_order = pack.start_point == expected;
        if let Some(failure) = &pack.failure {
            log.failures
                .push((pack.start_point.clone(), failure.clone()));
            return drop_reply(DropReason::KDropFailed, stream.accepted_point.clone());
        }
        if self.drop_after.is_some_and(|n| stream.accepted_packs >= n) {
            drop_reply(DropReason::KDropReassigned, stream.accepted_point.clone())
        } else if !refuse && !in_order && self.stands_at.is_some() {
            SendDataResponse {
                resume_point: expected,
                ..reply(-1, false, None)
            }
        } else if refuse || !in_order {
            reply(-1, false, None)
        } else {
            log.accepted_rows.extend_from_slice(pack.rows());
            stream.accepted_point = pack.next_point.clone();
            stream.accepted_packs += 1;
            reply(0, false, stream.accepted_point.clone())
        }
    }
}

/// Rows 0..n (one byte each), two per pack; points are Binlog{i}. Reading
/// row `fail_at` fails (a corrupt record).
struct Rows {
    n: u64,
    at: u64,
    finish: bool,
    fail_at: Option<u64>,
}

impl PackSource for Rows {
    fn next_pack(&mut self) -> Result<BuiltPack, ReadFault> {
        if self
            .fail_at
            .is_some_and(|f| (self.at..self.at + 2).contains(&f))
        {
            return Err(ReadFault::new(
                ReadFailureKind::KCorrupt,
                format!("binlog 00000000.log is corrupt at byte {}", self.at * 10),
            ));
        }
        let start = Point::Binlog { offset: self.at };
        let end = (self.at + 2).min(self.n);
        let rows: Vec<u8> = (self.at..end).map(|i| i as u8).collect();
        let count = end - self.at;
        self.at = end;
        let caught_up = self.at == self.n;
        Ok(BuiltPack {
            start,
            next: Point::Binlog { offset: self.at },
            rows,
            count,
            deletes: 0,
            finished: self.finish && caught_up,
            caught_up,
        })
    }
    fn rewind(&mut self, point: &Point) -> Result<(), ReadFault> {
        match point {
            Point::Binlog { offset } => {
                self.at = *offset;
                Ok(())
            }
            other => Err(ReadFault::unavailable(format!(
                "unexpected point {other:?}"
            ))),
        }
    }
}

#[derive(Default)]
struct Progress {
    accepted: Vec<Point>,
    committed: Vec<Point>,
    rejected: usize,
}

impl SendObserver for Progress {
    fn accepted(&mut self, next: &Point, _pack: AcceptedPack) {
        self.accepted.push(next.clone());
    }
    fn committed(&mut self, at: &Point) {
        self.committed.push(at.clone());
    }
    fn rejected(&mut self, _message: &str) {
        self.rejected += 1;
    }
}

/// A client of a fake SyncTool following `rules`.
async fn client_of(rules: Arc<Rules>) -> SyncToolClient<tonic::transport::Channel> {
    let addr = serve_fake(rules).await;
    SyncToolClient::connect(format!("http://{addr}"))
        .await
        .expect("connect")
}

/// Stream settings of partition 1/0 with token `t`.
fn send_settings(
    window: usize,
    idle_interval: Duration,
    tail_interval: Duration,
    producer: ProducerMode,
) -> SendSettings {
    SendSettings {
        tid: 1,
        pid: 0,
        token: "t".into(),
        window,
        idle_interval,
        tail_interval,
        producer,
    }
}

async fn run(fake: Arc<Rules>, rows: Rows, window: usize) -> (SendEnd, Progress) {
    run_idle(fake, rows, window, Duration::from_millis(20)).await
}

/// [`run`] with the heartbeat interval (also the pause after a refusal) `idle`.
async fn run_idle(
    fake: Arc<Rules>,
    rows: Rows,
    window: usize,
    idle: Duration,
) -> (SendEnd, Progress) {
    let mut client = client_of(fake).await;
    let settings = send_settings(window, idle, Duration::from_millis(5), ProducerMode::Thread);
    let (_cancel_tx, cancel) = tokio::sync::watch::channel(false);
    let mut progress = Progress::default();
    let end = tokio::time::timeout(
        Duration::from_secs(20),
        stream_task(
            &mut client,
            &settings,
            Point::Binlog { offset: 0 },
            rows,
            &mut progress,
            cancel,
        ),
    )
    .await
    .expect("the stream ends");
    (end, progress)
}

fn fake(refuse_at: Option<usize>, drop_after: Option<usize>) -> (Arc<Rules>, Arc<Mutex<Log>>) {
    let log = Arc::new(Mutex::new(Log::default()));
    (
        Arc::new(Rules {
            log: log.clone(),
            refuse_at,
            drop_after,
            stands_at: None,
        }),
        log,
    )
}

#[tokio::test]
async fn streams_every_row_once_in_order_and_finishes() {
    let (fake, log) = fake(None, None);
    let (end, progress) = run(
        fake,
        Rows {
            n: 25,
            at: 0,
            finish: true,
            fail_at: None,
        },
        4,
    )
    .await;
    assert_eq!(end, SendEnd::Finished);
    assert_eq!(
        log.lock().expect("lock").accepted_rows,
        (0..25).collect::<Vec<u8>>()
    );
    assert_eq!(
        progress.accepted.last(),
        Some(&Point::Binlog { offset: 25 })
    );
}

#[tokio::test]
async fn a_refusal_rewinds_to_the_accepted_point_without_loss_or_duplicates() {
    let (fake, log) = fake(Some(3), None);
    let (end, progress) = run(
        fake,
        Rows {
            n: 25,
            at: 0,
            finish: true,
            fail_at: None,
        },
        4,
    )
    .await;
    assert_eq!(end, SendEnd::Finished);
    assert!(progress.rejected >= 1, "the refusal was seen");
    assert_eq!(
        log.lock().expect("lock").accepted_rows,
        (0..25).collect::<Vec<u8>>(),
        "each row accepted once"
    );
}

/// A collector restarted behind SyncTool (its own accepted point is older)
/// sends from there; SyncTool answers with the point it stands at, and the
/// collector reads from there at once — not after the pause that follows a
/// refusal (`idle`, here a minute: longer than the stream may take).
#[tokio::test]
async fn a_resume_point_from_synctool_is_read_from_at_once() {
    let log = Arc::new(Mutex::new(Log::default()));
    let fake = Arc::new(Rules {
        log: log.clone(),
        refuse_at: None,
        drop_after: None,
        stands_at: Some(6),
    });
    let (end, progress) = run_idle(
        fake,
        Rows {
            n: 12,
            at: 0,
            finish: true,
            fail_at: None,
        },
        4,
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(end, SendEnd::Finished);
    assert!(progress.rejected >= 1, "the first pack was refused");
    assert_eq!(
        log.lock().expect("lock").accepted_rows,
        (6..12).collect::<Vec<u8>>(),
        "read from SyncTool's point, each row once"
    );
}

#[tokio::test]
async fn delete_task_ends_the_stream() {
    let (fake, _log) = fake(None, Some(2));
    let (end, progress) = run(
        fake,
        Rows {
            n: 25,
            at: 0,
            finish: true,
            fail_at: None,
        },
        1,
    )
    .await;
    assert!(
        matches!(
            end,
            SendEnd::Dropped {
                reason: DropReason::KDropReassigned,
                ..
            }
        ),
        "{end:?}"
    );
    assert_eq!(progress.accepted.len(), 2);
    assert_eq!(
        progress.committed.last(),
        Some(&Point::Binlog { offset: 4 }),
        "the drop's committed point is reported too"
    );
}

#[tokio::test]
async fn a_read_failure_is_reported_after_the_rows_before_it() {
    let (fake, log) = fake(None, None);
    let (end, progress) = run(
        fake,
        Rows {
            n: 25,
            at: 0,
            finish: true,
            fail_at: Some(13),
        },
        4,
    )
    .await;
    let SendEnd::ReadFailed { fault, answer } = end else {
        panic!("the stream ends with the read failure: {end:?}");
    };
    assert_eq!(fault.kind, ReadFailureKind::KCorrupt);
    assert!(
        matches!(
            answer,
            Some(Answer::Drop {
                reason: DropReason::KDropFailed,
                ..
            })
        ),
        "SyncTool's answer to the failure pack is kept: {answer:?}"
    );
    let log = log.lock().expect("lock");
    assert_eq!(
        log.accepted_rows,
        (0..12).collect::<Vec<u8>>(),
        "every row before the failure is accepted first"
    );
    assert_eq!(log.failures.len(), 1);
    let (start, failure) = &log.failures[0];
    assert_eq!(
        start,
        &Point::Binlog { offset: 12 }.to_proto().ok(),
        "the failure pack starts where reading stopped"
    );
    assert!(failure.message().contains("corrupt at byte"), "{failure:?}");
    assert_eq!(
        progress.accepted.last(),
        Some(&Point::Binlog { offset: 12 })
    );
}

#[tokio::test]
async fn heartbeats_keep_flowing_when_caught_up() {
    let (fake, log) = fake(None, None);
    let mut client = client_of(fake).await;
    // The producer as a task on the test's runtime, as the simulation runs it.
    let settings = send_settings(
        2,
        Duration::from_millis(10),
        Duration::from_millis(5),
        ProducerMode::Inline,
    );
    let (cancel_tx, cancel) = tokio::sync::watch::channel(false);
    let mut progress = Progress::default();
    let rows = Rows {
        n: 3,
        at: 0,
        finish: false,
        fail_at: None,
    };
    let task = async {
        stream_task(
            &mut client,
            &settings,
            Point::Binlog { offset: 0 },
            rows,
            &mut progress,
            cancel,
        )
        .await
    };
    let stopper = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        cancel_tx.send(true).expect("cancel");
    };
    let (end, ()) = tokio::join!(task, stopper);
    assert_eq!(end, SendEnd::Cancelled);
    let log = log.lock().expect("lock");
    assert_eq!(log.accepted_rows, vec![0, 1, 2]);
    assert!(log.heartbeats >= 3, "heartbeats: {}", log.heartbeats);
}

/// [`Rows`] whose end grows when the test says so (rows appended while the
/// stream is caught up).
struct Growing {
    rows: Rows,
    n: Arc<std::sync::atomic::AtomicU64>,
    /// Reads so far.
    looks: Arc<std::sync::atomic::AtomicU64>,
}

impl PackSource for Growing {
    fn next_pack(&mut self) -> Result<BuiltPack, ReadFault> {
        self.looks.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.rows.n = self.n.load(std::sync::atomic::Ordering::SeqCst);
        self.rows.next_pack()
    }
    fn rewind(&mut self, point: &Point) -> Result<(), ReadFault> {
        self.rows.rewind(point)
    }
}

/// Waits until the fake accepted `want` rows (far less than a heartbeat).
async fn wait_for_rows(log: &Arc<Mutex<Log>>, want: usize) {
    let accepted = || log.lock().expect("lock").accepted_rows.len();
    tokio::time::timeout(Duration::from_secs(20), async {
        while accepted() < want {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{want} rows accepted well before a heartbeat"));
}

#[tokio::test]
async fn rows_appended_while_caught_up_go_out_at_the_next_tail_look() {
    let (fake, log) = fake(None, None);
    let mut client = client_of(fake).await;
    // Heartbeats every minute: only the tail interval can bring new rows.
    let settings = send_settings(
        2,
        Duration::from_secs(60),
        Duration::from_millis(10),
        ProducerMode::Thread,
    );
    let n = Arc::new(std::sync::atomic::AtomicU64::new(2));
    let looks = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let source = Growing {
        rows: Rows {
            n: 2,
            at: 0,
            finish: false,
            fail_at: None,
        },
        n: n.clone(),
        looks: looks.clone(),
    };
    let (cancel_tx, cancel) = tokio::sync::watch::channel(false);
    let mut progress = Progress::default();
    let task = stream_task(
        &mut client,
        &settings,
        Point::Binlog { offset: 0 },
        source,
        &mut progress,
        cancel,
    );
    let appender = async {
        wait_for_rows(&log, 2).await;
        // Quiet for a while: looks at the source send nothing, and come
        // less often (10, 20, 40, 80, 160 ms: not 30 looks of 10 ms).
        let looks_before = looks.load(std::sync::atomic::Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let looks_while_quiet = looks.load(std::sync::atomic::Ordering::SeqCst) - looks_before;
        assert!(
            looks_while_quiet <= 10,
            "{looks_while_quiet} looks in 300 ms"
        );
        let packs_while_quiet = log.lock().expect("lock").packs_seen;
        n.store(5, std::sync::atomic::Ordering::SeqCst);
        wait_for_rows(&log, 5).await;
        n.store(6, std::sync::atomic::Ordering::SeqCst);
        wait_for_rows(&log, 6).await;
        cancel_tx.send(true).expect("cancel");
        packs_while_quiet
    };
    let (end, packs_while_quiet) = tokio::join!(task, appender);
    assert_eq!(end, SendEnd::Cancelled);
    let log = log.lock().expect("lock");
    assert_eq!(log.accepted_rows, vec![0, 1, 2, 3, 4, 5]);
    assert_eq!(
        (packs_while_quiet, log.heartbeats),
        (1, 0),
        "one pack (rows 0 and 1, caught up), and no empty pack while quiet"
    );
}
