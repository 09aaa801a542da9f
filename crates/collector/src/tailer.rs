//! Tails a partition's hard-linked binlog: yields `LogEntry`s in `log_index`
//! order from a starting index, across file rotation, and reports when it has
//! caught up with what the tablet has written so far.
//!
//! The tailer keeps its file and byte position between calls, so each byte is
//! read once (OpenMLDB's collector re-reads the current file from byte 0 for
//! every pack). Choosing the first file uses the exact rule of
//! [`LogParts::file_for`] (the newest file whose first index is ≤ the wanted
//! index). At the end of a file:
//! - an EOF record, or a newer file that exists while this one has no more
//!   bytes (the tablet restarted without closing it), moves to the next file;
//!   a torn record at the end of such a file is logged and skipped past, as
//!   the tablet itself does after a crash;
//! - otherwise the tailer has caught up: the writer may still be appending,
//!   and the next call reads on from the same byte.
//!
//! New files are seen after [`BinlogTailer::refresh`], which indexes every
//! file whose first record is readable (a rescan on every call, unlike
//! OpenMLDB, which indexes new files only when another one appears).
//! Corruption inside the data is an error naming the file and byte offset;
//! nothing is skipped silently: log indexes follow each other (+1 per entry),
//! so an entry after a hole (files the tablet deleted before they were
//! linked) is [`TailError::Missing`], never a silent jump.

use std::path::PathBuf;

use sync_core::binlog::{
    BinlogError, EntryEvent, LogParts, LogReader, ReadOptions, Tail, binlog_file_name,
    parse_binlog_file_name,
};
use sync_core::proto::api::LogEntry;
use sync_infra::store::{LocalStore, StoreError};

