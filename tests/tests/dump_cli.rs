//! `synctool_helper dump` as an operator runs it: a real process reading a
//! binlog directory written in OpenMLDB's format, a hand-made row, and broken
//! input that must give a clear error naming the file and byte offset.

use std::path::Path;
use std::process::{Command, Output};

use e2e::workspace_bin;
use serde_json::{Value as Json, json};
use sync_core::binlog::{LogWriter, binlog_file_name};
use sync_core::proto::Message;
use sync_core::proto::api::{Dimension, LogEntry, MethodType};
use sync_core::row::{Column, ColumnType, Date, Value, encode_row};

const SCHEMA_JSON: &str = r#"[{"name":"id","type":"int"},{"name":"name","type":"string"},
 {"name":"score","type":"double"},{"name":"day","type":"date"},{"name":"at","type":"timestamp"}]"#;

fn columns() -> Vec<Column> {
    let col = |name: &str, ty| Column {
        name: name.to_string(),
        ty,
    };
    vec![
        col("id", ColumnType::Int),
        col("name", ColumnType::String),
        col("score", ColumnType::Double),
        col("day", ColumnType::Date),
        col("at", ColumnType::Timestamp),
    ]
}

fn row(id: i32) -> Vec<u8> {
    let values = vec![
        Value::Int(id),
        if id % 3 == 0 {
            Value::Null
        } else {
            Value::String(format!("user-{id}").into_bytes())
        },
        Value::Double(f64::from(id) / 4.0),
        Value::Date(Date {
            year: 2026,
            month: 11,
            day: 25,
        }),
        Value::Timestamp(1_700_000_000_000 + i64::from(id)),
    ];
    encode_row(&columns(), 1, &values).expect("valid row")
}

fn entry(log_index: u64, method: MethodType) -> LogEntry {
    LogEntry {
        term: Some(1),
        log_index: Some(log_index),
        pk: Some(format!("k{log_index}")),
        value: (method == MethodType::KPut).then(|| row(log_index as i32)),
        ts: Some(1_700_000_000_000 + log_index),
        dimensions: vec![Dimension {
            key: Some(format!("k{log_index}")),
            idx: Some(0),
        }],
        method_type: Some(method as i32),
        ..LogEntry::default()
    }
}

/// Writes files 0 and 1: entries 1..=3 (3 is a delete) closed by an EOF
/// record, then 4..=6 still open.
fn write_binlog_dir(dir: &Path) {
    let mut first = LogWriter::new(Vec::new());
    for i in 1..=3 {
        let method = if i == 3 {
            MethodType::KDelete
        } else {
            MethodType::KPut
        };
        first
            .add_record(&entry(i, method).encode_to_vec())
            .expect("write");
    }
    first.add_eof().expect("eof");
    std::fs::write(dir.join(binlog_file_name(0)), first.into_inner()).expect("write file 0");
    let mut second = LogWriter::new(Vec::new());
    for i in 4..=6 {
        second
            .add_record(&entry(i, MethodType::KPut).encode_to_vec())
            .expect("write");
    }
    std::fs::write(dir.join(binlog_file_name(1)), second.into_inner()).expect("write file 1");
}

fn helper(args: &[&str]) -> Output {
    let bin = workspace_bin("synctool_helper").expect("synctool_helper is built");
    Command::new(bin)
        .args(args)
        .output()
        .expect("synctool_helper runs")
}

fn json_lines(output: &Output) -> Vec<Json> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect()
}

