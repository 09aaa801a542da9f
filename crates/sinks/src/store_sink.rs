//! [`StoreSink`]: the [`Sink`] over the stores (local fs, HDFS, S3, memory),
//! implementing the commit protocol of the crate docs.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use sync_core::point::Point;
use sync_core::task::{CommitSegment, SegmentId, SinkProgress, StageSegment};

use crate::dest::{Location, SinkConfig, resolve};
use crate::error::SinkError;
use crate::format::{CsvOptions, OutputFormat, ParquetCompression, ParquetOptions, SegmentError};
use crate::layout::{
    STAGING_DIR, SYNC_DIR, is_visible, parse_record_dir, parse_record_name, parse_record_temp_name,
    parse_staging_name, record_dir, record_path, rejected_path, staged_files_path,
    staged_rejected_path, staged_writer, staging_part_path, staging_path, temp_path, visible_path,
};
use crate::partition::Partitioner;
use crate::partitioned::{encode_files, files_list, parse_files_list};
use crate::record::CommitRecord;
use crate::schema::TableSchema;
use crate::sink::{CommitOutcome, Sink, SinkCounters, Step};
use crate::store::{Placed, Store};
use sync_core::task::{Compression, FileFormat, TaskOptions};

/// A committed segment's record and points.
struct Committed {
    record: CommitRecord,
    start: Point,
    end: Point,
}

/// The [`Sink`] over local fs, HDFS, S3 and memory destinations. It keeps
/// one open store per destination until [`Sink::release`].
pub struct StoreSink {
    config: SinkConfig,
    stores: Mutex<HashMap<String, Arc<Store>>>,
    crash_after: Mutex<Option<Step>>,
    rows_skipped: AtomicU64,
    rows_dead_lettered: AtomicU64,
    /// Segments being encoded at once, at most one per core: encoding is CPU
    /// work, and each encoding needs memory of the order of its segment.
    encoding: tokio::sync::Semaphore,
}

