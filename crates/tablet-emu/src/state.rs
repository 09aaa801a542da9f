//! What the emulator remembers between runs: the table spec and, per
//! partition, how many rows were put, the last log index and the binlog
//! files. Kept in `<root>/.emulator/<tid>.json` (outside the partition dirs,
//! which hold only what a tablet writes), replaced atomically.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{EmuError, io};
use crate::spec::EmulatedTable;

/// One partition's progress.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionState {
    /// Rows put so far (the next generated row's `seq`).
    pub next_seq: u64,
    /// The last log index written (puts and deletes); 0 = none.
    pub offset: u64,
    /// Binlog files `(file_index, first log_index)`, oldest first.
    pub files: Vec<(u64, u64)>,
}

/// A table and its partitions' progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableState {
    pub table: EmulatedTable,
    pub partitions: Vec<PartitionState>,
}

/// `<root>/.emulator`.
pub fn state_dir(root: &Path) -> PathBuf {
    root.join(".emulator")
}

/// `<root>/.emulator/<tid>.json`.
pub fn state_path(root: &Path, tid: u32) -> PathBuf {
    state_dir(root).join(format!("{tid}.json"))
}

/// The tids of the tables under `root`, in order.
fn table_ids(root: &Path) -> Result<Vec<u32>, EmuError> {
    let dir = state_dir(root);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(&dir)(e)),
    };
    let mut tids = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io(&dir))?;
        let name = entry.file_name();
        if let Some(tid) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".json"))
            .and_then(|n| n.parse::<u32>().ok())
        {
            tids.push(tid);
        }
    }
    tids.sort_unstable();
    Ok(tids)
}

impl TableState {
    /// Reads a table's state.
    pub fn load(root: &Path, tid: u32) -> Result<Self, EmuError> {
        let path = state_path(root, tid);
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        Self::parse(&path, &bytes)
    }

    /// The state in `bytes`, read from `path`.
    fn parse(path: &Path, bytes: &[u8]) -> Result<Self, EmuError> {
        serde_json::from_slice(bytes).map_err(|e| EmuError::Data {
            path: path.to_path_buf(),
            msg: e.to_string(),
        })
    }

    /// Writes the state (tmp file + rename).
    pub fn save(&self, root: &Path) -> Result<(), EmuError> {
        let dir = state_dir(root);
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let path = state_path(root, self.table.tid);
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(self).map_err(|e| EmuError::Data {
            path: path.clone(),
            msg: e.to_string(),
        })?;
        std::fs::write(&tmp, text).map_err(io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io(&path))
    }
}

/// Table states as last parsed, by tid, with their state file's bytes: the
/// state of a table of thousands of partitions is parsed again only when its
/// file changed (the bytes are compared, so a change is never missed). The
/// tablet server answers every `GetTableStatus` from it.
#[derive(Default)]
pub struct StateCache(std::sync::Mutex<std::collections::HashMap<u32, CachedState>>);

type CachedState = (Vec<u8>, std::sync::Arc<TableState>);

impl StateCache {
    /// Table `tid`'s state, `None` if there is no such table.
    pub fn load(
        &self,
        root: &Path,
        tid: u32,
    ) -> Result<Option<std::sync::Arc<TableState>>, EmuError> {
        let path = state_path(root, tid);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&path)(e)),
        };
        let mut cache = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((cached, state)) = cache.get(&tid)
            && *cached == bytes
        {
            return Ok(Some(state.clone()));
        }
        let state = std::sync::Arc::new(TableState::parse(&path, &bytes)?);
        cache.insert(tid, (bytes, state.clone()));
        Ok(Some(state))
    }

    /// Every table under `root`, by tid.
    pub fn load_all(&self, root: &Path) -> Result<Vec<std::sync::Arc<TableState>>, EmuError> {
        let mut out = Vec::new();
        for tid in table_ids(root)? {
            // A table removed since the listing is left out.
            if let Some(state) = self.load(root, tid)? {
                out.push(state);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TableEmulator;

    #[test]
    fn the_cache_parses_again_only_when_the_state_file_changed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut emu = TableEmulator::create(dir.path(), EmulatedTable::demo(7, 2)).expect("create");
        let cache = StateCache::default();
        let first = cache.load(dir.path(), 7).expect("load").expect("table 7");
        let again = cache.load(dir.path(), 7).expect("load").expect("table 7");
        assert!(
            std::sync::Arc::ptr_eq(&first, &again),
            "unchanged: not parsed again"
        );
        emu.append_all(3).expect("append");
        let after = cache.load(dir.path(), 7).expect("load").expect("table 7");
        assert_eq!(after.partitions[0].next_seq, 3, "the put is seen at once");
        assert_eq!(first.partitions[0].next_seq, 0);
        assert!(cache.load(dir.path(), 8).expect("load").is_none());
        assert_eq!(cache.load_all(dir.path()).expect("all").len(), 1);
    }
}
