//! The [`Coordinator`] over a real ZooKeeper (`zookeeper-client`), with
//! OpenMLDB's paths.
//!
//! Registration (`register_collector`) creates the persistent parents and the
//! ephemeral node `/<root>/sync_tool/collector/<endpoint>` whose data is the
//! endpoint, as OpenMLDB's collector does, with two differences:
//! - a node left by this endpoint's previous session (a restart within the
//!   session timeout) is replaced instead of failing the start. This is safe
//!   because the caller registers only after binding the endpoint's port, so no
//!   other live process can own the same endpoint;
//! - after the session expires, a keeper task opens a new session and creates
//!   every registered node again; nothing is lost and the daemon never exits.
//!
//! SyncTools register and elect their coordinator in [`election`]; the
//! partition tasks' owners and the epoch check that fences commits are in
//! [`owners`].
//!
//! With a `zk_cert`, the session authenticates with the `digest` scheme and
//! nodes are created readable and writable by their creator only, as OpenMLDB
//! does; without one they are open.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use prost::Message;
use sync_proto::nameserver::TableInfo;
use tokio::sync::RwLock;
use tokio::task::JoinHandle;
use zookeeper_client::{Acls, Client, CreateMode, CreateOptions, SessionState};

use super::{ClusterError, Coordinator, paths};

mod election;
mod owners;

pub use super::FenceError;
pub use election::{Election, Role};
pub use owners::OwnerRecord;

/// How to reach ZooKeeper.
#[derive(Debug, Clone)]
pub struct ZkConfig {
    /// `host:port[,host:port...]`.
    pub cluster: String,
    /// OpenMLDB's root path, e.g. `/openmldb`.
    pub root_path: String,
    pub session_timeout: Duration,
    /// `user:password` for the digest scheme; empty = no authentication.
    pub cert: String,
}

/// A ZooKeeper-backed coordinator. Clones share one session.
#[derive(Clone)]
pub struct ZkCoordinator {
    inner: Arc<Inner>,
}

struct Inner {
    config: ZkConfig,
    client: RwLock<Client>,
    /// (path, data) of the ephemeral nodes to keep alive across sessions.
    registrations: Mutex<Vec<(String, Vec<u8>)>>,
    keeper: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Ok(mut keeper) = self.keeper.lock()
            && let Some(task) = keeper.take()
        {
            task.abort();
        }
    }
}

/// Delay between attempts to open a new session after expiry.
const RECONNECT_BACKOFF: Duration = Duration::from_millis(500);

impl ZkCoordinator {
    /// Opens a session and starts the keeper that renews it after expiry.
    pub async fn connect(config: ZkConfig) -> Result<Self, ClusterError> {
        let client = open_session(&config).await?;
        let inner = Arc::new(Inner {
            config,
            client: RwLock::new(client),
            registrations: Mutex::new(Vec::new()),
            keeper: Mutex::new(None),
        });
        let keeper = tokio::spawn(keep_session(Arc::downgrade(&inner)));
        if let Ok(mut slot) = inner.keeper.lock() {
            *slot = Some(keeper);
        }
        Ok(Self { inner })
    }

    /// The current session's id (changes after an expiry).
    pub async fn session_id(&self) -> i64 {
        self.inner.client.read().await.session_id().0
    }

    /// The current session's credentials (tests use them to force an expiry).
    pub async fn session(&self) -> zookeeper_client::SessionInfo {
        self.inner.client.read().await.session().clone()
    }

    /// Registers this DataCollector; the node is kept across session expiry.
    pub async fn register_collector(&self, endpoint: &str) -> Result<(), ClusterError> {
        if !endpoint.contains(':') {
            return Err(ClusterError::BadEndpoint(endpoint.to_string()));
        }
        let path = paths::collector_node(&self.inner.config.root_path, endpoint);
        self.register(path, endpoint.as_bytes().to_vec()).await
    }

    /// Creates the ephemeral node `path` and keeps it across session expiry.
    async fn register(&self, path: String, data: Vec<u8>) -> Result<(), ClusterError> {
        {
            let client = self.inner.client.read().await;
            create_ephemeral(&client, &self.inner.config, &path, &data).await?;
        }
        if let Ok(mut registrations) = self.inner.registrations.lock()
            && !registrations.iter().any(|(p, _)| p == &path)
        {
            registrations.push((path, data));
        }
        Ok(())
    }

