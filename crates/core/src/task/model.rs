//! The task model: a table task (one per table) split into partition tasks,
//! their statuses with the seed's meanings, and the values the supervisor
//! exchanges with the daemon about them.
//!
//! Statuses (`Display` gives the exact strings OpenMLDB shows):
//!
//! | status | meaning |
//! |---|---|
//! | `INIT` | created and assigned, no pack received yet |
//! | `RUNNING` | packs flow; also every part recovered after a SyncTool restart |
//! | `REASSIGNING` | transient: the part is being given to a collector again |
//! | `SUCCESS` | mode 0 only: the part has finished and all its data is committed |
//! | `FAILED` | the part cannot continue; the reason is kept and persisted; it is only retried on request |

use std::fmt;
use std::str::FromStr;

use sync_proto::datasync::SyncMode;

use crate::point::Point;
use crate::task::failure::{AssignFailure, PartError, ReadFailure};
use crate::task::options::TaskOptions;

/// Status of a partition task.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Status {
    /// Assigned, no pack received yet.
    Init,
    /// Receiving packs (or recovered after a restart).
    Running,
    /// Being assigned again.
    Reassigning,
    /// Mode 0: finished and committed.
    Success,
    /// Stopped with a reason.
    Failed,
}

impl Status {
    /// SUCCESS and FAILED: the part does nothing until retried or removed.
    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Success | Status::Failed)
    }

    /// The exact OpenMLDB spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Init => "INIT",
            Status::Running => "RUNNING",
            Status::Reassigning => "REASSIGNING",
            Status::Success => "SUCCESS",
            Status::Failed => "FAILED",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not one of the five statuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown task status {0:?}")]
pub struct UnknownStatus(pub String);

impl FromStr for Status {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "INIT" => Status::Init,
            "RUNNING" => Status::Running,
            "REASSIGNING" => Status::Reassigning,
            "SUCCESS" => Status::Success,
            "FAILED" => Status::Failed,
            other => return Err(UnknownStatus(other.to_owned())),
        })
    }
}

/// Sync mode of a table task (`-m 0|1|2`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Mode {
    /// 0: snapshot then binlog to its end, then finish.
    Full,
    /// 1: like 2, rows with ts below `start_ts` are dropped by the collector.
    IncrementalByTimestamp,
    /// 2: snapshot then tail the binlog forever.
    FullAndContinuous,
}

/// A mode number that is not 0, 1 or 2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown sync mode {0} (expected 0, 1 or 2)")]
pub struct UnknownMode(pub i32);

impl Mode {
    /// The protobuf value.
    pub fn to_proto(self) -> SyncMode {
        match self {
            Mode::Full => SyncMode::KFull,
            Mode::IncrementalByTimestamp => SyncMode::KIncrementalByTimestamp,
            Mode::FullAndContinuous => SyncMode::KFullAndContinuous,
        }
    }

    /// From the protobuf / CLI number.
    pub fn from_i32(mode: i32) -> Result<Self, UnknownMode> {
        match SyncMode::try_from(mode) {
            Ok(SyncMode::KFull) => Ok(Mode::Full),
            Ok(SyncMode::KIncrementalByTimestamp) => Ok(Mode::IncrementalByTimestamp),
            Ok(SyncMode::KFullAndContinuous) => Ok(Mode::FullAndContinuous),
            Err(_) => Err(UnknownMode(mode)),
        }
    }

    /// Whether the task ends (mode 0) rather than running forever.
    pub fn finishes(self) -> bool {
        self == Mode::Full
    }
}

/// What the user asked for: one table, synced in one mode to one destination.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TableTaskSpec {
    /// Database name.
    pub db: String,
    /// Table name.
    pub table: String,
    /// Table id in the cluster.
    pub tid: u32,
    /// Sync mode.
    pub mode: Mode,
    /// Mode 1 lower bound on ts.
    pub start_ts: Option<u64>,
    /// Offline destination.
    pub dest: String,
    /// What to do when `dest` already holds committed output of this table.
    pub if_exists: IfExists,
    /// Output options, resolved at create.
    pub options: TaskOptions,
}

