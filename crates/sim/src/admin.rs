//! The operator: a turmoil client that talks to SyncTool's port like the
//! helper does — `CreateSyncTask` and `TaskStatus` over gRPC, the added
//! `RetrySyncTask` over HTTP+JSON — on the test loop's behalf. The admin's
//! own link is never faulted.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use sync_proto::datasync::sync_tool_client::SyncToolClient;
use sync_proto::datasync::{CreateSyncTaskRequest, TaskStatusRequest, TaskStatusResponse};

use crate::clock::sim_ms;
use crate::net;
use crate::synctool_host;

/// The turmoil host name of the admin.
pub const HOST: &str = "admin";

/// A request for SyncTool.
#[derive(Debug, Clone)]
pub enum Command {
    /// `CreateSyncTask`.
    Create(Box<CreateSyncTaskRequest>),
    /// `RetrySyncTask` of `db.table`.
    Retry {
        /// Database.
        db: String,
        /// Table.
        table: String,
    },
}

/// What the admin was asked and what it saw.
#[derive(Default)]
pub struct AdminState {
    /// Requests not yet sent.
    pub pending: VecDeque<Command>,
    /// Outcomes of creates: (`db.table`, result).
    pub created: Vec<(String, Result<(), String>)>,
    /// The last `TaskStatus` answer and when it came (ms).
    pub status: Option<(u64, TaskStatusResponse)>,
}

/// Shared with the test loop.
#[derive(Clone, Default)]
pub struct Admin(Arc<Mutex<AdminState>>);

impl Admin {
    /// Locks the state.
    pub fn lock(&self) -> MutexGuard<'_, AdminState> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a request.
    pub fn send(&self, command: Command) {
        self.lock().pending.push_back(command);
    }
}

const TIMEOUT: Duration = Duration::from_secs(2);
const STATUS_EVERY_MS: u64 = 400;

/// The client's software, talking to the SyncTool on `target` (a host name).
pub async fn run(admin: Admin, target: String) -> turmoil::Result {
    let endpoint = synctool_host::endpoint_of(&target);
    let channel = net::channel(&endpoint, TIMEOUT)?;
    let mut client = SyncToolClient::new(channel);
    let mut next_status = 0;
    loop {
        let command = admin.lock().pending.pop_front();
        match command {
            Some(Command::Create(req)) => {
                let name = format!("{}.{}", req.db(), req.name());
                let result =
                    match tokio::time::timeout(TIMEOUT, client.create_sync_task(*req)).await {
                        Err(_) => Err("CreateSyncTask timed out".to_string()),
                        Ok(Err(status)) => Err(status.to_string()),
                        Ok(Ok(reply)) => match reply.into_inner() {
                            r if r.code() == 0 => Ok(()),
                            r => Err(r.msg().to_string()),
                        },
                    };
                admin.lock().created.push((name, result));
            }
            Some(Command::Retry { db, table }) => {
                let body = format!("{{\"db\":\"{db}\",\"name\":\"{table}\"}}");
                let _ = post(&endpoint, "/openmldb.datasync.SyncTool/RetrySyncTask", body).await;
            }
            None => {}
        }
        if sim_ms() >= next_status {
            next_status = sim_ms() + STATUS_EVERY_MS;
            let req = TaskStatusRequest {
                clear_all: Some(false),
            };
            if let Ok(Ok(reply)) = tokio::time::timeout(TIMEOUT, client.task_status(req)).await {
                let reply = reply.into_inner();
                if reply.response.as_ref().is_some_and(|r| r.code() == 0) {
                    admin.lock().status = Some((sim_ms(), reply));
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// POSTs JSON to a SyncTool's admin HTTP path; returns the body.
async fn post(endpoint: &str, path: &str, body: String) -> Result<String, String> {
    let exchange = async {
        let stream = turmoil::net::TcpStream::connect(endpoint)
            .await
            .map_err(|e| e.to_string())?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let req = hyper::Request::post(path)
            .header(hyper::header::HOST, endpoint)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    tokio::time::timeout(TIMEOUT, exchange)
        .await
        .map_err(|_| "timed out".to_string())?
}
