//! The rows of one partition task in stream order, following the hand-off
//! rule's [`ReadPlan`] (see `sync_core::point`): an optional binlog catch-up
//! for keys below the committed key, the snapshot from a key, then the binlog
//! from the snapshot's effective offset + 1. Every item carries the point right
//! after it, so a pack can end after any item.
//!
//! Binlog deletes advance the point without a row ([`SourceItem::Deleted`]:
//! the offline output is an append-only copy of the puts, as in OpenMLDB, so
//! a delete is skipped and counted, never mirrored); so do (in mode 1) rows
//! older than `start_ts`. The snapshot is read through [`SnapshotCursor`] and binlog
//! entries are turned into rows by [`EntryDecoder`], so this module does no
//! RocksDB or row-codec work itself.

use std::path::PathBuf;

use sync_core::point::{Point, ReadPlan, RowKey};
use sync_core::proto::api::{LogEntry, MethodType};
use sync_infra::store::LocalStore;

use sync_core::binlog::binlog_file_name;

use crate::tailer::{BinlogTailer, TailError, TailedEntry};

/// Why the source cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Binlog(#[from] TailError),
    #[error("snapshot: {0}")]
    Snapshot(String),
    #[error(transparent)]
    Checkpoint(#[from] crate::snapshot::SnapshotError),
    #[error("{0}")]
    Schema(String),
    #[error("binlog entry {log_index}: {reason}")]
    BadEntry { log_index: u64, reason: String },
    #[error("binlog {path} is corrupt at byte {offset}: entry {log_index}: {reason}")]
    BadRecord {
        path: PathBuf,
        offset: u64,
        log_index: u64,
        reason: String,
    },
}

/// Rows of a snapshot in iteration order from a position.
pub trait SnapshotCursor {
    /// The next row: its index-0 key and the row bytes, uncompressed.
    fn next_row(&mut self) -> Result<Option<(RowKey, Vec<u8>)>, SourceError>;
}

/// What a put entry is as a row.
pub trait EntryDecoder {
    /// The entry's index-0 key, the ts mode 1 filters on, and the row bytes (uncompressed).
    fn decode(&self, entry: &LogEntry) -> Result<(RowKey, Vec<u8>), SourceError>;
}

/// One step of the stream.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceItem {
    /// A row to send; `ts` is its index-0 ts.
    Row { row: Vec<u8>, ts: u64, next: Point },
    /// Position moves on without a row (an empty snapshot, or a catch-up
    /// entry the snapshot holds).
    Skip { next: Point },
    /// A binlog delete: skipped (the output is append-only), position moves on.
    Deleted { next: Point },
}

enum Phase<C> {
    CatchUp {
        target: u64,
        below: RowKey,
    },
    Snapshot {
        offset: u64,
        cursor: C,
        lookahead: Option<(RowKey, Vec<u8>)>,
    },
    Binlog,
}

/// Opens the snapshot with the given effective offset at a key (inclusive;
/// `None` = its start).
pub trait SnapshotOpener {
    type Cursor: SnapshotCursor;
    fn open(
        &mut self,
        snapshot_offset: u64,
        from: Option<RowKey>,
    ) -> Result<Self::Cursor, SourceError>;
}

/// The stream of one partition task.
pub struct PartitionSource<O: SnapshotOpener> {
    phase: Phase<O::Cursor>,
    opener: O,
    tailer: BinlogTailer,
    binlog_dir: PathBuf,
    verify_crc: bool,
}

impl<O: SnapshotOpener> PartitionSource<O> {
    /// A source that follows `plan`, reading the hard-linked binlog in `binlog_dir`.
    pub fn new(
        plan: &ReadPlan,
        binlog_dir: PathBuf,
        verify_crc: bool,
        mut opener: O,
    ) -> Result<Self, SourceError> {
        let (phase, binlog_from) = match plan {
            ReadPlan::Binlog { from } => (Phase::Binlog, *from),
            ReadPlan::CatchUp {
                snapshot_offset,
                below,
                from,
            } => (
                Phase::CatchUp {
                    target: *snapshot_offset,
                    below: below.clone(),
                },
                *from,
            ),
            ReadPlan::Snapshot {
                snapshot_offset,
                from,
            } => (
                Phase::Snapshot {
                    offset: *snapshot_offset,
                    cursor: opener.open(*snapshot_offset, from.clone())?,
                    lookahead: None,
                },
                snapshot_offset.saturating_add(1),
            ),
        };
        Ok(Self {
            phase,
            opener,
            tailer: BinlogTailer::new(binlog_dir.clone(), binlog_from, verify_crc),
            binlog_dir,
            verify_crc,
        })
    }