/// A create whose destination already holds committed output of the table
/// (OpenMLDB could not resume: deleting and creating again duplicated it).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum IfExists {
    /// Modes 1 and 2 resume; mode 0 is refused (OpenMLDB's clients stay safe).
    #[default]
    Default,
    /// Continue each partition from what is committed there.
    Resume,
    /// Write everything again after what is there (duplicates it, on purpose).
    Append,
    /// Refuse the create.
    Refuse,
}

impl IfExists {
    /// From the protobuf value (absent: [`IfExists::Default`]).
    pub fn from_proto(value: Option<i32>) -> Result<Self, UnknownIfExists> {
        use sync_proto::datasync::IfExists as P;
        match value.map(P::try_from) {
            None | Some(Ok(P::KIfExistsDefault)) => Ok(IfExists::Default),
            Some(Ok(P::KIfExistsResume)) => Ok(IfExists::Resume),
            Some(Ok(P::KIfExistsAppend)) => Ok(IfExists::Append),
            Some(Ok(P::KIfExistsRefuse)) => Ok(IfExists::Refuse),
            Some(Err(_)) => Err(UnknownIfExists(value.unwrap_or_default())),
        }
    }

    /// The protobuf value.
    pub fn to_proto(self) -> sync_proto::datasync::IfExists {
        use sync_proto::datasync::IfExists as P;
        match self {
            IfExists::Default => P::KIfExistsDefault,
            IfExists::Resume => P::KIfExistsResume,
            IfExists::Append => P::KIfExistsAppend,
            IfExists::Refuse => P::KIfExistsRefuse,
        }
    }
}

/// An `if_exists` number that is not one of the four.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown if_exists value {0} (expected 1 resume, 2 append or 3 refuse)")]
pub struct UnknownIfExists(pub i32);

/// How a table task began (shown in the status and the create reply).
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum TaskOrigin {
    /// A new task: the destination held none of the table's output.
    Created,
    /// The destination held committed output of the table (task `task_id`):
    /// each partition continues from it.
    Resumed {
        /// Partitions that continue from committed output.
        partitions: u32,
        /// Rows committed there before.
        rows: u64,
    },
    /// The destination held output; everything is written again after it.
    Appended {
        /// Rows committed there before.
        rows: u64,
    },
}

impl std::fmt::Display for TaskOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TaskOrigin::Created => f.write_str("created"),
            TaskOrigin::Resumed { partitions, rows } => write!(
                f,
                "resumed from the committed output ({partitions} partition(s), {rows} rows)"
            ),
            TaskOrigin::Appended { rows } => write!(
                f,
                "appended after the committed output ({rows} rows written again)"
            ),
        }
    }
}

/// A partition and the endpoint of its leader tablet (from the table metadata).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PartitionLeader {
    /// Partition id.
    pub pid: u32,
    /// `host:port` of the leader tablet.
    pub tablet_endpoint: String,
}

/// A data pack from a collector (a `SendDataRequest`).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Pack {
    /// Table id.
    pub tid: u32,
    /// Partition id.
    pub pid: u32,
    /// The assignment token the collector holds.
    pub token: String,
    /// Where the pack starts (must equal the accepted point).
    pub start: Point,
    /// Where the next pack starts.
    pub next: Point,
    /// Rows in the pack.
    pub row_count: u64,
    /// The encoded rows, concatenated; opaque to the core.
    pub rows: Vec<u8>,
    /// Mode 0: the collector reached the binlog end.
    pub finished: bool,
    /// The collector is still preparing (no rows).
    pub preparing: bool,
    /// The collector cannot read (no rows).
    pub failure: Option<ReadFailure>,
}