impl StoreSink {
    /// A sink writing with `config`.
    pub fn new(config: SinkConfig) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        StoreSink {
            encoding: tokio::sync::Semaphore::new(cores),
            config,
            rows_skipped: AtomicU64::new(0),
            rows_dead_lettered: AtomicU64::new(0),
            stores: Mutex::new(HashMap::new()),
            crash_after: Mutex::new(None),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SinkConfig {
        &self.config
    }

    /// Fault injection: the next time `step` is reached, stop right after it
    /// and return [`SinkError::InjectedCrash`] (once).
    pub fn crash_after(&self, step: Step) {
        if let Ok(mut slot) = self.crash_after.lock() {
            *slot = Some(step);
        }
    }

    /// Every file in `dest`, hidden ones included (relative paths, sorted).
    pub async fn all_files(&self, dest: &str) -> Result<Vec<String>, SinkError> {
        self.store(dest)?.list_all().await
    }

    /// The contents of the file `path` in `dest` (`None` if absent).
    pub async fn read_file(&self, dest: &str, path: &str) -> Result<Option<Vec<u8>>, SinkError> {
        self.store(dest)?.read(path).await
    }

    /// Writes `bytes` to the file `path` in `dest`, replacing it, outside the
    /// protocol: for tests and fault injection (a file put there by hand).
    pub async fn write_file(
        &self,
        dest: &str,
        path: &str,
        bytes: Vec<u8>,
    ) -> Result<(), SinkError> {
        self.store(dest)?.write(path, bytes).await
    }

    /// Deletes the file `path` in `dest` (absent is fine), outside the
    /// protocol: for tests and fault injection (a file removed by hand).
    pub async fn delete_file(&self, dest: &str, path: &str) -> Result<(), SinkError> {
        self.store(dest)?.delete(path).await
    }

    fn store(&self, dest: &str) -> Result<Arc<Store>, SinkError> {
        let mut stores = self.stores.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(store) = stores.get(dest) {
            return Ok(store.clone());
        }
        let location = resolve(dest, &self.config)?;
        let store = Arc::new(Store::open(dest, &location, &self.config)?);
        stores.insert(dest.to_owned(), store.clone());
        Ok(store)
    }

    fn check_crash(&self, step: Step, dest: &str, id: &SegmentId) -> Result<(), SinkError> {
        let mut slot = self.crash_after.lock().unwrap_or_else(|p| p.into_inner());
        if *slot == Some(step) {
            *slot = None;
            return Err(SinkError::InjectedCrash {
                dest: dest.to_owned(),
                segment: id.name(),
                step,
            });
        }
        Ok(())
    }

    /// The record of segment `id` if the segment is committed: the record
    /// exists and, when it names a file, that file is visible.
    async fn committed_record(
        &self,
        store: &Store,
        dest: &str,
        id: &SegmentId,
    ) -> Result<Option<Committed>, SinkError> {
        let path = record_path(id);
        self.committed_at(store, dest, &path).await
    }

    async fn committed_at(
        &self,
        store: &Store,
        dest: &str,
        path: &str,
    ) -> Result<Option<Committed>, SinkError> {
        let Some(found) = self.record_at(store, dest, path).await? else {
            return Ok(None);
        };
        if let Some(file) = &found.record.file
            && !store.exists(file).await?
        {
            return Ok(None);
        }
        Ok(Some(found))
    }

    /// Whether the (uncommitted) record at `path` is this writer's own, or
    /// of a version that named no writer: only those are cleaned up.
    async fn own_record(&self, store: &Store, path: &str) -> Result<bool, SinkError> {
        Ok(match store.read(path).await? {
            None => false,
            Some(bytes) => CommitRecord::decode(&bytes).map_or(true, |(r, _, _)| {
                r.writer.is_empty() || r.writer == self.config.writer
            }),
        })
    }

    /// The record at `path`, committed or not.
    async fn record_at(
        &self,
        store: &Store,
        dest: &str,
        path: &str,
    ) -> Result<Option<Committed>, SinkError> {
        let Some(bytes) = store.read(path).await? else {
            return Ok(None);
        };
        let (record, start, end) =
            CommitRecord::decode(&bytes).map_err(|reason| SinkError::CorruptRecord {
                dest: dest.to_owned(),
                path: path.to_owned(),
                reason,
            })?;
        Ok(Some(Committed { record, start, end }))
    }

    /// Writes `bytes` to `path` so that `path` is complete or absent: via a
    /// temporary name (unique, so two writers never share one) and a rename
    /// where the store renames; a plain write on S3, whose objects appear
    /// whole.
    async fn put_whole(
        &self,
        store: &Store,
        path: &str,
        bytes: Vec<u8>,
        written: Option<(Step, &str, &SegmentId)>,
    ) -> Result<(), SinkError> {
        if !store.can_rename() {
            return store.write(path, bytes).await;
        }
        let tmp = temp_path(path);
        store.write(&tmp, bytes).await?;
        if let Some((step, dest, id)) = written {
            self.check_crash(step, dest, id)?;
        }
        store.rename(&tmp, path).await
    }

    /// Step 4 of a commit: creates the record exclusively. `Ok(true)`: this
    /// call created it; `Ok(false)`: it was there with the same contents
    /// (the same commit, e.g. retried after a crash after the record, or by
    /// another writer): carry on. Other contents: [`SinkError::CommitConflict`].
    async fn create_record(
        &self,
        store: &Store,
        seg: &CommitSegment,
        record: &CommitRecord,
    ) -> Result<bool, SinkError> {
        let dest = seg.dest.as_str();
        let path = record_path(&seg.id);
        match store.create_new(&path, record.encode()).await? {
            Placed::New => return Ok(true),
            Placed::Exists | Placed::SourceMissing => {}
        }
        let Some(found) = self.record_at(store, dest, &path).await? else {
            // Deleted between the create and the read (a concurrent
            // clean-up): transient, the retry creates it.
            return Err(SinkError::Storage {
                op: "create exclusively",
                dest: dest.to_owned(),
                path,
                source: "the record existed, then vanished; retry".into(),
            });
        };
        match found.record.differs_from(&found.start, &found.end, seg) {
            Some(what) => Err(SinkError::CommitConflict {
                dest: dest.to_owned(),
                segment: seg.id.name(),
                what,
            }),
            None => Ok(false),
        }
    }

    /// Step 5 of a commit: the staged file takes its visible name, never
    /// replacing a visible file. `created`: whether step 4 created the record.
    /// True when this call made it visible, false when an earlier attempt had.
    async fn publish(
        &self,
        store: &Store,
        seg: &CommitSegment,
        staged: &str,
        visible: &str,
        created: bool,
    ) -> Result<bool, SinkError> {
        let dest = seg.dest.as_str();
        match store.place(staged, visible).await? {
            Placed::New => {
                self.check_crash(Step::Published, dest, &seg.id)?;
                // Local fs, S3, memory: the staged name is still there.
                store.delete(staged).await?;
                Ok(true)
            }
            // The record was there with our contents and the file is
            // visible: the same commit, published by another attempt.
            Placed::Exists if !created => {
                store.delete(staged).await?;
                Ok(false)
            }
            // We created the record, yet a file is visible under its name:
            // not put there by this commit. Never replaced; this writer stops.
            Placed::Exists => Err(SinkError::CommitConflict {
                dest: dest.to_owned(),
                segment: seg.id.name(),
                what: "visible file",
            }),
            Placed::SourceMissing if !created && store.exists(visible).await? => Ok(false),
            Placed::SourceMissing => Err(SinkError::NotStaged {
                dest: dest.to_owned(),
                segment: seg.id.name(),
                path: staged.to_owned(),
            }),
        }
    }

    /// Counts (and, dead-lettering, stages) the rows a segment leaves out.
    async fn set_aside(
        &self,
        store: &Store,
        seg: &StageSegment,
        rejected: &[crate::format::Rejected],
    ) -> Result<(), SinkError> {
        let n = rejected.len() as u64;
        if self.config.bad_rows != crate::format::BadRows::DeadLetter {
            self.rows_skipped.fetch_add(n, Ordering::Relaxed);
            return Ok(());
        }
        let mut lines = String::new();
        for r in rejected {
            let line = serde_json::json!({
                "segment": seg.id.name(),
                "row": r.index,
                "reason": r.reason,
                "raw_hex": hex::encode(&r.raw),
            });
            lines.push_str(&line.to_string());
            lines.push('\n');
        }
        let path = staged_rejected_path(&seg.id, &self.config.writer);
        self.put_whole(store, &path, lines.into_bytes(), None)
            .await?;
        self.rows_dead_lettered.fetch_add(n, Ordering::Relaxed);
        Ok(())
    }

    /// Publishes the rows a committed segment set aside, if it staged any.
    async fn publish_rejected(&self, store: &Store, id: &SegmentId) -> Result<(), SinkError> {
        let staged = staged_rejected_path(id, &self.config.writer);
        match store.place(&staged, &rejected_path(id)).await? {
            Placed::New | Placed::Exists => store.delete(&staged).await,
            Placed::SourceMissing => Ok(()),
        }
    }

    /// The format a segment is written in: its task's options over this
    /// sink's settings (timestamps, line ends, UTF-8 policy, row groups);
    /// without options, the sink's own format.
    fn output_format(&self, options: Option<&TaskOptions>) -> OutputFormat {
        let Some(o) = options else {
            return self.config.format.clone();
        };
        match o.format {
            FileFormat::Csv => {
                let base = match &self.config.format {
                    OutputFormat::Csv(c) => c.clone(),
                    OutputFormat::Parquet(_) => CsvOptions::default(),
                };
                OutputFormat::Csv(CsvOptions {
                    header: o.csv_header,
                    null: o.csv_null.clone(),
                    ..base
                })
            }
            FileFormat::Parquet => {
                let base = match &self.config.format {
                    OutputFormat::Parquet(p) => p.clone(),
                    OutputFormat::Csv(_) => ParquetOptions::default(),
                };
                OutputFormat::Parquet(ParquetOptions {
                    compression: match o.compression {
                        Compression::None => ParquetCompression::Uncompressed,
                        Compression::Snappy => ParquetCompression::Snappy,
                        Compression::Zstd => ParquetCompression::Zstd,
                    },
                    ..base
                })
            }
        }
    }

    /// Whether a segment's task writes partitioned output.
    fn partitioned(options: Option<&TaskOptions>) -> bool {
        options.is_some_and(|o| o.partition_by.is_some())
    }

    /// Publishes a further file of a partitioned segment (after its first,
    /// which committed it), never replacing: a file already visible under
    /// the name is this segment's, published by an earlier attempt.
    async fn publish_more(
        &self,
        store: &Store,
        dest: &str,
        id: &SegmentId,
        staged: &str,
        visible: &str,
    ) -> Result<(), SinkError> {
        match store.place(staged, visible).await? {
            Placed::New | Placed::Exists => store.delete(staged).await,
            Placed::SourceMissing if store.exists(visible).await? => Ok(()),
            Placed::SourceMissing => Err(SinkError::CorruptRecord {
                dest: dest.to_owned(),
                path: record_path(id),
                reason: format!(
                    "{visible}, a file of the committed segment {}, is neither visible nor staged at {staged}",
                    id.name()
                ),
            }),
        }
    }

    /// Finishes a committed partitioned segment whose further files a crash
    /// left staged (its first file, the commit, is visible): publishes each
    /// file its record names that is not visible yet. Only this writer's.
    async fn roll_forward(
        &self,
        store: &Store,
        dest: &str,
        done: &Committed,
    ) -> Result<(), SinkError> {
        let r = &done.record;
        if r.more_files.is_empty() || r.writer != self.config.writer {
            return Ok(());
        }
        let id = SegmentId {
            tid: r.tid,
            pid: r.pid,
            task_id: r.task_id,
            seq: r.seq,
        };
        let ext = r
            .file
            .as_deref()
            .and_then(|f| f.rsplit_once('.'))
            .map_or("", |(_, ext)| ext);
        for (i, visible) in r.more_files.iter().enumerate() {
            if store.exists(visible).await? {
                continue;
            }
            let staged = staging_part_path(&id, i + 1, ext, &self.config.writer);
            self.publish_more(store, dest, &id, &staged, visible)
                .await?;
        }
        Ok(())
    }

    /// Deletes what staging of a committed segment may have left.
    async fn delete_staged(
        &self,
        store: &Store,
        id: &SegmentId,
        options: Option<&TaskOptions>,
        files: usize,
        ext: &str,
    ) -> Result<(), SinkError> {
        if !Self::partitioned(options) {
            return store
                .delete(&staging_path(id, ext, &self.config.writer))
                .await;
        }
        for k in 0..files {
            store
                .delete(&staging_part_path(id, k, ext, &self.config.writer))
                .await?;
        }
        store
            .delete(&staged_files_path(id, &self.config.writer))
            .await
    }

    /// A fresh store of `dest` for a check (not cached).
    fn open_uncached(&self, dest: &str) -> Result<(Location, Store), SinkError> {
        let location = resolve(dest, &self.config)?;
        let store = Store::open(dest, &location, &self.config)?;
        Ok((location, store))
    }

    fn segment_error(
        dest: &str,
        id: &SegmentId,
        e: SegmentError,
        format: &'static str,
    ) -> SinkError {
        match e {
            SegmentError::Row { index, source } => SinkError::Row {
                dest: dest.to_owned(),
                segment: id.name(),
                index,
                source,
            },
            SegmentError::RowCount { expected, found } => SinkError::RowCount {
                dest: dest.to_owned(),
                segment: id.name(),
                expected,
                found,
            },
            SegmentError::Encode(reason) => SinkError::Encode {
                dest: dest.to_owned(),
                segment: id.name(),
                format,
                reason,
            },
        }
    }
}

#[async_trait::async_trait]
impl Sink for StoreSink {
    async fn stage(&self, seg: &StageSegment, schema: &TableSchema) -> Result<(), SinkError> {
        let store = self.store(&seg.dest)?;
        if self
            .committed_record(&store, &seg.dest, &seg.id)
            .await?
            .is_some()
        {
            return Ok(());
        }
        let options = seg.options.as_deref();
        let mut format = self.output_format(options);
        let name = format.name();
        let partitioner = match options.and_then(|o| o.partition_by.as_ref().map(|p| (p, o))) {
            Some((p, o)) => Some(Partitioner::new(p, &o.time_zone, schema).map_err(|e| {
                Self::segment_error(
                    &seg.dest,
                    &seg.id,
                    SegmentError::Encode(e.to_string()),
                    name,
                )
            })?),
            None => None,
        };
        let omit = partitioner.as_ref().and_then(Partitioner::omitted_column);
        match &mut format {
            OutputFormat::Csv(c) => c.omit_column = omit,
            OutputFormat::Parquet(p) => p.omit_column = omit,
        }
        let ext = format.extension();
        // Encoding is CPU work (a Parquet segment can take seconds): off the
        // async threads, so other partitions' packs keep flowing meanwhile.
        let bad_rows = self.config.bad_rows;
        let (table, rows, row_count) = (schema.clone(), seg.rows.clone(), seg.row_count);
        // Never closed: the sink owns it.
        let slot = self.encoding.acquire().await.ok();
        let encoded = self
            .config
            .offload
            .run(move || {
                encode_files(
                    &format,
                    partitioner.as_ref(),
                    &table,
                    &rows,
                    row_count,
                    bad_rows,
                )
            })
            .await
            .map_err(|e| {
                Self::segment_error(
                    &seg.dest,
                    &seg.id,
                    SegmentError::Encode(format!("the encoder stopped: {e}")),
                    name,
                )
            })?
            .map_err(|e| Self::segment_error(&seg.dest, &seg.id, e, name))?;
        drop(slot);
        if !encoded.rejected.is_empty() {
            self.set_aside(&store, seg, &encoded.rejected).await?;
        }
        if seg.row_count == 0 {
            // Nothing to show: the commit record alone commits the segment.
            return self.check_crash(Step::Staged, &seg.dest, &seg.id);
        }
        let writer = &self.config.writer;
        if !Self::partitioned(options) {
            let path = staging_path(&seg.id, ext, writer);
            let bytes = encoded
                .files
                .into_iter()
                .next()
                .map(|(_, b)| b)
                .unwrap_or_default();
            self.put_whole(
                &store,
                &path,
                bytes,
                Some((Step::StageWritten, &seg.dest, &seg.id)),
            )
            .await?;
            return self.check_crash(Step::Staged, &seg.dest, &seg.id);
        }
        // Partitioned: each file, then the list of their visible names; the
        // commit finds the segment staged only once the list is there.
        let list = files_list(&seg.id, &encoded, ext);
        for (k, (_, bytes)) in encoded.files.into_iter().enumerate() {
            let path = staging_part_path(&seg.id, k, ext, writer);
            self.put_whole(
                &store,
                &path,
                bytes,
                Some((Step::StageWritten, &seg.dest, &seg.id)),
            )
            .await?;
        }
        self.put_whole(
            &store,
            &staged_files_path(&seg.id, writer),
            list.into_bytes(),
            None,
        )
        .await?;
        self.check_crash(Step::Staged, &seg.dest, &seg.id)
    }

