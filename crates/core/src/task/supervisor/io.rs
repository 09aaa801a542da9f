//! What goes into the supervisor ([`Input`]) and what comes out ([`Action`]),
//! with the values they carry: assignments, pack replies, create outcomes and
//! the errors of admin requests.

use sync_proto::datasync::{AddSyncTaskRequest, DropReason, GeneralResponse, SendDataResponse};

use crate::point::{Point, PointError};
use crate::task::commit::{CommitSegment, SegmentId, StageSegment};
use crate::task::failure::{AssignFailure, PartError, SinkFailure};
use crate::task::model::{Mode, Pack, PartitionLeader, TableTaskSpec, TaskOrigin};
use crate::task::recovery::{PersistedState, SinkProgress};

/// An event for the supervisor.
#[derive(Clone, Debug)]
pub enum Input {
    /// A user creates a table task. `partitions` come from the table metadata;
    /// `existing` is what the destination already holds of the table (every
    /// partition task's last commit record there, any task id).
    Create {
        /// The task.
        spec: TableTaskSpec,
        /// Partitions and their leaders.
        partitions: Vec<PartitionLeader>,
        /// The table's committed output already in the destination.
        existing: Vec<SinkProgress>,
    },
    /// A user deletes the task of `db.table`.
    Delete {
        /// Database.
        db: String,
        /// Table.
        table: String,
    },
    /// A user asks to retry the FAILED parts of `db.table`.
    RetryFailed {
        /// Database.
        db: String,
        /// Table.
        table: String,
    },
    /// Fresh table metadata (leaders may have moved).
    TableMetadata {
        /// Table id.
        tid: u32,
        /// Partitions and their leaders.
        partitions: Vec<PartitionLeader>,
    },
    /// The complete set of live collectors (endpoints).
    Collectors {
        /// Live collector endpoints.
        live: Vec<String>,
    },
    /// A data pack arrived.
    Pack(Pack),
    /// The `AddSyncTask` of an [`Action::Assign`] is on its way now (the
    /// daemon may queue calls to one collector): an unanswered offer is
    /// timed from here, not from the action.
    AssignSent {
        /// Table id.
        tid: u32,
        /// Partition id.
        pid: u32,
        /// The token of the assignment.
        token: String,
    },
    /// The outcome of an [`Action::Assign`].
    AssignResult {
        /// Table id.
        tid: u32,
        /// Partition id.
        pid: u32,
        /// The token of the assignment.
        token: String,
        /// Whether the collector took it.
        result: Result<(), AssignFailure>,
    },
    /// The outcome of an [`Action::Stage`].
    Staged {
        /// Which segment.
        id: SegmentId,
        /// The sink's answer.
        result: Result<(), SinkFailure>,
    },
    /// The outcome of an [`Action::Commit`].
    Committed {
        /// Which segment.
        id: SegmentId,
        /// The sink's answer: the data files the commit made visible (0
        /// for a segment without rows, one per partition value for a
        /// partitioned task).
        result: Result<u64, SinkFailure>,
    },
    /// The answer to an [`Action::ClaimPart`]: the part's new epoch, or why
    /// the claim did not succeed yet (the daemon tries again).
    PartClaimed {
        /// Table id.
        tid: u32,
        /// Partition id.
        pid: u32,
        /// The epoch, or why not.
        result: Result<u64, String>,
    },
    /// Another SyncTool owns the part with a newer epoch (the epoch check
    /// before a stage, a commit or an assignment found it).
    PartLost {
        /// Table id.
        tid: u32,
        /// Partition id.
        pid: u32,
        /// What the check found.
        why: String,
    },
    /// Time passes: timeouts, age-based rolls, retries (due at
    /// [`super::Supervisor::next_deadline`]).
    Tick,
}