/// A `SendDataRequest` that is not a valid pack.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackError {
    /// A required field is absent.
    #[error("SendData request without {0}")]
    Missing(&'static str),
    /// A point is malformed.
    #[error("bad {field}: {source}")]
    BadPoint {
        /// Which point.
        field: &'static str,
        /// What is wrong with it.
        source: crate::point::PointError,
    },
}

impl Pack {
    /// From the protobuf request (rows in the added `rows` field).
    pub fn from_proto(req: sync_proto::datasync::SendDataRequest) -> Result<Self, PackError> {
        let point = |p: Option<&sync_proto::datasync::SyncPoint>, field| {
            let p = p.ok_or(PackError::Missing(field))?;
            Point::from_proto(p).map_err(|source| PackError::BadPoint { field, source })
        };
        Ok(Pack {
            tid: req.tid.ok_or(PackError::Missing("tid"))?,
            pid: req.pid.ok_or(PackError::Missing("pid"))?,
            token: req.token.clone().ok_or(PackError::Missing("token"))?,
            start: point(req.start_point.as_ref(), "start_point")?,
            next: point(req.next_point.as_ref(), "next_point")?,
            row_count: req.count.unwrap_or(0),
            rows: req.rows.unwrap_or_default(),
            finished: req.finished.unwrap_or(false),
            preparing: req.preparing.unwrap_or(false),
            failure: req.failure.map(|f| ReadFailure {
                kind: f.kind(),
                message: f.message.unwrap_or_default(),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_print_and_parse_as_openmldb_spells_them() {
        for (s, text) in [
            (Status::Init, "INIT"),
            (Status::Running, "RUNNING"),
            (Status::Reassigning, "REASSIGNING"),
            (Status::Success, "SUCCESS"),
            (Status::Failed, "FAILED"),
        ] {
            assert_eq!(s.to_string(), text);
            assert_eq!(text.parse::<Status>(), Ok(s));
        }
        assert!("running".parse::<Status>().is_err());
    }

    #[test]
    fn modes_map_to_proto_numbers() {
        assert_eq!(Mode::from_i32(0), Ok(Mode::Full));
        assert_eq!(Mode::from_i32(1), Ok(Mode::IncrementalByTimestamp));
        assert_eq!(Mode::from_i32(2), Ok(Mode::FullAndContinuous));
        assert_eq!(Mode::from_i32(3), Err(UnknownMode(3)));
        assert_eq!(Mode::FullAndContinuous.to_proto() as i32, 2);
        assert!(Mode::Full.finishes() && !Mode::IncrementalByTimestamp.finishes());
    }

    #[test]
    fn pack_from_proto_requires_points_and_token() {
        use sync_proto::datasync::SendDataRequest;
        let start = Point::start().to_proto().unwrap();
        let next = Point::Binlog { offset: 1 }.to_proto().unwrap();
        let req = SendDataRequest {
            tid: Some(1),
            pid: Some(2),
            start_point: Some(start),
            count: Some(0),
            token: Some("t".into()),
            finished: None,
            next_point: Some(next),
            rows: None,
            preparing: None,
            failure: None,
        };
        let pack = Pack::from_proto(req.clone()).unwrap();
        assert_eq!(pack.next, Point::Binlog { offset: 1 });
        assert!(!pack.finished);
        let mut no_token = req.clone();
        no_token.token = None;
        assert_eq!(Pack::from_proto(no_token), Err(PackError::Missing("token")));
        let mut bad = req;
        bad.next_point.as_mut().unwrap().offset = None;
        assert!(matches!(
            Pack::from_proto(bad),
            Err(PackError::BadPoint {
                field: "next_point",
                ..
            })
        ));
    }
}

/// A table task: the spec and its partition tasks.
#[derive(Clone, Debug)]
pub struct TableTask {
    /// A number unique to this create (never reused, except when a create
    /// resumes the committed output of an earlier task: then it continues
    /// that task's segments), part of segment names.
    pub task_id: u64,
    /// What was asked.
    pub spec: TableTaskSpec,
    /// How it began.
    pub origin: TaskOrigin,
    /// When it was created (ms).
    pub created_ms: u64,
    /// The partition tasks by pid.
    pub partitions: std::collections::BTreeMap<u32, PartitionTask>,
}

/// How a table task ended.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Ending {
    /// Mode 0: every part SUCCESS.
    Completed,
    /// Deleted by a user.
    Deleted,
}

impl Ending {
    /// `completed` / `deleted`.
    pub fn as_str(self) -> &'static str {
        match self {
            Ending::Completed => "completed",
            Ending::Deleted => "deleted",
        }
    }
}

/// A table task that ended, kept for the history for a while.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Finished {
    /// Table id.
    pub tid: u32,
    /// Table task id.
    pub task_id: u64,
    /// Database.
    pub db: String,
    /// Table.
    pub table: String,
    /// Mode.
    pub mode: Mode,
    /// Destination.
    pub dest: String,
    /// How it ended.
    pub ending: Ending,
    /// Rows committed, all parts.
    pub rows: u64,
    /// Files committed, all parts.
    pub files: u64,
    /// Bytes of rows committed (as received), all parts.
    pub bytes: u64,
    /// When it was created (ms).
    pub created_ms: u64,
    /// When it ended (ms).
    pub ended_ms: u64,
}

impl Finished {
    /// The record of `task` ending as `ending` at `now_ms`.
    pub fn of(task: &TableTask, ending: Ending, now_ms: u64) -> Self {
        let parts = task.partitions.values();
        let (mut rows, mut files, mut bytes) = (0, 0, 0);
        for p in parts {
            let (b, f) = p.plan.committed_volume();
            rows += p.plan.rows_committed();
            files += f;
            bytes += b;
        }
        Finished {
            tid: task.spec.tid,
            task_id: task.task_id,
            db: task.spec.db.clone(),
            table: task.spec.table.clone(),
            mode: task.spec.mode,
            dest: task.spec.dest.clone(),
            ending,
            rows,
            files,
            bytes,
            created_ms: task.created_ms,
            ended_ms: now_ms,
        }
    }
}

/// Who holds (or is being given) a partition task: the assignment state.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Holder {
    /// Nobody (SUCCESS and FAILED parts, or between steps).
    None,
    /// An `AddSyncTask` with `token` is out to `collector`, not yet answered.
    Offered {
        /// The collector called.
        collector: String,
        /// The assignment's token.
        token: String,
    },
    /// `collector` holds the part with `token` (it confirmed, or packs flow).
    Held {
        /// The collector.
        collector: String,
        /// The assignment's token.
        token: String,
    },
    /// A reassign waits until the in-flight segment is committed.
    AwaitingFlush,
    /// No collector took the part in the last round; the next round starts at `until_ms`.
    Backoff {
        /// When the next round starts.
        until_ms: u64,
    },
}

impl Holder {
    /// The collector holding or being offered the part.
    pub fn collector(&self) -> Option<&str> {
        match self {
            Holder::Offered { collector, .. } | Holder::Held { collector, .. } => Some(collector),
            _ => None,
        }
    }

