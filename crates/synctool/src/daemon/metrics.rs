//! SyncTool's metrics, in the Prometheus/OpenMetrics text format, built with
//! `prometheus-client` (names per Prometheus conventions: `_total`,
//! `_seconds`, `_bytes`).
//!
//! Two kinds: what the status report shows at scrape time (rows and bytes
//! received and committed per partition task, rows and bytes held, the age
//! of the oldest uncommitted row, parts by status, parts with an error by
//! kind, table tasks), rebuilt from the report on every scrape; and events
//! counted as they happen ([`Metrics`]: the commit latency histogram, failed
//! sink steps and assignments by kind, parts FAILED by kind, bad rows).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use std::sync::atomic::AtomicU64;
use sync_core::task::{Action, StatusReport};
use sync_sinks::SinkCounters;

/// A partition task.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PartLabels {
    db: String,
    table: String,
    tid: u32,
    pid: u32,
}

/// A status.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: String,
}

/// An error kind (and its class).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
    class: String,
}

/// A sink step and the kind of its failure.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StepLabels {
    step: String,
    kind: String,
}

/// A bad-rows policy.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PolicyLabels {
    policy: String,
}

type F64Gauge = Gauge<f64, AtomicU64>;

/// The events counted while the daemon runs (cheap to clone: shared handles).
#[derive(Clone)]
pub struct Metrics {
    commit_latency: Histogram,
    committed_segments: Counter,
    step_failures: Family<StepLabels, Counter>,
    assign_failures: Family<KindLabels, Counter>,
    parts_failed: Family<KindLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Nothing counted yet.
    pub fn new() -> Self {
        Metrics {
            // 5 ms … about 82 s.
            commit_latency: Histogram::new(exponential_buckets(0.005, 2.0, 15)),
            committed_segments: Counter::default(),
            step_failures: Family::default(),
            assign_failures: Family::default(),
            parts_failed: Family::default(),
        }
    }

    /// Counts what an action of the supervisor tells (commits, FAILED parts).
    pub fn record(&self, action: &Action) {
        match action {
            Action::SegmentCommitted { latency_ms, .. } => {
                self.commit_latency.observe(*latency_ms as f64 / 1000.0);
                self.committed_segments.inc();
            }
            Action::PartFailed { error, .. } => {
                self.parts_failed
                    .get_or_create(&KindLabels {
                        kind: error.kind().to_owned(),
                        class: error.class().as_str().to_owned(),
                    })
                    .inc();
            }
            _ => {}
        }
    }

    /// Counts a failed sink step (`stage`, `commit`).
    pub fn step_failed(&self, step: &str, failure: &sync_core::task::SinkFailure) {
        self.step_failures
            .get_or_create(&StepLabels {
                step: step.to_owned(),
                kind: failure.kind().to_owned(),
            })
            .inc();
    }

    /// Counts a failed assignment.
    pub fn assign_failed(&self, failure: &sync_core::task::AssignFailure) {
        let kind = match failure {
            sync_core::task::AssignFailure::Unreachable { .. } => "unreachable",
            sync_core::task::AssignFailure::Refused { .. } => "refused",
        };
        self.assign_failures
            .get_or_create(&KindLabels {
                kind: kind.to_owned(),
                class: "transient".to_owned(),
            })
            .inc();
    }

    /// Every metric as text: the events counted so far, and the status
    /// `report` and the sink's `counters` as they are now.
    pub fn render(&self, report: &StatusReport, counters: SinkCounters) -> String {
        let mut registry = Registry::with_prefix("synctool");
        self.register_events(&mut registry);
        register_report(&mut registry, report);
        let bad_rows = Family::<PolicyLabels, Counter>::default();
        for (policy, n) in [
            ("skip", counters.rows_skipped),
            ("dead_letter", counters.rows_dead_lettered),
        ] {
            bad_rows
                .get_or_create(&PolicyLabels {
                    policy: policy.to_owned(),
                })
                .inc_by(n);
        }
        registry.register(
            "bad_rows",
            "Rows that could not be written, by what sink.bad_rows did with them",
            bad_rows,
        );
        let mut text = String::new();
        // Writing into a String does not fail.
        let _ = encode(&mut text, &registry);
        text
    }

    fn register_events(&self, registry: &mut Registry) {
        registry.register_with_unit(
            "commit_latency",
            "Time from sealing a segment to its commit (staging and committing it)",
            Unit::Seconds,
            self.commit_latency.clone(),
        );
        registry.register(
            "committed_segments",
            "Segments committed",
            self.committed_segments.clone(),
        );
        registry.register(
            "step_failures",
            "Failed sink steps (stage, commit), by the kind of the failure",
            self.step_failures.clone(),
        );
        registry.register(
            "assign_failures",
            "Failed AddSyncTask calls, by kind",
            self.assign_failures.clone(),
        );
        registry.register(
            "parts_failed",
            "Partition tasks that became FAILED, by the kind of the reason",
            self.parts_failed.clone(),
        );
    }
}

