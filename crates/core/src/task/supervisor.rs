//! The supervisor: every decision of SyncTool as a deterministic state machine.
//!
//! The daemon calls [`Supervisor::handle`] with the current time and one
//! [`Input`]; it gets back the [`Action`]s to carry out, in order. Nothing here
//! reads a clock, does I/O or draws randomness that is not seeded by the daemon
//! (see [`crate::task::assign::TokenSource`]).
//!
//! # Transitions of a partition task
//!
//! | from | event | to |
//! |---|---|---|
//! | (none) | create (a collector on every leader host) | INIT, assigned |
//! | INIT / REASSIGNING | first accepted pack with the current token | RUNNING |
//! | REASSIGNING | the collector confirms the assignment | RUNNING |
//! | INIT / RUNNING | silent for `timeout_ms`, its collector left, or its leader moved | REASSIGNING |
//! | REASSIGNING | assignment refused / unanswered and no further live collector on the host | FAILED |
//! | INIT / RUNNING / REASSIGNING | no live collector on the leader host when assigning | FAILED |
//! | RUNNING (mode 0) | a `finished` pack, then its data committed | SUCCESS |
//! | FAILED | retry requested | REASSIGNING |
//! | all parts SUCCESS | — | the table task is removed |
//! | any | delete | removed |
//!
//! A reassign gets a new token and starts from the **committed** point: the
//! open (accepted but unsealed) rows are dropped, and if a sealed segment is in
//! flight the assignment waits until it is committed.
//!
//! # Packs
//!
//! A pack is accepted iff its table and part exist, the part is INIT, RUNNING
//! or REASSIGNING, its token is the current one and its start point equals the
//! accepted point exactly (field presence included). Otherwise:
//!
//! * unknown table or part, part SUCCESS or FAILED, or an old token: the
//!   collector is told to drop the task (`delete_task`); the current assignee
//!   is not affected;
//! * the exact duplicate of the last accepted pack (same token, start and
//!   next): acknowledged as accepted without taking its rows again (the reply
//!   to the first copy was lost); not a sign of life;
//! * any other start point with the current token (an old duplicate, or a
//!   collector that lost its place): rejected without `delete_task` and without
//!   counting as a sign of life, with the accepted point as the point to resume
//!   from (the stream of this assignment holds every row before it); if the
//!   collector really is lost, the timeout reassigns it;
//! * a pack with rows whose next point equals its start: malformed, dropped;
//! * too many bytes held for the part (the sink is slow): `Busy`, not taken,
//!   counts as a sign of life; the collector retries the same pack.
//!
//! `finished` is honoured in mode 0 only; in modes 1 and 2 it is ignored.
//! Every reply carries the committed point.

use std::collections::{BTreeMap, BTreeSet};

use sync_proto::datasync::{AddSyncTaskRequest, GeneralResponse, SendDataResponse};

use crate::point::{Point, PointError};
use crate::task::assign::{self, TokenSource};
use crate::task::commit::{
    CommitPlan, CommitSegment, RollPolicy, SegmentAction, SegmentId, StageSegment,
};
use crate::task::model::{
    Mode, Pack, PartitionLeader, PartitionTask, Status, TableTask, TableTaskSpec,
};
use crate::task::recovery::PersistedState;
use crate::task::status::StatusReport;

/// Settings of the supervisor.
#[derive(Clone, Debug)]
pub struct Config {
    /// A part silent for longer than this is reassigned (also INIT parts and
    /// unanswered assignments).
    pub timeout_ms: u64,
    /// Where collectors send packs (`des_endpoint` of assignments).
    pub des_endpoint: String,
    /// When to seal segments.
    pub roll: RollPolicy,
    /// Packs are answered `Busy` while a part holds this many bytes.
    pub max_held_bytes: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            timeout_ms: 20_000,
            des_endpoint: String::new(),
            roll: RollPolicy::default(),
            max_held_bytes: 256 << 20,
        }
    }
}

