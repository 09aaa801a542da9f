//! SyncTool's offline store in the simulation, and the faults injected there.
//!
//! The durable store lives outside the SyncTool host, so what was committed
//! survives a crash: either the daemon's [`MemorySegmentStore`] (same stage,
//! commit and idempotence rules as the real sinks) or the real
//! [`StoreSink`] writing CSV files to a local directory (its commit protocol
//! step by step: staged temp, staged, commit record, rename).
//!
//! [`FaultStore`] wraps either and, when armed by the schedule
//! ([`StoreControl::arm`]), stops at a [`CrashPoint`]: the call never
//! returns and a crash of the SyncTool host is requested, which the test
//! loop carries out at the end of the simulation step. [`Breakage`] holds
//! the deliberate bugs that prove the checker can fail.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use sync_core::task::{CommitSegment, SegmentId, SinkProgress, StageSegment};
use sync_infra::store::{DirEntry, FsStore, LocalStore, StoreError as LocalError};
use sync_sinks::{CsvOptions, OutputFormat, SinkConfig, Step, StoreSink};
use synctool::daemon::STATE_FILE;
use synctool::daemon::memory_store::MemorySegmentStore;
use synctool::daemon::segment_store::{BoxFuture, ClearStaging, SegmentStore, StoreError};
use synctool::daemon::sink_store::SinkStore;

use crate::cluster::SimCluster;

/// Which durable store a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// [`MemorySegmentStore`].
    Memory,
    /// [`StoreSink`] writing CSV under a local directory.
    Files,
}

/// Where SyncTool stops (and is crashed) while writing a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashPoint {
    /// The segment is staged; the daemon has not heard so.
    AfterStage,
    /// About to commit a staged segment: nothing of the commit is done.
    BeforeCommit,
    /// The segment is committed; the daemon has not heard so (no reply).
    AfterCommit,
    /// The state file was just replaced (the crash lands at the end of the step).
    AfterPersist,
    /// After a step of the file sink's protocol (file store only).
    Sink(Step),
}

/// Deliberate bugs, to prove the checker reports loss and duplicates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Breakage {
    /// Every commit of a segment with seq 1 reports success without committing.
    AckWithoutCommit,
    /// Every segment is committed a second time under another task id.
    CommitTwice,
}

/// Task ids of the copies [`Breakage::CommitTwice`] writes.
const COPY_TASK_OFFSET: u64 = 1 << 40;

#[derive(Default)]
struct Control {
    armed: Option<CrashPoint>,
    requested: Option<CrashPoint>,
    sink: Option<Arc<StoreSink>>,
    staged: HashMap<(String, SegmentId), StageSegment>,
}

/// The schedule's handle on the store faults (shared with the SyncTool host).
#[derive(Default)]
pub struct StoreControl {
    inner: Mutex<Control>,
    breakage: Option<Breakage>,
}

