//! The `data_collector` daemon: flags, the task manager and its gRPC service,
//! hard-linked work dirs, the snapshot reader, the binlog tailer and the
//! sender. The formats it reads live in `sync-core`.
//!
//! A task's path through the modules: [`service`] receives `AddSyncTask`;
//! [`manager`] checks it ([`validate`]), persists it and keeps one current
//! loop per partition, each with a [`lease`] on the partition's work dir;
//! [`task_run`] runs the loop's phases: [`preparing`] (the tablet through
//! [`tablet_client`], then [`prepare`] links into the [`workdir`] and opens
//! the reading plan), [`streaming`] (the packs [`task_source`] builds with
//! [`packer`] over [`source`], which reads [`snapshot`] through
//! [`table_read`] and the binlog through [`tailer`], sent by [`sender`]) and
//! [`waiting`] (retrying, finishing, dormant). Beside every phase the
//! [`linker`] links new binlog files on a timer; [`tracker`] follows
//! SyncTool's answers and [`keeper`] releases links the committed point no
//! longer needs; [`beacon`] carries the packs without rows (preparing,
//! failure, probes); [`fault`] types read failures; [`record`] is what a
//! work dir remembers across restarts; [`status`] is what `GET /status`
//! shows, with each task's [`rate`], and [`metrics`] what `GET /metrics`
//! exports.

pub mod beacon;
pub mod channels;
pub mod fault;
pub mod flags;
pub mod keeper;
pub mod lease;
pub mod linker;
pub mod manager;
pub mod metrics;
pub mod packer;
pub mod prepare;
pub mod preparing;
pub mod producer_threads;
pub mod rate;
pub mod record;
pub mod sender;
pub mod service;
/// The snapshot reader, shared with `synctool_helper dump` (see [`sync_infra::snapshot`]).
pub use sync_infra::snapshot;
pub mod source;
pub mod status;
pub mod streaming;
pub mod table_read;
pub mod tablet_client;
pub mod tailer;
pub mod task_run;
pub mod task_source;
pub mod tracker;
pub mod validate;
pub mod waiting;
pub mod workdir;
