//! `sink.bad_rows`: a segment holding a row whose date is no calendar date
//! (OpenMLDB's raw `AppendDate` stores any `i32`) fails the stage (`fail`),
//! leaves the row out and counts it (`skip`), or leaves it out and publishes
//! it raw, with its position and the reason, in `_rejected/` with the
//! segment's commit (`dead_letter`). The other rows are written either way.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};

use common::{row_values, seg, table};
use sync_sinks::{BadRows, OutputFormat, Sink, SinkConfig, SinkError, StoreSink};

static AREAS: AtomicU64 = AtomicU64::new(0);

/// A fresh in-memory destination.
fn dest() -> String {
    format!(
        "memory://bad-rows-{}-{}/out",
        std::process::id(),
        AREAS.fetch_add(1, Ordering::SeqCst)
    )
}

fn sink(bad_rows: BadRows) -> StoreSink {
    StoreSink::new(SinkConfig {
        format: OutputFormat::Csv(sync_sinks::CsvOptions {
            header: false,
            ..Default::default()
        }),
        bad_rows,
        ..SinkConfig::default()
    })
}

/// Three rows, the middle one with the date 2001-13-02 (month 13).
fn segment(dest: &str) -> common::Seg {
    let mut s = seg(dest, 0, 0, 0, 3);
    let schema = table();
    let good = schema
        .versions()
        .encode(1, &row_values(1, 1))
        .expect("encode");
    // Row 1's date is 2001-02-02: packed ((2001-1900) << 16) | (1 << 8) | 2.
    let packed = (101i32 << 16) | (1 << 8) | 2;
    let bad_packed = (101i32 << 16) | (12 << 8) | 2;
    let at = good
        .windows(4)
        .position(|w| w == packed.to_le_bytes())
        .expect("the date field");
    let mut bad = good.clone();
    bad[at..at + 4].copy_from_slice(&bad_packed.to_le_bytes());
    let rows = &s.stage.rows;
    let first_len = rows.len() - {
        let r = common::rows(&schema, 1, 2);
        r.len()
    };
    let mut patched = rows[..first_len].to_vec();
    patched.extend_from_slice(&bad);
    patched.extend_from_slice(&common::rows(&schema, 2, 1));
    s.stage.rows = patched.into();
    s
}

/// The CSV records of every visible file.
async fn visible_lines(sink: &StoreSink, dest: &str) -> Vec<csv::StringRecord> {
    let mut records = Vec::new();
    for f in sink.visible_files(dest).await.expect("list") {
        let bytes = sink.read_file(dest, &f).await.expect("read").expect("file");
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(bytes.as_slice());
        records.extend(reader.records().map(|r| r.expect("a CSV record")));
    }
    records
}

#[tokio::test]
async fn fail_stops_the_stage_with_the_row_and_the_date_as_openmldb_decodes_it() {
    let dest = dest();
    let sink = sink(BadRows::Fail);
    let s = segment(&dest);
    let err = sink.stage(&s.stage, &table()).await.unwrap_err();
    assert!(matches!(err, SinkError::Row { index: 1, .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("row 1") && text.contains("2001-13-2"),
        "{text}"
    );
    assert_eq!(err.failure().kind(), "bad_data", "permanent");
}

#[tokio::test]
async fn skip_leaves_the_row_out_and_counts_it() {
    let dest = dest();
    let sink = sink(BadRows::Skip);
    let s = segment(&dest);
    sink.stage(&s.stage, &table()).await.expect("stage");
    sink.commit(&s.commit).await.expect("commit");
    let lines = visible_lines(&sink, &dest).await;
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(sink.counters().rows_skipped, 1);
    assert_eq!(sink.counters().rows_dead_lettered, 0);
    let all = sink.all_files(&dest).await.expect("list");
    assert!(!all.iter().any(|f| f.starts_with("_rejected/")), "{all:?}");
}

#[tokio::test]
async fn dead_letter_publishes_the_raw_row_its_position_and_why_with_the_commit() {
    let dest = dest();
    let sink = sink(BadRows::DeadLetter);
    let s = segment(&dest);
    sink.stage(&s.stage, &table()).await.expect("stage");
    let before = sink.all_files(&dest).await.expect("list");
    assert!(
        !before.iter().any(|f| f.starts_with("_rejected/")),
        "not before the commit: {before:?}"
    );
    sink.commit(&s.commit).await.expect("commit");
    assert_eq!(visible_lines(&sink, &dest).await.len(), 2);
    assert_eq!(sink.counters().rows_dead_lettered, 1);
    let name = "_rejected/0000000007-00000-0000000003-000000000000.jsonl";
    let bytes = sink
        .read_file(&dest, name)
        .await
        .expect("read")
        .expect("the rejected rows");
    let line: serde_json::Value =
        serde_json::from_slice(bytes.split(|b| *b == b'\n').next().expect("a line")).expect("JSON");
    assert_eq!(line["row"], 1);
    assert!(
        line["reason"]
            .as_str()
            .expect("reason")
            .contains("2001-13-2"),
        "{line}"
    );
    assert!(line["raw_hex"].as_str().expect("raw").len() > 8);
    // The staged copy is gone; nothing hidden is left behind.
    let all = sink.all_files(&dest).await.expect("list");
    assert!(!all.iter().any(|f| f.starts_with("_staging/")), "{all:?}");
    // A replay of the commit is idempotent.
    sink.commit(&s.commit).await.expect("replay");
    assert_eq!(visible_lines(&sink, &dest).await.len(), 2);
}
