//! The `data_collector` daemon: flags, ZooKeeper registration, the tablet
//! client, hard-linked work dirs, the snapshot reader, the binlog tailer and
//! the sender. Built by the DataCollector issue; the formats it reads live in
//! `sync-core` already.

pub use sync_core::binlog;
