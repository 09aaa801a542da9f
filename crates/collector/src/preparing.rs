//! The preparing phase of a task's loop: wait for the loop it replaces to
//! end, ask the tablet for the partition's paths and schema, then link and
//! open the data on a blocking thread ([`crate::prepare`]). All of it runs
//! after `AddSyncTask` has answered; a `preparing` pack goes to SyncTool
//! every `preparing_interval` meanwhile, so a slow preparation of a large
//! partition is not taken for a silent collector.
//!
//! The tablet's paths are handed to the linker as soon as the tablet answers,
//! so new binlog files are linked while the checkpoint is still being linked
//! and opened. A failure is a typed [`ReadFault`]: transient ones retry with
//! backoff, permanent ones make the task dormant (links kept).

use sync_core::point::Point;
use sync_core::proto::datasync::{AddSyncTaskRequest, DropReason};
use sync_infra::store::LocalStore;
use tokio::sync::watch;
use tracing::warn;

use crate::beacon::{Answer, Beacon, Signal, signal_pack};
use crate::fault::ReadFault;
use crate::prepare::{ReadContext, prepare};
use crate::record::{Dormancy, TabletPaths};
use crate::status::TaskState;
use crate::tablet_client::{DiskTablePaths, TabletApi, validate_disk_table};
use crate::task_run::{Phase, Ready, TaskEnv, TaskLoop, stopped};

/// Why a preparation gave up.
#[derive(Debug)]
pub enum PrepareFailure {
    /// The task was stopped.
    Cancelled,
    /// Reading cannot start (see the fault's kind).
    Fault(ReadFault),
}

/// Asks the tablet and prepares `task` from `point` (the blocking part on a
/// blocking thread). `on_paths` is told the tablet's paths once it answered.
/// The tablet calls stop when `cancel` says so; linking, once begun, is
/// finished first.
pub async fn prepare_task<S, T>(
    env: &TaskEnv<S, T>,
    task: &AddSyncTaskRequest,
    point: &Point,
    mut cancel: watch::Receiver<bool>,
    on_paths: impl FnOnce(&DiskTablePaths),
) -> Result<Ready, PrepareFailure>
where
    S: LocalStore + Clone,
    T: TabletApi,
{
    let (tid, pid) = (task.tid(), task.pid());
    let fault = |f: ReadFault| PrepareFailure::Fault(f.for_partition(tid, pid));
    let endpoint = task.tablet_endpoint();
    let calls = async {
        let status = env
            .tablet
            .get_table_status(endpoint, tid, pid)
            .await
            .map_err(|e| ReadFault::from(&e))?;
        let paths = validate_disk_table(&status).map_err(|e| ReadFault::from(&e))?;
        let meta = env
            .tablet
            .get_table_schema(endpoint, tid, pid)
            .await
            .map_err(|e| ReadFault::from(&e))?;
        Ok::<_, ReadFault>((paths, meta))
    };
    let (paths, meta) = tokio::select! {
        answered = calls => answered.map_err(fault)?,
        () = stopped(&mut cancel) => return Err(PrepareFailure::Cancelled),
    };
    on_paths(&paths);
    let ctx = ReadContext {
        meta,
        paths,
        max_pack_size: env.settings.max_pack_size,
        verify_crc: env.settings.verify_crc,
        now_ms: (env.clock)(),
    };
    let (work, task, point) = (env.work.clone(), task.clone(), point.clone());
    let prepared = env
        .settings
        .producer
        .run_blocking(move || {
            prepare(&work, &task, &point, &ctx).map(|prepared| Ready { ctx, prepared })
        })
        .await
        .map_err(|e| fault(ReadFault::unavailable(format!("preparation stopped: {e}"))))?;
    prepared.map_err(|e| fault(ReadFault::from(&e)))
}

