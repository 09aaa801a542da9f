//! `synctool_helper dump`: the operator's look inside tablet data. Prints the
//! records of a binlog file (or of every `%08d.log` file of a directory, in
//! order), the rows of a snapshot (a RocksDB checkpoint, or a snapshot dir
//! whose MANIFEST names one) in index-0 order, or one hex-encoded row, as JSON
//! lines. With a schema file the row
//! values are decoded, each with the schema version named by the row itself;
//! without one they are shown as hex. Errors name the file and byte offset.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde_json::{Map, Value as Json, json};
use sync_core::binlog::{EntryEvent, LogReader, ReadOptions, Tail, parse_binlog_file_name};
use sync_core::proto::api::{LogEntry, MethodType};
use sync_core::row::{Value, decompress};

use sync_core::manifest::parse_manifest;
use sync_infra::snapshot::SnapshotReader;

use crate::schema_file::TableSchema;

/// How much of a binlog file is read per `read` call.
const READ_CHUNK: usize = 1 << 20;

/// What to dump and how.
#[derive(Debug, Clone)]
pub struct DumpOptions {
    pub schema: Option<TableSchema>,
    pub verify_crc: bool,
    /// Only records with `log_index >= from_offset`.
    pub from_offset: u64,
}

/// Counts reported after a binlog dump.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DumpSummary {
    pub files: usize,
    pub records: u64,
    pub puts: u64,
    pub deletes: u64,
    /// Files that ended in the middle of a record (a writer may still be appending).
    pub incomplete_tails: usize,
}

/// Dumps a binlog file, or every binlog file of a directory in index order.
pub fn dump_binlog_path(
    path: &Path,
    options: &DumpOptions,
    out: &mut dyn Write,
) -> anyhow::Result<DumpSummary> {
    let files = binlog_files(path)?;
    let mut summary = DumpSummary::default();
    for file in &files {
        dump_binlog_file(file, options, out, &mut summary)?;
    }
    Ok(summary)
}

/// The binlog files named by `path`: itself, or the `%08d.log` files inside it sorted by index.
fn binlog_files(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot open {}", path.display()))?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut indexed = Vec::new();
    for entry in
        std::fs::read_dir(path).with_context(|| format!("cannot list {}", path.display()))?
    {
        let entry = entry.with_context(|| format!("cannot list {}", path.display()))?;
        let name = entry.file_name();
        if let Some(index) = name.to_str().and_then(parse_binlog_file_name) {
            indexed.push((index, entry.path()));
        }
    }
    if indexed.is_empty() {
        bail!("{} holds no binlog files (NNNNNNNN.log)", path.display());
    }
    indexed.sort();
    Ok(indexed.into_iter().map(|(_, p)| p).collect())
}

fn dump_binlog_file(
    path: &Path,
    options: &DumpOptions,
    out: &mut dyn Write,
    summary: &mut DumpSummary,
) -> anyhow::Result<()> {
    let shown = path.display().to_string();
    let mut file = File::open(path).with_context(|| format!("cannot open {shown}"))?;
    let mut reader = LogReader::new(
        0,
        ReadOptions {
            verify_crc: options.verify_crc,
        },
    );
    let mut chunk = vec![0u8; READ_CHUNK];
    let mut at_end = false;
    summary.files += 1;
    loop {
        let event = reader
            .next_entry()
            .with_context(|| format!("{shown}: corrupt binlog"))?;
        match event {
            Some(EntryEvent::Entry { entry, start, end }) => {
                summary.records += 1;
                if entry.method_type() == MethodType::KDelete {
                    summary.deletes += 1;
                } else {
                    summary.puts += 1;
                }
                if entry.log_index() >= options.from_offset {
                    let line = entry_json(&shown, start, end, &entry, options)?;
                    writeln!(out, "{line}")?;
                }
            }
            Some(EntryEvent::Eof { pos }) => {
                writeln!(out, "{}", json!({"file": shown, "pos": pos, "eof": true}))?;
                return Ok(());
            }
            None if at_end => {
                if let Some(Tail::Incomplete { offset, .. }) = reader.tail() {
                    summary.incomplete_tails += 1;
                    writeln!(
                        out,
                        "{}",
                        json!({"file": shown, "pos": offset, "incomplete_tail": true})
                    )?;
                }
                return Ok(());
            }
            None => {
                let n = file
                    .read(&mut chunk)
                    .with_context(|| format!("cannot read {shown}"))?;
                if n == 0 {
                    at_end = true;
                } else {
                    reader.feed(&chunk[..n]);
                }
            }
        }
    }
}

