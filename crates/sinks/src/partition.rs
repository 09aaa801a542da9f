//! Hive-style partitioning of a task's files
//! ([`sync_core::task::PartitionBy`]): which directory a row goes to.
//!
//! * `day(col)` / `hour(col)` of a timestamp or date column: the directory
//!   `day=YYYY-MM-DD/` or `hour=YYYY-MM-DD-HH/`, a timestamp taken in the
//!   task's time zone ([`crate::time_zone`]), a date as it is (hour `00`).
//!   The column stays in the files; `day` / `hour` is a column only readers
//!   with Hive partitioning see, so the table must not have a column of that
//!   name.
//! * `col`: the column's value, `col=<value>/`. The column is **left out of
//!   the files**, as Hive and Spark write it: readers with Hive partitioning
//!   (Spark, pyarrow `partitioning="hive"`, DuckDB `hive_partitioning=true`)
//!   take it from the path; a column both in the files and in the path makes
//!   their schemas clash. Allowed for bool, integer, date and string columns.
//!
//! Values are escaped as Hive's `FileUtils.escapePathName` does (`%XX`,
//! upper-case hex, for control characters and `"#%'*/:=?\{[]^` and DEL);
//! NULL and the empty string are `__HIVE_DEFAULT_PARTITION__`.

use std::fmt::Write as _;

use sync_core::row::{ColumnType, RowView, ValueRef};
use sync_core::task::{PartitionBy, TaskOptions, Transform};

use crate::schema::TableSchema;
use crate::time_zone::{TimeZoneError, parse_time_zone};

/// The directory value of NULL (and of the empty string), as Hive writes it.
pub const HIVE_DEFAULT_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

/// Why a task's partitioning cannot be used with its table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PartitionError {
    /// The column is not in the table.
    #[error("partition_by `{spec}`: the table has no column `{column}` (columns: {columns})")]
    NoColumn {
        /// The partitioning asked for.
        spec: String,
        /// The column named.
        column: String,
        /// The table's columns.
        columns: String,
    },
    /// The column's type does not suit the transform.
    #[error("partition_by `{spec}`: column `{column}` is {ty}; {expected}")]
    Type {
        /// The partitioning asked for.
        spec: String,
        /// The column.
        column: String,
        /// Its type.
        ty: String,
        /// What would do.
        expected: &'static str,
    },
    /// `day` / `hour` would clash with a column of the table.
    #[error(
        "partition_by `{spec}`: the table has a column `{key}`, which the directory key `{key}=` would hide; partition by the column's value instead"
    )]
    KeyClash {
        /// The partitioning asked for.
        spec: String,
        /// The key.
        key: String,
    },
    /// A column whose name readers skip (`_…`, `.…`).
    #[error(
        "partition_by `{spec}`: a directory `{key}=…` starts with `_` or `.`, which readers skip"
    )]
    Hidden {
        /// The partitioning asked for.
        spec: String,
        /// The key.
        key: String,
    },
    /// The time zone is unknown.
    #[error(transparent)]
    TimeZone(#[from] TimeZoneError),
}

/// Checks, at create, that `options` can be used with `schema`: the
/// partition column exists and suits its transform, and the time zone is
/// known. Options without partitioning always pass.
pub fn check_options(options: &TaskOptions, schema: &TableSchema) -> Result<(), PartitionError> {
    if let Some(p) = &options.partition_by {
        Partitioner::new(p, &options.time_zone, schema)?;
    }
    Ok(())
}

/// Computes the directory of rows of one table.
#[derive(Debug, Clone)]
pub struct Partitioner {
    key: String,
    index: usize,
    transform: Transform,
    tz: jiff::tz::TimeZone,
}

