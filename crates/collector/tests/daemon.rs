//! The collector daemon's service end to end in one process: real gRPC
//! `AddSyncTask`, a tablet emulator serving real-format data over HTTP+JSON,
//! and a SyncTool stand-in that accepts packs exactly as the supervisor does
//! (in order, by token). Checks the rows (as multisets of row bytes), the
//! idempotent repeat of an assignment, a newer token replacing a loop, a
//! restart resuming (from the persisted point, or from SyncTool's accepted
//! point when packs were in flight), a corrupt binlog failing the
//! task with file and offset, and a cross-device work dir refused clearly.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use data_collector::manager::TaskManager;
use data_collector::prepare::assigned_point;
use data_collector::service::{Collector, router};
use data_collector::status::TaskState;
use data_collector::tablet_client::HttpTabletClient;
use data_collector::task_run::{CollectorSettings, TaskEnv, tcp_connector};
use data_collector::workdir::WorkDir;
use sync_core::proto::datasync::data_collector_client::DataCollectorClient;
use sync_core::proto::datasync::*;
use sync_core::row::split_rows;
use sync_infra::one_port;
use sync_infra::store::FsStore;
use tablet_emu::TabletServer;
use tablet_emu::emulator::TableEmulator;
use tablet_emu::partition::partition_dir;
use tablet_emu::spec::EmulatedTable;

use common::{Judge, reply, serve_fake};

const TID: u32 = 9;

/// One partition task as the stand-in SyncTool holds it.
struct Part {
    token: String,
    accepted: Option<SyncPoint>,
    rows: Vec<Vec<u8>>,
    finished: bool,
}

/// Accepts a pack iff the token is current and it starts at the accepted
/// point; commits at once (the reply's committed point is the accepted one).
#[derive(Default)]
struct StandIn {
    parts: Mutex<HashMap<(u32, u32), Part>>,
    streams: AtomicUsize,
}

#[derive(Default)]
struct Opened(bool);

impl Judge for StandIn {
    type Stream = Opened;

    fn judge(&self, opened: &mut Opened, pack: &SendDataRequest) -> SendDataResponse {
        if !opened.0 {
            opened.0 = true;
            self.streams.fetch_add(1, Ordering::SeqCst);
        }
        let mut parts = self.parts.lock().expect("lock");
        let Some(part) = parts.get_mut(&(pack.tid(), pack.pid())) else {
            return reply(-1, true, None);
        };
        if part.token != pack.token() || part.finished {
            return reply(-1, true, part.accepted.clone());
        }
        if pack.start_point != part.accepted {
            // As the supervisor: not taken, and here is where to continue.
            return SendDataResponse {
                resume_point: part.accepted.clone(),
                ..reply(-1, false, part.accepted.clone())
            };
        }
        for row in split_rows(pack.rows()) {
            part.rows.push(row.expect("a well-formed row").to_vec());
        }
        part.accepted = pack.next_point.clone();
        part.finished = pack.finished();
        reply(0, false, part.accepted.clone())
    }
}

impl StandIn {
    /// Expects `task` (its token, from its point).
    fn expect(&self, task: &AddSyncTaskRequest) {
        let point = assigned_point(task)
            .expect("point")
            .to_proto()
            .expect("proto");
        let mut parts = self.parts.lock().expect("lock");
        let part = parts.entry((task.tid(), task.pid())).or_insert(Part {
            token: String::new(),
            accepted: None,
            rows: Vec::new(),
            finished: false,
        });
        part.token = task.token().to_string();
        part.accepted = Some(point);
    }

    fn rows(&self, pid: u32) -> Vec<Vec<u8>> {
        let parts = self.parts.lock().expect("lock");
        parts
            .get(&(TID, pid))
            .map(|p| p.rows.clone())
            .unwrap_or_default()
    }

    fn accepted(&self, pid: u32) -> Option<SyncPoint> {
        let parts = self.parts.lock().expect("lock");
        parts.get(&(TID, pid)).and_then(|p| p.accepted.clone())
    }

