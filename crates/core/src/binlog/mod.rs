//! OpenMLDB's binlog: the per-partition write-ahead log that a tablet appends
//! every Put/Delete to, and that the DataCollector tails to sync new rows.
//!
//! # Files
//!
//! A partition's binlog directory holds `00000000.log`, `00000001.log`, ...
//! ([`binlog_file_name`]). The tablet starts a new file when it (re)opens the
//! log or when the current one grows past its size limit; a file closed on
//! rotation ends with an EOF record, a file left by a crash does not.
//! [`LogParts`] indexes the files by the `log_index` of their first record.
//!
//! # Record format
//!
//! LevelDB's log format with 4096-byte blocks ([`BLOCK_SIZE`]). A physical
//! record is a 7-byte header ([`HEADER_SIZE`]) and a payload:
//!
//! | bytes | content |
//! |---|---|
//! | 0..4 | masked CRC32C of the type byte followed by the payload, u32 LE ([`record_crc`]) |
//! | 4..6 | payload length, u16 LE |
//! | 6 | type: 1 FULL, 2 FIRST, 3 MIDDLE, 4 LAST, 5 EOF ([`RecordType`]) |
//!
//! A physical record never crosses a block boundary. When fewer than 7 bytes
//! are left in a block they are zero-filled and the next record starts in
//! the next block; when exactly 7 are left, a record that does not fit
//! begins there with an empty FIRST fragment. A logical record is one FULL
//! record, or FIRST, MIDDLE*, LAST. Each logical record is one serialized
//! `openmldb.api.LogEntry` ([`encode_entry`], [`decode_entry`]). The EOF
//! record has length 0.
//!
//! # Writing
//!
//! [`LogWriter`] produces the same bytes as OpenMLDB's writer; it is used for
//! fixtures, the simulator and tests.
//!
//! # Reading, resuming, tails
//!
//! [`LogReader`] is a sans-I/O decoder: the caller feeds the file's bytes in
//! order and pulls [`ReadEvent`]s (or [`EntryEvent`]s). Offsets are file
//! offsets. Every record comes with `start` (its first header) and `end`
//! (just after its last fragment); [`LogReader::position`] is the `end` of
//! the last record returned. A new reader created at such a position reads
//! exactly the records that follow, so a tailing collector can remember a
//! byte position instead of re-reading the file from the start.
//!
//! The tablet may be appending while we read, so the data can stop anywhere.
//! Input that stops inside a header, a payload or a fragmented record is
//! **not** an error: `next()` returns `Ok(None)` ("wait and retry", feed more
//! bytes later). Bytes that are all there but inconsistent are a
//! [`BinlogError`] with their offset ("corruption"). When the caller knows
//! the file will not grow (a newer file exists), [`LogReader::tail`]
//! classifies what is left: [`Tail::Clean`], [`Tail::Eof`],
//! [`Tail::Incomplete`] (a record cut by a crash) or [`Tail::ZeroFilled`]
//! (allocated but unwritten space). All of these mean "move on to the next
//! file"; only errors mean corruption.
//!
//! Errors are sticky; [`LogReader::resync`] skips the damaged part as LevelDB
//! does (the collector may prefer to stop instead).
//!
//! EOF: after the EOF record the file is finished. `next()` then returns
//! `Ok(None)` forever and ignores any further bytes, which are counted in
//! [`Tail::Eof`] (`trailing_bytes`) so a caller can warn about them; this is
//! what OpenMLDB does (it stops reading at EOF).
//!
//! An all-zero header where a record should start begins a zero region; it
//! is accepted (as `Ok(None)`, then [`Tail::ZeroFilled`]) as long as only
//! zero bytes follow, and is an error as soon as data follows. Non-zero
//! bytes in block padding are an error. CRCs are checked only with
//! [`ReadOptions::verify_crc`] (OpenMLDB's `--binlog_enable_crc`, off by
//! default).

mod entry;
mod error;
mod events;
mod format;
mod parts;
mod reader;
mod writer;

pub use entry::{PositionedEntry, decode_entry, encode_entry, read_all};
pub use error::BinlogError;
pub use events::{EntryEvent, ReadEvent, ReadOptions, Tail};
pub use format::{
    BLOCK_SIZE, HEADER_SIZE, MAX_FRAGMENT_LEN, RecordHeader, RecordType, mask_crc, record_crc,
    unmask_crc,
};
pub use parts::{LogPart, LogParts, binlog_file_name, parse_binlog_file_name};
pub use reader::LogReader;
pub use writer::LogWriter;
