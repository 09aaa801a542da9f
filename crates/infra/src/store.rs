//! The [`LocalStore`] seam: the local-file operations the daemons need (the
//! collector's hard-linked work dirs, persisted task state), so that the
//! simulation can run the same code over a store that loses unsynced writes
//! on a crash. [`FsStore`] is the real filesystem.
//!
//! `write_atomic` is temp file + fsync + rename + fsync of the directory: after
//! it returns, a crash leaves either the old or the new content, never a torn
//! file. A hard link across filesystems fails with
//! [`StoreError::CrossDevice`], whose message names both paths and the fix.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// What a directory entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    pub name: String,
    pub is_dir: bool,
    pub len: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "cannot hard-link {original} to {link}: Invalid cross-device link. The collector's work dir must be on \
         the same filesystem as the tablet's data: set --collector_datadir to a directory on the filesystem of \
         the tablet's hdd_root_path/ssd_root_path"
    )]
    CrossDevice { original: PathBuf, link: PathBuf },
    #[error("cannot {op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

impl StoreError {
    fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
        move |source| StoreError::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Local file operations, as the daemons use them.
pub trait LocalStore: Send + Sync + 'static {
    fn create_dir_all(&self, path: &Path) -> Result<(), StoreError>;
    /// Entries of a directory sorted by name; an absent directory is an error.
    /// An entry removed while the directory is read is left out.
    fn list_dir(&self, path: &Path) -> Result<Vec<DirEntry>, StoreError>;
    /// The names of the entries that are not directories, sorted; an absent
    /// directory is an error. Cheaper than [`LocalStore::list_dir`] where
    /// the sizes are not needed (no `stat` per entry on the real
    /// filesystem): what pollers of binlog directories use.
    fn list_files(&self, path: &Path) -> Result<Vec<String>, StoreError> {
        Ok(self
            .list_dir(path)?
            .into_iter()
            .filter(|e| !e.is_dir)
            .map(|e| e.name)
            .collect())
    }
    fn hard_link(&self, original: &Path, link: &Path) -> Result<(), StoreError>;
    /// The whole file, or `None` when it does not exist.
    fn read(&self, path: &Path) -> Result<Option<Vec<u8>>, StoreError>;
    /// Up to `buf.len()` bytes from `offset`; 0 at or past the end.
    fn read_at(&self, path: &Path, offset: u64, buf: &mut [u8]) -> Result<usize, StoreError>;
    /// Replaces the file so that a crash leaves the old or the new content.
    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> Result<(), StoreError>;
    fn rename(&self, from: &Path, to: &Path) -> Result<(), StoreError>;
    /// Removes a file; an absent file is fine.
    fn remove_file(&self, path: &Path) -> Result<(), StoreError>;
    /// Removes a directory tree; an absent directory is fine.
    fn remove_dir_all(&self, path: &Path) -> Result<(), StoreError>;
}

/// The real filesystem.
#[derive(Debug, Clone, Copy, Default)]
pub struct FsStore;

impl LocalStore for FsStore {
    fn create_dir_all(&self, path: &Path) -> Result<(), StoreError> {
        std::fs::create_dir_all(path).map_err(StoreError::io("create directory", path))
    }

    fn list_dir(&self, path: &Path) -> Result<Vec<DirEntry>, StoreError> {
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(path).map_err(StoreError::io("list", path))? {
            let entry = entry.map_err(StoreError::io("list", path))?;
            let Ok(name) = entry.file_name().into_string() else {
                continue; // not a name this project ever writes
            };
            let meta = match entry.metadata() {
                Ok(meta) => meta,
                // Removed since the directory was read (a tablet's binlog
                // GC): not an error of the directory.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(StoreError::io("stat", &entry.path())(e)),
            };
            entries.push(DirEntry {
                name,
                is_dir: meta.is_dir(),
                len: meta.len(),
            });
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    fn list_files(&self, path: &Path) -> Result<Vec<String>, StoreError> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(path).map_err(StoreError::io("list", path))? {
            let entry = entry.map_err(StoreError::io("list", path))?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            // The type comes with the listing on most filesystems (no stat).
            match entry.file_type() {
                Ok(t) if t.is_dir() => {}
                Ok(_) => names.push(name),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::io("stat", &entry.path())(e)),
            }
        }
        names.sort();
        Ok(names)
    }

    fn hard_link(&self, original: &Path, link: &Path) -> Result<(), StoreError> {
        std::fs::hard_link(original, link).map_err(|source| {
            if source.kind() == std::io::ErrorKind::CrossesDevices {
                StoreError::CrossDevice {
                    original: original.to_path_buf(),
                    link: link.to_path_buf(),
                }
            } else {
                StoreError::Io {
                    op: "hard-link",
                    path: original.to_path_buf(),
                    source,
                }
            }
        })
    }

    fn read(&self, path: &Path) -> Result<Option<Vec<u8>>, StoreError> {
        match std::fs::read(path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(StoreError::io("read", path)(err)),
        }
    }

