//! One emulated partition `<root>/<tid>_<pid>/`: the live RocksDB in `data/`,
//! the binlog in `binlog/%08d.log`, snapshots in `snapshot/<name>/` with
//! `snapshot/MANIFEST`, written as a tablet writes them.
//!
//! Binlog: every put/delete is one `LogEntry` (log_index from 1, +1 per
//! entry). A file is closed with an EOF record and the next one started when
//! it has grown past `binlog_max_bytes`. As on a tablet, a partition opened
//! again starts a new file at its first write (the old one has no EOF).
//! Records are flushed to the OS at the end of each batch ([`Partition::flush`]).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use rocksdb::{DB, WriteBatch, checkpoint::Checkpoint};
use sync_core::binlog::{LogWriter, binlog_file_name};
use sync_core::manifest::{format_manifest, parse_manifest};
use sync_core::snapshot_key::{IndexLayout, dimension_key, index_ts};
use sync_proto::api::{Dimension, LogEntry, Manifest, MethodType};

use crate::error::{EmuError, io, rdb};
use crate::rocks::open_live;
use crate::rows::{GeneratedRow, RowGenerator};
use crate::snapshot_name::snapshot_name_now;
use crate::spec::EmulatedTable;
use crate::state::PartitionState;

/// `<root>/<tid>_<pid>`.
pub fn partition_dir(root: &Path, tid: u32, pid: u32) -> PathBuf {
    root.join(format!("{tid}_{pid}"))
}

/// An open partition.
pub struct Partition {
    table: EmulatedTable,
    generator: RowGenerator,
    pid: u32,
    dir: PathBuf,
    /// The live DB, open while in use ([`Partition::open_db`]).
    db: Option<DB>,
    state: PartitionState,
    writer: Option<LogWriter<BufWriter<File>>>,
}

impl Partition {
    /// Opens (creating if needed) partition `pid` under `root`.
    pub fn open(
        root: &Path,
        table: &EmulatedTable,
        pid: u32,
        state: PartitionState,
    ) -> Result<Self, EmuError> {
        let dir = partition_dir(root, table.tid, pid);
        for sub in ["data", "snapshot", "binlog"] {
            let path = dir.join(sub);
            std::fs::create_dir_all(&path).map_err(io(&path))?;
        }
        let generator = RowGenerator::new(table)?;
        Ok(Partition {
            table: table.clone(),
            generator,
            pid,
            dir,
            db: None,
            state,
            writer: None,
        })
    }

    /// Opens the live DB if it is not open (it opens at the first write, so
    /// a table of thousands of partitions does not hold thousands of DBs).
    fn open_db(&mut self) -> Result<(), EmuError> {
        if self.db.is_none() {
            self.db = Some(open_live(&self.dir.join("data"), self.generator.layout())?);
        }
        Ok(())
    }

    /// The live DB, opened by [`Partition::open_db`].
    fn live(&self) -> Result<&DB, EmuError> {
        self.db.as_ref().ok_or_else(|| EmuError::Data {
            path: self.dir.join("data"),
            msg: "the live DB is not open".into(),
        })
    }

    /// Closes the live DB (and the binlog writer, flushed); the next write
    /// opens them again.
    pub fn close(&mut self) -> Result<(), EmuError> {
        self.flush()?;
        self.writer = None;
        self.db = None;
        Ok(())
    }

    /// The partition dir.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The partition id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The progress (to be saved by the caller).
    pub fn state(&self) -> &PartitionState {
        &self.state
    }

    /// The last log index written.
    pub fn offset(&self) -> u64 {
        self.state.offset
    }

    /// The row generator.
    pub fn generator(&self) -> &RowGenerator {
        &self.generator
    }

    fn layout(&self) -> &IndexLayout {
        self.generator.layout()
    }

    fn binlog_dir(&self) -> PathBuf {
        self.dir.join("binlog")
    }

