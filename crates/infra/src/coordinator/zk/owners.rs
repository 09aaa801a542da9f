//! Partition-task ownership records in ZooKeeper, and the epoch check that
//! fences commits (`FAULTS.md` §4).
//!
//! One persistent node per partition task, `/<root>/sync_tool/part/<tid>_<pid>`,
//! holds a [`PartOwner`] (the owning worker and its epoch). The coordinator
//! changes owners only with a compare-and-set on the node's version
//! ([`ZkCoordinator::move_part`]), so a coordinator acting on a stale view
//! (two believing they lead) fails instead of overwriting a newer decision.
//! A worker checks its epoch before every commit
//! ([`ZkCoordinator::check_epoch`]): after a `sync`, so the read is not older
//! than the last move, and a stale epoch is refused.

use std::collections::BTreeMap;

use sync_core::ownership::{Move, PartKey, PartOwner};

use super::{ZkCoordinator, children_of, node_options, zk_error};
use crate::coordinator::{ClusterError, FenceError, paths};

/// A partition task's record and the version a move must name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerRecord {
    /// What the record says.
    pub owner: PartOwner,
    /// The node's version (for the compare-and-set).
    pub version: i32,
}

impl ZkCoordinator {
    /// Every partition task's ownership record.
    pub async fn part_owners(&self) -> Result<BTreeMap<PartKey, OwnerRecord>, ClusterError> {
        let dir = paths::parts_dir(&self.inner.config.root_path);
        let client = self.inner.client.read().await.clone();
        let children = children_of(&client, &dir).await?;
        let mut records = BTreeMap::new();
        for child in children {
            let Some(part) = paths::parse_part_name(&child) else {
                continue; // not a record
            };
            if let Some(record) = self.part_owner(part).await? {
                records.insert(part, record);
            }
        }
        Ok(records)
    }

    /// One partition task's record; `None` without one.
    pub async fn part_owner(&self, part: PartKey) -> Result<Option<OwnerRecord>, ClusterError> {
        let path = paths::part_node(&self.inner.config.root_path, part.0, part.1);
        let client = self.inner.client.read().await.clone();
        match client.get_data(&path).await {
            Ok((data, stat)) => PartOwner::from_bytes(&data)
                .map(|owner| {
                    Some(OwnerRecord {
                        owner,
                        version: stat.version,
                    })
                })
                .map_err(|source| ClusterError::BadRecord { path, source }),
            Err(zookeeper_client::Error::NoNode) => Ok(None),
            Err(err) => Err(zk_error(&path)(err)),
        }
    }

    /// Makes `m` with a compare-and-set: `expected` is the version the move
    /// was planned from (`None`: there was no record). Returns the new
    /// version; [`ClusterError::Stale`] when the record changed meanwhile.
    pub async fn move_part(&self, m: &Move, expected: Option<i32>) -> Result<i32, ClusterError> {
        let root = &self.inner.config.root_path;
        let path = paths::part_node(root, m.part.0, m.part.1);
        let data = PartOwner {
            worker: m.to.clone(),
            epoch: m.epoch,
        }
        .to_bytes();
        let client = self.inner.client.read().await.clone();
        let stale = || ClusterError::Stale { path: path.clone() };
        match expected {
            None => {
                let dir = paths::parts_dir(root);
                let options =
                    node_options(&self.inner.config, zookeeper_client::CreateMode::Persistent);
                client.mkdir(&dir, &options).await.map_err(zk_error(&dir))?;
                match client.create(&path, &data, &options).await {
                    Ok((stat, _)) => Ok(stat.version),
                    Err(zookeeper_client::Error::NodeExists) => Err(stale()),
                    Err(err) => Err(zk_error(&path)(err)),
                }
            }
            Some(version) => match client.set_data(&path, &data, Some(version)).await {
                Ok(stat) => Ok(stat.version),
                Err(zookeeper_client::Error::BadVersion | zookeeper_client::Error::NoNode) => {
                    Err(stale())
                }
                Err(err) => Err(zk_error(&path)(err)),
            },
        }
    }

    /// Takes `part` for `worker` at the next epoch (1 without a record):
    /// read, then a compare-and-set, again if another claim or move came
    /// between. Returns the new epoch.
    pub async fn claim_part(&self, part: PartKey, worker: &str) -> Result<u64, ClusterError> {
        loop {
            let record = self.part_owner(part).await?;
            let m = sync_core::ownership::claim(part, record.as_ref().map(|r| &r.owner), worker);
            match self.move_part(&m, record.map(|r| r.version)).await {
                Ok(_) => return Ok(m.epoch),
                Err(ClusterError::Stale { .. }) => continue,
                Err(err) => return Err(err),
            }
        }
    }

    /// Removes a partition task's record (its task was deleted).
    pub async fn remove_part(&self, part: PartKey) -> Result<(), ClusterError> {
        let path = paths::part_node(&self.inner.config.root_path, part.0, part.1);
        let client = self.inner.client.read().await.clone();
        match client.delete(&path, None).await {
            Ok(()) | Err(zookeeper_client::Error::NoNode) => Ok(()),
            Err(err) => Err(zk_error(&path)(err)),
        }
    }

    /// Whether `worker` may commit `part` with `epoch`: the record, read
    /// after a `sync` with the leader, must name both.
    pub async fn check_epoch(
        &self,
        part: PartKey,
        worker: &str,
        epoch: u64,
    ) -> Result<(), FenceError> {
        let path = paths::part_node(&self.inner.config.root_path, part.0, part.1);
        {
            let client = self.inner.client.read().await.clone();
            client.sync(&path).await.map_err(zk_error(&path))?;
        }
        let record = self.part_owner(part).await?;
        FenceError::judge(part, record.as_ref().map(|r| &r.owner), worker, epoch)
    }
}
