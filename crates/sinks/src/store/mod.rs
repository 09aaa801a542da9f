//! One destination's storage: a [`Backend`] (local fs, HDFS, S3, memory)
//! behind [`Store`], which names the destination and the path in every
//! error. The backends give the protocol its primitives with the same
//! meaning everywhere:
//!
//! | primitive | local fs | HDFS | S3 | memory |
//! |---|---|---|---|---|
//! | [`Backend::write`] (whole file, replaces) | write + `fsync` | create + close | one PUT | insert |
//! | [`Backend::rename`] (replaces) | `rename(2)` + `fsync` dirs | `rename2(OVERWRITE)` | — | move |
//! | [`Backend::create_new`] (exclusive) | temp + `fsync` + `link(2)` + `fsync` dir | temp + `rename2` (no overwrite) | PUT `If-None-Match: *` | insert if absent |
//! | [`Backend::place`] (no replace) | `link(2)` + `fsync` dir | `rename2` (no overwrite) | `CopyObject` `If-None-Match: *` | copy if absent |
//!
//! Every step of a row is one atomic operation of the backend (or, in
//! memory, one critical section of its area). S3 servers that ignore
//! `If-None-Match` are detected and fall back to check-then-write (see
//! [`s3`]).

mod hdfs;
mod local;
pub(crate) mod memory;
mod s3;

use crate::dest::{Location, SinkConfig};
use crate::error::SinkError;
use crate::layout::probe_path;

/// A backend's error (the [`Store`] adds the operation, destination and path).
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What an exclusive create or a no-replace move did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placed {
    /// The target was absent and now holds the new contents.
    New,
    /// The target already existed; it was not touched.
    Exists,
    /// The source does not exist ([`Backend::place`] only).
    SourceMissing,
}

/// The primitives of one destination; paths are relative to it, files only
/// (directories are created as needed and never reported as files).
#[async_trait::async_trait]
pub(crate) trait Backend: Send + Sync {
    /// Whether [`Backend::rename`] works (else files are written whole by one
    /// [`Backend::write`] and published by copying).
    fn renames(&self) -> bool;

    /// Creates the destination's directory (where directories exist) and
    /// checks that the store answers. Errors say what failed in words.
    async fn create_root(&self) -> Result<(), BoxError>;

    /// Writes `bytes` to `path` whole, replacing it. Local fs: the file is
    /// fsynced (its name becomes durable with the rename or link after it).
    async fn write(&self, path: &str, bytes: Vec<u8>) -> Result<(), BoxError>;

    /// Creates `path` with `bytes` unless it exists; whole, in one atomic
    /// step, durable. Two concurrent calls never both return
    /// [`Placed::New`].
    async fn create_new(&self, path: &str, bytes: Vec<u8>) -> Result<Placed, BoxError>;

    /// The contents of `path`, `None` if it does not exist.
    async fn read(&self, path: &str) -> Result<Option<Vec<u8>>, BoxError>;

    /// Whether the file `path` exists.
    async fn is_file(&self, path: &str) -> Result<bool, BoxError>;

    /// Names of the entries directly in directory `dir` (ending in `/`);
    /// directories end in `/`. Empty if `dir` does not exist.
    async fn list(&self, dir: &str) -> Result<Vec<String>, BoxError>;

    /// Every file under the destination, recursively (relative paths, sorted).
    async fn list_all(&self) -> Result<Vec<String>, BoxError>;

    /// Deletes the file `path`; absent is fine.
    async fn delete(&self, path: &str) -> Result<(), BoxError>;

    /// Renames `from` to `to` in one atomic step, replacing `to`; durable.
    /// Only where [`Backend::renames`].
    async fn rename(&self, from: &str, to: &str) -> Result<(), BoxError>;

    /// Gives `to` the contents of `from` unless `to` exists, in one atomic
    /// step, durable; `from` may be left in place (delete it afterwards).
    async fn place(&self, from: &str, to: &str) -> Result<Placed, BoxError>;
}

/// Storage of one destination.
pub(crate) struct Store {
    dest: String,
    backend: Box<dyn Backend>,
}

impl Store {
    /// Opens the store of `dest` at `location`. Connects to nothing yet.
    pub(crate) fn open(
        dest: &str,
        location: &Location,
        config: &SinkConfig,
    ) -> Result<Self, SinkError> {
        let bad = |reason: String| SinkError::BadDestination {
            dest: dest.to_owned(),
            reason,
        };
        let backend: Box<dyn Backend> = match location {
            Location::Local(path) => Box::new(local::Local::new(path.clone(), config.offload)),
            Location::Hdfs { name_node, path } => Box::new(
                hdfs::Hdfs::open(name_node, path)
                    .map_err(|e| bad(format!("cannot set up an HDFS client: {e}")))?,
            ),
            Location::S3 { bucket, prefix } => Box::new(
                s3::S3::open(bucket, prefix, &config.s3)
                    .map_err(|e| bad(format!("cannot set up an S3 client: {e}")))?,
            ),
            Location::Memory { area, prefix } => Box::new(memory::Memory::new(area, prefix)),
        };
        Ok(Store {
            dest: dest.to_owned(),
            backend,
        })
    }

