//! The source data: emulated disk tables in the real on-disk format (RocksDB
//! snapshots, binlog files), written by the test loop between simulation
//! steps, on the same filesystem as the collectors' work dirs (hard links).
//!
//! Rows come from the emulator's deterministic generator, so the expected
//! output is `generator.row(pid, seq)` for every seq put. The tablet faults
//! live here too: a new snapshot, binlog GC, and a leader move (the table's
//! files are copied to the other tablet, which leads and takes the writes
//! from then on; a new binlog file starts there, as on a new leader).

use std::path::{Path, PathBuf};

use sync_core::binlog::binlog_file_name;
use sync_core::task::Mode;
use sync_proto::nameserver::TableInfo;
use tablet_emu::partition::partition_dir;
use tablet_emu::state::state_path;
use tablet_emu::{EmuError, EmulatedTable, RowGenerator, TableEmulator};

/// The port every simulated tablet serves its HTTP+JSON API on.
pub const TABLET_PORT: u16 = 9527;

/// The turmoil host of tablet `i`.
pub fn tablet_host(i: usize) -> String {
    format!("tab{i}")
}

/// The endpoint of tablet `i` (its host is what collectors are matched by).
pub fn tablet_endpoint(i: usize) -> String {
    format!("{}:{TABLET_PORT}", tablet_host(i))
}

/// One source table and its sync task's settings.
pub struct SourceTable {
    /// The table.
    pub spec: EmulatedTable,
    /// The sync mode of its task.
    pub mode: Mode,
    /// Mode 1: rows with an index-0 ts below this are not synced.
    pub start_ts: Option<u64>,
    /// The tablet leading every partition.
    pub leader: usize,
    /// Rows per partition when the task was created (mode 0 syncs at least these).
    pub rows_at_create: Vec<u64>,
    emu: Option<TableEmulator>,
    snapshots: u32,
    generator: RowGenerator,
}

fn emu_err(e: EmuError) -> String {
    format!("tablet emulator: {e}")
}

impl SourceTable {
    /// Creates the table on tablet `leader` (data under `root`) with
    /// `initial` rows per partition, snapshotted after `snapshot_at` rows.
    pub fn create(
        root: &Path,
        spec: EmulatedTable,
        mode: Mode,
        start_ts: Option<u64>,
        leader: usize,
        initial: u64,
        snapshot_at: Option<u64>,
    ) -> Result<Self, String> {
        let generator = RowGenerator::new(&spec).map_err(emu_err)?;
        let emu = TableEmulator::create(root, spec.clone()).map_err(emu_err)?;
        let mut table = SourceTable {
            spec,
            mode,
            start_ts,
            leader,
            rows_at_create: Vec::new(),
            emu: Some(emu),
            snapshots: 0,
            generator,
        };
        match snapshot_at {
            Some(at) if at <= initial => {
                table.append(at)?;
                table.snapshot()?;
                table.append(initial - at)?;
            }
            _ => table.append(initial)?,
        }
        Ok(table)
    }

    fn emu(&mut self) -> Result<&mut TableEmulator, String> {
        self.emu
            .as_mut()
            .ok_or_else(|| "the table is being moved".to_string())
    }

    /// Puts `rows` more rows into every partition.
    pub fn append(&mut self, rows: u64) -> Result<(), String> {
        if rows > 0 {
            self.emu()?.append_all(rows).map_err(emu_err)?;
        }
        Ok(())
    }

    /// Puts `rows` more rows into partition `pid` only.
    pub fn append_to(&mut self, pid: u32, rows: u64) -> Result<(), String> {
        if rows > 0 {
            self.emu()?.append(pid, rows).map_err(emu_err)?;
        }
        Ok(())
    }

    /// A new snapshot of every partition (deterministic name).
    pub fn snapshot(&mut self) -> Result<(), String> {
        self.snapshots += 1;
        let name = format!("2025{:08}", self.snapshots);
        self.emu()?.snapshot_all(Some(name)).map_err(emu_err)
    }

    /// Deletes the binlog files the snapshot covers; returns how many.
    pub fn gc_binlog(&mut self) -> Result<usize, String> {
        self.emu()?.gc_binlog_all().map_err(emu_err)
    }

