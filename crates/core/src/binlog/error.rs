//! Errors found while decoding a binlog. Every variant carries the byte
//! offset (in the file) of the offending header or byte.
//!
//! A torn tail (input that stops mid-header or mid-payload) is never an
//! error: the reader reports "need more bytes" instead. These errors mean the
//! bytes that *are* there are inconsistent.

use super::format::RecordType;

/// A corruption or decode failure in a binlog file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BinlogError {
    /// The stored CRC does not match the type byte and payload (only checked
    /// when `ReadOptions::verify_crc` is set).
    #[error(
        "binlog offset {offset}: checksum mismatch (stored {stored:#010x}, computed {computed:#010x}, masked)"
    )]
    BadCrc {
        /// Offset of the record header.
        offset: u64,
        /// Masked CRC found in the header.
        stored: u32,
        /// Masked CRC computed from the data.
        computed: u32,
    },

    /// The type byte is above 5.
    #[error("binlog offset {offset}: unknown record type {record_type}")]
    UnknownType {
        /// Offset of the record header.
        offset: u64,
        /// The type byte found.
        record_type: u8,
    },

    /// A header of type 0 that is not part of an all-zero (unwritten) region.
    #[error("binlog offset {offset}: record of the reserved zero type (length {length})")]
    ZeroType {
        /// Offset of the record header.
        offset: u64,
        /// Its length field.
        length: u16,
    },

    /// The payload length would run past the end of the record's block.
    #[error(
        "binlog offset {offset}: length {length} runs past the block ({room} bytes left after the header)"
    )]
    LengthPastBlock {
        /// Offset of the record header.
        offset: u64,
        /// The length field.
        length: u16,
        /// Bytes left in the block after the header.
        room: usize,
    },

    /// An EOF record with a non-zero length.
    #[error("binlog offset {offset}: EOF record with length {length}")]
    BadEof {
        /// Offset of the record header.
        offset: u64,
        /// The length field.
        length: u16,
    },

    /// A MIDDLE or LAST fragment with no FIRST before it.
    #[error("binlog offset {offset}: {record_type:?} fragment without a FIRST fragment")]
    MissingFirst {
        /// Offset of the fragment's header.
        offset: u64,
        /// MIDDLE or LAST.
        record_type: RecordType,
    },

    /// A FULL, FIRST or EOF record while the fragmented record begun at
    /// `open_start` has not seen its LAST fragment.
    #[error(
        "binlog offset {offset}: {record_type:?} record while the fragmented record at {open_start} is unfinished"
    )]
    UnterminatedRecord {
        /// Offset of the FULL/FIRST/EOF header.
        offset: u64,
        /// FULL, FIRST or EOF.
        record_type: RecordType,
        /// Offset of the unfinished record's FIRST fragment.
        open_start: u64,
    },

    /// A non-zero byte in the padding at the end of a block (the under-7-byte
    /// trailer the writer zero-fills).
    #[error("binlog offset {offset}: non-zero byte in block padding")]
    BadPadding {
        /// Offset of the non-zero byte.
        offset: u64,
    },

    /// An all-zero region (an all-zero header where a record should start)
    /// followed by non-zero data. A writer never leaves holes, so this is
    /// garbage, not a tail that is still being written.
    #[error("binlog offset {offset}: zero-filled region is followed by data at {data_offset}")]
    DataAfterZeroFill {
        /// Where the zero region starts.
        offset: u64,
        /// The first non-zero byte after it.
        data_offset: u64,
    },

    /// A complete logical record that is not a valid `LogEntry`.
    #[error("binlog offset {offset}: LogEntry does not decode: {source}")]
    Decode {
        /// Offset of the record's first header.
        offset: u64,
        /// The protobuf error.
        #[source]
        source: prost::DecodeError,
    },
}

impl BinlogError {
    /// The byte offset the error refers to.
    pub fn offset(&self) -> u64 {
        match *self {
            Self::BadCrc { offset, .. }
            | Self::UnknownType { offset, .. }
            | Self::ZeroType { offset, .. }
            | Self::LengthPastBlock { offset, .. }
            | Self::BadEof { offset, .. }
            | Self::MissingFirst { offset, .. }
            | Self::UnterminatedRecord { offset, .. }
            | Self::BadPadding { offset }
            | Self::DataAfterZeroFill { offset, .. }
            | Self::Decode { offset, .. } => offset,
        }
    }
}
