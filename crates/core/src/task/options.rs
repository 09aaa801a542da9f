//! Per-task output options: the file format, the CSV and Parquet settings,
//! the roll limits and the partitioning of one table task. They are resolved
//! at create (each field of the request over SyncTool's `sink.*` defaults),
//! persisted with the task ([`PersistedOptions`]) and carried by every
//! segment to the sink. The core uses the roll limits; the rest are plain
//! values the sink interprets (it also checks what needs the table's schema
//! or a time-zone database: the partition column and the time zone).

use std::fmt;
use std::str::FromStr;

use crate::task::commit::RollPolicy;

/// A value an option does not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{option} `{value}`: {expected}")]
pub struct BadOption {
    /// The option's name (as in the request).
    pub option: &'static str,
    /// The value given.
    pub value: String,
    /// What it accepts.
    pub expected: String,
}

impl BadOption {
    /// A value of `option` that is not what it accepts.
    pub fn new(
        option: &'static str,
        value: impl Into<String>,
        expected: impl Into<String>,
    ) -> Self {
        BadOption {
            option,
            value: value.into(),
            expected: expected.into(),
        }
    }
}

/// The file format of a task's visible files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FileFormat {
    /// Parquet, `.parquet` (SyncTool's default).
    #[default]
    Parquet,
    /// CSV, `.csv`.
    Csv,
}

impl FileFormat {
    /// `parquet` or `csv` (also the file extension).
    pub fn as_str(self) -> &'static str {
        match self {
            FileFormat::Parquet => "parquet",
            FileFormat::Csv => "csv",
        }
    }
}

impl FromStr for FileFormat {
    type Err = BadOption;
    fn from_str(s: &str) -> Result<Self, BadOption> {
        match s.trim().to_ascii_lowercase().as_str() {
            "parquet" => Ok(FileFormat::Parquet),
            "csv" => Ok(FileFormat::Csv),
            _ => Err(BadOption::new("format", s, "expected parquet or csv")),
        }
    }
}

/// Parquet column compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// No compression.
    None,
    /// Snappy (the default, what Spark writes).
    #[default]
    Snappy,
    /// Zstandard (level 3, the parquet crate's default level).
    Zstd,
}

impl Compression {
    /// `none`, `snappy` or `zstd`.
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Snappy => "snappy",
            Compression::Zstd => "zstd",
        }
    }
}

impl FromStr for Compression {
    type Err = BadOption;
    fn from_str(s: &str) -> Result<Self, BadOption> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" | "uncompressed" => Ok(Compression::None),
            "snappy" => Ok(Compression::Snappy),
            "zstd" => Ok(Compression::Zstd),
            _ => Err(BadOption::new(
                "parquet_compression",
                s,
                "expected none, snappy or zstd",
            )),
        }
    }
}

/// How a partition value is taken from its column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transform {
    /// The day (`YYYY-MM-DD`) of a timestamp or date, directory key `day`.
    Day,
    /// The hour (`YYYY-MM-DD-HH`) of a timestamp or date, directory key `hour`.
    Hour,
    /// The column's value itself, directory key the column's name.
    Value,
}

/// Hive-style partitioning of a task's files: `<dest>/<key>=<value>/part-….ext`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PartitionBy {
    /// How the value is taken.
    pub transform: Transform,
    /// The table column it is taken from.
    pub column: String,
}

impl PartitionBy {
    /// The directory key: `day`, `hour`, or the column's name.
    pub fn key(&self) -> &str {
        match self.transform {
            Transform::Day => "day",
            Transform::Hour => "hour",
            Transform::Value => &self.column,
        }
    }
}

impl fmt::Display for PartitionBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.transform {
            Transform::Day => write!(f, "day({})", self.column),
            Transform::Hour => write!(f, "hour({})", self.column),
            Transform::Value => f.write_str(&self.column),
        }
    }
}

