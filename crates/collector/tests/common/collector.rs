//! A whole collector in one process for the daemon tests: real gRPC
//! `AddSyncTask`, a tablet emulator serving real-format data over HTTP+JSON,
//! and [`StandIn`], a SyncTool stand-in that answers packs as SyncTool's
//! supervisor does (by token and accepted point, with drop reasons and the
//! committed point in every reply), with a commit rule each test chooses.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use data_collector::manager::TaskManager;
use data_collector::prepare::assigned_point;
use data_collector::service::{Collector, router};
use data_collector::status::{TaskState, TaskStatus};
use data_collector::tablet_client::{HttpTabletClient, TabletApi};
use data_collector::task_run::{CollectorSettings, TaskEnv, tcp_connector};
use data_collector::workdir::WorkDir;
use sync_core::proto::datasync::data_collector_client::DataCollectorClient;
use sync_core::proto::datasync::*;
use sync_core::row::split_rows;
use sync_infra::one_port;
use sync_infra::store::FsStore;
use tablet_emu::TabletServer;
use tablet_emu::emulator::TableEmulator;
use tablet_emu::spec::EmulatedTable;

use super::{Judge, drop_reply, reply};

pub const TID: u32 = 9;

/// When the stand-in's committed point follows its accepted point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commit {
    /// At once: committed = accepted after every pack.
    AtOnce,
    /// Never by itself (only [`StandIn::commit_now`] / [`StandIn::commit_at`]).
    Frozen,
    /// At once for the first `n` packs with rows, then frozen.
    FirstPacks(usize),
}

/// One pack as the stand-in saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub token: String,
    pub start: Option<SyncPoint>,
    pub next: Option<SyncPoint>,
    pub count: u64,
    pub preparing: bool,
    pub failure: Option<ReadFailure>,
    pub at: std::time::Instant,
}

/// One partition task as the stand-in holds it.
pub struct Part {
    pub token: String,
    pub accepted: Option<SyncPoint>,
    pub committed: Option<SyncPoint>,
    /// Rows accepted, in order, and how many of them are committed.
    pub rows: Vec<Vec<u8>>,
    pub committed_rows: usize,
    pub packs_with_rows: usize,
    pub finished: bool,
    pub success: bool,
    pub failed: Option<ReadFailure>,
    pub deleted: bool,
    pub commit: Commit,
    pub seen: Vec<Seen>,
}

/// Accepts a pack iff the token is current and it starts at the accepted
/// point (see the module doc).
#[derive(Default)]
pub struct StandIn {
    parts: Mutex<HashMap<(u32, u32), Part>>,
    /// Streams that carried rows.
    pub row_streams: AtomicUsize,
}

#[derive(Default)]
pub struct Opened(bool);

impl Judge for StandIn {
    type Stream = Opened;