    /// The current assignment's token.
    pub fn token(&self) -> Option<&str> {
        match self {
            Holder::Offered { token, .. } | Holder::Held { token, .. } => Some(token),
            _ => None,
        }
    }
}

/// The error a part is suffering now, and since when.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct LastError {
    /// The error.
    pub error: PartError,
    /// When it started (ms): the first of a run of the same kind.
    pub since_ms: u64,
    /// Attempts that failed with it so far.
    pub attempts: u32,
}

/// Why a part is FAILED, as kept and persisted.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Failure {
    /// The error's kind ([`PartError::kind`]).
    pub kind: String,
    /// The error's text.
    pub message: String,
    /// The collector that held the part when it failed (it keeps the links).
    pub collector: Option<String>,
}

impl Failure {
    /// The failure `e` of a part held by `collector`.
    pub fn new(e: &PartError, collector: Option<&str>) -> Self {
        Failure {
            kind: e.kind().to_owned(),
            message: e.to_string(),
            collector: collector.map(str::to_owned),
        }
    }
}

/// A partition task and everything the supervisor knows about it.
#[derive(Clone, Debug)]
pub struct PartitionTask {
    /// Partition id.
    pub pid: u32,
    /// Status.
    pub status: Status,
    /// Leader tablet of the partition.
    pub tablet_endpoint: String,
    /// Who holds the part.
    pub holder: Holder,
    /// Packs are accepted up to here (the next pack must start here).
    pub accepted: Point,
    /// Staging and commits; holds the committed point.
    pub plan: crate::task::commit::CommitPlan,
    /// Time of the last sign of life of the holder (accepted pack, confirmed assignment).
    pub last_heard_ms: u64,
    /// Why the part is FAILED.
    pub failure: Option<Failure>,
    /// The trouble it has now (also while it heals by itself).
    pub last_error: Option<LastError>,
    /// (start, next) of the last accepted pack, to recognise its duplicate.
    pub last_pack: Option<(Point, Point)>,
    /// Mode 0: the collector reported the end; seal and commit, then SUCCESS.
    pub finishing: bool,
    /// The holder said it is still preparing.
    pub preparing: bool,
    /// Collectors that failed the current assignment round, with why.
    pub tried: Vec<AssignFailure>,
    /// Assignment rounds that failed in a row (for the backoff).
    pub failed_rounds: u32,
    /// Collectors that said they cannot read the part for good (the data
    /// they hold does not reach its committed point) since it last moved:
    /// not tried again; when no other live collector on the host is left,
    /// the part is FAILED with that reason.
    pub unable: Vec<String>,
    /// Rows accepted by this SyncTool since it started (some may be read
    /// again after a reassignment).
    pub rows_accepted: u64,
    /// Bytes of rows accepted by this SyncTool since it started.
    pub bytes_accepted: u64,
    /// Whether this SyncTool may assign and commit the part (only looked at
    /// with [`crate::task::Config::fencing`]).
    pub ownership: Ownership,
}

