//! SyncTool membership and the coordinator election over a
//! [`ZkCoordinator`]'s session (`FAULTS.md` §4).
//!
//! [`ZkCoordinator::join_election`] registers the worker node
//! `/<root>/sync_tool/worker/<endpoint>` (kept across session expiry like a
//! collector's) and runs a campaign task: one ephemeral sequential candidate
//! `/<root>/sync_tool/election/c-<seq>` per session, data = the endpoint; the
//! lowest candidate is the coordinator, every other watches only its
//! predecessor ([`sync_core::election::standing`]). The [`Role`] it publishes:
//! - is `Coordinator` only while the session is connected: on a disconnect
//!   it steps down at once (ZooKeeper may expire the session meanwhile and
//!   elect another), and takes the role back only if the same session
//!   reconnects and its candidate is still the lowest;
//! - after an expiry, the campaign waits for the keeper's new session and
//!   stands again with a new candidate (at the end of the line);
//! - a candidate created in a session whose reply was lost is found again by
//!   its owner (the session id), so one session never has two candidates.

use std::sync::{Arc, Mutex, Weak};

use sync_core::election::{self as standing_rules, CANDIDATE_PREFIX, Standing};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use zookeeper_client::{Client, CreateMode, SessionState};

use super::{Inner, RECONNECT_BACKOFF, ZkCoordinator, children_of, node_options, zk_error};
use crate::coordinator::{ClusterError, SyncTools, paths};

/// What this SyncTool is in the election right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Without a candidate in a connected session (starting, disconnected,
    /// or between an expired session and the next): neither coordinator nor
    /// worker.
    Joining,
    /// The elected coordinator.
    Coordinator,
    /// A worker; another SyncTool is the coordinator.
    Worker,
}

impl Role {
    /// `coordinator`, `worker` or `joining`, as status pages show it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Joining => "joining",
            Role::Coordinator => "coordinator",
            Role::Worker => "worker",
        }
    }
}

/// This SyncTool's part in the election. Dropping it stops the campaign;
/// [`Election::leave`] also withdraws the candidate and the worker node at
/// once, so that the next one takes over without waiting for the session to
/// time out.
pub struct Election {
    role: watch::Receiver<Role>,
    worker: String,
    candidate: Arc<Mutex<Option<String>>>,
    coordinator: ZkCoordinator,
    campaign: JoinHandle<()>,
}

impl Drop for Election {
    fn drop(&mut self) {
        self.campaign.abort();
    }
}

impl Election {
    /// The role now.
    pub fn role(&self) -> Role {
        *self.role.borrow()
    }

    /// A receiver of every change of role.
    pub fn watch(&self) -> watch::Receiver<Role> {
        self.role.clone()
    }

    /// Stops the campaign and deletes this session's candidate and worker
    /// node (a clean stop: the successor is elected at once).
    pub async fn leave(self) {
        self.campaign.abort();
        self.coordinator.unregister(&self.worker);
        let candidate = self.candidate.lock().ok().and_then(|mut c| c.take());
        let client = self.coordinator.inner.client.read().await.clone();
        for path in candidate.iter().chain([&self.worker]) {
            match client.delete(path, None).await {
                Ok(()) | Err(zookeeper_client::Error::NoNode) => {}
                Err(err) => tracing::warn!(path, error = %err, "cannot withdraw from the election"),
            }
        }
    }
}

impl ZkCoordinator {
    /// Registers this SyncTool as a worker and stands for coordinator.
    /// Call after binding `endpoint`'s port (a node an earlier session of
    /// the same endpoint left is replaced, as for collectors).
    pub async fn join_election(&self, endpoint: &str) -> Result<Election, ClusterError> {
        if !endpoint.contains(':') {
            return Err(ClusterError::BadEndpoint(endpoint.to_string()));
        }
        let worker = paths::worker_node(&self.inner.config.root_path, endpoint);
        self.register(worker.clone(), endpoint.as_bytes().to_vec())
            .await?;
        let (tx, rx) = watch::channel(Role::Joining);
        let candidate = Arc::new(Mutex::new(None));
        let campaign = tokio::spawn(campaign(
            Arc::downgrade(&self.inner),
            endpoint.to_string(),
            tx,
            candidate.clone(),
        ));
        Ok(Election {
            role: rx,
            worker,
            candidate,
            coordinator: self.clone(),
            campaign,
        })
    }

    /// The live SyncTools and the elected coordinator's endpoint.
    pub async fn members(&self) -> Result<SyncTools, ClusterError> {
        let root = &self.inner.config.root_path;
        let client = self.inner.client.read().await.clone();
        let workers_dir = paths::workers_dir(root);
        let mut workers = children_of(&client, &workers_dir).await?;
        workers.sort();
        let dir = paths::election_dir(root);
        let mut children = children_of(&client, &dir).await?;
        // The lowest candidate may be gone between the listing and the read:
        // then the next one is the coordinator.
        let coordinator = loop {
            let Some(lowest) = standing_rules::leader(&children).map(str::to_owned) else {
                break None;
            };
            let path = format!("{dir}/{lowest}");
            match client.get_data(&path).await {
                Ok((data, _)) => break Some(String::from_utf8_lossy(&data).into_owned()),
                Err(zookeeper_client::Error::NoNode) => children.retain(|c| *c != lowest),
                Err(err) => return Err(zk_error(&path)(err)),
            }
        };
        Ok(SyncTools {
            workers,
            coordinator,
        })
    }
}