impl StoreControl {
    /// No fault armed; `breakage` is always on.
    pub fn new(breakage: Option<Breakage>) -> Self {
        Self {
            inner: Mutex::new(Control::default()),
            breakage,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Control> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next time `point` is reached, stop there and request a crash.
    pub fn arm(&self, point: CrashPoint) {
        let mut c = self.lock();
        c.armed = Some(point);
        if let (CrashPoint::Sink(step), Some(sink)) = (point, &c.sink) {
            sink.crash_after(step);
        }
    }

    /// Whether a crash point is armed and not yet reached.
    pub fn armed(&self) -> Option<CrashPoint> {
        self.lock().armed
    }

    /// Disarms (the run heals).
    pub fn disarm(&self) {
        self.lock().armed = None;
    }

    /// The crash point reached since the last call, if any.
    pub fn take_request(&self) -> Option<CrashPoint> {
        self.lock().requested.take()
    }

    /// The file sink of a (re)started SyncTool; an armed sink step moves to it.
    fn attach_sink(&self, sink: Arc<StoreSink>) {
        let mut c = self.lock();
        if let Some(CrashPoint::Sink(step)) = c.armed {
            sink.crash_after(step);
        }
        c.sink = Some(sink);
    }

    /// Reached `point`: true if it was armed (the caller stops there).
    fn reached(&self, point: CrashPoint) -> bool {
        let mut c = self.lock();
        if c.armed != Some(point) {
            return false;
        }
        c.armed = None;
        c.requested = Some(point);
        true
    }

    /// The file sink stopped at its armed step: true if that step is still
    /// armed here (the caller stops); after healing the sink's leftover arm
    /// is just an error of that call, which the daemon retries.
    fn sink_stopped(&self) -> bool {
        let mut c = self.lock();
        match c.armed {
            Some(point @ CrashPoint::Sink(_)) => {
                c.armed = None;
                c.requested = Some(point);
                true
            }
            _ => false,
        }
    }
}

/// Never returns: the host is about to be crashed.
async fn stop<T>() -> T {
    std::future::pending().await
}

fn is_injected(e: &StoreError) -> bool {
    e.0.contains("injected crash after")
}

/// The durable store of a run (outside every host).
pub struct Durable {
    kind: StoreKind,
    memory: Arc<MemorySegmentStore>,
    dir: PathBuf,
}

impl Durable {
    /// A store of `kind`; files go under `dir`.
    pub fn new(kind: StoreKind, dir: &Path) -> Self {
        Self {
            kind,
            memory: Arc::new(MemorySegmentStore::new()),
            dir: dir.to_path_buf(),
        }
    }

    /// The kind.
    pub fn kind(&self) -> StoreKind {
        self.kind
    }

    /// The in-memory store (committed segments of [`StoreKind::Memory`]).
    pub fn memory(&self) -> &MemorySegmentStore {
        &self.memory
    }

    /// The allowed destination root.
    pub fn root(&self) -> String {
        match self.kind {
            StoreKind::Memory => "/sim/offline".into(),
            StoreKind::Files => format!("file://{}", self.dir.display()),
        }
    }

    /// The destination of table `tid`.
    pub fn dest(&self, tid: u32) -> String {
        format!("{}/t{tid}", self.root())
    }

    /// The local directory of a file destination.
    pub fn dest_dir(&self, tid: u32) -> PathBuf {
        self.dir.join(format!("t{tid}"))
    }

    /// The CSV settings of file destinations.
    pub fn csv() -> CsvOptions {
        CsvOptions::default()
    }

    /// The segment store for a SyncTool (re)start, with the faults of `control`.
    pub fn open(&self, cluster: Arc<SimCluster>, control: Arc<StoreControl>) -> FaultStore {
        let inner: Arc<dyn SegmentStore> = match self.kind {
            StoreKind::Memory => self.memory.clone(),
            StoreKind::Files => {
                let sink = Arc::new(StoreSink::new(SinkConfig {
                    format: OutputFormat::Csv(Self::csv()),
                    ..SinkConfig::default()
                }));
                control.attach_sink(sink.clone());
                Arc::new(SinkStore::new(sink, cluster))
            }
        };
        FaultStore { inner, control }
    }
}

/// A [`SegmentStore`] that stops at armed crash points and carries the breakage.
pub struct FaultStore {
    inner: Arc<dyn SegmentStore>,
    control: Arc<StoreControl>,
}

impl FaultStore {
    async fn commit_copy(&self, seg: &CommitSegment) {
        let key = (seg.dest.clone(), seg.id);
        let staged = self.control.lock().staged.remove(&key);
        let Some(mut copy) = staged else { return };
        copy.id.task_id += COPY_TASK_OFFSET;
        let mut commit = seg.clone();
        commit.id.task_id += COPY_TASK_OFFSET;
        if self.inner.stage(&copy).await.is_ok() {
            let _ = self.inner.commit(&commit).await;
        }
    }
}

impl SegmentStore for FaultStore {
    fn stage<'a>(&'a self, segment: &'a StageSegment) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let result = self.inner.stage(segment).await;
            match &result {
                Err(e) if is_injected(e) && self.control.sink_stopped() => return stop().await,
                Ok(()) if self.control.reached(CrashPoint::AfterStage) => return stop().await,
                Ok(()) if self.control.breakage == Some(Breakage::CommitTwice) => {
                    let key = (segment.dest.clone(), segment.id);
                    self.control.lock().staged.insert(key, segment.clone());
                }
                _ => {}
            }
            result
        })
    }

    fn commit<'a>(&'a self, segment: &'a CommitSegment) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            if self.control.reached(CrashPoint::BeforeCommit) {
                return stop().await;
            }
            if self.control.breakage == Some(Breakage::AckWithoutCommit) && segment.id.seq == 1 {
                return Ok(());
            }
            let result = self.inner.commit(segment).await;
            match &result {
                Err(e) if is_injected(e) && self.control.sink_stopped() => return stop().await,
                Ok(()) if self.control.breakage == Some(Breakage::CommitTwice) => {
                    self.commit_copy(segment).await;
                }
                _ => {}
            }
            if result.is_ok() && self.control.reached(CrashPoint::AfterCommit) {
                return stop().await;
            }
            result
        })
    }

    fn clear_staging<'a>(
        &'a self,
        clear: &'a ClearStaging,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.inner.clear_staging(clear)
    }

    fn committed<'a>(
        &'a self,
        dest: &'a str,
        tid: u32,
    ) -> BoxFuture<'a, Result<Vec<SinkProgress>, StoreError>> {
        self.inner.committed(dest, tid)
    }
}

/// SyncTool's progress dir: the real filesystem; replacing the state file
/// reaches [`CrashPoint::AfterPersist`].
pub struct PersistHook {
    control: Arc<StoreControl>,
}

impl PersistHook {
    /// Hooks the state file writes into `control`.
    pub fn new(control: Arc<StoreControl>) -> Self {
        Self { control }
    }
}

impl LocalStore for PersistHook {
    fn create_dir_all(&self, path: &Path) -> Result<(), LocalError> {
        FsStore.create_dir_all(path)
    }
    fn list_dir(&self, path: &Path) -> Result<Vec<DirEntry>, LocalError> {
        FsStore.list_dir(path)
    }
    fn hard_link(&self, original: &Path, link: &Path) -> Result<(), LocalError> {
        FsStore.hard_link(original, link)
    }
    fn read(&self, path: &Path) -> Result<Option<Vec<u8>>, LocalError> {
        FsStore.read(path)
    }
    fn read_at(&self, path: &Path, offset: u64, buf: &mut [u8]) -> Result<usize, LocalError> {
        FsStore.read_at(path, offset, buf)
    }
    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> Result<(), LocalError> {
        FsStore.write_atomic(path, bytes)?;
        if path.file_name().is_some_and(|n| n == STATE_FILE) {
            self.control.reached(CrashPoint::AfterPersist);
        }
        Ok(())
    }
    fn rename(&self, from: &Path, to: &Path) -> Result<(), LocalError> {
        FsStore.rename(from, to)
    }
    fn remove_file(&self, path: &Path) -> Result<(), LocalError> {
        FsStore.remove_file(path)
    }
    fn remove_dir_all(&self, path: &Path) -> Result<(), LocalError> {
        FsStore.remove_dir_all(path)
    }
}