    /// Appends one entry to the binlog, rotating first if the current file
    /// is past the size limit.
    fn write_entry(&mut self, entry: &LogEntry) -> Result<(), EmuError> {
        let binlog = self.binlog_dir();
        if let Some(writer) = self.writer.as_mut()
            && writer.position() > self.table.binlog_max_bytes
        {
            writer.add_eof().map_err(io(&binlog))?;
            writer.flush().map_err(io(&binlog))?;
            self.writer = None;
        }
        if self.writer.is_none() {
            let index = self.state.files.last().map_or(0, |(i, _)| i + 1);
            let path = binlog.join(binlog_file_name(index));
            let file = File::options()
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(io(&path))?;
            self.writer = Some(LogWriter::new(BufWriter::with_capacity(1 << 16, file)));
            self.state
                .files
                .push((index, entry.log_index.unwrap_or_default()));
        }
        if let Some(writer) = self.writer.as_mut() {
            writer.add_entry(entry).map_err(io(&binlog))?;
        }
        Ok(())
    }

    /// Flushes buffered binlog records to the file.
    pub fn flush(&mut self) -> Result<(), EmuError> {
        if let Some(writer) = self.writer.as_mut() {
            writer.flush().map_err(io(self.dir.join("binlog")))?;
        }
        Ok(())
    }

    fn cf(&self, inner: usize) -> Result<&rocksdb::ColumnFamily, EmuError> {
        let name = &self.layout().inner_indexes()[inner].cf_name;
        self.live()?.cf_handle(name).ok_or_else(|| EmuError::Data {
            path: self.dir.join("data"),
            msg: format!("column family `{name}` is missing"),
        })
    }