/// Stands in every session until the coordinator is dropped.
async fn campaign(
    inner: Weak<Inner>,
    endpoint: String,
    role: watch::Sender<Role>,
    published: Arc<Mutex<Option<String>>>,
) {
    let mut candidate: Option<Candidate> = None;
    loop {
        let Some((client, config)) = current_session(&inner).await else {
            return;
        };
        let round = Round {
            client: &client,
            options_of: &config,
            endpoint: &endpoint,
            role: &role,
            published: &published,
        };
        match round.run(&mut candidate).await {
            Ok(()) => {}
            Err(err) => {
                role.send_replace(Role::Joining);
                tracing::warn!(error = %err, "the coordinator election cannot proceed yet");
                tokio::time::sleep(RECONNECT_BACKOFF).await;
            }
        }
    }
}

async fn current_session(inner: &Weak<Inner>) -> Option<(Client, super::ZkConfig)> {
    let inner = inner.upgrade()?;
    let client = inner.client.read().await.clone();
    Some((client, inner.config.clone()))
}

/// This SyncTool's candidate node in one session.
struct Candidate {
    session: i64,
    /// The child's name, `c-<seq>`.
    name: String,
    path: String,
}

/// One look at the election: make sure the session has a candidate, publish
/// where it stands, wait for what can change that.
struct Round<'a> {
    client: &'a Client,
    options_of: &'a super::ZkConfig,
    endpoint: &'a str,
    role: &'a watch::Sender<Role>,
    /// The candidate's path for [`Election::leave`], set as soon as it
    /// exists (a round may then wait for long).
    published: &'a Mutex<Option<String>>,
}

impl Round<'_> {
    async fn run(&self, candidate: &mut Option<Candidate>) -> Result<(), ClusterError> {
        let mut states = self.client.state_watcher();
        if states.peek_state() != SessionState::SyncConnected {
            // Disconnected (may come back) or ended (the keeper swaps in a
            // new session): neither role until then.
            self.role.send_replace(Role::Joining);
            let _ = tokio::time::timeout(RECONNECT_BACKOFF, states.changed()).await;
            return Ok(());
        }
        let session = self.client.session_id().0;
        let dir = paths::election_dir(&self.options_of.root_path);
        let mine = match candidate {
            Some(c) if c.session == session => c.name.clone(),
            _ => {
                let made = self.stand(&dir, session).await?;
                let name = made.name.clone();
                self.publish(Some(made.path.clone()));
                *candidate = Some(made);
                name
            }
        };
        let children = self
            .client
            .list_children(&dir)
            .await
            .map_err(zk_error(&dir))?;
        match standing_rules::standing(&children, &mine) {
            Standing::Absent => {
                *candidate = None;
                self.publish(None);
            }
            Standing::Leads => {
                if self.role.send_replace(Role::Coordinator) != Role::Coordinator {
                    tracing::info!(endpoint = self.endpoint, "elected coordinator");
                }
                // Any change of the session's state (disconnect, expiry)
                // ends the round; a reconnect of the same session re-checks.
                states.changed().await;
                self.role.send_replace(Role::Joining);
            }
            Standing::Follows { predecessor } => {
                let path = format!("{dir}/{predecessor}");
                let (stat, watcher) = self
                    .client
                    .check_and_watch_stat(&path)
                    .await
                    .map_err(zk_error(&path))?;
                if stat.is_none() {
                    return Ok(()); // gone already: look again
                }
                if self.role.send_replace(Role::Worker) != Role::Worker {
                    tracing::info!(endpoint = self.endpoint, watching = %predecessor, "a worker");
                }
                tokio::select! {
                    _ = watcher.changed() => {}
                    _ = states.changed() => {
                        self.role.send_replace(Role::Joining);
                    }
                }
            }
        }
        Ok(())
    }

    fn publish(&self, path: Option<String>) {
        if let Ok(mut slot) = self.published.lock() {
            *slot = path;
        }
    }

    /// This session's candidate: the one it already has (a create whose
    /// reply was lost), else a new one.
    async fn stand(&self, dir: &str, session: i64) -> Result<Candidate, ClusterError> {
        let client = self.client;
        client
            .mkdir(dir, &node_options(self.options_of, CreateMode::Persistent))
            .await
            .map_err(zk_error(dir))?;
        let children = client.list_children(dir).await.map_err(zk_error(dir))?;
        let mut own: Vec<(u64, String)> = Vec::new();
        for child in children {
            let Some(seq) = standing_rules::sequence(&child) else {
                continue;
            };
            let path = format!("{dir}/{child}");
            match client.get_data(&path).await {
                Ok((_, stat)) if stat.ephemeral_owner == session => own.push((seq, child)),
                Ok(_) | Err(zookeeper_client::Error::NoNode) => {}
                Err(err) => return Err(zk_error(&path)(err)),
            }
        }
        own.sort();
        let mut own = own.into_iter();
        if let Some((_, name)) = own.next() {
            for (_, extra) in own {
                let path = format!("{dir}/{extra}");
                match client.delete(&path, None).await {
                    Ok(()) | Err(zookeeper_client::Error::NoNode) => {}
                    Err(err) => return Err(zk_error(&path)(err)),
                }
            }
            let path = format!("{dir}/{name}");
            return Ok(Candidate {
                session,
                name,
                path,
            });
        }
        let prefix = format!("{dir}/{CANDIDATE_PREFIX}");
        let options = node_options(self.options_of, CreateMode::EphemeralSequential);
        let (_, seq) = client
            .create(&prefix, self.endpoint.as_bytes(), &options)
            .await
            .map_err(zk_error(&prefix))?;
        let name = format!("{CANDIDATE_PREFIX}{seq}");
        let path = format!("{dir}/{name}");
        tracing::info!(path, "standing for coordinator");
        Ok(Candidate {
            session,
            name,
            path,
        })
    }
}
