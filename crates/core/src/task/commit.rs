//! Staging and the exactly-once commit plan of one partition.
//!
//! Two points matter per partition: the **accepted** point (packs are taken up
//! to here; their rows are held in memory) and the **committed** point (rows up
//! to here are visible in the sink, together with this point). Rows accepted
//! since the last roll form the *open* segment. A rolling policy (rows, bytes,
//! age, and the mode-0 finish) *seals* it into segment `seq` (0, 1, 2, ... per
//! partition task); at most one sealed segment is in flight at a time. A
//! segment goes through explicit steps, each an action whose result comes back
//! as an input, so a crash between any two is a state tests can reach:
//!
//! 1. [`StageSegment`]: write the rows to a hidden staging name (`_staging/…`).
//!    Idempotent: the same segment always has the same name and rows.
//! 2. [`CommitSegment`]: atomically make the rows visible *and* record the
//!    end point (one rename or exclusive create of a commit record carrying
//!    `seq`, `start`, `end`, `rows_total`). Idempotent: committing a `seq` that
//!    is already committed is a no-op; the sink also checks that `start` equals
//!    the end of `seq - 1`.
//! 3. On `SegmentCommitted`: the committed point moves to `end`, the state is
//!    persisted, and every later pack reply carries the new committed point so
//!    the collector can release its data before it.
//!
//! A failed step is retried (from the staging step) after a backoff the
//! supervisor chooses, with the same name and rows. A sealed segment is never abandoned while the
//! supervisor lives; rows that are only accepted or staged are never output.
//! After a crash the sink's last commit record is the truth: recovery resumes
//! from its end point and the next segment is `last_seq + 1`, so a segment
//! that was staged but not committed is rebuilt under the same name (its
//! leftover staging is overwritten or cleared) and a committed one is never
//! written twice.
//!
//! The segment name is a pure function of (tid, pid, task id, seq). The task id
//! (a per-table-task number, new on every create) keeps a table deleted and
//! created again from colliding with its old segments in the same destination.

use std::sync::Arc;

use crate::point::Point;
use crate::task::options::TaskOptions;

/// When to seal the open segment.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RollPolicy {
    /// Seal at this many rows.
    pub max_rows: u64,
    /// Seal at this many bytes of encoded rows.
    pub max_bytes: u64,
    /// Seal when the oldest unsealed progress is this old (also commits progress
    /// made by packs without rows, e.g. the snapshot→binlog switch).
    pub max_age_ms: u64,
}

impl Default for RollPolicy {
    fn default() -> Self {
        Self {
            max_rows: 1_000_000,
            max_bytes: 128 << 20,
            max_age_ms: 60_000,
        }
    }
}

/// Identity of a segment.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct SegmentId {
    /// Table id.
    pub tid: u32,
    /// Partition id.
    pub pid: u32,
    /// The table task it belongs to.
    pub task_id: u64,
    /// Position in the partition task's sequence of segments, from 0.
    pub seq: u64,
}

impl SegmentId {
    /// The file / object name of the segment: sorted by seq within a partition.
    pub fn name(&self) -> String {
        format!(
            "{:010}-{:05}-{:010}-{:012}",
            self.tid, self.pid, self.task_id, self.seq
        )
    }
}

/// Write a segment's rows to staging (hidden from readers).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct StageSegment {
    /// Which segment.
    pub id: SegmentId,
    /// Destination root.
    pub dest: String,
    /// The rows, concatenated encoded rows (opaque); shared with the plan,
    /// which holds them until the commit, so a retry never copies them.
    pub rows: Arc<Vec<u8>>,
    /// Number of rows.
    pub row_count: u64,
    /// The writer's epoch for the partition (as [`CommitSegment::epoch`]):
    /// a stale writer must not stage over the current one's files.
    pub epoch: u64,
    /// The task's output options (`None`: the sink's own settings).
    pub options: Option<Arc<TaskOptions>>,
}

