//! The collector's client of the tablet API: `GetTableStatus` and
//! `GetTableSchema` over brpc's HTTP+JSON transport
//! (`POST http://<endpoint>/openmldb.api.TabletServer/<Method>`), and the
//! check that a partition is a disk table whose snapshot and binlog paths the
//! collector can hard-link ([`validate_disk_table`]).

use std::future::Future;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connect, HttpConnector};
use hyper_util::rt::TokioExecutor;
use sync_proto::api::{
    GetTableSchemaRequest, GetTableSchemaResponse, GetTableStatusRequest, GetTableStatusResponse,
    TableMeta, TableStatus,
};
use sync_proto::common::StorageMode;
use sync_proto::json::{JsonError, from_json, to_json_string};

/// Why a tablet call failed.
#[derive(Debug, thiserror::Error)]
pub enum TabletError {
    #[error("tablet {endpoint} {method}: {msg}")]
    Transport {
        endpoint: String,
        method: &'static str,
        msg: String,
    },
    #[error("tablet {endpoint} {method}: no answer within {timeout:?}")]
    Timeout {
        endpoint: String,
        method: &'static str,
        timeout: Duration,
    },
    #[error("tablet {endpoint} {method}: HTTP {status}: {body}")]
    Http {
        endpoint: String,
        method: &'static str,
        status: u16,
        body: String,
    },
    #[error("tablet {endpoint} {method}: bad JSON: {source}")]
    Json {
        endpoint: String,
        method: &'static str,
        source: JsonError,
    },
    #[error("tablet {endpoint} {method} tid {tid} pid {pid}: code {code}: {msg}")]
    Code {
        endpoint: String,
        method: &'static str,
        tid: u32,
        pid: u32,
        code: i32,
        msg: String,
    },
    #[error("tablet {endpoint} has no table status for tid {tid} pid {pid}")]
    NotFound {
        endpoint: String,
        tid: u32,
        pid: u32,
    },
    #[error("table status is not valid: tid {tid} pid {pid}: {reason}")]
    Invalid { tid: u32, pid: u32, reason: String },
}

/// The calls the collector makes to a tablet.
pub trait TabletApi: Send + Sync {
    /// The status of partition `tid`/`pid` (the first `all_table_status`).
    fn get_table_status(
        &self,
        endpoint: &str,
        tid: u32,
        pid: u32,
    ) -> impl Future<Output = Result<TableStatus, TabletError>> + Send;

    /// The `TableMeta` of partition `tid`/`pid`.
    fn get_table_schema(
        &self,
        endpoint: &str,
        tid: u32,
        pid: u32,
    ) -> impl Future<Output = Result<TableMeta, TabletError>> + Send;
}

/// The absolute snapshot and binlog dirs of a disk table, with trailing `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskTablePaths {
    pub snapshot_path: String,
    pub binlog_path: String,
}

/// Checks that `status` describes a disk table with absolute paths.
pub fn validate_disk_table(status: &TableStatus) -> Result<DiskTablePaths, TabletError> {
    let tid = status.tid.unwrap_or_default();
    let pid = status.pid.unwrap_or_default();
    let invalid = |reason: String| TabletError::Invalid { tid, pid, reason };
    let mode = status.storage_mode.unwrap_or(StorageMode::KMemory as i32);
    if mode == StorageMode::KMemory as i32 {
        return Err(invalid(
            "storage_mode is kMemory; only disk tables (kSSD/kHDD) can be synced".into(),
        ));
    }
    let path = |name: &str, value: &Option<String>| -> Result<String, TabletError> {
        match value.as_deref() {
            None | Some("") => Err(invalid(format!("{name} is empty"))),
            Some(p) if !p.starts_with('/') => Err(invalid(format!("{name} `{p}` is not absolute"))),
            Some(p) if p.ends_with('/') => Ok(p.to_string()),
            Some(p) => Ok(format!("{p}/")),
        }
    };
    Ok(DiskTablePaths {
        snapshot_path: path("snapshot_path", &status.snapshot_path)?,
        binlog_path: path("binlog_path", &status.binlog_path)?,
    })
}

/// [`TabletApi`] over brpc's HTTP+JSON transport, on TCP by default; the
/// simulation gives it a connector over its simulated network
/// ([`HttpTabletClient::with_connector`]).
#[derive(Clone)]
pub struct HttpTabletClient<C = HttpConnector> {
    client: Client<C, Full<Bytes>>,
    timeout: Duration,
}

impl HttpTabletClient {
    /// A client over TCP whose calls time out after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        let client = Client::builder(TokioExecutor::new()).build_http();
        HttpTabletClient { client, timeout }
    }
}