    /// Stops keeping the node `path` across sessions (it stays until deleted
    /// or its session ends).
    fn unregister(&self, path: &str) {
        if let Ok(mut registrations) = self.inner.registrations.lock() {
            registrations.retain(|(p, _)| p != path);
        }
    }

    /// Writes a table's `TableInfo` where the name server keeps it (used by
    /// the tablet emulator, which plays the name server in tests and demos).
    pub async fn put_table_info(&self, info: &TableInfo) -> Result<(), ClusterError> {
        let path = paths::table_node(&self.inner.config.root_path, info.tid());
        let client = self.inner.client.read().await;
        let dir = paths::tables_dir(&self.inner.config.root_path);
        let options = node_options(&self.inner.config, CreateMode::Persistent);
        client.mkdir(&dir, &options).await.map_err(zk_error(&dir))?;
        let bytes = info.encode_to_vec();
        match client.create(&path, &bytes, &options).await {
            Ok(_) => Ok(()),
            Err(zookeeper_client::Error::NodeExists) => client
                .set_data(&path, &bytes, None)
                .await
                .map(|_| ())
                .map_err(zk_error(&path)),
            Err(err) => Err(zk_error(&path)(err)),
        }
    }

    /// Removes a table's `TableInfo` (a dropped table).
    pub async fn delete_table_info(&self, tid: u32) -> Result<(), ClusterError> {
        let path = paths::table_node(&self.inner.config.root_path, tid);
        let client = self.inner.client.read().await;
        match client.delete(&path, None).await {
            Ok(()) | Err(zookeeper_client::Error::NoNode) => Ok(()),
            Err(err) => Err(zk_error(&path)(err)),
        }
    }
}

impl Coordinator for ZkCoordinator {
    async fn live_collectors(&self) -> Result<Vec<String>, ClusterError> {
        let dir = paths::collectors_dir(&self.inner.config.root_path);
        let client = self.inner.client.read().await;
        let mut children = children_of(&client, &dir).await?;
        children.sort();
        Ok(children)
    }

    async fn sync_tools(&self) -> Result<Option<super::SyncTools>, ClusterError> {
        self.members().await.map(Some)
    }

    fn fences(&self) -> bool {
        true
    }

    async fn owners(&self) -> Result<super::Owners, ClusterError> {
        Ok(self
            .part_owners()
            .await?
            .into_iter()
            .map(|(part, record)| (part, record.owner))
            .collect())
    }

    async fn claim_part(&self, tid: u32, pid: u32, worker: &str) -> Result<u64, ClusterError> {
        ZkCoordinator::claim_part(self, (tid, pid), worker).await
    }

    async fn check_part_epoch(
        &self,
        tid: u32,
        pid: u32,
        worker: &str,
        epoch: u64,
    ) -> Result<(), super::FenceError> {
        self.check_epoch((tid, pid), worker, epoch).await
    }

    async fn table_infos(&self) -> Result<Vec<TableInfo>, ClusterError> {
        let dir = paths::tables_dir(&self.inner.config.root_path);
        let children = {
            let client = self.inner.client.read().await;
            children_of(&client, &dir).await?
        };
        let mut tables = Vec::with_capacity(children.len());
        for child in children {
            // Non-numeric children are not tables; a table dropped meanwhile is skipped.
            let Ok(tid) = child.parse::<u32>() else {
                continue;
            };
            if let Some(info) = self.table_info(tid).await? {
                tables.push(info);
            }
        }
        tables.sort_by_key(|t| t.tid());
        Ok(tables)
    }

    async fn table_info(&self, tid: u32) -> Result<Option<TableInfo>, ClusterError> {
        let path = paths::table_node(&self.inner.config.root_path, tid);
        let client = self.inner.client.read().await;
        match client.get_data(&path).await {
            Ok((bytes, _)) => TableInfo::decode(bytes.as_slice())
                .map(Some)
                .map_err(|source| ClusterError::BadTableInfo { path, source }),
            Err(zookeeper_client::Error::NoNode) => Ok(None),
            Err(err) => Err(zk_error(&path)(err)),
        }
    }
}

