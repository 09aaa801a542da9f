//! Writes ~1 M rows of a 10-column table (every OpenMLDB type) through
//! stage + commit to the local filesystem, as CSV and as Parquet, and prints
//! rows/s, MB/s (encoded input rows and output bytes) and files written.
//!
//! `cargo bench -p sync-sinks --bench write`; `SINK_BENCH_ROWS` and
//! `SINK_BENCH_SEGMENT_ROWS` change the totals (default 1 000 000 rows in
//! segments of 250 000).

use std::time::Instant;

use sync_core::point::Point;
use sync_core::row::{Column, ColumnType, Date, SchemaVersions, Value};
use sync_core::task::{CommitSegment, SegmentId, StageSegment};
use sync_sinks::{
    CsvOptions, OutputFormat, ParquetOptions, Sink, SinkConfig, StoreSink, TableSchema,
};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn schema() -> Result<TableSchema, Box<dyn std::error::Error>> {
    let cols = vec![
        Column::new("b", ColumnType::Bool),
        Column::new("s", ColumnType::SmallInt),
        Column::new("i", ColumnType::Int),
        Column::new("l", ColumnType::BigInt),
        Column::new("f", ColumnType::Float),
        Column::new("d", ColumnType::Double),
        Column::new("dt", ColumnType::Date),
        Column::new("ts", ColumnType::Timestamp),
        Column::new("k", ColumnType::Varchar),
        Column::new("note", ColumnType::String),
    ];
    Ok(TableSchema::new(
        "bench.t",
        SchemaVersions::new(cols, vec![], &[])?,
    )?)
}

fn segment_rows(
    schema: &TableSchema,
    first: u64,
    count: u64,
) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let mut out = Vec::new();
    for n in first..first + count {
        let values = [
            Value::Bool(n & 1 == 0),
            Value::SmallInt((n % 1000) as i16),
            Value::Int(n as i32),
            Value::BigInt((n * 7919) as i64),
            Value::Float(n as f32 * 0.25),
            Value::Double(n as f64 / 3.0),
            Value::Date(Date::new(
                2020 + (n % 5) as i32,
                1 + (n % 12) as u8,
                1 + (n % 28) as u8,
            )?),
            Value::Timestamp(1_700_000_000_000 + n as i64),
            Value::string(format!("user-{:06}", n % 100_000)),
            if n % 10 == 0 {
                Value::Null
            } else {
                Value::string(format!("note {n}, \"quoted\""))
            },
        ];
        out.extend(schema.versions().encode(1, &values)?);
    }
    Ok(out)
}

async fn run(name: &str, format: OutputFormat) -> Result<(), Box<dyn std::error::Error>> {
    let total = env_u64("SINK_BENCH_ROWS", 1_000_000);
    let per = env_u64("SINK_BENCH_SEGMENT_ROWS", 250_000).max(1);
    let schema = schema()?;
    let dir = tempfile::tempdir()?;
    let dest = dir.path().join("out").display().to_string();
    let sink = StoreSink::new(SinkConfig {
        format,
        ..SinkConfig::default()
    });
    let mut segments = Vec::new();
    let mut first = 0;
    while first < total {
        let count = per.min(total - first);
        segments.push((first, count, segment_rows(&schema, first, count)?));
        first += count;
    }
    let input: usize = segments.iter().map(|s| s.2.len()).sum();
    let start = Instant::now();
    for (seq, (first, count, rows)) in segments.into_iter().enumerate() {
        let id = SegmentId {
            tid: 1,
            pid: 0,
            task_id: 1,
            seq: seq as u64,
        };
        let point = |n: u64| {
            if n == 0 {
                Point::start()
            } else {
                Point::Binlog { offset: n }
            }
        };
        sink.stage(
            &StageSegment {
                id,
                dest: dest.clone(),
                rows: std::sync::Arc::new(rows),
                row_count: count,
                epoch: 1,
                options: None,
            },
            &schema,
        )
        .await?;
        sink.commit(&CommitSegment {
            id,
            dest: dest.clone(),
            start: point(first),
            end: point(first + count),
            row_count: count,
            rows_total: first + count,
            epoch: 1,
            options: None,
        })
        .await?;
    }
    let secs = start.elapsed().as_secs_f64();
    let files = sink.visible_files(&dest).await?;
    let mut output = 0u64;
    for f in &files {
        output += std::fs::metadata(dir.path().join("out").join(f))?.len();
    }
    let mb = |b: f64| b / 1_000_000.0;
    println!(
        "{name:8} {total} rows in {secs:.2} s: {:.0} rows/s, input {:.1} MB ({:.1} MB/s), output {:.1} MB ({:.1} MB/s), {} files",
        total as f64 / secs,
        mb(input as f64),
        mb(input as f64) / secs,
        mb(output as f64),
        mb(output as f64) / secs,
        files.len()
    );
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    run("csv", OutputFormat::Csv(CsvOptions::default())).await?;
    run("parquet", OutputFormat::Parquet(ParquetOptions::default())).await?;
    Ok(())
}