impl<C> HttpTabletClient<C>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    /// A client whose connections `connector` opens (a hyper connector: a
    /// `tower::Service<Uri>`), with calls that time out after `timeout`.
    pub fn with_connector(connector: C, timeout: Duration) -> Self {
        let client = Client::builder(TokioExecutor::new()).build(connector);
        HttpTabletClient { client, timeout }
    }

    async fn call(
        &self,
        endpoint: &str,
        method: &'static str,
        body: String,
    ) -> Result<String, TabletError> {
        let transport = |msg: String| TabletError::Transport {
            endpoint: endpoint.to_string(),
            method,
            msg,
        };
        let req = hyper::Request::post(format!(
            "http://{endpoint}/openmldb.api.TabletServer/{method}"
        ))
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| transport(e.to_string()))?;
        let exchange = async {
            let resp = self
                .client
                .request(req)
                .await
                .map_err(|e| transport(e.to_string()))?;
            let status = resp.status();
            let bytes = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| transport(e.to_string()))?
                .to_bytes();
            Ok::<_, TabletError>((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| TabletError::Timeout {
                endpoint: endpoint.to_string(),
                method,
                timeout: self.timeout,
            })??;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if !status.is_success() {
            return Err(TabletError::Http {
                endpoint: endpoint.to_string(),
                method,
                status: status.as_u16(),
                body: text,
            });
        }
        Ok(text)
    }
}

fn json_err(endpoint: &str, method: &'static str) -> impl FnOnce(JsonError) -> TabletError {
    let endpoint = endpoint.to_string();
    move |source| TabletError::Json {
        endpoint,
        method,
        source,
    }
}

impl<C> TabletApi for HttpTabletClient<C>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    async fn get_table_status(
        &self,
        endpoint: &str,
        tid: u32,
        pid: u32,
    ) -> Result<TableStatus, TabletError> {
        const METHOD: &str = "GetTableStatus";
        let req = GetTableStatusRequest {
            tid: Some(tid),
            pid: Some(pid),
            need_schema: Some(false),
        };
        let body = to_json_string(&req).map_err(json_err(endpoint, METHOD))?;
        let text = self.call(endpoint, METHOD, body).await?;
        let resp: GetTableStatusResponse = from_json(&text).map_err(json_err(endpoint, METHOD))?;
        let code = resp.code.unwrap_or_default();
        if code != 0 {
            return Err(TabletError::Code {
                endpoint: endpoint.to_string(),
                method: METHOD,
                tid,
                pid,
                code,
                msg: resp.msg.unwrap_or_default(),
            });
        }
        resp.all_table_status
            .into_iter()
            .find(|s| s.tid == Some(tid) && s.pid == Some(pid))
            .ok_or_else(|| TabletError::NotFound {
                endpoint: endpoint.to_string(),
                tid,
                pid,
            })
    }

    async fn get_table_schema(
        &self,
        endpoint: &str,
        tid: u32,
        pid: u32,
    ) -> Result<TableMeta, TabletError> {
        const METHOD: &str = "GetTableSchema";
        let req = GetTableSchemaRequest {
            tid: Some(tid as i32),
            pid: Some(pid as i32),
        };
        let body = to_json_string(&req).map_err(json_err(endpoint, METHOD))?;
        let text = self.call(endpoint, METHOD, body).await?;
        let resp: GetTableSchemaResponse = from_json(&text).map_err(json_err(endpoint, METHOD))?;
        let code = resp.code.unwrap_or_default();
        let code_err = |code: i32, msg: String| TabletError::Code {
            endpoint: endpoint.to_string(),
            method: METHOD,
            tid,
            pid,
            code,
            msg,
        };
        if code != 0 {
            return Err(code_err(code, resp.msg.unwrap_or_default()));
        }
        resp.table_meta
            .ok_or_else(|| code_err(0, "response has no table_meta".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(mode: StorageMode, snap: Option<&str>, binlog: Option<&str>) -> TableStatus {
        TableStatus {
            tid: Some(1),
            pid: Some(2),
            storage_mode: Some(mode as i32),
            snapshot_path: snap.map(str::to_string),
            binlog_path: binlog.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn validation() {
        let ok = validate_disk_table(&status(
            StorageMode::KHdd,
            Some("/a/snapshot/"),
            Some("/a/binlog"),
        ))
        .unwrap();
        assert_eq!(ok.binlog_path, "/a/binlog/");
        let err = |s| validate_disk_table(&s).unwrap_err().to_string();
        assert!(
            err(status(StorageMode::KMemory, Some("/a/"), Some("/b/")))
                .starts_with("table status is not valid")
        );
        assert!(err(status(StorageMode::KSsd, Some("a/"), Some("/b/"))).contains("not absolute"));
        assert!(err(status(StorageMode::KSsd, Some("/a/"), None)).contains("binlog_path is empty"));
        let mut none = status(StorageMode::KHdd, Some("/a/"), Some("/b/"));
        none.storage_mode = None;
        assert!(err(none).contains("kMemory"));
    }
}
