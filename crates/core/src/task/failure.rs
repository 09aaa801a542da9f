//! Typed failures of a partition task (`FAULTS.md` §1): every error that
//! crosses a seam into the supervisor is one of these enums, never a string
//! the core would have to parse, and each has a class.
//!
//! * [`ErrorClass::Transient`]: retried with exponential backoff
//!   ([`Backoff`]); the part never becomes FAILED for it (unless the operator
//!   set `sync_task.fail_after_ms`); the status shows it and since when;
//! * [`ErrorClass::Permanent`]: the part becomes FAILED with the typed reason.
//!
//! The seams map their own errors here: the sink's errors to [`SinkFailure`],
//! `AddSyncTask` outcomes to [`AssignFailure`], a collector's failure pack to
//! [`ReadFailure`]. [`PartError`] is what the supervisor keeps per part.

use std::fmt;

use sync_proto::datasync::ReadFailureKind;

/// Whether retrying can help.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ErrorClass {
    /// Retried by itself (the cause may go away).
    Transient,
    /// Retrying cannot help: the part becomes FAILED.
    Permanent,
}

impl ErrorClass {
    /// `transient` / `permanent`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Transient => "transient",
            ErrorClass::Permanent => "permanent",
        }
    }
}

/// A sink step (stage, commit) that failed, as the sink classifies it.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum SinkFailure {
    /// The store is unreachable or refused an I/O (NameNode down, S3 503,
    /// disk full, a staged file missing): transient.
    #[error("{0}")]
    Unavailable(String),
    /// Another writer committed this segment with other contents (the
    /// exclusive commit record exists): permanent, this writer stops.
    #[error("{0}")]
    Conflict(String),
    /// The store does not hold what the task's progress says (the previous
    /// segment is missing or ends elsewhere): permanent.
    #[error("{0}")]
    Behind(String),
    /// The rows cannot be written (a row does not decode, the schema does not
    /// fit, encoding failed): permanent.
    #[error("{0}")]
    BadData(String),
    /// The destination cannot be used at all (bad form, bad configuration): permanent.
    #[error("{0}")]
    Destination(String),
}

impl SinkFailure {
    /// Its class.
    pub fn class(&self) -> ErrorClass {
        match self {
            SinkFailure::Unavailable(_) => ErrorClass::Transient,
            _ => ErrorClass::Permanent,
        }
    }

    /// A short stable name (status, metrics).
    pub fn kind(&self) -> &'static str {
        match self {
            SinkFailure::Unavailable(_) => "sink_unavailable",
            SinkFailure::Conflict(_) => "commit_conflict",
            SinkFailure::Behind(_) => "sink_behind",
            SinkFailure::BadData(_) => "bad_data",
            SinkFailure::Destination(_) => "bad_destination",
        }
    }
}

/// An `AddSyncTask` call that did not take. Always transient: the collector
/// may come back, or another one on the host may take the part.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum AssignFailure {
    /// No answer: connection refused, broken, or timed out.
    #[error("AddSyncTask to collector {collector} failed: {message}")]
    Unreachable {
        /// The collector called.
        collector: String,
        /// What the transport said.
        message: String,
    },
    /// The collector answered with an error.
    #[error("collector {collector} refused the task: {message}")]
    Refused {
        /// The collector called.
        collector: String,
        /// Its message.
        message: String,
    },
}

impl AssignFailure {
    /// The collector called.
    pub fn collector(&self) -> &str {
        match self {
            AssignFailure::Unreachable { collector, .. }
            | AssignFailure::Refused { collector, .. } => collector,
        }
    }
}

/// A collector cannot read its partition (the `failure` of a pack).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ReadFailure {
    /// What went wrong.
    pub kind: ReadFailureKind,
    /// The collector's message (file, offset, what to do).
    pub message: String,
}

impl ReadFailure {
    /// Its class: only an unavailable tablet or an I/O error may go away.
    pub fn class(&self) -> ErrorClass {
        match self.kind {
            ReadFailureKind::KReadUnavailable => ErrorClass::Transient,
            _ => ErrorClass::Permanent,
        }
    }

    /// A short stable name.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            ReadFailureKind::KReadUnavailable => "read_unavailable",
            ReadFailureKind::KDataGone => "data_gone",
            ReadFailureKind::KCorrupt => "corrupt",
            ReadFailureKind::KDiverged => "diverged",
            ReadFailureKind::KTableGone => "table_gone",
            ReadFailureKind::KBadSchema => "bad_schema",
        }
    }
}

/// Why a partition task is not making progress (or is FAILED).
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum PartError {
    /// No live collector on the leader's host.
    NoCollector {
        /// The leader's host.
        host: String,
        /// The leader tablet.
        tablet_endpoint: String,
    },
    /// Every live collector on the host failed the last assignment round.
    Assign(Vec<AssignFailure>),
    /// The collector holding the part went silent.
    Silent {
        /// The collector.
        collector: String,
        /// For how long (ms).
        silent_ms: u64,
    },
    /// The collector reported that it cannot read.
    Read {
        /// The collector.
        collector: String,
        /// Why.
        failure: ReadFailure,
    },
    /// Staging a segment failed.
    Stage(SinkFailure),
    /// Committing a segment failed.
    Commit(SinkFailure),
    /// Recovery found the sink behind the persisted progress (files removed by hand).
    SinkBehind(String),
    /// The table or partition is gone from the cluster.
    TableGone(String),
    /// Taking ownership of the partition (its epoch in ZooKeeper) failed;
    /// the daemon keeps trying.
    Claim(String),
    /// Another SyncTool owns the partition now (a newer epoch): this one
    /// neither assigns nor commits it any more.
    Lost(String),
    /// A transient cause lasted longer than `sync_task.fail_after_ms`.
    WaitedTooLong {
        /// How long it lasted (ms).
        waited_ms: u64,
        /// The cause.
        cause: Box<PartError>,
    },
}

