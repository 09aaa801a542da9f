//! What a work dir may let go of (`FAULTS.md` §2): links are kept from the
//! part's *committed* point onward, so that any later assignment (a `retry`,
//! a reassignment back to this collector, a restart) can be served exactly.
//! On each committed point SyncTool reports, [`Keeper::on_committed`]
//! releases
//! * binlog files wholly before the first log index a read from that point
//!   may need ([`binlog_needed_from`]);
//! * the linked snapshot once the committed point is in the binlog: every
//!   row the part needs from the snapshot is committed.
//!
//! Releasing needs the task's [`Lease`]: a replaced loop lets go of nothing.

use std::time::Duration;

use sync_core::point::{Point, SnapshotPoint};
use sync_infra::store::LocalStore;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::lease::Lease;
use crate::status::SharedStatus;
use crate::tailer::{BinlogTailer, TailError};
use crate::workdir::{WorkDir, WorkDirError};

/// The first binlog log index a read continuing `committed` may need, if
/// the point bounds it: a binlog point needs its offset on; a point inside
/// a snapshot needs the entries after what its keys cover (a catch-up), and
/// the entries after the linked snapshot's MANIFEST offset (its effective
/// offset is worked out from them). The start of a snapshot bounds nothing.
pub fn binlog_needed_from(committed: &Point, linked_manifest_offset: Option<u64>) -> Option<u64> {
    match committed {
        Point::Binlog { offset } => Some(*offset),
        Point::Snapshot(SnapshotPoint {
            snapshot_offset: Some(named),
            key: Some(_),
            catch_up_from,
        }) => {
            let covered = catch_up_from.map_or(*named, |next| next.saturating_sub(1).min(*named));
            let from = covered.saturating_add(1);
            Some(linked_manifest_offset.map_or(from, |m| from.min(m.saturating_add(1))))
        }
        Point::Snapshot(_) => None,
    }
}

/// Why links could not be released (they stay).
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error(transparent)]
    WorkDir(#[from] WorkDirError),
    #[error(transparent)]
    Binlog(#[from] TailError),
}

/// What one release let go of.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Released {
    pub binlog_files: usize,
    pub snapshot: bool,
}

/// Releases a task's links as its committed point moves.
pub struct Keeper<S> {
    work: WorkDir<S>,
    tid: u32,
    pid: u32,
    lease: Lease,
    status: SharedStatus,
    interval: Duration,
    last: Option<Instant>,
    done_for: Option<Point>,
    /// The last committed point SyncTool reported.
    committed: Option<Point>,
}

impl<S: LocalStore + Clone> Keeper<S> {
    pub fn new(
        work: WorkDir<S>,
        tid: u32,
        pid: u32,
        lease: Lease,
        status: SharedStatus,
        interval: Duration,
    ) -> Self {
        Self {
            work,
            tid,
            pid,
            lease,
            status,
            interval,
            last: None,
            done_for: None,
            committed: None,
        }
    }

    /// The last committed point SyncTool reported.
    pub fn committed(&self) -> Option<&Point> {
        self.committed.as_ref()
    }

    /// Notes SyncTool's committed point and releases what it no longer
    /// needs (at most every `interval`).
    pub fn on_committed(&mut self, committed: &Point) {
        self.status.lock().committed_point = Some(committed.to_string());
        self.committed = Some(committed.clone());
        let due = self.last.is_none_or(|at| at.elapsed() >= self.interval);
        if !due || self.done_for.as_ref() == Some(committed) {
            return;
        }
        self.last = Some(Instant::now());
        self.done_for = Some(committed.clone());
        let (tid, pid) = (self.tid, self.pid);
        match self.lease.with(|| self.release(committed)) {
            None => {}
            Some(Ok(r)) if r == Released::default() => {}
            Some(Ok(r)) => {
                info!(tid, pid, committed = %committed, files = r.binlog_files, snapshot = r.snapshot, "released links the committed point no longer needs");
                self.refresh_links();
            }
            Some(Err(e)) => warn!(tid, pid, "cannot release links: {e}"),
        }
    }

    /// Shows the links held on the status page.
    pub fn refresh_links(&self) {
        if let Ok(links) = self.work.held_links(self.tid, self.pid) {
            self.status.lock().links = links;
        }
    }

    fn release(&self, committed: &Point) -> Result<Released, ReleaseError> {
        let (tid, pid) = (self.tid, self.pid);
        let mut released = Released::default();
        let linked = self.work.linked_snapshot(tid, pid)?;
        if matches!(committed, Point::Binlog { .. }) && linked.is_some() {
            released.snapshot = self.work.release_snapshot(tid, pid)?;
        }
        let manifest_offset = match committed {
            Point::Binlog { .. } => None,
            Point::Snapshot(_) => linked.as_ref().map(|l| l.manifest.offset()),
        };
        let Some(needed) = binlog_needed_from(committed, manifest_offset) else {
            return Ok(released);
        };
        let mut parts = BinlogTailer::new(self.work.binlog_dir(tid, pid), 1, false);
        parts.refresh(self.work.store())?;
        if let Some(keep_from) = parts.parts().file_for(needed) {
            released.binlog_files = self.work.release_binlogs_before(tid, pid, keep_from)?;
        }
        Ok(released)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sync_core::point::RowKey;

    #[test]
    fn what_a_committed_point_still_needs() {
        assert_eq!(
            binlog_needed_from(&Point::Binlog { offset: 9 }, Some(3)),
            Some(9)
        );
        assert_eq!(binlog_needed_from(&Point::start(), Some(3)), None);
        assert_eq!(binlog_needed_from(&Point::in_snapshot(7, None), None), None);
        let in_snapshot = Point::in_snapshot(7, Some(RowKey::new("k", 1)));
        assert_eq!(binlog_needed_from(&in_snapshot, None), Some(8));
        assert_eq!(
            binlog_needed_from(&in_snapshot, Some(5)),
            Some(6),
            "the effective offset is worked out from the MANIFEST offset on"
        );
        let catching_up = Point::catching_up(9, RowKey::new("k", 1), 4);
        assert_eq!(binlog_needed_from(&catching_up, Some(9)), Some(4));
    }
}