/// An event for the supervisor.
#[derive(Clone, Debug)]
pub enum Input {
    /// A user creates a table task. `partitions` come from the table metadata.
    Create {
        /// The task.
        spec: TableTaskSpec,
        /// Partitions and their leaders.
        partitions: Vec<PartitionLeader>,
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
    /// The outcome of an [`Action::Assign`].
    AssignResult {
        /// Table id.
        tid: u32,
        /// Partition id.
        pid: u32,
        /// The token of the assignment.
        token: String,
        /// `Err` holds the collector's or the transport's message.
        result: Result<(), String>,
    },
    /// The outcome of an [`Action::Stage`].
    Staged {
        /// Which segment.
        id: SegmentId,
        /// `Err` holds the sink's message.
        result: Result<(), String>,
    },
    /// The outcome of an [`Action::Commit`].
    Committed {
        /// Which segment.
        id: SegmentId,
        /// `Err` holds the sink's message.
        result: Result<(), String>,
    },
    /// Time passes: timeouts, age-based rolls, retries.
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
        })
    }
}

/// How a pack was answered.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PackOutcome {
    /// Taken.
    Accepted,
    /// The duplicate of the last accepted pack; acknowledged, not taken again.
    Duplicate,
    /// Not taken: too much data held; retry the same pack later.
    Busy,
    /// Not taken: the start point is not the accepted point.
    OutOfSequence,
    /// Not taken: the token is not the current one; drop the task.
    StaleToken,
    /// Not taken: no such task; drop it.
    UnknownTask,
    /// The part is SUCCESS; drop it.
    Finished,
    /// The part is FAILED; drop it.
    Failed,
    /// The pack is inconsistent; drop the task.
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
    /// The collector must drop the task.
    pub delete_task: bool,
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
            delete_task: Some(self.delete_task),
            committed_point: self.committed.as_ref().and_then(|p| p.to_proto().ok()),
            resume_point: self.resume_from.as_ref().and_then(|p| p.to_proto().ok()),
        }
    }
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
    /// Answer a create (`Ok` holds the task id).
    CreateReply(Result<u64, CreateError>),
    /// Answer a delete.
    DeleteReply(Result<(), RequestError>),
    /// Answer a retry (`Ok` holds how many parts were retried).
    RetryReply(Result<usize, RequestError>),
    /// Answer a pack.
    PackReply(PackReply),
    /// Call `AddSyncTask` on a collector; report with [`Input::AssignResult`].
    Assign(Assignment),
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
    /// Write the state durably (temp + fsync + rename), before the actions after it.
    Persist(PersistedState),
    /// A part became FAILED (for logs and metrics; already in the status).
    PartFailed {
        /// Table id.
        tid: u32,
        /// Partition id.
        pid: u32,
        /// Why.
        reason: String,
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

/// The SyncTool state machine.
#[derive(Debug)]
pub struct Supervisor {
    pub(crate) config: Config,
    pub(crate) tokens: TokenSource,
    pub(crate) epoch: u64,
    pub(crate) next_task_id: u64,
    pub(crate) tables: BTreeMap<u32, TableTask>,
    pub(crate) live: BTreeSet<String>,
}

/// Collects actions of one step: replies go last, after a persist if needed.
#[derive(Default)]
pub(crate) struct Out {
    pub(crate) actions: Vec<Action>,
    pub(crate) replies: Vec<Action>,
    pub(crate) dirty: bool,
}

/// What a partition-level helper needs besides the partition.
pub(crate) struct Ctx<'a> {
    pub(crate) config: &'a Config,
    pub(crate) tokens: &'a mut TokenSource,
    pub(crate) live: &'a BTreeSet<String>,
    pub(crate) spec: &'a TableTaskSpec,
    pub(crate) now: u64,
}

impl Supervisor {
    /// A supervisor with no tasks (first start). `seed` seeds the tokens.
    pub fn new(config: Config, seed: u64) -> Self {
        Self {
            config,
            tokens: TokenSource::new(seed, 0),
            epoch: 0,
            next_task_id: 0,
            tables: BTreeMap::new(),
            live: BTreeSet::new(),
        }
    }

