//! Sink workers: one ordered worker task per partition, so a partition's
//! stage, commit and clear steps reach the [`Sink`] in the order the
//! supervisor issued them while different partitions proceed in parallel.
//! Results go back to the drive loop as [`Input::Staged`] / [`Input::Committed`],
//! with the sink's error typed ([`SinkFailure`], transient or permanent).
//!
//! A stage needs the table's schema versions: each stage reads the table's
//! current `TableInfo` from the cluster (once per segment, so an `ALTER` is
//! seen, and every row is decoded with the schema version it names).
//! Releasing a destination's clients waits until every job queued before it
//! is done.
//!
//! With fencing (`FAULTS.md` §4) every stage and commit first checks the
//! segment's epoch against the cluster ([`super::fence`]): a stale epoch (another
//! SyncTool owns the part now) writes nothing and becomes
//! [`Input::PartLost`]; a cluster that cannot be asked is a transient
//! failure of the step, retried as any other.

use std::collections::HashMap;
use std::sync::Arc;

use sync_core::task::{CommitSegment, Input, SinkFailure, StageSegment};
use sync_sinks::{Sink, TableSchema};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

use super::drive::{Command, feed};
use super::fence::{EpochCheck, Fence, part_lost};
use super::metrics::Metrics;

/// Which staged segments to remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClearStaging {
    /// Destination root.
    pub dest: String,
    /// Table id.
    pub tid: u32,
    /// Partition id.
    pub pid: u32,
    /// Table task id.
    pub task_id: u64,
    /// First seq to clear.
    pub from_seq: u64,
}

enum Job {
    Stage(StageSegment),
    Commit(CommitSegment),
    Clear(ClearStaging),
    /// Answered once every job before it is done.
    Barrier(oneshot::Sender<()>),
}

/// The workers, by (tid, pid).
pub struct Workers {
    sink: Arc<dyn Sink>,
    fence: Fence,
    commands: mpsc::WeakSender<Command>,
    queues: HashMap<(u32, u32), mpsc::UnboundedSender<Job>>,
    metrics: Metrics,
}

impl Workers {
    /// No workers yet; they start on first use. Schemas come from the
    /// fence's cluster.
    pub fn new(
        sink: Arc<dyn Sink>,
        fence: Fence,
        commands: mpsc::WeakSender<Command>,
        metrics: Metrics,
    ) -> Self {
        Self {
            sink,
            fence,
            commands,
            queues: HashMap::new(),
            metrics,
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

    /// Drops `dest`'s store clients once every job queued so far is done.
    pub fn release(&mut self, dest: String) {
        let mut done = Vec::new();
        for q in self.queues.values() {
            let (tx, rx) = oneshot::channel();
            if q.send(Job::Barrier(tx)).is_ok() {
                done.push(rx);
            }
        }
        let sink = Arc::clone(&self.sink);
        tokio::spawn(async move {
            for rx in done {
                let _ = rx.await;
            }
            debug!(%dest, "releasing the destination's clients");
            sink.release(&dest);
        });
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
        let worker = Worker {
            sink: Arc::clone(&self.sink),
            fence: self.fence.clone(),
            metrics: self.metrics.clone(),
        };
        tokio::spawn(worker.run(rx, self.commands.clone()));
        // The receiver was just created and is held by the spawned task.
        let _ = tx.send(job);
        self.queues.insert((tid, pid), tx);
    }
}

struct Worker {
    sink: Arc<dyn Sink>,
    fence: Fence,
    metrics: Metrics,
}

impl Worker {
    async fn run(self, mut rx: mpsc::UnboundedReceiver<Job>, commands: mpsc::WeakSender<Command>) {
        while let Some(job) = rx.recv().await {
            let input = match job {
                Job::Stage(s) => match self.fence.check(s.id.tid, s.id.pid, s.epoch).await {
                    EpochCheck::Stale(why) => part_lost(s.id.tid, s.id.pid, why),
                    EpochCheck::Unknown(why) => self.staged(&s, Err(SinkFailure::Unavailable(why))),
                    EpochCheck::Current => {
                        let result = self.stage(&s).await;
                        self.staged(&s, result)
                    }
                },
                Job::Commit(c) => match self.fence.check(c.id.tid, c.id.pid, c.epoch).await {
                    EpochCheck::Stale(why) => part_lost(c.id.tid, c.id.pid, why),
                    EpochCheck::Unknown(why) => {
                        self.committed(&c, Err(SinkFailure::Unavailable(why)))
                    }
                    EpochCheck::Current => {
                        let result = self
                            .sink
                            .commit(&c)
                            .await
                            .map(|outcome| outcome.files())
                            .map_err(|e| e.failure());
                        self.committed(&c, result)
                    }
                },
                Job::Clear(c) => {
                    if let Err(e) = self
                        .sink
                        .clear_staging(c.tid, c.pid, c.task_id, &c.dest, c.from_seq)
                        .await
                    {
                        warn!(tid = c.tid, pid = c.pid, dest = %c.dest, "clearing staging failed: {e}");
                    }
                    continue;
                }
                Job::Barrier(done) => {
                    let _ = done.send(());
                    continue;
                }
            };
            if !feed(&commands, input).await {
                return;
            }
        }
    }

    /// The stage's result for the loop (a failure logged and counted).
    fn staged(&self, s: &StageSegment, result: Result<(), SinkFailure>) -> Input {
        if let Err(e) = &result {
            warn!(segment = %s.id.name(), dest = %s.dest, kind = e.kind(), "stage failed: {e}");
            self.metrics.step_failed("stage", e);
        }
        Input::Staged { id: s.id, result }
    }

    /// The commit's result for the loop (a failure logged and counted).
    fn committed(&self, c: &CommitSegment, result: Result<u64, SinkFailure>) -> Input {
        if let Err(e) = &result {
            warn!(segment = %c.id.name(), dest = %c.dest, kind = e.kind(), "commit failed: {e}");
            self.metrics.step_failed("commit", e);
        }
        Input::Committed { id: c.id, result }
    }

    async fn stage(&self, s: &StageSegment) -> Result<(), SinkFailure> {
        let schema = self.schema(s.id.tid).await?;
        self.sink.stage(s, &schema).await.map_err(|e| e.failure())
    }

    /// The table's schema: a cluster that cannot be read is an outage
    /// (transient); a table that is gone or unusable is permanent.
    async fn schema(&self, tid: u32) -> Result<TableSchema, SinkFailure> {
        let info = self
            .fence
            .cluster
            .table_info(tid)
            .await
            .map_err(|e| {
                SinkFailure::Unavailable(format!("cannot read the schema of table tid {tid}: {e}"))
            })?
            .ok_or_else(|| {
                SinkFailure::BadData(format!(
                    "table tid {tid} is gone: no schema to write its rows with"
                ))
            })?;
        TableSchema::from_table_info(&info)
            .map_err(|e| SinkFailure::BadData(format!("schema of table tid {tid}: {e}")))
    }
}
