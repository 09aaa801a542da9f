//! An in-memory [`SegmentStore`] with the commit rules of the real sinks:
//! staging is invisible, a commit needs the staged segment and the previous
//! seq's end as its start, and committing a committed seq is a no-op. Tests
//! keep one instance across daemon restarts and inspect the committed rows;
//! failures can be injected.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use sync_core::point::Point;
use sync_core::task::{CommitSegment, SegmentId, SinkProgress, StageSegment};

use super::segment_store::{BoxFuture, ClearStaging, SegmentStore, StoreError};

/// One committed segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedSegment {
    /// Its id.
    pub id: SegmentId,
    /// First point.
    pub start: Point,
    /// End point (exclusive).
    pub end: Point,
    /// Its rows, as packed by collectors.
    pub rows: Vec<u8>,
    /// Rows in it.
    pub row_count: u64,
    /// Rows committed in the partition task up to and including it.
    pub rows_total: u64,
}

#[derive(Default, Debug)]
struct Inner {
    staged: BTreeMap<(String, SegmentId), (Vec<u8>, u64)>,
    committed: BTreeMap<(String, SegmentId), CommittedSegment>,
}

/// The in-memory store.
#[derive(Default, Debug)]
pub struct MemorySegmentStore {
    inner: Mutex<Inner>,
    fail_commits: AtomicU32,
}

impl MemorySegmentStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The next `n` commits fail (before changing anything).
    pub fn fail_next_commits(&self, n: u32) {
        self.fail_commits.store(n, Ordering::SeqCst);
    }

    /// Every committed segment under `dest`, in id order.
    pub fn committed_segments(&self, dest: &str) -> Vec<CommittedSegment> {
        self.lock()
            .committed
            .iter()
            .filter(|((d, _), _)| d == dest)
            .map(|(_, s)| s.clone())
            .collect()
    }

    /// How many staged segments exist under `dest`.
    pub fn staged_count(&self, dest: &str) -> usize {
        self.lock().staged.keys().filter(|(d, _)| d == dest).count()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A poisoned lock only means a panicking test thread; the data is still consistent
        // because every mutation below is a single insert or remove.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn do_commit(&self, seg: &CommitSegment) -> Result<(), StoreError> {
        let take_failure = self
            .fail_commits
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if take_failure {
            return Err(StoreError(format!(
                "injected commit failure of {}",
                seg.id.name()
            )));
        }
        let mut inner = self.lock();
        let key = (seg.dest.clone(), seg.id);
        if inner.committed.contains_key(&key) {
            return Ok(());
        }
        if seg.id.seq > 0 {
            let prev = SegmentId {
                seq: seg.id.seq - 1,
                ..seg.id
            };
            match inner.committed.get(&(seg.dest.clone(), prev)) {
                Some(p) if p.end == seg.start => {}
                Some(p) => {
                    return Err(StoreError(format!(
                        "segment {} starts at {} but seq {} ended at {}",
                        seg.id.name(),
                        seg.start,
                        prev.seq,
                        p.end
                    )));
                }
                None => {
                    return Err(StoreError(format!(
                        "segment {} commits before seq {}",
                        seg.id.name(),
                        prev.seq
                    )));
                }
            }
        }
        let Some((rows, row_count)) = inner.staged.remove(&key) else {
            return Err(StoreError(format!(
                "segment {} is not staged",
                seg.id.name()
            )));
        };
        inner.committed.insert(
            key,
            CommittedSegment {
                id: seg.id,
                start: seg.start.clone(),
                end: seg.end.clone(),
                rows,
                row_count,
                rows_total: seg.rows_total,
            },
        );
        Ok(())
    }
}

impl SegmentStore for MemorySegmentStore {
    fn stage<'a>(&'a self, segment: &'a StageSegment) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.lock().staged.insert(
                (segment.dest.clone(), segment.id),
                (segment.rows.clone(), segment.row_count),
            );
            Ok(())
        })
    }

    fn commit<'a>(&'a self, segment: &'a CommitSegment) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { self.do_commit(segment) })
    }

    fn clear_staging<'a>(
        &'a self,
        clear: &'a ClearStaging,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.lock().staged.retain(|(dest, id), _| {
                !(dest == &clear.dest
                    && id.tid == clear.tid
                    && id.pid == clear.pid
                    && id.task_id == clear.task_id
                    && id.seq >= clear.from_seq)
            });
            Ok(())
        })
    }

    fn committed<'a>(
        &'a self,
        dest: &'a str,
        tid: u32,
    ) -> BoxFuture<'a, Result<Vec<SinkProgress>, StoreError>> {
        Box::pin(async move {
            let inner = self.lock();
            let mut last: BTreeMap<(u32, u64), &CommittedSegment> = BTreeMap::new();
            for ((d, id), seg) in &inner.committed {
                if d == dest && id.tid == tid {
                    last.insert((id.pid, id.task_id), seg);
                }
            }
            Ok(last
                .values()
                .map(|s| SinkProgress {
                    tid: s.id.tid,
                    pid: s.id.pid,
                    task_id: s.id.task_id,
                    last_seq: s.id.seq,
                    end: s.end.clone(),
                    rows_total: s.rows_total,
                })
                .collect())
        })
    }
}
