//! The HTTP+JSON admin (on the gRPC port, see [`super::server`]):
//!
//! * `POST|GET /openmldb.datasync.SyncTool/{CreateSyncTask,DeleteSyncTask,TaskStatus}`
//!   with OpenMLDB's JSON (see [`crate::admin`]), as brpc served it, so
//!   `synctool_helper.py` keeps working; plus the added `RetrySyncTask`
//!   (`{"db","name"}`);
//! * `GET /status` (HTML), `GET /status?format=json` (tables, parts, points,
//!   rows, lag, failures, the table-scope summary);
//! * `GET /collectors` (`{"collectors":[..]}`);
//! * `GET /workers`: the SyncTools sharing the ZooKeeper root, the elected
//!   coordinator and each partition task's owner
//!   (`{"this","standalone","coordinator","workers":[{"endpoint","role","parts"}],
//!   "parts":[{"tid","pid","owner","epoch"}]}`);
//! * `GET /metrics` (Prometheus/OpenMetrics text, see [`super::metrics`]).
//!
//! A body that is not JSON, or a field of the wrong type, gets HTTP 400 with
//! `{"code":-1,"msg":...}`; an unknown method 404.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::{Value, json};
use sync_core::task::StatusReport;
use sync_infra::status_page::{escape, page, wants_json};

use super::handle::{Membership, SyncToolHandle, error};
use crate::admin;

/// The admin router.
pub fn router(handle: SyncToolHandle) -> Router {
    Router::new()
        .route("/openmldb.datasync.SyncTool/{method}", any(method))
        .route("/status", get(status))
        .route("/collectors", get(collectors))
        .route("/workers", get(workers))
        .route("/metrics", get(metrics))
        .with_state(handle)
}

fn json_response(code: StatusCode, value: &Value) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

fn bad_request(msg: String) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        &admin::general_to_json(&error(msg)),
    )
}

async fn method(
    State(handle): State<SyncToolHandle>,
    Path(method): Path<String>,
    body: Bytes,
) -> Response {
    let reply = match method.as_str() {
        "CreateSyncTask" => match admin::create_from_json(&body) {
            Ok(req) => admin::general_to_json(&handle.create(req).await),
            Err(e) => return bad_request(e.to_string()),
        },
        "DeleteSyncTask" => match admin::delete_from_json(&body) {
            Ok(req) => admin::general_to_json(&handle.delete(req).await),
            Err(e) => return bad_request(e.to_string()),
        },
        "RetrySyncTask" => match admin::delete_from_json(&body) {
            Ok(req) => admin::general_to_json(&handle.retry(req).await),
            Err(e) => return bad_request(e.to_string()),
        },
        "TaskStatus" => match admin::status_from_json(&body) {
            Ok(req) => admin::status_to_json(&handle.task_status(req).await),
            Err(e) => return bad_request(e.to_string()),
        },
        other => {
            return json_response(
                StatusCode::NOT_FOUND,
                &admin::general_to_json(&error(format!(
                    "no method `{other}` on openmldb.datasync.SyncTool over HTTP \
                     (CreateSyncTask, DeleteSyncTask, TaskStatus, RetrySyncTask)"
                ))),
            );
        }
    };
    json_response(StatusCode::OK, &reply)
}

/// A task's output options as JSON (the create's field names).
pub fn options_json(o: &sync_core::task::TaskOptions) -> Value {
    json!({
        "format": o.format.as_str(),
        "csv_header": o.csv_header,
        "csv_null": o.csv_null,
        "parquet_compression": o.compression.as_str(),
        "roll_max_rows": o.roll.max_rows,
        "roll_max_bytes": o.roll.max_bytes,
        "roll_max_age_ms": o.roll.max_age_ms,
        "partition_by": o.partition_by.as_ref().map(ToString::to_string),
        "partition_time_zone": o.time_zone,
        "summary": o.to_string(),
    })
}