impl<S, T> TaskLoop<S, T>
where
    S: LocalStore + Clone,
    T: TabletApi,
{
    /// The preparing phase (see the module doc).
    pub(crate) async fn preparing(&mut self) -> Phase {
        let (tid, pid) = self.ids();
        {
            let mut s = self.status.lock();
            s.set_caught_up(false);
            s.set_state(TaskState::Preparing);
        }
        let point = self.tracker.accepted.clone();
        let settings = self.env.settings.clone();
        let mut beacon = match signal_pack(tid, pid, self.task.token(), &point, &Signal::Preparing)
        {
            Ok(pack) => Some(Beacon::start(
                self.channel.channel(),
                pack,
                std::time::Duration::ZERO,
                settings.preparing_interval,
                settings.request_timeout,
            )),
            Err(e) => {
                warn!(tid, pid, "no preparing packs: {e}");
                None
            }
        };
        let mut dropped: Option<(DropReason, String)> = None;

        // A replaced loop must have ended before this one touches the work dir.
        if let Some(mut previous) = self.previous.take() {
            loop {
                tokio::select! {
                    _ = &mut previous => break,
                    answer = next_answer(&mut beacon), if dropped.is_none() => {
                        dropped = self.heard(answer);
                    }
                }
            }
        }
        if let Some((reason, message)) = dropped {
            return self.on_drop(reason, message);
        }

        let (paths_tx, mut paths_rx) = tokio::sync::mpsc::unbounded_channel();
        let env = self.env.clone();
        let task = self.task.clone();
        let cancel = self.cancel.clone();
        let work = prepare_task(&env, &task, &point, cancel, move |paths| {
            let _ = paths_tx.send(paths.clone());
        });
        tokio::pin!(work);
        let result = loop {
            tokio::select! {
                result = &mut work => break result,
                Some(paths) = paths_rx.recv() => self.record_paths(TabletPaths {
                    snapshot_path: paths.snapshot_path,
                    binlog_path: paths.binlog_path,
                }),
                answer = next_answer(&mut beacon), if dropped.is_none() => {
                    dropped = self.heard(answer);
                }
            }
        };
        if let Ok(paths) = paths_rx.try_recv() {
            self.record_paths(TabletPaths {
                snapshot_path: paths.snapshot_path,
                binlog_path: paths.binlog_path,
            });
        }
        drop(beacon);
        if let Some((reason, message)) = dropped {
            return self.on_drop(reason, message);
        }
        match result {
            Ok(ready) => {
                self.status.lock().clear_error();
                Phase::Stream(Box::new(ready))
            }
            Err(PrepareFailure::Cancelled) => Phase::End(TaskState::Stopped),
            Err(PrepareFailure::Fault(_)) if self.cancelled() => Phase::End(TaskState::Stopped),
            Err(PrepareFailure::Fault(fault)) if fault.is_transient() => Phase::Retry {
                cause: fault.message.clone(),
                fault: Some(fault),
                announce: true,
            },
            Err(PrepareFailure::Fault(fault)) => {
                warn!(
                    tid,
                    pid,
                    kind = fault.kind_name(),
                    "cannot read the partition: {}",
                    fault.message
                );
                Phase::Dormant {
                    why: Dormancy::ReadFailed {
                        kind: fault.kind,
                        message: fault.message,
                    },
                    since_ms: self.now(),
                    announce: true,
                }
            }
        }
    }

    /// Applies an answer to a zero-row pack: the committed point, the error
    /// shown; a drop is returned (to be applied once the phase may end).
    pub(crate) fn heard(&mut self, answer: Result<Answer, String>) -> Option<(DropReason, String)> {
        let now = self.now();
        match answer {
            Err(e) => {
                let des = self.task.des_endpoint().to_string();
                self.status
                    .lock()
                    .set_error(format!("SyncTool {des}: {e}"), now);
                None
            }
            Ok(answer) => {
                if let Some(committed) = answer.committed() {
                    self.tracker.keeper.on_committed(committed);
                }
                match answer {
                    Answer::Drop {
                        reason, message, ..
                    } => Some((reason, message)),
                    Answer::Accepted { .. } => None,
                    Answer::Refused { message, .. } => {
                        self.status
                            .lock()
                            .set_error(format!("SyncTool refused a pack: {message}"), now);
                        None
                    }
                }
            }
        }
    }
}

/// The next answer of an optional beacon (pending without one).
pub(crate) async fn next_answer(beacon: &mut Option<Beacon>) -> Result<Answer, String> {
    match beacon {
        Some(b) => b.next().await,
        None => std::future::pending().await,
    }
}
