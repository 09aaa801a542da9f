//! Reading a tablet snapshot (a hard-linked RocksDB checkpoint) the way the
//! tablet's traverse iterator does.
//!
//! The checkpoint is opened read-only with every CF it lists, each index CF
//! with `KeyTSComparator`. Rows are read from index 0's CF in comparator order
//! (pk ascending, ts descending), from the start or from a [`RowKey`]
//! position inclusively. In a CF shared by several indexes, entries of other
//! indexes (another ts-column id) are skipped. Index 0's TTL is applied with
//! the caller's `now_ms`. Values are snappy-decompressed for `kSnappy` tables
//! and their row header is checked. Every failure is a [`SnapshotError`] that
//! names the checkpoint path; bad data never panics.

use std::path::{Path, PathBuf};

use rocksdb::{ColumnFamilyDescriptor, DB, DBRawIterator, Options};
use sync_core::point::RowKey;
use sync_core::row::{RowError, decompress, row_header};
use sync_core::snapshot_key::{
    COMPARATOR_NAME, ExpiryChecker, IndexError, IndexLayout, KeyError, KeyLayout, compare,
};
use sync_proto::api::TableMeta;
use sync_proto::types::CompressType;

/// Why a snapshot could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("snapshot {path}: {source}")]
    Index { path: PathBuf, source: IndexError },
    #[error("snapshot {path}: cannot open RocksDB checkpoint: {source}")]
    Open {
        path: PathBuf,
        source: rocksdb::Error,
    },
    #[error("snapshot {path}: column family `{cf}` of index 0 is missing (found {found:?})")]
    MissingCf {
        path: PathBuf,
        cf: String,
        found: Vec<String>,
    },
    #[error("snapshot {path}: bad key {key_hex}: {source}")]
    BadKey {
        path: PathBuf,
        key_hex: String,
        source: KeyError,
    },
    #[error("snapshot {path}: bad row at pk {pk:?} ts {ts}: {source}")]
    BadRow {
        path: PathBuf,
        pk: String,
        ts: u64,
        source: RowError,
    },
    #[error("snapshot {path}: iteration failed: {source}")]
    Iter {
        path: PathBuf,
        source: rocksdb::Error,
    },
}

/// One row of the snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotRow {
    /// Its index-0 position.
    pub key: RowKey,
    /// The row bytes, uncompressed.
    pub row: Vec<u8>,
}

/// An open snapshot.
pub struct SnapshotReader {
    path: PathBuf,
    db: DB,
    cf: String,
    key_layout: KeyLayout,
    ttl: sync_core::snapshot_key::Ttl,
    compress: CompressType,
}

fn index_cf_options() -> Options {
    let mut opts = Options::default();
    opts.set_comparator(COMPARATOR_NAME, compare);
    opts
}

impl SnapshotReader {
    /// Opens the checkpoint in `dir` (the `snapshot/data` hard-link dir) for
    /// the table described by `meta`.
    pub fn open(dir: &Path, meta: &TableMeta) -> Result<Self, SnapshotError> {
        let path = dir.to_path_buf();
        let layout = IndexLayout::from_table_meta(meta).map_err(|source| SnapshotError::Index {
            path: path.clone(),
            source,
        })?;
        let index0 = layout.index0();
        let cf = layout.inner_of(index0).cf_name.clone();
        let opts = Options::default();
        let found = DB::list_cf(&opts, dir).map_err(|source| SnapshotError::Open {
            path: path.clone(),
            source,
        })?;
        if !found.contains(&cf) {
            return Err(SnapshotError::MissingCf { path, cf, found });
        }
        let cfs = found.iter().map(|name| {
            if name == rocksdb::DEFAULT_COLUMN_FAMILY_NAME {
                ColumnFamilyDescriptor::new(name, Options::default())
            } else {
                ColumnFamilyDescriptor::new(name, index_cf_options())
            }
        });
        let db = DB::open_cf_descriptors_read_only(&opts, dir, cfs, false).map_err(|source| {
            SnapshotError::Open {
                path: path.clone(),
                source,
            }
        })?;
        let compress = meta
            .compress_type
            .and_then(|c| CompressType::try_from(c).ok())
            .unwrap_or(CompressType::KNoCompress);
        Ok(SnapshotReader {
            key_layout: layout.key_layout(index0),
            ttl: index0.ttl,
            path,
            db,
            cf,
            compress,
        })
    }

