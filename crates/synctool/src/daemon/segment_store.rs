//! The seam between the daemon and the offline store: stage a segment, commit
//! it (atomically, with its end point), clear uncommitted staging, and read
//! back what is committed (for recovery). The `sync-sinks` crate's `Sink` is
//! adapted to this trait; [`super::memory_store::MemorySegmentStore`] is the
//! in-memory implementation used by tests.
//!
//! Every call must be idempotent for the same arguments: the supervisor
//! retries failed steps and replays them after a restart.

use std::future::Future;
use std::pin::Pin;

use sync_core::task::{CommitSegment, SinkProgress, StageSegment};

/// A boxed future, so the trait can be used as `dyn`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A sink call failed; the message is shown in logs and the status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

/// Which staged segments to remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClearStaging {
    /// Destination root.
    pub dest: String,
    /// Table id.
    pub tid: u32,
    /// Partition id.
    pub pid: u32,
    /// Table task id.
    pub task_id: u64,
    /// First seq to clear.
    pub from_seq: u64,
}

/// The offline store as the daemon uses it.
pub trait SegmentStore: Send + Sync + 'static {
    /// Writes a segment under its hidden staging name (overwrites a leftover).
    fn stage<'a>(&'a self, segment: &'a StageSegment) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Makes a staged segment visible together with its end point; a no-op
    /// when `seq` is already committed.
    fn commit<'a>(&'a self, segment: &'a CommitSegment) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Removes staged, uncommitted segments.
    fn clear_staging<'a>(
        &'a self,
        clear: &'a ClearStaging,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    /// The last commit record of every partition task of `tid` under `dest`.
    fn committed<'a>(
        &'a self,
        dest: &'a str,
        tid: u32,
    ) -> BoxFuture<'a, Result<Vec<SinkProgress>, StoreError>>;
}