    fn finished(&self, pid: u32) -> bool {
        let parts = self.parts.lock().expect("lock");
        parts.get(&(TID, pid)).is_some_and(|p| p.finished)
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A collector serving on a free port over `datadir`.
struct RunningCollector {
    endpoint: String,
    collector: Arc<Collector<FsStore, HttpTabletClient>>,
    server: tokio::task::JoinHandle<()>,
    stop: tokio::sync::oneshot::Sender<()>,
}

async fn start_collector(datadir: &Path, verify_crc: bool) -> RunningCollector {
    let listener = one_port::bind("127.0.0.1:0").await.expect("bind");
    let endpoint = listener.local_addr().expect("addr").to_string();
    let settings = CollectorSettings {
        max_pack_size: 4 * 1024,
        verify_crc,
        window: 4,
        idle_interval: Duration::from_millis(50),
        retry_interval: Duration::from_millis(100),
        request_timeout: Duration::from_secs(5),
        persist_interval: Duration::from_millis(0),
        ..CollectorSettings::default()
    };
    let env = TaskEnv {
        work: WorkDir::new(FsStore, datadir.to_path_buf()),
        tablet: Arc::new(HttpTabletClient::new(settings.request_timeout)),
        settings: Arc::new(settings),
        clock: now_ms,
        connect: tcp_connector(),
    };
    let collector = Arc::new(Collector {
        endpoint: endpoint.clone(),
        tasks: TaskManager::new(env),
        clock: now_ms,
    });
    collector.tasks.recover().await.expect("recover");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let routes = router(collector.clone());
    let server = tokio::spawn(async move {
        one_port::serve(listener, routes, async {
            let _ = stopped.await;
        })
        .await
        .expect("serve");
    });
    RunningCollector {
        endpoint,
        collector,
        server,
        stop,
    }
}

impl RunningCollector {
    async fn add(&self, task: &AddSyncTaskRequest) -> GeneralResponse {
        let mut client = DataCollectorClient::connect(format!("http://{}", self.endpoint))
            .await
            .expect("connect");
        client
            .add_sync_task(task.clone())
            .await
            .expect("AddSyncTask answered")
            .into_inner()
    }

    fn state(&self, pid: u32) -> Option<(TaskState, Option<String>)> {
        self.collector
            .tasks
            .statuses()
            .into_iter()
            .find(|s| s.pid == pid)
            .map(|s| (s.state, s.error))
    }

    async fn stop(self) {
        self.collector.tasks.shutdown().await;
        let _ = self.stop.send(());
        let _ = self.server.await;
    }
}

struct Fixture {
    dir: tempfile::TempDir,
    /// The tablet's data (a temp dir of its own, possibly on another filesystem).
    _tablet_dir: tempfile::TempDir,
    root: std::path::PathBuf,
    emu: TableEmulator,
    tablet: TabletServer,
    synctool: Arc<StandIn>,
    synctool_endpoint: String,
}

/// A table of `partitions` partitions with `snapshot_rows` rows each in a
/// snapshot (none if 0) and `binlog_rows` more in several binlog files.
async fn fixture(
    root_parent: Option<&Path>,
    partitions: u32,
    snapshot_rows: u64,
    binlog_rows: u64,
) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let tablet_dir = match root_parent {
        Some(parent) => tempfile::tempdir_in(parent),
        None => tempfile::tempdir(),
    }
    .expect("tablet tempdir");
    let root = tablet_dir.path().join("tablet");
    let mut table = EmulatedTable::demo(TID, partitions);
    table.binlog_max_bytes = 8 * 1024;
    let mut emu = TableEmulator::create(&root, table).expect("create table");
    if snapshot_rows > 0 {
        emu.append_all(snapshot_rows).expect("append");
        emu.snapshot_all(None).expect("snapshot");
    }
    emu.append_all(binlog_rows).expect("append");
    let tablet = TabletServer::start(&root, "127.0.0.1:0")
        .await
        .expect("tablet");
    let synctool = Arc::new(StandIn::default());
    let synctool_endpoint = serve_fake(synctool.clone()).await.to_string();
    Fixture {
        dir,
        _tablet_dir: tablet_dir,
        root,
        emu,
        tablet,
        synctool,
        synctool_endpoint,
    }
}

impl Fixture {
    fn task(&self, pid: u32, mode: SyncMode, token: &str) -> AddSyncTaskRequest {
        AddSyncTaskRequest {
            tid: Some(TID),
            pid: Some(pid),
            mode: Some(mode as i32),
            start_ts: None,
            sync_point: None,
            tablet_endpoint: Some(self.tablet.endpoint()),
            des_endpoint: Some(self.synctool_endpoint.clone()),
            token: Some(token.into()),
            dest: None,
        }
    }

