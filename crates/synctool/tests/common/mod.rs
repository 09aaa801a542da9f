//! Fixtures shared by the daemon tests: a standalone cluster with table
//! metadata in a temp dir, a fake collector client that records assignments,
//! a local store whose writes can be held or failed, the real sink over an
//! in-memory area (whose commits can be failed or held), and pack builders;
//! [`serving`]: a daemon on a loopback port and HTTP calls to it.
#![allow(dead_code)]

pub mod serving;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use sync_core::point::Point;
use sync_core::row::{SchemaVersions, Value};
use sync_core::task::{AssignFailure, CommitSegment, SinkProgress, StageSegment};
use sync_infra::coordinator::standalone::StandaloneCoordinator;
use sync_infra::store::{DirEntry, FsStore, LocalStore, StoreError};
use sync_proto::common::{ColumnDesc, StorageMode};
use sync_proto::datasync::{AddSyncTaskRequest, CreateSyncTaskRequest, SendDataRequest};
use sync_proto::nameserver::{PartitionMeta, TableInfo, TablePartition};
use sync_proto::types::DataType;
use sync_sinks::layout::STAGING_DIR;
use sync_sinks::{
    CommitOutcome, CsvOptions, OutputFormat, Sink, SinkConfig, SinkError, StoreSink, TableSchema,
};
use synctool::daemon::BoxFuture;
pub use synctool::daemon::SyncToolHandle;
use synctool::daemon::clock::ManualClock;
use synctool::daemon::cluster::CoordinatorView;
use synctool::daemon::collector_client::CollectorClient;
use synctool::daemon::{Daemon, DaemonOptions, DaemonParts};
use tempfile::TempDir;

pub const COLLECTOR: &str = "127.0.0.1:9001";
pub const TABLET: &str = "127.0.0.1:9527";

/// The real sink (CSV without header, in memory) with commits that can be
/// made to fail and a count of released destinations.
pub struct TestSink {
    pub inner: StoreSink,
    fail_commits: AtomicU32,
    /// Commits wait while this is `true`.
    hold_commits: tokio::sync::watch::Sender<bool>,
    pub released: Mutex<Vec<String>>,
}

impl TestSink {
    pub fn new() -> Self {
        TestSink {
            inner: StoreSink::new(SinkConfig {
                format: OutputFormat::Csv(CsvOptions {
                    header: false,
                    ..CsvOptions::default()
                }),
                ..SinkConfig::default()
            }),
            fail_commits: AtomicU32::new(0),
            hold_commits: tokio::sync::watch::channel(false).0,
            released: Mutex::new(Vec::new()),
        }
    }

    /// While `on`, commits wait (a slow store).
    pub fn hold_commits(&self, on: bool) {
        self.hold_commits.send_replace(on);
    }

    /// The next `n` commits fail (as an unreachable store, before anything is done).
    pub fn fail_next_commits(&self, n: u32) {
        self.fail_commits.store(n, Ordering::SeqCst);
    }

    /// The `name` column of every committed row in `dest`, each followed by `;`.
    pub async fn committed_text(&self, dest: &str) -> String {
        let mut text = String::new();
        for file in self.inner.visible_files(dest).await.unwrap() {
            let bytes = self.inner.read_file(dest, &file).await.unwrap().unwrap();
            for line in String::from_utf8(bytes).unwrap().lines() {
                let name = line.split_once(',').map_or(line, |(_, n)| n);
                text.push_str(name);
                text.push(';');
            }
        }
        text
    }

    /// Committed (visible) files in `dest`.
    pub async fn visible_count(&self, dest: &str) -> usize {
        self.inner.visible_files(dest).await.unwrap().len()
    }

    /// Staged files in `dest`.
    pub async fn staged_count(&self, dest: &str) -> usize {
        self.inner
            .all_files(dest)
            .await
            .unwrap()
            .iter()
            .filter(|f| f.starts_with(STAGING_DIR))
            .count()
    }
}

