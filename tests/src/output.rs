//! Reading a destination back: list its files, decode every committed
//! Parquet or CSV file into [`Row`]s, and check that nothing half-written is
//! visible.
//!
//! Files are read through an [`OutputStore`]: [`LocalDir`] for a local
//! destination, [`RemoteDest`] (the sink crate's own opendal stores) for
//! `hdfs://` and `s3://`. A visible file is one no path component of which
//! starts with `_` or `.` (what Spark and pyarrow read); committed files are
//! named `part-<tid>-<pid>-<task>-<seq>.<ext>`, anything else visible is a
//! stray file.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use arrow_array::{
    Array, BooleanArray, Date32Array, Float32Array, Float64Array, Int16Array, Int32Array,
    Int64Array, RecordBatch, StringArray, TimestampMillisecondArray,
};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use sync_core::row::{Column, ColumnType};
use sync_sinks::{S3Options, SinkConfig, StoreSink};

use crate::rows::{Cell, Row, RowSet, days_from_civil};

/// The output format (`sink.format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Parquet,
    Csv,
}

impl Format {
    /// The file extension and the `sink.format` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::Csv => "csv",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Format {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        match s {
            "parquet" => Ok(Format::Parquet),
            "csv" => Ok(Format::Csv),
            other => bail!("unknown format `{other}` (parquet or csv)"),
        }
    }
}

/// How CSV files were written (`sink.csv.header`, `sink.csv.null`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvSpec {
    pub header: bool,
    pub null: String,
}

impl Default for CsvSpec {
    fn default() -> Self {
        CsvSpec {
            header: true,
            null: String::new(),
        }
    }
}

/// Where the output files are read from.
pub trait OutputStore {
    /// Every file under the destination (relative paths, `/`-separated).
    fn list(&self) -> anyhow::Result<Vec<String>>;
    /// One file's bytes.
    fn read(&self, path: &str) -> anyhow::Result<Vec<u8>>;
}

/// A local destination directory.
pub struct LocalDir(pub PathBuf);

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> anyhow::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && dir == root => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("cannot list {}", dir.display())),
    };
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        let path = entry.path();
        let ty = entry
            .file_type()
            .with_context(|| format!("cannot stat {}", path.display()))?;
        if ty.is_dir() {
            walk(root, &path, out)?;
        } else {
            let rel = path
                .strip_prefix(root)
                .with_context(|| format!("{} is outside {}", path.display(), root.display()))?;
            out.push(rel.to_string_lossy().into_owned());
        }
    }
    Ok(())
}

impl OutputStore for LocalDir {
    fn list(&self) -> anyhow::Result<Vec<String>> {
        let mut out = Vec::new();
        walk(&self.0, &self.0, &mut out)?;
        out.sort();
        Ok(out)
    }

    fn read(&self, path: &str) -> anyhow::Result<Vec<u8>> {
        let full = self.0.join(path);
        std::fs::read(&full).with_context(|| format!("cannot read {}", full.display()))
    }
}

/// An `hdfs://` or `s3://` destination, read through `sync-sinks`.
pub struct RemoteDest {
    sink: StoreSink,
    dest: String,
    runtime: tokio::runtime::Runtime,
}

impl RemoteDest {
    /// `dest` with the sink settings for S3 (endpoint and keys) if any.
    pub fn new(dest: &str, s3: Option<S3Options>) -> anyhow::Result<Self> {
        let config = SinkConfig {
            s3: s3.unwrap_or_default(),
            ..SinkConfig::default()
        };
        Ok(RemoteDest {
            sink: StoreSink::new(config),
            dest: dest.to_string(),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start a tokio runtime")?,
        })
    }
}

impl OutputStore for RemoteDest {
    fn list(&self) -> anyhow::Result<Vec<String>> {
        self.runtime
            .block_on(self.sink.all_files(&self.dest))
            .with_context(|| format!("cannot list {}", self.dest))
    }

    fn read(&self, path: &str) -> anyhow::Result<Vec<u8>> {
        self.runtime
            .block_on(self.sink.read_file(&self.dest, path))
            .with_context(|| format!("cannot read {path} in {}", self.dest))?
            .with_context(|| format!("{path} vanished from {}", self.dest))
    }
}

/// One committed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputFile {
    /// Path relative to the destination.
    pub path: String,
    pub tid: u32,
    pub pid: u32,
    pub task_id: u64,
    pub seq: u64,
    /// Size in bytes.
    pub bytes: u64,
    /// Rows in it.
    pub rows: u64,
}