#[test]
fn dumps_a_binlog_directory_with_decoded_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_binlog_dir(dir.path());
    let schema = dir.path().join("schema.json");
    std::fs::write(&schema, SCHEMA_JSON).expect("schema");

    let out = helper(&[
        "dump",
        dir.path().to_str().expect("utf-8"),
        "--schema",
        schema.to_str().expect("utf-8"),
    ]);
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out);
    let indexes: Vec<u64> = lines
        .iter()
        .filter_map(|l| l["log_index"].as_u64())
        .collect();
    assert_eq!(indexes, vec![1, 2, 3, 4, 5, 6]);
    assert_eq!(
        lines.iter().filter(|l| l["eof"] == json!(true)).count(),
        1,
        "file 0 ends with EOF"
    );

    let second = lines
        .iter()
        .find(|l| l["log_index"] == json!(2))
        .expect("record 2");
    assert_eq!(second["method"], "put");
    assert_eq!(second["pk"], "k2");
    assert_eq!(
        second["row"],
        json!({"schema_version": 1, "values": {"id": 2, "name": "user-2", "score": 0.5, "day": "2026-11-25", "at": 1_700_000_000_002i64}})
    );
    let sixth = lines
        .iter()
        .find(|l| l["log_index"] == json!(6))
        .expect("record 6");
    assert_eq!(sixth["row"]["values"]["name"], Json::Null, "NULL string");
    let third = lines
        .iter()
        .find(|l| l["log_index"] == json!(3))
        .expect("record 3");
    assert_eq!(third["method"], "delete");
    assert!(third.get("row").is_none());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("2 file(s), 6 record(s): 5 put, 1 delete"),
        "{stderr}"
    );
}

#[test]
fn dumps_one_hand_made_row() {
    let dir = tempfile::tempdir().expect("tempdir");
    let schema = dir.path().join("schema.json");
    std::fs::write(
        &schema,
        r#"[{"name":"a","type":"smallint"},{"name":"b","type":"string"}]"#,
    )
    .expect("schema");
    // Hand-encoded: versions 1/1; length 6 + 1 (bitmap) + 2 (smallint) + 1 (one
    // 1-byte string offset) + 2 ("hi") = 12; bitmap 0b1111_1100 (2 columns, none
    // NULL, unused high bits left set as OpenMLDB's builder does); a = 7 (i16 LE);
    // the string starts at 6 + 1 + 2 + 1 = 10; then "hi".
    let row = "01010c000000fc07000a6869";
    let out = helper(&[
        "dump",
        "--row",
        row,
        "--schema",
        schema.to_str().expect("utf-8"),
    ]);
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        json_lines(&out),
        vec![json!({"schema_version": 1, "values": {"a": 7, "b": "hi"}})]
    );
}

#[test]
fn corrupt_binlog_names_file_and_offset() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_binlog_dir(dir.path());
    let file = dir.path().join(binlog_file_name(1));
    let mut bytes = std::fs::read(&file).expect("read");
    bytes[20] ^= 0x40; // inside the first record's payload: the CRC no longer matches
    std::fs::write(&file, bytes).expect("write");

    let out = helper(&["dump", file.to_str().expect("utf-8")]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("00000001.log"), "{stderr}");
    assert!(
        stderr.contains("offset 0") || stderr.contains("byte 0"),
        "{stderr}"
    );
}

#[test]
fn truncated_binlog_reports_an_incomplete_tail() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_binlog_dir(dir.path());
    let file = dir.path().join(binlog_file_name(1));
    let bytes = std::fs::read(&file).expect("read");
    std::fs::write(&file, &bytes[..bytes.len() - 5]).expect("truncate");

    let out = helper(&["dump", file.to_str().expect("utf-8")]);
    assert!(
        out.status.success(),
        "a tail still being written is not an error"
    );
    let lines = json_lines(&out);
    let indexes: Vec<u64> = lines
        .iter()
        .filter_map(|l| l["log_index"].as_u64())
        .collect();
    assert_eq!(indexes, vec![4, 5]);
    assert_eq!(
        lines.last().expect("tail line")["incomplete_tail"],
        json!(true)
    );
}

#[test]
fn bad_arguments_get_clear_errors() {
    let out = helper(&["dump", "/nonexistent/binlog"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/binlog"));

    let dir = tempfile::tempdir().expect("tempdir");
    let schema = dir.path().join("schema.json");
    std::fs::write(&schema, r#"[{"name":"a","type":"int"}]"#).expect("schema");
    let out = helper(&[
        "dump",
        "--row",
        "zz",
        "--schema",
        schema.to_str().expect("utf-8"),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not valid hex"));

    let out = helper(&[
        "dump",
        "--row",
        "0101",
        "--schema",
        schema.to_str().expect("utf-8"),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot decode the row"));
}
