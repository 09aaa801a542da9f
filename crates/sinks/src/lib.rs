//! Offline stores behind one trait (local fs, HDFS, S3), the CSV and Parquet
//! writers and the exactly-once commit protocol. Built by the SyncTool issue;
//! rows reach it decoded by `sync_core::row`.

pub use sync_core::row;
