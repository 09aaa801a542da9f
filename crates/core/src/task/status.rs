//! The status report: one view per partition task and a table-scope summary
//! that names FAILED parts with their reasons (like OpenMLDB's helper, which
//! prints the parts, then `table scope`).

use std::fmt::Write as _;

use sync_proto::datasync::{AddSyncTaskRequest, GeneralResponse, Task, TaskStatusResponse};

use crate::point::Point;
use crate::task::failure::ErrorClass;
use crate::task::model::{Failure, Finished, Holder, Mode, Ownership, Status, TaskOrigin};
use crate::task::options::TaskOptions;
use crate::task::supervisor::Supervisor;

/// A part's current trouble, as shown.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ErrorView {
    /// Its kind (`PartError::kind`).
    pub kind: String,
    /// Transient (healing by itself) or permanent.
    pub class: ErrorClass,
    /// The text.
    pub message: String,
    /// Since when (ms).
    pub since_ms: u64,
    /// Failed attempts so far.
    pub attempts: u32,
}

/// One partition task.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PartitionView {
    /// Table id.
    pub tid: u32,
    /// Partition id.
    pub pid: u32,
    /// Status.
    pub status: Status,
    /// Collector holding the part.
    pub collector: Option<String>,
    /// Current token.
    pub token: Option<String>,
    /// Leader tablet.
    pub tablet_endpoint: String,
    /// Accepted point.
    pub accepted: Point,
    /// Committed point.
    pub committed: Point,
    /// Rows committed.
    pub rows_committed: u64,
    /// Last sign of life (ms).
    pub last_heard_ms: u64,
    /// Why FAILED.
    pub failure: Option<Failure>,
    /// The trouble it has now (while it lasts, also before FAILED).
    pub last_error: Option<ErrorView>,
    /// The collector is still preparing the part.
    pub preparing: bool,
    /// What the assignment waits for, if anything (`next round at 12345 ms`).
    pub waiting: Option<String>,
    /// Rows and bytes accepted by this SyncTool since it started.
    pub rows_in: u64,
    /// See `rows_in`.
    pub bytes_in: u64,
    /// Bytes of rows committed, and files committed.
    pub bytes_committed: u64,
    /// See `bytes_committed`.
    pub files_committed: u64,
    /// Rows and bytes accepted, not yet committed (held in memory).
    pub held_rows: u64,
    /// See `held_rows`.
    pub held_bytes: u64,
    /// How long the oldest accepted row not yet committed has waited (ms; 0: none).
    pub uncommitted_ms: u64,
    /// The epoch its commits carry (1 standalone; the claimed one with
    /// fencing).
    pub epoch: u64,
}

/// One table task.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TableView {
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
    /// Mode 1 lower bound.
    pub start_ts: Option<u64>,
    /// Destination.
    pub dest: String,
    /// How the task began (created, or continuing output already there).
    pub origin: TaskOrigin,
    /// Its output options.
    pub options: TaskOptions,
    /// Partitions by pid.
    pub partitions: Vec<PartitionView>,
}

impl TableView {
    /// The FAILED parts.
    pub fn failed(&self) -> impl Iterator<Item = &PartitionView> {
        self.partitions
            .iter()
            .filter(|p| p.status == Status::Failed)
    }
}

/// Status of every task.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct StatusReport {
    /// Tables by tid.
    pub tables: Vec<TableView>,
    /// When it was taken (ms).
    pub now_ms: u64,
    /// The SyncTool's own endpoint.
    pub des_endpoint: String,
    /// Table tasks that ended lately (mode 0 completed, deleted), oldest first.
    pub history: Vec<Finished>,
    /// The global memory budget.
    pub memory: MemoryView,
}

/// The memory budget (`sink.memory_limit`) and what is held against it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryView {
    /// Bytes of rows held by the parts that are not FAILED.
    pub held_bytes: u64,
    /// The limit.
    pub limit_bytes: u64,
    /// Whether packs are being held back (flow control).
    pub full: bool,
}

impl StatusReport {
    pub(crate) fn of(sup: &Supervisor, now_ms: u64) -> Self {
        let tables = sup
            .tables()
            .values()
            .map(|t| TableView {
                tid: t.spec.tid,
                task_id: t.task_id,
                db: t.spec.db.clone(),
                table: t.spec.table.clone(),
                mode: t.spec.mode,
                start_ts: t.spec.start_ts,
                dest: t.spec.dest.clone(),
                origin: t.origin.clone(),
                options: t.spec.options.clone(),
                partitions: t
                    .partitions
                    .values()
                    .map(|p| PartitionView {
                        tid: t.spec.tid,
                        pid: p.pid,
                        status: p.status,
                        // A FAILED part shows the collector that holds its links.
                        collector: p
                            .collector()
                            .or(p.failure.as_ref().and_then(|f| f.collector.as_deref()))
                            .map(str::to_owned),
                        token: p.token().map(str::to_owned),
                        tablet_endpoint: p.tablet_endpoint.clone(),
                        accepted: p.accepted.clone(),
                        committed: p.plan.committed().clone(),
                        rows_committed: p.plan.rows_committed(),
                        last_heard_ms: p.last_heard_ms,
                        failure: p.failure.clone(),
                        last_error: p.last_error.as_ref().map(|e| ErrorView {
                            kind: e.error.kind().to_owned(),
                            class: e.error.class(),
                            message: e.error.to_string(),
                            since_ms: e.since_ms,
                            attempts: e.attempts,
                        }),
                        preparing: p.preparing,
                        rows_in: p.rows_accepted,
                        bytes_in: p.bytes_accepted,
                        bytes_committed: p.plan.committed_volume().0,
                        files_committed: p.plan.committed_volume().1,
                        held_rows: p.plan.held_rows(),
                        held_bytes: p.plan.held_bytes(),
                        uncommitted_ms: p
                            .plan
                            .oldest_uncommitted_ms()
                            .map_or(0, |since| now_ms.saturating_sub(since)),
                        epoch: p.plan.epoch(),
                        waiting: match &p.holder {
                            _ if p.ownership == Ownership::Claiming => {
                                Some("claiming the partition (its epoch in ZooKeeper)".into())
                            }
                            Holder::Backoff { until_ms } => {
                                Some(format!("next assignment round at {until_ms} ms"))
                            }
                            Holder::AwaitingFlush => {
                                Some("reassigning once the sealed segment is committed".into())
                            }
                            _ => None,
                        },
                    })
                    .collect(),
            })
            .collect();
        StatusReport {
            tables,
            now_ms,
            des_endpoint: sup.config.des_endpoint.clone(),
            history: sup.history().to_vec(),
            memory: MemoryView {
                held_bytes: sup.held_bytes(),
                limit_bytes: sup.config.memory_limit,
                full: sup.memory_full(),
            },
        }
    }