fn entry_json(
    file: &str,
    start: u64,
    end: u64,
    entry: &LogEntry,
    options: &DumpOptions,
) -> anyhow::Result<Json> {
    let mut line = Map::new();
    line.insert("file".into(), json!(file));
    line.insert("pos".into(), json!(start));
    line.insert("end".into(), json!(end));
    line.insert("log_index".into(), json!(entry.log_index()));
    line.insert("term".into(), json!(entry.term()));
    let method = match entry.method_type() {
        MethodType::KPut => "put",
        MethodType::KDelete => "delete",
    };
    line.insert("method".into(), json!(method));
    if entry.pk.is_some() {
        line.insert("pk".into(), json!(entry.pk()));
    }
    line.insert("ts".into(), json!(entry.ts()));
    if entry.end_ts.is_some() {
        line.insert("end_ts".into(), json!(entry.end_ts()));
    }
    if !entry.dimensions.is_empty() {
        let dims: Vec<Json> = entry
            .dimensions
            .iter()
            .map(|d| json!({"key": d.key(), "idx": d.idx()}))
            .collect();
        line.insert("dimensions".into(), Json::Array(dims));
    }
    if entry.value.is_some() {
        let value = entry.value();
        match &options.schema {
            Some(schema) => {
                let row = row_json(value, schema).with_context(|| {
                    format!(
                        "{file}: byte {start}: record {} has a bad row",
                        entry.log_index()
                    )
                })?;
                line.insert("row".into(), row);
            }
            None => {
                line.insert("value_hex".into(), json!(hex::encode(value)));
            }
        }
    }
    Ok(Json::Object(line))
}

/// Decodes one stored value (decompressing it first when the table is snappy)
/// into `{"schema_version": v, "values": {column: value, ...}}`.
pub fn row_json(value: &[u8], schema: &TableSchema) -> anyhow::Result<Json> {
    let row = decompress(schema.compress_type, value)?;
    decoded_row_json(&row, schema)
}

/// Decodes one uncompressed row like [`row_json`].
fn decoded_row_json(row: &[u8], schema: &TableSchema) -> anyhow::Result<Json> {
    let (version, values) = schema.versions.decode(row)?;
    let columns = schema.versions.schema(version)?;
    let mut fields = Map::new();
    for (column, value) in columns.iter().zip(values) {
        fields.insert(column.name.clone(), value_json(value));
    }
    Ok(json!({"schema_version": version, "values": fields}))
}

/// The RocksDB checkpoint `path` names: itself (it holds `CURRENT`), or the
/// one named by the `MANIFEST` of a snapshot dir; `None` for anything else.
pub fn snapshot_checkpoint(path: &Path) -> anyhow::Result<Option<PathBuf>> {
    if path.join("CURRENT").is_file() {
        return Ok(Some(path.to_path_buf()));
    }
    let manifest = path.join("MANIFEST");
    if !manifest.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&manifest)
        .with_context(|| format!("cannot read {}", manifest.display()))?;
    let parsed =
        parse_manifest(&text).with_context(|| format!("{}: bad MANIFEST", manifest.display()))?;
    match parsed.name.as_deref().filter(|n| !n.is_empty()) {
        Some(name) => Ok(Some(path.join(name))),
        None => bail!("{}: the MANIFEST names no checkpoint", manifest.display()),
    }
}

/// Dumps every row of the checkpoint in index-0 order (pk ascending, ts
/// descending), as stored: no TTL is applied. Returns the row count.
pub fn dump_snapshot(
    checkpoint: &Path,
    schema: &TableSchema,
    out: &mut dyn Write,
) -> anyhow::Result<u64> {
    if schema.table_meta.column_key.is_empty() {
        bail!(
            "dumping a snapshot needs the table's indexes: use the long schema form with \
             \"indexes\": [{{\"name\": ..., \"keys\": [...], \"ts\": ...}}] (index 0 first)"
        );
    }
    let shown = checkpoint.display().to_string();
    let reader = SnapshotReader::open(checkpoint, &schema.table_meta)?;
    let mut rows = 0u64;
    for row in reader.iter(None, 0)? {
        let row = row?;
        let values = decoded_row_json(&row.row, schema).with_context(|| {
            format!(
                "{shown}: the row at pk {:?} ts {} does not decode",
                String::from_utf8_lossy(&row.key.pk),
                row.key.ts
            )
        })?;
        let pk = match std::str::from_utf8(&row.key.pk) {
            Ok(text) => json!(text),
            Err(_) => json!({"hex": hex::encode(&row.key.pk)}),
        };
        writeln!(
            out,
            "{}",
            json!({"snapshot": shown, "pk": pk, "ts": row.key.ts, "row": values})
        )?;
        rows += 1;
    }
    Ok(rows)
}

/// Dumps one hex-encoded row (as stored: compressed when the schema says so).
pub fn dump_hex_row(
    hex_row: &str,
    schema: &TableSchema,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let bytes = hex::decode(hex_row.trim()).context("the row is not valid hex")?;
    let row = row_json(&bytes, schema).context("cannot decode the row")?;
    writeln!(out, "{row}")?;
    Ok(())
}

fn value_json(value: Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Bool(v) => json!(v),
        Value::SmallInt(v) => json!(v),
        Value::Int(v) => json!(v),
        Value::BigInt(v) => json!(v),
        Value::Float(v) => float_json(f64::from(v)),
        Value::Double(v) => float_json(v),
        Value::Date(d) => json!(d.to_string()),
        Value::Timestamp(ms) => json!(ms),
        Value::String(bytes) => match String::from_utf8(bytes) {
            Ok(text) => json!(text),
            Err(err) => json!({"hex": hex::encode(err.into_bytes())}),
        },
    }
}

/// JSON has no NaN or infinities: those are written as strings.
fn float_json(v: f64) -> Json {
    serde_json::Number::from_f64(v).map_or_else(|| json!(v.to_string()), Json::Number)
}