    /// Every binlog file of the table on the leader (data under `root`):
    /// (pid, path, the first and the last log index it holds).
    pub fn binlog_files(&mut self, root: &Path) -> Result<Vec<(u32, PathBuf, u64, u64)>, String> {
        let (tid, parts) = (self.spec.tid, self.spec.partitions);
        let emu = self.emu()?;
        let mut out = Vec::new();
        for pid in 0..parts {
            let state = emu.partition(pid).map_err(emu_err)?.state().clone();
            let dir = partition_dir(root, tid, pid).join("binlog");
            for (i, (file, first)) in state.files.iter().enumerate() {
                let last = state
                    .files
                    .get(i + 1)
                    .map_or(state.offset, |(_, next_first)| next_first.saturating_sub(1));
                out.push((pid, dir.join(binlog_file_name(*file)), *first, last));
            }
        }
        Ok(out)
    }

    /// Rows put per partition so far.
    pub fn counts(&mut self) -> Result<Vec<u64>, String> {
        let parts = self.spec.partitions;
        let emu = self.emu()?;
        (0..parts)
            .map(|pid| {
                emu.partition(pid)
                    .map(|p| p.state().next_seq)
                    .map_err(emu_err)
            })
            .collect()
    }

    /// The name server's metadata: every partition led by the current leader.
    pub fn table_info(&self) -> Result<TableInfo, String> {
        self.spec
            .table_info(&tablet_endpoint(self.leader))
            .map_err(emu_err)
    }

    /// Moves the leadership to tablet `to` (data under `to_root`), copying the
    /// table's files from `from_root`.
    pub fn move_leader(
        &mut self,
        from_root: &Path,
        to: usize,
        to_root: &Path,
    ) -> Result<(), String> {
        let tid = self.spec.tid;
        // Closing the emulator closes the RocksDB instances and the binlog writers.
        self.emu = None;
        for pid in 0..self.spec.partitions {
            let target = partition_dir(to_root, tid, pid);
            if target.exists() {
                std::fs::remove_dir_all(&target).map_err(|e| io_err(&target, e))?;
            }
            copy_dir(&partition_dir(from_root, tid, pid), &target)?;
        }
        let (from_state, to_state) = (state_path(from_root, tid), state_path(to_root, tid));
        if let Some(dir) = to_state.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
        }
        std::fs::copy(&from_state, &to_state).map_err(|e| io_err(&from_state, e))?;
        self.emu = Some(TableEmulator::open(to_root, tid).map_err(emu_err)?);
        self.leader = to;
        Ok(())
    }

    /// The rows a complete sync of partition `pid` holds, in put order, for
    /// the first `count` puts (mode 1 leaves out rows older than `start_ts`).
    pub fn expected(&self, pid: u32, count: u64) -> Result<Vec<(u64, Vec<u8>)>, String> {
        let mut rows = Vec::with_capacity(count as usize);
        for seq in 0..count {
            let row = self.generator.row(pid, seq).map_err(emu_err)?;
            if self.mode == Mode::IncrementalByTimestamp
                && self.start_ts.is_some_and(|ts| row.key.ts < ts)
            {
                continue;
            }
            rows.push((seq, row.row));
        }
        Ok(rows)
    }

    /// The row generator.
    pub fn generator(&self) -> &RowGenerator {
        &self.generator
    }
}

fn io_err(path: &Path, e: std::io::Error) -> String {
    format!("{}: {e}", path.display())
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| io_err(to, e))?;
    let mut entries: Vec<PathBuf> = std::fs::read_dir(from)
        .map_err(|e| io_err(from, e))?
        .map(|e| e.map(|e| e.path()).map_err(|e| io_err(from, e)))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for path in entries {
        let Some(name) = path.file_name() else {
            continue;
        };
        let target = to.join(name);
        if path.is_dir() {
            copy_dir(&path, &target)?;
        } else {
            std::fs::copy(&path, &target).map_err(|e| io_err(&path, e))?;
        }
    }
    Ok(())
}