/// What a destination holds.
#[derive(Debug, Clone, Default)]
pub struct Output {
    /// Committed files, sorted by path.
    pub files: Vec<OutputFile>,
    /// Their rows.
    pub rows: RowSet,
    /// Hidden files (`_staging/`, `_sync/`, temporaries).
    pub hidden: Vec<String>,
    /// Visible files that are not committed segments of the format.
    pub stray: Vec<String>,
}

impl Output {
    /// Rows per partition id (from the file names), sorted by pid.
    pub fn rows_per_partition(&self) -> Vec<(u32, u64)> {
        let mut per = std::collections::BTreeMap::new();
        for f in &self.files {
            *per.entry(f.pid).or_insert(0) += f.rows;
        }
        per.into_iter().collect()
    }

    /// Bytes of all committed files.
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.bytes).sum()
    }

    /// Hidden files other than commit records: staged data or temporaries
    /// left behind (there should be none once a task is done).
    pub fn leftovers(&self) -> Vec<&String> {
        self.hidden
            .iter()
            .filter(|p| !(p.starts_with("_sync/") && p.ends_with(".commit")))
            .collect()
    }
}

/// Checks that `output` holds exactly the rows of `expected` (each as often),
/// that no stray file is visible, and, if `finished`, that no staged data or
/// temporary file is left behind.
pub fn check_output(expected: &RowSet, output: &Output, finished: bool) -> anyhow::Result<()> {
    let diff = expected.diff(&output.rows);
    if !diff.is_empty() {
        bail!("output differs from the source: {diff}");
    }
    if !output.stray.is_empty() {
        bail!(
            "visible files that are not committed segments: {:?}",
            output.stray
        );
    }
    if finished && !output.leftovers().is_empty() {
        bail!(
            "staged data or temporaries left behind: {:?}",
            output.leftovers()
        );
    }
    Ok(())
}

/// `part-<tid>-<pid>-<task>-<seq>.<ext>` → its numbers.
pub fn parse_part_name(name: &str, ext: &str) -> Option<(u32, u32, u64, u64)> {
    let stem = name
        .strip_prefix("part-")?
        .strip_suffix(ext)?
        .strip_suffix('.')?;
    let mut it = stem.split('-');
    let parsed = (
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
    );
    it.next().is_none().then_some(parsed)
}

fn is_visible(path: &str) -> bool {
    path.split('/')
        .filter(|c| !c.is_empty())
        .all(|c| !c.starts_with('_') && !c.starts_with('.'))
}

/// Reads every committed file of `format` in `store`, adding its rows to
/// `rows` (use [`RowSet::counting`] for big outputs).
pub fn read_output(
    store: &dyn OutputStore,
    columns: &[Column],
    format: Format,
    csv: &CsvSpec,
    rows: RowSet,
) -> anyhow::Result<Output> {
    let mut out = Output {
        rows,
        ..Output::default()
    };
    for path in store.list()? {
        if !is_visible(&path) {
            out.hidden.push(path);
            continue;
        }
        let Some((tid, pid, task_id, seq)) = parse_part_name(&path, format.as_str()) else {
            out.stray.push(path);
            continue;
        };
        let bytes = store.read(&path)?;
        let size = bytes.len() as u64;
        let decoded = match format {
            Format::Parquet => decode_parquet(bytes, columns),
            Format::Csv => decode_csv(&bytes, columns, csv),
        }
        .with_context(|| format!("cannot decode {path}"))?;
        out.files.push(OutputFile {
            path,
            tid,
            pid,
            task_id,
            seq,
            bytes: size,
            rows: decoded.len() as u64,
        });
        out.rows.extend(decoded);
    }
    Ok(out)
}

/// A local destination (a `file://` URL or a path).
pub fn read_local_output(
    dest: &str,
    columns: &[Column],
    format: Format,
    csv: &CsvSpec,
    rows: RowSet,
) -> anyhow::Result<Output> {
    let dir = PathBuf::from(dest.strip_prefix("file://").unwrap_or(dest));
    read_output(&LocalDir(dir), columns, format, csv, rows)
}

// ---------------------------------------------------------------- Parquet

