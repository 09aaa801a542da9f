//! A partition task's work dir, `<collector_datadir>/<tid>-<pid>/`, laid out as
//! OpenMLDB's collector lays it out:
//!
//! ```text
//! task.progress     the task (AddSyncTaskRequest, plain protobuf), rewritten atomically
//! task.state        the task's phase (active, finishing, dormant and why) and the
//!                   tablet's paths, JSON (see crate::record)
//! snapshot/         hard links of the files directly in the tablet's snapshot/, and its MANIFEST
//! snapshot/data/    hard links of the checkpoint named by that MANIFEST
//! snapshot.next/    a newer snapshot being linked, until it replaces snapshot/
//! binlog/           hard links of the tablet's NNNNNNNN.log files, same names
//! ```
//!
//! Hard links keep the tablet's files alive after the tablet deletes them (a
//! newer snapshot, binlog garbage collection), so the collector can always
//! read back to the point SyncTool has *committed*; files entirely before that
//! point are released with [`WorkDir::release_binlogs_before`], the snapshot
//! with [`WorkDir::release_snapshot`]. A linked snapshot is only ever
//! replaced whole: the tablet's newer one is linked into `snapshot.next/`
//! first ([`WorkDir::stage_snapshot`]) and takes the place of the old one
//! only when the caller adopts it ([`WorkDir::adopt_staged_snapshot`]), so a
//! snapshot still needed is never lost half-way. Linking is idempotent: a link
//! that exists already is fine (the timer's linker and a preparation may
//! link the same new file). Links need the work dir on the tablet data's
//! filesystem; otherwise linking fails with the clear cross-device error of
//! [`sync_infra::store::StoreError::CrossDevice`].

use std::path::{Path, PathBuf};

use prost::Message;
use sync_core::binlog::parse_binlog_file_name;
use sync_core::manifest::{ManifestError, format_manifest, parse_manifest};
use sync_core::proto::api::Manifest;
use sync_core::proto::datasync::AddSyncTaskRequest;
use sync_infra::store::{LocalStore, StoreError};

use crate::status::LinksHeld;

pub const PROGRESS_FILE: &str = "task.progress";
pub const STATE_FILE: &str = "task.state";
pub const SNAPSHOT_DIR: &str = "snapshot";
pub const STAGED_SNAPSHOT_DIR: &str = "snapshot.next";
pub const CHECKPOINT_DIR: &str = "data";
pub const BINLOG_DIR: &str = "binlog";
pub const MANIFEST_FILE: &str = "MANIFEST";

#[derive(Debug, thiserror::Error)]
pub enum WorkDirError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{path}: {source}")]
    Manifest {
        path: PathBuf,
        source: ManifestError,
    },
    #[error("{path}: the MANIFEST names no checkpoint")]
    ManifestWithoutName { path: PathBuf },
    #[error("{path}: not a valid task progress record: {source}")]
    BadProgress {
        path: PathBuf,
        source: prost::DecodeError,
    },
    #[error("tablet binlog directory {0} does not exist")]
    NoTabletBinlogDir(PathBuf),
    #[error("{path}: not a valid task state record: {source}")]
    State {
        path: PathBuf,
        source: serde_json::Error,
    },
}

/// The snapshot linked into a work dir.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkedSnapshot {
    pub manifest: Manifest,
    /// The hard-linked checkpoint (`<task dir>/snapshot/data`).
    pub checkpoint_dir: PathBuf,
}

/// The work dirs under `collector_datadir`.
#[derive(Debug, Clone)]
pub struct WorkDir<S> {
    store: S,
    root: PathBuf,
}

