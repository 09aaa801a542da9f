//! A tablet emulator for tests and demos. It writes OpenMLDB disk-table
//! partitions in the real on-disk format (RocksDB with `KeyTSComparator` CFs
//! per inner index, `binlog/%08d.log`, `snapshot/<name>/` checkpoints and
//! `snapshot/MANIFEST`) from deterministic generated rows, registers the
//! table's `TableInfo`, and answers the tablet's `GetTableStatus` /
//! `GetTableSchema` over brpc-style HTTP+JSON.
//!
//! * [`spec`]: the table description ([`EmulatedTable`]);
//! * [`rows`]: the deterministic row generator and expected snapshot content;
//! * [`partition`]: one partition's data, binlog and snapshots;
//! * [`emulator`]: a whole table ([`TableEmulator`]);
//! * [`server`]: the HTTP API.

pub mod emulator;
pub mod error;
pub mod partition;
pub mod rocks;
pub mod rows;
pub mod server;
pub mod snapshot_name;
pub mod spec;
pub mod state;

pub use emulator::TableEmulator;
pub use error::EmuError;
pub use partition::{Partition, partition_dir, read_manifest};
pub use rows::{GeneratedRow, RowGenerator};
pub use server::TabletServer;
pub use spec::{ColumnSpec, EmulatedTable, IndexSpec, Storage};
