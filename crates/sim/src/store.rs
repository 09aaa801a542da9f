//! SyncTool's offline store in the simulation, and the faults injected there.
//!
//! Every run writes through the real [`StoreSink`] and its commit protocol
//! (CSV files): either to an in-memory area (`memory://`, process-wide, so
//! what was committed survives a SyncTool crash) or to a local directory
//! (`file://`, the local-filesystem path with its renames, links and fsyncs).
//! A SyncTool (re)start gets a new sink over the same data, as a new process
//! would.
//!
//! [`FaultSink`] wraps it and, when armed by the schedule
//! ([`StoreControl::arm`]), stops at a [`CrashPoint`]: the call never
//! returns and a crash of the SyncTool host is requested, which the test
//! loop carries out at the end of the simulation step. While an outage is on
//! ([`StoreControl::set_outage`]) every call fails as an unreachable store
//! would (a transient error). [`Breakage`] holds the deliberate bugs that
//! prove the checker can fail.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use sync_core::task::{CommitSegment, SegmentId, SinkProgress, StageSegment};
use sync_infra::store::{DirEntry, FsStore, LocalStore, StoreError as LocalError};
use sync_sinks::{
    CommitOutcome, CsvOptions, OutputFormat, Sink, SinkConfig, SinkError, Step, StoreSink,
    TableSchema,
};
use synctool::daemon::STATE_FILE;

/// Which backend a run's sink writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// An in-memory area (`memory://`).
    Memory,
    /// A local directory (`file://`).
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
    /// After a step of the sink's protocol.
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
    sinks: Vec<Arc<StoreSink>>,
    outage: bool,
    /// [`Breakage::CommitTwice`]: the staged segments to copy at their commit.
    staged: Vec<(StageSegment, TableSchema)>,
}