/// Bytes read from a binlog file per read call.
const READ_CHUNK: usize = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum TailError {
    #[error("binlog {path} is corrupt at byte {offset}: {source}")]
    Corrupt {
        path: PathBuf,
        offset: u64,
        source: BinlogError,
    },
    #[error(
        "binlog from log index {needed} is needed but the oldest linked file starts at {first_available}"
    )]
    Gone { needed: u64, first_available: u64 },
    #[error(
        "binlog entries {needed}..={last_missing} are missing: the next entry, in {path}, has log index {found}",
        found = last_missing + 1
    )]
    Missing {
        path: PathBuf,
        needed: u64,
        last_missing: u64,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An entry read by [`BinlogTailer::next`] and where it lies.
#[derive(Debug, Clone, PartialEq)]
pub struct TailedEntry {
    pub entry: LogEntry,
    pub file_index: u64,
    /// Byte offsets of the record in its file.
    pub start: u64,
    pub end: u64,
}

struct Cursor {
    file_index: u64,
    reader: LogReader,
    /// Bytes of the file fed to the reader so far.
    fed: u64,
}

/// Reads one partition's binlog directory in `log_index` order.
pub struct BinlogTailer {
    dir: PathBuf,
    options: ReadOptions,
    parts: LogParts,
    cursor: Option<Cursor>,
    next_index: u64,
    chunk: Vec<u8>,
}

impl BinlogTailer {
    /// A tailer that yields entries with `log_index >= from_index` from `dir`.
    pub fn new(dir: PathBuf, from_index: u64, verify_crc: bool) -> Self {
        Self {
            dir,
            options: ReadOptions { verify_crc },
            parts: LogParts::new(),
            cursor: None,
            next_index: from_index,
            chunk: vec![0; READ_CHUNK],
        }
    }

    /// The next `log_index` this tailer will yield.
    pub fn next_index(&self) -> u64 {
        self.next_index
    }

    /// The indexed files (file index, first log index), oldest first.
    pub fn parts(&self) -> &LogParts {
        &self.parts
    }

    /// The oldest log index still readable, if any file is indexed.
    pub fn first_available(&self) -> Option<u64> {
        self.parts.oldest().map(|p| p.first_log_index)
    }

    /// Indexes files that appeared (or whose first record became readable)
    /// and forgets files that are gone, including one that goes between the
    /// listing and the read of its first record (the keeper releasing it).
    pub fn refresh<S: LocalStore>(&mut self, store: &S) -> Result<(), TailError> {
        let names = match store.list_files(&self.dir) {
            Ok(names) => names,
            Err(StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                Vec::new()
            }
            Err(err) => return Err(err.into()),
        };
        let present: Vec<u64> = names
            .iter()
            .filter_map(|n| parse_binlog_file_name(n))
            .collect();
        let known: Vec<u64> = self.parts.iter().map(|p| p.file_index).collect();
        for file_index in known {
            if !present.contains(&file_index) {
                self.parts.remove(file_index);
            }
        }
        for file_index in present {
            if self.parts.first_log_index(file_index).is_some() {
                continue;
            }
            match self.first_index_of(store, file_index) {
                Ok(Some(first)) => {
                    self.parts.insert(file_index, first);
                }
                Ok(None) => {}
                // Released (or deleted by the tablet) since it was listed:
                // it is not there to index, as if listed a moment later.
                Err(TailError::Store(StoreError::Io { source, .. }))
                    if source.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => return Err(err),
            }
        }
        Ok(())
    }

    /// The next entry at or after the wanted index; `None` once everything
    /// written so far has been read (caught up).
    pub fn next<S: LocalStore>(&mut self, store: &S) -> Result<Option<TailedEntry>, TailError> {
        loop {
            let Some(cursor) = self.cursor.as_mut() else {
                match self.open_first_file()? {
                    true => continue,
                    false => return Ok(None),
                }
            };
            let path = self.dir.join(binlog_file_name(cursor.file_index));
            let event = cursor
                .reader
                .next_entry()
                .map_err(|source| TailError::Corrupt {
                    offset: source.offset(),
                    path: path.clone(),
                    source,
                })?;
            match event {
                Some(EntryEvent::Entry { entry, start, end }) => {
                    if entry.log_index() < self.next_index {
                        continue;
                    }
                    if entry.log_index() > self.next_index {
                        return Err(TailError::Missing {
                            path,
                            needed: self.next_index,
                            last_missing: entry.log_index() - 1,
                        });
                    }
                    self.next_index = entry.log_index() + 1;
                    return Ok(Some(TailedEntry {
                        entry,
                        file_index: cursor.file_index,
                        start,
                        end,
                    }));
                }
                Some(EntryEvent::Eof { .. }) => {
                    if !self.move_to_next_file() {
                        return Ok(None);
                    }
                }
                None => {
                    let read = store.read_at(&path, cursor.fed, &mut self.chunk)?;
                    if read > 0 {
                        cursor.reader.feed(&self.chunk[..read]);
                        cursor.fed += read as u64;
                        continue;
                    }
                    if self.parts.next_after(cursor.file_index).is_none() {
                        return Ok(None);
                    }
                    if let Some(Tail::Incomplete { offset, .. }) = cursor.reader.tail() {
                        tracing::warn!(
                            file = %path.display(),
                            offset,
                            "binlog file ends in a torn record and a newer file exists; continuing with the newer file"
                        );
                    }
                    self.move_to_next_file();
                }
            }
        }
    }

    /// Opens the file holding `next_index`; false when there is nothing to read yet.
    fn open_first_file(&mut self) -> Result<bool, TailError> {
        let Some(oldest) = self.parts.oldest() else {
            return Ok(false);
        };
        let Some(file_index) = self.parts.file_for(self.next_index) else {
            return Err(TailError::Gone {
                needed: self.next_index,
                first_available: oldest.first_log_index,
            });
        };
        self.open(file_index);
        Ok(true)
    }

    /// Moves the cursor to the next indexed file; false if there is none yet
    /// (the cursor then stays, to be moved once the next file is indexed).
    fn move_to_next_file(&mut self) -> bool {
        let Some(cursor) = &self.cursor else {
            return false;
        };
        match self.parts.next_after(cursor.file_index) {
            Some(next) => {
                self.open(next.file_index);
                true
            }
            None => false,
        }
    }

    fn open(&mut self, file_index: u64) {
        self.cursor = Some(Cursor {
            file_index,
            reader: LogReader::new(0, self.options),
            fed: 0,
        });
    }

    /// The first record's log index, or `None` while it is not fully written.
    fn first_index_of<S: LocalStore>(
        &mut self,
        store: &S,
        file_index: u64,
    ) -> Result<Option<u64>, TailError> {
        let path = self.dir.join(binlog_file_name(file_index));
        let mut reader = LogReader::new(0, self.options);
        let mut fed = 0u64;
        loop {
            match reader.next_entry() {
                Ok(Some(EntryEvent::Entry { entry, .. })) => return Ok(Some(entry.log_index())),
                Ok(Some(EntryEvent::Eof { .. })) => return Ok(None),
                Ok(None) => {}
                Err(source) => {
                    return Err(TailError::Corrupt {
                        offset: source.offset(),
                        path,
                        source,
                    });
                }
            }
            let read = store.read_at(&path, fed, &mut self.chunk)?;
            if read == 0 {
                return Ok(None);
            }
            reader.feed(&self.chunk[..read]);
            fed += read as u64;
        }
    }
}
