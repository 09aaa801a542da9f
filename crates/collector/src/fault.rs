//! Typed read failures (`FAULTS.md` §1): every error that stops a partition
//! task from reading becomes a [`ReadFault`] with the protocol's
//! [`ReadFailureKind`], so the failure pack tells SyncTool whether retrying
//! can help. Only [`ReadFailureKind::KReadUnavailable`] (tablet unreachable,
//! an I/O error, a work dir on the wrong filesystem) is transient: the task
//! retries with backoff. Everything else is permanent: the data is gone or
//! corrupt, the table is gone, or its schema cannot be used; the task sends
//! the failure once and goes dormant with its links kept, so a `retry` can
//! resume from the committed point.

use sync_core::proto::datasync::{ReadFailure, ReadFailureKind};
use sync_infra::store::StoreError;

use crate::prepare::PrepareError;
use crate::snapshot::SnapshotError;
use crate::source::SourceError;
use crate::tablet_client::TabletError;
use crate::tailer::TailError;
use crate::workdir::WorkDirError;

/// `ReturnCode::kTableIsNotExist` of the tablet API.
const TABLE_NOT_EXIST: i32 = 100;

/// Why a partition cannot be read right now (or ever).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ReadFault {
    pub kind: ReadFailureKind,
    /// What happened: the file and byte offset for corrupt data.
    pub message: String,
}

impl ReadFault {
    pub fn new(kind: ReadFailureKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// A transient failure.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ReadFailureKind::KReadUnavailable, message)
    }

    /// Whether retrying may help.
    pub fn is_transient(&self) -> bool {
        self.kind == ReadFailureKind::KReadUnavailable
    }

    /// A short stable name (status page, logs).
    pub fn kind_name(&self) -> &'static str {
        kind_name(self.kind)
    }

    /// The same failure with `tid T pid P: ` in front of the message.
    pub fn for_partition(mut self, tid: u32, pid: u32) -> Self {
        self.message = format!("tid {tid} pid {pid}: {}", self.message);
        self
    }

    /// The failure as a pack carries it.
    pub fn to_proto(&self) -> ReadFailure {
        ReadFailure {
            kind: Some(self.kind as i32),
            message: Some(self.message.clone()),
        }
    }
}

/// A short stable name of a failure kind.
pub fn kind_name(kind: ReadFailureKind) -> &'static str {
    match kind {
        ReadFailureKind::KReadUnavailable => "read_unavailable",
        ReadFailureKind::KDataGone => "data_gone",
        ReadFailureKind::KCorrupt => "corrupt",
        ReadFailureKind::KDiverged => "diverged",
        ReadFailureKind::KTableGone => "table_gone",
        ReadFailureKind::KBadSchema => "bad_schema",
    }
}

/// The kind of a failure kind's name (the inverse of [`kind_name`]).
pub fn kind_from_name(name: &str) -> Option<ReadFailureKind> {
    [
        ReadFailureKind::KReadUnavailable,
        ReadFailureKind::KDataGone,
        ReadFailureKind::KCorrupt,
        ReadFailureKind::KDiverged,
        ReadFailureKind::KTableGone,
        ReadFailureKind::KBadSchema,
    ]
    .into_iter()
    .find(|k| kind_name(*k) == name)
}

fn fault(kind: ReadFailureKind, err: &impl std::fmt::Display) -> ReadFault {
    ReadFault::new(kind, err.to_string())
}

impl From<&TabletError> for ReadFault {
    fn from(e: &TabletError) -> Self {
        let kind = match e {
            TabletError::Transport { .. }
            | TabletError::Timeout { .. }
            | TabletError::Http { .. }
            | TabletError::Json { .. } => ReadFailureKind::KReadUnavailable,
            TabletError::Code { code, .. } if *code == TABLE_NOT_EXIST => {
                ReadFailureKind::KTableGone
            }
            TabletError::Code { .. } => ReadFailureKind::KReadUnavailable,
            TabletError::NotFound { .. } => ReadFailureKind::KTableGone,
            TabletError::Invalid { .. } => ReadFailureKind::KBadSchema,
        };
        fault(kind, e)
    }
}

impl From<&StoreError> for ReadFault {
    /// I/O, and a work dir on another filesystem (a configuration the
    /// operator can fix without losing data), are transient.
    fn from(e: &StoreError) -> Self {
        fault(ReadFailureKind::KReadUnavailable, e)
    }
}

