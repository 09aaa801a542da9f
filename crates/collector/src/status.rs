//! What the collector shows about its partition tasks: one [`TaskStatus`] per
//! task, shared between the task's loop (which updates it) and the status page
//! (`GET /status`: HTML for people, `?format=json` for tools).

use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use sync_infra::status_page::{escape, page};

/// Where a partition task stands on this collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TaskState {
    /// Asking the tablet and linking its files.
    Preparing,
    /// Sending packs.
    Streaming,
    /// The connection to SyncTool broke or a read failed transiently; retrying.
    Retrying,
    /// Mode 0: the last pack was accepted.
    Finished,
    /// SyncTool said to drop the task (finished elsewhere, reassigned, deleted).
    Dropped,
    /// Replaced by a newer assignment or stopped with the daemon.
    Stopped,
    /// Reading failed for good (e.g. a corrupt binlog): see `error`.
    Failed,
    /// The assignment was refused (see `error`).
    Refused,
}

impl TaskState {
    /// Whether the task's loop has ended.
    pub fn is_over(self) -> bool {
        !matches!(
            self,
            TaskState::Preparing | TaskState::Streaming | TaskState::Retrying
        )
    }
}

/// One partition task as the status page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct TaskStatus {
    pub tid: u32,
    pub pid: u32,
    pub token: String,
    pub mode: i32,
    pub tablet_endpoint: String,
    pub des_endpoint: String,
    pub state: TaskState,
    /// The point the assignment started from.
    pub assigned_point: String,
    /// The end of the last pack SyncTool accepted.
    pub accepted_point: String,
    /// What SyncTool last reported as committed in the offline store.
    pub committed_point: Option<String>,
    pub rows_sent: u64,
    pub bytes_sent: u64,
    pub packs_sent: u64,
    /// The reader has read everything the tablet wrote so far.
    pub caught_up: bool,
    /// Wall-clock ms of the last accepted pack.
    pub last_accepted_ms: Option<u64>,
    /// Wall-clock ms the task was assigned (or recovered).
    pub started_ms: u64,
    /// Wall-clock ms the loop ended, when it has.
    pub ended_ms: Option<u64>,
    /// The last error, with file and offset for read errors.
    pub error: Option<String>,
}

/// A task's status, shared by its loop and the page.
#[derive(Debug, Clone)]
pub struct SharedStatus(Arc<Mutex<TaskStatus>>);

impl SharedStatus {
    pub fn new(status: TaskStatus) -> Self {
        Self(Arc::new(Mutex::new(status)))
    }

    /// The status to read or change (a poisoned lock is still usable: the
    /// status is plain data).
    pub fn lock(&self) -> MutexGuard<'_, TaskStatus> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn snapshot(&self) -> TaskStatus {
        self.lock().clone()
    }
}

/// The JSON page: `{"endpoint", "now_ms", "tasks": [...]}`.
pub fn to_json(endpoint: &str, now_ms: u64, tasks: &[TaskStatus]) -> serde_json::Value {
    serde_json::json!({ "endpoint": endpoint, "now_ms": now_ms, "tasks": tasks })
}

/// The HTML page.
pub fn to_html(endpoint: &str, now_ms: u64, tasks: &[TaskStatus]) -> String {
    let mut body = format!(
        "<h1>DataCollector</h1><p>endpoint {} &middot; {} partition task(s)</p>\
         <table><tr><th>tid</th><th>pid</th><th>state</th><th>mode</th><th>tablet</th>\
         <th>SyncTool</th><th>accepted</th><th>committed</th><th>rows</th><th>bytes</th>\
         <th>packs</th><th>caught up</th><th>since last ack (ms)</th><th>error</th></tr>",
        escape(endpoint),
        tasks.len()
    );
    for t in tasks {
        let state = format!("{:?}", t.state);
        body.push_str(&format!(
            "<tr class=\"{state}\"><td>{}</td><td>{}</td><td>{state}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td></tr>",
            t.tid,
            t.pid,
            t.mode,
            escape(&t.tablet_endpoint),
            escape(&t.des_endpoint),
            escape(&t.accepted_point),
            escape(t.committed_point.as_deref().unwrap_or("")),
            t.rows_sent,
            t.bytes_sent,
            t.packs_sent,
            t.caught_up,
            t.last_accepted_ms
                .map_or(String::new(), |ms| now_ms.saturating_sub(ms).to_string()),
            escape(t.error.as_deref().unwrap_or("")),
        ));
    }
    body.push_str("</table>");
    page("DataCollector status", &body)
}
