//! Turns an assignment (`AddSyncTaskRequest`) into a ready packer: asks the
//! tablet for the partition's paths and schema, hard-links its snapshot and
//! binlog into the work dir, works out the snapshot's effective offset, applies
//! the hand-off rule to the assigned point and opens the reading plan.
//!
//! An assignment that cannot be continued exactly (the data it needs is gone,
//! or the only snapshot is older than the committed state) is refused with
//! the hand-off rule's reason; SyncTool then tries another collector or marks
//! the part FAILED with that reason.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use sync_core::point::{Available, Point, PointError, RowKey, effective_offset, plan_read};
use sync_core::proto::api::TableMeta;
use sync_core::proto::datasync::{AddSyncTaskRequest, SyncPoint};
use sync_core::task::Mode;
use sync_infra::store::LocalStore;

use crate::packer::Packer;
use crate::snapshot::SnapshotReader;
use crate::source::{EntryDecoder, PartitionSource, SourceError};
use crate::table_read::{CheckpointOpener, TableDecoder};
use crate::tablet_client::DiskTablePaths;
use crate::tailer::BinlogTailer;
use crate::workdir::{WorkDir, WorkDirError};

/// Binlog entries after a MANIFEST offset checked against the snapshot.
const OVERLAP_WINDOW: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error("bad sync point: {0}")]
    Point(#[from] PointError),
    #[error("unknown sync mode {0}")]
    Mode(i32),
    #[error(transparent)]
    WorkDir(#[from] WorkDirError),
    #[error("cannot continue from the assigned point: {0}")]
    HandOff(#[from] sync_core::point::HandOffError),
    #[error("snapshot: {0}")]
    Snapshot(#[from] crate::snapshot::SnapshotError),
    #[error(transparent)]
    Source(#[from] SourceError),
}

/// What reading a partition needs besides the assignment.
#[derive(Debug, Clone)]
pub struct ReadContext {
    pub meta: TableMeta,
    pub paths: DiskTablePaths,
    pub max_pack_size: usize,
    pub verify_crc: bool,
    /// The time TTL is applied at.
    pub now_ms: u64,
}

/// A partition ready to be read from the assigned point.
pub struct Prepared {
    pub packer: Packer<CheckpointOpener>,
    pub decoder: TableDecoder,
    pub point: Point,
}

/// The assigned point (`None` = the start, as OpenMLDB's first assignment).
pub fn assigned_point(task: &AddSyncTaskRequest) -> Result<Point, PointError> {
    match &task.sync_point {
        Some(point) => Point::from_proto(point),
        None => Point::from_proto(&SyncPoint::default()),
    }
}

/// Links the data and builds the packer for `task` from `point`.
pub fn prepare<S: LocalStore>(
    work: &WorkDir<S>,
    task: &AddSyncTaskRequest,
    point: &Point,
    ctx: &ReadContext,
) -> Result<Prepared, PrepareError> {
    let (tid, pid) = (task.tid(), task.pid());
    let raw_mode = task.mode.unwrap_or_default();
    let mode = Mode::from_i32(raw_mode).map_err(|_| PrepareError::Mode(raw_mode))?;
    let decoder = TableDecoder::new(&ctx.meta)?;
    work.link_new_binlogs(tid, pid, &PathBuf::from(&ctx.paths.binlog_path))?;
    let binlog_dir = work.binlog_dir(tid, pid);
    let mut parts = BinlogTailer::new(binlog_dir.clone(), 1, ctx.verify_crc);
    parts.refresh(work.store()).map_err(SourceError::from)?;

    let needs_snapshot = matches!(point, Point::Snapshot(_));
    let snapshot = if needs_snapshot {
        match work.link_snapshot(tid, pid, &PathBuf::from(&ctx.paths.snapshot_path))? {
            Some(linked) => {
                let reader = Arc::new(SnapshotReader::open(&linked.checkpoint_dir, &ctx.meta)?);
                let offset = snapshot_effective_offset(
                    work,
                    &binlog_dir,
                    &reader,
                    &decoder,
                    &linked.manifest,
                    ctx,
                )?;
                Some((reader, offset))
            }
            None => None,
        }
    } else {
        None
    };
    let snapshot_offset = snapshot.as_ref().map(|(_, offset)| *offset);
    let available = Available {
        snapshot_offset,
        binlog_first: parts
            .first_available()
            .unwrap_or_else(|| snapshot_offset.map_or(1, |o| o + 1)),
    };
    let plan = plan_read(point, &available)?;
    let opener = match snapshot {
        Some((reader, offset)) => CheckpointOpener::new(reader, offset, ctx.now_ms),
        None => CheckpointOpener::without_snapshot(),
    };
    let source = PartitionSource::new(&plan, binlog_dir, ctx.verify_crc, opener)?;
    let start_ts = task.start_ts.unwrap_or(0);
    Ok(Prepared {
        packer: Packer::new(source, point.clone(), mode, start_ts, ctx.max_pack_size),
        decoder,
        point: point.clone(),
    })
}

/// The largest log index after the MANIFEST offset whose put the checkpoint
/// already holds (OpenMLDB reads the offset before taking the checkpoint).
fn snapshot_effective_offset<S: LocalStore>(
    work: &WorkDir<S>,
    binlog_dir: &std::path::Path,
    reader: &SnapshotReader,
    decoder: &TableDecoder,
    manifest: &sync_core::proto::api::Manifest,
    ctx: &ReadContext,
) -> Result<u64, PrepareError> {
    let manifest_offset = manifest.offset();
    let mut tailer = BinlogTailer::new(
        binlog_dir.to_path_buf(),
        manifest_offset + 1,
        ctx.verify_crc,
    );
    tailer.refresh(work.store()).map_err(SourceError::from)?;
    let mut entries: Vec<(u64, RowKey, Vec<u8>)> = Vec::new();
    while entries.len() < OVERLAP_WINDOW {
        let Some(tailed) = tailer.next(work.store()).map_err(SourceError::from)? else {
            break;
        };
        if tailed.entry.method_type() == sync_core::proto::api::MethodType::KDelete {
            continue;
        }
        let (key, row) = decoder.decode(&tailed.entry)?;
        entries.push((tailed.entry.log_index(), key, row));
    }
    let mut held: HashMap<RowKey, Vec<u8>> = HashMap::new();
    for (_, key, _) in &entries {
        if held.contains_key(key) {
            continue;
        }
        let found = reader.iter(Some(key), ctx.now_ms)?.next().transpose()?;
        if let Some(row) = found.filter(|row| &row.key == key) {
            held.insert(key.clone(), row.row);
        }
    }
    Ok(effective_offset(
        manifest_offset,
        entries
            .iter()
            .map(|(index, key, row)| (*index, key, row.as_slice())),
        |key| held.get(key).map(Vec::as_slice),
    ))
}