    async fn commit(&self, seg: &CommitSegment) -> Result<CommitOutcome, SinkError> {
        let dest = seg.dest.as_str();
        let store = self.store(dest)?;
        let options = seg.options.as_deref();
        let ext = self.output_format(options).extension();
        let writer = &self.config.writer;

        // 1. Already committed? Then the same commit is a no-op, once every
        // file it names is visible.
        if let Some(done) = self.committed_record(&store, dest, &seg.id).await? {
            if let Some(what) = done.record.differs_from(&done.start, &done.end, seg) {
                return Err(SinkError::CommitConflict {
                    dest: dest.to_owned(),
                    segment: seg.id.name(),
                    what,
                });
            }
            self.roll_forward(&store, dest, &done).await?;
            // A crash between publishing and deleting the staged name
            // (copy or link) may have left it.
            let files = done.record.file.iter().count() + done.record.more_files.len();
            self.delete_staged(&store, &seg.id, options, files.max(1), ext)
                .await?;
            return Ok(CommitOutcome::AlreadyCommitted {
                files: files as u64,
            });
        }

        // 2. The previous segment must be committed and end where this starts.
        if seg.id.seq > 0 {
            let prev = SegmentId {
                seq: seg.id.seq - 1,
                ..seg.id
            };
            let prev = self.committed_record(&store, dest, &prev).await?;
            if prev.as_ref().map(|p| &p.end) != Some(&seg.start) {
                return Err(SinkError::StartMismatch {
                    dest: dest.to_owned(),
                    segment: seg.id.name(),
                    start: Box::new(seg.start.clone()),
                    previous_end: prev.map(|p| Box::new(p.end)),
                });
            }
        }

        // 3. A segment with rows must be staged: its file, or a partitioned
        // segment's list of files (written after them).
        let (staged, visible): (Vec<String>, Vec<String>) = if seg.row_count == 0 {
            (Vec::new(), Vec::new())
        } else if Self::partitioned(options) {
            let list = staged_files_path(&seg.id, writer);
            let Some(bytes) = store.read(&list).await? else {
                return Err(SinkError::NotStaged {
                    dest: dest.to_owned(),
                    segment: seg.id.name(),
                    path: list,
                });
            };
            let visible = parse_files_list(&bytes);
            let staged = (0..visible.len())
                .map(|k| staging_part_path(&seg.id, k, ext, writer))
                .collect();
            (staged, visible)
        } else {
            let staged = staging_path(&seg.id, ext, writer);
            if !store.exists(&staged).await? {
                return Err(SinkError::NotStaged {
                    dest: dest.to_owned(),
                    segment: seg.id.name(),
                    path: staged,
                });
            }
            (vec![staged], vec![visible_path(&seg.id, ext)])
        };

        // 4. The record (hidden), created exclusively. For a segment without
        // rows this is the commit.
        let mut record = CommitRecord::new(seg, writer, visible.first().cloned());
        record.more_files = visible.iter().skip(1).cloned().collect();
        let created = self.create_record(&store, seg, &record).await?;
        self.check_crash(Step::RecordWritten, dest, &seg.id)?;

        // 5. The atomic step: the (first) staged file takes its visible name.
        let newly = match (staged.first(), visible.first()) {
            (Some(staged), Some(visible)) => {
                self.publish(&store, seg, staged, visible, created).await?
            }
            // No rows: the record is the commit; found equal, another
            // writer made it.
            _ => created,
        };
        let files = visible.len() as u64;
        let outcome = if newly {
            CommitOutcome::Committed { files }
        } else {
            CommitOutcome::AlreadyCommitted { files }
        };
        // A partitioned segment's other files (recovery finishes them if a
        // crash comes first: the segment is committed already).
        for (staged, visible) in staged.iter().zip(&visible).skip(1) {
            self.publish_more(&store, dest, &seg.id, staged, visible)
                .await?;
        }
        if Self::partitioned(options) && !visible.is_empty() {
            store.delete(&staged_files_path(&seg.id, writer)).await?;
        }
        self.publish_rejected(&store, &seg.id).await?;
        self.check_crash(Step::Committed, dest, &seg.id)?;
        Ok(outcome)
    }

