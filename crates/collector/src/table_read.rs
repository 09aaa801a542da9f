//! Connects a table's real data to the partition source: the hard-linked
//! RocksDB checkpoint as a [`SnapshotCursor`], and binlog puts as rows with
//! their index-0 key ([`EntryDecoder`]), both from the table's `TableMeta`.
//!
//! The cursor reads the checkpoint in batches, re-seeking from the position
//! after each batch (the checkpoint is immutable, so this sees exactly what a
//! single pass would) and never holds a RocksDB iterator between packs.

use std::collections::VecDeque;
use std::sync::Arc;

use sync_core::point::RowKey;
use sync_core::proto::api::{LogEntry, TableMeta};
use sync_core::proto::types::CompressType;
use sync_core::row::{SchemaVersions, decompress};
use sync_core::snapshot_key::IndexLayout;

use crate::snapshot::SnapshotReader;
use crate::source::{EntryDecoder, SnapshotCursor, SnapshotOpener, SourceError};

/// Rows read from the checkpoint per seek.
const BATCH_ROWS: usize = 4096;

/// Opens cursors over one linked checkpoint.
pub struct CheckpointOpener {
    /// `None` when the partition has no snapshot (the plan never opens one).
    reader: Option<Arc<SnapshotReader>>,
    /// The effective offset of this checkpoint; other offsets are refused.
    snapshot_offset: u64,
    now_ms: u64,
}

impl CheckpointOpener {
    /// `now_ms` is the time TTL is applied at (fixed for the task's read).
    pub fn new(reader: Arc<SnapshotReader>, snapshot_offset: u64, now_ms: u64) -> Self {
        Self {
            reader: Some(reader),
            snapshot_offset,
            now_ms,
        }
    }

    /// For a partition read from the binlog only.
    pub fn without_snapshot() -> Self {
        Self {
            reader: None,
            snapshot_offset: 0,
            now_ms: 0,
        }
    }
}

impl SnapshotOpener for CheckpointOpener {
    type Cursor = CheckpointCursor;

    fn open(
        &mut self,
        snapshot_offset: u64,
        from: Option<RowKey>,
    ) -> Result<CheckpointCursor, SourceError> {
        let Some(reader) = &self.reader else {
            return Err(SourceError::Snapshot(format!(
                "the plan reads the snapshot at offset {snapshot_offset} but none is linked"
            )));
        };
        if snapshot_offset != self.snapshot_offset {
            return Err(SourceError::Snapshot(format!(
                "the plan reads the snapshot at offset {snapshot_offset} but the linked one is at {}",
                self.snapshot_offset
            )));
        }
        Ok(CheckpointCursor {
            reader: reader.clone(),
            position: from,
            buffer: VecDeque::new(),
            exhausted: false,
            now_ms: self.now_ms,
        })
    }
}

/// Rows of a checkpoint from a position.
pub struct CheckpointCursor {
    reader: Arc<SnapshotReader>,
    position: Option<RowKey>,
    buffer: VecDeque<(RowKey, Vec<u8>)>,
    exhausted: bool,
    now_ms: u64,
}

impl SnapshotCursor for CheckpointCursor {
    fn next_row(&mut self) -> Result<Option<(RowKey, Vec<u8>)>, SourceError> {
        if self.buffer.is_empty() && !self.exhausted {
            let mut iter = self.reader.iter(self.position.as_ref(), self.now_ms)?;
            for row in iter.by_ref().take(BATCH_ROWS) {
                let row = row?;
                self.buffer.push_back((row.key, row.row));
            }
            self.position = iter.next_position()?;
            self.exhausted = self.position.is_none();
        }
        Ok(self.buffer.pop_front())
    }
}

/// Turns binlog puts into rows and index-0 keys.
pub struct TableDecoder {
    schema: SchemaVersions,
    layout: IndexLayout,
    compress: CompressType,
}

impl TableDecoder {
    pub fn new(meta: &TableMeta) -> Result<Self, SourceError> {
        let schema = SchemaVersions::from_table_meta(meta)
            .map_err(|e| SourceError::Schema(format!("table schema: {e}")))?;
        let layout = IndexLayout::from_table_meta(meta)
            .map_err(|e| SourceError::Schema(format!("table indexes: {e}")))?;
        let compress = meta
            .compress_type
            .and_then(|c| CompressType::try_from(c).ok())
            .unwrap_or(CompressType::KNoCompress);
        Ok(Self {
            schema,
            layout,
            compress,
        })
    }
}

impl EntryDecoder for TableDecoder {
    fn decode(&self, entry: &LogEntry) -> Result<(RowKey, Vec<u8>), SourceError> {
        let bad = |reason: String| SourceError::BadEntry {
            log_index: entry.log_index(),
            reason,
        };
        let row = decompress(self.compress, entry.value())
            .map_err(|e| bad(e.to_string()))?
            .into_owned();
        let (_, values) = self.schema.decode(&row).map_err(|e| bad(e.to_string()))?;
        let key = self
            .layout
            .row_key(&values, entry.ts())
            .map_err(|e| bad(e.to_string()))?;
        Ok((key, row))
    }
}