    /// The checkpoint path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Iterates from `from` (inclusive; `None` = the first row), applying the
    /// TTL as of `now_ms`.
    pub fn iter(
        &self,
        from: Option<&RowKey>,
        now_ms: u64,
    ) -> Result<SnapshotIter<'_>, SnapshotError> {
        let cf = self
            .db
            .cf_handle(&self.cf)
            .ok_or_else(|| SnapshotError::MissingCf {
                path: self.path.clone(),
                cf: self.cf.clone(),
                found: Vec::new(),
            })?;
        let checker = self.ttl.checker(now_ms);
        let mut raw = self.db.raw_iterator_cf(cf);
        // With a latest-N TTL the row's rank within its pk matters, so start
        // at the beginning of the pk and skip to the position.
        let counts_rank = self.ttl.lat != 0;
        match from {
            None => raw.seek_to_first(),
            Some(pos) if counts_rank => raw.seek(self.key_layout.encode(&pos.pk, u64::MAX)),
            Some(pos) => raw.seek(self.key_layout.seek_key(pos)),
        }
        Ok(SnapshotIter {
            reader: self,
            raw,
            checker,
            from: from.cloned(),
            last_pk: None,
            rank: 0,
            peeked: None,
            failed: false,
        })
    }
}

/// Rows of a snapshot in iteration order; see [`SnapshotReader::iter`].
pub struct SnapshotIter<'a> {
    reader: &'a SnapshotReader,
    raw: DBRawIterator<'a>,
    checker: ExpiryChecker,
    from: Option<RowKey>,
    last_pk: Option<Vec<u8>>,
    rank: u64,
    /// The next row to yield, already positioned and decoded.
    peeked: Option<RowKey>,
    failed: bool,
}

impl SnapshotIter<'_> {
    fn err_key(&self, key: &[u8], source: KeyError) -> SnapshotError {
        SnapshotError::BadKey {
            path: self.reader.path.clone(),
            key_hex: key.iter().map(|b| format!("{b:02x}")).collect(),
            source,
        }
    }

    /// Moves the raw iterator to the next entry to yield (if not there yet).
    fn settle(&mut self) -> Result<(), SnapshotError> {
        if self.peeked.is_some() {
            return Ok(());
        }
        while self.raw.valid() {
            let Some(key) = self.raw.key() else { break };
            let decoded = match self.reader.key_layout.decode(key) {
                Ok(d) => d,
                Err(e) => return Err(self.err_key(key, e)),
            };
            if let (KeyLayout::WithTsCol(want), Some(got)) =
                (self.reader.key_layout, decoded.ts_col_id)
                && want != got
            {
                self.raw.next();
                continue;
            }
            if self.last_pk.as_deref() != Some(decoded.pk) {
                self.last_pk = Some(decoded.pk.to_vec());
                self.rank = 0;
            }
            self.rank += 1;
            let row_key = decoded.row_key();
            let before_start = self
                .from
                .as_ref()
                .is_some_and(|from| from.pk == row_key.pk && row_key.ts > from.ts);
            if before_start || self.checker.is_expired(row_key.ts, self.rank) {
                self.raw.next();
                continue;
            }
            self.peeked = Some(row_key);
            return Ok(());
        }
        self.raw.status().map_err(|source| SnapshotError::Iter {
            path: self.reader.path.clone(),
            source,
        })
    }

    /// The position of the next row (`None` at the end): where to resume.
    pub fn next_position(&mut self) -> Result<Option<RowKey>, SnapshotError> {
        self.settle()?;
        Ok(self.peeked.clone())
    }

    fn next_row(&mut self) -> Result<Option<SnapshotRow>, SnapshotError> {
        self.settle()?;
        let Some(key) = self.peeked.take() else {
            return Ok(None);
        };
        let value = self.raw.value().unwrap_or_default();
        let bad_row = |source| SnapshotError::BadRow {
            path: self.reader.path.clone(),
            pk: String::from_utf8_lossy(&key.pk).into_owned(),
            ts: key.ts,
            source,
        };
        let row = decompress(self.reader.compress, value)
            .map_err(bad_row)?
            .into_owned();
        row_header(&row).map_err(bad_row)?;
        self.raw.next();
        Ok(Some(SnapshotRow { key, row }))
    }
}

impl Iterator for SnapshotIter<'_> {
    type Item = Result<SnapshotRow, SnapshotError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.next_row() {
            Ok(row) => row.map(Ok),
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}