impl<S: LocalStore> WorkDir<S> {
    pub fn new(store: S, root: PathBuf) -> Self {
        Self { store, root }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// `<root>/<tid>-<pid>`.
    pub fn task_dir(&self, tid: u32, pid: u32) -> PathBuf {
        self.root.join(format!("{tid}-{pid}"))
    }

    pub fn binlog_dir(&self, tid: u32, pid: u32) -> PathBuf {
        self.task_dir(tid, pid).join(BINLOG_DIR)
    }

    /// Persists a task atomically (creating its dir).
    pub fn save_task(&self, task: &AddSyncTaskRequest) -> Result<(), WorkDirError> {
        let dir = self.task_dir(task.tid(), task.pid());
        self.store.create_dir_all(&dir)?;
        self.store
            .write_atomic(&dir.join(PROGRESS_FILE), &task.encode_to_vec())?;
        Ok(())
    }

    /// The persisted tasks, and the dirs that could not be read (with why).
    /// Entries that are not directories, or hold no progress file, are skipped.
    pub fn load_tasks(&self) -> Result<(Vec<AddSyncTaskRequest>, Vec<WorkDirError>), WorkDirError> {
        self.store.create_dir_all(&self.root)?;
        let mut tasks = Vec::new();
        let mut unreadable = Vec::new();
        for entry in self.store.list_dir(&self.root)? {
            if !entry.is_dir {
                continue;
            }
            let path = self.root.join(&entry.name).join(PROGRESS_FILE);
            match self.store.read(&path) {
                Ok(Some(bytes)) => match AddSyncTaskRequest::decode(bytes.as_slice()) {
                    Ok(task) => tasks.push(task),
                    Err(source) => unreadable.push(WorkDirError::BadProgress { path, source }),
                },
                Ok(None) => {}
                Err(err) => unreadable.push(err.into()),
            }
        }
        Ok((tasks, unreadable))
    }

    /// Removes a task's work dir and everything linked in it.
    pub fn remove_task(&self, tid: u32, pid: u32) -> Result<(), WorkDirError> {
        Ok(self.store.remove_dir_all(&self.task_dir(tid, pid))?)
    }

    /// The snapshot currently linked for a task, if any.
    pub fn linked_snapshot(
        &self,
        tid: u32,
        pid: u32,
    ) -> Result<Option<LinkedSnapshot>, WorkDirError> {
        let dir = self.task_dir(tid, pid).join(SNAPSHOT_DIR);
        Ok(self
            .read_manifest(&dir.join(MANIFEST_FILE))?
            .map(|manifest| LinkedSnapshot {
                manifest,
                checkpoint_dir: dir.join(CHECKPOINT_DIR),
            }))
    }

    /// The tablet's current snapshot: its MANIFEST, or `None` when it has no
    /// usable snapshot (no MANIFEST, or one with count 0, as OpenMLDB treats
    /// it: the partition is then read from the binlog).
    pub fn tablet_snapshot(
        &self,
        tablet_snapshot_dir: &Path,
    ) -> Result<Option<Manifest>, WorkDirError> {
        let manifest_path = tablet_snapshot_dir.join(MANIFEST_FILE);
        let Some(manifest) = self.read_manifest(&manifest_path)? else {
            return Ok(None);
        };
        if manifest.name.as_deref().is_none_or(str::is_empty) {
            return Err(WorkDirError::ManifestWithoutName {
                path: manifest_path,
            });
        }
        Ok((manifest.count() > 0).then_some(manifest))
    }

    /// Links the tablet's current snapshot into `snapshot.next/` (replacing
    /// an earlier staged one), leaving the linked `snapshot/` as it is.
    /// `None` when the tablet has no usable snapshot.
    pub fn stage_snapshot(
        &self,
        tid: u32,
        pid: u32,
        tablet_snapshot_dir: &Path,
    ) -> Result<Option<LinkedSnapshot>, WorkDirError> {
        let Some(manifest) = self.tablet_snapshot(tablet_snapshot_dir)? else {
            return Ok(None);
        };
        let name = manifest.name().to_string();
        let dest = self.task_dir(tid, pid).join(STAGED_SNAPSHOT_DIR);
        self.store.remove_dir_all(&dest)?;
        let checkpoint_dir = dest.join(CHECKPOINT_DIR);
        self.store.create_dir_all(&checkpoint_dir)?;
        self.link_files(&tablet_snapshot_dir.join(&name), &checkpoint_dir, |_| true)?;
        self.link_files(tablet_snapshot_dir, &dest, |file| file != MANIFEST_FILE)?;
        // The MANIFEST last, and as read rather than linked: the tablet may have
        // replaced its MANIFEST since, and ours must describe the linked checkpoint.
        // A linked MANIFEST thus always means a complete checkpoint.
        self.store.write_atomic(
            &dest.join(MANIFEST_FILE),
            format_manifest(&manifest).as_bytes(),
        )?;
        Ok(Some(LinkedSnapshot {
            manifest,
            checkpoint_dir,
        }))
    }

    /// Makes the staged snapshot the linked one (the old links go).
    pub fn adopt_staged_snapshot(
        &self,
        tid: u32,
        pid: u32,
    ) -> Result<Option<LinkedSnapshot>, WorkDirError> {
        let dir = self.task_dir(tid, pid);
        let staged = dir.join(STAGED_SNAPSHOT_DIR);
        if self.read_manifest(&staged.join(MANIFEST_FILE))?.is_none() {
            return Ok(None);
        }
        let linked = dir.join(SNAPSHOT_DIR);
        self.store.remove_dir_all(&linked)?;
        self.store.rename(&staged, &linked)?;
        self.linked_snapshot(tid, pid)
    }

    /// Drops a staged snapshot that is not used.
    pub fn discard_staged_snapshot(&self, tid: u32, pid: u32) -> Result<(), WorkDirError> {
        Ok(self
            .store
            .remove_dir_all(&self.task_dir(tid, pid).join(STAGED_SNAPSHOT_DIR))?)
    }

    /// Unlinks the linked snapshot (every row the part needs from it is
    /// committed); true if there was one.
    pub fn release_snapshot(&self, tid: u32, pid: u32) -> Result<bool, WorkDirError> {
        let dir = self.task_dir(tid, pid);
        let had = self.linked_snapshot(tid, pid)?.is_some();
        self.store.remove_dir_all(&dir.join(SNAPSHOT_DIR))?;
        self.store.remove_dir_all(&dir.join(STAGED_SNAPSHOT_DIR))?;
        Ok(had)
    }

    /// Links the tablet's binlog files that are not linked yet (including any
    /// released before); returns the file indexes newly linked, in order.
    pub fn link_new_binlogs(
        &self,
        tid: u32,
        pid: u32,
        tablet_binlog_dir: &Path,
    ) -> Result<Vec<u64>, WorkDirError> {
        self.link_binlogs(tid, pid, tablet_binlog_dir, false)
    }

    /// Links the tablet's binlog files newer than the newest linked one (what
    /// the tablet wrote since), leaving released files released.
    pub fn link_newer_binlogs(
        &self,
        tid: u32,
        pid: u32,
        tablet_binlog_dir: &Path,
    ) -> Result<Vec<u64>, WorkDirError> {
        self.link_binlogs(tid, pid, tablet_binlog_dir, true)
    }

    fn link_binlogs(
        &self,
        tid: u32,
        pid: u32,
        tablet_binlog_dir: &Path,
        only_newer: bool,
    ) -> Result<Vec<u64>, WorkDirError> {
        let tablet_files = match self.store.list_files(tablet_binlog_dir) {
            Ok(entries) => entries,
            Err(StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                return Err(WorkDirError::NoTabletBinlogDir(
                    tablet_binlog_dir.to_path_buf(),
                ));
            }
            Err(err) => return Err(err.into()),
        };
        let dest = self.binlog_dir(tid, pid);
        // Made once: a linker lists it every tick.
        let linked: std::collections::BTreeSet<String> = match self.store.list_files(&dest) {
            Ok(names) => names.into_iter().collect(),
            Err(StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                self.store.create_dir_all(&dest)?;
                Default::default()
            }
            Err(err) => return Err(err.into()),
        };
        let newest = if only_newer {
            linked
                .iter()
                .filter_map(|n| parse_binlog_file_name(n))
                .max()
        } else {
            None
        };
        let mut new_files = Vec::new();
        for name in tablet_files {
            let Some(index) = parse_binlog_file_name(&name) else {
                continue;
            };
            if linked.contains(&name) || newest.is_some_and(|n| index <= n) {
                continue;
            }
            match self.link(&tablet_binlog_dir.join(&name), &dest.join(&name)) {
                Ok(true) => new_files.push(index),
                Ok(false) => {}
                // Deleted by the tablet since it was listed: it is gone, and
                // the tailer reports the hole if the part needed it.
                Err(WorkDirError::Store(StoreError::Io { source, .. }))
                    if source.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => return Err(err),
            }
        }
        Ok(new_files)
    }

    /// The binlog files linked for a task: (file index, size), by index.
    pub fn linked_binlogs(&self, tid: u32, pid: u32) -> Result<Vec<(u64, u64)>, WorkDirError> {
        let dir = self.binlog_dir(tid, pid);
        let entries = match self.store.list_dir(&dir) {
            Ok(entries) => entries,
            Err(StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                Vec::new()
            }
            Err(err) => return Err(err.into()),
        };
        let mut files: Vec<(u64, u64)> = entries
            .into_iter()
            .filter(|e| !e.is_dir)
            .filter_map(|e| parse_binlog_file_name(&e.name).map(|i| (i, e.len)))
            .collect();
        files.sort_unstable();
        Ok(files)
    }

    /// What the work dir of a task holds (for the status page).
    pub fn held_links(&self, tid: u32, pid: u32) -> Result<LinksHeld, WorkDirError> {
        let binlogs = self.linked_binlogs(tid, pid)?;
        let snapshot = self
            .linked_snapshot(tid, pid)?
            .map(|s| format!("{}@{}", s.manifest.name(), s.manifest.offset()));
        Ok(LinksHeld {
            binlog_files: binlogs.len(),
            binlog_first_file: binlogs.first().map(|(i, _)| *i),
            binlog_last_file: binlogs.last().map(|(i, _)| *i),
            snapshot,
        })
    }

    /// Unlinks binlog files with an index below `keep_from` (files wholly
    /// before the committed point); returns how many were released.
    pub fn release_binlogs_before(
        &self,
        tid: u32,
        pid: u32,
        keep_from: u64,
    ) -> Result<usize, WorkDirError> {
        let dir = self.binlog_dir(tid, pid);
        let mut released = 0;
        for (index, _) in self.linked_binlogs(tid, pid)? {
            if index >= keep_from {
                break;
            }
            self.store
                .remove_file(&dir.join(sync_core::binlog::binlog_file_name(index)))?;
            released += 1;
        }
        Ok(released)
    }

    fn read_manifest(&self, path: &Path) -> Result<Option<Manifest>, WorkDirError> {
        let Some(bytes) = self.store.read(path)? else {
            return Ok(None);
        };
        let text = String::from_utf8_lossy(&bytes);
        parse_manifest(&text)
            .map(Some)
            .map_err(|source| WorkDirError::Manifest {
                path: path.to_path_buf(),
                source,
            })
    }

    /// Links every regular file directly in `from` into `to` (not recursive).
    fn link_files(
        &self,
        from: &Path,
        to: &Path,
        keep: impl Fn(&str) -> bool,
    ) -> Result<(), WorkDirError> {
        for entry in self.store.list_dir(from)? {
            if entry.is_dir || !keep(&entry.name) {
                continue;
            }
            self.link(&from.join(&entry.name), &to.join(&entry.name))?;
        }
        Ok(())
    }

    /// Hard-links `original` as `link`; false when `link` exists already.
    fn link(&self, original: &Path, link: &Path) -> Result<bool, WorkDirError> {
        match self.store.hard_link(original, link) {
            Ok(()) => Ok(true),
            Err(StoreError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::AlreadyExists =>
            {
                Ok(false)
            }
            Err(err) => Err(err.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sync_core::binlog::binlog_file_name;
    use sync_core::manifest::format_manifest;
    use sync_infra::store::FsStore;

    struct Fixture {
        _dir: tempfile::TempDir,
        tablet: PathBuf,
        work: WorkDir<FsStore>,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let tablet = dir.path().join("db/1_0");
        std::fs::create_dir_all(tablet.join("binlog")).expect("mkdir");
        let work = WorkDir::new(FsStore, dir.path().join("collector"));
        Fixture {
            tablet,
            work,
            _dir: dir,
        }
    }

    fn write_snapshot(tablet: &Path, name: &str, offset: u64, count: u64) {
        let snap = tablet.join("snapshot");
        std::fs::create_dir_all(snap.join(name)).expect("mkdir");
        std::fs::write(snap.join(name).join("000001.sst"), name.as_bytes()).expect("sst");
        std::fs::write(snap.join(name).join("CURRENT"), b"MANIFEST-1\n").expect("current");
        let manifest = Manifest {
            offset: Some(offset),
            name: Some(name.into()),
            count: Some(count),
            term: Some(1),
        };
        std::fs::write(snap.join("MANIFEST"), format_manifest(&manifest)).expect("manifest");
    }

    #[test]
    fn a_staged_snapshot_replaces_the_linked_one_only_when_adopted() {
        let f = fixture();
        let snap = f.tablet.join("snapshot");
        assert_eq!(
            f.work.stage_snapshot(1, 0, &snap).expect("no snapshot"),
            None
        );

        write_snapshot(&f.tablet, "202611251300", 10, 5);
        let staged = f
            .work
            .stage_snapshot(1, 0, &snap)
            .expect("link")
            .expect("staged");
        assert_eq!(staged.manifest.offset(), 10);
        assert_eq!(f.work.linked_snapshot(1, 0).expect("read"), None);
        let linked = f
            .work
            .adopt_staged_snapshot(1, 0)
            .expect("adopt")
            .expect("linked");
        assert_eq!(linked.manifest.offset(), 10);
        assert_eq!(
            std::fs::read(linked.checkpoint_dir.join("000001.sst")).expect("sst"),
            b"202611251300"
        );
        assert_eq!(
            f.work.linked_snapshot(1, 0).expect("read"),
            Some(linked.clone())
        );

        // The tablet replaces its snapshot and deletes the old checkpoint:
        // staging the new one leaves the old links until it is adopted.
        std::fs::remove_dir_all(f.tablet.join("snapshot/202611251300")).expect("gc");
        write_snapshot(&f.tablet, "202611251400", 20, 7);
        let staged = f
            .work
            .stage_snapshot(1, 0, &snap)
            .expect("link")
            .expect("staged");
        assert_eq!(staged.manifest.offset(), 20);
        assert_eq!(
            f.work.linked_snapshot(1, 0).expect("read"),
            Some(linked.clone())
        );
        assert_eq!(
            std::fs::read(linked.checkpoint_dir.join("000001.sst")).expect("old sst"),
            b"202611251300"
        );
        f.work.discard_staged_snapshot(1, 0).expect("discard");
        assert_eq!(f.work.adopt_staged_snapshot(1, 0).expect("nothing"), None);
        assert_eq!(f.work.linked_snapshot(1, 0).expect("read"), Some(linked));

        f.work.stage_snapshot(1, 0, &snap).expect("link");
        let relinked = f
            .work
            .adopt_staged_snapshot(1, 0)
            .expect("adopt")
            .expect("linked");
        assert_eq!(relinked.manifest.offset(), 20);
        assert_eq!(
            std::fs::read(relinked.checkpoint_dir.join("000001.sst")).expect("sst"),
            b"202611251400"
        );
        assert!(f.work.release_snapshot(1, 0).expect("release"));
        assert_eq!(f.work.linked_snapshot(1, 0).expect("read"), None);
        assert!(!f.work.release_snapshot(1, 0).expect("again"));
    }

    #[test]
    fn an_empty_snapshot_is_read_from_the_binlog() {
        let f = fixture();
        let snap = f.tablet.join("snapshot");
        write_snapshot(&f.tablet, "202611251300", 0, 0);
        assert_eq!(f.work.tablet_snapshot(&snap).expect("count 0"), None);
        assert_eq!(f.work.stage_snapshot(1, 0, &snap).expect("count 0"), None);
        std::fs::write(snap.join("MANIFEST"), "offset: 3\n").expect("manifest");
        let err = f.work.stage_snapshot(1, 0, &snap).expect_err("no name");
        assert!(
            matches!(err, WorkDirError::ManifestWithoutName { .. }),
            "{err}"
        );
        std::fs::write(snap.join("MANIFEST"), "offset: x\n").expect("manifest");
        let err = f.work.stage_snapshot(1, 0, &snap).expect_err("bad");
        assert!(err.to_string().contains("MANIFEST"), "{err}");
    }

    #[test]
    fn binlogs_are_linked_as_they_appear_and_released_before_the_committed_file() {
        let f = fixture();
        let tablet_binlog = f.tablet.join("binlog");
        for i in 0..2 {
            std::fs::write(tablet_binlog.join(binlog_file_name(i)), [i as u8; 3]).expect("log");
        }
        std::fs::write(tablet_binlog.join("README"), b"not a log").expect("other file");
        assert_eq!(
            f.work.link_new_binlogs(1, 0, &tablet_binlog).expect("link"),
            vec![0, 1]
        );
        assert_eq!(
            f.work
                .link_new_binlogs(1, 0, &tablet_binlog)
                .expect("again"),
            Vec::<u64>::new()
        );
        std::fs::write(tablet_binlog.join(binlog_file_name(2)), [2u8; 5]).expect("log");
        // The tablet deletes its oldest file: our link keeps it.
        std::fs::remove_file(tablet_binlog.join(binlog_file_name(0))).expect("gc");
        assert_eq!(
            f.work.link_new_binlogs(1, 0, &tablet_binlog).expect("link"),
            vec![2]
        );
        assert_eq!(
            f.work.linked_binlogs(1, 0).expect("list"),
            vec![(0, 3), (1, 3), (2, 5)]
        );

        assert_eq!(f.work.release_binlogs_before(1, 0, 2).expect("release"), 2);
        assert_eq!(f.work.linked_binlogs(1, 0).expect("list"), vec![(2, 5)]);
        // Following the tablet leaves released files released...
        std::fs::write(tablet_binlog.join(binlog_file_name(3)), [3u8; 1]).expect("log");
        assert_eq!(
            f.work
                .link_newer_binlogs(1, 0, &tablet_binlog)
                .expect("newer"),
            vec![3]
        );
        // ...a full relink (a new assignment) takes back what the tablet still has.
        assert_eq!(
            f.work.link_new_binlogs(1, 0, &tablet_binlog).expect("all"),
            vec![1]
        );

        let err = f
            .work
            .link_new_binlogs(1, 0, &f.tablet.join("missing"))
            .expect_err("no dir");
        assert!(matches!(err, WorkDirError::NoTabletBinlogDir(_)), "{err}");
    }

    #[test]
    fn tasks_persist_and_bad_records_are_reported() {
        let f = fixture();
        let task = AddSyncTaskRequest {
            tid: Some(1),
            pid: Some(0),
            token: Some("t-1".into()),
            ..AddSyncTaskRequest::default()
        };
        f.work.save_task(&task).expect("save");
        std::fs::create_dir_all(f.work.task_dir(2, 0)).expect("mkdir");
        std::fs::write(f.work.task_dir(2, 0).join(PROGRESS_FILE), [0xff, 0xff]).expect("garbage");
        std::fs::create_dir_all(f.work.task_dir(3, 0)).expect("dir without progress");
        let (tasks, unreadable) = f.work.load_tasks().expect("load");
        assert_eq!(tasks, vec![task]);
        assert_eq!(unreadable.len(), 1);
        assert!(
            unreadable[0].to_string().contains("2-0"),
            "{}",
            unreadable[0]
        );
        f.work.remove_task(1, 0).expect("remove");
        assert!(f.work.load_tasks().expect("load").0.is_empty());
    }
}
