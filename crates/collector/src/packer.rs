//! Cuts a partition's stream into packs for SyncTool: up to `max_pack_size`
//! bytes of concatenated rows, except that a single row larger than that goes
//! alone (OpenMLDB's collector stalls on such a row). A pack starts at the
//! point the previous one ended; mode 1 drops rows older than `start_ts`
//! (their position still advances), and binlog deletes are skipped the same
//! way and counted ([`BuiltPack::deletes`]); mode 0 marks the pack `finished` when the
//! stream has caught up with the end of the binlog. When reading fails in
//! the middle of a pack, the rows before the failure go out as a pack of
//! their own and the error comes with the next call, so everything before a
//! corrupt record reaches SyncTool.

use sync_core::point::Point;
use sync_core::task::Mode;
use sync_infra::store::LocalStore;

use crate::source::{EntryDecoder, PartitionSource, SnapshotOpener, SourceError, SourceItem};

/// One pack, ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct BuiltPack {
    pub start: Point,
    pub next: Point,
    /// Concatenated encoded rows.
    pub rows: Vec<u8>,
    pub count: u64,
    /// Binlog deletes the pack's range passed over (skipped, not sent: the
    /// offline output is append-only).
    pub deletes: u64,
    /// Mode 0 only: the binlog end was reached; this is the last pack.
    pub finished: bool,
    /// Everything written so far has been read (wait before the next pack).
    pub caught_up: bool,
}

/// Builds consecutive packs from a partition source.
pub struct Packer<O: SnapshotOpener> {
    source: PartitionSource<O>,
    pending: Option<SourceItem>,
    /// A read error met after the rows of the last pack; returned next.
    failed: Option<SourceError>,
    point: Point,
    mode: Mode,
    start_ts: u64,
    max_pack_size: usize,
}

impl<O: SnapshotOpener> Packer<O> {
    /// Packs `source` from `start` (the point the task was assigned, echoed
    /// exactly in the first pack).
    pub fn new(
        source: PartitionSource<O>,
        start: Point,
        mode: Mode,
        start_ts: u64,
        max_pack_size: usize,
    ) -> Self {
        Self {
            source,
            pending: None,
            failed: None,
            point: start,
            mode,
            start_ts,
            max_pack_size: max_pack_size.max(1),
        }
    }

    /// Where the next pack starts.
    pub fn point(&self) -> &Point {
        &self.point
    }

    /// The next pack (possibly without rows: a heartbeat that may still move the point).
    pub fn next_pack<S: LocalStore>(
        &mut self,
        store: &S,
        decoder: &impl EntryDecoder,
    ) -> Result<BuiltPack, SourceError> {
        if let Some(err) = self.failed.take() {
            return Err(err);
        }
        let start = self.point.clone();
        let mut rows = Vec::new();
        let mut count = 0u64;
        let mut deletes = 0u64;
        let mut caught_up = false;
        loop {
            let item = match self.pending.take() {
                Some(item) => item,
                None => match self.source.next(store, decoder) {
                    Ok(Some(item)) => item,
                    Ok(None) => {
                        caught_up = true;
                        break;
                    }
                    Err(err) if self.point == start => return Err(err),
                    Err(err) => {
                        // Send what was read; the error comes next.
                        self.failed = Some(err);
                        break;
                    }
                },
            };
            match item {
                SourceItem::Skip { next } => self.point = next,
                SourceItem::Deleted { next } => {
                    deletes += 1;
                    self.point = next;
                }
                SourceItem::Row { ts, next, .. }
                    if self.mode == Mode::IncrementalByTimestamp && ts < self.start_ts =>
                {
                    self.point = next;
                }
                SourceItem::Row { row, ts, next } => {
                    if count > 0 && rows.len() + row.len() > self.max_pack_size {
                        self.pending = Some(SourceItem::Row { row, ts, next });
                        break;
                    }
                    rows.extend_from_slice(&row);
                    count += 1;
                    self.point = next;
                    if rows.len() >= self.max_pack_size {
                        break;
                    }
                }
            }
        }
        let finished = self.mode == Mode::Full && caught_up && self.source.in_binlog();
        Ok(BuiltPack {
            start,
            next: self.point.clone(),
            rows,
            count,
            deletes,
            finished,
            caught_up,
        })
    }
}