    fn judge(&self, opened: &mut Opened, pack: &SendDataRequest) -> SendDataResponse {
        if pack.count() > 0 && !opened.0 {
            opened.0 = true;
            self.row_streams.fetch_add(1, Ordering::SeqCst);
        }
        let mut parts = self.parts.lock().expect("lock");
        let Some(part) = parts.get_mut(&(pack.tid(), pack.pid())) else {
            return drop_reply(DropReason::KDropDeleted, None);
        };
        part.seen.push(Seen {
            token: pack.token().to_string(),
            start: pack.start_point.clone(),
            next: pack.next_point.clone(),
            count: pack.count(),
            preparing: pack.preparing(),
            failure: pack.failure.clone(),
            at: std::time::Instant::now(),
        });
        let committed = part.committed.clone();
        if part.deleted {
            return drop_reply(DropReason::KDropDeleted, None);
        }
        if part.success {
            return drop_reply(DropReason::KDropFinished, committed);
        }
        if part.failed.is_some() {
            return drop_reply(DropReason::KDropFailed, committed);
        }
        if part.token != pack.token() {
            return drop_reply(DropReason::KDropReassigned, committed);
        }
        if pack.start_point != part.accepted {
            // As the supervisor: not taken, and here is where to continue.
            return SendDataResponse {
                resume_point: part.accepted.clone(),
                ..reply(-1, false, committed)
            };
        }
        if let Some(failure) = &pack.failure {
            if failure.kind() != ReadFailureKind::KReadUnavailable {
                part.failed = Some(failure.clone());
                return drop_reply(DropReason::KDropFailed, committed);
            }
            return reply(0, false, committed);
        }
        for row in split_rows(pack.rows()) {
            part.rows.push(row.expect("a well-formed row").to_vec());
        }
        part.accepted = pack.next_point.clone();
        part.finished |= pack.finished();
        if pack.count() > 0 {
            part.packs_with_rows += 1;
        }
        let commit = match part.commit {
            Commit::AtOnce => true,
            Commit::Frozen => false,
            Commit::FirstPacks(n) => pack.count() > 0 && part.packs_with_rows <= n,
        };
        if commit {
            part.committed = part.accepted.clone();
            part.committed_rows = part.rows.len();
        }
        if part.finished && part.committed == part.accepted {
            part.success = true;
        }
        reply(0, false, part.committed.clone())
    }
}

impl StandIn {
    /// Expects `task` (its token, from its point), committing by `commit`.
    /// Rows accepted past the point are forgotten (they were never committed).
    pub fn expect_with(&self, task: &AddSyncTaskRequest, commit: Commit) {
        let point = assigned_point(task)
            .expect("point")
            .to_proto()
            .expect("proto");
        let mut parts = self.parts.lock().expect("lock");
        let part = parts.entry((task.tid(), task.pid())).or_insert(Part {
            token: String::new(),
            accepted: None,
            committed: None,
            rows: Vec::new(),
            committed_rows: 0,
            packs_with_rows: 0,
            finished: false,
            success: false,
            failed: None,
            deleted: false,
            commit,
            seen: Vec::new(),
        });
        part.token = task.token().to_string();
        if part.committed.as_ref() == Some(&point) {
            part.rows.truncate(part.committed_rows);
        }
        part.accepted = Some(point);
        part.commit = commit;
        part.failed = None;
    }

    pub fn expect(&self, task: &AddSyncTaskRequest) {
        self.expect_with(task, Commit::AtOnce);
    }

    fn with<R>(&self, pid: u32, f: impl FnOnce(&mut Part) -> R) -> Option<R> {
        let mut parts = self.parts.lock().expect("lock");
        parts.get_mut(&(TID, pid)).map(f)
    }

    /// Another assignment takes the part (the collector's token is stale).
    pub fn reassign(&self, pid: u32, token: &str) {
        self.with(pid, |p| p.token = token.to_string());
    }

    /// The task is deleted.
    pub fn delete(&self, pid: u32) {
        self.with(pid, |p| p.deleted = true);
    }

    /// Commits everything accepted.
    pub fn commit_now(&self, pid: u32) {
        self.with(pid, |p| {
            p.committed = p.accepted.clone();
            p.committed_rows = p.rows.len();
        });
    }

    /// Reports `point` as committed from now on.
    pub fn commit_at(&self, pid: u32, point: SyncPoint) {
        self.with(pid, |p| p.committed = Some(point));
    }

    pub fn rows(&self, pid: u32) -> Vec<Vec<u8>> {
        self.with(pid, |p| p.rows.clone()).unwrap_or_default()
    }

    pub fn accepted(&self, pid: u32) -> Option<SyncPoint> {
        self.with(pid, |p| p.accepted.clone()).flatten()
    }

    pub fn committed(&self, pid: u32) -> Option<SyncPoint> {
        self.with(pid, |p| p.committed.clone()).flatten()
    }

    pub fn finished(&self, pid: u32) -> bool {
        self.with(pid, |p| p.finished).unwrap_or(false)
    }

