//! The local filesystem, with `std::fs` on tokio's blocking threads (inline
//! in the simulation: [`Offload`]), durable
//! (`FAULTS.md` §3): every file written is fsynced before it is renamed or
//! linked, and the directory is fsynced after every rename, link and
//! `mkdir` (each created directory's parent). Deletes are not fsynced: a
//! delete lost in a power cut only brings back a leftover that
//! `clear_staging` removes, and the next rename or link in the directory
//! persists it anyway.
//!
//! Exclusive create and publish use `link(2)`, which fails with `EEXIST`
//! instead of replacing (`rename(2)` always replaces). A filesystem without
//! hard links is refused by the destination check.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::{Backend, BoxError, Placed};
use crate::Offload;
use crate::layout::temp_path;

/// A local directory.
pub(crate) struct Local {
    root: PathBuf,
    offload: Offload,
}

impl Local {
    /// The store rooted at the absolute directory `root` (created on the
    /// first write), its file calls run where `offload` says.
    pub(crate) fn new(root: PathBuf, offload: Offload) -> Self {
        Local { root, offload }
    }

    fn abs(&self, path: &str) -> PathBuf {
        let path = path.trim_end_matches('/');
        if path.is_empty() {
            self.root.clone()
        } else {
            self.root.join(path)
        }
    }

    /// Runs the file calls `f` where the store's offload says.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> io::Result<T> + Send + 'static,
    ) -> Result<T, BoxError> {
        match self.offload.run(f).await {
            Ok(result) => result.map_err(Into::into),
            Err(e) => Err(io::Error::other(e.to_string()).into()),
        }
    }
}

/// fsyncs the directory `dir`.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// fsyncs the parent directory of `path`.
fn sync_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(parent) => sync_dir(parent),
        None => Ok(()),
    }
}

/// Creates `dir` and its missing ancestors, fsyncing the parent of each
/// directory created. An ancestor that is a file is named in the error.
fn create_dirs(dir: &Path) -> io::Result<()> {
    let mut missing = Vec::new();
    let mut current = Some(dir);
    while let Some(d) = current {
        match fs::metadata(d) {
            Ok(meta) if meta.is_dir() => break,
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::NotADirectory,
                    format!("{} is not a directory", d.display()),
                ));
            }
            // Not a directory: an ancestor is a file; find which.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                missing.push(d);
                current = d.parent();
            }
            Err(e) => return Err(e),
        }
    }
    for d in missing.into_iter().rev() {
        match fs::create_dir(d) {
            Ok(()) => sync_parent(d)?,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && d.is_dir() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Creates the parent directories of `path`.
fn create_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(parent) => create_dirs(parent),
        None => Ok(()),
    }
}

/// Writes `bytes` to `path` (replacing it) and fsyncs the file.
fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    create_parent(path)?;
    let mut file = File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Hard-links `from` to `to` unless `to` exists, and fsyncs `to`'s directory.
fn link_new(from: &Path, to: &Path) -> io::Result<Placed> {
    create_parent(to)?;
    match fs::hard_link(from, to) {
        Ok(()) => {
            sync_parent(to)?;
            Ok(Placed::New)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(Placed::Exists),
        Err(e) if e.kind() == io::ErrorKind::NotFound && !from.exists() => {
            Ok(Placed::SourceMissing)
        }
        Err(e) => Err(e),
    }
}

/// Removes `path`; absent is fine.
fn remove(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Appends every file under `dir` to `out`, as paths relative to the root
/// (`prefix` is `dir` relative to it, ending in `/` or empty).
fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) -> io::Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type()?.is_dir() {
            walk(&entry.path(), &format!("{prefix}{name}/"), out)?;
        } else {
            out.push(format!("{prefix}{name}"));
        }
    }
    Ok(())
}

#[async_trait::async_trait]
impl Backend for Local {
    fn renames(&self) -> bool {
        true
    }

    async fn create_root(&self) -> Result<(), BoxError> {
        let root = self.root.clone();
        self.blocking(move || {
            create_dirs(&root).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot create the directory {}: {e}", root.display()),
                )
            })
        })
        .await
    }

    async fn write(&self, path: &str, bytes: Vec<u8>) -> Result<(), BoxError> {
        let path = self.abs(path);
        self.blocking(move || write_synced(&path, &bytes)).await
    }

    async fn create_new(&self, path: &str, bytes: Vec<u8>) -> Result<Placed, BoxError> {
        let tmp = self.abs(&temp_path(path));
        let path = self.abs(path);
        self.blocking(move || {
            write_synced(&tmp, &bytes)?;
            let placed = link_new(&tmp, &path);
            let removed = remove(&tmp);
            let placed = placed?;
            removed?;
            Ok(placed)
        })
        .await
    }

    async fn read(&self, path: &str) -> Result<Option<Vec<u8>>, BoxError> {
        let path = self.abs(path);
        self.blocking(move || match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        })
        .await
    }

    async fn is_file(&self, path: &str) -> Result<bool, BoxError> {
        let path = self.abs(path);
        self.blocking(move || match fs::metadata(&path) {
            Ok(meta) => Ok(meta.is_file()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        })
        .await
    }

    async fn list(&self, dir: &str) -> Result<Vec<String>, BoxError> {
        let dir = self.abs(dir);
        self.blocking(move || {
            let entries = match fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
                Err(e) => return Err(e),
            };
            let mut names = Vec::new();
            for entry in entries {
                let entry = entry?;
                let mut name = entry.file_name().to_string_lossy().into_owned();
                if entry.file_type()?.is_dir() {
                    name.push('/');
                }
                names.push(name);
            }
            names.sort();
            Ok(names)
        })
        .await
    }

    async fn list_all(&self) -> Result<Vec<String>, BoxError> {
        let root = self.root.clone();
        self.blocking(move || {
            let mut files = Vec::new();
            walk(&root, "", &mut files)?;
            files.sort();
            Ok(files)
        })
        .await
    }

    async fn delete(&self, path: &str) -> Result<(), BoxError> {
        let path = self.abs(path);
        self.blocking(move || remove(&path)).await
    }

    async fn rename(&self, from: &str, to: &str) -> Result<(), BoxError> {
        let (from, to) = (self.abs(from), self.abs(to));
        self.blocking(move || {
            create_parent(&to)?;
            fs::rename(&from, &to)?;
            sync_parent(&to)?;
            if from.parent() != to.parent() {
                sync_parent(&from)?;
            }
            Ok(())
        })
        .await
    }

    async fn place(&self, from: &str, to: &str) -> Result<Placed, BoxError> {
        let (from, to) = (self.abs(from), self.abs(to));
        self.blocking(move || link_new(&from, &to)).await
    }
}
