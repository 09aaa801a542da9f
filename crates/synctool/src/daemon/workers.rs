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
//! segment's epoch against the cluster ([`Fence`]): a stale epoch (another
//! SyncTool owns the part now) writes nothing and becomes
//! [`Input::PartLost`]; a cluster that cannot be asked is a transient
//! failure of the step, retried as any other.

use std::collections::HashMap;
use std::sync::Arc;

use sync_core::task::{CommitSegment, ErrorClass, Input, SegmentId, SinkFailure, StageSegment};
use sync_sinks::{Sink, TableSchema};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

use super::cluster::ClusterView;
use super::drive::{Command, feed};
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

/// The cluster that schemas come from and epochs are checked against, and
/// the owner name this SyncTool's epochs go with.
#[derive(Clone)]
pub struct Fence {
    /// The cluster.
    pub cluster: Arc<dyn ClusterView>,
    /// This SyncTool's endpoint.
    pub worker: String,
}

impl Fence {
    /// Whether a step of segment `id` with `epoch` may be made: `Err` with
    /// what was found when another SyncTool owns the part now; `Ok(Err)`
    /// when the epoch cannot be checked now (the step fails transiently).
    async fn check(&self, id: &SegmentId, epoch: u64) -> Result<Result<(), SinkFailure>, String> {
        if !self.cluster.fences() {
            return Ok(Ok(()));
        }
        match self
            .cluster
            .check_part_epoch(id.tid, id.pid, &self.worker, epoch)
            .await
        {
            Ok(()) => Ok(Ok(())),
            Err(e) if e.class() == ErrorClass::Permanent => Err(e.to_string()),
            Err(e) => Ok(Err(SinkFailure::Unavailable(format!(
                "cannot check the partition's epoch: {e}"
            )))),
        }
    }
}

/// What a worker tells the loop when a step found the part owned elsewhere.
fn part_lost(id: &SegmentId, why: String) -> Input {
    warn!(segment = %id.name(), "not written: {why}");
    Input::PartLost {
        tid: id.tid,
        pid: id.pid,
        why,
    }
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
                Job::Stage(s) => match self.fence.check(&s.id, s.epoch).await {
                    Err(why) => part_lost(&s.id, why),
                    Ok(checked) => {
                        let result = match checked {
                            Ok(()) => self.stage(&s).await,
                            Err(f) => Err(f),
                        };
                        if let Err(e) = &result {
                            warn!(segment = %s.id.name(), dest = %s.dest, kind = e.kind(), "stage failed: {e}");
                            self.metrics.step_failed("stage", e);
                        }
                        Input::Staged { id: s.id, result }
                    }
                },
                Job::Commit(c) => match self.fence.check(&c.id, c.epoch).await {
                    Err(why) => part_lost(&c.id, why),
                    Ok(checked) => {
                        let result = match checked {
                            Ok(()) => self
                                .sink
                                .commit(&c)
                                .await
                                .map(|outcome| outcome.files())
                                .map_err(|e| e.failure()),
                            Err(f) => Err(f),
                        };
                        if let Err(e) = &result {
                            warn!(segment = %c.id.name(), dest = %c.dest, kind = e.kind(), "commit failed: {e}");
                            self.metrics.step_failed("commit", e);
                        }
                        Input::Committed { id: c.id, result }
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