#[async_trait::async_trait]
impl Sink for TestSink {
    async fn stage(&self, seg: &StageSegment, schema: &TableSchema) -> Result<(), SinkError> {
        self.inner.stage(seg, schema).await
    }
    async fn commit(&self, seg: &CommitSegment) -> Result<CommitOutcome, SinkError> {
        let _ = self.hold_commits.subscribe().wait_for(|held| !held).await;
        let left = self.fail_commits.load(Ordering::SeqCst);
        if left > 0 {
            self.fail_commits.store(left - 1, Ordering::SeqCst);
            return Err(SinkError::Storage {
                op: "commit",
                dest: seg.dest.clone(),
                path: String::new(),
                source: Box::new(std::io::Error::other("injected store failure")),
            });
        }
        self.inner.commit(seg).await
    }
    async fn clear_staging(
        &self,
        tid: u32,
        pid: u32,
        task_id: u64,
        dest: &str,
        from_seq: u64,
    ) -> Result<(), SinkError> {
        self.inner
            .clear_staging(tid, pid, task_id, dest, from_seq)
            .await
    }
    async fn committed(
        &self,
        dest: &str,
        tid: Option<u32>,
    ) -> Result<Vec<SinkProgress>, SinkError> {
        self.inner.committed(dest, tid).await
    }
    async fn visible_files(&self, dest: &str) -> Result<Vec<String>, SinkError> {
        self.inner.visible_files(dest).await
    }
    async fn check_destination(&self, dest: &str) -> Result<(), SinkError> {
        self.inner.check_destination(dest).await
    }
    fn release(&self, dest: &str) {
        self.released.lock().unwrap().push(dest.to_owned());
        self.inner.release(dest);
    }
}

/// Records every `AddSyncTask`; answers Ok.
#[derive(Default)]
pub struct FakeCollectors {
    pub calls: Mutex<Vec<(String, AddSyncTaskRequest)>>,
}

impl FakeCollectors {
    pub fn calls(&self) -> Vec<(String, AddSyncTaskRequest)> {
        self.calls.lock().unwrap().clone()
    }

    /// Waits until `n` assignments were made; returns the last one.
    pub async fn wait_for(&self, n: usize) -> AddSyncTaskRequest {
        for _ in 0..500 {
            if let Some(last) = {
                let calls = self.calls.lock().unwrap();
                (calls.len() >= n).then(|| calls[n - 1].1.clone())
            } {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no assignment #{n}: {:?}", self.calls());
    }
}

impl CollectorClient for FakeCollectors {
    fn add_sync_task(
        &self,
        collector: String,
        request: AddSyncTaskRequest,
    ) -> BoxFuture<'_, Result<(), AssignFailure>> {
        self.calls.lock().unwrap().push((collector, request));
        Box::pin(async { Ok(()) })
    }
}

/// A filesystem store whose atomic writes can be held (until released) or failed.
#[derive(Default)]
pub struct GatedStore {
    pub hold: Arc<(Mutex<bool>, Condvar)>,
    pub fail: AtomicBool,
    pub writes: Mutex<Vec<PathBuf>>,
}

impl GatedStore {
    pub fn set_hold(&self, on: bool) {
        let (lock, cv) = &*self.hold;
        *lock.lock().unwrap() = on;
        cv.notify_all();
    }

