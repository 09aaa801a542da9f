//! A partition task's [`PackSource`]: the prepared packer over the task's
//! work dir. Each time it has caught up it links the binlog files the tablet
//! wrote since (besides the timer's [`crate::linker`]), so a continuous task
//! follows the tablet without waiting for the next tick; a rewind prepares
//! the task again from the point (the accepted point SyncTool holds). Errors
//! are typed [`ReadFault`]s naming the partition.

use std::path::PathBuf;

use sync_core::point::Point;
use sync_core::proto::datasync::AddSyncTaskRequest;
use sync_infra::store::LocalStore;

use crate::fault::ReadFault;
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

    fn fault(&self, fault: ReadFault) -> ReadFault {
        fault.for_partition(self.task.tid(), self.task.pid())
    }
}

impl<S: LocalStore + Clone> PackSource for TaskSource<S> {
    fn next_pack(&mut self) -> Result<BuiltPack, ReadFault> {
        if self.link_due
            && let Err(e) = self.work.link_newer_binlogs(
                self.task.tid(),
                self.task.pid(),
                &self.tablet_binlog_dir,
            )
        {
            // The timer's linker keeps trying; reading what is linked goes on.
            tracing::warn!(
                tid = self.task.tid(),
                pid = self.task.pid(),
                "cannot link new binlog files: {e}"
            );
        }
        let pack = self
            .prepared
            .packer
            .next_pack(self.work.store(), &self.prepared.decoder)
            .map_err(|e| self.fault(ReadFault::from(&e)))?;
        self.link_due = pack.caught_up;
        self.status.lock().set_caught_up(pack.caught_up);
        Ok(pack)
    }

    /// Reads on without linking: linking lists the tablet's binlog dir, and
    /// the heartbeat's [`PackSource::next_pack`] and the timer's linker do
    /// it often enough.
    fn poll_tail(&mut self) -> Result<BuiltPack, ReadFault> {
        let link_due = std::mem::take(&mut self.link_due);
        let pack = self.next_pack();
        self.link_due = self.link_due || link_due;
        pack
    }

    fn rewind(&mut self, point: &Point) -> Result<(), ReadFault> {
        self.prepared = prepare(&self.work, &self.task, point, &self.ctx)
            .map_err(|e| self.fault(ReadFault::from(&e)))?;
        self.link_due = false;
        Ok(())
    }
}