/// Make a staged segment visible together with its end point.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CommitSegment {
    /// Which segment.
    pub id: SegmentId,
    /// Destination root.
    pub dest: String,
    /// The committed point before this segment.
    pub start: Point,
    /// The committed point after it.
    pub end: Point,
    /// Rows in the segment.
    pub row_count: u64,
    /// Rows committed in the partition task including this segment.
    pub rows_total: u64,
    /// The writer's epoch for the partition (standalone: 1); recorded in the
    /// commit record so readers and recovery can tell writers apart.
    pub epoch: u64,
    /// The task's output options (`None`: the sink's own settings).
    pub options: Option<Arc<TaskOptions>>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Step {
    Staging,
    Committing,
}

#[derive(Clone, Debug)]
struct Sealed {
    seq: u64,
    start: Point,
    end: Point,
    rows: Arc<Vec<u8>>,
    row_count: u64,
    step: Step,
    /// An action for `step` is out and its result not yet back.
    awaiting: bool,
    /// When its oldest progress was accepted (ms).
    since_ms: u64,
    /// When it was sealed (ms).
    sealed_ms: u64,
}

/// A sealed segment in flight, for metrics.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct InFlight {
    /// Its seq.
    pub seq: u64,
    /// Rows in it.
    pub rows: u64,
    /// Bytes of its rows.
    pub bytes: u64,
    /// When it was sealed (ms).
    pub sealed_ms: u64,
}

/// What the plan asks the supervisor to emit.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum SegmentAction {
    /// Emit a stage action.
    Stage(StageSegment),
    /// Emit a commit action.
    Commit(CommitSegment),
}

/// The commit state of one partition task.
#[derive(Clone, Debug)]
pub struct CommitPlan {
    id_base: SegmentId,
    dest: String,
    committed: Point,
    rows_committed: u64,
    next_seq: u64,
    open_rows: Vec<u8>,
    open_count: u64,
    open_since: Option<u64>,
    in_flight: Option<Sealed>,
    epoch: u64,
    /// Failed attempts of the in-flight segment's steps in a row.
    step_failures: u32,
    /// A failed step is retried from here on (ms).
    retry_at_ms: u64,
    /// Bytes of rows committed (as received from collectors).
    bytes_committed: u64,
    /// Committed segments that hold rows (one visible file each).
    files_committed: u64,
    /// The task's output options, carried by every segment.
    options: Option<Arc<TaskOptions>>,
}

/// The epoch of a standalone SyncTool (the only writer of its partitions).
pub const STANDALONE_EPOCH: u64 = 1;

impl CommitPlan {
    /// A plan whose committed state is `committed` after `next_seq` segments.
    pub fn new(
        tid: u32,
        pid: u32,
        task_id: u64,
        dest: String,
        committed: Point,
        next_seq: u64,
        rows_committed: u64,
    ) -> Self {
        Self {
            id_base: SegmentId {
                tid,
                pid,
                task_id,
                seq: 0,
            },
            dest,
            committed,
            rows_committed,
            next_seq,
            open_rows: Vec::new(),
            open_count: 0,
            open_since: None,
            in_flight: None,
            epoch: STANDALONE_EPOCH,
            step_failures: 0,
            retry_at_ms: 0,
            bytes_committed: 0,
            files_committed: 0,
            options: None,
        }
    }

    /// The plan with the task's output options, which its segments carry.
    pub fn with_options(mut self, options: Arc<TaskOptions>) -> Self {
        self.options = Some(options);
        self
    }

    /// Bytes of rows committed (as received) and files committed, as counted
    /// so far (kept across restarts by the persisted state).
    pub fn committed_volume(&self) -> (u64, u64) {
        (self.bytes_committed, self.files_committed)
    }

    /// Sets the counts of [`CommitPlan::committed_volume`] (recovery).
    pub fn restore_volume(&mut self, bytes: u64, files: u64) {
        self.bytes_committed = bytes;
        self.files_committed = files;
    }

    /// The epoch commits are made with.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Commits from now on carry `epoch` (the part's ownership claim).
    pub fn set_epoch(&mut self, epoch: u64) {
        self.epoch = epoch;
    }

    /// The point committed in the sink.
    pub fn committed(&self) -> &Point {
        &self.committed
    }

