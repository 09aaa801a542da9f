//! One destination's storage: an opendal [`Operator`] rooted at the
//! destination, plus the one primitive opendal does not give atomically
//! everywhere — moving a file to its final name.
//!
//! * local fs: `rename(2)` (opendal's `rename`), atomic, replaces the target;
//! * HDFS: hdfs-native's `rename` (the NameNode's `rename2`), atomic, after a
//!   `mkdirs` of the parent. opendal's own HDFS rename is **not** used: it
//!   creates an empty file at the target first (to get the parent
//!   directories), which a reader could see as an empty part file;
//! * S3: no rename; [`Store::copy`] then delete. A copied object appears whole
//!   or not at all.

use std::sync::Arc;

use opendal::services::{Fs, HdfsNative, S3};
use opendal::{Buffer, ErrorKind, Operator};

use crate::dest::{Location, S3Options};
use crate::error::SinkError;

/// Files larger than this are written in parts (S3 multipart).
const WRITE_CHUNK: usize = 16 << 20;

/// How a file gets its final name.
enum Mover {
    /// opendal's rename (`rename(2)` on the local fs).
    Rename,
    /// hdfs-native rename; `base` is the destination's absolute path.
    Hdfs {
        client: Arc<hdfs_native::Client>,
        base: String,
    },
    /// No rename: copy then delete.
    Copy,
}

/// Storage of one destination; paths are relative to it.
pub(crate) struct Store {
    dest: String,
    op: Operator,
    mover: Mover,
}

impl Store {
    /// Opens the store of `dest` at `location`.
    pub(crate) fn open(dest: &str, location: &Location, s3: &S3Options) -> Result<Self, SinkError> {
        opendal::install_default();
        let open_err = |e: opendal::Error| SinkError::storage("open", dest, "", e);
        let (op, mover) = match location {
            Location::Local(path) => {
                let root = path.to_string_lossy();
                (
                    Operator::new(Fs::default().root(&root)).map_err(open_err)?,
                    Mover::Rename,
                )
            }
            Location::Hdfs { name_node, path } => {
                let op = Operator::new(HdfsNative::default().name_node(name_node).root(path))
                    .map_err(open_err)?;
                let client = hdfs_native::ClientBuilder::new()
                    .with_url(name_node.as_str())
                    .build()
                    .map_err(|e| SinkError::storage("open", dest, "", e))?;
                let base = path.trim_end_matches('/').to_owned();
                (
                    op,
                    Mover::Hdfs {
                        client: Arc::new(client),
                        base,
                    },
                )
            }
            Location::S3 { bucket, prefix } => {
                let mut b = S3::default()
                    .bucket(bucket)
                    .root(&format!("/{prefix}"))
                    .region(&s3.region)
                    .disable_ec2_metadata();
                if let Some(endpoint) = &s3.endpoint {
                    b = b.endpoint(endpoint);
                }
                if let Some(key) = &s3.access_key_id {
                    b = b.access_key_id(key).disable_config_load();
                }
                if let Some(secret) = &s3.secret_access_key {
                    b = b.secret_access_key(secret);
                }
                if s3.virtual_host_style {
                    b = b.enable_virtual_host_style();
                }
                (Operator::new(b).map_err(open_err)?, Mover::Copy)
            }
        };
        Ok(Store {
            dest: dest.to_owned(),
            op,
            mover,
        })
    }

    /// Whether files can be renamed (else they are copied).
    pub(crate) fn can_rename(&self) -> bool {
        !matches!(self.mover, Mover::Copy)
    }

    fn err(
        &self,
        op: &'static str,
        path: &str,
        e: impl std::error::Error + Send + Sync + 'static,
    ) -> SinkError {
        SinkError::storage(op, &self.dest, path, e)
    }

    /// Writes `bytes` to `path` (replacing it).
    pub(crate) async fn write(&self, path: &str, bytes: Vec<u8>) -> Result<(), SinkError> {
        let len = bytes.len();
        let mut w = self.op.write_with(path, Buffer::from(bytes));
        if len > WRITE_CHUNK {
            w = w.chunk(WRITE_CHUNK);
        }
        w.await.map(|_| ()).map_err(|e| self.err("write", path, e))
    }

    /// The contents of `path`, `None` if it does not exist.
    pub(crate) async fn read(&self, path: &str) -> Result<Option<Vec<u8>>, SinkError> {
        match self.op.read(path).await {
            Ok(buf) => Ok(Some(buf.to_vec())),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.err("read", path, e)),
        }
    }

    /// Whether the file `path` exists.
    pub(crate) async fn exists(&self, path: &str) -> Result<bool, SinkError> {
        match self.op.stat(path).await {
            Ok(meta) => Ok(meta.mode().is_file()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(self.err("stat", path, e)),
        }
    }

    /// Names of the entries directly in directory `dir` (ending in `/`);
    /// directories end in `/`. Empty if `dir` does not exist.
    pub(crate) async fn list(&self, dir: &str) -> Result<Vec<String>, SinkError> {
        let entries = match self.op.list(dir).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.err("list", dir, e)),
        };
        Ok(entries
            .into_iter()
            .filter(|e| e.path() != dir)
            .map(|e| e.name().to_owned())
            .collect())
    }

    /// Every file under the destination, recursively (paths relative to it).
    pub(crate) async fn list_all(&self) -> Result<Vec<String>, SinkError> {
        let entries = match self.op.list_with("").recursive(true).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.err("list", "", e)),
        };
        let mut files: Vec<String> = entries
            .into_iter()
            .filter(|e| !e.path().ends_with('/'))
            .map(|e| e.path().to_owned())
            .collect();
        files.sort();
        Ok(files)
    }

    /// Deletes the file `path`; absent is fine.
    pub(crate) async fn delete(&self, path: &str) -> Result<(), SinkError> {
        match self.op.delete(path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.err("delete", path, e)),
        }
    }

    /// Renames `from` to `to` in one atomic step (fs, HDFS). With
    /// `overwrite` false an existing `to` is an error on HDFS; on the local
    /// fs `rename(2)` always replaces (callers check first).
    pub(crate) async fn rename(
        &self,
        from: &str,
        to: &str,
        overwrite: bool,
    ) -> Result<(), SinkError> {
        match &self.mover {
            Mover::Rename => self
                .op
                .rename(from, to)
                .await
                .map_err(|e| self.err("rename", from, e)),
            Mover::Hdfs { client, base } => {
                let abs_from = format!("{base}/{from}");
                let abs_to = format!("{base}/{to}");
                if let Some((parent, _)) = abs_to.rsplit_once('/')
                    && !parent.is_empty()
                {
                    client
                        .mkdirs(parent, 0o755, true)
                        .await
                        .map_err(|e| self.err("mkdirs", to, e))?;
                }
                client
                    .rename(&abs_from, &abs_to, overwrite)
                    .await
                    .map_err(|e| self.err("rename", from, e))
            }
            Mover::Copy => Err(self.err(
                "rename",
                from,
                std::io::Error::new(std::io::ErrorKind::Unsupported, "store cannot rename"),
            )),
        }
    }

    /// Copies `from` to `to` (server side; S3 `CopyObject`).
    pub(crate) async fn copy(&self, from: &str, to: &str) -> Result<(), SinkError> {
        self.op
            .copy(from, to)
            .await
            .map(|_| ())
            .map_err(|e| self.err("copy", from, e))
    }
}