    async fn clear_staging(
        &self,
        tid: u32,
        pid: u32,
        task_id: u64,
        dest: &str,
        from_seq: u64,
    ) -> Result<(), SinkError> {
        let store = self.store(dest)?;
        let staged = store.list(STAGING_DIR).await?;
        // Committed partitioned segments a crash left half published: their
        // remaining files are published before any leftover is removed.
        let mut seqs: Vec<u64> = staged
            .iter()
            .filter(|n| staged_writer(n) == Some(self.config.writer.as_str()))
            .filter_map(|n| parse_staging_name(n))
            .filter(|id| (id.tid, id.pid, id.task_id) == (tid, pid, task_id))
            .map(|id| id.seq)
            .collect();
        seqs.sort_unstable();
        seqs.dedup();
        for seq in seqs {
            let id = SegmentId {
                tid,
                pid,
                task_id,
                seq,
            };
            if let Some(done) = self.committed_record(&store, dest, &id).await? {
                self.roll_forward(&store, dest, &done).await?;
            }
        }
        for name in staged {
            let Some(id) = parse_staging_name(&name) else {
                continue;
            };
            if (id.tid, id.pid, id.task_id) != (tid, pid, task_id) {
                continue;
            }
            // Only this writer's own files: another SyncTool's are its own business.
            if staged_writer(&name).is_some_and(|w| w != self.config.writer) {
                continue;
            }
            // From `from_seq` on: uncommitted leftovers. Before it: what a
            // crash between the S3 copy and the delete left of a committed
            // segment (deleted only once the segment is known committed).
            if id.seq >= from_seq || self.committed_record(&store, dest, &id).await?.is_some() {
                store.delete(&format!("{STAGING_DIR}{name}")).await?;
            }
        }
        let dir = record_dir(tid, pid, task_id);
        for name in store.list(&dir).await? {
            let path = format!("{dir}{name}");
            if let Some(seq) = parse_record_temp_name(&name) {
                // A record's temporary: from `from_seq` on, or of a segment
                // whose record is committed (a crash after the link).
                let id = SegmentId {
                    tid,
                    pid,
                    task_id,
                    seq,
                };
                if seq >= from_seq || self.committed_record(&store, dest, &id).await?.is_some() {
                    store.delete(&path).await?;
                }
            } else if let Some(seq) = parse_record_name(&name)
                && seq >= from_seq
                && self.committed_at(&store, dest, &path).await?.is_none()
                && self.own_record(&store, &path).await?
            {
                store.delete(&path).await?;
            }
        }
        Ok(())
    }