    /// The table-scope summary, as text.
    pub fn summary(&self) -> String {
        let mut s = String::from("table scope\n");
        if self.tables.is_empty() {
            s.push_str("no task\n");
            return s;
        }
        s.push_str("running tasks:\n");
        for t in self.tables.iter().filter(|t| t.failed().next().is_none()) {
            let pids: Vec<u32> = t.partitions.iter().map(|p| p.pid).collect();
            let _ = writeln!(
                s,
                "tid {} ({}.{}) task is running, pid parts: {pids:?}",
                t.tid, t.db, t.table
            );
        }
        let troubled: Vec<&PartitionView> = self
            .tables
            .iter()
            .flat_map(|t| t.partitions.iter())
            .filter(|p| p.status != Status::Failed && p.last_error.is_some())
            .collect();
        if !troubled.is_empty() {
            s.push_str("parts with errors (retried by themselves):\n");
            for p in troubled {
                if let Some(e) = &p.last_error {
                    let _ = writeln!(
                        s,
                        "tid {} pid {}: {} ({}, since {} ms, {} attempt(s)): {}",
                        p.tid,
                        p.pid,
                        e.kind,
                        e.class.as_str(),
                        e.since_ms,
                        e.attempts,
                        e.message
                    );
                }
            }
        }
        let failed: Vec<&TableView> = self
            .tables
            .iter()
            .filter(|t| t.failed().next().is_some())
            .collect();
        if failed.is_empty() {
            s.push_str("all tasks are running\n");
            return s;
        }
        let tids: Vec<u32> = failed.iter().map(|t| t.tid).collect();
        let _ = writeln!(s, "tasks contains failed part: {tids:?}");
        for t in failed {
            let _ = writeln!(s, "tid: {} ({}.{})", t.tid, t.db, t.table);
            for p in t.failed() {
                match &p.failure {
                    Some(f) => {
                        let _ =
                            writeln!(s, "failed part: pid {}: [{}] {}", p.pid, f.kind, f.message);
                    }
                    None => {
                        let _ = writeln!(s, "failed part: pid {}: (no reason recorded)", p.pid);
                    }
                }
            }
        }
        s
    }

    /// The `TaskStatusResponse` (one `Task` per part; `readableInfo` has
    /// `lastUpdateTime=<ms>;acceptedPoint=<point>` as OpenMLDB's helper parses).
    pub fn to_proto(&self) -> TaskStatusResponse {
        let mut tasks = Vec::new();
        let mut info = Vec::new();
        for t in &self.tables {
            for p in &t.partitions {
                tasks.push(Task {
                    progress: Some(AddSyncTaskRequest {
                        tid: Some(t.tid),
                        pid: Some(p.pid),
                        mode: Some(t.mode.to_proto() as i32),
                        start_ts: t.start_ts,
                        sync_point: p.committed.to_proto().ok(),
                        tablet_endpoint: Some(p.tablet_endpoint.clone()),
                        des_endpoint: Some(self.des_endpoint.clone()),
                        token: p.token.clone(),
                        dest: Some(t.dest.clone()),
                        part_epoch: Some(p.epoch),
                    }),
                    data_collector: Some(p.collector.clone().unwrap_or_default()),
                    count: Some(p.rows_committed),
                    status: Some(p.status.to_string()),
                    failure_reason: p.failure.as_ref().map(|f| f.message.clone()),
                    error_kind: p.last_error.as_ref().map(|e| e.kind.clone()),
                    error_transient: p
                        .last_error
                        .as_ref()
                        .map(|e| e.class == ErrorClass::Transient),
                    last_error: p.last_error.as_ref().map(|e| e.message.clone()),
                    error_since_ms: p.last_error.as_ref().map(|e| e.since_ms),
                    failure_kind: p.failure.as_ref().map(|f| f.kind.clone()),
                    preparing: Some(p.preparing),
                });
                info.push(format!(
                    "lastUpdateTime={};acceptedPoint={}",
                    p.last_heard_ms, p.accepted
                ));
            }
        }
        TaskStatusResponse {
            response: Some(GeneralResponse {
                code: Some(0),
                msg: None,
            }),
            task: tasks,
            readable_info: info,
        }
    }
}
