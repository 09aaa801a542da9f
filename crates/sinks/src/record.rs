//! The commit record: a small protobuf message per committed segment, at
//! [`crate::layout::record_path`]. It carries the segment's start and end
//! points (lossless, pk as bytes: `sync_core`'s `PersistedPoint`), its row
//! counts and the name of its visible file (none for a segment without rows,
//! whose record alone is its commit).

use sync_core::point::Point;
use sync_core::task::recovery::PersistedPoint;
use sync_core::task::{CommitSegment, SinkProgress};

/// The record's format version.
pub const RECORD_VERSION: u32 = 1;

/// What a commit record holds (protobuf).
#[derive(Clone, PartialEq, prost::Message)]
pub struct CommitRecord {
    /// [`RECORD_VERSION`].
    #[prost(uint32, tag = "1")]
    pub version: u32,
    /// Table id.
    #[prost(uint32, tag = "2")]
    pub tid: u32,
    /// Partition id.
    #[prost(uint32, tag = "3")]
    pub pid: u32,
    /// Table task id.
    #[prost(uint64, tag = "4")]
    pub task_id: u64,
    /// The segment's seq.
    #[prost(uint64, tag = "5")]
    pub seq: u64,
    /// The committed point before the segment.
    #[prost(message, optional, tag = "6")]
    pub start: Option<PersistedPoint>,
    /// The committed point after it.
    #[prost(message, optional, tag = "7")]
    pub end: Option<PersistedPoint>,
    /// Rows in the segment.
    #[prost(uint64, tag = "8")]
    pub row_count: u64,
    /// Rows committed in the partition task up to and including it.
    #[prost(uint64, tag = "9")]
    pub rows_total: u64,
    /// The visible file, relative to the destination; absent when the
    /// segment has no rows.
    #[prost(string, optional, tag = "10")]
    pub file: Option<String>,
}

impl CommitRecord {
    /// The record of `seg`, whose visible file is `file`.
    pub fn new(seg: &CommitSegment, file: Option<String>) -> Self {
        CommitRecord {
            version: RECORD_VERSION,
            tid: seg.id.tid,
            pid: seg.id.pid,
            task_id: seg.id.task_id,
            seq: seg.id.seq,
            start: Some(PersistedPoint::from(&seg.start)),
            end: Some(PersistedPoint::from(&seg.end)),
            row_count: seg.row_count,
            rows_total: seg.rows_total,
            file,
        }
    }

    /// Decodes and checks a record read from `path`.
    pub fn decode(bytes: &[u8]) -> Result<(Self, Point, Point), String> {
        let rec = <CommitRecord as prost::Message>::decode(bytes).map_err(|e| e.to_string())?;
        if rec.version != RECORD_VERSION {
            return Err(format!("unknown record version {}", rec.version));
        }
        let point = |p: &Option<PersistedPoint>, which: &str| -> Result<Point, String> {
            let p = p.as_ref().ok_or_else(|| format!("no {which} point"))?;
            Point::try_from(p).map_err(|e| format!("{which} point: {e}"))
        };
        let start = point(&rec.start, "start")?;
        let end = point(&rec.end, "end")?;
        Ok((rec, start, end))
    }

    /// The progress this record reports.
    pub fn progress(&self, end: Point) -> SinkProgress {
        SinkProgress {
            tid: self.tid,
            pid: self.pid,
            task_id: self.task_id,
            last_seq: self.seq,
            end,
            rows_total: self.rows_total,
        }
    }

    /// The encoded record.
    pub fn encode(&self) -> Vec<u8> {
        prost::Message::encode_to_vec(self)
    }
}
