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

impl TableState {
    /// Reads a table's state.
    pub fn load(root: &Path, tid: u32) -> Result<Self, EmuError> {
        let path = state_path(root, tid);
        let text = std::fs::read_to_string(&path).map_err(io(&path))?;
        serde_json::from_str(&text).map_err(|e| EmuError::Data {
            path,
            msg: e.to_string(),
        })
    }

    /// Every table under `root`, by tid.
    pub fn load_all(root: &Path) -> Result<Vec<Self>, EmuError> {
        let dir = state_dir(root);
        let mut out = Vec::new();
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(io(&dir)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(io(&dir))?;
            let name = entry.file_name();
            let Some(tid) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".json"))
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            out.push(Self::load(root, tid)?);
        }
        out.sort_by_key(|s| s.table.tid);
        Ok(out)
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