/// The status report as JSON.
pub fn report_to_json(report: &StatusReport) -> Value {
    let tables: Vec<Value> = report
        .tables
        .iter()
        .map(|t| {
            let parts: Vec<Value> = t
                .partitions
                .iter()
                .map(|p| {
                    json!({
                        "pid": p.pid,
                        "status": p.status.as_str(),
                        "collector": p.collector,
                        "tablet_endpoint": p.tablet_endpoint,
                        "accepted": p.accepted.to_string(),
                        "committed": p.committed.to_string(),
                        "rows": p.rows_committed,
                        "last_heard_ms": p.last_heard_ms,
                        "lag_ms": report.now_ms.saturating_sub(p.last_heard_ms),
                        "failure_reason": p.failure.as_ref().map(|f| &f.message),
                        "failure_kind": p.failure.as_ref().map(|f| &f.kind),
                        "error": p.last_error.as_ref().map(|e| json!({
                            "kind": e.kind,
                            "class": e.class.as_str(),
                            "message": e.message,
                            "since_ms": e.since_ms,
                            "attempts": e.attempts,
                        })),
                        "preparing": p.preparing,
                        "waiting": p.waiting,
                        "epoch": p.epoch,
                    })
                })
                .collect();
            json!({
                "tid": t.tid,
                "task_id": t.task_id,
                "db": t.db,
                "table": t.table,
                "mode": t.mode.to_proto().as_str_name(),
                "start_ts": t.start_ts,
                "dest": t.dest,
                "origin": t.origin.to_string(),
                "options": options_json(&t.options),
                "rows": t.partitions.iter().map(|p| p.rows_committed).sum::<u64>(),
                "failed": t.failed().map(|p| p.pid).collect::<Vec<_>>(),
                "parts": parts,
            })
        })
        .collect();
    let history: Vec<Value> = report
        .history
        .iter()
        .map(|f| {
            json!({
                "tid": f.tid,
                "task_id": f.task_id,
                "db": f.db,
                "table": f.table,
                "mode": f.mode.to_proto().as_str_name(),
                "dest": f.dest,
                "ending": f.ending.as_str(),
                "rows": f.rows,
                "files": f.files,
                "bytes": f.bytes,
                "created_ms": f.created_ms,
                "ended_ms": f.ended_ms,
                "duration_ms": f.ended_ms.saturating_sub(f.created_ms),
            })
        })
        .collect();
    json!({
        "now_ms": report.now_ms,
        "des_endpoint": report.des_endpoint,
        "tables": tables,
        "history": history,
        "memory": {
            "held_bytes": report.memory.held_bytes,
            "limit_bytes": report.memory.limit_bytes,
            "full": report.memory.full,
        },
        "summary": report.summary(),
    })
}

fn report_to_html(report: &StatusReport, members: &Result<Membership, String>) -> String {
    let mut html = String::from("<h1>SyncTool</h1>");
    html.push_str(&format!(
        "<p>endpoint {} &middot; {} table task(s) &middot; memory {} of {} bytes held{}</p>",
        escape(&report.des_endpoint),
        report.tables.len(),
        report.memory.held_bytes,
        report.memory.limit_bytes,
        if report.memory.full {
            " (full: packs wait)"
        } else {
            ""
        }
    ));
    html.push_str(&format!("<p>{}</p>", escape(&members_line(members))));
    for t in &report.tables {
        html.push_str(&format!(
            "<h2>{}.{} (tid {}, task {}, {}) &rarr; {}</h2><p>{}</p><p class=\"options\">{}</p><table><tr><th>pid</th><th>status</th>\
             <th>collector</th><th>leader</th><th>committed</th><th>accepted</th><th>rows</th>\
             <th>lag (ms)</th><th>error (since)</th><th>failure</th></tr>",
            escape(&t.db),
            escape(&t.table),
            t.tid,
            t.task_id,
            t.mode.to_proto().as_str_name(),
            escape(&t.dest),
            escape(&t.origin.to_string()),
            escape(&t.options.to_string()),
        ));
        for p in &t.partitions {
            let trouble = match &p.last_error {
                Some(e) => format!(
                    "[{}, {}] {} (since {} ms ago, {} attempt(s))",
                    e.kind,
                    e.class.as_str(),
                    e.message,
                    report.now_ms.saturating_sub(e.since_ms),
                    e.attempts
                ),
                None if p.preparing => "preparing".into(),
                None => p.waiting.clone().unwrap_or_default(),
            };
            let failure = p
                .failure
                .as_ref()
                .map(|f| format!("[{}] {}", f.kind, f.message))
                .unwrap_or_default();
            html.push_str(&format!(
                "<tr class=\"{status}\"><td>{}</td><td>{status}</td><td>{}</td><td>{}</td><td>{}</td>\
                 <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                p.pid,
                escape(p.collector.as_deref().unwrap_or("")),
                escape(&p.tablet_endpoint),
                escape(&p.committed.to_string()),
                escape(&p.accepted.to_string()),
                p.rows_committed,
                report.now_ms.saturating_sub(p.last_heard_ms),
                escape(&trouble),
                escape(&failure),
                status = p.status.as_str(),
            ));
        }
        html.push_str("</table>");
    }
    if !report.history.is_empty() {
        html.push_str(
            "<h2>Ended tasks</h2><table><tr><th>table</th><th>tid</th><th>task</th><th>mode</th>\
             <th>dest</th><th>ended</th><th>rows</th><th>files</th><th>bytes</th>\
             <th>duration (ms)</th></tr>",
        );
        for f in report.history.iter().rev() {
            html.push_str(&format!(
                "<tr><td>{}.{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
                 <td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&f.db),
                escape(&f.table),
                f.tid,
                f.task_id,
                f.mode.to_proto().as_str_name(),
                escape(&f.dest),
                f.ending.as_str(),
                f.rows,
                f.files,
                f.bytes,
                f.ended_ms.saturating_sub(f.created_ms)
            ));
        }
        html.push_str("</table>");
    }
    html.push_str(&format!("<pre>{}</pre>", escape(&report.summary())));
    page("SyncTool status", &html)
}