    /// Rows committed so far.
    pub fn rows_committed(&self) -> u64 {
        self.rows_committed
    }

    /// The seq the next sealed segment gets.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The end of the newest sealed segment (the committed point if none is in flight).
    pub fn sealed_end(&self) -> &Point {
        self.in_flight.as_ref().map_or(&self.committed, |s| &s.end)
    }

    /// The first seq that is not committed (the in-flight one, or the next).
    pub fn first_uncommitted_seq(&self) -> u64 {
        self.in_flight.as_ref().map_or(self.next_seq, |s| s.seq)
    }

    /// Whether a sealed segment is in flight.
    pub fn in_flight(&self) -> bool {
        self.in_flight.is_some()
    }

    /// Whether segment `seq` is in flight with a step out (its result is awaited).
    pub fn awaits(&self, seq: u64) -> bool {
        self.in_flight
            .as_ref()
            .is_some_and(|s| s.seq == seq && s.awaiting)
    }

    /// The table task id the segments are named with.
    pub fn task_id(&self) -> u64 {
        self.id_base.task_id
    }

    /// The segment in flight, if any.
    pub fn in_flight_info(&self) -> Option<InFlight> {
        self.in_flight.as_ref().map(|s| InFlight {
            seq: s.seq,
            rows: s.row_count,
            bytes: s.rows.len() as u64,
            sealed_ms: s.sealed_ms,
        })
    }

    /// Rows accepted but not yet committed (open and in flight).
    pub fn held_rows(&self) -> u64 {
        self.open_count + self.in_flight.as_ref().map_or(0, |s| s.row_count)
    }

    /// When the oldest progress not yet committed was accepted (ms), if any.
    pub fn oldest_uncommitted_ms(&self) -> Option<u64> {
        self.in_flight
            .as_ref()
            .map(|s| s.since_ms)
            .or(self.open_since)
    }

    /// Bytes of the open (unsealed) segment's rows.
    pub fn open_bytes(&self) -> u64 {
        self.open_rows.len() as u64
    }

    /// Bytes held in memory (open and in flight).
    pub fn held_bytes(&self) -> u64 {
        (self.open_rows.len() + self.in_flight.as_ref().map_or(0, |s| s.rows.len())) as u64
    }

    /// Takes the rows of an accepted pack into the open segment.
    pub fn append(&mut self, rows: &[u8], row_count: u64, advanced: bool, now_ms: u64) {
        self.open_rows.extend_from_slice(rows);
        self.open_count += row_count;
        if advanced && self.open_since.is_none() {
            self.open_since = Some(now_ms);
        }
    }

    /// Drops the open (unsealed) rows: a reassign re-reads them.
    pub fn discard_open(&mut self) {
        self.open_rows.clear();
        self.open_count = 0;
        self.open_since = None;
    }

    /// Whether the open segment should be sealed now. `accepted` is the
    /// partition's accepted point; `finishing` forces a seal of any progress.
    pub fn should_roll(
        &self,
        policy: &RollPolicy,
        accepted: &Point,
        finishing: bool,
        now_ms: u64,
    ) -> bool {
        if self.in_flight.is_some() || accepted == self.sealed_end() {
            return false;
        }
        finishing
            || self.open_count >= policy.max_rows
            || self.open_rows.len() as u64 >= policy.max_bytes
            || self
                .open_since
                .is_some_and(|since| now_ms.saturating_sub(since) >= policy.max_age_ms)
    }

    /// Seals the open segment at `now_ms`, ending at `accepted`; returns its stage action.
    pub fn roll(&mut self, accepted: &Point, now_ms: u64) -> SegmentAction {
        let mut rows = std::mem::take(&mut self.open_rows);
        // The open buffer grew by doubling: give back what it did not fill.
        rows.shrink_to_fit();
        let sealed = Sealed {
            seq: self.next_seq,
            start: self.sealed_end().clone(),
            end: accepted.clone(),
            rows: Arc::new(rows),
            row_count: std::mem::take(&mut self.open_count),
            step: Step::Staging,
            awaiting: true,
            since_ms: self.open_since.unwrap_or(now_ms),
            sealed_ms: now_ms,
        };
        self.open_since = None;
        self.next_seq += 1;
        let action = self.stage_action(&sealed);
        self.in_flight = Some(sealed);
        action
    }

