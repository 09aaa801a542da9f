//! Errors of the row codec.
//!
//! Every variant says *what* is wrong and *where*: a byte offset inside the row
//! (or inside a pack of rows), and for column-level problems the column's index
//! in the schema and its name. Decoding never panics: malformed input always
//! comes back as one of these values.

use super::types::ColumnType;

/// Why a calendar date cannot be stored in OpenMLDB's packed `date` field.
///
/// OpenMLDB accepts years 1900–9999, months 1–12 and days 1–31 (it does not
/// check the day against the month's length, and neither do we).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid date {year}-{month}-{day}: year must be 1900..=9999, month 1..=12 and day 1..=31")]
pub struct DateError {
    /// The year as given or as unpacked.
    pub year: i32,
    /// The month as given or as unpacked (1-based).
    pub month: i32,
    /// The day as given or as unpacked.
    pub day: i32,
}

/// Everything that can go wrong while encoding, decoding, splitting or
/// decompressing OpenMLDB rows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    /// A schema with no columns: OpenMLDB cannot encode or decode such rows.
    #[error("the schema has no columns")]
    EmptySchema,

    /// Fewer than the 6 header bytes.
    #[error("row is {len} bytes, shorter than the 6-byte header")]
    ShortHeader {
        /// Bytes available.
        len: usize,
    },

    /// Byte 0 is not format version 1.
    #[error("byte 0 (format version) is {found}, expected 1")]
    BadFormatVersion {
        /// The byte found.
        found: u8,
    },

    /// The header's length field is below the smallest possible row
    /// (6 header bytes + at least one bitmap byte).
    #[error("bytes 2..6 declare a row length of {declared}, below the minimum of 7 bytes")]
    DeclaredLengthTooSmall {
        /// The declared total length.
        declared: u32,
    },

    /// The header's length field disagrees with the size of the buffer.
    #[error("bytes 2..6 declare a row length of {declared} bytes but the row is {actual} bytes")]
    LengthMismatch {
        /// The declared total length.
        declared: u32,
        /// The actual buffer length.
        actual: usize,
    },

    /// A row of a pack claims more bytes than the pack has left.
    #[error(
        "bytes 2..6 declare a row length of {declared} bytes but only {available} bytes remain"
    )]
    Truncated {
        /// The declared total length.
        declared: u32,
        /// Bytes left in the buffer from the row's start.
        available: usize,
    },

    /// The row cannot even hold the header, null bitmap, fixed-width fields
    /// and string offset table that its schema requires.
    #[error(
        "row is {len} bytes but its schema ({columns} columns, {strings} of them strings) \
         needs at least {need} bytes for header, null bitmap, fixed-width fields and string offsets"
    )]
    TooShortForSchema {
        /// The row length.
        len: usize,
        /// The minimum length for the schema.
        need: usize,
        /// Columns in the schema.
        columns: usize,
        /// String columns in the schema.
        strings: usize,
    },

    /// A string offset slot does not hold the offset where the string must
    /// begin (right after the previous string, or at the start of the string
    /// area for the first one).
    #[error(
        "column {column} ({name:?}): string offset slot at byte {slot_at} holds {found}, \
         expected {expected}"
    )]
    StringOffsetMismatch {
        /// Column index in the schema.
        column: usize,
        /// Column name.
        name: String,
        /// Byte offset of the slot in the row.
        slot_at: usize,
        /// Offset read from the slot.
        found: u64,
        /// Offset the string must start at.
        expected: u64,
    },

    /// A string would end before it starts.
    #[error(
        "column {column} ({name:?}): string ends at byte {end} (slot at byte {slot_at}) \
         before it starts at byte {start}"
    )]
    StringOffsetsDecreasing {
        /// Column index in the schema.
        column: usize,
        /// Column name.
        name: String,
        /// Byte offset of the slot holding the end (the next string's slot).
        slot_at: usize,
        /// Start of the string.
        start: u64,
        /// End read from the slot.
        end: u64,
    },

    /// A string would end past the end of the row.
    #[error(
        "column {column} ({name:?}): string ends at byte {end} (slot at byte {slot_at}), \
         past the row's end at {total}"
    )]
    StringOffsetOutOfRange {
        /// Column index in the schema.
        column: usize,
        /// Column name.
        name: String,
        /// Byte offset of the slot holding the end.
        slot_at: usize,
        /// End read from the slot.
        end: u64,
        /// Row length.
        total: usize,
    },

    /// Bytes left over after the last field: OpenMLDB's builders size rows
    /// exactly, so this is corruption (or the wrong schema).
    #[error("row data ends at byte {end} but the row is {total} bytes long")]
    TrailingBytes {
        /// Where the data ends.
        end: usize,
        /// The row length.
        total: usize,
    },

    /// A non-NULL `date` field holds a value that is not a valid packed date.
    #[error(
        "column {column} ({name:?}) at byte {at}: packed date 0x{packed:08x} is invalid: {source}"
    )]
    BadDate {
        /// Column index in the schema.
        column: usize,
        /// Column name.
        name: String,
        /// Byte offset of the field.
        at: usize,
        /// The raw field value.
        packed: i32,
        /// What is out of range.
        source: DateError,
    },

    /// A `Value::Date` given to the encoder is out of OpenMLDB's range.
    #[error("column {column} ({name:?}): {source}")]
    InvalidDateValue {
        /// Column index in the schema.
        column: usize,
        /// Column name.
        name: String,
        /// What is out of range.
        source: DateError,
    },

    /// OpenMLDB's builder refuses negative timestamps.
    #[error("column {column} ({name:?}): timestamp {value} is negative, OpenMLDB refuses it")]
    NegativeTimestamp {
        /// Column index in the schema.
        column: usize,
        /// Column name.
        name: String,
        /// The rejected value.
        value: i64,
    },

    /// A `type.DataType` the legacy row codec cannot store (array, map or
    /// an unknown number).
    #[error("data type {data_type} ({type_name}) is not supported by the row codec")]
    UnsupportedType {
        /// The raw enum number.
        data_type: i32,
        /// Its name in `type.proto`, or `unknown`.
        type_name: &'static str,
    },

    /// A column whose data type the row codec cannot store.
    #[error(
        "column {name:?}: data type {data_type} ({type_name}) is not supported by the row codec"
    )]
    UnsupportedColumn {
        /// Column name.
        name: String,
        /// The raw enum number.
        data_type: i32,
        /// Its name in `type.proto`, or `unknown`.
        type_name: &'static str,
    },

    /// A column description without a data type.
    #[error("column {name:?} has no data_type")]
    MissingDataType {
        /// Column name.
        name: String,
    },

    /// The encoder got a value of the wrong kind for a column.
    #[error("column {column} ({name:?}) is {expected}, got a {found} value")]
    TypeMismatch {
        /// Column index in the schema.
        column: usize,
        /// Column name.
        name: String,
        /// The column's type.
        expected: ColumnType,
        /// The kind of value given.
        found: &'static str,
    },

    /// The encoder got a different number of values than columns.
    #[error("schema has {expected} columns but {found} values were given")]
    ValueCount {
        /// Columns in the schema.
        expected: usize,
        /// Values given.
        found: usize,
    },

    /// The encoded row would exceed the 4 GiB limit of the length field.
    #[error("encoded row would be {len} bytes, more than the u32 length field can hold")]
    RowTooLarge {
        /// The length it would have.
        len: u64,
    },

    /// A column index past the end of the schema.
    #[error("column index {index} is out of range for a schema of {columns} columns")]
    ColumnIndex {
        /// The index asked for.
        index: usize,
        /// Columns in the schema.
        columns: usize,
    },

    /// The row's schema-version byte names no schema of the table.
    #[error("row has schema version {version} (byte 1) but the table knows versions {known:?}")]
    UnknownSchemaVersion {
        /// The row's version byte.
        version: u8,
        /// The versions the table defines.
        known: Vec<u8>,
    },

    /// The value is not valid snappy data.
    #[error("bad snappy data ({len} bytes): {reason}")]
    BadSnappy {
        /// Compressed length.
        len: usize,
        /// What the decoder reported.
        reason: String,
    },

    /// A problem with one row inside a pack of concatenated rows.
    #[error("row #{index} at byte {offset} of the pack: {error}")]
    InPack {
        /// 0-based position of the row in the pack.
        index: usize,
        /// Byte offset of the row's start in the pack.
        offset: usize,
        /// What is wrong with it.
        error: Box<RowError>,
    },
}
