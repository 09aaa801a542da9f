//! The [`Sink`] trait: what the SyncTool daemon (and the simulation) needs
//! from an offline store. Every method is idempotent, so the daemon can retry
//! any failed call as is.

use sync_core::task::{CommitSegment, SinkProgress, StageSegment};

use crate::error::SinkError;
use crate::schema::TableSchema;

/// What a commit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitOutcome {
    /// The segment became visible now, as `files` files (0 for a segment
    /// without rows, several for a partitioned one).
    Committed {
        /// Data files the commit made visible.
        files: u64,
    },
    /// It was already committed, with the same points and counts: nothing
    /// done (beyond finishing a half-published partitioned segment).
    AlreadyCommitted {
        /// Data files the earlier commit made visible.
        files: u64,
    },
}

impl CommitOutcome {
    /// The data files of the committed segment.
    pub fn files(&self) -> u64 {
        match *self {
            CommitOutcome::Committed { files } | CommitOutcome::AlreadyCommitted { files } => files,
        }
    }
}

/// The steps of staging and committing a segment, for fault injection
/// ([`crate::StoreSink::crash_after`]): the sink returns
/// [`SinkError::InjectedCrash`] right after the step, as if the process died
/// there, leaving the store exactly as a crash would.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Stage: the staged bytes are written under their temporary name (stores
    /// that rename); not yet renamed to the staging name.
    StageWritten,
    /// Stage: the staged file is complete under its staging name.
    Staged,
    /// Commit: the commit record is created; the file is not yet visible.
    RecordWritten,
    /// Commit: the file is visible (linked on the local fs and in memory,
    /// renamed on HDFS, copied on S3); where it was linked or copied, the
    /// staged name is not yet deleted.
    Published,
    /// Commit: everything is done; the reply is not yet sent.
    Committed,
}

/// What a sink counted since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SinkCounters {
    /// Bad rows left out ([`crate::BadRows::Skip`]).
    pub rows_skipped: u64,
    /// Bad rows set aside in `_rejected/` ([`crate::BadRows::DeadLetter`]).
    pub rows_dead_lettered: u64,
}

/// An offline store with an exactly-once commit protocol (see the crate docs).
#[async_trait::async_trait]
pub trait Sink: Send + Sync {
    /// Writes the segment's rows, encoded in the output format, to staging,
    /// hidden from readers. Replaces an earlier staging of the same segment;
    /// does nothing if the segment is already committed.
    async fn stage(&self, seg: &StageSegment, schema: &TableSchema) -> Result<(), SinkError>;

    /// Makes a staged segment visible together with its end point, in one
    /// atomic step. Committing an already committed segment is a no-op
    /// ([`CommitOutcome::AlreadyCommitted`]) when its points and counts match,
    /// else [`SinkError::CommitConflict`]. `start` must equal the end of
    /// segment `seq - 1` ([`SinkError::StartMismatch`]).
    async fn commit(&self, seg: &CommitSegment) -> Result<CommitOutcome, SinkError>;

    /// Removes staged files and uncommitted commit records of segments
    /// `from_seq..` of a partition task, and staged leftovers of its committed
    /// segments. Never touches a committed segment's record or visible file.
    async fn clear_staging(
        &self,
        tid: u32,
        pid: u32,
        task_id: u64,
        dest: &str,
        from_seq: u64,
    ) -> Result<(), SinkError>;

    /// The last committed segment of every partition task in `dest` (of table
    /// `tid` only, if given), read from the store itself.
    async fn committed(&self, dest: &str, tid: Option<u32>)
    -> Result<Vec<SinkProgress>, SinkError>;

    /// The files readers see in `dest` (relative paths, sorted).
    async fn visible_files(&self, dest: &str) -> Result<Vec<String>, SinkError>;

    /// Checks, before a task is created, that `dest` can be used: its form
    /// and scheme are known, its host answers, its directory can be created,
    /// and in its staging area a probe file (`_staging/.probe-<unique>`) can
    /// be written, created exclusively, published without replacing and
    /// removed. Bounded by [`SinkConfig::check_timeout`](crate::SinkConfig::check_timeout),
    /// so an unreachable host answers in time. The error
    /// ([`SinkError::BadDestination`] or [`SinkError::Unusable`]) says what
    /// failed. Leaves nothing behind but the directories it created.
    async fn check_destination(&self, dest: &str) -> Result<(), SinkError>;

    /// Drops what the sink keeps open for `dest` (its store, the HDFS
    /// client and its connections); a later call on `dest` opens them
    /// again. For a deleted task, so that nothing keeps reconnecting.
    fn release(&self, dest: &str);

    /// What the sink counted since it started (bad rows).
    fn counters(&self) -> SinkCounters {
        SinkCounters::default()
    }
}