    fn id(&self, seq: u64) -> SegmentId {
        SegmentId {
            seq,
            ..self.id_base
        }
    }

    fn stage_action(&self, s: &Sealed) -> SegmentAction {
        SegmentAction::Stage(StageSegment {
            id: self.id(s.seq),
            dest: self.dest.clone(),
            rows: s.rows.clone(),
            row_count: s.row_count,
            epoch: self.epoch,
            options: self.options.clone(),
        })
    }

    fn commit_action(&self, s: &Sealed) -> SegmentAction {
        SegmentAction::Commit(CommitSegment {
            id: self.id(s.seq),
            dest: self.dest.clone(),
            start: s.start.clone(),
            end: s.end.clone(),
            row_count: s.row_count,
            rows_total: self.rows_committed + s.row_count,
            epoch: self.epoch,
            options: self.options.clone(),
        })
    }

    /// The staging step of `seq` finished. On success returns the commit action.
    /// Results for other segments or steps are ignored (`None`).
    pub fn on_staged(&mut self, seq: u64, ok: bool) -> Option<SegmentAction> {
        let s = self.in_flight.as_mut()?;
        if s.seq != seq || s.step != Step::Staging || !s.awaiting {
            return None;
        }
        s.awaiting = false;
        if !ok {
            return None;
        }
        s.step = Step::Committing;
        s.awaiting = true;
        let s = s.clone();
        self.step_failures = 0;
        Some(self.commit_action(&s))
    }

    /// The commit step of `seq` finished: `Some(files)` when it succeeded,
    /// with the data files it made visible, `None` when it failed. Returns
    /// true when the committed point moved (the caller persists). A failure
    /// goes back to staging.
    pub fn on_committed(&mut self, seq: u64, published_files: Option<u64>) -> bool {
        let Some(s) = self.in_flight.as_mut() else {
            return false;
        };
        if s.seq != seq || s.step != Step::Committing || !s.awaiting {
            return false;
        }
        s.awaiting = false;
        let Some(files) = published_files else {
            s.step = Step::Staging;
            return false;
        };
        if let Some(s) = self.in_flight.take() {
            self.committed = s.end;
            self.rows_committed += s.row_count;
            self.bytes_committed += s.rows.len() as u64;
            self.files_committed += files;
        }
        self.step_failures = 0;
        true
    }

    /// A step of the in-flight segment failed (after [`CommitPlan::on_staged`]
    /// or [`CommitPlan::on_committed`] with `ok == false`): it is retried
    /// from `retry_at_ms` on. Returns the failures in a row so far.
    pub fn step_failed(&mut self, retry_at_ms: u64) -> u32 {
        self.step_failures += 1;
        self.retry_at_ms = retry_at_ms;
        self.step_failures
    }

    /// Failed step attempts in a row (0 after a success).
    pub fn step_failures(&self) -> u32 {
        self.step_failures
    }

    /// When a failed step is due to be retried, if one waits.
    pub fn retry_due_ms(&self) -> Option<u64> {
        let s = self.in_flight.as_ref()?;
        (!s.awaiting).then_some(self.retry_at_ms)
    }

    /// When the open segment is due to roll by age, if it holds progress.
    pub fn roll_due_ms(&self, policy: &RollPolicy) -> Option<u64> {
        if self.in_flight.is_some() {
            return None;
        }
        self.open_since
            .map(|since| since.saturating_add(policy.max_age_ms))
    }

    /// Drops the in-flight segment (its part FAILED for good on a step): the
    /// next sealed segment takes its seq again, so its leftovers are replaced.
    pub fn abandon_in_flight(&mut self) {
        if let Some(s) = self.in_flight.take() {
            self.next_seq = s.seq;
        }
        self.step_failures = 0;
    }