    pub fn failed(&self, pid: u32) -> Option<ReadFailure> {
        self.with(pid, |p| p.failed.clone()).flatten()
    }

    /// Every pack seen for `pid`.
    pub fn seen(&self, pid: u32) -> Vec<Seen> {
        self.with(pid, |p| p.seen.clone()).unwrap_or_default()
    }
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The settings the tests run with: small packs, short pauses.
pub fn test_settings(verify_crc: bool) -> CollectorSettings {
    CollectorSettings {
        max_pack_size: 4 * 1024,
        verify_crc,
        window: 4,
        idle_interval: Duration::from_millis(50),
        retry_interval: Duration::from_millis(100),
        retry_max_interval: Duration::from_millis(400),
        request_timeout: Duration::from_secs(5),
        persist_interval: Duration::from_millis(0),
        release_interval: Duration::from_millis(0),
        link_interval: Duration::from_millis(100),
        probe_interval: Duration::from_millis(200),
        preparing_interval: Duration::from_millis(200),
        ..CollectorSettings::default()
    }
}

/// A collector serving on a free port over `datadir`.
pub struct RunningCollector<T: TabletApi + 'static = HttpTabletClient> {
    pub endpoint: String,
    pub collector: Arc<Collector<FsStore, T>>,
    server: tokio::task::JoinHandle<()>,
    stop: tokio::sync::oneshot::Sender<()>,
}

pub async fn start_collector(datadir: &Path, verify_crc: bool) -> RunningCollector {
    let settings = test_settings(verify_crc);
    let tablet = HttpTabletClient::new(settings.request_timeout);
    start_collector_with(datadir, settings, tablet).await
}

