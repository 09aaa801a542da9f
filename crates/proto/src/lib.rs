//! OpenMLDB's protobuf messages used by the sync: `datasync` (the sync
//! protocol), `api` (binlog `LogEntry`, `Manifest`, tablet status and schema),
//! `common` and `types` (columns, indexes, enums) and `nameserver`
//! (`TableInfo` as stored in ZooKeeper). With the `grpc` feature the
//! `DataCollector` and `SyncTool` services are generated too.

#![allow(clippy::all, missing_docs)]

/// Generated code, laid out by protobuf package as prost's cross-references expect.
pub mod openmldb {
    pub mod r#type {
        include!(concat!(env!("OUT_DIR"), "/openmldb.r#type.rs"));
    }
    pub mod common {
        include!(concat!(env!("OUT_DIR"), "/openmldb.common.rs"));
    }
    pub mod api {
        include!(concat!(env!("OUT_DIR"), "/openmldb.api.rs"));
    }
    pub mod nameserver {
        include!(concat!(env!("OUT_DIR"), "/openmldb.nameserver.rs"));
    }
    pub mod datasync {
        include!(concat!(env!("OUT_DIR"), "/openmldb.datasync.rs"));
    }
}

pub use openmldb::r#type as types;
pub use openmldb::{api, common, datasync, nameserver};
pub use prost::Message;

#[cfg(feature = "json")]
pub mod json;
