//! Opening a partition's RocksDB the way a tablet does: a `default` CF plus
//! one CF per inner index, each with `KeyTSComparator` and the
//! `KeyTsPrefixTransform` prefix extractor (the key without its ts).

use std::path::Path;

use rocksdb::{ColumnFamilyDescriptor, DB, Options, SliceTransform};
use sync_core::snapshot_key::{COMPARATOR_NAME, IndexLayout, TS_LEN, compare};

use crate::error::{EmuError, rdb};

fn strip_ts(key: &[u8]) -> &[u8] {
    &key[..key.len().saturating_sub(TS_LEN)]
}

fn has_ts(key: &[u8]) -> bool {
    key.len() >= TS_LEN
}

/// The options of an index CF.
pub fn cf_options() -> Options {
    let mut opts = Options::default();
    opts.set_comparator(COMPARATOR_NAME, compare);
    opts.set_prefix_extractor(SliceTransform::create(
        "KeyTsPrefixTransform",
        strip_ts,
        Some(has_ts),
    ));
    opts
}

/// Opens (creating if needed) the live DB in `path` with `layout`'s CFs.
pub fn open_live(path: &Path, layout: &IndexLayout) -> Result<DB, EmuError> {
    let mut opts = Options::default();
    opts.create_if_missing(true);
    opts.create_missing_column_families(true);
    // Caps the WAL preallocation (by default ~70 MB per log, which on tmpfs,
    // where the simulation keeps its data, costs real memory and time); also
    // the memtables' total before a flush.
    opts.set_db_write_buffer_size(4 << 20);
    let mut cfs = vec![ColumnFamilyDescriptor::new(
        rocksdb::DEFAULT_COLUMN_FAMILY_NAME,
        Options::default(),
    )];
    for name in layout.cf_names() {
        cfs.push(ColumnFamilyDescriptor::new(name, cf_options()));
    }
    DB::open_cf_descriptors(&opts, path, cfs).map_err(rdb(path))
}