    /// Whether files can be renamed (else they are written whole and copied).
    pub(crate) fn can_rename(&self) -> bool {
        self.backend.renames()
    }

    fn err(&self, op: &'static str, path: &str, e: BoxError) -> SinkError {
        SinkError::Storage {
            op,
            dest: self.dest.clone(),
            path: path.to_owned(),
            source: e,
        }
    }

    /// [`Backend::write`].
    pub(crate) async fn write(&self, path: &str, bytes: Vec<u8>) -> Result<(), SinkError> {
        self.backend
            .write(path, bytes)
            .await
            .map_err(|e| self.err("write", path, e))
    }

    /// [`Backend::create_new`].
    pub(crate) async fn create_new(&self, path: &str, bytes: Vec<u8>) -> Result<Placed, SinkError> {
        self.backend
            .create_new(path, bytes)
            .await
            .map_err(|e| self.err("create exclusively", path, e))
    }

    /// [`Backend::read`].
    pub(crate) async fn read(&self, path: &str) -> Result<Option<Vec<u8>>, SinkError> {
        self.backend
            .read(path)
            .await
            .map_err(|e| self.err("read", path, e))
    }

    /// [`Backend::is_file`].
    pub(crate) async fn exists(&self, path: &str) -> Result<bool, SinkError> {
        self.backend
            .is_file(path)
            .await
            .map_err(|e| self.err("stat", path, e))
    }

    /// [`Backend::list`].
    pub(crate) async fn list(&self, dir: &str) -> Result<Vec<String>, SinkError> {
        self.backend
            .list(dir)
            .await
            .map_err(|e| self.err("list", dir, e))
    }

    /// [`Backend::list_all`].
    pub(crate) async fn list_all(&self) -> Result<Vec<String>, SinkError> {
        self.backend
            .list_all()
            .await
            .map_err(|e| self.err("list", "", e))
    }

    /// [`Backend::delete`].
    pub(crate) async fn delete(&self, path: &str) -> Result<(), SinkError> {
        self.backend
            .delete(path)
            .await
            .map_err(|e| self.err("delete", path, e))
    }

    /// [`Backend::rename`].
    pub(crate) async fn rename(&self, from: &str, to: &str) -> Result<(), SinkError> {
        self.backend
            .rename(from, to)
            .await
            .map_err(|e| self.err("rename", from, e))
    }

    /// [`Backend::place`].
    pub(crate) async fn place(&self, from: &str, to: &str) -> Result<Placed, SinkError> {
        self.backend
            .place(from, to)
            .await
            .map_err(|e| self.err("publish", from, e))
    }

    /// Checks that the destination can be used: its directory can be
    /// created, and in its staging area a probe file can be written,
    /// created exclusively (a second exclusive create finds it), published
    /// without replacing (a second publish finds the target) and deleted.
    /// The error says which step failed.
    pub(crate) async fn check(&self) -> Result<(), SinkError> {
        let unusable = |reason: String| SinkError::Unusable {
            dest: self.dest.clone(),
            reason,
        };
        self.backend
            .create_root()
            .await
            .map_err(|e| unusable(e.to_string()))?;
        let probe = probe_path();
        let created = format!("{probe}.created");
        let placed = format!("{probe}.placed");
        let result = self.probe(&probe, &created, &placed).await;
        let mut cleanup = Ok(());
        for path in [&probe, &created, &placed] {
            if let Err(e) = self.backend.delete(path).await {
                cleanup = Err(unusable(format!(
                    "cannot delete the probe file {path}: {e}"
                )));
            }
        }
        result.map_err(unusable)?;
        cleanup
    }

    async fn probe(&self, probe: &str, created: &str, placed: &str) -> Result<(), String> {
        self.backend
            .write(probe, b"probe".to_vec())
            .await
            .map_err(|e| format!("cannot write a probe file {probe}: {e}"))?;
        let create = |n| async move {
            match self.backend.create_new(created, b"probe".to_vec()).await {
                Ok(placed) => Ok(placed),
                Err(e) => Err(format!(
                    "cannot create a file exclusively ({n} attempt, {created}): {e}"
                )),
            }
        };
        let first = create("first").await?;
        let second = create("second").await?;
        if (first, second) != (Placed::New, Placed::Exists) {
            return Err(format!(
                "exclusive create does not work: {first:?} then {second:?} for {created}"
            ));
        }
        let publish = |n| async move {
            self.backend
                .place(probe, placed)
                .await
                .map_err(|e| format!("cannot publish a file without replacing ({n} attempt, {probe} to {placed}): {e}"))
        };
        let first = publish("first").await?;
        // HDFS moved the probe: write it again for the second attempt.
        self.backend
            .write(probe, b"probe 2".to_vec())
            .await
            .map_err(|e| format!("cannot write a probe file {probe}: {e}"))?;
        let second = publish("second").await?;
        if (first, second) != (Placed::New, Placed::Exists) {
            return Err(format!(
                "publishing without replacing does not work: {first:?} then {second:?} for {placed}"
            ));
        }
        Ok(())
    }
}