    async fn committed(
        &self,
        dest: &str,
        tid: Option<u32>,
    ) -> Result<Vec<SinkProgress>, SinkError> {
        let store = self.store(dest)?;
        let mut out = Vec::new();
        for dir in store.list(SYNC_DIR).await? {
            let Some((t, p, task)) = parse_record_dir(&dir) else {
                continue;
            };
            if tid.is_some_and(|want| want != t) {
                continue;
            }
            let dir = format!("{SYNC_DIR}{}/", dir.trim_end_matches('/'));
            let mut seqs: Vec<u64> = store
                .list(&dir)
                .await?
                .iter()
                .filter_map(|n| parse_record_name(n))
                .collect();
            seqs.sort_unstable_by(|a, b| b.cmp(a));
            for seq in seqs {
                let path = record_path(&SegmentId {
                    tid: t,
                    pid: p,
                    task_id: task,
                    seq,
                });
                if let Some(done) = self.committed_at(&store, dest, &path).await? {
                    // Only the newest commit can be half published (a
                    // crash between a partitioned segment's files): it is
                    // finished here, for every part, running or not.
                    self.roll_forward(&store, dest, &done).await?;
                    out.push(done.record.progress(done.end));
                    break;
                }
            }
        }
        out.sort_by_key(|p| (p.tid, p.pid, p.task_id));
        Ok(out)
    }