impl Partitioner {
    /// The partitioner of `spec` over `schema`'s latest columns.
    pub fn new(
        spec: &PartitionBy,
        time_zone: &str,
        schema: &TableSchema,
    ) -> Result<Self, PartitionError> {
        let columns = schema.columns();
        let text = spec.to_string();
        let index = columns
            .iter()
            .position(|c| c.name == spec.column)
            .ok_or_else(|| PartitionError::NoColumn {
                spec: text.clone(),
                column: spec.column.clone(),
                columns: columns
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let ty = columns[index].ty;
        let type_error = |expected| PartitionError::Type {
            spec: text.clone(),
            column: spec.column.clone(),
            ty: format!("{ty:?}").to_ascii_lowercase(),
            expected,
        };
        match spec.transform {
            Transform::Day | Transform::Hour => {
                if !matches!(ty, ColumnType::Timestamp | ColumnType::Date) {
                    return Err(type_error("day and hour need a timestamp or date column"));
                }
                if columns.iter().any(|c| c.name == spec.key()) {
                    return Err(PartitionError::KeyClash {
                        spec: text,
                        key: spec.key().to_owned(),
                    });
                }
            }
            Transform::Value => {
                if matches!(
                    ty,
                    ColumnType::Float | ColumnType::Double | ColumnType::Timestamp
                ) {
                    return Err(type_error(
                        "partition a timestamp by day(…) or hour(…); floats cannot be partitioned",
                    ));
                }
            }
        }
        if spec.key().starts_with(['_', '.']) {
            return Err(PartitionError::Hidden {
                spec: text,
                key: spec.key().to_owned(),
            });
        }
        Ok(Partitioner {
            key: spec.key().to_owned(),
            index,
            transform: spec.transform,
            tz: parse_time_zone(time_zone)?,
        })
    }

    /// The directory of rows whose value cannot be read (the default partition).
    pub fn default_dir(&self) -> String {
        dir_name(&self.key, None)
    }

    /// The column left out of the files (a value partition's column).
    pub fn omitted_column(&self) -> Option<usize> {
        (self.transform == Transform::Value).then_some(self.index)
    }

    /// The directory (relative to the destination, with a trailing `/`)
    /// of a decoded row. A value that cannot be read goes to the default
    /// partition (the encoder then handles the row as a bad row).
    pub fn dir(&self, view: &RowView<'_>) -> String {
        let value = if self.index < view.len() {
            view.get(self.index).ok().and_then(|v| self.value(v))
        } else {
            None
        };
        dir_name(&self.key, value.as_deref())
    }

    fn value(&self, v: ValueRef<'_>) -> Option<String> {
        let mut out = String::new();
        match (self.transform, v) {
            (_, ValueRef::Null) => return None,
            (Transform::Day | Transform::Hour, ValueRef::Timestamp(ms)) => {
                let ts = jiff::Timestamp::from_millisecond(ms).ok()?;
                let dt = self.tz.to_datetime(ts);
                let _ = write!(out, "{:04}-{:02}-{:02}", dt.year(), dt.month(), dt.day());
                if self.transform == Transform::Hour {
                    let _ = write!(out, "-{:02}", dt.hour());
                }
            }
            (Transform::Day | Transform::Hour, ValueRef::Date(d)) => {
                let _ = write!(out, "{:04}-{:02}-{:02}", d.year, d.month, d.day);
                if self.transform == Transform::Hour {
                    out.push_str("-00");
                }
            }
            (Transform::Value, ValueRef::Bool(b)) => out.push_str(if b { "true" } else { "false" }),
            (Transform::Value, ValueRef::SmallInt(n)) => {
                let _ = write!(out, "{n}");
            }
            (Transform::Value, ValueRef::Int(n)) => {
                let _ = write!(out, "{n}");
            }
            (Transform::Value, ValueRef::BigInt(n)) => {
                let _ = write!(out, "{n}");
            }
            (Transform::Value, ValueRef::Date(d)) => {
                let _ = write!(out, "{:04}-{:02}-{:02}", d.year, d.month, d.day);
            }
            (Transform::Value, ValueRef::String(bytes)) => {
                out.push_str(&String::from_utf8_lossy(bytes));
            }
            _ => return None,
        }
        Some(out)
    }
}

/// `<key>=<escaped value>/`, NULL and empty as [`HIVE_DEFAULT_PARTITION`].
pub fn dir_name(key: &str, value: Option<&str>) -> String {
    match value {
        Some(v) if !v.is_empty() => format!("{}={}/", escape(key), escape(v)),
        _ => format!("{}={HIVE_DEFAULT_PARTITION}/", escape(key)),
    }
}

/// Escapes a partition key or value as Hive does.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let special = matches!(
            c,
            '\u{01}'
                ..='\u{1f}'
                    | '\u{7f}'
                    | '"'
                    | '#'
                    | '%'
                    | '\''
                    | '*'
                    | '/'
                    | ':'
                    | '='
                    | '?'
                    | '\\'
                    | '{'
                    | '['
                    | ']'
                    | '^'
        );
        if special {
            let _ = write!(out, "%{:02X}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

/// Reverses [`escape`] (for readers and tests).
pub fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use sync_core::row::{Column, Date, SchemaVersions, Value, encode_row};

    use super::*;

    fn schema(cols: &[(&str, ColumnType)]) -> TableSchema {
        let columns: Vec<Column> = cols.iter().map(|(n, t)| Column::new(*n, *t)).collect();
        TableSchema::new("db.t", SchemaVersions::new(columns, vec![], &[]).unwrap()).unwrap()
    }

    fn spec(s: &str) -> PartitionBy {
        s.parse().unwrap()
    }

    #[test]
    fn values_are_escaped_as_hive_does() {
        assert_eq!(escape("a/b=c%d"), "a%2Fb%3Dc%25d");
        assert_eq!(
            escape("x:y?*#'\"\\{[]^"),
            "x%3Ay%3F%2A%23%27%22%5C%7B%5B%5D%5E"
        );
        assert_eq!(escape("tab\there\u{7f}"), "tab%09here%7F");
        assert_eq!(escape("Beijing 北京-1.5_x"), "Beijing 北京-1.5_x");
        for s in ["a/b=c%d", "北京/x", "%%", "100%"] {
            assert_eq!(unescape(&escape(s)), s);
        }
        assert_eq!(dir_name("city", Some("a/b")), "city=a%2Fb/");
        assert_eq!(dir_name("city", None), "city=__HIVE_DEFAULT_PARTITION__/");
        assert_eq!(
            dir_name("city", Some("")),
            "city=__HIVE_DEFAULT_PARTITION__/"
        );
    }

    #[test]
    fn days_and_hours_follow_the_time_zone() {
        let s = schema(&[
            ("id", ColumnType::Int),
            ("ts", ColumnType::Timestamp),
            ("d", ColumnType::Date),
        ]);
        // 2026-11-30T20:30:00Z
        let ms = 1_796_070_600_000i64;
        let row = encode_row(
            s.columns(),
            1,
            &[
                Value::Int(1),
                Value::Timestamp(ms),
                Value::Date(Date {
                    year: 2026,
                    month: 12,
                    day: 1,
                }),
            ],
        )
        .unwrap();
        let (_, view) = s.versions().view(&row).unwrap();
        let dir = |p: &str, tz: &str| Partitioner::new(&spec(p), tz, &s).unwrap().dir(&view);
        assert_eq!(dir("day(ts)", "UTC"), "day=2026-11-30/");
        assert_eq!(dir("day(ts)", "+08:00"), "day=2026-12-01/");
        assert_eq!(dir("hour(ts)", "UTC"), "hour=2026-11-30-20/");
        assert_eq!(dir("hour(ts)", "+08:00"), "hour=2026-12-01-04/");
        assert_eq!(dir("hour(ts)", "-03:30"), "hour=2026-11-30-17/");
        assert_eq!(dir("day(d)", "+08:00"), "day=2026-12-01/");
        assert_eq!(dir("hour(d)", "UTC"), "hour=2026-12-01-00/");
        assert_eq!(dir("id", "UTC"), "id=1/");
        if parse_time_zone("Asia/Shanghai").is_ok() {
            assert_eq!(dir("day(ts)", "Asia/Shanghai"), "day=2026-12-01/");
        }
    }

    #[test]
    fn unusable_partitionings_are_refused() {
        let s = schema(&[
            ("id", ColumnType::Int),
            ("ts", ColumnType::Timestamp),
            ("score", ColumnType::Double),
            ("day", ColumnType::String),
            ("_x", ColumnType::Int),
        ]);
        let err = |p: &str, tz: &str| Partitioner::new(&spec(p), tz, &s).unwrap_err().to_string();
        assert!(err("day(nope)", "UTC").contains("no column `nope`"));
        assert!(err("day(id)", "UTC").contains("timestamp or date"));
        assert!(err("score", "UTC").contains("floats"));
        assert!(err("ts", "UTC").contains("day(…)"));
        assert!(err("_x", "UTC").contains("readers skip"));
        assert!(err("day(ts)", "UTC").contains("has a column `day`"));
        assert!(err("hour(ts)", "Mars/Olympus").contains("Mars/Olympus"));
        assert!(Partitioner::new(&spec("hour(ts)"), "+05:45", &s).is_ok());
        let p = Partitioner::new(&spec("id"), "UTC", &s).unwrap();
        assert_eq!(p.omitted_column(), Some(0));
        let p = Partitioner::new(&spec("hour(ts)"), "UTC", &s).unwrap();
        assert_eq!(p.omitted_column(), None, "day and hour keep their column");
    }
}
