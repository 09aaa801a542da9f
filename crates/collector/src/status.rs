//! What the collector shows about its partition tasks: one [`TaskStatus`] per
//! task, shared between the task's loop (which updates it) and the status page
//! (`GET /status`: HTML for people, `?format=json` for tools): the phase
//! (preparing, streaming, caught up, retrying, finishing, dormant and why),
//! the accepted and committed points, rows, bytes and packs sent, the binlog
//! deletes skipped (`deletes_skipped`: the offline output is append-only, so
//! deletes are not synced; this shows how many), the last error and since
//! when, and the links the work dir holds.

use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use sync_infra::status_page::{escape, page};

use crate::rate::ReadRate;

/// Where a partition task stands on this collector.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub enum TaskState {
    /// Asking the tablet, linking its files, opening the snapshot (preparing
    /// packs keep the part alive meanwhile).
    #[default]
    Preparing,
    /// Sending packs (see `caught_up`).
    Streaming,
    /// The connection to SyncTool broke or a read failed transiently;
    /// waiting (with backoff) to try again.
    Retrying,
    /// Mode 0: the last pack was accepted; waiting until it is committed.
    Finishing,
    /// Sending no rows, keeping the links, probing SyncTool (see `dormant`).
    Dormant,
    /// Mode 0: every row is committed; the work dir is removed.
    Finished,
    /// SyncTool deleted the task; the work dir is removed.
    Deleted,
    /// Replaced by a newer assignment, or stopped with the daemon (the work
    /// dir stays).
    Stopped,
}

impl TaskState {
    /// Whether the task's loop has ended.
    pub fn is_over(self) -> bool {
        matches!(
            self,
            TaskState::Finished | TaskState::Deleted | TaskState::Stopped
        )
    }
}

/// The links a work dir holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LinksHeld {
    /// Linked binlog files.
    pub binlog_files: usize,
    /// The oldest and newest linked binlog file indexes.
    pub binlog_first_file: Option<u64>,
    pub binlog_last_file: Option<u64>,
    /// The linked snapshot (`name@offset`), if any.
    pub snapshot: Option<String>,
}

impl LinksHeld {
    fn describe(&self) -> String {
        let binlog = match (self.binlog_first_file, self.binlog_last_file) {
            (Some(a), Some(b)) => format!("binlog {a}..={b} ({} files)", self.binlog_files),
            _ => "no binlog".into(),
        };
        match &self.snapshot {
            Some(s) => format!("{binlog}, snapshot {s}"),
            None => format!("{binlog}, no snapshot"),
        }
    }
}

/// One partition task as the status page shows it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TaskStatus {
    pub tid: u32,
    pub pid: u32,
    pub token: String,
    pub mode: i32,
    pub tablet_endpoint: String,
    pub des_endpoint: String,
    pub state: TaskState,
    /// `state` for people: `caught up` when streaming with nothing left to read.
    pub phase: String,
    /// The point the assignment started from.
    pub assigned_point: String,
    /// The end of the last pack SyncTool accepted.
    pub accepted_point: String,
    /// What SyncTool last reported as committed in the offline store.
    pub committed_point: Option<String>,
    pub rows_sent: u64,
    pub bytes_sent: u64,
    pub packs_sent: u64,
    /// Binlog deletes skipped in the packs SyncTool accepted: the offline
    /// output is an append-only copy of the puts, so deletes are not synced.
    pub deletes_skipped: u64,
    /// The reader has read everything the tablet wrote so far.
    pub caught_up: bool,
    /// Wall-clock ms of the last accepted pack.
    pub last_accepted_ms: Option<u64>,
    /// Wall-clock ms the task was assigned (or recovered).
    pub started_ms: u64,
    /// Wall-clock ms the loop ended, when it has.
    pub ended_ms: Option<u64>,
    /// Why the task is dormant.
    pub dormant: Option<String>,
    /// Since when it is dormant (wall-clock ms).
    pub dormant_since_ms: Option<u64>,
    /// The last error, with file and offset for read errors.
    pub error: Option<String>,
    /// Since when that error has been happening (wall-clock ms).
    pub error_since_ms: Option<u64>,
    /// The links the work dir holds.
    pub links: LinksHeld,
    /// Rows and bytes sent per second lately (shown as `read_rows_per_s`
    /// and `read_bytes_per_s`, computed at the page's time).
    #[serde(skip)]
    pub read_rate: ReadRate,
}

impl TaskStatus {
    /// Records an error; `since` stays while the same error repeats.
    pub fn set_error(&mut self, error: impl Into<String>, now_ms: u64) {
        let error = error.into();
        if self.error.as_deref() != Some(error.as_str()) {
            self.error_since_ms = Some(now_ms);
            self.error = Some(error);
        }
    }

    /// The error is over.
    pub fn clear_error(&mut self) {
        self.error = None;
        self.error_since_ms = None;
    }

    /// Sets the state (and the phase text).
    pub fn set_state(&mut self, state: TaskState) {
        self.state = state;
        self.refresh_phase();
    }

    /// Sets whether the reader has caught up (and the phase text).
    pub fn set_caught_up(&mut self, caught_up: bool) {
        self.caught_up = caught_up;
        self.refresh_phase();
    }

    fn refresh_phase(&mut self) {
        self.phase = match self.state {
            TaskState::Streaming if self.caught_up => "caught up".into(),
            TaskState::Dormant => match &self.dormant {
                Some(why) => format!("dormant: {why}"),
                None => "dormant".into(),
            },
            other => format!("{other:?}").to_lowercase(),
        };
    }