    /// The table task of `tid`.
    pub fn table(&self, tid: u32) -> Option<&TableTask> {
        self.tables.get(&tid)
    }

    /// All table tasks by tid.
    pub fn tables(&self) -> &BTreeMap<u32, TableTask> {
        &self.tables
    }

    /// The SyncTool epoch (0 on first start, +1 per recovery).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The status of every task.
    pub fn status(&self, now_ms: u64) -> StatusReport {
        StatusReport::of(self, now_ms)
    }

    /// Takes one input; returns what to do, in order.
    pub fn handle(&mut self, now_ms: u64, input: Input) -> Vec<Action> {
        let mut out = Out::default();
        match input {
            Input::Create { spec, partitions } => self.create(now_ms, spec, partitions, &mut out),
            Input::Delete { db, table } => self.delete(&db, &table, &mut out),
            Input::RetryFailed { db, table } => self.retry_failed(now_ms, &db, &table, &mut out),
            Input::TableMetadata { tid, partitions } => {
                self.metadata(now_ms, tid, partitions, &mut out)
            }
            Input::Collectors { live } => self.collectors(now_ms, live, &mut out),
            Input::Pack(pack) => self.pack(now_ms, pack, &mut out),
            Input::AssignResult {
                tid,
                pid,
                token,
                result,
            } => self.assign_result(now_ms, tid, pid, &token, result, &mut out),
            Input::Staged { id, result } => self.staged(id, result.is_ok(), &mut out),
            Input::Committed { id, result } => self.committed(now_ms, id, result.is_ok(), &mut out),
            Input::Tick => self.tick(now_ms, &mut out),
        }
        self.remove_completed(&mut out);
        self.finish(out)
    }

    pub(crate) fn finish(&self, mut out: Out) -> Vec<Action> {
        if out.dirty {
            out.actions.push(Action::Persist(self.persisted()));
        }
        out.actions.append(&mut out.replies);
        out.actions
    }