/// Give a partition to a collector (an `AddSyncTask` call).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Assignment {
    /// Table id.
    pub tid: u32,
    /// Partition id.
    pub pid: u32,
    /// The collector to call.
    pub collector: String,
    /// The new token.
    pub token: String,
    /// Read from here (the committed point).
    pub point: Point,
    /// Leader tablet of the partition.
    pub tablet_endpoint: String,
    /// Sync mode.
    pub mode: Mode,
    /// Mode 1 lower bound.
    pub start_ts: Option<u64>,
    /// Destination (persisted by OpenMLDB; ignored by collectors).
    pub dest: String,
    /// Where to send packs.
    pub des_endpoint: String,
    /// The part's ownership epoch, with fencing (a collector refuses an
    /// assignment older than the newest it has seen).
    pub part_epoch: Option<u64>,
}

impl Assignment {
    /// The `AddSyncTaskRequest` to send.
    pub fn to_proto(&self) -> Result<AddSyncTaskRequest, PointError> {
        Ok(AddSyncTaskRequest {
            tid: Some(self.tid),
            pid: Some(self.pid),
            mode: Some(self.mode.to_proto() as i32),
            start_ts: self.start_ts,
            sync_point: Some(self.point.to_proto()?),
            tablet_endpoint: Some(self.tablet_endpoint.clone()),
            des_endpoint: Some(self.des_endpoint.clone()),
            token: Some(self.token.clone()),
            dest: Some(self.dest.clone()),
            part_epoch: self.part_epoch,
        })
    }
}

/// How a pack was answered.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PackOutcome {
    /// Taken (a heartbeat, a preparing pack or a transient failure report
    /// without rows is taken too).
    Accepted,
    /// The duplicate of the last accepted pack; acknowledged, not taken again.
    Duplicate,
    /// Not taken: too much data held; retry the same pack later.
    Busy,
    /// Not taken: the start point is not the accepted point.
    OutOfSequence,
    /// Not taken: the token is not the current one; stop, keep the links.
    StaleToken,
    /// Not taken: no such task; drop it.
    UnknownTask,
    /// The part is SUCCESS; drop it.
    Finished,
    /// The part is FAILED (now or before); stop, keep the links.
    Failed,
    /// The pack is inconsistent; stop.
    Malformed,
}

/// The answer to a pack.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PackReply {
    /// Table id.
    pub tid: u32,
    /// Partition id.
    pub pid: u32,
    /// What happened.
    pub outcome: PackOutcome,
    /// The collector must stop streaming the task, for this reason (which
    /// says what of its hard links it may remove).
    pub drop: Option<DropReason>,
    /// The committed point of the part, when known.
    pub committed: Option<Point>,
    /// Out of sequence: where the collector's stream must continue (the
    /// accepted point), so a collector that lost its place resumes at once.
    pub resume_from: Option<Point>,
    /// Human-readable explanation.
    pub message: String,
}

impl PackReply {
    /// Whether the collector may advance to the pack's next point.
    pub fn is_ok(&self) -> bool {
        matches!(
            self.outcome,
            PackOutcome::Accepted | PackOutcome::Duplicate | PackOutcome::Finished
        )
    }

    /// The `SendDataResponse`. A committed point whose pk is not UTF-8 is left out.
    pub fn to_proto(&self) -> SendDataResponse {
        SendDataResponse {
            response: GeneralResponse {
                code: Some(if self.is_ok() { 0 } else { -1 }),
                msg: (!self.message.is_empty()).then(|| self.message.clone()),
            },
            delete_task: Some(self.drop.is_some()),
            committed_point: self.committed.as_ref().and_then(|p| p.to_proto().ok()),
            resume_point: self.resume_from.as_ref().and_then(|p| p.to_proto().ok()),
            drop_reason: self.drop.map(|d| d as i32),
        }
    }
}

/// What a create did.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Created {
    /// The table task's id.
    pub task_id: u64,
    /// Whether it continues output already in the destination.
    pub origin: TaskOrigin,
}