    /// Re-issues the step of a sealed segment whose last attempt failed, once
    /// its retry is due at `now_ms`.
    pub fn retry(&mut self, now_ms: u64) -> Option<SegmentAction> {
        let due = self.retry_at_ms;
        let s = self.in_flight.as_mut()?;
        if s.awaiting || now_ms < due {
            return None;
        }
        s.awaiting = true;
        let s = s.clone();
        Some(match s.step {
            Step::Staging => self.stage_action(&s),
            Step::Committing => self.commit_action(&s),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> CommitPlan {
        CommitPlan::new(3, 1, 9, "/d".into(), Point::start(), 0, 0)
    }

    fn policy() -> RollPolicy {
        RollPolicy {
            max_rows: 3,
            max_bytes: 100,
            max_age_ms: 1000,
        }
    }

    #[test]
    fn names_are_a_function_of_the_id_and_sort_by_seq() {
        let a = SegmentId {
            tid: 3,
            pid: 1,
            task_id: 9,
            seq: 2,
        };
        assert_eq!(a.name(), "0000000003-00001-0000000009-000000000002");
        let b = SegmentId { seq: 10, ..a };
        assert!(a.name() < b.name());
    }

    #[test]
    fn rolls_by_rows_bytes_age_and_finish() {
        let p1 = Point::Binlog { offset: 5 };
        let mut c = plan();
        assert!(!c.should_roll(&policy(), &Point::start(), true, 0));
        c.append(b"ab", 2, true, 0);
        assert!(!c.should_roll(&policy(), &p1, false, 999));
        assert!(c.should_roll(&policy(), &p1, false, 1000));
        assert!(c.should_roll(&policy(), &p1, true, 0));
        c.append(b"c", 1, true, 1);
        assert!(c.should_roll(&policy(), &p1, false, 1));
        let mut big = plan();
        big.append(&[0; 100], 1, true, 0);
        assert!(big.should_roll(&policy(), &p1, false, 0));
    }

    #[test]
    fn a_segment_is_staged_then_committed_and_moves_the_committed_point() {
        let end = Point::Binlog { offset: 4 };
        let mut c = plan();
        c.append(b"xy", 2, true, 0);
        let SegmentAction::Stage(stage) = c.roll(&end, 0) else {
            panic!("expected stage")
        };
        assert_eq!(stage.id.seq, 0);
        assert_eq!(stage.rows.as_slice(), b"xy");
        assert_eq!(c.sealed_end(), &end);
        assert_eq!(c.committed(), &Point::start());
        // A stale result is ignored.
        assert_eq!(c.on_staged(7, true), None);
        let Some(SegmentAction::Commit(commit)) = c.on_staged(0, true) else {
            panic!("expected commit")
        };
        assert_eq!(
            (commit.start.clone(), commit.end.clone()),
            (Point::start(), end.clone())
        );
        assert_eq!(commit.rows_total, 2);
        assert!(c.on_committed(0, Some(1)));
        assert_eq!(c.committed(), &end);
        assert_eq!(c.rows_committed(), 2);
        assert_eq!(c.next_seq(), 1);
        assert!(!c.in_flight());
    }

    #[test]
    fn failures_retry_the_same_segment_from_staging() {
        let end = Point::Binlog { offset: 4 };
        let mut c = plan();
        c.append(b"xy", 2, true, 0);
        let first = c.roll(&end, 0);
        assert_eq!(c.retry(0), None, "no retry while awaiting");
        assert_eq!(c.on_staged(0, false), None);
        assert_eq!(c.step_failed(500), 1);
        assert_eq!(c.retry_due_ms(), Some(500));
        assert_eq!(c.retry(499), None, "not before the backoff");
        assert_eq!(c.retry(500), Some(first.clone()));
        assert!(c.on_staged(0, true).is_some());
        assert_eq!(c.step_failures(), 0, "a success resets the count");
        assert!(!c.on_committed(0, None));
        assert_eq!(c.step_failed(900), 1);
        assert_eq!(c.retry(900), Some(first), "a failed commit restages");
        assert!(c.on_staged(0, true).is_some());
        assert!(c.on_committed(0, Some(1)));
        assert_eq!(c.retry(10_000), None);
    }
}
