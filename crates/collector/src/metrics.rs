//! The collector's `GET /metrics`: Prometheus/OpenMetrics text built with
//! `prometheus-client` from the tasks' statuses at scrape time (names per
//! Prometheus conventions: `_total`, `_seconds`, `_bytes`). Per partition
//! task (`tid`, `pid`): rows, bytes and packs sent, binlog deletes skipped,
//! the read rate, whether it has caught up, the seconds since SyncTool last
//! accepted a pack, how long its current error has lasted, the binlog files
//! it holds linked; and the tasks by state. A task's counters start again
//! at zero when a new assignment replaces it (Prometheus' `rate()` handles
//! counter resets).

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

use crate::status::TaskStatus;

/// The content type of the page.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A partition task.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskLabels {
    tid: u32,
    pid: u32,
}

/// A task state.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

type F64Gauge = Gauge<f64, AtomicU64>;

/// The metrics page for `tasks` at wall-clock `now_ms`.
pub fn render(tasks: &[TaskStatus], now_ms: u64) -> String {
    let mut registry = Registry::with_prefix("data_collector");
    let rows_sent = Family::<TaskLabels, Counter>::default();
    let bytes_sent = Family::<TaskLabels, Counter>::default();
    let packs_sent = Family::<TaskLabels, Counter>::default();
    let deletes_skipped = Family::<TaskLabels, Counter>::default();
    let read_rows = Family::<TaskLabels, F64Gauge>::default();
    let read_bytes = Family::<TaskLabels, F64Gauge>::default();
    let caught_up = Family::<TaskLabels, Gauge>::default();
    let since_accepted = Family::<TaskLabels, F64Gauge>::default();
    let error_for = Family::<TaskLabels, F64Gauge>::default();
    let linked_files = Family::<TaskLabels, Gauge>::default();
    let by_state = Family::<StateLabels, Gauge>::default();
    let seconds = |since_ms: u64| now_ms.saturating_sub(since_ms) as f64 / 1000.0;
    for t in tasks {
        let task = TaskLabels {
            tid: t.tid,
            pid: t.pid,
        };
        rows_sent.get_or_create(&task).inc_by(t.rows_sent);
        bytes_sent.get_or_create(&task).inc_by(t.bytes_sent);
        packs_sent.get_or_create(&task).inc_by(t.packs_sent);
        deletes_skipped
            .get_or_create(&task)
            .inc_by(t.deletes_skipped);
        let rate = t.read_rate.at(now_ms);
        read_rows.get_or_create(&task).set(rate.rows_per_s);
        read_bytes.get_or_create(&task).set(rate.bytes_per_s);
        caught_up.get_or_create(&task).set(i64::from(t.caught_up));
        if let Some(at) = t.last_accepted_ms {
            since_accepted.get_or_create(&task).set(seconds(at));
        }
        if let Some(since) = t.error_since_ms {
            error_for.get_or_create(&task).set(seconds(since));
        }
        let files = i64::try_from(t.links.binlog_files).unwrap_or(i64::MAX);
        linked_files.get_or_create(&task).set(files);
        by_state
            .get_or_create(&StateLabels {
                state: format!("{:?}", t.state).to_lowercase(),
            })
            .inc();
    }
    registry.register(
        "rows_sent",
        "Rows sent to SyncTool and accepted, per partition task",
        rows_sent,
    );
    registry.register_with_unit(
        "sent",
        "Bytes of encoded rows sent to SyncTool and accepted, per partition task",
        Unit::Bytes,
        bytes_sent,
    );
    registry.register(
        "packs_sent",
        "Packs SyncTool accepted, per partition task",
        packs_sent,
    );
    registry.register(
        "deletes_skipped",
        "Binlog deletes passed over (the offline copy is append-only), per partition task",
        deletes_skipped,
    );
    registry.register(
        "read_rows_per_second",
        "Rows read and sent per second over the last 10 s, per partition task",
        read_rows,
    );
    registry.register(
        "read_bytes_per_second",
        "Bytes read and sent per second over the last 10 s, per partition task",
        read_bytes,
    );
    registry.register(
        "caught_up",
        "1 when the task has read everything the tablet wrote so far",
        caught_up,
    );
    registry.register_with_unit(
        "since_last_accepted",
        "Seconds since SyncTool last accepted a pack of the task",
        Unit::Seconds,
        since_accepted,
    );
    registry.register_with_unit(
        "error",
        "How long the task's current error has lasted (absent without one)",
        Unit::Seconds,
        error_for,
    );
    registry.register(
        "linked_binlog_files",
        "Binlog files the task's work dir holds hard-linked",
        linked_files,
    );
    registry.register("tasks", "Partition tasks by state", by_state);
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = encode(&mut out, &registry);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rate::ReadRate;
    use crate::status::{LinksHeld, TaskState};

    #[test]
    fn every_task_is_exported_with_its_counters_rate_and_state() {
        let mut streaming = TaskStatus {
            tid: 7,
            pid: 1,
            rows_sent: 5_000,
            bytes_sent: 400_000,
            packs_sent: 5,
            deletes_skipped: 3,
            caught_up: true,
            last_accepted_ms: Some(18_000),
            read_rate: ReadRate::starting_at(10_000),
            links: LinksHeld {
                binlog_files: 4,
                ..LinksHeld::default()
            },
            ..TaskStatus::default()
        };
        streaming.read_rate.record(18_000, 5_000, 400_000);
        streaming.set_state(TaskState::Streaming);
        let mut retrying = TaskStatus {
            tid: 7,
            pid: 2,
            ..TaskStatus::default()
        };
        retrying.set_state(TaskState::Retrying);
        retrying.set_error("SyncTool unreachable", 15_000);

        let text = render(&[streaming, retrying], 20_000);
        for line in [
            "data_collector_rows_sent_total{tid=\"7\",pid=\"1\"} 5000",
            "data_collector_sent_bytes_total{tid=\"7\",pid=\"1\"} 400000",
            "data_collector_packs_sent_total{tid=\"7\",pid=\"1\"} 5",
            "data_collector_deletes_skipped_total{tid=\"7\",pid=\"1\"} 3",
            "data_collector_read_rows_per_second{tid=\"7\",pid=\"1\"} 500.0",
            "data_collector_read_bytes_per_second{tid=\"7\",pid=\"1\"} 40000.0",
            "data_collector_caught_up{tid=\"7\",pid=\"1\"} 1",
            "data_collector_caught_up{tid=\"7\",pid=\"2\"} 0",
            "data_collector_since_last_accepted_seconds{tid=\"7\",pid=\"1\"} 2.0",
            "data_collector_error_seconds{tid=\"7\",pid=\"2\"} 5.0",
            "data_collector_linked_binlog_files{tid=\"7\",pid=\"1\"} 4",
            "data_collector_tasks{state=\"streaming\"} 1",
            "data_collector_tasks{state=\"retrying\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
        assert!(
            !text.contains("data_collector_error_seconds{tid=\"7\",pid=\"1\"}"),
            "no error, no series: {text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