    /// Puts the next `n` generated rows; returns them.
    pub fn append(&mut self, n: u64) -> Result<Vec<GeneratedRow>, EmuError> {
        self.open_db()?;
        let mut rows = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let row = self.generator.row(self.pid, self.state.next_seq)?;
            self.put(&row)?;
            rows.push(row);
        }
        self.flush()?;
        Ok(rows)
    }

    /// Puts the next `n` generated rows without keeping them (bulk loads).
    pub fn append_discard(&mut self, n: u64) -> Result<(), EmuError> {
        self.open_db()?;
        for _ in 0..n {
            let row = self.generator.row(self.pid, self.state.next_seq)?;
            self.put(&row)?;
        }
        self.flush()
    }

    fn put(&mut self, row: &GeneratedRow) -> Result<(), EmuError> {
        let log_index = self.state.offset + 1;
        let value = row.stored_value(self.table.snappy);
        let mut batch = WriteBatch::default();
        let mut dimensions = Vec::new();
        for index in self.layout().indexes() {
            let err = |e: &dyn std::fmt::Display| EmuError::Row(e.to_string());
            let key = dimension_key(index, &row.values).map_err(|e| err(&e))?;
            let ts = index_ts(index, &row.values, row.put_time).map_err(|e| err(&e))?;
            let stored = self.layout().key_layout(index).encode(&key, ts);
            batch.put_cf(self.cf(index.inner)?, stored, &value);
            let key = String::from_utf8(key).map_err(|e| err(&e))?;
            dimensions.push(Dimension {
                key: Some(key),
                idx: Some(index.pos as u32),
            });
        }
        let entry = LogEntry {
            term: Some(self.table.term),
            log_index: Some(log_index),
            pk: dimensions.first().and_then(|d| d.key.clone()),
            value: Some(value),
            ts: Some(row.put_time),
            dimensions,
            method_type: Some(MethodType::KPut as i32),
            ..Default::default()
        };
        self.write_entry(&entry)?;
        self.live()?
            .write(batch)
            .map_err(rdb(self.dir.join("data")))?;
        self.state.offset = log_index;
        self.state.next_seq += 1;
        Ok(())
    }

    /// Deletes every row of key `pk` in index `idx` (a tablet's
    /// `DeleteRange` over the key's ts range `(0, u64::MAX]`) and logs a
    /// `kDelete` entry.
    pub fn delete(&mut self, idx: usize, pk: &str) -> Result<(), EmuError> {
        self.open_db()?;
        let index = self
            .layout()
            .index(idx)
            .ok_or_else(|| EmuError::Spec(format!("no index {idx}")))?
            .clone();
        let layout = self.layout().key_layout(&index);
        let log_index = self.state.offset + 1;
        let entry = LogEntry {
            term: Some(self.table.term),
            log_index: Some(log_index),
            pk: Some(pk.to_string()),
            dimensions: vec![Dimension {
                key: Some(pk.to_string()),
                idx: Some(idx as u32),
            }],
            method_type: Some(MethodType::KDelete as i32),
            ..Default::default()
        };
        self.write_entry(&entry)?;
        self.flush()?;
        let from = layout.encode(pk.as_bytes(), u64::MAX);
        let to = layout.encode(pk.as_bytes(), 0);
        self.live()?
            .delete_range_cf(self.cf(index.inner)?, from, to)
            .map_err(rdb(self.dir.join("data")))?;
        self.state.offset = log_index;
        Ok(())
    }

    /// The current MANIFEST, if a snapshot exists.
    pub fn manifest(&self) -> Result<Option<Manifest>, EmuError> {
        read_manifest(&self.dir.join("snapshot").join("MANIFEST"))
    }

    /// Makes a snapshot as `DiskTableSnapshot::MakeSnapshot` does: read the
    /// offset, checkpoint into `snapshot/<name>.tmp`, rename to
    /// `snapshot/<name>`, write MANIFEST (tmp + fsync + rename), delete the
    /// previous checkpoint. `name` defaults to the current UTC time as
    /// `YYYYMMDDHHMM`.
    pub fn make_snapshot(&mut self, name: Option<String>) -> Result<Manifest, EmuError> {
        self.open_db()?;
        self.flush()?;
        let snapshot = self.dir.join("snapshot");
        let name = name.unwrap_or_else(snapshot_name_now);
        let offset = self.state.offset;
        let cf0 = self.cf(self.layout().index0().inner)?;
        let count = self
            .live()?
            .property_int_value_cf(cf0, "rocksdb.estimate-num-keys")
            .map_err(rdb(self.dir.join("data")))?
            .unwrap_or(0);
        let previous = self.manifest()?;
        let tmp = snapshot.join(format!("{name}.tmp"));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
        }
        Checkpoint::new(self.live()?)
            .and_then(|c| c.create_checkpoint(&tmp))
            .map_err(rdb(&tmp))?;
        let target = snapshot.join(&name);
        let bak = snapshot.join(format!("{name}.bak"));
        if target.exists() {
            std::fs::rename(&target, &bak).map_err(io(&target))?;
        }
        std::fs::rename(&tmp, &target).map_err(io(&target))?;
        let manifest = Manifest {
            offset: Some(offset),
            name: Some(name.clone()),
            count: Some(count),
            term: Some(self.table.term),
        };
        let path = snapshot.join("MANIFEST");
        let tmp_manifest = snapshot.join("MANIFEST.tmp");
        {
            let mut f = File::create(&tmp_manifest).map_err(io(&tmp_manifest))?;
            f.write_all(format_manifest(&manifest).as_bytes())
                .and_then(|()| f.sync_all())
                .map_err(io(&tmp_manifest))?;
        }
        std::fs::rename(&tmp_manifest, &path).map_err(io(&path))?;
        if let Some(old) = previous.and_then(|m| m.name)
            && old != name
        {
            let old_dir = snapshot.join(old);
            if old_dir.exists() {
                std::fs::remove_dir_all(&old_dir).map_err(io(&old_dir))?;
            }
        }
        if bak.exists() {
            std::fs::remove_dir_all(&bak).map_err(io(&bak))?;
        }
        Ok(manifest)
    }

    /// Deletes the binlog files whose entries are all at or below the
    /// snapshot offset (never the newest file); returns their names.
    pub fn gc_binlog(&mut self) -> Result<Vec<String>, EmuError> {
        let Some(offset) = self.manifest()?.and_then(|m| m.offset) else {
            return Ok(Vec::new());
        };
        let mut deleted = Vec::new();
        while self.state.files.len() > 1 {
            let (file, _) = self.state.files[0];
            let next_first = self.state.files[1].1;
            if next_first.saturating_sub(1) > offset {
                break;
            }
            let name = binlog_file_name(file);
            let path = self.binlog_dir().join(&name);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(&path)(e)),
            }
            self.state.files.remove(0);
            deleted.push(name);
        }
        Ok(deleted)
    }
}

/// Reads a MANIFEST; `None` if there is none.
pub fn read_manifest(path: &Path) -> Result<Option<Manifest>, EmuError> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_manifest(&text).map(Some).map_err(|e| EmuError::Data {
            path: path.to_path_buf(),
            msg: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(path)(e)),
    }
}
