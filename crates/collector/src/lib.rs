//! The `data_collector` daemon: flags, ZooKeeper registration, the tablet
//! client, hard-linked work dirs, the snapshot reader, the binlog tailer and
//! the sender. The formats it reads live in `sync-core`.

pub mod flags;
pub mod packer;
pub mod prepare;
pub mod sender;
pub mod snapshot;
pub mod source;
pub mod table_read;
pub mod tablet_client;
pub mod tailer;
pub mod workdir;