impl FromStr for PartitionBy {
    type Err = BadOption;
    /// `day(col)`, `hour(col)` or `col`.
    fn from_str(s: &str) -> Result<Self, BadOption> {
        let bad = || {
            BadOption::new(
                "partition_by",
                s,
                "expected day(<column>), hour(<column>) or <column>",
            )
        };
        let text = s.trim();
        let (transform, column) = match text.split_once('(') {
            Some((f, rest)) => {
                let column = rest.strip_suffix(')').ok_or_else(bad)?;
                let transform = match f.trim().to_ascii_lowercase().as_str() {
                    "day" => Transform::Day,
                    "hour" => Transform::Hour,
                    _ => return Err(bad()),
                };
                (transform, column.trim())
            }
            None => (Transform::Value, text),
        };
        let ok = !column.is_empty()
            && column
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '$');
        if !ok {
            return Err(bad());
        }
        Ok(PartitionBy {
            transform,
            column: column.to_owned(),
        })
    }
}

/// The time zone partition days and hours of timestamps are taken in, when
/// nothing is given.
pub const DEFAULT_TIME_ZONE: &str = "UTC";

/// The resolved options of one table task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskOptions {
    /// File format.
    pub format: FileFormat,
    /// CSV: a header line with the column names.
    pub csv_header: bool,
    /// CSV: the text of NULL.
    pub csv_null: String,
    /// Parquet: column compression.
    pub compression: Compression,
    /// When to seal a segment.
    pub roll: RollPolicy,
    /// Hive-style partitioning, if any.
    pub partition_by: Option<PartitionBy>,
    /// The time zone of day and hour partitions of timestamps (`UTC`, a
    /// fixed offset like `+08:00`, or an IANA name); checked by the sink.
    pub time_zone: String,
}

impl Default for TaskOptions {
    fn default() -> Self {
        TaskOptions {
            format: FileFormat::default(),
            csv_header: true,
            csv_null: String::new(),
            compression: Compression::default(),
            roll: RollPolicy::default(),
            partition_by: None,
            time_zone: DEFAULT_TIME_ZONE.to_owned(),
        }
    }
}

/// What a create asks for; `None`: the default.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestedOptions {
    /// `parquet` or `csv`.
    pub format: Option<String>,
    /// CSV header line.
    pub csv_header: Option<bool>,
    /// CSV NULL token.
    pub csv_null: Option<String>,
    /// `none`, `snappy` or `zstd`.
    pub compression: Option<String>,
    /// Roll at this many rows (≥ 1).
    pub roll_max_rows: Option<u64>,
    /// Roll at this many bytes (≥ 1).
    pub roll_max_bytes: Option<u64>,
    /// Roll at this age in ms (≥ 1).
    pub roll_max_age_ms: Option<u64>,
    /// `day(col)`, `hour(col)`, `col`; empty: not partitioned.
    pub partition_by: Option<String>,
    /// Time zone of day and hour partitions.
    pub time_zone: Option<String>,
}

impl RequestedOptions {
    /// The options: each given field over `defaults`. A value that cannot be
    /// parsed, or a roll limit of 0, is an error naming the option.
    pub fn resolve(&self, defaults: &TaskOptions) -> Result<TaskOptions, BadOption> {
        let mut o = defaults.clone();
        if let Some(f) = &self.format {
            o.format = f.parse()?;
        }
        if let Some(h) = self.csv_header {
            o.csv_header = h;
        }
        if let Some(n) = &self.csv_null {
            if n.contains(['\n', '\r', '"', ',']) {
                return Err(BadOption::new(
                    "csv_null",
                    n,
                    "must not contain a comma, a quote or a line break",
                ));
            }
            o.csv_null = n.clone();
        }
        if let Some(c) = &self.compression {
            o.compression = c.parse()?;
        }
        let positive = |option: &'static str, v: Option<u64>, into: &mut u64| match v {
            Some(0) => Err(BadOption::new(option, "0", "must be at least 1")),
            Some(v) => {
                *into = v;
                Ok(())
            }
            None => Ok(()),
        };
        positive("roll_max_rows", self.roll_max_rows, &mut o.roll.max_rows)?;
        positive("roll_max_bytes", self.roll_max_bytes, &mut o.roll.max_bytes)?;
        positive(
            "roll_max_age_ms",
            self.roll_max_age_ms,
            &mut o.roll.max_age_ms,
        )?;
        if let Some(p) = &self.partition_by {
            o.partition_by = if p.trim().is_empty() {
                None
            } else {
                Some(p.parse()?)
            };
        }
        if let Some(tz) = &self.time_zone {
            let tz = tz.trim();
            if tz.is_empty() {
                return Err(BadOption::new(
                    "partition_time_zone",
                    tz,
                    "must name a time zone",
                ));
            }
            o.time_zone = tz.to_owned();
        }
        Ok(o)
    }
}