impl PartError {
    /// Its class.
    pub fn class(&self) -> ErrorClass {
        match self {
            PartError::NoCollector { .. }
            | PartError::Assign(_)
            | PartError::Silent { .. }
            | PartError::Claim(_)
            | PartError::Lost(_) => ErrorClass::Transient,
            PartError::Read { failure, .. } => failure.class(),
            PartError::Stage(f) | PartError::Commit(f) => f.class(),
            PartError::SinkBehind(_)
            | PartError::TableGone(_)
            | PartError::WaitedTooLong { .. } => ErrorClass::Permanent,
        }
    }

    /// A short stable name (status `error_kind` / `failure_kind`, metrics).
    pub fn kind(&self) -> &'static str {
        match self {
            PartError::NoCollector { .. } => "no_collector",
            PartError::Assign(_) => "collector_unreachable",
            PartError::Silent { .. } => "collector_silent",
            PartError::Read { failure, .. } => failure.kind_name(),
            PartError::Stage(f) | PartError::Commit(f) => f.kind(),
            PartError::SinkBehind(_) => "sink_behind",
            PartError::TableGone(_) => "table_gone",
            PartError::Claim(_) => "claim_failed",
            PartError::Lost(_) => "owned_elsewhere",
            PartError::WaitedTooLong { .. } => "waited_too_long",
        }
    }
}

impl fmt::Display for PartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PartError::NoCollector {
                host,
                tablet_endpoint,
            } => write!(
                f,
                "waiting for a data collector on host {host} (leader tablet {tablet_endpoint})"
            ),
            PartError::Assign(failures) => {
                f.write_str("no data collector took the task: ")?;
                for (i, e) in failures.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{e}")?;
                }
                Ok(())
            }
            PartError::Silent {
                collector,
                silent_ms,
            } => write!(f, "collector {collector} silent for {silent_ms} ms"),
            PartError::Read { collector, failure } => {
                write!(f, "collector {collector} cannot read: {}", failure.message)
            }
            PartError::Stage(e) => write!(f, "staging failed: {e}"),
            PartError::Commit(e) => write!(f, "commit failed: {e}"),
            PartError::SinkBehind(detail) => {
                write!(f, "the sink is behind the recorded progress: {detail}")
            }
            PartError::TableGone(detail) => f.write_str(detail),
            PartError::Claim(detail) => {
                write!(f, "cannot take ownership of the partition: {detail}")
            }
            PartError::Lost(detail) => write!(f, "owned by another SyncTool: {detail}"),
            PartError::WaitedTooLong { waited_ms, cause } => write!(
                f,
                "gave up after {waited_ms} ms (sync_task.fail_after_ms): {cause}"
            ),
        }
    }
}

/// Exponential backoff for transient causes: `base`, `2·base`, … capped at `cap`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Backoff {
    /// The first wait (ms).
    pub base_ms: u64,
    /// The longest wait (ms).
    pub cap_ms: u64,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base_ms: 500,
            cap_ms: 30_000,
        }
    }
}

impl Backoff {
    /// The wait before attempt `attempt + 1` after `attempt` failures (≥ 1).
    pub fn delay_ms(&self, attempt: u32) -> u64 {
        let shift = attempt.saturating_sub(1).min(32);
        self.base_ms.saturating_mul(1u64 << shift).min(self.cap_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        assert_eq!(
            SinkFailure::Unavailable("x".into()).class(),
            ErrorClass::Transient
        );
        assert_eq!(
            SinkFailure::Conflict("x".into()).class(),
            ErrorClass::Permanent
        );
        let gone = ReadFailure {
            kind: ReadFailureKind::KDataGone,
            message: "m".into(),
        };
        assert_eq!(gone.class(), ErrorClass::Permanent);
        let read = PartError::Read {
            collector: "c".into(),
            failure: gone,
        };
        assert_eq!(
            (read.class(), read.kind()),
            (ErrorClass::Permanent, "data_gone")
        );
        let waiting = PartError::NoCollector {
            host: "h".into(),
            tablet_endpoint: "h:1".into(),
        };
        assert_eq!(waiting.class(), ErrorClass::Transient);
        assert!(
            waiting
                .to_string()
                .contains("waiting for a data collector on host h")
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let b = Backoff {
            base_ms: 500,
            cap_ms: 30_000,
        };
        let delays: Vec<u64> = (1..=9).map(|a| b.delay_ms(a)).collect();
        assert_eq!(
            delays,
            vec![500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
        assert_eq!(b.delay_ms(u32::MAX), 30_000);
    }
}