impl From<&WorkDirError> for ReadFault {
    fn from(e: &WorkDirError) -> Self {
        let kind = match e {
            WorkDirError::Store(_) | WorkDirError::State { .. } => {
                ReadFailureKind::KReadUnavailable
            }
            WorkDirError::Manifest { .. }
            | WorkDirError::ManifestWithoutName { .. }
            | WorkDirError::BadProgress { .. } => ReadFailureKind::KCorrupt,
            WorkDirError::NoTabletBinlogDir(_) => ReadFailureKind::KTableGone,
        };
        fault(kind, e)
    }
}

impl From<&TailError> for ReadFault {
    fn from(e: &TailError) -> Self {
        let kind = match e {
            TailError::Corrupt { .. } => ReadFailureKind::KCorrupt,
            TailError::Gone { .. } | TailError::Missing { .. } => ReadFailureKind::KDataGone,
            TailError::Store(_) => ReadFailureKind::KReadUnavailable,
        };
        match kind {
            ReadFailureKind::KDataGone => ReadFault::new(kind, format!("data gone: {e}")),
            _ => fault(kind, e),
        }
    }
}

impl From<&SnapshotError> for ReadFault {
    fn from(e: &SnapshotError) -> Self {
        let rocks = |source: &rocksdb::Error| match source.kind() {
            rocksdb::ErrorKind::Corruption => ReadFailureKind::KCorrupt,
            _ => ReadFailureKind::KReadUnavailable,
        };
        let kind = match e {
            SnapshotError::Index { .. } | SnapshotError::MissingCf { .. } => {
                ReadFailureKind::KBadSchema
            }
            SnapshotError::Open { source, .. } | SnapshotError::Iter { source, .. } => {
                rocks(source)
            }
            SnapshotError::BadKey { .. } | SnapshotError::BadRow { .. } => {
                ReadFailureKind::KCorrupt
            }
        };
        fault(kind, e)
    }
}

impl From<&SourceError> for ReadFault {
    fn from(e: &SourceError) -> Self {
        match e {
            SourceError::Binlog(t) => t.into(),
            SourceError::Checkpoint(s) => s.into(),
            SourceError::Schema(_) => fault(ReadFailureKind::KBadSchema, e),
            SourceError::Snapshot(_)
            | SourceError::BadEntry { .. }
            | SourceError::BadRecord { .. } => fault(ReadFailureKind::KCorrupt, e),
        }
    }
}

impl From<&PrepareError> for ReadFault {
    fn from(e: &PrepareError) -> Self {
        match e {
            PrepareError::Point(_) | PrepareError::Mode(_) => fault(ReadFailureKind::KDataGone, e),
            PrepareError::WorkDir(w) => w.into(),
            PrepareError::HandOff(_) => {
                ReadFault::new(ReadFailureKind::KDataGone, format!("data gone: {e}"))
            }
            PrepareError::Snapshot(s) => s.into(),
            PrepareError::Source(s) => s.into(),
            PrepareError::Stopped(_) => fault(ReadFailureKind::KReadUnavailable, e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unavailable_is_transient_and_names_round_trip() {
        let gone = TailError::Gone {
            needed: 5,
            first_available: 9,
        };
        let f = ReadFault::from(&gone);
        assert_eq!(f.kind, ReadFailureKind::KDataGone);
        assert!(!f.is_transient());
        assert!(f.message.starts_with("data gone:"), "{}", f.message);
        let f = ReadFault::from(&TabletError::Timeout {
            endpoint: "h:1".into(),
            method: "GetTableStatus",
            timeout: std::time::Duration::from_secs(1),
        });
        assert!(f.is_transient());
        for kind in [
            ReadFailureKind::KReadUnavailable,
            ReadFailureKind::KDataGone,
            ReadFailureKind::KCorrupt,
            ReadFailureKind::KDiverged,
            ReadFailureKind::KTableGone,
            ReadFailureKind::KBadSchema,
        ] {
            assert_eq!(kind_from_name(kind_name(kind)), Some(kind));
        }
        let f = ReadFault::unavailable("x").for_partition(1, 2);
        assert_eq!(f.message, "tid 1 pid 2: x");
        assert_eq!(f.to_proto().kind, Some(0));
    }
}
