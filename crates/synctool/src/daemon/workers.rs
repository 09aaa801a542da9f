//! Sink workers: one ordered worker task per partition, so a partition's
//! stage, commit and clear steps reach the store in the order the supervisor
//! issued them while different partitions proceed in parallel. Results go
//! back to the drive loop as [`Input::Staged`] / [`Input::Committed`].

use std::collections::HashMap;
use std::sync::Arc;

use sync_core::task::{CommitSegment, Input, StageSegment};
use tokio::sync::mpsc;
use tracing::warn;

use super::drive::Command;
use super::segment_store::{ClearStaging, SegmentStore};

enum Job {
    Stage(StageSegment),
    Commit(CommitSegment),
    Clear(ClearStaging),
}

/// The workers, by (tid, pid).
pub struct Workers {
    store: Arc<dyn SegmentStore>,
    commands: mpsc::WeakSender<Command>,
    queues: HashMap<(u32, u32), mpsc::UnboundedSender<Job>>,
}

impl Workers {
    /// No workers yet; they start on first use.
    pub fn new(store: Arc<dyn SegmentStore>, commands: mpsc::WeakSender<Command>) -> Self {
        Self {
            store,
            commands,
            queues: HashMap::new(),
        }
    }

    /// Queues a stage step.
    pub fn stage(&mut self, s: StageSegment) {
        self.push(s.id.tid, s.id.pid, Job::Stage(s));
    }

    /// Queues a commit step.
    pub fn commit(&mut self, c: CommitSegment) {
        self.push(c.id.tid, c.id.pid, Job::Commit(c));
    }

    /// Queues a clear step.
    pub fn clear(&mut self, c: ClearStaging) {
        self.push(c.tid, c.pid, Job::Clear(c));
    }

    /// Lets the workers of tables without a task end (after their queued jobs).
    pub fn retain_tables(&mut self, keep: impl Fn(u32) -> bool) {
        self.queues.retain(|(tid, _), _| keep(*tid));
    }

    fn push(&mut self, tid: u32, pid: u32, job: Job) {
        let job = match self.queues.get(&(tid, pid)) {
            Some(q) => match q.send(job) {
                Ok(()) => return,
                Err(mpsc::error::SendError(job)) => job,
            },
            None => job,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(Arc::clone(&self.store), rx, self.commands.clone()));
        // The receiver was just created and is held by the spawned task.
        let _ = tx.send(job);
        self.queues.insert((tid, pid), tx);
    }
}

async fn run(
    store: Arc<dyn SegmentStore>,
    mut rx: mpsc::UnboundedReceiver<Job>,
    commands: mpsc::WeakSender<Command>,
) {
    while let Some(job) = rx.recv().await {
        let input = match job {
            Job::Stage(s) => {
                let result = store.stage(&s).await.map_err(|e| e.to_string());
                if let Err(e) = &result {
                    warn!(segment = %s.id.name(), dest = %s.dest, "stage failed: {e}");
                }
                Input::Staged { id: s.id, result }
            }
            Job::Commit(c) => {
                let result = store.commit(&c).await.map_err(|e| e.to_string());
                if let Err(e) = &result {
                    warn!(segment = %c.id.name(), dest = %c.dest, "commit failed: {e}");
                }
                Input::Committed { id: c.id, result }
            }
            Job::Clear(c) => {
                if let Err(e) = store.clear_staging(&c).await {
                    warn!(tid = c.tid, pid = c.pid, dest = %c.dest, "clearing staging failed: {e}");
                }
                continue;
            }
        };
        let Some(tx) = commands.upgrade() else { return };
        if tx
            .send(Command::Input { input, reply: None })
            .await
            .is_err()
        {
            return;
        }
    }
}
