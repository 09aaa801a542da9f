//! The tablet API inside the simulation: `GetTableStatus` and
//! `GetTableSchema` answered from the emulated tables on disk (exactly what
//! the emulator's HTTP server answers), for the tablet endpoint's data root.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use data_collector::tablet_client::{TabletApi, TabletError};
use sync_proto::api::{GetTableSchemaRequest, GetTableStatusRequest, TableMeta, TableStatus};
use tablet_emu::server::{table_schema, table_status};

/// Tablet endpoint → the root of its data.
pub type TabletRoots = Arc<Mutex<HashMap<String, PathBuf>>>;

/// Answers tablet calls from the data roots.
#[derive(Clone)]
pub struct SimTablet {
    roots: TabletRoots,
}

impl SimTablet {
    /// Serves the tablets in `roots`.
    pub fn new(roots: TabletRoots) -> Self {
        Self { roots }
    }

    fn root(&self, endpoint: &str, method: &'static str) -> Result<PathBuf, TabletError> {
        let roots = self.roots.lock().unwrap_or_else(|p| p.into_inner());
        roots
            .get(endpoint)
            .cloned()
            .ok_or_else(|| TabletError::Transport {
                endpoint: endpoint.to_string(),
                method,
                msg: "no such tablet in the simulation".into(),
            })
    }
}

impl TabletApi for SimTablet {
    async fn get_table_status(
        &self,
        endpoint: &str,
        tid: u32,
        pid: u32,
    ) -> Result<TableStatus, TabletError> {
        const METHOD: &str = "GetTableStatus";
        let root = self.root(endpoint, METHOD)?;
        let req = GetTableStatusRequest {
            tid: Some(tid),
            pid: Some(pid),
            need_schema: Some(false),
        };
        let resp = table_status(&root, &req).map_err(|e| TabletError::Transport {
            endpoint: endpoint.to_string(),
            method: METHOD,
            msg: e.to_string(),
        })?;
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
        let root = self.root(endpoint, METHOD)?;
        let req = GetTableSchemaRequest {
            tid: Some(tid as i32),
            pid: Some(pid as i32),
        };
        let resp = table_schema(&root, &req).map_err(|e| TabletError::Transport {
            endpoint: endpoint.to_string(),
            method: METHOD,
            msg: e.to_string(),
        })?;
        match (resp.code.unwrap_or_default(), resp.table_meta) {
            (0, Some(meta)) => Ok(meta),
            (code, _) => Err(TabletError::Code {
                endpoint: endpoint.to_string(),
                method: METHOD,
                tid,
                pid,
                code,
                msg: resp.msg.unwrap_or_default(),
            }),
        }
    }
}
