//! Output formats: how a segment's encoded OpenMLDB rows become one file.
//!
//! * [`csv`]: RFC 4180 CSV (see [`CsvOptions`] for NULL, escaping, dates and
//!   timestamps);
//! * [`parquet`]: Parquet through arrow-rs, typed columns.
//!
//! Both decode each row with the schema version in its header and write the
//! table's latest columns (older rows get NULL in the newer columns; see
//! [`crate::schema`]). A string that is not valid UTF-8 is handled by
//! [`InvalidUtf8`]: by default each invalid sequence becomes U+FFFD (the row is
//! kept, the bytes are not), or the stage fails.

pub mod csv;
pub mod parquet;
pub mod time;

use std::borrow::Cow;

use sync_core::row::{RowError, RowView, ValueRef, split_rows};

use crate::schema::TableSchema;

pub use self::csv::{CsvOptions, TimestampFormat};
pub use self::parquet::{ParquetCompression, ParquetOptions};

/// What to do with string bytes that are not UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InvalidUtf8 {
    /// Replace each invalid sequence with U+FFFD (`String::from_utf8_lossy`).
    #[default]
    Replace,
    /// Fail the stage with an encoding error naming the row.
    Error,
}

/// The file format of the visible files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputFormat {
    /// CSV, `.csv`.
    Csv(CsvOptions),
    /// Parquet, `.parquet`.
    Parquet(ParquetOptions),
}

impl Default for OutputFormat {
    fn default() -> Self {
        OutputFormat::Csv(CsvOptions::default())
    }
}

impl OutputFormat {
    /// The file extension, without the dot.
    pub fn extension(&self) -> &'static str {
        match self {
            OutputFormat::Csv(_) => "csv",
            OutputFormat::Parquet(_) => "parquet",
        }
    }

    /// The format's name for messages.
    pub fn name(&self) -> &'static str {
        self.extension()
    }

    /// Encodes the `row_count` concatenated rows of `rows` as one file.
    pub fn encode(
        &self,
        schema: &TableSchema,
        rows: &[u8],
        row_count: u64,
    ) -> Result<Vec<u8>, SegmentError> {
        match self {
            OutputFormat::Csv(opts) => csv::encode(opts, schema, rows, row_count),
            OutputFormat::Parquet(opts) => parquet::encode(opts, schema, rows, row_count),
        }
    }
}

/// Why a segment could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    /// Row `index` cannot be decoded.
    #[error("row {index}: {source}")]
    Row {
        /// Index of the row in the segment.
        index: u64,
        /// The decoder's error.
        #[source]
        source: RowError,
    },
    /// The bytes hold another number of rows than declared.
    #[error("{found} rows, expected {expected}")]
    RowCount {
        /// Declared.
        expected: u64,
        /// Found.
        found: u64,
    },
    /// The format writer failed, or a value cannot be represented.
    #[error("{0}")]
    Encode(String),
}

/// Calls `f` with every row of `rows`, decoded with its own schema version,
/// and checks that there are exactly `expected` rows.
pub(crate) fn for_each_row(
    schema: &TableSchema,
    rows: &[u8],
    expected: u64,
    mut f: impl FnMut(u64, &RowView<'_>) -> Result<(), SegmentError>,
) -> Result<(), SegmentError> {
    let mut index = 0u64;
    for row in split_rows(rows) {
        let row = row.map_err(|source| SegmentError::Row { index, source })?;
        let (_, view) = schema
            .versions()
            .view(row)
            .map_err(|source| SegmentError::Row { index, source })?;
        f(index, &view)?;
        index += 1;
    }
    if index != expected {
        return Err(SegmentError::RowCount {
            expected,
            found: index,
        });
    }
    Ok(())
}

/// Column `i` of a row; NULL past the row's own columns (an older version).
pub(crate) fn value<'a>(
    view: &RowView<'a>,
    index: u64,
    i: usize,
) -> Result<ValueRef<'a>, SegmentError> {
    if i >= view.len() {
        return Ok(ValueRef::Null);
    }
    view.get(i)
        .map_err(|source| SegmentError::Row { index, source })
}

/// String bytes as text, per the [`InvalidUtf8`] policy.
pub(crate) fn text<'a>(
    bytes: &'a [u8],
    policy: InvalidUtf8,
    index: u64,
    column: &str,
) -> Result<Cow<'a, str>, SegmentError> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(Cow::Borrowed(s)),
        Err(e) => match policy {
            InvalidUtf8::Replace => Ok(String::from_utf8_lossy(bytes)),
            InvalidUtf8::Error => Err(SegmentError::Encode(format!(
                "row {index}: column {column}: string is not UTF-8 ({e})"
            ))),
        },
    }
}
