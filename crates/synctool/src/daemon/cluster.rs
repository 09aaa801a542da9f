//! The cluster as the daemon sees it: a `dyn`-usable view over any
//! [`Coordinator`] (ZooKeeper or standalone), and the conversion of a
//! name-server `TableInfo` into what a create needs (storage mode check,
//! partition leaders).

use std::sync::Arc;

use sync_core::task::PartitionLeader;
use sync_infra::coordinator::{ClusterError, Coordinator, FenceError, Owners, SyncTools};
use sync_proto::common::StorageMode;
use sync_proto::nameserver::TableInfo;

use super::BoxFuture;

/// Membership and metadata, object-safe.
pub trait ClusterView: Send + Sync + 'static {
    /// Live collector endpoints.
    fn live_collectors(&self) -> BoxFuture<'_, Result<Vec<String>, ClusterError>>;
    /// The SyncTools of the cluster and their coordinator; `None` when this
    /// one runs alone (no ZooKeeper).
    fn sync_tools(&self) -> BoxFuture<'_, Result<Option<SyncTools>, ClusterError>> {
        Box::pin(async { Ok(None) })
    }
    /// Every part's owner and epoch; none when this one runs alone.
    fn owners(&self) -> BoxFuture<'_, Result<Owners, ClusterError>> {
        Box::pin(async { Ok(Owners::new()) })
    }
    /// Whether parts are claimed and commits fenced by epoch (ZooKeeper:
    /// several SyncTools may share the cluster).
    fn fences(&self) -> bool {
        false
    }
    /// Takes part `(tid, pid)` for `worker` at a new epoch.
    fn claim_part<'a>(
        &'a self,
        tid: u32,
        pid: u32,
        worker: &'a str,
    ) -> BoxFuture<'a, Result<u64, ClusterError>> {
        let _ = (tid, pid, worker);
        Box::pin(async { Ok(sync_core::task::STANDALONE_EPOCH) })
    }
    /// Whether `worker` may still write part `(tid, pid)` with `epoch`.
    fn check_part_epoch<'a>(
        &'a self,
        tid: u32,
        pid: u32,
        worker: &'a str,
        epoch: u64,
    ) -> BoxFuture<'a, Result<(), FenceError>> {
        let _ = (tid, pid, worker, epoch);
        Box::pin(async { Ok(()) })
    }
    /// A table by id; `None` when gone.
    fn table_info(&self, tid: u32) -> BoxFuture<'_, Result<Option<TableInfo>, ClusterError>>;
    /// A table by database and name.
    fn find_table<'a>(
        &'a self,
        db: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<TableInfo>, ClusterError>>;
}

/// Adapts a [`Coordinator`].
pub struct CoordinatorView<C>(pub Arc<C>);

impl<C: Coordinator + 'static> ClusterView for CoordinatorView<C> {
    fn live_collectors(&self) -> BoxFuture<'_, Result<Vec<String>, ClusterError>> {
        Box::pin(self.0.live_collectors())
    }

    fn sync_tools(&self) -> BoxFuture<'_, Result<Option<SyncTools>, ClusterError>> {
        Box::pin(self.0.sync_tools())
    }

    fn owners(&self) -> BoxFuture<'_, Result<Owners, ClusterError>> {
        Box::pin(self.0.owners())
    }

    fn fences(&self) -> bool {
        self.0.fences()
    }

    fn claim_part<'a>(
        &'a self,
        tid: u32,
        pid: u32,
        worker: &'a str,
    ) -> BoxFuture<'a, Result<u64, ClusterError>> {
        Box::pin(self.0.claim_part(tid, pid, worker))
    }

    fn check_part_epoch<'a>(
        &'a self,
        tid: u32,
        pid: u32,
        worker: &'a str,
        epoch: u64,
    ) -> BoxFuture<'a, Result<(), FenceError>> {
        Box::pin(self.0.check_part_epoch(tid, pid, worker, epoch))
    }

    fn table_info(&self, tid: u32) -> BoxFuture<'_, Result<Option<TableInfo>, ClusterError>> {
        Box::pin(self.0.table_info(tid))
    }

    fn find_table<'a>(
        &'a self,
        db: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<TableInfo>, ClusterError>> {
        Box::pin(self.0.find_table(db, name))
    }
}