    fn read_at(&self, path: &Path, offset: u64, buf: &mut [u8]) -> Result<usize, StoreError> {
        let mut file = std::fs::File::open(path).map_err(StoreError::io("open", path))?;
        file.seek(SeekFrom::Start(offset))
            .map_err(StoreError::io("seek", path))?;
        let mut filled = 0;
        while filled < buf.len() {
            match file.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(StoreError::io("read", path)(err)),
            }
        }
        Ok(filled)
    }

    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
        let mut temp_name = path.file_name().unwrap_or_default().to_os_string();
        temp_name.push(".tmp");
        let temp = path.with_file_name(temp_name);
        {
            let mut file = std::fs::File::create(&temp).map_err(StoreError::io("create", &temp))?;
            file.write_all(bytes)
                .map_err(StoreError::io("write", &temp))?;
            file.sync_all().map_err(StoreError::io("fsync", &temp))?;
        }
        std::fs::rename(&temp, path).map_err(StoreError::io("rename into place", path))?;
        sync_parent_dir(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> Result<(), StoreError> {
        std::fs::rename(from, to).map_err(StoreError::io("rename", from))?;
        sync_parent_dir(to)
    }

    fn remove_file(&self, path: &Path) -> Result<(), StoreError> {
        match std::fs::remove_file(path) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                Err(StoreError::io("remove", path)(err))
            }
            _ => Ok(()),
        }
    }

    fn remove_dir_all(&self, path: &Path) -> Result<(), StoreError> {
        match std::fs::remove_dir_all(path) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                Err(StoreError::io("remove", path)(err))
            }
            _ => Ok(()),
        }
    }
}

/// Makes a rename in `path`'s directory durable.
fn sync_parent_dir(path: &Path) -> Result<(), StoreError> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::File::open(parent)
        .and_then(|dir| dir.sync_all())
        .map_err(StoreError::io("fsync directory", parent))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("task.progress");
        FsStore.write_atomic(&path, b"one").expect("write");
        FsStore.write_atomic(&path, b"two").expect("rewrite");
        assert_eq!(FsStore.read(&path).expect("read"), Some(b"two".to_vec()));
        let names: Vec<String> = FsStore
            .list_dir(dir.path())
            .expect("list")
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, vec!["task.progress"]);
    }

    #[test]
    fn list_files_names_the_files_not_the_dirs_like_list_dir() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("00000002.log"), b"b").expect("write");
        std::fs::write(dir.path().join("00000001.log"), b"a").expect("write");
        std::fs::create_dir(dir.path().join("snapshot")).expect("mkdir");
        let names = FsStore.list_files(dir.path()).expect("list");
        assert_eq!(names, vec!["00000001.log", "00000002.log"]);
        // The trait's default (from `list_dir`) is what the test stores use:
        // the collector's tailer tests and the simulation go through it.
        let absent = dir.path().join("absent");
        let err = FsStore.list_files(&absent).expect_err("absent dir");
        assert!(
            matches!(&err, StoreError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound),
            "{err}"
        );
    }

    #[test]
    fn missing_things_are_not_errors_where_documented() {
        let dir = tempfile::tempdir().expect("tempdir");
        let absent = dir.path().join("absent");
        assert_eq!(FsStore.read(&absent).expect("read"), None);
        FsStore.remove_file(&absent).expect("remove absent file");
        FsStore.remove_dir_all(&absent).expect("remove absent dir");
        let err = FsStore
            .list_dir(&absent)
            .expect_err("listing an absent dir");
        assert!(err.to_string().contains("absent"), "{err}");
    }

    #[test]
    fn hard_links_share_content_and_read_at_reads_ranges() {
        let dir = tempfile::tempdir().expect("tempdir");
        let original = dir.path().join("00000001.log");
        std::fs::write(&original, b"0123456789").expect("write");
        let link = dir.path().join("link.log");
        FsStore.hard_link(&original, &link).expect("link");
        let mut buf = [0u8; 4];
        assert_eq!(FsStore.read_at(&link, 3, &mut buf).expect("read"), 4);
        assert_eq!(&buf, b"3456");
        assert_eq!(FsStore.read_at(&link, 8, &mut buf).expect("read"), 2);
        assert_eq!(FsStore.read_at(&link, 20, &mut buf).expect("read"), 0);
        std::fs::remove_file(&original).expect("the tablet deletes its file");
        assert_eq!(
            FsStore.read(&link).expect("read"),
            Some(b"0123456789".to_vec()),
            "the link keeps the data"
        );
    }

    #[test]
    fn cross_device_link_names_both_paths_and_the_fix() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let Ok(other_fs) = tempfile::tempdir_in("/dev/shm") else {
            eprintln!("skipped: no /dev/shm to link across");
            return;
        };
        let dev = |p: &Path| std::fs::metadata(p).expect("stat").dev();
        if dev(dir.path()) == dev(other_fs.path()) {
            eprintln!("skipped: /dev/shm is on the same filesystem as the temp dir");
            return;
        }
        let original = dir.path().join("00000000.log");
        std::fs::write(&original, b"x").expect("write");
        let link = other_fs.path().join("00000000.log");
        let err = FsStore
            .hard_link(&original, &link)
            .expect_err("cross-device");
        assert!(matches!(err, StoreError::CrossDevice { .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("Invalid cross-device link"), "{text}");
        assert!(
            text.contains(&original.display().to_string())
                && text.contains(&link.display().to_string())
        );
        assert!(text.contains("--collector_datadir"), "{text}");
    }
}