/// A part's ownership by this SyncTool, when several SyncTools share a
/// cluster (`FAULTS.md` §4): it assigns and commits a part only while it
/// owns it, with the epoch its claim got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ownership {
    /// Not claimed yet: the next assignment claims it first.
    Unclaimed,
    /// A claim is out ([`crate::task::Action::ClaimPart`]).
    Claiming,
    /// Claimed; its commit plan carries the epoch.
    Owned,
    /// A newer epoch belongs to another SyncTool: nothing more is done.
    Lost,
}

impl PartitionTask {
    /// Whether its open segment may be sealed before its roll is due (to
    /// free memory): it holds rows, nothing is in flight, and the part is
    /// neither ended nor waiting out a flush for a reassign.
    pub fn can_seal_early(&self) -> bool {
        self.plan.open_bytes() > 0
            && !self.plan.in_flight()
            && self.holder != Holder::AwaitingFlush
            && !self.status.is_terminal()
    }

    /// The collector holding or being offered the part.
    pub fn collector(&self) -> Option<&str> {
        self.holder.collector()
    }

    /// The current assignment's token.
    pub fn token(&self) -> Option<&str> {
        self.holder.token()
    }

    /// Records `error` as the part's trouble now (keeping `since` while the
    /// same kind of error goes on).
    pub fn note_error(&mut self, error: PartError, now_ms: u64) {
        match &mut self.last_error {
            Some(last) if last.error.kind() == error.kind() => {
                last.error = error;
                last.attempts += 1;
            }
            slot => {
                *slot = Some(LastError {
                    error,
                    since_ms: now_ms,
                    attempts: 1,
                })
            }
        }
    }

    /// Clears the trouble if `healed` says its cause is gone.
    pub fn clear_error(&mut self, healed: impl Fn(&PartError) -> bool) {
        if self.last_error.as_ref().is_some_and(|e| healed(&e.error)) {
            self.last_error = None;
        }
    }
}
