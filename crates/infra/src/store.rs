//! The [`LocalStore`] seam: the local-file operations the daemons need (the
//! collector's hard-linked work dirs, persisted task state), so that the
//! simulation can run the same code over a store that loses unsynced writes
//! on a crash. [`FsStore`] is the real filesystem.
//!
//! `write_atomic` is temp file + fsync + rename + fsync of the directory: after
//! it returns, a crash leaves either the old or the new content, never a torn
//! file. A hard link across filesystems fails with
//! [`StoreError::CrossDevice`], whose message names both paths and the fix.
//!
//! [`LocalStore::dir_stamp`] lets a poller of a directory (the collector's
//! binlog tailer and linker, thousands of them at once) skip listing it while
//! nothing was added to or removed from it.

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

/// What a directory's entries were at some moment: two equal stamps of a
/// directory mean that no entry was added, removed or renamed in between
/// (nor was the directory created, if it was absent). Only handed out once
/// that is certain ([`FsStore`]: the modification time has settled, see
/// [`SETTLED`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirStamp(Option<DirVersion>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DirVersion {
    device: u64,
    inode: u64,
    modified_ns: i128,
}

impl DirStamp {
    /// The stamp of a directory that does not exist (creating it changes
    /// the stamp).
    pub const ABSENT: DirStamp = DirStamp(None);
}

/// Remembers the stamps of the directories a poller listed, so that it
/// lists them again only after one changed.
#[derive(Debug, Clone, Default)]
pub struct DirWatch {
    listed: Option<Vec<DirStamp>>,
    looked: Option<Vec<DirStamp>>,
}

impl DirWatch {
    /// Whether `dirs` are as they were at the last [`DirWatch::listed`];
    /// takes their stamps first, so call this before listing them. A stamp
    /// that cannot be had counts as a change.
    pub fn unchanged<S: LocalStore + ?Sized>(&mut self, store: &S, dirs: &[&Path]) -> bool {
        self.looked = dirs
            .iter()
            .map(|dir| store.dir_stamp(dir).ok().flatten())
            .collect();
        self.looked.is_some() && self.looked == self.listed
    }

    /// What `dirs` held at the last [`DirWatch::unchanged`] has been seen
    /// in full (the listing after it succeeded).
    pub fn listed(&mut self) {
        self.listed = self.looked.take();
    }

    /// The next [`DirWatch::unchanged`] says changed.
    pub fn forget(&mut self) {
        self.listed = None;
    }
}

/// How old a directory's modification time must be before [`FsStore`]
/// trusts it as a stamp: coarser than any filesystem's timestamp
/// granularity (ext4 takes them from a coarse clock; some keep whole
/// seconds), so a change after the stamp always moves the time.
pub const SETTLED: std::time::Duration = std::time::Duration::from_secs(2);

/// Local file operations, as the daemons use them.
pub trait LocalStore: Send + Sync + 'static {
    /// A stamp of the directory's entries ([`DirStamp::ABSENT`] if it does
    /// not exist), or `None` when none can be given (just changed, not a
    /// directory, or not supported): then list it.
    fn dir_stamp(&self, path: &Path) -> Result<Option<DirStamp>, StoreError> {
        let _ = path;
        Ok(None)
    }
    fn create_dir_all(&self, path: &Path) -> Result<(), StoreError>;
    /// Entries of a directory sorted by name; an absent directory is an error.
    fn list_dir(&self, path: &Path) -> Result<Vec<DirEntry>, StoreError>;
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
    fn dir_stamp(&self, path: &Path) -> Result<Option<DirStamp>, StoreError> {
        use std::os::unix::fs::MetadataExt;
        let meta = match std::fs::metadata(path) {
            Ok(meta) => meta,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Some(DirStamp::ABSENT));
            }
            Err(err) => return Err(StoreError::io("stat", path)(err)),
        };
        let modified_ns = i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec());
        let now_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i128);
        // A time in the future (the clock went back) is not trusted either.
        let settled = now_ns - modified_ns >= SETTLED.as_nanos() as i128;
        Ok(
            (meta.is_dir() && settled).then_some(DirStamp(Some(DirVersion {
                device: meta.dev(),
                inode: meta.ino(),
                modified_ns,
            }))),
        )
    }

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
            let meta = entry
                .metadata()
                .map_err(StoreError::io("stat", &entry.path()))?;
            entries.push(DirEntry {
                name,
                is_dir: meta.is_dir(),
                len: meta.len(),
            });
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
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

    /// Sets `dir`'s modification time `seconds_ago`.
    fn age(dir: &Path, seconds_ago: u64) {
        let when = std::time::SystemTime::now() - std::time::Duration::from_secs(seconds_ago);
        std::fs::File::open(dir)
            .and_then(|d| d.set_modified(when))
            .expect("set the directory's mtime");
    }

    #[test]
    fn a_dir_stamp_changes_with_the_entries_and_only_once_settled() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = root.path().join("binlog");
        assert_eq!(
            FsStore.dir_stamp(&dir).expect("stamp"),
            Some(DirStamp::ABSENT)
        );
        std::fs::create_dir(&dir).expect("mkdir");
        assert_eq!(
            FsStore.dir_stamp(&dir).expect("stamp"),
            None,
            "just created"
        );
        age(&dir, 10);
        let first = FsStore.dir_stamp(&dir).expect("stamp").expect("settled");
        assert_ne!(first, DirStamp::ABSENT);
        assert_eq!(FsStore.dir_stamp(&dir).expect("stamp"), Some(first));
        std::fs::write(dir.join("00000001.log"), b"x").expect("write");
        assert_eq!(
            FsStore.dir_stamp(&dir).expect("stamp"),
            None,
            "just changed"
        );
        age(&dir, 5);
        let second = FsStore.dir_stamp(&dir).expect("stamp").expect("settled");
        assert_ne!(second, first);
        // Appending to a file does not change its directory's entries.
        std::fs::write(dir.join("00000001.log"), b"xy").expect("write");
        assert_eq!(FsStore.dir_stamp(&dir).expect("stamp"), Some(second));
        let file = dir.join("00000001.log");
        assert_eq!(FsStore.dir_stamp(&file).expect("stamp"), None, "a file");
    }

    #[test]
    fn a_dir_watch_says_unchanged_only_after_a_listing_of_the_same_stamps() {
        let root = tempfile::tempdir().expect("tempdir");
        let (a, b) = (root.path().join("a"), root.path().join("b"));
        std::fs::create_dir(&a).expect("mkdir");
        age(&a, 10);
        let mut watch = DirWatch::default();
        assert!(!watch.unchanged(&FsStore, &[&a, &b]), "never listed");
        assert!(!watch.unchanged(&FsStore, &[&a, &b]), "looked, not listed");
        watch.listed();
        assert!(watch.unchanged(&FsStore, &[&a, &b]));
        std::fs::create_dir(&b).expect("mkdir");
        assert!(!watch.unchanged(&FsStore, &[&a, &b]), "b was created");
        age(&b, 10);
        assert!(
            !watch.unchanged(&FsStore, &[&a, &b]),
            "b settled, not listed"
        );
        watch.listed();
        assert!(watch.unchanged(&FsStore, &[&a, &b]));
        watch.forget();
        assert!(!watch.unchanged(&FsStore, &[&a, &b]), "forgotten");
        watch.listed();
        std::fs::write(a.join("x"), b"x").expect("write");
        assert!(!watch.unchanged(&FsStore, &[&a, &b]), "a changed");
        watch.listed();
        assert!(
            !watch.unchanged(&FsStore, &[&a, &b]),
            "a unsettled: no stamp to keep"
        );
    }

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