fn column<'a, T: 'static>(batch: &'a RecordBatch, i: usize, c: &Column) -> anyhow::Result<&'a T> {
    batch
        .column(i)
        .as_any()
        .downcast_ref::<T>()
        .with_context(|| {
            format!(
                "column `{}` ({:?}) has Arrow type {}",
                c.name,
                c.ty,
                batch.column(i).data_type()
            )
        })
}

fn cells_of_column(
    batch: &RecordBatch,
    i: usize,
    c: &Column,
    out: &mut [Row],
) -> anyhow::Result<()> {
    macro_rules! fill {
        ($ty:ty, $f:expr) => {{
            let a = column::<$ty>(batch, i, c)?;
            for (r, row) in out.iter_mut().enumerate() {
                row.push(if a.is_null(r) {
                    Cell::Null
                } else {
                    $f(a.value(r))
                });
            }
        }};
    }
    match c.ty {
        ColumnType::Bool => fill!(BooleanArray, Cell::Bool),
        ColumnType::SmallInt => fill!(Int16Array, |v: i16| Cell::Int(i64::from(v))),
        ColumnType::Int => fill!(Int32Array, |v: i32| Cell::Int(i64::from(v))),
        ColumnType::BigInt => fill!(Int64Array, Cell::Int),
        ColumnType::Float => fill!(Float32Array, |v: f32| Cell::Float(v.to_bits())),
        ColumnType::Double => fill!(Float64Array, |v: f64| Cell::Double(v.to_bits())),
        ColumnType::Date => fill!(Date32Array, Cell::Date),
        ColumnType::Timestamp => fill!(TimestampMillisecondArray, Cell::Timestamp),
        ColumnType::String | ColumnType::Varchar => {
            fill!(StringArray, |v: &str| Cell::Str(v.to_string()))
        }
    }
    Ok(())
}

/// The rows of a Parquet file with the columns `columns`.
pub fn decode_parquet(bytes: Vec<u8>, columns: &[Column]) -> anyhow::Result<Vec<Row>> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))?.build()?;
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch?;
        let names: Vec<&str> = batch
            .schema_ref()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        let want: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        if names != want {
            bail!("columns {names:?}, expected {want:?}");
        }
        let mut batch_rows: Vec<Row> = (0..batch.num_rows())
            .map(|_| Vec::with_capacity(columns.len()))
            .collect();
        for (i, c) in columns.iter().enumerate() {
            cells_of_column(&batch, i, c, &mut batch_rows)?;
        }
        rows.extend(batch_rows);
    }
    Ok(rows)
}

// -------------------------------------------------------------------- CSV

/// One CSV field and whether it was quoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub text: String,
    pub quoted: bool,
}

/// Splits RFC 4180 text into records (`\n` or `\r\n` ends a record; `""`
/// inside quotes is one `"`), remembering which fields were quoted.
pub fn csv_records(text: &str) -> anyhow::Result<Vec<Vec<Field>>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1usize;
    loop {
        // One field.
        let mut field = Field {
            text: String::new(),
            quoted: false,
        };
        if chars.peek() == Some(&'"') {
            chars.next();
            field.quoted = true;
            loop {
                match chars.next() {
                    None => bail!("line {line}: quoted field not closed"),
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.text.push('"');
                    }
                    Some('"') => break,
                    Some(c) => {
                        if c == '\n' {
                            line += 1;
                        }
                        field.text.push(c);
                    }
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' || c == '\n' || c == '\r' {
                    break;
                }
                if c == '"' {
                    bail!("line {line}: quote inside an unquoted field");
                }
                field.text.push(c);
                chars.next();
            }
        }
        record.push(field);
        match chars.next() {
            Some(',') => {}
            Some('\r') if chars.peek() == Some(&'\n') => {
                chars.next();
                records.push(std::mem::take(&mut record));
                line += 1;
            }
            Some('\n') => {
                records.push(std::mem::take(&mut record));
                line += 1;
            }
            None => {
                // A file ends with a record terminator; text after the last
                // one is a record without it.
                if !(record.len() == 1 && record[0].text.is_empty() && !record[0].quoted) {
                    records.push(record);
                }
                return Ok(records);
            }
            Some(c) => bail!("line {line}: unexpected `{c}` after a field"),
        }
        if chars.peek().is_none() {
            return Ok(records);
        }
    }
}

