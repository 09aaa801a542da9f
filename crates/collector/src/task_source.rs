//! A partition task's [`PackSource`]: the prepared packer over the task's
//! work dir. Each time it has caught up it links the binlog files the tablet
//! wrote since, so a continuous task follows the tablet; a rewind prepares
//! the task again from the point (the accepted point SyncTool holds).

use std::path::PathBuf;

use sync_core::point::Point;
use sync_core::proto::datasync::AddSyncTaskRequest;
use sync_infra::store::LocalStore;

use crate::packer::BuiltPack;
use crate::prepare::{Prepared, ReadContext, prepare};
use crate::sender::PackSource;
use crate::status::SharedStatus;
use crate::workdir::WorkDir;

/// Reads one partition task's packs.
pub struct TaskSource<S> {
    work: WorkDir<S>,
    task: AddSyncTaskRequest,
    ctx: ReadContext,
    prepared: Prepared,
    tablet_binlog_dir: PathBuf,
    link_due: bool,
    status: SharedStatus,
}

impl<S: LocalStore> TaskSource<S> {
    /// Reads `prepared` (made by [`prepare`] with the same `task` and `ctx`).
    pub fn new(
        work: WorkDir<S>,
        task: AddSyncTaskRequest,
        ctx: ReadContext,
        prepared: Prepared,
        status: SharedStatus,
    ) -> Self {
        let tablet_binlog_dir = PathBuf::from(&ctx.paths.binlog_path);
        Self {
            work,
            task,
            ctx,
            prepared,
            tablet_binlog_dir,
            link_due: false,
            status,
        }
    }

    fn describe(&self, err: impl std::fmt::Display) -> String {
        format!("tid {} pid {}: {err}", self.task.tid(), self.task.pid())
    }
}

impl<S: LocalStore + Clone> PackSource for TaskSource<S> {
    fn next_pack(&mut self) -> Result<BuiltPack, String> {
        if self.link_due {
            self.work
                .link_newer_binlogs(self.task.tid(), self.task.pid(), &self.tablet_binlog_dir)
                .map_err(|e| self.describe(e))?;
        }
        let pack = self
            .prepared
            .packer
            .next_pack(self.work.store(), &self.prepared.decoder)
            .map_err(|e| self.describe(e))?;
        self.link_due = pack.caught_up;
        self.status.lock().caught_up = pack.caught_up;
        Ok(pack)
    }

    fn rewind(&mut self, point: &Point) -> Result<(), String> {
        self.prepared =
            prepare(&self.work, &self.task, point, &self.ctx).map_err(|e| self.describe(e))?;
        self.link_due = false;
        Ok(())
    }
}