    /// Whether the stream has reached the binlog (mode 0 finishes when it catches up there).
    pub fn in_binlog(&self) -> bool {
        matches!(self.phase, Phase::Binlog)
    }

    /// The next item, or `None` when everything written so far has been read.
    pub fn next<S: LocalStore>(
        &mut self,
        store: &S,
        decoder: &impl EntryDecoder,
    ) -> Result<Option<SourceItem>, SourceError> {
        loop {
            match &mut self.phase {
                Phase::CatchUp { target, below } => {
                    let (target, below) = (*target, below.clone());
                    if self.tailer.next_index() > target {
                        let cursor = self.opener.open(target, Some(below))?;
                        self.phase = Phase::Snapshot {
                            offset: target,
                            cursor,
                            lookahead: None,
                        };
                        self.tailer =
                            BinlogTailer::new(self.binlog_dir.clone(), target + 1, self.verify_crc);
                        continue;
                    }
                    let Some(tailed) = self.next_entry(store)? else {
                        return Ok(None);
                    };
                    let next =
                        Point::catching_up(target, below.clone(), tailed.entry.log_index() + 1);
                    if is_delete(&tailed.entry) {
                        return Ok(Some(SourceItem::Deleted { next }));
                    }
                    let (key, row) = self.decode(decoder, &tailed)?;
                    return Ok(Some(if key < below {
                        SourceItem::Row {
                            row,
                            ts: key.ts,
                            next,
                        }
                    } else {
                        // The snapshot being caught up to holds this put already.
                        SourceItem::Skip { next }
                    }));
                }
                Phase::Snapshot {
                    offset,
                    cursor,
                    lookahead,
                } => {
                    let offset = *offset;
                    let current = match lookahead.take() {
                        Some(row) => Some(row),
                        None => cursor.next_row()?,
                    };
                    let Some((key, row)) = current else {
                        // An empty snapshot: switch to the binlog.
                        self.phase = Phase::Binlog;
                        return Ok(Some(SourceItem::Skip {
                            next: Point::after_snapshot(offset),
                        }));
                    };
                    let next = match cursor.next_row()? {
                        Some(following) => {
                            let next = Point::in_snapshot(offset, Some(following.0.clone()));
                            *lookahead = Some(following);
                            next
                        }
                        None => {
                            self.phase = Phase::Binlog;
                            Point::after_snapshot(offset)
                        }
                    };
                    return Ok(Some(SourceItem::Row {
                        row,
                        ts: key.ts,
                        next,
                    }));
                }
                Phase::Binlog => {
                    let Some(tailed) = self.next_entry(store)? else {
                        return Ok(None);
                    };
                    let next = Point::Binlog {
                        offset: tailed.entry.log_index() + 1,
                    };
                    if is_delete(&tailed.entry) {
                        return Ok(Some(SourceItem::Deleted { next }));
                    }
                    let (key, row) = self.decode(decoder, &tailed)?;
                    return Ok(Some(SourceItem::Row {
                        row,
                        ts: key.ts,
                        next,
                    }));
                }
            }
        }
    }

    /// The next binlog entry. On reaching the end of the indexed files the
    /// binlog dir is rescanned once, so files linked since (and a new
    /// tailer's files) are read without the caller having to ask.
    fn next_entry<S: LocalStore>(&mut self, store: &S) -> Result<Option<TailedEntry>, SourceError> {
        if let Some(tailed) = self.tailer.next(store)? {
            return Ok(Some(tailed));
        }
        self.tailer.refresh(store)?;
        Ok(self.tailer.next(store)?)
    }

    /// Decodes a put; a bad entry is reported with its file and byte offset.
    fn decode(
        &self,
        decoder: &impl EntryDecoder,
        tailed: &TailedEntry,
    ) -> Result<(RowKey, Vec<u8>), SourceError> {
        decoder.decode(&tailed.entry).map_err(|e| match e {
            SourceError::BadEntry { log_index, reason } => SourceError::BadRecord {
                path: self.binlog_dir.join(binlog_file_name(tailed.file_index)),
                offset: tailed.start,
                log_index,
                reason,
            },
            other => other,
        })
    }
}

fn is_delete(entry: &LogEntry) -> bool {
    entry.method_type() == MethodType::KDelete
}