pub async fn start_collector_with<T: TabletApi + 'static>(
    datadir: &Path,
    settings: CollectorSettings,
    tablet: T,
) -> RunningCollector<T> {
    let listener = one_port::bind("127.0.0.1:0").await.expect("bind");
    let endpoint = listener.local_addr().expect("addr").to_string();
    let env = TaskEnv {
        work: WorkDir::new(FsStore, datadir.to_path_buf()),
        tablet: Arc::new(tablet),
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

impl<T: TabletApi + 'static> RunningCollector<T> {
    /// `GET path` on the collector's port: the content type and the body.
    pub async fn http_get(&self, path: &str) -> (String, String) {
        use http_body_util::BodyExt;
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<http_body_util::Empty<hyper::body::Bytes>>();
        let uri: hyper::Uri = format!("http://{}{path}", self.endpoint)
            .parse()
            .expect("uri");
        let response = client.get(uri).await.expect("GET");
        let content_type = response
            .headers()
            .get(hyper::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (content_type, String::from_utf8_lossy(&body).into_owned())
    }

    /// `GET /status?format=json`.
    pub async fn status_json(&self) -> serde_json::Value {
        let (_, body) = self.http_get("/status?format=json").await;
        serde_json::from_str(&body).expect("json")
    }

    pub async fn add(&self, task: &AddSyncTaskRequest) -> GeneralResponse {
        let mut client = DataCollectorClient::connect(format!("http://{}", self.endpoint))
            .await
            .expect("connect");
        client
            .add_sync_task(task.clone())
            .await
            .expect("AddSyncTask answered")
            .into_inner()
    }

    pub fn status(&self, pid: u32) -> Option<TaskStatus> {
        self.collector
            .tasks
            .statuses()
            .into_iter()
            .find(|s| s.pid == pid)
    }

    pub fn state(&self, pid: u32) -> Option<(TaskState, Option<String>)> {
        self.status(pid).map(|s| (s.state, s.error))
    }

    pub fn is(&self, pid: u32, state: TaskState) -> bool {
        self.status(pid).is_some_and(|s| s.state == state)
    }

    pub async fn stop(self) {
        self.collector.tasks.shutdown().await;
        let _ = self.stop.send(());
        let _ = self.server.await;
    }
}

pub struct Fixture {
    pub dir: tempfile::TempDir,
    /// The tablet's data (a temp dir of its own, possibly on another filesystem).
    _tablet_dir: tempfile::TempDir,
    pub root: PathBuf,
    pub emu: TableEmulator,
    pub tablet: TabletServer,
    pub synctool: Arc<StandIn>,
    pub synctool_endpoint: String,
}

/// A table of `partitions` partitions with `snapshot_rows` rows each in a
/// snapshot (none if 0) and `binlog_rows` more in several binlog files.
pub async fn fixture(
    root_parent: Option<&Path>,
    partitions: u32,
    snapshot_rows: u64,
    binlog_rows: u64,
) -> Fixture {
    fixture_gated(root_parent, partitions, snapshot_rows, binlog_rows, None).await
}

/// As [`fixture`], with the stand-in's answers held while `gate` is false.
pub async fn fixture_gated(
    root_parent: Option<&Path>,
    partitions: u32,
    snapshot_rows: u64,
    binlog_rows: u64,
    gate: Option<tokio::sync::watch::Receiver<bool>>,
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
        emu.snapshot_all(Some("202611250000".into()))
            .expect("snapshot");
    }
    emu.append_all(binlog_rows).expect("append");
    let tablet = TabletServer::start(&root, "127.0.0.1:0")
        .await
        .expect("tablet");
    let synctool = Arc::new(StandIn::default());
    let synctool_endpoint = match gate {
        Some(gate) => super::serve_fake_gated(synctool.clone(), gate).await,
        None => super::serve_fake(synctool.clone()).await,
    }
    .to_string();
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
    pub fn task(&self, pid: u32, mode: SyncMode, token: &str) -> AddSyncTaskRequest {
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
            part_epoch: None,
        }
    }

    pub fn datadir(&self) -> PathBuf {
        self.dir.path().join("collector")
    }

    /// The work dir of `pid`.
    pub fn task_dir(&self, pid: u32) -> PathBuf {
        self.datadir().join(format!("{TID}-{pid}"))
    }

    /// The binlog file indexes linked in `pid`'s work dir.
    pub fn linked_files(&self, pid: u32) -> Vec<u64> {
        WorkDir::new(FsStore, self.datadir())
            .linked_binlogs(TID, pid)
            .expect("list")
            .into_iter()
            .map(|(i, _)| i)
            .collect()
    }

    /// The binlog file indexes the tablet still has for `pid`.
    pub fn tablet_files(&self, pid: u32) -> Vec<u64> {
        let dir = tablet_emu::partition_dir(&self.root, TID, pid).join("binlog");
        let mut files: Vec<u64> = std::fs::read_dir(dir)
            .expect("tablet binlog")
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                sync_core::binlog::parse_binlog_file_name(&e.file_name().to_string_lossy())
            })
            .collect();
        files.sort_unstable();
        files
    }

    /// Every row put into `pid` so far, as stored.
    pub fn source_rows(&mut self, pid: u32) -> Vec<Vec<u8>> {
        let part = self.emu.partition(pid).expect("partition");
        let puts = part.offset();
        (0..puts)
            .map(|seq| part.generator().row(pid, seq).expect("row").row)
            .collect()
    }
}

pub fn multiset(rows: &[Vec<u8>]) -> BTreeMap<Vec<u8>, usize> {
    let mut m = BTreeMap::new();
    for r in rows {
        *m.entry(r.clone()).or_insert(0) += 1;
    }
    m
}

pub async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..600 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// The stand-in holds exactly the source rows of `pid`: each once, none missing.
pub fn assert_exact(f: &mut Fixture, pid: u32) {
    let expected = f.source_rows(pid);
    let got = f.synctool.rows(pid);
    assert_eq!(got.len(), expected.len(), "pid {pid}: row count");
    assert!(
        multiset(&got) == multiset(&expected),
        "pid {pid}: the rows differ from the source"
    );
}
