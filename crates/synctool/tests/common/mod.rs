//! Fixtures shared by the daemon tests: a standalone cluster with table
//! metadata in a temp dir, a fake collector client that records assignments,
//! a local store whose writes can be held or failed, and pack builders.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use sync_core::point::Point;
use sync_infra::coordinator::standalone::StandaloneCoordinator;
use sync_infra::store::{DirEntry, FsStore, LocalStore, StoreError};
use sync_proto::common::StorageMode;
use sync_proto::datasync::{AddSyncTaskRequest, CreateSyncTaskRequest, SendDataRequest};
use sync_proto::nameserver::{PartitionMeta, TableInfo, TablePartition};
use synctool::daemon::clock::ManualClock;
use synctool::daemon::cluster::CoordinatorView;
use synctool::daemon::collector_client::CollectorClient;
use synctool::daemon::memory_store::MemorySegmentStore;
use synctool::daemon::segment_store::BoxFuture;
use synctool::daemon::{Daemon, DaemonOptions, DaemonParts, SyncToolHandle};
use tempfile::TempDir;

pub const COLLECTOR: &str = "127.0.0.1:9001";
pub const TABLET: &str = "127.0.0.1:9527";
pub const ROOT: &str = "/data/offline";

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
    ) -> BoxFuture<'_, Result<(), String>> {
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

/// A table `db.name` with `parts` partitions led by [`TABLET`].
pub fn table_info(tid: u32, db: &str, name: &str, parts: u32, mode: StorageMode) -> TableInfo {
    let mut info = TableInfo {
        name: Some(name.into()),
        db: Some(db.into()),
        tid: Some(tid),
        ..Default::default()
    };
    info.set_storage_mode(mode);
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

/// Everything a daemon test needs; the dirs outlive daemon restarts.
pub struct Env {
    pub dir: TempDir,
    pub clock: Arc<ManualClock>,
    pub store: Arc<MemorySegmentStore>,
    pub collectors: Arc<FakeCollectors>,
    pub local: Arc<GatedStore>,
    pub max_rows: u64,
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
            store: Arc::new(MemorySegmentStore::new()),
            collectors: Arc::new(FakeCollectors::default()),
            local: Arc::new(GatedStore::default()),
            max_rows: 3,
        }
    }

    pub fn progress_path(&self) -> PathBuf {
        self.dir.path().join("progress")
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
        supervisor.roll.max_rows = self.max_rows;
        DaemonOptions {
            progress_path: self.progress_path(),
            supervisor,
            allowed_dest_roots: vec![ROOT.into()],
            tick: None,
            poll_period: None,
            seed: 42,
        }
    }

    pub fn parts(&self) -> DaemonParts {
        let coordinator = StandaloneCoordinator::new(vec![COLLECTOR.into()], self.metadata_dir());
        DaemonParts {
            clock: self.clock.clone(),
            local: self.local.clone(),
            store: self.store.clone(),
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

pub fn pack(tid: u32, pid: u32, token: &str, i: u64) -> SendDataRequest {
    let rows = format!("row{i};").into_bytes();
    SendDataRequest {
        tid: Some(tid),
        pid: Some(pid),
        start_point: Some(point(i).to_proto().unwrap()),
        count: Some(1),
        token: Some(token.into()),
        finished: None,
        next_point: Some(point(i + 1).to_proto().unwrap()),
        rows: Some(rows),
    }
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

/// All committed bytes under `dest`, in segment order.
pub fn committed_text(store: &MemorySegmentStore, dest: &str) -> String {
    store
        .committed_segments(dest)
        .iter()
        .map(|s| String::from_utf8_lossy(&s.rows).into_owned())
        .collect()
}
