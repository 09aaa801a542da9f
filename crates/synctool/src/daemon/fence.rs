//! The partition epochs of `FAULTS.md` §4 as the daemon uses them: a claim
//! takes a part at a new epoch, and the check before every stage, commit and
//! assignment tells whether this SyncTool still owns the part with its
//! epoch. Without fencing (standalone) every check passes.

use std::sync::Arc;

use sync_core::task::{ErrorClass, Input};
use tracing::warn;

use super::cluster::ClusterView;

/// The cluster epochs are claimed in and checked against, and the owner
/// name this SyncTool's epochs go with (its endpoint).
#[derive(Clone)]
pub struct Fence {
    /// The cluster.
    pub cluster: Arc<dyn ClusterView>,
    /// This SyncTool's endpoint.
    pub worker: String,
}

/// What a check of a part's epoch found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EpochCheck {
    /// This SyncTool owns the part with that epoch (or nothing is fenced).
    Current,
    /// Another SyncTool owns the part now: what the record says.
    Stale(String),
    /// The cluster cannot be asked now (transient): why.
    Unknown(String),
}

impl Fence {
    /// Takes part `(tid, pid)` at a new epoch.
    pub async fn claim(&self, tid: u32, pid: u32) -> Result<u64, String> {
        self.cluster
            .claim_part(tid, pid, &self.worker)
            .await
            .map_err(|e| e.to_string())
    }

    /// Whether this SyncTool still owns part `(tid, pid)` with `epoch`.
    pub async fn check(&self, tid: u32, pid: u32, epoch: u64) -> EpochCheck {
        if !self.cluster.fences() {
            return EpochCheck::Current;
        }
        match self
            .cluster
            .check_part_epoch(tid, pid, &self.worker, epoch)
            .await
        {
            Ok(()) => EpochCheck::Current,
            Err(e) if e.class() == ErrorClass::Permanent => EpochCheck::Stale(e.to_string()),
            Err(e) => EpochCheck::Unknown(format!("cannot check the partition's epoch: {e}")),
        }
    }
}

/// What the drive loop is told when a check found the part owned elsewhere.
pub fn part_lost(tid: u32, pid: u32, why: String) -> Input {
    warn!(tid, pid, "not written or assigned here any more: {why}");
    Input::PartLost { tid, pid, why }
}
