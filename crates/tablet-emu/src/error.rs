//! The emulator's error type.

use std::path::PathBuf;

/// Anything that can go wrong while emulating a tablet.
#[derive(Debug, thiserror::Error)]
pub enum EmuError {
    #[error("table spec: {0}")]
    Spec(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: rocksdb: {source}")]
    RocksDb {
        path: PathBuf,
        source: rocksdb::Error,
    },
    #[error("{path}: {msg}")]
    Data { path: PathBuf, msg: String },
    #[error("row generation: {0}")]
    Row(String),
}

/// Wraps an `io::Error` with its path.
pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> EmuError {
    let path = path.into();
    move |source| EmuError::Io { path, source }
}

/// Wraps a RocksDB error with its path.
pub(crate) fn rdb(path: impl Into<PathBuf>) -> impl FnOnce(rocksdb::Error) -> EmuError {
    let path = path.into();
    move |source| EmuError::RocksDb { path, source }
}