/// The status report's metrics, registered into `registry`.
fn register_report(registry: &mut Registry, report: &StatusReport) {
    let received_rows = Family::<PartLabels, Counter>::default();
    let received_bytes = Family::<PartLabels, Counter>::default();
    let committed_rows = Family::<PartLabels, Counter>::default();
    let committed_bytes = Family::<PartLabels, Counter>::default();
    let committed_files = Family::<PartLabels, Counter>::default();
    let held_rows = Family::<PartLabels, Gauge>::default();
    let held_bytes = Family::<PartLabels, Gauge>::default();
    let lag_seconds = Family::<PartLabels, F64Gauge>::default();
    let silence_seconds = Family::<PartLabels, F64Gauge>::default();
    let parts = Family::<StatusLabels, Gauge>::default();
    let errors = Family::<KindLabels, Gauge>::default();
    for t in &report.tables {
        for p in &t.partitions {
            let labels = PartLabels {
                db: t.db.clone(),
                table: t.table.clone(),
                tid: t.tid,
                pid: p.pid,
            };
            received_rows.get_or_create(&labels).inc_by(p.rows_in);
            received_bytes.get_or_create(&labels).inc_by(p.bytes_in);
            committed_rows
                .get_or_create(&labels)
                .inc_by(p.rows_committed);
            committed_bytes
                .get_or_create(&labels)
                .inc_by(p.bytes_committed);
            committed_files
                .get_or_create(&labels)
                .inc_by(p.files_committed);
            held_rows
                .get_or_create(&labels)
                .set(i64::try_from(p.held_rows).unwrap_or(i64::MAX));
            held_bytes
                .get_or_create(&labels)
                .set(i64::try_from(p.held_bytes).unwrap_or(i64::MAX));
            lag_seconds
                .get_or_create(&labels)
                .set(p.uncommitted_ms as f64 / 1000.0);
            silence_seconds
                .get_or_create(&labels)
                .set(report.now_ms.saturating_sub(p.last_heard_ms) as f64 / 1000.0);
            parts
                .get_or_create(&StatusLabels {
                    status: p.status.as_str().to_owned(),
                })
                .inc();
            if let Some(e) = &p.last_error {
                errors
                    .get_or_create(&KindLabels {
                        kind: e.kind.clone(),
                        class: e.class.as_str().to_owned(),
                    })
                    .inc();
            }
        }
    }
    let tasks = Gauge::<i64, std::sync::atomic::AtomicI64>::default();
    tasks.set(i64::try_from(report.tables.len()).unwrap_or(i64::MAX));
    let ended = Gauge::<i64, std::sync::atomic::AtomicI64>::default();
    ended.set(i64::try_from(report.history.len()).unwrap_or(i64::MAX));
    registry.register(
        "received_rows",
        "Rows accepted from collectors since SyncTool started, per partition task",
        received_rows,
    );
    registry.register_with_unit(
        "received",
        "Bytes of rows accepted from collectors since SyncTool started, per partition task",
        Unit::Bytes,
        received_bytes,
    );
    registry.register(
        "committed_rows",
        "Rows committed to the offline store, per partition task",
        committed_rows,
    );
    registry.register_with_unit(
        "committed",
        "Bytes of rows (as received) committed to the offline store, per partition task",
        Unit::Bytes,
        committed_bytes,
    );
    registry.register(
        "committed_files",
        "Files committed to the offline store, per partition task",
        committed_files,
    );
    registry.register(
        "lag_rows",
        "Rows accepted and not yet committed (held in memory), per partition task",
        held_rows,
    );
    registry.register_with_unit(
        "in_flight",
        "Bytes of rows accepted and not yet committed, per partition task",
        Unit::Bytes,
        held_bytes,
    );
    registry.register_with_unit(
        "lag",
        "Age of the oldest accepted row not yet committed, per partition task",
        Unit::Seconds,
        lag_seconds,
    );
    registry.register_with_unit(
        "silence",
        "Time since the partition task's collector was last heard of",
        Unit::Seconds,
        silence_seconds,
    );
    registry.register("parts", "Partition tasks by status", parts);
    registry.register(
        "part_errors",
        "Partition tasks with an error now, by its kind and class",
        errors,
    );
    registry.register("table_tasks", "Table tasks", tasks);
    registry.register(
        "ended_tasks",
        "Ended table tasks kept in the history",
        ended,
    );
    let gauge = |v: u64| {
        let g = Gauge::<i64>::default();
        g.set(i64::try_from(v).unwrap_or(i64::MAX));
        g
    };
    let memory = &report.memory;
    registry.register_with_unit(
        "memory_held",
        "Bytes of rows held in memory by all partition tasks (not FAILED ones)",
        Unit::Bytes,
        gauge(memory.held_bytes),
    );
    registry.register_with_unit(
        "memory_limit",
        "sink.memory_limit: bytes of rows all partition tasks may hold",
        Unit::Bytes,
        gauge(memory.limit_bytes),
    );
    registry.register(
        "memory_full",
        "1 while packs are held back because the memory limit is near",
        gauge(u64::from(memory.full)),
    );
}