/// Why a create is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreateError {
    /// A task for the table exists.
    #[error("sync task for {db}.{table} (tid {tid}) already exists")]
    AlreadyExists {
        /// Database.
        db: String,
        /// Table.
        table: String,
        /// Table id.
        tid: u32,
    },
    /// A leader host has no live collector.
    #[error("no live data collector on host {host} (leader {tablet_endpoint} of partition {pid})")]
    NoCollector {
        /// Partition id.
        pid: u32,
        /// Host without a collector.
        host: String,
        /// The leader tablet.
        tablet_endpoint: String,
    },
    /// The destination already holds committed output of the table.
    #[error(
        "destination {dest} already holds {rows} committed rows of tid {tid} (task {task_id}): \
         a mode-0 task would write them again; pass --if-exists resume to continue from them, \
         or --if-exists append to write everything again"
    )]
    OutputExists {
        /// The destination.
        dest: String,
        /// Table id.
        tid: u32,
        /// The task whose output it is.
        task_id: u64,
        /// Rows committed there.
        rows: u64,
    },
    /// The request is not valid.
    #[error("invalid create request: {0}")]
    Invalid(String),
}

/// Why a delete or retry is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// No task for the table.
    #[error("no sync task for {db}.{table}")]
    NotFound {
        /// Database.
        db: String,
        /// Table.
        table: String,
    },
}

/// Something the daemon must do.
#[derive(Clone, Debug)]
pub enum Action {
    /// Answer a create.
    CreateReply(Result<Created, CreateError>),
    /// Answer a delete.
    DeleteReply(Result<(), RequestError>),
    /// Answer a retry (`Ok` holds how many parts were retried).
    RetryReply(Result<usize, RequestError>),
    /// Answer a pack.
    PackReply(PackReply),
    /// Call `AddSyncTask` on a collector; report with [`Input::AssignSent`]
    /// when the call goes out and [`Input::AssignResult`] when it is answered.
    Assign(Assignment),
    /// Take ownership of a part (with fencing): bump its epoch in the
    /// cluster with a compare-and-set; report with [`Input::PartClaimed`].
    ClaimPart {
        /// Table id.
        tid: u32,
        /// Partition id.
        pid: u32,
    },
    /// Write a segment to staging; report with [`Input::Staged`].
    Stage(StageSegment),
    /// Commit a staged segment; report with [`Input::Committed`].
    Commit(CommitSegment),
    /// Remove staged, uncommitted segments of a part task from `from_seq` on.
    ClearStaging {
        /// Table id.
        tid: u32,
        /// Partition id.
        pid: u32,
        /// Table task id.
        task_id: u64,
        /// Destination root.
        dest: String,
        /// First seq to clear.
        from_seq: u64,
    },
    /// No task writes to `dest` any more: once the steps queued for it are
    /// done, drop its store clients (connections, reconnect loops).
    ReleaseDestination {
        /// The destination.
        dest: String,
    },
    /// Write the state durably (temp + fsync + rename), before the actions after it.
    Persist(PersistedState),
    /// A part became FAILED (for logs and metrics; already in the status).
    PartFailed {
        /// Table id.
        tid: u32,
        /// Partition id.
        pid: u32,
        /// Why.
        error: PartError,
    },
    /// A segment was committed (for metrics): its rows and bytes, and how
    /// long staging and committing it took since it was sealed.
    SegmentCommitted {
        /// Table id.
        tid: u32,
        /// Partition id.
        pid: u32,
        /// Rows in it.
        rows: u64,
        /// Bytes of its rows.
        bytes: u64,
        /// From sealing to committed (ms).
        latency_ms: u64,
    },
    /// A mode-0 table task finished and was removed.
    TableCompleted {
        /// Table id.
        tid: u32,
        /// Table task id.
        task_id: u64,
        /// Database.
        db: String,
        /// Table.
        table: String,
    },
}