    /// Goes dormant for `why` (or leaves it with `None`).
    pub fn set_dormant(&mut self, why: Option<String>, since_ms: Option<u64>) {
        self.dormant = why;
        self.dormant_since_ms = since_ms;
        self.refresh_phase();
    }
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

/// The JSON page: `{"endpoint", "now_ms", "tasks": [...]}`, each task with
/// its read rate at `now_ms` (`read_rows_per_s`, `read_bytes_per_s`).
pub fn to_json(endpoint: &str, now_ms: u64, tasks: &[TaskStatus]) -> serde_json::Value {
    let tasks: Vec<serde_json::Value> = tasks
        .iter()
        .map(|t| {
            let mut value = serde_json::json!(t);
            let rate = t.read_rate.at(now_ms);
            if let Some(fields) = value.as_object_mut() {
                fields.insert("read_rows_per_s".into(), rate.rows_per_s.into());
                fields.insert("read_bytes_per_s".into(), rate.bytes_per_s.into());
            }
            value
        })
        .collect();
    serde_json::json!({ "endpoint": endpoint, "now_ms": now_ms, "tasks": tasks })
}

fn ago(now_ms: u64, at: Option<u64>) -> String {
    at.map_or(String::new(), |ms| {
        format!("{} s ago", now_ms.saturating_sub(ms) / 1000)
    })
}

/// The HTML page.
pub fn to_html(endpoint: &str, now_ms: u64, tasks: &[TaskStatus]) -> String {
    let mut body = format!(
        "<h1>DataCollector</h1><p>endpoint {} &middot; {} partition task(s)</p>\
         <table><tr><th>tid</th><th>pid</th><th>phase</th><th>mode</th><th>tablet</th>\
         <th>SyncTool</th><th>accepted</th><th>committed</th><th>rows</th><th>bytes</th>\
         <th>packs</th><th>rows/s</th><th>deletes skipped</th><th>since last ack (ms)</th><th>links held</th><th>error</th>\
         <th>error since</th></tr>",
        escape(endpoint),
        tasks.len()
    );
    for t in tasks {
        let state = format!("{:?}", t.state);
        let phase = match t.dormant_since_ms {
            Some(_) => format!("{} (since {})", t.phase, ago(now_ms, t.dormant_since_ms)),
            None => t.phase.clone(),
        };
        body.push_str(&format!(
            "<tr class=\"{state}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{:.0}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            t.tid,
            t.pid,
            escape(&phase),
            t.mode,
            escape(&t.tablet_endpoint),
            escape(&t.des_endpoint),
            escape(&t.accepted_point),
            escape(t.committed_point.as_deref().unwrap_or("")),
            t.rows_sent,
            t.bytes_sent,
            t.packs_sent,
            t.read_rate.at(now_ms).rows_per_s,
            t.deletes_skipped,
            t.last_accepted_ms
                .map_or(String::new(), |ms| now_ms.saturating_sub(ms).to_string()),
            escape(&t.links.describe()),
            escape(t.error.as_deref().unwrap_or("")),
            ago(now_ms, t.error_since_ms),
        ));
    }
    body.push_str("</table>");
    page("DataCollector status", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status() -> TaskStatus {
        TaskStatus {
            tid: 1,
            pid: 2,
            token: "t".into(),
            mode: 2,
            tablet_endpoint: "h:1".into(),
            des_endpoint: "s:2".into(),
            phase: "preparing".into(),
            assigned_point: "binlog@1".into(),
            accepted_point: "binlog@1".into(),
            ..TaskStatus::default()
        }
    }

    #[test]
    fn phases_errors_and_links_are_shown() {
        let mut s = status();
        s.set_state(TaskState::Streaming);
        assert_eq!(s.phase, "streaming");
        s.set_caught_up(true);
        assert_eq!(s.phase, "caught up");
        s.set_error("tablet h:1 GetTableStatus: no answer", 1_000);
        s.set_error("tablet h:1 GetTableStatus: no answer", 9_000);
        assert_eq!(
            s.error_since_ms,
            Some(1_000),
            "the same error keeps its since"
        );
        s.set_dormant(Some("another assignment owns the part".into()), Some(2_000));
        s.set_state(TaskState::Dormant);
        assert_eq!(s.phase, "dormant: another assignment owns the part");
        s.links = LinksHeld {
            binlog_files: 2,
            binlog_first_file: Some(3),
            binlog_last_file: Some(4),
            snapshot: Some("202611251300@10".into()),
        };
        s.deletes_skipped = 7;
        let html = to_html("me:1", 12_000, &[s.clone()]);
        assert!(html.contains("<th>deletes skipped</th>"), "{html}");
        assert!(html.contains("<td>7</td>"), "{html}");
        assert!(
            html.contains("binlog 3..=4 (2 files), snapshot 202611251300@10"),
            "{html}"
        );
        assert!(html.contains("11 s ago"), "{html}");
        assert!(html.contains("since 10 s ago"), "{html}");
        let json = to_json("me:1", 12_000, &[s]);
        assert_eq!(json["tasks"][0]["state"], "Dormant");
        assert_eq!(json["tasks"][0]["links"]["binlog_files"], 2);
        assert_eq!(json["tasks"][0]["error_since_ms"], 1_000);
        assert_eq!(json["tasks"][0]["deletes_skipped"], 7);
    }
}