    async fn visible_files(&self, dest: &str) -> Result<Vec<String>, SinkError> {
        let files = self.store(dest)?.list_all().await?;
        Ok(files.into_iter().filter(|f| is_visible(f)).collect())
    }

    async fn check_destination(&self, dest: &str) -> Result<(), SinkError> {
        let (location, store) = self.open_uncached(dest)?;
        let timeout = self.config.check_timeout;
        match tokio::time::timeout(timeout, store.check()).await {
            Ok(result) => result,
            Err(_) => {
                let what = match &location {
                    Location::Hdfs { name_node, .. } => {
                        format!("cannot connect to the NameNode {name_node}")
                    }
                    Location::S3 { bucket, .. } => format!("cannot reach the bucket {bucket}"),
                    Location::Local(_) | Location::Memory { .. } => {
                        "the filesystem does not answer".to_owned()
                    }
                };
                Err(SinkError::Unusable {
                    dest: dest.to_owned(),
                    reason: format!("{what}: no answer within {timeout:?}"),
                })
            }
        }
    }

    fn counters(&self) -> SinkCounters {
        SinkCounters {
            rows_skipped: self.rows_skipped.load(Ordering::Relaxed),
            rows_dead_lettered: self.rows_dead_lettered.load(Ordering::Relaxed),
        }
    }

    fn release(&self, dest: &str) {
        let mut stores = self.stores.lock().unwrap_or_else(|p| p.into_inner());
        stores.remove(dest);
    }
}
