//! The in-sim coordinator: which collectors are alive (their "ephemeral
//! nodes"), every table's `TableInfo` with its partition leaders, each
//! part's ownership record (owner and epoch: claims bump it, every stage,
//! commit and assignment of the real daemon checks it, as against
//! ZooKeeper's `sync_tool/part` nodes), and where an advertised endpoint
//! lives on the simulated network.
//!
//! A collector advertises an endpoint on its tablet's host (`tab0:7001`), as
//! the supervisor matches collectors to leaders by host; each collector
//! process is still a turmoil host of its own (`c0a`), so it can crash alone.
//! [`SimCluster::route`] maps the one to the other.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

use sync_core::ownership::{self, PartOwner};
use sync_infra::coordinator::{ClusterError, FenceError};
use sync_proto::nameserver::TableInfo;
use synctool::daemon::BoxFuture;
use synctool::daemon::cluster::ClusterView;

#[derive(Default)]
struct Inner {
    live: BTreeSet<String>,
    tables: BTreeMap<u32, TableInfo>,
    routes: HashMap<String, String>,
    /// Each part's ownership record: owner and epoch.
    owners: BTreeMap<(u32, u32), PartOwner>,
}

/// Membership, metadata, ownership records and routes, shared by the hosts
/// and the test loop.
#[derive(Default)]
pub struct SimCluster {
    inner: Mutex<Inner>,
    fencing: bool,
}

impl SimCluster {
    /// An empty cluster; with `fencing`, parts are claimed and writes checked
    /// against the ownership records (as ZooKeeper's).
    pub fn new(fencing: bool) -> Self {
        Self {
            fencing,
            ..Self::default()
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `endpoint` is reached at the turmoil address `target`.
    pub fn add_route(&self, endpoint: &str, target: &str) {
        self.lock()
            .routes
            .insert(endpoint.to_string(), target.to_string());
    }

    /// The turmoil address of an advertised endpoint.
    pub fn route(&self, endpoint: &str) -> Option<String> {
        self.lock().routes.get(endpoint).cloned()
    }

    /// A collector's node appears.
    pub fn register(&self, endpoint: &str) {
        self.lock().live.insert(endpoint.to_string());
    }

    /// A collector's node goes (session expired).
    pub fn unregister(&self, endpoint: &str) {
        self.lock().live.remove(endpoint);
    }

    /// Whether a collector is registered.
    pub fn is_live(&self, endpoint: &str) -> bool {
        self.lock().live.contains(endpoint)
    }

    /// Sets a table's metadata.
    pub fn put_table(&self, info: TableInfo) {
        self.lock().tables.insert(info.tid(), info);
    }

    /// A table's metadata.
    pub fn table(&self, tid: u32) -> Option<TableInfo> {
        self.lock().tables.get(&tid).cloned()
    }
}

impl ClusterView for SimCluster {
    fn live_collectors(&self) -> BoxFuture<'_, Result<Vec<String>, ClusterError>> {
        let live = self.lock().live.iter().cloned().collect();
        Box::pin(async move { Ok(live) })
    }

    fn fences(&self) -> bool {
        self.fencing
    }

    fn claim_part<'a>(
        &'a self,
        tid: u32,
        pid: u32,
        worker: &'a str,
    ) -> BoxFuture<'a, Result<u64, ClusterError>> {
        let mut inner = self.lock();
        let m = ownership::claim((tid, pid), inner.owners.get(&(tid, pid)), worker);
        inner.owners.insert(
            m.part,
            PartOwner {
                worker: m.to,
                epoch: m.epoch,
            },
        );
        let epoch = m.epoch;
        Box::pin(async move { Ok(epoch) })
    }

    fn check_part_epoch<'a>(
        &'a self,
        tid: u32,
        pid: u32,
        worker: &'a str,
        epoch: u64,
    ) -> BoxFuture<'a, Result<(), FenceError>> {
        let result = FenceError::judge(
            (tid, pid),
            self.lock().owners.get(&(tid, pid)),
            worker,
            epoch,
        );
        Box::pin(async move { result })
    }

    fn table_info(&self, tid: u32) -> BoxFuture<'_, Result<Option<TableInfo>, ClusterError>> {
        let info = self.table(tid);
        Box::pin(async move { Ok(info) })
    }

    fn find_table<'a>(
        &'a self,
        db: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<TableInfo>, ClusterError>> {
        let info = self
            .lock()
            .tables
            .values()
            .find(|t| t.db() == db && t.name() == name)
            .cloned();
        Box::pin(async move { Ok(info) })
    }
}
