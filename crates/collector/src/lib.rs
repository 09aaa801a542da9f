//! The `data_collector` daemon: flags, the task manager and its gRPC service,
//! hard-linked work dirs, the snapshot reader, the binlog tailer and the
//! sender. The formats it reads live in `sync-core`.
//!
//! A task's path through the modules: [`service`] receives `AddSyncTask`;
//! [`manager`] keeps one loop per partition; [`task_run`] prepares
//! ([`tablet_client`], [`workdir`], [`prepare`]) and streams ([`sender`]) the
//! packs that [`task_source`] builds ([`packer`] over [`source`], which reads
//! [`snapshot`] through [`table_read`] and the binlog through [`tailer`]);
//! [`status`] is what `GET /status` shows.

pub mod flags;
pub mod manager;
pub mod packer;
pub mod prepare;
pub mod sender;
pub mod service;
/// The snapshot reader, shared with `synctool_helper dump` (see [`sync_infra::snapshot`]).
pub use sync_infra::snapshot;
pub mod source;
pub mod status;
pub mod table_read;
pub mod tablet_client;
pub mod tailer;
pub mod task_run;
pub mod task_source;
pub mod workdir;
