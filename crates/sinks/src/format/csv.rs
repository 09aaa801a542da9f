//! CSV output (RFC 4180).
//!
//! * Fields are separated by `,`; records end with `\n` (`\r\n` with
//!   [`CsvOptions::crlf`]). The file ends with a record terminator.
//! * A field is quoted (`"…"`, inner `"` doubled) when it contains `,`, `"`,
//!   CR or LF, when it is an empty string, or when it equals the NULL token.
//!   Nothing else is quoted.
//! * **NULL** is [`CsvOptions::null`], written unquoted; by default the empty
//!   token, so a NULL is an empty unquoted field and an empty string is `""`
//!   (what Spark's and pyarrow's readers distinguish with their defaults).
//! * With [`CsvOptions::header`] (the default) the first record holds the
//!   column names (latest schema).
//! * Strings are written as UTF-8, unchanged (no `\u` escapes); bytes that are
//!   not UTF-8 follow [`super::InvalidUtf8`].
//! * bool: `true` / `false`; integers in decimal; floats in the shortest form
//!   that parses back to the same value (`1.5`, `1e-7`, `-0.0`), and `NaN`,
//!   `Inf`, `-Inf` (Spark's CSV defaults).
//! * date: `YYYY-MM-DD` as stored.
//! * timestamp: [`TimestampFormat::Iso8601Utc`] (default,
//!   `2023-11-14T22:13:20.123Z`, always UTC, always milliseconds) or
//!   [`TimestampFormat::EpochMillis`]. Neither depends on a time zone.

use std::fmt::Write as _;

use sync_core::row::ValueRef;

use super::time::push_iso8601_utc;
use super::{BadRows, InvalidUtf8, RowScreen, SegmentError, for_each_row, text, value};
use crate::schema::TableSchema;

/// How timestamps (milliseconds since the epoch) are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimestampFormat {
    /// ISO-8601 in UTC with milliseconds: `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    #[default]
    Iso8601Utc,
    /// The number of milliseconds since 1970-01-01T00:00:00Z.
    EpochMillis,
}

/// CSV settings; see the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvOptions {
    /// Write a header record with the column names.
    pub header: bool,
    /// The NULL token (default: empty).
    pub null: String,
    /// Timestamp form.
    pub timestamp: TimestampFormat,
    /// End records with CRLF instead of LF.
    pub crlf: bool,
    /// Strings that are not UTF-8.
    pub invalid_utf8: InvalidUtf8,
    /// A column left out of the file (the column of a value partition,
    /// whose value is in the directory name; see [`crate::partition`]).
    pub omit_column: Option<usize>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            header: true,
            null: String::new(),
            timestamp: TimestampFormat::default(),
            crlf: false,
            invalid_utf8: InvalidUtf8::default(),
            omit_column: None,
        }
    }
}

/// Encodes a segment as CSV; a row that cannot be written fails it.
pub fn encode(
    opts: &CsvOptions,
    schema: &TableSchema,
    rows: &[u8],
    row_count: u64,
) -> Result<Vec<u8>, SegmentError> {
    let mut screen = RowScreen::new(BadRows::Fail, opts.invalid_utf8);
    encode_with(opts, schema, rows, row_count, &mut screen)
}

/// Encodes a segment as CSV, leaving out the rows `screen` rejects.
pub(crate) fn encode_with(
    opts: &CsvOptions,
    schema: &TableSchema,
    rows: &[u8],
    row_count: u64,
    screen: &mut RowScreen,
) -> Result<Vec<u8>, SegmentError> {
    // The columns written, with their index in the row.
    let columns: Vec<(usize, &crate::row::Column)> = schema
        .columns()
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != opts.omit_column)
        .collect();
    let eol = if opts.crlf { "\r\n" } else { "\n" };
    let mut out = String::with_capacity(rows.len() + rows.len() / 4);
    if opts.header {
        for (n, (_, c)) in columns.iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            push_text(&mut out, &c.name, &opts.null);
        }
        out.push_str(eol);
    }
    for_each_row(schema, rows, row_count, screen, |index, view| {
        for (n, (i, c)) in columns.iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            match value(view, index, *i)? {
                ValueRef::String(bytes) => {
                    let s = text(bytes, opts.invalid_utf8, index, &c.name)?;
                    push_text(&mut out, &s, &opts.null);
                }
                v => push_scalar(&mut out, v, opts),
            }
        }
        out.push_str(eol);
        Ok(())
    })?;
    Ok(out.into_bytes())
}

/// Appends a string field, quoted when it must be.
pub fn push_text(out: &mut String, s: &str, null: &str) {
    let quote =
        s.is_empty() || s == null || s.bytes().any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n'));
    if !quote {
        out.push_str(s);
        return;
    }
    out.push('"');
    for (i, part) in s.split('"').enumerate() {
        if i > 0 {
            out.push_str("\"\"");
        }
        out.push_str(part);
    }
    out.push('"');
}

/// Appends a non-string field.
fn push_scalar(out: &mut String, v: ValueRef<'_>, opts: &CsvOptions) {
    // Writing to a String cannot fail.
    let _ = match v {
        ValueRef::Null | ValueRef::String(_) => {
            out.push_str(&opts.null);
            Ok(())
        }
        ValueRef::Bool(b) => {
            out.push_str(if b { "true" } else { "false" });
            Ok(())
        }
        ValueRef::SmallInt(n) => write!(out, "{n}"),
        ValueRef::Int(n) => write!(out, "{n}"),
        ValueRef::BigInt(n) => write!(out, "{n}"),
        ValueRef::Float(f) if f.is_finite() => write!(out, "{f:?}"),
        ValueRef::Double(f) if f.is_finite() => write!(out, "{f:?}"),
        ValueRef::Float(f) => push_non_finite(out, f64::from(f)),
        ValueRef::Double(f) => push_non_finite(out, f),
        ValueRef::Date(d) => write!(out, "{d}"),
        ValueRef::Timestamp(ms) => match opts.timestamp {
            TimestampFormat::Iso8601Utc => {
                push_iso8601_utc(out, ms);
                Ok(())
            }
            TimestampFormat::EpochMillis => write!(out, "{ms}"),
        },
    };
}

/// Spark's `NaN` / `Inf` / `-Inf` (finite floats use Rust's `Debug` form,
/// the shortest text that parses back to the same value: `1.0`, `1e-7`).
fn push_non_finite(out: &mut String, f: f64) -> std::fmt::Result {
    out.push_str(if f.is_nan() {
        "NaN"
    } else if f > 0.0 {
        "Inf"
    } else {
        "-Inf"
    });
    Ok(())
}
