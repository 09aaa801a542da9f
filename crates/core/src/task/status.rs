//! The status report: one view per partition task and a table-scope summary
//! that names FAILED parts with their reasons (like OpenMLDB's helper, which
//! prints the parts, then `table scope`).

use std::fmt::Write as _;

use sync_proto::datasync::{AddSyncTaskRequest, GeneralResponse, Task, TaskStatusResponse};

use crate::point::Point;
use crate::task::model::{Mode, Status};
use crate::task::supervisor::Supervisor;

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
    pub failure_reason: Option<String>,
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
                partitions: t
                    .partitions
                    .values()
                    .map(|p| PartitionView {
                        tid: t.spec.tid,
                        pid: p.pid,
                        status: p.status,
                        collector: p.collector.clone(),
                        token: p.token.clone(),
                        tablet_endpoint: p.tablet_endpoint.clone(),
                        accepted: p.accepted.clone(),
                        committed: p.plan.committed().clone(),
                        rows_committed: p.plan.rows_committed(),
                        last_heard_ms: p.last_heard_ms,
                        failure_reason: p.failure_reason.clone(),
                    })
                    .collect(),
            })
            .collect();
        StatusReport {
            tables,
            now_ms,
            des_endpoint: sup.config.des_endpoint.clone(),
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
                let _ = writeln!(
                    s,
                    "failed part: pid {}: {}",
                    p.pid,
                    p.failure_reason
                        .as_deref()
                        .unwrap_or("(no reason recorded)")
                );
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
                    }),
                    data_collector: Some(p.collector.clone().unwrap_or_default()),
                    count: Some(p.rows_committed),
                    status: Some(p.status.to_string()),
                    failure_reason: p.failure_reason.clone(),
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
