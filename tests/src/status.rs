//! Typed views of the daemons' `GET /status?format=json` pages, read with the
//! [`crate::http`] client. Unknown fields are ignored and missing ones take
//! defaults, so a page that grows keeps parsing.

use serde::Deserialize;
use serde_json::Value;

use crate::http;

/// SyncTool's status page.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SyncToolStatus {
    /// Its clock.
    pub now_ms: u64,
    /// The endpoint collectors send to.
    pub des_endpoint: String,
    /// The table tasks.
    pub tables: Vec<TableStatus>,
    /// The table-scope summary text.
    pub summary: String,
}

/// One table task.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TableStatus {
    pub tid: u32,
    pub task_id: u64,
    pub db: String,
    pub table: String,
    /// `kFull`, `kIncrementalByTimestamp`, `kFullAndContinuous`.
    pub mode: String,
    pub start_ts: Option<u64>,
    pub dest: String,
    /// Rows committed over all partitions.
    pub rows: u64,
    /// The FAILED partitions.
    pub failed: Vec<u32>,
    /// How the task began: `created`, `resumed from the committed output …`.
    pub origin: String,
    pub parts: Vec<PartStatus>,
}

/// One partition task.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PartStatus {
    pub pid: u32,
    /// INIT, RUNNING, REASSIGNING, SUCCESS or FAILED.
    pub status: String,
    pub collector: Option<String>,
    pub tablet_endpoint: String,
    pub accepted: String,
    pub committed: String,
    /// Rows committed.
    pub rows: u64,
    pub last_heard_ms: u64,
    pub failure_reason: Option<String>,
    /// The typed reason of a FAILED part (`data_gone`, `sink_behind`, …).
    pub failure_kind: Option<String>,
    /// The last error of a part that is not FAILED (a transient cause being
    /// retried), if any.
    pub error: Option<PartErrorStatus>,
    /// The collector is still preparing (linking, opening the snapshot).
    pub preparing: bool,
    /// Why the part waits, when it does.
    pub waiting: Option<String>,
}

/// The `error` object of a part: what keeps it from progressing.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PartErrorStatus {
    /// A short stable name: `collector_silent`, `sink_unavailable`, …
    pub kind: String,
    /// `transient` or `permanent`.
    pub class: String,
    pub message: String,
    /// When the cause began (SyncTool's clock, ms since the epoch).
    pub since_ms: u64,
    /// Attempts made since then.
    pub attempts: u64,
}

impl SyncToolStatus {
    /// The task of table `tid`.
    pub fn table(&self, tid: u32) -> Option<&TableStatus> {
        self.tables.iter().find(|t| t.tid == tid)
    }

    /// `pid=STATUS` of every part of table `tid`, for messages.
    pub fn brief(&self, tid: u32) -> String {
        match self.table(tid) {
            None => format!("no task for tid {tid}"),
            Some(t) => {
                let parts: Vec<String> = t
                    .parts
                    .iter()
                    .map(|p| {
                        let mut s = format!("{}={}({} rows)", p.pid, p.status, p.rows);
                        if let Some(r) = &p.failure_reason {
                            s.push_str(&format!(" [{r}]"));
                        }
                        if let Some(e) = &p.error {
                            s.push_str(&format!(" [{} {}: {}]", e.kind, e.class, e.message));
                        }
                        s
                    })
                    .collect();
                format!("{} rows committed; {}", t.rows, parts.join(", "))
            }
        }
    }
}

/// A DataCollector's status page.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CollectorStatus {
    pub endpoint: String,
    pub tasks: Vec<CollectorTask>,
}

/// One partition task on a collector.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CollectorTask {
    pub tid: u32,
    pub pid: u32,
    pub token: Value,
    pub mode: Value,
    pub state: String,
    pub accepted_point: Value,
    pub committed_point: Value,
    pub rows_sent: u64,
    pub bytes_sent: u64,
    pub packs_sent: u64,
    pub error: Option<String>,
}

impl CollectorStatus {
    /// Rows sent over all tasks.
    pub fn rows_sent(&self) -> u64 {
        self.tasks.iter().map(|t| t.rows_sent).sum()
    }

    /// Bytes sent over all tasks.
    pub fn bytes_sent(&self) -> u64 {
        self.tasks.iter().map(|t| t.bytes_sent).sum()
    }
}

/// SyncTool's status at `addr`.
pub fn synctool_status(addr: &str) -> anyhow::Result<SyncToolStatus> {
    Ok(serde_json::from_value(http::get_json(
        addr,
        "/status?format=json",
    )?)?)
}

/// A DataCollector's status at `addr`.
pub fn collector_status(addr: &str) -> anyhow::Result<CollectorStatus> {
    Ok(serde_json::from_value(http::get_json(
        addr,
        "/status?format=json",
    )?)?)
}
