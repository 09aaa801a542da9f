//! Turns an assignment (`AddSyncTaskRequest`) into a ready packer, given the
//! partition's paths and schema from the tablet: hard-links the binlog into
//! the work dir, chooses the snapshot, works out its effective offset,
//! applies the hand-off rule to the assigned point and opens the reading plan.
//!
//! The snapshot a point needs is served from the work dir's links whenever
//! the hand-off rule says they continue it exactly, even when the tablet has
//! deleted those files since (a newer snapshot, binlog GC): the linked
//! snapshot is tried first — except from the start, where the tablet's
//! newest snapshot is tried first (it continues the start exactly and needs
//! the least binlog). Only when it cannot continue the point (there is
//! none, or it is older than what was emitted) is the tablet's current
//! snapshot linked beside it (`snapshot.next/`), and it replaces the linked
//! one only if the hand-off rule accepts it; otherwise the old links stay and
//! the rule's reason is the error (the data the point needs is gone).

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
    #[error("preparation stopped: {0}")]
    Stopped(String),
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
    let binlog_first = parts.first_available();
    let available = |snapshot_offset: Option<u64>| Available {
        snapshot_offset,
        binlog_first: binlog_first.unwrap_or_else(|| snapshot_offset.map_or(1, |o| o + 1)),
    };

    let snapshot = match point {
        Point::Snapshot(_) => choose_snapshot(work, task, point, &decoder, ctx, &available)?,
        Point::Binlog { .. } => None,
    };
    let available = available(snapshot.as_ref().map(|(_, offset)| *offset));
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

/// An open snapshot and its effective offset.
type Opened = (Arc<SnapshotReader>, u64);

/// The snapshot to continue `point` from (see the module doc): the linked
/// one if the hand-off rule accepts it, else the tablet's current one if the
/// rule accepts that (it then replaces the linked one), else the rule's error.
/// `None` when there is no snapshot at all (the rule then decides whether
/// the binlog alone continues the point).
fn choose_snapshot<S: LocalStore>(
    work: &WorkDir<S>,
    task: &AddSyncTaskRequest,
    point: &Point,
    decoder: &TableDecoder,
    ctx: &ReadContext,
    available: &impl Fn(Option<u64>) -> Available,
) -> Result<Option<Opened>, PrepareError> {
    let (tid, pid) = (task.tid(), task.pid());
    let linked = work.linked_snapshot(tid, pid)?;
    let tablet_dir = PathBuf::from(&ctx.paths.snapshot_path);
    let tablet = work.tablet_snapshot(&tablet_dir)?;
    let same_as_linked = linked
        .as_ref()
        .is_some_and(|l| tablet.as_ref() == Some(&l.manifest));
    let tablet_differs = tablet.is_some() && !same_as_linked;
    // From the start any snapshot continues the point exactly, and the
    // tablet's newest needs the least binlog: the binlog after an older
    // linked snapshot may have been deleted while nobody was reading it.
    let mut refused: Option<PrepareError> = None;
    if point.is_start() && tablet_differs {
        match adopt_tablet_snapshot(work, tid, pid, &tablet_dir, point, decoder, ctx, available) {
            Ok(Some(opened)) => return Ok(Some(opened)),
            Ok(None) => {}
            Err(e) => refused = Some(e),
        }
    }
    if let Some(linked) = &linked {
        match open_snapshot(work, tid, pid, linked, decoder, ctx) {
            Ok(opened) => match plan_read(point, &available(Some(opened.1))) {
                Ok(_) => return Ok(Some(opened)),
                Err(e) => refused = Some(e.into()),
            },
            // Perhaps the tablet's snapshot serves; if not, this is the reason.
            Err(e) => refused = Some(e),
        }
    }
    if !tablet_differs || point.is_start() {
        return refused.map_or(Ok(None), Err);
    }
    match adopt_tablet_snapshot(work, tid, pid, &tablet_dir, point, decoder, ctx, available) {
        Ok(Some(opened)) => Ok(Some(opened)),
        Ok(None) => refused.map_or(Ok(None), Err),
        Err(e) => Err(either(refused, e)),
    }
}

/// Links the tablet's current snapshot beside the linked one (in
/// `snapshot.next/`) and adopts it if the hand-off rule accepts it for
/// `point`; `None`: the tablet has no usable snapshot.
#[allow(clippy::too_many_arguments)]
fn adopt_tablet_snapshot<S: LocalStore>(
    work: &WorkDir<S>,
    tid: u32,
    pid: u32,
    tablet_dir: &std::path::Path,
    point: &Point,
    decoder: &TableDecoder,
    ctx: &ReadContext,
    available: &impl Fn(Option<u64>) -> Available,
) -> Result<Option<Opened>, PrepareError> {
    let Some(staged) = work.stage_snapshot(tid, pid, tablet_dir)? else {
        return Ok(None);
    };
    let (reader, offset) = match open_snapshot(work, tid, pid, &staged, decoder, ctx) {
        Ok(opened) => opened,
        Err(e) => {
            discard(work, tid, pid);
            return Err(e);
        }
    };
    if let Err(e) = plan_read(point, &available(Some(offset))) {
        discard(work, tid, pid);
        return Err(e.into());
    }
    // The reader is on the staged path: reopen it where the links now live.
    drop(reader);
    let adopted = work
        .adopt_staged_snapshot(tid, pid)?
        .ok_or_else(|| PrepareError::Stopped("the staged snapshot vanished".into()))?;
    let reader = Arc::new(SnapshotReader::open(&adopted.checkpoint_dir, &ctx.meta)?);
    Ok(Some((reader, offset)))
}

/// The error to report when neither the linked nor the tablet's snapshot
/// serves: a transient one with the linked snapshot first (retrying may
/// serve it), else the tablet's.
fn either(linked: Option<PrepareError>, tablet: PrepareError) -> PrepareError {
    match linked {
        Some(l) if crate::fault::ReadFault::from(&l).is_transient() => l,
        _ => tablet,
    }
}

fn discard<S: LocalStore>(work: &WorkDir<S>, tid: u32, pid: u32) {
    if let Err(e) = work.discard_staged_snapshot(tid, pid) {
        tracing::warn!(tid, pid, "cannot remove a staged snapshot: {e}");
    }
}

/// Opens a linked (or staged) checkpoint and works out its effective offset.
fn open_snapshot<S: LocalStore>(
    work: &WorkDir<S>,
    tid: u32,
    pid: u32,
    linked: &crate::workdir::LinkedSnapshot,
    decoder: &TableDecoder,
    ctx: &ReadContext,
) -> Result<Opened, PrepareError> {
    let reader = Arc::new(SnapshotReader::open(&linked.checkpoint_dir, &ctx.meta)?);
    let offset = snapshot_effective_offset(
        work,
        &work.binlog_dir(tid, pid),
        &reader,
        decoder,
        &linked.manifest,
        ctx,
    )?;
    Ok((reader, offset))
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
