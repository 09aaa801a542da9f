//! A table on the emulated tablet: all its partitions, the saved progress,
//! and the table's registration with the name server (ZooKeeper or a
//! standalone metadata dir).

use std::path::{Path, PathBuf};

use sync_infra::coordinator::standalone::StandaloneCoordinator;
use sync_infra::coordinator::zk::ZkCoordinator;

use crate::error::EmuError;
use crate::partition::Partition;
use crate::rows::{GeneratedRow, RowGenerator};
use crate::spec::EmulatedTable;
use crate::state::{PartitionState, TableState};

/// An open emulated table.
pub struct TableEmulator {
    root: PathBuf,
    table: EmulatedTable,
    partitions: Vec<Partition>,
}

/// A table with more partitions than this closes each partition's live DB
/// after a bulk step over all of them (each open RocksDB holds several
/// files: ten thousand at once exceed the open-file limit).
const MAX_OPEN_PARTITIONS: usize = 64;

impl TableEmulator {
    /// Creates the table's partition dirs under `root` (or opens them if the
    /// table exists with the same spec).
    pub fn create(root: &Path, table: EmulatedTable) -> Result<Self, EmuError> {
        if table.partitions == 0 {
            return Err(EmuError::Spec(
                "a table needs at least one partition".into(),
            ));
        }
        RowGenerator::new(&table)?;
        let state = match TableState::load(root, table.tid) {
            Ok(state) if state.table == table => state,
            Ok(_) => {
                return Err(EmuError::Spec(format!(
                    "table {} already exists under {} with another spec",
                    table.tid,
                    root.display()
                )));
            }
            Err(EmuError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                TableState {
                    partitions: vec![PartitionState::default(); table.partitions as usize],
                    table,
                }
            }
            Err(e) => return Err(e),
        };
        Self::from_state(root, state)
    }

    /// Opens an existing table.
    pub fn open(root: &Path, tid: u32) -> Result<Self, EmuError> {
        Self::from_state(root, TableState::load(root, tid)?)
    }

    fn from_state(root: &Path, state: TableState) -> Result<Self, EmuError> {
        let partitions = state
            .partitions
            .into_iter()
            .enumerate()
            .map(|(pid, p)| Partition::open(root, &state.table, pid as u32, p))
            .collect::<Result<Vec<_>, _>>()?;
        let emu = TableEmulator {
            root: root.to_path_buf(),
            table: state.table,
            partitions,
        };
        emu.save()?;
        Ok(emu)
    }

    /// Saves the progress of every partition.
    pub fn save(&self) -> Result<(), EmuError> {
        TableState {
            table: self.table.clone(),
            partitions: self.partitions.iter().map(|p| p.state().clone()).collect(),
        }
        .save(&self.root)
    }

    /// The spec.
    pub fn table(&self) -> &EmulatedTable {
        &self.table
    }

    /// Partition `pid`.
    pub fn partition(&mut self, pid: u32) -> Result<&mut Partition, EmuError> {
        self.partitions
            .get_mut(pid as usize)
            .ok_or_else(|| EmuError::Spec(format!("no partition {pid}")))
    }

    /// Puts `rows` more generated rows into every partition.
    pub fn append_all(&mut self, rows: u64) -> Result<(), EmuError> {
        let many = self.partitions.len() > MAX_OPEN_PARTITIONS;
        for p in &mut self.partitions {
            p.append_discard(rows)?;
            if many {
                p.close()?;
            }
        }
        self.save()
    }

    /// Puts `rows` more generated rows into partition `pid` and returns them.
    pub fn append(&mut self, pid: u32, rows: u64) -> Result<Vec<GeneratedRow>, EmuError> {
        let out = self.partition(pid)?.append(rows)?;
        self.save()?;
        Ok(out)
    }

    /// Snapshots every partition (same name for all).
    pub fn snapshot_all(&mut self, name: Option<String>) -> Result<(), EmuError> {
        let many = self.partitions.len() > MAX_OPEN_PARTITIONS;
        for p in &mut self.partitions {
            p.make_snapshot(name.clone())?;
            if many {
                p.close()?;
            }
        }
        self.save()
    }

    /// Deletes old binlog files of every partition; returns how many.
    pub fn gc_binlog_all(&mut self) -> Result<usize, EmuError> {
        let mut n = 0;
        for p in &mut self.partitions {
            n += p.gc_binlog()?.len();
        }
        self.save()?;
        Ok(n)
    }

    /// Writes the `TableInfo` (leader `endpoint`) to a standalone metadata dir.
    pub fn register_standalone(&self, metadata_dir: &Path, endpoint: &str) -> Result<(), EmuError> {
        let info = self.table.table_info(endpoint)?;
        StandaloneCoordinator::put_table_info(metadata_dir, &info)
            .map_err(|e| EmuError::Spec(format!("standalone metadata: {e}")))
    }

    /// Writes the `TableInfo` (leader `endpoint`) to ZooKeeper.
    pub async fn register_zk(&self, zk: &ZkCoordinator, endpoint: &str) -> Result<(), EmuError> {
        let info = self.table.table_info(endpoint)?;
        zk.put_table_info(&info)
            .await
            .map_err(|e| EmuError::Spec(format!("zookeeper: {e}")))
    }
}
