//! OpenMLDB's row codec: the bytes of a table row as OpenMLDB stores them in
//! the binlog (`LogEntry.value`), the snapshot, and the packs DataCollector
//! sends to SyncTool.
//!
//! A row is a 6-byte header (format version 1, schema version, u32 LE total
//! length), a null bitmap, the fixed-width fields of the non-string columns,
//! a table of string offsets whose slot width (1, 2, 3 big-endian, or 4 bytes)
//! depends on the row length, and the string bytes. See [`layout`] for the
//! exact layout, [`encode`] for how OpenMLDB's builder fills it (bitmap high
//! bits, slot width), [`decode`] for what the decoder checks, [`schema`] for
//! schema versions and [`compress`] for snappy-compressed tables.
//!
//! Entry points:
//! - [`encode_row`] / [`decode_row`] with a `&[Column]` schema;
//! - [`RowView`] for borrowing, non-allocating access to one row;
//! - [`RowLayout`] for a schema prepared once for many rows;
//! - [`SchemaVersions`] to pick the schema by a row's version byte;
//! - [`split_rows`] to walk a pack of concatenated rows;
//! - [`decompress`] / [`compress_snappy`] for `kSnappy` tables.
//!
//! Nothing here panics on malformed input: every problem is a [`RowError`]
//! naming the byte offset and column.

pub mod compress;
pub mod decode;
pub mod encode;
pub mod error;
pub mod layout;
pub mod pack;
pub mod schema;
pub mod types;

pub use compress::{compress_snappy, decompress, decompress_snappy, try_compress_snappy};
pub use decode::{RowValues, RowView, decode_row};
pub use encode::{encode_row, encode_row_into, encoded_len};
pub use error::{DateError, RowError};
pub use layout::{
    FORMAT_VERSION, HEADER_LEN, MIN_ROW_LEN, RowHeader, RowLayout, offset_width, peek_header,
    row_header,
};
pub use pack::{SplitRows, split_rows};
pub use schema::SchemaVersions;
pub use types::{Column, ColumnType, Date, Value, ValueRef};
