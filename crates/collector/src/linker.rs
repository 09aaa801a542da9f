//! Links the binlog files the tablet writes, on a timer, in every phase of a
//! task (preparing, a long snapshot read, tailing, dormant): about every
//! `link_interval` it hard-links the files newer than the newest one linked,
//! so the tablet's binlog GC can never take a file the part has not read.
//! It runs beside the reader and never waits for it. Files released before
//! stay released (a full relink is the preparation's job).
//!
//! The tablet's binlog dir is known once `GetTableStatus` answered (or from
//! the task's record, before that). Each tick also refreshes the links the
//! status page shows.

use std::path::PathBuf;
use std::time::Duration;

use sync_infra::store::LocalStore;
use tokio::sync::watch;
use tracing::{debug, warn};

use crate::status::SharedStatus;
use crate::workdir::WorkDir;

/// A running linker; [`Linker::stop`] ends it.
pub struct Linker {
    binlog_dir: watch::Sender<Option<PathBuf>>,
    task: tokio::task::JoinHandle<()>,
}

impl Linker {
    /// Starts linking `tablet_binlog_dir` (when known) into the task's work dir.
    pub fn start<S: LocalStore + Clone>(
        work: WorkDir<S>,
        tid: u32,
        pid: u32,
        tablet_binlog_dir: Option<PathBuf>,
        interval: Duration,
        status: SharedStatus,
    ) -> Self {
        let (binlog_dir, mut dir) = watch::channel(tablet_binlog_dir);
        let task = tokio::spawn(async move {
            let mut last_error: Option<String> = None;
            loop {
                let current = dir.borrow_and_update().clone();
                if let Some(tablet_dir) = current {
                    match work.link_newer_binlogs(tid, pid, &tablet_dir) {
                        Ok(files) if !files.is_empty() => {
                            debug!(tid, pid, ?files, "linked new binlog files");
                            last_error = None;
                        }
                        Ok(_) => last_error = None,
                        Err(e) => {
                            let text = e.to_string();
                            if last_error.as_deref() != Some(text.as_str()) {
                                warn!(tid, pid, "cannot link new binlog files: {text}");
                            }
                            last_error = Some(text);
                        }
                    }
                }
                if let Ok(links) = work.held_links(tid, pid) {
                    status.lock().links = links;
                }
                tokio::select! {
                    _ = tokio::time::sleep(interval) => {}
                    changed = dir.changed() => if changed.is_err() { return },
                }
            }
        });
        Self { binlog_dir, task }
    }

    /// The tablet's binlog dir (as `GetTableStatus` gave it).
    pub fn set_binlog_dir(&self, dir: PathBuf) {
        self.binlog_dir.send_if_modified(|current| {
            let changed = current.as_ref() != Some(&dir);
            *current = Some(dir);
            changed
        });
    }

    /// Stops linking; returns once no link is being made.
    pub async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::TaskStatus;
    use sync_core::binlog::binlog_file_name;
    use sync_infra::store::FsStore;

    fn status() -> SharedStatus {
        SharedStatus::new(TaskStatus {
            tid: 1,
            ..TaskStatus::default()
        })
    }

    #[tokio::test]
    async fn links_new_files_on_the_timer_once_the_dir_is_known() {
        let dir = tempfile::tempdir().expect("tempdir");
        let tablet = dir.path().join("binlog");
        std::fs::create_dir_all(&tablet).expect("mkdir");
        std::fs::write(tablet.join(binlog_file_name(0)), b"x").expect("log");
        let work = WorkDir::new(FsStore, dir.path().join("collector"));
        let status = status();
        let linker = Linker::start(
            work.clone(),
            1,
            0,
            None,
            Duration::from_millis(20),
            status.clone(),
        );
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(
            work.linked_binlogs(1, 0).expect("list").is_empty(),
            "no dir known yet"
        );
        linker.set_binlog_dir(tablet.clone());
        std::fs::write(tablet.join(binlog_file_name(1)), b"y").expect("log");
        for _ in 0..100 {
            if work.linked_binlogs(1, 0).expect("list").len() == 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(work.linked_binlogs(1, 0).expect("list").len(), 2);
        std::fs::write(tablet.join(binlog_file_name(2)), b"z").expect("log");
        std::fs::remove_file(tablet.join(binlog_file_name(0))).expect("gc");
        tokio::time::sleep(Duration::from_millis(100)).await;
        linker.stop().await;
        assert_eq!(
            work.linked_binlogs(1, 0)
                .expect("list")
                .iter()
                .map(|(i, _)| *i)
                .collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
        assert_eq!(status.lock().links.binlog_files, 3);
    }
}