impl fmt::Display for TaskOptions {
    /// `format=parquet compression=snappy roll=1000000rows/134217728B/60000ms`
    /// (and the CSV settings, the partitioning and its time zone when they apply).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "format={}", self.format.as_str())?;
        match self.format {
            FileFormat::Parquet => write!(f, " compression={}", self.compression.as_str())?,
            FileFormat::Csv => write!(f, " header={} null={:?}", self.csv_header, self.csv_null)?,
        }
        write!(
            f,
            " roll={}rows/{}B/{}ms",
            self.roll.max_rows, self.roll.max_bytes, self.roll.max_age_ms
        )?;
        if let Some(p) = &self.partition_by {
            write!(f, " partition_by={p}")?;
            if p.transform != Transform::Value {
                write!(f, " time_zone={}", self.time_zone)?;
            }
        }
        Ok(())
    }
}

/// The options as persisted with a table task (tags only ever added).
#[derive(Clone, PartialEq, prost::Message)]
pub struct PersistedOptions {
    /// `parquet` or `csv`.
    #[prost(string, tag = "1")]
    pub format: String,
    /// CSV header.
    #[prost(bool, tag = "2")]
    pub csv_header: bool,
    /// CSV NULL token.
    #[prost(string, tag = "3")]
    pub csv_null: String,
    /// `none`, `snappy` or `zstd`.
    #[prost(string, tag = "4")]
    pub compression: String,
    /// Roll limits.
    #[prost(uint64, tag = "5")]
    pub roll_max_rows: u64,
    /// See `roll_max_rows`.
    #[prost(uint64, tag = "6")]
    pub roll_max_bytes: u64,
    /// See `roll_max_rows`.
    #[prost(uint64, tag = "7")]
    pub roll_max_age_ms: u64,
    /// `day(col)`, `hour(col)`, `col`; absent: not partitioned.
    #[prost(string, optional, tag = "8")]
    pub partition_by: Option<String>,
    /// Time zone of day and hour partitions.
    #[prost(string, tag = "9")]
    pub time_zone: String,
}

impl From<&TaskOptions> for PersistedOptions {
    fn from(o: &TaskOptions) -> Self {
        PersistedOptions {
            format: o.format.as_str().to_owned(),
            csv_header: o.csv_header,
            csv_null: o.csv_null.clone(),
            compression: o.compression.as_str().to_owned(),
            roll_max_rows: o.roll.max_rows,
            roll_max_bytes: o.roll.max_bytes,
            roll_max_age_ms: o.roll.max_age_ms,
            partition_by: o.partition_by.as_ref().map(ToString::to_string),
            time_zone: o.time_zone.clone(),
        }
    }
}