    pub fn write_count(&self) -> usize {
        self.writes.lock().unwrap().len()
    }
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
        let (lock, cv) = &*self.hold;
        let mut held = lock.lock().unwrap();
        while *held {
            held = cv.wait(held).unwrap();
        }
        drop(held);
        if self.fail.load(Ordering::SeqCst) {
            return Err(StoreError::Io {
                op: "write",
                path: path.to_path_buf(),
                source: std::io::Error::other("injected disk failure"),
            });
        }
        FsStore.write_atomic(path, bytes)?;
        self.writes.lock().unwrap().push(path.to_path_buf());
        Ok(())
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

/// A table `db.name` (columns `id bigint, name string`) with `parts`
/// partitions led by [`TABLET`].
pub fn table_info(tid: u32, db: &str, name: &str, parts: u32, mode: StorageMode) -> TableInfo {
    let mut info = TableInfo {
        name: Some(name.into()),
        db: Some(db.into()),
        tid: Some(tid),
        ..Default::default()
    };
    info.set_storage_mode(mode);
    for (column, ty) in [("id", DataType::KBigInt), ("name", DataType::KString)] {
        let mut c = ColumnDesc {
            name: column.into(),
            ..Default::default()
        };
        c.set_data_type(ty);
        info.column_desc.push(c);
    }
    for pid in 0..parts {
        info.table_partition.push(TablePartition {
            pid,
            partition_meta: vec![PartitionMeta {
                endpoint: TABLET.into(),
                is_leader: true,
                ..Default::default()
            }],
            ..Default::default()
        });
    }
    info
}

static AREAS: AtomicU64 = AtomicU64::new(0);

/// Everything a daemon test needs; the dirs and the sink's memory area
/// outlive daemon restarts.
pub struct Env {
    pub dir: TempDir,
    pub clock: Arc<ManualClock>,
    pub sink: Arc<TestSink>,
    pub collectors: Arc<FakeCollectors>,
    pub local: Arc<GatedStore>,
    pub max_rows: u64,
    /// The in-memory area of this test's destinations.
    pub area: String,
}

impl Drop for Env {
    fn drop(&mut self) {
        sync_sinks::forget_memory_area(&self.area);
    }
}

impl Env {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let metadata = dir.path().join("metadata");
        StandaloneCoordinator::put_table_info(
            &metadata,
            &table_info(7, "db1", "t1", 1, StorageMode::KHdd),
        )
        .unwrap();
        StandaloneCoordinator::put_table_info(
            &metadata,
            &table_info(8, "db1", "mem", 1, StorageMode::KMemory),
        )
        .unwrap();
        StandaloneCoordinator::put_table_info(
            &metadata,
            &table_info(9, "db1", "t2", 2, StorageMode::KSsd),
        )
        .unwrap();
        Env {
            dir,
            clock: Arc::new(ManualClock::new(1_700_000_000_000)),
            sink: Arc::new(TestSink::new()),
            collectors: Arc::new(FakeCollectors::default()),
            local: Arc::new(GatedStore::default()),
            max_rows: 3,
            area: format!(
                "synctool-test-{}-{}",
                std::process::id(),
                AREAS.fetch_add(1, Ordering::SeqCst)
            ),
        }
    }

    /// The allowed destination root.
    pub fn root(&self) -> String {
        format!("memory://{}/data/offline", self.area)
    }

    /// The destination of table `name`.
    pub fn dest(&self, name: &str) -> String {
        format!("{}/{name}", self.root())
    }

    pub fn progress_path(&self) -> PathBuf {
        self.dir.path().join("progress")
    }

    /// SyncTool's state file as it is on disk now (`None`: not written yet).
    pub fn persisted_state(&self) -> Option<sync_core::task::PersistedState> {
        synctool::daemon::startup::read_state(&sync_infra::store::FsStore, &self.progress_path())
            .expect("the state file is readable")
    }

    pub fn metadata_dir(&self) -> PathBuf {
        self.dir.path().join("metadata")
    }

    pub fn options(&self) -> DaemonOptions {
        let mut supervisor = sync_core::task::Config {
            timeout_ms: 20_000,
            des_endpoint: "127.0.0.1:8848".into(),
            ..Default::default()
        };
        // What TestSink writes: CSV without a header.
        supervisor.defaults.format = sync_core::task::FileFormat::Csv;
        supervisor.defaults.csv_header = false;
        supervisor.defaults.roll.max_rows = self.max_rows;
        DaemonOptions {
            progress_path: self.progress_path(),
            supervisor,
            allowed_dest_roots: vec![self.root()],
            sink_config: SinkConfig::default(),
            wake_on_deadlines: false,
            poll_period: None,
            seed: 42,
        }
    }

