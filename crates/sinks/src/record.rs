//! The commit record: a small protobuf message per committed segment, at
//! [`crate::layout::record_path`]. It carries the segment's start and end
//! points (lossless, pk as bytes: `sync_core`'s `PersistedPoint`), its row
//! counts, the name of its visible file (none for a segment without rows,
//! whose record alone is its commit), the other files of a partitioned
//! segment, and the writer's epoch.
//!
//! Compatibility: fields are only ever added, under new tags; the version
//! stays 1. A record written before the epoch existed (no tag 11) reads as
//! epoch 0.

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
    /// The writer's epoch for the partition (`FAULTS.md` §4; standalone: 1;
    /// 0: a record of a version that did not write it).
    #[prost(uint64, tag = "11")]
    pub epoch: u64,
    /// The writer that created it ([`crate::SinkConfig::writer`]; empty in
    /// records of earlier versions).
    #[prost(string, tag = "12")]
    pub writer: String,
    /// A partitioned segment's other visible files (its rows of further
    /// partitions), published after `file`; empty for one file. The segment
    /// is committed once `file` is visible: recovery publishes the rest.
    #[prost(string, repeated, tag = "13")]
    pub more_files: Vec<String>,
}

impl CommitRecord {
    /// The record of `seg`, written by `writer`, whose visible file is `file`.
    pub fn new(seg: &CommitSegment, writer: &str, file: Option<String>) -> Self {
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
            epoch: seg.epoch,
            writer: writer.to_owned(),
            more_files: Vec::new(),
        }
    }

    /// The first field (`start`, `end`, `row count`) in which this record,
    /// whose points are `start` and `end`, differs from the commit `seg`;
    /// `None` when they are the same commit. The epoch is not compared: the
    /// same segment committed again by a later writer is the same commit.
    pub fn differs_from(
        &self,
        start: &Point,
        end: &Point,
        seg: &CommitSegment,
    ) -> Option<&'static str> {
        if *start != seg.start {
            Some("start")
        } else if *end != seg.end {
            Some("end")
        } else if self.row_count != seg.row_count || self.rows_total != seg.rows_total {
            Some("row count")
        } else {
            None
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

#[cfg(test)]
mod tests {
    use sync_core::task::SegmentId;

    use super::*;

    /// The record as version 1 wrote it before the epoch (tags 1–10).
    #[derive(Clone, PartialEq, prost::Message)]
    struct RecordWithoutEpoch {
        #[prost(uint32, tag = "1")]
        version: u32,
        #[prost(uint64, tag = "5")]
        seq: u64,
        #[prost(message, optional, tag = "6")]
        start: Option<PersistedPoint>,
        #[prost(message, optional, tag = "7")]
        end: Option<PersistedPoint>,
        #[prost(uint64, tag = "8")]
        row_count: u64,
    }

    fn seg(epoch: u64) -> CommitSegment {
        CommitSegment {
            id: SegmentId {
                tid: 1,
                pid: 2,
                task_id: 3,
                seq: 4,
            },
            dest: "memory://a/b".to_owned(),
            start: Point::Binlog { offset: 10 },
            end: Point::Binlog { offset: 20 },
            row_count: 10,
            rows_total: 20,
            epoch,
            options: None,
        }
    }

    #[test]
    fn epoch_round_trips_and_old_records_read_as_epoch_0() {
        let rec = CommitRecord::new(&seg(5), "w1", Some("part-x.csv".to_owned()));
        let (back, start, end) = CommitRecord::decode(&rec.encode()).expect("decode");
        assert_eq!(back, rec);
        assert_eq!(back.epoch, 5);
        assert_eq!(
            back.differs_from(&start, &end, &seg(6)),
            None,
            "epoch ignored"
        );
        let old = RecordWithoutEpoch {
            version: RECORD_VERSION,
            seq: 4,
            start: rec.start.clone(),
            end: rec.end.clone(),
            row_count: 10,
        };
        let (back, _, _) =
            CommitRecord::decode(&prost::Message::encode_to_vec(&old)).expect("decode old");
        assert_eq!((back.epoch, back.seq, back.row_count), (0, 4, 10));
    }

    #[test]
    fn differences_are_named() {
        let s = seg(1);
        let rec = CommitRecord::new(&s, "w1", None);
        let (start, end) = (s.start.clone(), s.end.clone());
        let mut other = s.clone();
        other.start = Point::Binlog { offset: 11 };
        assert_eq!(rec.differs_from(&start, &end, &other), Some("start"));
        let mut other = s.clone();
        other.end = Point::Binlog { offset: 21 };
        assert_eq!(rec.differs_from(&start, &end, &other), Some("end"));
        let mut other = s.clone();
        other.rows_total = 21;
        assert_eq!(rec.differs_from(&start, &end, &other), Some("row count"));
        assert!(CommitRecord::decode(b"\xff\xff").is_err());
    }
}
