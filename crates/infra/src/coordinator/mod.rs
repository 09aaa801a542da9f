//! Cluster membership and table metadata, behind the [`Coordinator`] seam.
//!
//! OpenMLDB keeps both in ZooKeeper: DataCollectors register ephemeral nodes
//! `/<root>/sync_tool/collector/<ip:port>`, and the name server stores every
//! table's `TableInfo` (binary protobuf) at `/<root>/table/db_table_data/<tid>`.
//! [`zk::ZkCoordinator`] reads and writes exactly those paths through a real
//! ZooKeeper; [`standalone::StandaloneCoordinator`] serves a single host
//! without ZooKeeper (a fixed collector list and `TableInfo` files in a
//! directory). The simulation supplies its own implementation.
//!

use std::future::Future;

use sync_proto::nameserver::TableInfo;

pub mod paths;
pub mod standalone;
pub mod zk;

/// Why a coordinator call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("ZooKeeper {cluster}: cannot connect: {source}")]
    Connect {
        cluster: String,
        source: zookeeper_client::Error,
    },
    #[error("ZooKeeper {path}: {source}")]
    Zk {
        path: String,
        source: zookeeper_client::Error,
    },
    #[error("table metadata at {path} is not a valid TableInfo: {source}")]
    BadTableInfo {
        path: String,
        source: prost::DecodeError,
    },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid endpoint `{0}`: expected ip:port")]
    BadEndpoint(String),
    #[error("ownership record at {path} does not decode: {source}")]
    BadRecord {
        path: String,
        source: prost::DecodeError,
    },
    /// A compare-and-set lost: the node changed since it was read.
    #[error("{path} changed since it was read (another coordinator acted)")]
    Stale { path: String },
}

/// Why a commit with an epoch is refused.
#[derive(Debug, thiserror::Error)]
pub enum FenceError {
    /// The partition moved on: another owner or a newer epoch.
    #[error(
        "partition {tid}.{pid}: epoch {mine} is stale (the partition is at epoch {current}, owned by `{owner}`)"
    )]
    Stale {
        /// Table id.
        tid: u32,
        /// Partition id.
        pid: u32,
        /// The epoch the commit was made with.
        mine: u64,
        /// The record's epoch.
        current: u64,
        /// The record's owner.
        owner: String,
    },
    /// No record: the partition task was deleted (or never assigned).
    #[error("partition {tid}.{pid}: no ownership record (the task was deleted)")]
    NoRecord {
        /// Table id.
        tid: u32,
        /// Partition id.
        pid: u32,
    },
    /// ZooKeeper cannot be asked (transient: the commit waits and retries).
    #[error("{0}")]
    Cluster(#[from] ClusterError),
}

impl FenceError {
    /// Whether `worker` may write `part` with `epoch`, given the part's
    /// ownership record: it must name both.
    pub fn judge(
        (tid, pid): sync_core::ownership::PartKey,
        record: Option<&sync_core::ownership::PartOwner>,
        worker: &str,
        epoch: u64,
    ) -> Result<(), FenceError> {
        match record {
            None => Err(FenceError::NoRecord { tid, pid }),
            Some(r) if r.epoch == epoch && r.worker == worker => Ok(()),
            Some(r) => Err(FenceError::Stale {
                tid,
                pid,
                mine: epoch,
                current: r.epoch,
                owner: r.worker.clone(),
            }),
        }
    }

    /// Transient (ZooKeeper unreachable: retry) or permanent (this worker
    /// must drop the part).
    pub fn class(&self) -> sync_core::task::ErrorClass {
        match self {
            FenceError::Cluster(_) => sync_core::task::ErrorClass::Transient,
            FenceError::Stale { .. } | FenceError::NoRecord { .. } => {
                sync_core::task::ErrorClass::Permanent
            }
        }
    }
}

/// Each partition task's ownership record.
pub type Owners =
    std::collections::BTreeMap<sync_core::ownership::PartKey, sync_core::ownership::PartOwner>;

/// The SyncTools sharing a ZooKeeper root (`FAULTS.md` §4).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncTools {
    /// The live SyncTools' endpoints, sorted.
    pub workers: Vec<String>,
    /// The elected coordinator's endpoint; `None` while none is elected.
    pub coordinator: Option<String>,
}

/// What the daemons need to know about the cluster.
pub trait Coordinator: Send + Sync {
    /// The endpoints of the DataCollectors that are alive now, sorted.
    fn live_collectors(&self) -> impl Future<Output = Result<Vec<String>, ClusterError>> + Send;

    /// Every table's metadata, as the name server stores it.
    fn table_infos(&self) -> impl Future<Output = Result<Vec<TableInfo>, ClusterError>> + Send;

    /// One table's metadata by table id; `None` when the table is gone.
    fn table_info(
        &self,
        tid: u32,
    ) -> impl Future<Output = Result<Option<TableInfo>, ClusterError>> + Send;

    /// The SyncTools sharing this cluster and their coordinator; `None`
    /// without ZooKeeper (a standalone SyncTool is the only one).
    fn sync_tools(&self) -> impl Future<Output = Result<Option<SyncTools>, ClusterError>> + Send {
        async { Ok(None) }
    }

    /// Every partition task's owner and epoch (one read per part: for the
    /// `workers` listing, not for every status page); none without
    /// ZooKeeper.
    fn owners(&self) -> impl Future<Output = Result<Owners, ClusterError>> + Send {
        async { Ok(Owners::new()) }
    }

    /// Whether partition tasks are claimed and their commits fenced by epoch
    /// (several SyncTools may share the cluster: ZooKeeper).
    fn fences(&self) -> bool {
        false
    }

    /// Takes partition task `(tid, pid)` for `worker`, bumping its epoch
    /// with a compare-and-set; returns the new epoch. Without ZooKeeper the
    /// only SyncTool owns every part at epoch 1.
    fn claim_part(
        &self,
        tid: u32,
        pid: u32,
        worker: &str,
    ) -> impl Future<Output = Result<u64, ClusterError>> + Send {
        let _ = (tid, pid, worker);
        async { Ok(sync_core::task::STANDALONE_EPOCH) }
    }

    /// Whether `worker` may still commit `(tid, pid)` with `epoch` (checked
    /// before every commit record is created).
    fn check_part_epoch(
        &self,
        tid: u32,
        pid: u32,
        worker: &str,
        epoch: u64,
    ) -> impl Future<Output = Result<(), FenceError>> + Send {
        let _ = (tid, pid, worker, epoch);
        async { Ok(()) }
    }

    /// Finds a table by database and name; `None` when there is no such table.
    fn find_table(
        &self,
        db: &str,
        name: &str,
    ) -> impl Future<Output = Result<Option<TableInfo>, ClusterError>> + Send {
        async move {
            let tables = self.table_infos().await?;
            Ok(tables
                .into_iter()
                .find(|t| t.db() == db && t.name() == name))
        }
    }
}

/// The host part of an `ip:port` endpoint (what collector choice compares).
pub fn endpoint_host(endpoint: &str) -> &str {
    endpoint.rsplit_once(':').map_or(endpoint, |(host, _)| host)
}

#[cfg(test)]
mod tests {
    use super::endpoint_host;

    #[test]
    fn host_of_endpoint() {
        assert_eq!(endpoint_host("10.0.0.1:9527"), "10.0.0.1");
        assert_eq!(endpoint_host("[::1]:9527"), "[::1]");
        assert_eq!(endpoint_host("tablet-a"), "tablet-a");
    }
}
