//! The sink's errors. Every variant names the destination (and the path inside
//! it where one is involved) and the operation, so a log line is enough to find
//! the object.

use sync_core::point::Point;
use sync_core::row::RowError;

/// Why a sink operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The destination string is not one the sink understands.
    #[error("destination {dest:?}: {reason}")]
    BadDestination {
        /// The destination as given.
        dest: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The Hadoop configuration needed to resolve a bare path is unreadable.
    #[error("hadoop config {path}: {reason}")]
    HadoopConfig {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The storage backend failed.
    #[error("{op} {dest}/{path}: {source}")]
    Storage {
        /// The operation (`write`, `rename`, `list`, …).
        op: &'static str,
        /// The destination.
        dest: String,
        /// The path inside it.
        path: String,
        /// The backend's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A row of the segment cannot be decoded or does not fit the table.
    #[error("{dest}: segment {segment}: row {index}: {source}")]
    Row {
        /// The destination.
        dest: String,
        /// The segment name.
        segment: String,
        /// Index of the row in the segment.
        index: u64,
        /// The decoder's error.
        #[source]
        source: RowError,
    },
    /// The segment holds a different number of rows than it says.
    #[error("{dest}: segment {segment}: {found} rows, expected {expected}")]
    RowCount {
        /// The destination.
        dest: String,
        /// The segment name.
        segment: String,
        /// The `row_count` of the request.
        expected: u64,
        /// Rows found in the bytes.
        found: u64,
    },
    /// A table's metadata does not give a usable schema.
    #[error("table {table}: {source}")]
    Table {
        /// The table.
        table: String,
        /// The decoder's error.
        #[source]
        source: RowError,
    },
    /// A schema version is not a prefix of the table's latest schema.
    #[error(
        "table {table}: schema version {version} is not a prefix of the latest version {latest}"
    )]
    Schema {
        /// The table.
        table: String,
        /// The offending version.
        version: u8,
        /// The latest version.
        latest: u8,
    },
    /// Writing the output format failed.
    #[error("{dest}: segment {segment}: {format} encoding: {reason}")]
    Encode {
        /// The destination.
        dest: String,
        /// The segment name.
        segment: String,
        /// `csv` or `parquet`.
        format: &'static str,
        /// What failed.
        reason: String,
    },
    /// A commit's `start` is not the end of the previous committed segment.
    #[error(
        "{dest}: commit of {segment}: start {start:?} but the previous segment ends at {previous_end:?}"
    )]
    StartMismatch {
        /// The destination.
        dest: String,
        /// The segment name.
        segment: String,
        /// The start the commit carries.
        start: Box<Point>,
        /// The end of `seq - 1` (`None`: `seq - 1` is not committed).
        previous_end: Option<Box<Point>>,
    },
    /// A commit of a segment that is already committed with different contents.
    #[error("{dest}: commit of {segment}: already committed with {what} different")]
    CommitConflict {
        /// The destination.
        dest: String,
        /// The segment name.
        segment: String,
        /// Which field differs.
        what: &'static str,
    },
    /// A commit of a segment with rows whose staged file is missing.
    #[error("{dest}: commit of {segment}: nothing staged at {path}")]
    NotStaged {
        /// The destination.
        dest: String,
        /// The segment name.
        segment: String,
        /// The staging path looked at.
        path: String,
    },
    /// A commit record is unreadable.
    #[error("{dest}/{path}: corrupt commit record: {reason}")]
    CorruptRecord {
        /// The destination.
        dest: String,
        /// The record's path.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A fault injected for tests ([`crate::StoreSink::crash_after`]): the sink stopped after `step`.
    #[error("{dest}: injected crash after {step:?} of {segment}")]
    InjectedCrash {
        /// The destination.
        dest: String,
        /// The segment name.
        segment: String,
        /// The step after which it stopped.
        step: crate::Step,
    },
}

impl SinkError {
    /// A storage error.
    pub(crate) fn storage(
        op: &'static str,
        dest: &str,
        path: &str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        SinkError::Storage {
            op,
            dest: dest.to_owned(),
            path: path.to_owned(),
            source: Box::new(source),
        }
    }
}