impl TryFrom<&PersistedOptions> for TaskOptions {
    type Error = BadOption;
    fn try_from(p: &PersistedOptions) -> Result<Self, BadOption> {
        let defaults = TaskOptions::default();
        let or = |v: u64, d: u64| if v == 0 { d } else { v };
        Ok(TaskOptions {
            format: p.format.parse()?,
            csv_header: p.csv_header,
            csv_null: p.csv_null.clone(),
            compression: p.compression.parse()?,
            roll: RollPolicy {
                max_rows: or(p.roll_max_rows, defaults.roll.max_rows),
                max_bytes: or(p.roll_max_bytes, defaults.roll.max_bytes),
                max_age_ms: or(p.roll_max_age_ms, defaults.roll.max_age_ms),
            },
            partition_by: p.partition_by.as_deref().map(str::parse).transpose()?,
            time_zone: if p.time_zone.is_empty() {
                DEFAULT_TIME_ZONE.to_owned()
            } else {
                p.time_zone.clone()
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requested_fields_override_the_defaults() {
        let defaults = TaskOptions::default();
        let none = RequestedOptions::default().resolve(&defaults).unwrap();
        assert_eq!(
            none, defaults,
            "a request without options gets the defaults"
        );
        let r = RequestedOptions {
            format: Some("CSV".into()),
            csv_header: Some(false),
            csv_null: Some("\\N".into()),
            compression: Some("zstd".into()),
            roll_max_rows: Some(10),
            partition_by: Some("day(ts)".into()),
            time_zone: Some("+08:00".into()),
            ..Default::default()
        };
        let o = r.resolve(&defaults).unwrap();
        assert_eq!(o.format, FileFormat::Csv);
        assert!(!o.csv_header);
        assert_eq!(o.csv_null, "\\N");
        assert_eq!(o.compression, Compression::Zstd);
        assert_eq!(o.roll.max_rows, 10);
        assert_eq!(o.roll.max_bytes, defaults.roll.max_bytes);
        assert_eq!(
            o.partition_by,
            Some(PartitionBy {
                transform: Transform::Day,
                column: "ts".into()
            })
        );
        assert_eq!(o.time_zone, "+08:00");
        let back = TaskOptions::try_from(&PersistedOptions::from(&o)).unwrap();
        assert_eq!(back, o, "persisted options read back the same");
    }

    #[test]
    fn bad_values_name_the_option() {
        let d = TaskOptions::default();
        let cases: Vec<(RequestedOptions, &str)> = vec![
            (
                RequestedOptions {
                    format: Some("orc".into()),
                    ..Default::default()
                },
                "format `orc`",
            ),
            (
                RequestedOptions {
                    compression: Some("lzo".into()),
                    ..Default::default()
                },
                "parquet_compression `lzo`",
            ),
            (
                RequestedOptions {
                    roll_max_bytes: Some(0),
                    ..Default::default()
                },
                "roll_max_bytes `0`",
            ),
            (
                RequestedOptions {
                    partition_by: Some("week(ts)".into()),
                    ..Default::default()
                },
                "partition_by `week(ts)`",
            ),
            (
                RequestedOptions {
                    partition_by: Some("day(ts".into()),
                    ..Default::default()
                },
                "partition_by",
            ),
            (
                RequestedOptions {
                    csv_null: Some("a,b".into()),
                    ..Default::default()
                },
                "csv_null",
            ),
        ];
        for (r, want) in cases {
            let err = r.resolve(&d).expect_err(want).to_string();
            assert!(err.contains(want), "{err} should name {want}");
        }
    }

    #[test]
    fn partition_specs_parse_and_print() {
        for (text, key) in [("day(ts)", "day"), ("hour( ts )", "hour"), ("city", "city")] {
            let p: PartitionBy = text.parse().unwrap();
            assert_eq!(p.key(), key);
            assert_eq!(p.to_string().parse::<PartitionBy>().unwrap(), p);
        }
        assert!("a/b".parse::<PartitionBy>().is_err());
        assert!("".parse::<PartitionBy>().is_err());
        let empty = RequestedOptions {
            partition_by: Some(" ".into()),
            ..Default::default()
        };
        let d = TaskOptions {
            partition_by: Some("city".parse().unwrap()),
            ..TaskOptions::default()
        };
        assert_eq!(
            empty.resolve(&d).unwrap().partition_by,
            None,
            "an empty partition_by turns a default partitioning off"
        );
    }
}