async fn open_session(config: &ZkConfig) -> Result<Client, ClusterError> {
    let mut connector = Client::connector().with_session_timeout(config.session_timeout);
    if !config.cert.is_empty() {
        connector = connector.with_auth("digest", config.cert.as_bytes());
    }
    connector
        .connect(&config.cluster)
        .await
        .map_err(|source| ClusterError::Connect {
            cluster: config.cluster.clone(),
            source,
        })
}

fn node_options(config: &ZkConfig, mode: CreateMode) -> CreateOptions<'static> {
    let acls = if config.cert.is_empty() {
        Acls::anyone_all()
    } else {
        Acls::creator_all()
    };
    mode.with_acls(acls)
}

/// Creates the parents and the ephemeral node, replacing a node that an
/// earlier session of this endpoint left behind.
async fn create_ephemeral(
    client: &Client,
    config: &ZkConfig,
    path: &str,
    data: &[u8],
) -> Result<(), ClusterError> {
    if let Some((parent, _)) = path.rsplit_once('/')
        && !parent.is_empty()
    {
        client
            .mkdir(parent, &node_options(config, CreateMode::Persistent))
            .await
            .map_err(zk_error(parent))?;
    }
    let options = node_options(config, CreateMode::Ephemeral);
    match client.create(path, data, &options).await {
        Ok(_) => Ok(()),
        Err(zookeeper_client::Error::NodeExists) => {
            let (_, stat) = match client.get_data(path).await {
                Ok(found) => found,
                // Expired between the two calls: create again.
                Err(zookeeper_client::Error::NoNode) => {
                    return client
                        .create(path, data, &options)
                        .await
                        .map(|_| ())
                        .map_err(zk_error(path));
                }
                Err(err) => return Err(zk_error(path)(err)),
            };
            if stat.ephemeral_owner == client.session_id().0 {
                return Ok(());
            }
            tracing::warn!(
                path,
                stale_owner = format_args!("{:#x}", stat.ephemeral_owner),
                "replacing a node left by an earlier session of this endpoint"
            );
            match client.delete(path, Some(stat.version)).await {
                Ok(()) | Err(zookeeper_client::Error::NoNode) => {}
                Err(err) => return Err(zk_error(path)(err)),
            }
            client
                .create(path, data, &options)
                .await
                .map(|_| ())
                .map_err(zk_error(path))
        }
        Err(err) => Err(zk_error(path)(err)),
    }
}

/// Watches the session; after it expires (or closes), opens a new one and
/// recreates the registered ephemeral nodes. Ends when the coordinator is dropped.
async fn keep_session(inner: std::sync::Weak<Inner>) {
    loop {
        let mut watcher = match inner.upgrade() {
            Some(inner) => inner.client.read().await.state_watcher(),
            None => return,
        };
        loop {
            let state = watcher.changed().await;
            if matches!(
                state,
                SessionState::Expired | SessionState::Closed | SessionState::AuthFailed
            ) {
                tracing::warn!(?state, "ZooKeeper session ended; opening a new one");
                break;
            }
        }
        loop {
            let Some(inner) = inner.upgrade() else { return };
            match renew_session(&inner).await {
                Ok(()) => break,
                Err(err) => {
                    tracing::warn!(error = %err, "cannot renew the ZooKeeper session yet");
                    drop(inner);
                    tokio::time::sleep(RECONNECT_BACKOFF).await;
                }
            }
        }
    }
}

async fn renew_session(inner: &Inner) -> Result<(), ClusterError> {
    let client = open_session(&inner.config).await?;
    let registrations = inner
        .registrations
        .lock()
        .map(|r| r.clone())
        .unwrap_or_default();
    for (path, data) in &registrations {
        create_ephemeral(&client, &inner.config, path, data).await?;
        tracing::info!(path, "re-registered after session renewal");
    }
    *inner.client.write().await = client;
    Ok(())
}

/// The children of `path`; none when the node does not exist (nothing was
/// ever registered under it).
async fn children_of(client: &Client, path: &str) -> Result<Vec<String>, ClusterError> {
    match client.list_children(path).await {
        Ok(children) => Ok(children),
        Err(zookeeper_client::Error::NoNode) => Ok(Vec::new()),
        Err(err) => Err(zk_error(path)(err)),
    }
}

fn zk_error(path: &str) -> impl Fn(zookeeper_client::Error) -> ClusterError + '_ {
    move |source| ClusterError::Zk {
        path: path.to_string(),
        source,
    }
}
