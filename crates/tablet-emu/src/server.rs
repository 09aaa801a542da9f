//! The tablet's HTTP+JSON API as brpc serves it:
//! `POST /openmldb.api.TabletServer/GetTableStatus` and `/GetTableSchema`,
//! request and response in brpc-style JSON (`sync_proto::json`).
//!
//! Answers follow `TabletImpl`: `GetTableStatus` returns code 0 and one
//! status per matching partition (none for an unknown tid/pid);
//! `GetTableSchema` returns code 100 "table does not exist" for an unknown
//! partition. Disk tables report `snapshot_path` (realpath of
//! `<tid>_<pid>/snapshot/`) and `binlog_path` (absolute `<tid>_<pid>/binlog/`),
//! both with a trailing `/`. State is re-read from `root` on every request, so
//! a concurrent `append`/`snapshot` run is visible (and parsed again only
//! when it changed: [`StateCache`]).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use sync_proto::api::{
    GetTableSchemaRequest, GetTableSchemaResponse, GetTableStatusRequest, GetTableStatusResponse,
    TableMode, TableState as ProtoTableState, TableStatus,
};
use sync_proto::json::{from_json, to_json_string};
use tokio::net::TcpListener;

use crate::error::EmuError;
use crate::partition::partition_dir;
use crate::spec::Storage;
use crate::state::StateCache;

/// `ReturnCode::kTableIsNotExist`.
pub const CODE_TABLE_NOT_EXIST: i32 = 100;

#[derive(Clone)]
struct Ctx {
    root: Arc<PathBuf>,
    states: Arc<StateCache>,
}

fn json_response(body: Result<String, sync_proto::json::JsonError>) -> Response {
    match body {
        Ok(text) => ([(header::CONTENT_TYPE, "application/json")], text).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

fn bad_request(e: impl std::fmt::Display) -> Response {
    (
        StatusCode::BAD_REQUEST,
        format!("invalid request body: {e}"),
    )
        .into_response()
}

fn with_slash(path: &Path) -> String {
    let mut s = path.display().to_string();
    if !s.ends_with('/') {
        s.push('/');
    }
    s
}

/// The `TableStatus` list for a request.
pub fn table_status(
    root: &Path,
    states: &StateCache,
    req: &GetTableStatusRequest,
) -> Result<GetTableStatusResponse, EmuError> {
    let mut all = Vec::new();
    let tables = match req.tid {
        Some(tid) => states.load(root, tid)?.into_iter().collect(),
        None => states.load_all(root)?,
    };
    for state in tables {
        let t = &state.table;
        for (pid, p) in state.partitions.iter().enumerate() {
            let pid = pid as u32;
            if req.pid.is_some_and(|want| want != pid) {
                continue;
            }
            let mut status = TableStatus {
                tid: Some(t.tid),
                pid: Some(pid),
                offset: Some(p.offset),
                mode: Some(TableMode::KTableLeader as i32),
                state: Some(ProtoTableState::KTableNormal as i32),
                record_cnt: Some(p.next_seq),
                name: Some(t.name.clone()),
                compress_type: Some(t.compress_type() as i32),
                diskused: Some(0),
                storage_mode: Some(t.storage.mode() as i32),
                ..Default::default()
            };
            if t.storage != Storage::Memory {
                let dir = partition_dir(root, t.tid, pid);
                if t.report_relative_paths {
                    status.snapshot_path = Some(format!("{}_{}/snapshot/", t.tid, pid));
                    status.binlog_path = Some(format!("{}_{}/binlog/", t.tid, pid));
                } else {
                    let snap = dir.join("snapshot");
                    let snap = std::fs::canonicalize(&snap).unwrap_or(snap);
                    let binlog = std::path::absolute(dir.join("binlog"))
                        .unwrap_or_else(|_| dir.join("binlog"));
                    status.snapshot_path = Some(with_slash(&snap));
                    status.binlog_path = Some(with_slash(&binlog));
                }
            }
            all.push(status);
        }
    }
    Ok(GetTableStatusResponse {
        all_table_status: all,
        code: Some(0),
        msg: None,
    })
}

/// The schema answer for a request.
pub fn table_schema(
    root: &Path,
    states: &StateCache,
    req: &GetTableSchemaRequest,
) -> Result<GetTableSchemaResponse, EmuError> {
    let not_found = GetTableSchemaResponse {
        code: Some(CODE_TABLE_NOT_EXIST),
        msg: Some("table does not exist".into()),
        table_meta: None,
    };
    let (Some(tid), Some(pid)) = (req.tid, req.pid) else {
        return Ok(not_found);
    };
    let (Ok(tid), Ok(pid)) = (u32::try_from(tid), u32::try_from(pid)) else {
        return Ok(not_found);
    };
    if let Some(state) = states.load(root, tid)?
        && pid < state.table.partitions
    {
        return Ok(GetTableSchemaResponse {
            code: Some(0),
            msg: Some("ok".into()),
            table_meta: Some(state.table.table_meta(pid)?),
        });
    }
    Ok(not_found)
}

async fn get_table_status(State(ctx): State<Ctx>, body: Bytes) -> Response {
    let text = String::from_utf8_lossy(&body);
    let req: GetTableStatusRequest = if text.trim().is_empty() {
        GetTableStatusRequest::default()
    } else {
        match from_json(&text) {
            Ok(r) => r,
            Err(e) => return bad_request(e),
        }
    };
    match table_status(&ctx.root, &ctx.states, &req) {
        Ok(resp) => json_response(to_json_string(&resp)),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn get_table_schema(State(ctx): State<Ctx>, body: Bytes) -> Response {
    let req: GetTableSchemaRequest = match from_json(&String::from_utf8_lossy(&body)) {
        Ok(r) => r,
        Err(e) => return bad_request(e),
    };
    match table_schema(&ctx.root, &ctx.states, &req) {
        Ok(resp) => json_response(to_json_string(&resp)),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// The HTTP routes for the tables under `root`.
pub fn router(root: &Path) -> Router {
    Router::new()
        .route(
            "/openmldb.api.TabletServer/GetTableStatus",
            post(get_table_status),
        )
        .route(
            "/openmldb.api.TabletServer/GetTableSchema",
            post(get_table_schema),
        )
        .with_state(Ctx {
            root: Arc::new(root.to_path_buf()),
            states: Arc::new(StateCache::default()),
        })
}

/// A running server.
pub struct TabletServer {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl TabletServer {
    /// Binds `addr` (port 0 = any) and serves in the background.
    pub async fn start(root: &Path, addr: &str) -> Result<Self, EmuError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(crate::error::io(addr))?;
        let local = listener.local_addr().map_err(crate::error::io(addr))?;
        let app = router(root);
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("tablet emulator server stopped: {e}");
            }
        });
        Ok(TabletServer { addr: local, task })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `host:port` as a tablet endpoint.
    pub fn endpoint(&self) -> String {
        self.addr.to_string()
    }

    /// Serves until the task ends (the binary's `serve`).
    pub async fn wait(mut self) {
        let task = std::mem::replace(&mut self.task, tokio::spawn(async {}));
        let _ = task.await;
    }
}

impl Drop for TabletServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
