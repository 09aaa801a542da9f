//! The pure core of the sync: OpenMLDB's storage formats (binlog records, the
//! row codec, the snapshot MANIFEST) and, above them, sync points, the task
//! model and the decisions of SyncTool, where a SyncTool stands in the
//! coordinator election ([`election`]) and which worker owns which partition
//! task ([`ownership`]). Nothing here performs I/O, reads a
//! clock or spawns a thread: bytes and events come in as arguments, values and
//! actions go out.

pub mod binlog;
pub mod election;
pub mod manifest;
pub mod ownership;
pub mod point;
pub mod row;
pub mod snapshot_key;
pub mod task;

pub use sync_proto as proto;
