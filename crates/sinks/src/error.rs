//! The sink's errors. Every variant names the destination (and the path inside
//! it where one is involved) and the operation, so a log line is enough to find
//! the object. [`SinkError::failure`] gives each its class for the core
//! (`FAULTS.md` §1).

use sync_core::point::Point;
use sync_core::row::RowError;
use sync_core::task::SinkFailure;

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
    /// [`crate::Sink::check_destination`] refused the destination: it
    /// cannot be reached, created or written.
    #[error("{dest}: {reason}")]
    Unusable {
        /// The destination.
        dest: String,
        /// What failed, with the backend's message.
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
    /// The error as the core sees it: its class and its message (this
    /// error's `Display`).
    ///
    /// * [`SinkFailure::Unavailable`] (transient): storage and I/O errors —
    ///   a NameNode down, S3 503, a full disk, a permission denied — which an
    ///   operator can fix and after which the sync must heal by itself; a
    ///   missing staged file ([`SinkError::NotStaged`]: the core stages again);
    ///   an injected crash.
    /// * [`SinkFailure::Conflict`]: another writer committed the segment with
    ///   other contents.
    /// * [`SinkFailure::Behind`]: the store does not hold what the commit
    ///   builds on ([`SinkError::StartMismatch`]), or a commit record cannot be
    ///   read ([`SinkError::CorruptRecord`]). A record is written whole (a
    ///   temporary and an exclusive link or rename, or one PUT), so a crash
    ///   never leaves a partial one: an unreadable record was damaged or
    ///   written by hand, or by a newer, incompatible version. Reading it again
    ///   gives the same bytes, so retrying cannot help, and the store's
    ///   committed point cannot be established past it: the part is FAILED and
    ///   the message names the record's path for the operator to repair.
    /// * [`SinkFailure::BadData`]: rows that do not decode or encode, a
    ///   schema that does not fit, a segment whose row count is wrong.
    /// * [`SinkFailure::Destination`]: a destination that cannot be used
    ///   (bad form, unreadable Hadoop configuration, refused by
    ///   [`crate::Sink::check_destination`]).
    pub fn failure(&self) -> SinkFailure {
        let message = self.to_string();
        match self {
            SinkError::Storage { .. }
            | SinkError::NotStaged { .. }
            | SinkError::InjectedCrash { .. } => SinkFailure::Unavailable(message),
            SinkError::CommitConflict { .. } => SinkFailure::Conflict(message),
            SinkError::StartMismatch { .. } | SinkError::CorruptRecord { .. } => {
                SinkFailure::Behind(message)
            }
            SinkError::Row { .. }
            | SinkError::RowCount { .. }
            | SinkError::Table { .. }
            | SinkError::Schema { .. }
            | SinkError::Encode { .. } => SinkFailure::BadData(message),
            SinkError::BadDestination { .. }
            | SinkError::HadoopConfig { .. }
            | SinkError::Unusable { .. } => SinkFailure::Destination(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use sync_core::task::ErrorClass;

    use super::*;

    fn io(kind: std::io::ErrorKind) -> SinkError {
        SinkError::Storage {
            op: "write",
            dest: "hdfs://nn:1/x".to_owned(),
            path: "_staging/a".to_owned(),
            source: Box::new(std::io::Error::from(kind)),
        }
    }

    fn row_error() -> RowError {
        RowError::EmptySchema
    }

    #[test]
    fn every_variant_has_its_class() {
        let d = || "file:///d".to_owned();
        let s = || "0000000001-00000-0000000001-000000000000".to_owned();
        let cases: Vec<(SinkError, &str)> = vec![
            (
                io(std::io::ErrorKind::ConnectionRefused),
                "sink_unavailable",
            ),
            (io(std::io::ErrorKind::StorageFull), "sink_unavailable"),
            (io(std::io::ErrorKind::PermissionDenied), "sink_unavailable"),
            (
                SinkError::NotStaged {
                    dest: d(),
                    segment: s(),
                    path: "p".into(),
                },
                "sink_unavailable",
            ),
            (
                SinkError::InjectedCrash {
                    dest: d(),
                    segment: s(),
                    step: crate::Step::Staged,
                },
                "sink_unavailable",
            ),
            (
                SinkError::CommitConflict {
                    dest: d(),
                    segment: s(),
                    what: "end",
                },
                "commit_conflict",
            ),
            (
                SinkError::StartMismatch {
                    dest: d(),
                    segment: s(),
                    start: Box::new(Point::start()),
                    previous_end: None,
                },
                "sink_behind",
            ),
            (
                SinkError::CorruptRecord {
                    dest: d(),
                    path: "r".into(),
                    reason: "x".into(),
                },
                "sink_behind",
            ),
            (
                SinkError::Row {
                    dest: d(),
                    segment: s(),
                    index: 3,
                    source: row_error(),
                },
                "bad_data",
            ),
            (
                SinkError::RowCount {
                    dest: d(),
                    segment: s(),
                    expected: 2,
                    found: 1,
                },
                "bad_data",
            ),
            (
                SinkError::Table {
                    table: "t".into(),
                    source: row_error(),
                },
                "bad_data",
            ),
            (
                SinkError::Schema {
                    table: "t".into(),
                    version: 3,
                    latest: 2,
                },
                "bad_data",
            ),
            (
                SinkError::Encode {
                    dest: d(),
                    segment: s(),
                    format: "csv",
                    reason: "r".into(),
                },
                "bad_data",
            ),
            (
                SinkError::BadDestination {
                    dest: "ftp://x".into(),
                    reason: "r".into(),
                },
                "bad_destination",
            ),
            (
                SinkError::HadoopConfig {
                    path: "p".into(),
                    reason: "r".into(),
                },
                "bad_destination",
            ),
            (
                SinkError::Unusable {
                    dest: d(),
                    reason: "not a directory".into(),
                },
                "bad_destination",
            ),
        ];
        for (error, kind) in cases {
            let failure = error.failure();
            assert_eq!(failure.kind(), kind, "{error}");
            assert_eq!(failure.to_string(), error.to_string());
            let transient = kind == "sink_unavailable";
            assert_eq!(
                failure.class() == ErrorClass::Transient,
                transient,
                "{error}"
            );
        }
    }
}
