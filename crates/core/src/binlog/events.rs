//! What the reader reports: records and EOF events, and how a file's data
//! ends; plus the reader's options.

use sync_proto::api::LogEntry;

/// Reader settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// Check each physical record's CRC (OpenMLDB's `--binlog_enable_crc`,
    /// off by default there).
    pub verify_crc: bool,
}

/// A logical record or the end-of-file marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadEvent {
    /// A complete logical record (one serialized `LogEntry`).
    Record {
        /// The reassembled payload.
        payload: Vec<u8>,
        /// Offset of its first fragment's header.
        start: u64,
        /// Offset just after its last fragment: a resume position.
        end: u64,
    },
    /// The EOF record: the file was closed on rotation; nothing follows.
    Eof {
        /// Offset of the EOF record's header.
        pos: u64,
    },
}

/// Like [`ReadEvent`], with the payload decoded.
#[derive(Debug, Clone, PartialEq)]
pub enum EntryEvent {
    /// A decoded record.
    Entry {
        /// The entry.
        entry: LogEntry,
        /// Offset of its first fragment's header.
        start: u64,
        /// Offset just after its last fragment: a resume position.
        end: u64,
    },
    /// The EOF record (see [`ReadEvent::Eof`]).
    Eof {
        /// Offset of the EOF record's header.
        pos: u64,
    },
}

/// How the input ends, for a file that will not grow any more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tail {
    /// The input ends right after a complete record (or inside block padding).
    Clean {
        /// End of the input.
        end: u64,
    },
    /// The file was closed with an EOF record. Bytes after it are ignored
    /// and counted.
    Eof {
        /// Offset of the EOF record's header.
        pos: u64,
        /// Bytes fed after the EOF record (0 for a well-formed file).
        trailing_bytes: u64,
    },
    /// A logical record is cut off: the writer stopped mid-record (crash) or
    /// is still writing it.
    Incomplete {
        /// Offset of the cut record's first header.
        offset: u64,
        /// End of the input.
        end: u64,
    },
    /// Everything from `offset` on is zero bytes: space that was allocated
    /// but never written (possible after a crash).
    ZeroFilled {
        /// Where the zero bytes start (a record boundary).
        offset: u64,
        /// End of the input.
        end: u64,
    },
}