    fn for_each_part(
        &mut self,
        now: u64,
        tid: Option<u32>,
        out: &mut Out,
        mut f: impl FnMut(&mut Ctx<'_>, &mut PartitionTask, &mut Out),
    ) {
        for (t, table) in self.tables.iter_mut() {
            if tid.is_some_and(|want| want != *t) {
                continue;
            }
            let mut ctx = Ctx {
                config: &self.config,
                tokens: &mut self.tokens,
                live: &self.live,
                spec: &table.spec,
                now,
            };
            for part in table.partitions.values_mut() {
                f(&mut ctx, part, out);
            }
        }
    }

    fn find(&self, db: &str, table: &str) -> Option<u32> {
        self.tables
            .iter()
            .find(|(_, t)| t.spec.db == db && t.spec.table == table)
            .map(|(tid, _)| *tid)
    }

    fn create(
        &mut self,
        now: u64,
        spec: TableTaskSpec,
        partitions: Vec<PartitionLeader>,
        out: &mut Out,
    ) {
        let reply = self.check_create(&spec, &partitions);
        if let Err(e) = reply {
            out.replies.push(Action::CreateReply(Err(e)));
            return;
        }
        let task_id = self.next_task_id;
        self.next_task_id += 1;
        let mut table = TableTask {
            task_id,
            spec,
            partitions: BTreeMap::new(),
        };
        for leader in partitions {
            let part = new_partition(
                &table,
                leader.pid,
                leader.tablet_endpoint,
                Status::Init,
                Point::start(),
                0,
                0,
                now,
            );
            table.partitions.insert(leader.pid, part);
        }
        let tid = table.spec.tid;
        self.tables.insert(tid, table);
        out.dirty = true;
        self.for_each_part(now, Some(tid), out, |ctx, part, out| {
            assign_next(ctx, part, out);
        });
        out.replies.push(Action::CreateReply(Ok(task_id)));
    }

    fn check_create(
        &self,
        spec: &TableTaskSpec,
        partitions: &[PartitionLeader],
    ) -> Result<(), CreateError> {
        if let Some(tid) = self
            .find(&spec.db, &spec.table)
            .or(self.tables.contains_key(&spec.tid).then_some(spec.tid))
        {
            let t = &self.tables[&tid].spec;
            return Err(CreateError::AlreadyExists {
                db: t.db.clone(),
                table: t.table.clone(),
                tid,
            });
        }
        if spec.dest.is_empty() {
            return Err(CreateError::Invalid("dest is empty".into()));
        }
        if partitions.is_empty() {
            return Err(CreateError::Invalid("the table has no partitions".into()));
        }
        let pids: BTreeSet<u32> = partitions.iter().map(|p| p.pid).collect();
        if pids.len() != partitions.len() {
            return Err(CreateError::Invalid("duplicate partition ids".into()));
        }
        for p in partitions {
            if !assign::host_has_collector(&self.live, &p.tablet_endpoint) {
                return Err(CreateError::NoCollector {
                    pid: p.pid,
                    host: assign::host_of(&p.tablet_endpoint).to_owned(),
                    tablet_endpoint: p.tablet_endpoint.clone(),
                });
            }
        }
        Ok(())
    }

    fn delete(&mut self, db: &str, table: &str, out: &mut Out) {
        let Some(tid) = self.find(db, table) else {
            out.replies
                .push(Action::DeleteReply(Err(RequestError::NotFound {
                    db: db.to_owned(),
                    table: table.to_owned(),
                })));
            return;
        };
        if let Some(t) = self.tables.remove(&tid) {
            for part in t.partitions.values() {
                out.actions.push(Action::ClearStaging {
                    tid,
                    pid: part.pid,
                    task_id: t.task_id,
                    dest: t.spec.dest.clone(),
                    from_seq: part.plan.first_uncommitted_seq(),
                });
            }
        }
        out.dirty = true;
        out.replies.push(Action::DeleteReply(Ok(())));
    }

    fn retry_failed(&mut self, now: u64, db: &str, table: &str, out: &mut Out) {
        let Some(tid) = self.find(db, table) else {
            out.replies
                .push(Action::RetryReply(Err(RequestError::NotFound {
                    db: db.to_owned(),
                    table: table.to_owned(),
                })));
            return;
        };
        let mut retried = 0;
        self.for_each_part(now, Some(tid), out, |ctx, part, out| {
            if part.status == Status::Failed {
                retried += 1;
                part.failure_reason = None;
                out.dirty = true;
                begin_reassign(ctx, part, out);
            }
        });
        out.replies.push(Action::RetryReply(Ok(retried)));
    }

    fn metadata(&mut self, now: u64, tid: u32, partitions: Vec<PartitionLeader>, out: &mut Out) {
        let leaders: BTreeMap<u32, String> = partitions
            .into_iter()
            .map(|p| (p.pid, p.tablet_endpoint))
            .collect();
        self.for_each_part(now, Some(tid), out, |ctx, part, out| {
            let Some(leader) = leaders.get(&part.pid) else {
                return;
            };
            if *leader == part.tablet_endpoint {
                return;
            }
            part.tablet_endpoint = leader.clone();
            out.dirty = true;
            if !part.status.is_terminal() {
                begin_reassign(ctx, part, out);
            }
        });
    }

    fn collectors(&mut self, now: u64, live: Vec<String>, out: &mut Out) {
        self.live = live.into_iter().collect();
        self.for_each_part(now, None, out, |ctx, part, out| {
            let lost = part
                .collector
                .as_ref()
                .is_some_and(|c| !ctx.live.contains(c));
            if lost && !part.status.is_terminal() {
                if part.assign_pending {
                    if let Some(c) = part.collector.take() {
                        part.tried.push((c, "the collector left".into()));
                    }
                    part.token = None;
                    assign_next(ctx, part, out);
                } else {
                    begin_reassign(ctx, part, out);
                }
            }
        });
    }

    fn assign_result(
        &mut self,
        now: u64,
        tid: u32,
        pid: u32,
        token: &str,
        result: Result<(), String>,
        out: &mut Out,
    ) {
        self.for_each_part(now, Some(tid), out, |ctx, part, out| {
            if part.pid != pid || part.token.as_deref() != Some(token) || !part.assign_pending {
                return;
            }
            part.assign_pending = false;
            match result.clone() {
                Ok(()) => {
                    part.tried.clear();
                    part.last_heard_ms = ctx.now;
                    if part.status == Status::Reassigning {
                        part.status = Status::Running;
                    }
                }
                Err(e) => {
                    if let Some(c) = part.collector.take() {
                        part.tried.push((c, e));
                    }
                    part.token = None;
                    assign_next(ctx, part, out);
                }
            }
        });
    }

    fn pack(&mut self, now: u64, pack: Pack, out: &mut Out) {
        let reply = |outcome, delete_task, committed: Option<&Point>, message: String| {
            Action::PackReply(PackReply {
                tid: pack.tid,
                pid: pack.pid,
                outcome,
                delete_task,
                committed: committed.cloned(),
                resume_from: None,
                message,
            })
        };
        let Some(table) = self.tables.get_mut(&pack.tid) else {
            out.replies.push(reply(
                PackOutcome::UnknownTask,
                true,
                None,
                format!("no sync task for tid {}", pack.tid),
            ));
            return;
        };
        let Some(part) = table.partitions.get_mut(&pack.pid) else {
            out.replies.push(reply(
                PackOutcome::UnknownTask,
                true,
                None,
                format!("no sync task for tid {} pid {}", pack.tid, pack.pid),
            ));
            return;
        };
        let committed = part.plan.committed().clone();
        match part.status {
            Status::Success => {
                out.replies.push(reply(
                    PackOutcome::Finished,
                    true,
                    Some(&committed),
                    "the task is finished".into(),
                ));
                return;
            }
            Status::Failed => {
                out.replies.push(reply(
                    PackOutcome::Failed,
                    true,
                    Some(&committed),
                    format!(
                        "the task is FAILED: {}",
                        part.failure_reason.as_deref().unwrap_or("")
                    ),
                ));
                return;
            }
            Status::Init | Status::Running | Status::Reassigning => {}
        }
        if part.token.as_deref() != Some(pack.token.as_str()) {
            out.replies.push(reply(
                PackOutcome::StaleToken,
                true,
                Some(&committed),
                "the token is not the current assignment's".into(),
            ));
            return;
        }
        if (pack.row_count > 0 || !pack.rows.is_empty()) && pack.start == pack.next
            || (pack.row_count == 0) != pack.rows.is_empty()
        {
            out.replies.push(reply(
                PackOutcome::Malformed,
                true,
                Some(&committed),
                "a pack with rows must advance its point, and count must match the rows".into(),
            ));
            return;
        }
        if pack.start != part.accepted {
            let duplicate = part
                .last_pack
                .as_ref()
                .is_some_and(|(s, n)| *s == pack.start && *n == pack.next);
            if duplicate {
                // Not a sign of life: a collector that lost several replies
                // resends from behind, and the one resent pack that equals the
                // last accepted pack must not keep it from being reassigned.
                out.replies.push(reply(
                    PackOutcome::Duplicate,
                    false,
                    Some(&committed),
                    "already accepted".into(),
                ));
            } else {
                let mut answer = reply(
                    PackOutcome::OutOfSequence,
                    false,
                    Some(&committed),
                    format!(
                        "start point {} is not the accepted point {}",
                        pack.start, part.accepted
                    ),
                );
                if let Action::PackReply(r) = &mut answer {
                    r.resume_from = Some(part.accepted.clone());
                }
                out.replies.push(answer);
            }
            return;
        }
        if !pack.rows.is_empty()
            && part.plan.held_bytes() + pack.rows.len() as u64 > self.config.max_held_bytes
        {
            part.last_heard_ms = now;
            out.replies.push(reply(
                PackOutcome::Busy,
                false,
                Some(&committed),
                "too much data waiting for the sink; retry later".into(),
            ));
            return;
        }
        // Accept.
        let advanced = pack.next != pack.start;
        part.plan.append(&pack.rows, pack.row_count, advanced, now);
        part.accepted = pack.next.clone();
        part.last_pack = Some((pack.start.clone(), pack.next.clone()));
        part.last_heard_ms = now;
        part.assign_pending = false;
        part.tried.clear();
        if part.status != Status::Running {
            part.status = Status::Running;
        }
        if pack.finished && table.spec.mode.finishes() {
            part.finishing = true;
        }
        let mut ctx = Ctx {
            config: &self.config,
            tokens: &mut self.tokens,
            live: &self.live,
            spec: &table.spec,
            now,
        };
        settle(&mut ctx, part, out);
        let committed = part.plan.committed().clone();
        out.replies.push(reply(
            PackOutcome::Accepted,
            false,
            Some(&committed),
            String::new(),
        ));
    }

    fn staged(&mut self, id: SegmentId, ok: bool, out: &mut Out) {
        let Some(part) = self.segment_part(id) else {
            return;
        };
        if let Some(action) = part.plan.on_staged(id.seq, ok) {
            out.actions.push(segment_action(action));
        }
    }

    fn committed(&mut self, now: u64, id: SegmentId, ok: bool, out: &mut Out) {
        if self.segment_part(id).is_none() {
            return;
        }
        self.for_each_part(now, Some(id.tid), out, |ctx, part, out| {
            if part.pid != id.pid || !part.plan.on_committed(id.seq, ok) {
                return;
            }
            out.dirty = true;
            if part.reassign_after_flush {
                part.reassign_after_flush = false;
                assign_next(ctx, part, out);
            } else {
                settle(ctx, part, out);
            }
        });
    }

    fn segment_part(&mut self, id: SegmentId) -> Option<&mut PartitionTask> {
        let table = self.tables.get_mut(&id.tid)?;
        if table.task_id != id.task_id {
            return None;
        }
        table.partitions.get_mut(&id.pid)
    }

    fn tick(&mut self, now: u64, out: &mut Out) {
        self.for_each_part(now, None, out, |ctx, part, out| {
            if part.status.is_terminal() {
                return;
            }
            if let Some(action) = part.plan.retry() {
                out.actions.push(segment_action(action));
            }
            let silent = now.saturating_sub(part.last_heard_ms) > ctx.config.timeout_ms;
            if silent && !part.reassign_after_flush {
                if part.assign_pending {
                    if let Some(c) = part.collector.take() {
                        part.tried
                            .push((c, "no answer to the assignment in time".into()));
                    }
                    part.token = None;
                    assign_next(ctx, part, out);
                } else {
                    begin_reassign(ctx, part, out);
                }
                return;
            }
            settle(ctx, part, out);
        });
    }

    /// Removes the tables whose parts are all SUCCESS (mode 0 finished).
    pub(crate) fn remove_completed(&mut self, out: &mut Out) {
        let done: Vec<u32> = self
            .tables
            .iter()
            .filter(|(_, t)| t.partitions.values().all(|p| p.status == Status::Success))
            .map(|(tid, _)| *tid)
            .collect();
        for tid in done {
            if let Some(t) = self.tables.remove(&tid) {
                out.dirty = true;
                out.actions.push(Action::TableCompleted {
                    tid,
                    task_id: t.task_id,
                    db: t.spec.db,
                    table: t.spec.table,
                });
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn new_partition(
    table: &TableTask,
    pid: u32,
    tablet_endpoint: String,
    status: Status,
    committed: Point,
    next_seq: u64,
    rows_committed: u64,
    now: u64,
) -> PartitionTask {
    PartitionTask {
        pid,
        status,
        tablet_endpoint,
        collector: None,
        token: None,
        accepted: committed.clone(),
        plan: CommitPlan::new(
            table.spec.tid,
            pid,
            table.task_id,
            table.spec.dest.clone(),
            committed,
            next_seq,
            rows_committed,
        ),
        last_heard_ms: now,
        failure_reason: None,
        last_pack: None,
        finishing: false,
        assign_pending: false,
        reassign_after_flush: false,
        tried: Vec::new(),
    }
}

fn segment_action(action: SegmentAction) -> Action {
    match action {
        SegmentAction::Stage(s) => Action::Stage(s),
        SegmentAction::Commit(c) => Action::Commit(c),
    }
}

/// Seals and finishes what can be: a due roll, and mode-0 SUCCESS.
fn settle(ctx: &mut Ctx<'_>, part: &mut PartitionTask, out: &mut Out) {
    if part.reassign_after_flush || part.status.is_terminal() {
        return;
    }
    if part
        .plan
        .should_roll(&ctx.config.roll, &part.accepted, part.finishing, ctx.now)
    {
        let action = part.plan.roll(&part.accepted);
        out.actions.push(segment_action(action));
    }
    if part.finishing && !part.plan.in_flight() && part.plan.committed() == &part.accepted {
        part.status = Status::Success;
        part.collector = None;
        part.token = None;
        part.finishing = false;
        out.dirty = true;
    }
}

/// Starts a reassign: new token, from the committed point; waits for an
/// in-flight segment first.
pub(crate) fn begin_reassign(ctx: &mut Ctx<'_>, part: &mut PartitionTask, out: &mut Out) {
    part.status = Status::Reassigning;
    part.token = None;
    part.collector = None;
    part.assign_pending = false;
    part.finishing = false;
    part.last_pack = None;
    part.tried.clear();
    part.last_heard_ms = ctx.now;
    part.plan.discard_open();
    if part.plan.in_flight() {
        part.reassign_after_flush = true;
        part.accepted = part.plan.sealed_end().clone();
        return;
    }
    assign_next(ctx, part, out);
}

/// Gives the part to the next live collector on its leader host not tried in
/// this round, from the committed point; FAILED when there is none.
pub(crate) fn assign_next(ctx: &mut Ctx<'_>, part: &mut PartitionTask, out: &mut Out) {
    let tried: Vec<String> = part.tried.iter().map(|(c, _)| c.clone()).collect();
    let candidates = assign::candidates(ctx.live, &part.tablet_endpoint, &tried);
    let Some(collector) = candidates.first().map(|c| (*c).to_owned()) else {
        let host = assign::host_of(&part.tablet_endpoint);
        let reason = if !assign::host_has_collector(ctx.live, &part.tablet_endpoint) {
            format!(
                "no live data collector on host {host} (leader tablet {})",
                part.tablet_endpoint
            )
        } else {
            let why: Vec<String> = part
                .tried
                .iter()
                .map(|(c, e)| format!("{c}: {e}"))
                .collect();
            format!(
                "no data collector on host {host} took the task ({})",
                why.join("; ")
            )
        };
        fail(ctx, part, reason, out);
        return;
    };
    let token = ctx.tokens.next_token();
    part.accepted = part.plan.committed().clone();
    part.plan.discard_open();
    part.last_pack = None;
    part.collector = Some(collector.clone());
    part.token = Some(token.clone());
    part.assign_pending = true;
    part.last_heard_ms = ctx.now;
    out.actions.push(Action::Assign(Assignment {
        tid: ctx.spec.tid,
        pid: part.pid,
        collector,
        token,
        point: part.accepted.clone(),
        tablet_endpoint: part.tablet_endpoint.clone(),
        mode: ctx.spec.mode,
        start_ts: ctx.spec.start_ts,
        dest: ctx.spec.dest.clone(),
        des_endpoint: ctx.config.des_endpoint.clone(),
    }));
}

fn fail(ctx: &mut Ctx<'_>, part: &mut PartitionTask, reason: String, out: &mut Out) {
    part.status = Status::Failed;
    part.token = None;
    part.collector = None;
    part.assign_pending = false;
    part.tried.clear();
    part.failure_reason = Some(reason.clone());
    out.dirty = true;
    out.actions.push(Action::PartFailed {
        tid: ctx.spec.tid,
        pid: part.pid,
        reason,
    });
}