    pub fn parts(&self) -> DaemonParts {
        let coordinator = StandaloneCoordinator::new(vec![COLLECTOR.into()], self.metadata_dir());
        DaemonParts {
            clock: self.clock.clone(),
            local: self.local.clone(),
            sink: self.sink.clone(),
            collectors: self.collectors.clone(),
            cluster: Arc::new(CoordinatorView(Arc::new(coordinator))),
        }
    }

    pub async fn start(&self) -> Daemon {
        Daemon::start(self.options(), self.parts()).await.unwrap()
    }
}

pub fn create_request(db: &str, name: &str, mode: i32, dest: &str) -> CreateSyncTaskRequest {
    CreateSyncTaskRequest {
        db: Some(db.into()),
        name: Some(name.into()),
        mode: Some(mode),
        start_ts: None,
        dest: Some(dest.into()),
        if_exists: None,
        ..Default::default()
    }
}

/// Pack `i` of a partition: one row `row<i>;`, from point i to i+1
/// (point 0 is the start of the snapshot, then binlog offsets).
pub fn point(i: u64) -> Point {
    if i == 0 {
        Point::start()
    } else {
        Point::Binlog { offset: i }
    }
}

/// Row `i` of table 7's schema: `(i, "row<i>")`, encoded as stored.
pub fn row(i: u64) -> Vec<u8> {
    let schema = SchemaVersions::from_table_info(&table_info(7, "db1", "t1", 1, StorageMode::KHdd))
        .expect("schema");
    schema
        .encode(
            1,
            &[
                Value::BigInt(i as i64),
                Value::String(format!("row{i}").into_bytes()),
            ],
        )
        .expect("row encodes")
}

pub fn pack(tid: u32, pid: u32, token: &str, i: u64) -> SendDataRequest {
    let rows = row(i);
    SendDataRequest {
        tid: Some(tid),
        pid: Some(pid),
        start_point: Some(point(i).to_proto().unwrap()),
        count: Some(1),
        token: Some(token.into()),
        finished: None,
        next_point: Some(point(i + 1).to_proto().unwrap()),
        rows: Some(rows),
        preparing: None,
        failure: None,
    }
}

/// Creates the mode-2 task of `db1.t1` (tid 7, one partition); the token
/// of its first assignment.
/// Sends the packs `rows` ([`pack`]) of part 7/0 with `token`; each must be
/// accepted.
pub async fn send_accepted(h: &SyncToolHandle, token: &str, rows: std::ops::Range<u64>) {
    for i in rows {
        let r = h.send_data(pack(7, 0, token, i)).await;
        assert_eq!(r.response.code, Some(0), "pack {i}: {:?}", r.response.msg);
    }
}

pub async fn create_t1(h: &SyncToolHandle, env: &Env) -> String {
    let reply = h
        .create(create_request("db1", "t1", 2, &env.dest("t1")))
        .await;
    assert_eq!(reply.code, Some(0), "{:?}", reply.msg);
    env.collectors.wait_for(1).await.token.unwrap()
}

/// Waits until the status shows `rows` committed rows for tid/pid.
pub async fn wait_committed(handle: &SyncToolHandle, tid: u32, pid: u32, rows: u64) {
    for _ in 0..500 {
        let report = handle.status_report().await.unwrap();
        let got = report
            .tables
            .iter()
            .filter(|t| t.tid == tid)
            .flat_map(|t| t.partitions.iter())
            .find(|p| p.pid == pid)
            .map(|p| p.rows_committed);
        if got == Some(rows) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "tid {tid} pid {pid} never reached {rows} committed rows: {}",
        handle.status_report().await.unwrap().summary()
    );
}
