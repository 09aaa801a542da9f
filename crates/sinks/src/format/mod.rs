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
//! kept, the bytes are not), or the row is bad. A row that cannot be decoded
//! (a corrupt header, a date that is no calendar date — decoded as OpenMLDB
//! decodes it, for the message —, a string that is not UTF-8 under
//! [`InvalidUtf8::Error`]) is handled by [`BadRows`]: the stage fails, the
//! row is skipped, or it is set aside ([`Rejected`]) for `_rejected/`.

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

/// What to do with a row that cannot be written (`sink.bad_rows`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BadRows {
    /// The stage fails (the part FAILS with the row's position and reason).
    #[default]
    Fail,
    /// The row is left out, and counted.
    Skip,
    /// The row is left out and written, raw, with its position and the
    /// reason, to `_rejected/` under the destination (and counted).
    DeadLetter,
}

impl BadRows {
    /// From `fail`, `skip` or `dead_letter`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "fail" => Some(BadRows::Fail),
            "skip" => Some(BadRows::Skip),
            "dead_letter" => Some(BadRows::DeadLetter),
            _ => None,
        }
    }

    /// `fail`, `skip` or `dead_letter`.
    pub fn as_str(self) -> &'static str {
        match self {
            BadRows::Fail => "fail",
            BadRows::Skip => "skip",
            BadRows::DeadLetter => "dead_letter",
        }
    }
}

/// A row left out of a segment's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Its index in the segment.
    pub index: u64,
    /// Why it cannot be written.
    pub reason: String,
    /// The row as stored.
    pub raw: Vec<u8>,
}

/// A segment encoded as one file, and the rows left out of it.
#[derive(Debug)]
pub struct Encoded {
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// The rows left out ([`BadRows::Skip`] and [`BadRows::DeadLetter`]).
    pub rejected: Vec<Rejected>,
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

    /// Encodes the `row_count` concatenated rows of `rows` as one file;
    /// rows that cannot be written are handled by `bad_rows`.
    pub fn encode(
        &self,
        schema: &TableSchema,
        rows: &[u8],
        row_count: u64,
        bad_rows: BadRows,
    ) -> Result<Encoded, SegmentError> {
        let bytes = match self {
            OutputFormat::Csv(opts) => {
                let mut screen = RowScreen::new(bad_rows, opts.invalid_utf8);
                let bytes = csv::encode_with(opts, schema, rows, row_count, &mut screen)?;
                (bytes, screen)
            }
            OutputFormat::Parquet(opts) => {
                let mut screen = RowScreen::new(bad_rows, opts.invalid_utf8);
                let bytes = parquet::encode_with(opts, schema, rows, row_count, &mut screen)?;
                (bytes, screen)
            }
        };
        let (bytes, screen) = bytes;
        Ok(Encoded {
            bytes,
            rejected: screen.rejected,
        })
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

/// Decides, row by row, whether a row can be written ([`BadRows`]).
pub(crate) struct RowScreen {
    policy: BadRows,
    invalid_utf8: InvalidUtf8,
    /// The rows left out.
    pub(crate) rejected: Vec<Rejected>,
}

impl RowScreen {
    pub(crate) fn new(policy: BadRows, invalid_utf8: InvalidUtf8) -> Self {
        RowScreen {
            policy,
            invalid_utf8,
            rejected: Vec::new(),
        }
    }

    /// Whether the decoded row `view` can be written: every value decodes
    /// and, under [`InvalidUtf8::Error`], every string is UTF-8.
    fn check(&self, view: &RowView<'_>) -> Result<(), String> {
        for i in 0..view.len() {
            match view.get(i) {
                Err(e) => return Err(e.to_string()),
                Ok(ValueRef::String(bytes))
                    if self.invalid_utf8 == InvalidUtf8::Error
                        && std::str::from_utf8(bytes).is_err() =>
                {
                    return Err(format!("column {i}: string is not UTF-8"));
                }
                Ok(_) => {}
            }
        }
        Ok(())
    }

    /// A bad row: an error under [`BadRows::Fail`], else set aside.
    fn reject(&mut self, index: u64, raw: &[u8], error: SegmentError) -> Result<(), SegmentError> {
        if self.policy == BadRows::Fail {
            return Err(error);
        }
        self.rejected.push(Rejected {
            index,
            reason: error.to_string(),
            raw: raw.to_vec(),
        });
        Ok(())
    }
}

/// Calls `f` with every row of `rows` that can be written, decoded with its
/// own schema version (the others go to `screen`), and checks that there
/// are exactly `expected` rows.
pub(crate) fn for_each_row(
    schema: &TableSchema,
    rows: &[u8],
    expected: u64,
    screen: &mut RowScreen,
    mut f: impl FnMut(u64, &RowView<'_>) -> Result<(), SegmentError>,
) -> Result<(), SegmentError> {
    let mut index = 0u64;
    for row in split_rows(rows) {
        // A row whose length header is broken ends the split: nothing after
        // it can be found, so that is no single bad row.
        let row = row.map_err(|source| SegmentError::Row { index, source })?;
        match schema.versions().view(row) {
            Err(source) => screen.reject(index, row, SegmentError::Row { index, source })?,
            Ok((_, view)) => {
                if screen.policy != BadRows::Fail
                    && let Err(reason) = screen.check(&view)
                {
                    screen.reject(
                        index,
                        row,
                        SegmentError::Encode(format!("row {index}: {reason}")),
                    )?;
                } else {
                    f(index, &view)?;
                }
            }
        }
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
