//! The logical record content: one protobuf-serialized `openmldb.api.LogEntry`
//! per record, plus [`read_all`] to decode a whole in-memory file.

use prost::Message;
use sync_proto::api::LogEntry;

use super::error::BinlogError;
use super::events::{EntryEvent, ReadOptions, Tail};
use super::reader::LogReader;

/// Serialize a `LogEntry` the way the tablet does before appending it.
pub fn encode_entry(entry: &LogEntry) -> Vec<u8> {
    entry.encode_to_vec()
}

/// Decode a logical record's payload; `offset` (the record's start) is only
/// used in the error.
pub fn decode_entry(payload: &[u8], offset: u64) -> Result<LogEntry, BinlogError> {
    LogEntry::decode(payload).map_err(|source| BinlogError::Decode { offset, source })
}

/// An entry with the `(start, end)` offsets of its record.
pub type PositionedEntry = (u64, u64, LogEntry);

/// Every entry of a complete in-memory binlog file with its `(start, end)`
/// offsets, and how the data ends. Stops at the first error. Meant for tests
/// and offline tools; the collector tails files with [`LogReader`].
pub fn read_all(
    bytes: &[u8],
    opts: ReadOptions,
) -> Result<(Vec<PositionedEntry>, Tail), BinlogError> {
    let mut reader = LogReader::new(0, opts);
    reader.feed(bytes);
    let mut entries = Vec::new();
    while let Some(event) = reader.next_entry()? {
        if let EntryEvent::Entry { entry, start, end } = event {
            entries.push((start, end, entry));
        }
    }
    let tail = reader.final_tail();
    Ok((entries, tail))
}
