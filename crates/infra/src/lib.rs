//! I/O adapters shared by the collector and SyncTool daemons (which never
//! import each other) and by the tablet emulator, each behind a seam that the
//! simulation replaces: [`coordinator`] (cluster membership and table
//! metadata, over ZooKeeper or standalone) and [`store`] (local files: hard
//! links, listings, atomic writes); and [`one_port`], gRPC and HTTP served on
//! one port as brpc does, [`status_page`] helpers, [`snapshot`], the
//! reader of tablet snapshots (RocksDB checkpoints) that the collector and
//! `synctool_helper dump` share, and [`logging`], OpenMLDB's `log_level`
//! values as filters for this project's crates, plain text off a terminal.

pub mod coordinator;
pub mod logging;
pub mod one_port;
pub mod snapshot;
pub mod status_page;
pub mod store;