    fn datadir(&self) -> std::path::PathBuf {
        self.dir.path().join("collector")
    }

    /// Every row put into `pid` so far, as stored.
    fn source_rows(&mut self, pid: u32) -> Vec<Vec<u8>> {
        let part = self.emu.partition(pid).expect("partition");
        let puts = part.offset();
        (0..puts)
            .map(|seq| part.generator().row(pid, seq).expect("row").row)
            .collect()
    }
}

fn multiset(rows: &[Vec<u8>]) -> BTreeMap<Vec<u8>, usize> {
    let mut m = BTreeMap::new();
    for r in rows {
        *m.entry(r.clone()).or_insert(0) += 1;
    }
    m
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..600 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

fn assert_exact(f: &mut Fixture, pid: u32) {
    let expected = f.source_rows(pid);
    let got = f.synctool.rows(pid);
    assert_eq!(got.len(), expected.len(), "pid {pid}: row count");
    assert!(
        multiset(&got) == multiset(&expected),
        "pid {pid}: the rows differ from the source"
    );
}

#[tokio::test]
async fn mode_0_sends_every_row_once_and_a_repeated_assignment_is_idempotent() {
    let mut f = fixture(None, 2, 300, 200).await;
    let collector = start_collector(&f.datadir(), true).await;
    for pid in 0..2 {
        let task = f.task(pid, SyncMode::KFull, "token-1");
        f.synctool.expect(&task);
        assert_eq!(collector.add(&task).await.code, Some(0));
    }
    // The repeat lands while the loop runs or after it finished: either way
    // it is acknowledged and starts nothing.
    let again = collector.add(&f.task(0, SyncMode::KFull, "token-1")).await;
    assert_eq!(again.code, Some(0), "the same assignment again is fine");
    wait_for("both partitions finished", || {
        f.synctool.finished(0) && f.synctool.finished(1)
    })
    .await;
    let late = collector.add(&f.task(1, SyncMode::KFull, "token-1")).await;
    assert_eq!(
        late.code,
        Some(0),
        "a late repeat of a finished assignment is fine"
    );
    for pid in 0..2 {
        assert_exact(&mut f, pid);
    }
    assert_eq!(
        f.synctool.streams.load(Ordering::SeqCst),
        2,
        "one stream per partition: the repeat started no second loop"
    );
    wait_for("the tasks to end", || {
        (0..2).all(|pid| {
            collector
                .state(pid)
                .is_some_and(|(s, _)| s == TaskState::Finished)
        })
    })
    .await;
    for pid in 0..2 {
        assert!(
            !f.datadir().join(format!("{TID}-{pid}")).exists(),
            "a finished task's work dir (its hard links) is removed"
        );
    }
    collector.stop().await;
}

#[tokio::test]
async fn a_new_token_replaces_the_loop_and_a_restart_resumes_without_duplicates() {
    let mut f = fixture(None, 1, 200, 100).await;
    let collector = start_collector(&f.datadir(), false).await;
    let first = f.task(0, SyncMode::KFull, "a");
    // Mode 2 (continuous) never finishes: it follows the tablet.
    let first = AddSyncTaskRequest {
        mode: Some(SyncMode::KFullAndContinuous as i32),
        ..first
    };
    f.synctool.expect(&first);
    assert_eq!(collector.add(&first).await.code, Some(0));
    wait_for("the first rows", || f.synctool.rows(0).len() >= 300).await;

    // SyncTool reassigns with a new token from its accepted point.
    let second = AddSyncTaskRequest {
        token: Some("b".into()),
        sync_point: f.synctool.accepted(0),
        ..first.clone()
    };
    f.synctool.expect(&second);
    assert_eq!(collector.add(&second).await.code, Some(0));
    f.emu.append_all(150).expect("append");
    wait_for("the appended rows", || f.synctool.rows(0).len() >= 450).await;
    assert_exact(&mut f, 0);

    // Stop and start the collector: the task resumes from task.progress.
    collector.stop().await;
    f.emu.append_all(120).expect("append");
    let collector = start_collector(&f.datadir(), false).await;
    wait_for("rows appended while the collector was down", || {
        f.synctool.rows(0).len() >= 570
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_exact(&mut f, 0);
    assert_eq!(
        collector.state(0).map(|(s, _)| s),
        Some(TaskState::Streaming),
        "the recovered task keeps following the tablet"
    );
    collector.stop().await;
}

#[tokio::test]
async fn a_corrupt_binlog_fails_the_task_with_file_and_offset_and_nothing_after_it_is_sent() {
    let mut f = fixture(None, 1, 0, 300).await;
    // Damage a record in the middle of the second binlog file.
    let binlog = partition_dir(&f.root, TID, 0).join("binlog");
    let victim = binlog.join(sync_core::binlog::binlog_file_name(1));
    let mut bytes = std::fs::read(&victim).expect("read binlog");
    assert!(bytes.len() > 2000, "the file is large enough to damage");
    bytes[1500] ^= 0x5a;
    std::fs::write(&victim, bytes).expect("write binlog");

    let collector = start_collector(&f.datadir(), true).await;
    let task = f.task(0, SyncMode::KFull, "t");
    f.synctool.expect(&task);
    assert_eq!(collector.add(&task).await.code, Some(0));
    wait_for("the task to fail", || {
        collector
            .state(0)
            .is_some_and(|(s, _)| s == TaskState::Failed)
    })
    .await;
    let (_, error) = collector.state(0).expect("status");
    let error = error.expect("an error is shown");
    assert!(error.contains("00000001.log"), "names the file: {error}");
    assert!(error.contains("offset"), "names the offset: {error}");
    let sent = f.synctool.rows(0).len();
    assert!(sent < 300, "rows after the damage are not sent ({sent})");
    let source = f.source_rows(0);
    let prefix = multiset(&source[..sent]);
    assert!(
        multiset(&f.synctool.rows(0)) == prefix,
        "what was sent is the undamaged prefix, once"
    );

    let refused = collector.add(&f.task(0, SyncMode::KFull, "t2")).await;
    assert_ne!(
        refused.code,
        Some(0),
        "a new assignment is refused while the failure is fresh"
    );
    assert!(refused.msg().contains("00000001.log"), "{}", refused.msg());
    collector.stop().await;
}

#[tokio::test]
async fn a_work_dir_on_another_filesystem_is_refused_with_the_cross_device_error() {
    let shm = Path::new("/dev/shm");
    if !shm.is_dir() {
        eprintln!("skipped: no /dev/shm");
        return;
    }
    let f = fixture(Some(shm), 1, 10, 10).await;
    let collector = start_collector(&f.datadir(), false).await;
    let reply = collector.add(&f.task(0, SyncMode::KFull, "t")).await;
    if reply.code == Some(0) {
        eprintln!("skipped: /dev/shm and the temp dir share a filesystem");
        collector.stop().await;
        return;
    }
    assert!(
        reply.msg().contains("Invalid cross-device link"),
        "the seed's error text: {}",
        reply.msg()
    );
    assert_eq!(collector.state(0).map(|(s, _)| s), Some(TaskState::Refused));
    collector.stop().await;
}