/// Why a table cannot be synced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    /// Memory table.
    #[error("table {db}.{name} has storage mode {mode}: only SSD and HDD are supported")]
    StorageMode {
        /// Database.
        db: String,
        /// Table.
        name: String,
        /// Its storage mode.
        mode: String,
    },
    /// A partition without exactly one leader.
    #[error("partition {pid} of table {db}.{name} has {leaders} leaders (need exactly one)")]
    Leader {
        /// Database.
        db: String,
        /// Table.
        name: String,
        /// Partition id.
        pid: u32,
        /// How many leaders it has.
        leaders: usize,
    },
    /// No partitions.
    #[error("table {db}.{name} has no partitions in its metadata")]
    NoPartitions {
        /// Database.
        db: String,
        /// Table.
        name: String,
    },
}

/// The leaders of every partition of a table.
pub fn leaders(info: &TableInfo) -> Result<Vec<PartitionLeader>, TableError> {
    let mut out = Vec::new();
    for part in &info.table_partition {
        let found: Vec<&str> = part
            .partition_meta
            .iter()
            .filter(|m| m.is_leader)
            .map(|m| m.endpoint.as_str())
            .collect();
        match found.as_slice() {
            [leader] => out.push(PartitionLeader {
                pid: part.pid,
                tablet_endpoint: (*leader).to_string(),
            }),
            _ => {
                return Err(TableError::Leader {
                    db: info.db().to_string(),
                    name: info.name().to_string(),
                    pid: part.pid,
                    leaders: found.len(),
                });
            }
        }
    }
    if out.is_empty() {
        return Err(TableError::NoPartitions {
            db: info.db().to_string(),
            name: info.name().to_string(),
        });
    }
    Ok(out)
}

/// Checks that the table is a disk table and returns its leaders.
pub fn syncable_leaders(info: &TableInfo) -> Result<Vec<PartitionLeader>, TableError> {
    match info.storage_mode() {
        StorageMode::KSsd | StorageMode::KHdd => leaders(info),
        other => Err(TableError::StorageMode {
            db: info.db().to_string(),
            name: info.name().to_string(),
            mode: other.as_str_name().to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sync_proto::nameserver::{PartitionMeta, TablePartition};

    fn table(mode: StorageMode, leaders_per_part: usize) -> TableInfo {
        let mut info = TableInfo {
            name: Some("t".into()),
            db: Some("d".into()),
            tid: Some(4),
            ..Default::default()
        };
        info.set_storage_mode(mode);
        for pid in 0..2 {
            let mut metas = vec![PartitionMeta {
                endpoint: format!("10.0.0.{pid}:9527"),
                is_leader: false,
                ..Default::default()
            }];
            for l in 0..leaders_per_part {
                metas.push(PartitionMeta {
                    endpoint: format!("10.0.1.{l}:9527"),
                    is_leader: true,
                    ..Default::default()
                });
            }
            info.table_partition.push(TablePartition {
                pid,
                partition_meta: metas,
                ..Default::default()
            });
        }
        info
    }

    #[test]
    fn disk_tables_give_their_leaders() {
        let l = syncable_leaders(&table(StorageMode::KHdd, 1)).unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[1].pid, 1);
        assert_eq!(l[1].tablet_endpoint, "10.0.1.0:9527");
    }

    #[test]
    fn memory_tables_and_leaderless_parts_are_refused() {
        let err = syncable_leaders(&table(StorageMode::KMemory, 1)).unwrap_err();
        assert!(
            err.to_string().contains("only SSD and HDD are supported"),
            "{err}"
        );
        let err = syncable_leaders(&table(StorageMode::KSsd, 0)).unwrap_err();
        assert!(matches!(
            err,
            TableError::Leader {
                pid: 0,
                leaders: 0,
                ..
            }
        ));
        let err = syncable_leaders(&table(StorageMode::KSsd, 2)).unwrap_err();
        assert!(matches!(err, TableError::Leader { leaders: 2, .. }));
    }
}