async fn status(State(handle): State<SyncToolHandle>, RawQuery(query): RawQuery) -> Response {
    let want_json = wants_json(query.as_deref());
    let report = match handle.status_report().await {
        Ok(r) => r,
        Err(msg) => {
            return json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                &admin::general_to_json(&error(msg)),
            );
        }
    };
    // Which SyncTools share the cluster; the page still answers (with the
    // error) when ZooKeeper cannot be asked.
    let members = handle.membership(false).await;
    if want_json {
        let mut body = report_to_json(&report);
        body["sync_tools"] = match &members {
            Ok(m) => membership_json(m, false),
            Err(msg) => json!({ "error": msg }),
        };
        json_response(StatusCode::OK, &body)
    } else {
        Response::builder()
            .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
            .body(Body::from(report_to_html(&report, &members)))
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
    }
}

async fn metrics(State(handle): State<SyncToolHandle>) -> Response {
    match handle.status_report().await {
        Ok(report) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            handle.metrics.render(&report, handle.sink.counters()),
        )
            .into_response(),
        Err(msg) => (StatusCode::SERVICE_UNAVAILABLE, msg).into_response(),
    }
}

/// The SyncTools in one line: `standalone`, or each with its role.
fn members_line(members: &Result<Membership, String>) -> String {
    match members {
        Err(msg) => msg.clone(),
        Ok(m) if m.standalone => "standalone SyncTool (no ZooKeeper)".into(),
        Ok(m) => {
            let list: Vec<String> = m
                .workers
                .iter()
                .map(|w| {
                    if m.is_coordinator(w) {
                        format!("{w} (coordinator)")
                    } else {
                        w.clone()
                    }
                })
                .collect();
            let elected = if m.coordinator.is_none() {
                "; no coordinator elected"
            } else {
                ""
            };
            format!("SyncTools: {}{elected}", list.join(", "))
        }
    }
}

/// `/workers`' JSON (also the status page's `sync_tools`, without the
/// owners: `with_owners` false).
fn membership_json(m: &Membership, with_owners: bool) -> Value {
    let workers: Vec<Value> = m
        .workers
        .iter()
        .map(|w| {
            let mut entry = json!({ "endpoint": w, "role": m.role_of(w) });
            if with_owners {
                entry["parts"] = m.parts_of(w).into();
            }
            entry
        })
        .collect();
    let mut body = json!({
        "this": m.this,
        "standalone": m.standalone,
        "coordinator": m.coordinator,
        "workers": workers,
    });
    if with_owners {
        let owners: Vec<Value> = m
            .owners
            .iter()
            .map(|((tid, pid), o)| json!({ "tid": tid, "pid": pid, "owner": o.worker, "epoch": o.epoch }))
            .collect();
        body["parts"] = owners.into();
    }
    body
}

async fn workers(State(handle): State<SyncToolHandle>) -> Response {
    match handle.membership(true).await {
        Ok(m) => json_response(StatusCode::OK, &membership_json(&m, true)),
        Err(msg) => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &admin::general_to_json(&error(msg)),
        ),
    }
}

async fn collectors(State(handle): State<SyncToolHandle>) -> Response {
    match handle.live_collectors().await {
        Ok(list) => json_response(StatusCode::OK, &json!({ "collectors": list })),
        Err(msg) => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &admin::general_to_json(&error(msg)),
        ),
    }
}