/// The schedule's handle on the store faults (shared with the SyncTool hosts).
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
        if let CrashPoint::Sink(step) = point
            && let Some(sink) = c.sinks.last()
        {
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

    /// Starts or ends an outage of the store.
    pub fn set_outage(&self, on: bool) {
        self.lock().outage = on;
    }

    fn outage(&self) -> bool {
        self.lock().outage
    }

    /// The crash point reached since the last call, if any.
    pub fn take_request(&self) -> Option<CrashPoint> {
        self.lock().requested.take()
    }

    /// The sink of a (re)started SyncTool; an armed sink step moves to it.
    fn attach_sink(&self, sink: Arc<StoreSink>) {
        let mut c = self.lock();
        if let Some(CrashPoint::Sink(step)) = c.armed {
            sink.crash_after(step);
        }
        c.sinks.push(sink);
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

    /// The sink stopped at its armed step: true if that step is still armed
    /// here (the caller stops); after healing the sink's leftover arm is just
    /// an error of that call, which the daemon retries.
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

/// The durable store of a run (outside every host).
pub struct Durable {
    kind: StoreKind,
    area: String,
    dir: PathBuf,
}

impl Durable {
    /// A store of `kind`; files go under `dir`, whose name also names the memory area.
    pub fn new(kind: StoreKind, dir: &Path) -> Self {
        let area = format!(
            "sim-{}",
            dir.parent()
                .and_then(Path::file_name)
                .map_or_else(|| "run".into(), |n| n.to_string_lossy().into_owned())
        );
        Self {
            kind,
            area,
            dir: dir.to_path_buf(),
        }
    }

    /// The kind.
    pub fn kind(&self) -> StoreKind {
        self.kind
    }

    /// The allowed destination root.
    pub fn root(&self) -> String {
        match self.kind {
            StoreKind::Memory => format!("memory://{}/offline", self.area),
            StoreKind::Files => format!("file://{}", self.dir.display()),
        }
    }

    /// The destination of table `tid`.
    pub fn dest(&self, tid: u32) -> String {
        format!("{}/t{tid}", self.root())
    }

    /// The CSV settings of every destination.
    pub fn csv() -> CsvOptions {
        CsvOptions::default()
    }

    /// A fresh sink over the store, writing as `writer`.
    pub fn sink_as(&self, writer: &str) -> StoreSink {
        StoreSink::new(SinkConfig {
            format: OutputFormat::Csv(Self::csv()),
            writer: sync_sinks::layout::writer_name(writer),
            offload: sync_sinks::Offload::Inline,
            ..SinkConfig::default()
        })
    }

    /// A fresh sink over the store, for reading it.
    pub fn sink(&self) -> StoreSink {
        self.sink_as("checker")
    }

    /// The sink for a (re)start of the SyncTool `writer`, with the faults of `control`.
    pub fn open(&self, control: Arc<StoreControl>, writer: &str) -> FaultSink {
        let inner = Arc::new(self.sink_as(writer));
        control.attach_sink(inner.clone());
        FaultSink { inner, control }
    }
}

impl Drop for Durable {
    fn drop(&mut self) {
        if self.kind == StoreKind::Memory {
            sync_sinks::forget_memory_area(&self.area);
        }
    }
}

/// The real sink, stopping at armed crash points, failing during outages,
/// and carrying the breakage.
pub struct FaultSink {
    inner: Arc<StoreSink>,
    control: Arc<StoreControl>,
}

fn outage_error(dest: &str) -> SinkError {
    SinkError::Storage {
        op: "connect",
        dest: dest.to_owned(),
        path: String::new(),
        source: Box::new(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "the store is down (simulated outage)",
        )),
    }
}

impl FaultSink {
    fn check_outage(&self, dest: &str) -> Result<(), SinkError> {
        if self.control.outage() {
            return Err(outage_error(dest));
        }
        Ok(())
    }

    async fn commit_copy(&self, seg: &CommitSegment, staged: &StageSegment, schema: &TableSchema) {
        let mut copy = staged.clone();
        copy.id.task_id += COPY_TASK_OFFSET;
        let mut commit = seg.clone();
        commit.id.task_id += COPY_TASK_OFFSET;
        if self.inner.stage(&copy, schema).await.is_ok() {
            let _ = self.inner.commit(&commit).await;
        }
    }
}

fn is_injected(e: &SinkError) -> bool {
    matches!(e, SinkError::InjectedCrash { .. })
}

impl StoreControl {
    fn take_staged(&self, id: &SegmentId, dest: &str) -> Option<(StageSegment, TableSchema)> {
        let mut c = self.lock();
        let i = c
            .staged
            .iter()
            .position(|(s, _)| s.id == *id && s.dest == dest)?;
        Some(c.staged.swap_remove(i))
    }
}

#[async_trait::async_trait]
impl Sink for FaultSink {
    async fn stage(&self, seg: &StageSegment, schema: &TableSchema) -> Result<(), SinkError> {
        self.check_outage(&seg.dest)?;
        let result = self.inner.stage(seg, schema).await;
        match &result {
            Err(e) if is_injected(e) && self.control.sink_stopped() => return stop().await,
            Ok(()) if self.control.reached(CrashPoint::AfterStage) => return stop().await,
            Ok(()) if self.control.breakage == Some(Breakage::CommitTwice) => {
                self.control
                    .lock()
                    .staged
                    .push((seg.clone(), schema.clone()));
            }
            _ => {}
        }
        result
    }

    async fn commit(&self, seg: &CommitSegment) -> Result<CommitOutcome, SinkError> {
        self.check_outage(&seg.dest)?;
        if self.control.reached(CrashPoint::BeforeCommit) {
            return stop().await;
        }
        if self.control.breakage == Some(Breakage::AckWithoutCommit) && seg.id.seq == 1 {
            return Ok(CommitOutcome::Committed { files: 1 });
        }
        let result = self.inner.commit(seg).await;
        match &result {
            Err(e) if is_injected(e) && self.control.sink_stopped() => return stop().await,
            Ok(CommitOutcome::Committed { .. })
                if self.control.breakage == Some(Breakage::CommitTwice) =>
            {
                if let Some((staged, schema)) = self.control.take_staged(&seg.id, &seg.dest) {
                    self.commit_copy(seg, &staged, &schema).await;
                }
            }
            _ => {}
        }
        if result.is_ok() && self.control.reached(CrashPoint::AfterCommit) {
            return stop().await;
        }
        result
    }

    async fn clear_staging(
        &self,
        tid: u32,
        pid: u32,
        task_id: u64,
        dest: &str,
        from_seq: u64,
    ) -> Result<(), SinkError> {
        self.check_outage(dest)?;
        self.inner
            .clear_staging(tid, pid, task_id, dest, from_seq)
            .await
    }

    async fn committed(
        &self,
        dest: &str,
        tid: Option<u32>,
    ) -> Result<Vec<SinkProgress>, SinkError> {
        self.check_outage(dest)?;
        self.inner.committed(dest, tid).await
    }

    async fn visible_files(&self, dest: &str) -> Result<Vec<String>, SinkError> {
        self.check_outage(dest)?;
        self.inner.visible_files(dest).await
    }

    async fn check_destination(&self, dest: &str) -> Result<(), SinkError> {
        self.check_outage(dest)?;
        self.inner.check_destination(dest).await
    }

    fn release(&self, dest: &str) {
        self.inner.release(dest);
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
