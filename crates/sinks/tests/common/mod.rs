//! Shared test helpers: a table with every column type in two schema
//! versions, segments of it, and the commit-protocol suite run against each
//! store (local fs here; real HDFS and S3 when their servers are up).

#![allow(dead_code)]

pub mod suite;

use sync_core::point::Point;
use sync_core::proto::common::VersionPair;
use sync_core::row::{Column, ColumnType, Date, SchemaVersions, Value};
use sync_core::task::{CommitSegment, SegmentId, StageSegment};
use sync_sinks::TableSchema;

/// Version 1: every type once; version 2 adds two columns.
pub fn table() -> TableSchema {
    let base = vec![
        Column::new("b", ColumnType::Bool),
        Column::new("s", ColumnType::SmallInt),
        Column::new("i", ColumnType::Int),
        Column::new("l", ColumnType::BigInt),
        Column::new("f", ColumnType::Float),
        Column::new("d", ColumnType::Double),
        Column::new("dt", ColumnType::Date),
        Column::new("ts", ColumnType::Timestamp),
        Column::new("v", ColumnType::Varchar),
        Column::new("str", ColumnType::String),
    ];
    let added = vec![
        Column::new("extra_i", ColumnType::Int),
        Column::new("extra_s", ColumnType::String),
    ];
    let pairs = [VersionPair {
        id: Some(2),
        field_count: Some(12),
    }];
    let versions = SchemaVersions::new(base, added, &pairs).expect("schema");
    TableSchema::new("db.t", versions).expect("table schema")
}

/// Row `n` of version 1 (10 values) or 2 (12 values); deterministic.
pub fn row_values(n: u64, version: u8) -> Vec<Value> {
    let k = n as i64;
    let mut v = vec![
        Value::Bool(n.is_multiple_of(2)),
        Value::SmallInt((n % 30_000) as i16),
        Value::Int(k as i32 - 5),
        Value::BigInt(k * 1_000_003),
        Value::Float(n as f32 / 3.0),
        Value::Double(-(n as f64) / 7.0),
        Value::Date(
            Date::new(
                2000 + (n % 50) as i32,
                1 + (n % 12) as u8,
                1 + (n % 28) as u8,
            )
            .expect("date"),
        ),
        Value::Timestamp(1_700_000_000_000 + k),
        Value::string(format!("v{n}")),
        if n.is_multiple_of(5) {
            Value::Null
        } else {
            Value::string(format!("s,\"{n}\"\n"))
        },
    ];
    if version == 2 {
        v.push(Value::Int(n as i32));
        v.push(Value::string(format!("x{n}")));
    }
    v
}

/// `count` rows starting at `first`, alternating schema versions 1 and 2.
pub fn rows(schema: &TableSchema, first: u64, count: u64) -> Vec<u8> {
    let mut out = Vec::new();
    for n in first..first + count {
        let version = if n.is_multiple_of(2) { 1 } else { 2 };
        let row = schema
            .versions()
            .encode(version, &row_values(n, version))
            .expect("encode");
        out.extend_from_slice(&row);
    }
    out
}

/// The point after `rows` rows (a binlog offset, so points are distinct).
pub fn point(rows: u64) -> Point {
    if rows == 0 {
        Point::start()
    } else {
        Point::Binlog { offset: rows }
    }
}

/// Segment `seq` of partition `pid`: rows `[seq*per, seq*per + count)`.
pub struct Seg {
    pub stage: StageSegment,
    pub commit: CommitSegment,
}

pub fn seg(dest: &str, pid: u32, seq: u64, first: u64, count: u64) -> Seg {
    let schema = table();
    let id = SegmentId {
        tid: 7,
        pid,
        task_id: 3,
        seq,
    };
    Seg {
        stage: StageSegment {
            id,
            dest: dest.to_owned(),
            rows: std::sync::Arc::new(rows(&schema, first, count)),
            row_count: count,
            epoch: 1,
            options: None,
        },
        commit: CommitSegment {
            id,
            dest: dest.to_owned(),
            start: point(first),
            end: point(first + count),
            row_count: count,
            rows_total: first + count,
            epoch: 1,
            options: None,
        },
    }
}