fn parse_float(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

fn parse_date(s: &str) -> Option<i32> {
    let mut it = s.splitn(3, '-');
    let (y, m, d) = (it.next()?, it.next()?, it.next()?);
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    Some(days_from_civil(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?) as i32)
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC) or a plain number of epoch milliseconds.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    if let Ok(ms) = s.parse::<i64>() {
        return Some(ms);
    }
    let (date, time) = s.strip_suffix('Z')?.split_once('T')?;
    let days = i64::from(parse_date(date)?);
    let (hms, millis) = time.split_once('.').unwrap_or((time, "0"));
    let mut it = hms.splitn(3, ':');
    let (h, m, sec): (i64, i64, i64) = (
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
    );
    let millis: i64 = millis.parse().ok()?;
    Some(((days * 24 + h) * 60 + m) * 60_000 + sec * 1000 + millis)
}

fn csv_cell(f: &Field, c: &Column, spec: &CsvSpec) -> anyhow::Result<Cell> {
    if !f.quoted && f.text == spec.null {
        return Ok(Cell::Null);
    }
    let s = f.text.as_str();
    let bad = || anyhow::anyhow!("column `{}` ({:?}): cannot parse `{s}`", c.name, c.ty);
    Ok(match c.ty {
        ColumnType::Bool => match s {
            "true" => Cell::Bool(true),
            "false" => Cell::Bool(false),
            _ => return Err(bad()),
        },
        ColumnType::SmallInt | ColumnType::Int | ColumnType::BigInt => {
            Cell::Int(s.parse().map_err(|_| bad())?)
        }
        ColumnType::Float => Cell::Float((parse_float(s).ok_or_else(bad)? as f32).to_bits()),
        ColumnType::Double => Cell::Double(parse_float(s).ok_or_else(bad)?.to_bits()),
        ColumnType::Date => Cell::Date(parse_date(s).ok_or_else(bad)?),
        ColumnType::Timestamp => Cell::Timestamp(parse_timestamp(s).ok_or_else(bad)?),
        ColumnType::String | ColumnType::Varchar => Cell::Str(s.to_string()),
    })
}

/// The rows of a CSV file with the columns `columns`.
pub fn decode_csv(bytes: &[u8], columns: &[Column], spec: &CsvSpec) -> anyhow::Result<Vec<Row>> {
    let text = std::str::from_utf8(bytes).context("CSV file is not UTF-8")?;
    let mut records = csv_records(text)?.into_iter();
    if spec.header {
        let header = records.next().context("CSV file has no header")?;
        let names: Vec<&str> = header.iter().map(|f| f.text.as_str()).collect();
        let want: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        if names != want {
            bail!("header {names:?}, expected {want:?}");
        }
    }
    records
        .enumerate()
        .map(|(i, record)| {
            if record.len() != columns.len() {
                bail!(
                    "record {}: {} fields, expected {}",
                    i + 1,
                    record.len(),
                    columns.len()
                );
            }
            record
                .iter()
                .zip(columns)
                .map(|(f, c)| csv_cell(f, c, spec))
                .collect::<anyhow::Result<Row>>()
                .with_context(|| format!("record {}", i + 1))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_keeps_quoting() {
        let recs = csv_records("a,\"\",,\"x,\"\"y\"\"\"\n\"multi\nline\",2\r\n").unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0][1].text, "");
        assert!(recs[0][1].quoted);
        assert!(!recs[0][2].quoted);
        assert_eq!(recs[0][3].text, "x,\"y\"");
        assert_eq!(recs[1][0].text, "multi\nline");
        assert_eq!(csv_records("").unwrap().len(), 0);
        assert_eq!(csv_records("a,b").unwrap().len(), 1);
        assert!(csv_records("\"open").is_err());
    }

    #[test]
    fn timestamps_parse() {
        assert_eq!(
            parse_timestamp("2023-11-14T22:13:20.123Z"),
            Some(1_700_000_000_123)
        );
        assert_eq!(parse_timestamp("1700000000123"), Some(1_700_000_000_123));
        assert_eq!(parse_timestamp("1969-12-31T23:59:59.999Z"), Some(-1));
        assert_eq!(parse_timestamp("yesterday"), None);
    }

    #[test]
    fn part_names_parse() {
        assert_eq!(
            parse_part_name("part-0000000007-00003-0000000042-000000000009.csv", "csv"),
            Some((7, 3, 42, 9))
        );
        assert_eq!(parse_part_name("part-1-2-3-4.csv", "parquet"), None);
        assert_eq!(parse_part_name("notes.txt", "csv"), None);
    }
}
