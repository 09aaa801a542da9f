//! One partition task's life on the collector, from an assignment (or a
//! recovered `task.progress`) to its end:
//!
//! 1. **prepare**: ask the leader tablet for the partition's paths and schema,
//!    link the data into the work dir and open the reading plan at the point;
//! 2. **stream** packs to SyncTool ([`crate::sender::stream_task`]); the
//!    accepted point is persisted in `task.progress` (at most every
//!    `persist_interval`, and when a stream ends) and binlog files wholly
//!    before SyncTool's committed point are released;
//! 3. after a broken connection or a failed preparation, wait and go again
//!    from the accepted point;
//! 4. end when the last mode-0 pack is accepted or SyncTool says to drop the
//!    task (the work dir is removed), when the task is stopped (kept, to be
//!    resumed), or when reading fails for good (kept, the error is shown).

use std::sync::Arc;
use std::time::{Duration, Instant};

use sync_core::point::Point;
use sync_core::proto::datasync::AddSyncTaskRequest;
use sync_core::proto::datasync::sync_tool_client::SyncToolClient;
use sync_infra::one_port::{KEEPALIVE, MAX_MESSAGE_BYTES};
use sync_infra::store::LocalStore;
use tokio::sync::watch;
use tonic::transport::{Channel, Endpoint};
use tracing::{info, warn};

use crate::prepare::{PrepareError, Prepared, ReadContext, prepare};
use crate::sender::{ProducerMode, SendEnd, SendObserver, SendSettings, stream_task};
use crate::status::{SharedStatus, TaskState};
use crate::tablet_client::{TabletApi, validate_disk_table};
use crate::tailer::BinlogTailer;
use crate::task_source::TaskSource;
use crate::workdir::WorkDir;

/// How the collector reads and sends (from its flags).
#[derive(Debug, Clone)]
pub struct CollectorSettings {
    /// Bytes of rows per pack.
    pub max_pack_size: usize,
    /// Check binlog record checksums.
    pub verify_crc: bool,
    /// Unanswered packs per stream at most.
    pub window: usize,
    /// Pause when caught up (a heartbeat pack goes out each pause).
    pub idle_interval: Duration,
    /// Pause before trying again after a broken stream or a failed preparation.
    pub retry_interval: Duration,
    /// Timeout of calls to tablets and of connecting to SyncTool.
    pub request_timeout: Duration,
    /// How often the accepted point is written to `task.progress` while streaming.
    pub persist_interval: Duration,
    /// How often binlog files before the committed point are released.
    pub release_interval: Duration,
    /// How long a task that failed reading refuses a new assignment of its
    /// partition (so SyncTool sees the reason instead of a retry loop).
    pub failure_hold: Duration,
    /// Where each stream's pack producer runs.
    pub producer: ProducerMode,
}

impl Default for CollectorSettings {
    fn default() -> Self {
        Self {
            max_pack_size: 1 << 20,
            verify_crc: false,
            window: 16,
            idle_interval: Duration::from_secs(5),
            retry_interval: Duration::from_secs(5),
            request_timeout: Duration::from_secs(20),
            persist_interval: Duration::from_secs(1),
            release_interval: Duration::from_secs(10),
            failure_hold: Duration::from_secs(60),
            producer: ProducerMode::Thread,
        }
    }
}

/// Opens a channel to a SyncTool endpoint (`ip:port`) with a timeout.
pub type Connector = Arc<dyn Fn(&str, Duration) -> Result<Channel, String> + Send + Sync>;

/// The daemon's connector: TCP, connected lazily, with HTTP/2 keepalive.
pub fn tcp_connector() -> Connector {
    Arc::new(synctool_channel)
}

/// What a task needs from the daemon.
pub struct TaskEnv<S, T> {
    pub work: WorkDir<S>,
    pub tablet: Arc<T>,
    pub settings: Arc<CollectorSettings>,
    /// Wall-clock ms (TTL and the status page).
    pub clock: fn() -> u64,
    /// How to reach SyncTool.
    pub connect: Connector,
}

impl<S: Clone, T> Clone for TaskEnv<S, T> {
    fn clone(&self) -> Self {
        Self {
            work: self.work.clone(),
            tablet: self.tablet.clone(),
            settings: self.settings.clone(),
            clock: self.clock,
            connect: self.connect.clone(),
        }
    }
}

/// A preparation that failed; `permanent` when retrying cannot help (the
/// data the point needs is gone).
#[derive(Debug)]
pub struct PrepareFailure {
    pub message: String,
    pub permanent: bool,
}

/// A partition ready to stream.
pub struct Ready {
    pub ctx: ReadContext,
    pub prepared: Prepared,
}

/// Asks the tablet and prepares `task` from `point` (the blocking part on a
/// blocking thread).
pub async fn prepare_task<S, T>(
    env: &TaskEnv<S, T>,
    task: &AddSyncTaskRequest,
    point: &Point,
) -> Result<Ready, PrepareFailure>
where
    S: LocalStore + Clone,
    T: TabletApi,
{
    let transient = |message: String| PrepareFailure {
        message,
        permanent: false,
    };
    let (tid, pid) = (task.tid(), task.pid());
    let endpoint = task.tablet_endpoint();
    let status = env
        .tablet
        .get_table_status(endpoint, tid, pid)
        .await
        .map_err(|e| transient(e.to_string()))?;
    let paths = validate_disk_table(&status).map_err(|e| transient(e.to_string()))?;
    let meta = env
        .tablet
        .get_table_schema(endpoint, tid, pid)
        .await
        .map_err(|e| transient(e.to_string()))?;
    let ctx = ReadContext {
        meta,
        paths,
        max_pack_size: env.settings.max_pack_size,
        verify_crc: env.settings.verify_crc,
        now_ms: (env.clock)(),
    };
    let (work, task, point) = (env.work.clone(), task.clone(), point.clone());
    let prepared = tokio::task::spawn_blocking(move || {
        prepare(&work, &task, &point, &ctx).map(|prepared| Ready { ctx, prepared })
    })
    .await
    .map_err(|e| transient(format!("tid {tid} pid {pid}: preparation stopped: {e}")))?;
    prepared.map_err(|e| PrepareFailure {
        permanent: matches!(
            e,
            PrepareError::HandOff(_) | PrepareError::Point(_) | PrepareError::Mode(_)
        ),
        message: format!("tid {tid} pid {pid}: {e}"),
    })
}

/// A connection to the task's SyncTool (connected lazily, with keepalive).
pub fn synctool_channel(des_endpoint: &str, timeout: Duration) -> Result<Channel, String> {
    Ok(Endpoint::from_shared(format!("http://{des_endpoint}"))
        .map_err(|e| format!("SyncTool endpoint `{des_endpoint}` is invalid: {e}"))?
        .connect_timeout(timeout)
        .http2_keep_alive_interval(KEEPALIVE)
        .keep_alive_timeout(KEEPALIVE)
        .keep_alive_while_idle(true)
        .connect_lazy())
}

/// Runs `task` until it ends; returns how it ended. `ready` is the
/// preparation already done by `AddSyncTask` (`None` when recovering).
pub async fn run_task<S, T>(
    env: TaskEnv<S, T>,
    task: AddSyncTaskRequest,
    mut ready: Option<Ready>,
    status: SharedStatus,
    mut cancel: watch::Receiver<bool>,
) -> TaskState
where
    S: LocalStore + Clone,
    T: TabletApi,
{
    let (tid, pid) = (task.tid(), task.pid());
    let end = drive(&env, &task, &mut ready, &status, &mut cancel).await;
    if matches!(end, TaskState::Finished | TaskState::Dropped)
        && let Err(e) = env.work.remove_task(tid, pid)
    {
        warn!(tid, pid, "cannot remove the work dir of an ended task: {e}");
    }
    let mut s = status.lock();
    s.state = end;
    s.ended_ms = Some((env.clock)());
    end
}

async fn drive<S, T>(
    env: &TaskEnv<S, T>,
    task: &AddSyncTaskRequest,
    ready: &mut Option<Ready>,
    status: &SharedStatus,
    cancel: &mut watch::Receiver<bool>,
) -> TaskState
where
    S: LocalStore + Clone,
    T: TabletApi,
{
    let (tid, pid) = (task.tid(), task.pid());
    let settings = &env.settings;
    let channel = match (env.connect)(task.des_endpoint(), settings.request_timeout) {
        Ok(c) => c,
        Err(e) => {
            status.lock().error = Some(e);
            return TaskState::Failed;
        }
    };
    let mut progress = match Progress::new(env, task, status.clone()) {
        Ok(p) => p,
        Err(e) => {
            status.lock().error = Some(e);
            return TaskState::Failed;
        }
    };
    let send = SendSettings {
        tid,
        pid,
        token: task.token().to_string(),
        window: settings.window,
        idle_interval: settings.idle_interval,
        producer: settings.producer,
    };
    loop {
        if *cancel.borrow() {
            return TaskState::Stopped;
        }
        let point = progress.accepted.clone();
        let Ready { ctx, prepared } = match ready.take() {
            Some(r) => r,
            None => {
                status.lock().state = TaskState::Preparing;
                match prepare_task(env, task, &point).await {
                    Ok(r) => r,
                    Err(failure) => {
                        warn!(
                            tid,
                            pid,
                            permanent = failure.permanent,
                            "{}",
                            failure.message
                        );
                        status.lock().error = Some(failure.message);
                        if failure.permanent {
                            return TaskState::Failed;
                        }
                        status.lock().state = TaskState::Retrying;
                        if pause(settings.retry_interval, cancel).await {
                            return TaskState::Stopped;
                        }
                        continue;
                    }
                }
            }
        };
        status.lock().state = TaskState::Streaming;
        let source = TaskSource::new(
            env.work.clone(),
            task.clone(),
            ctx,
            prepared,
            status.clone(),
        );
        let mut client = SyncToolClient::new(channel.clone())
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
            .max_decoding_message_size(MAX_MESSAGE_BYTES);
        let end = stream_task(
            &mut client,
            &send,
            point,
            source,
            &mut progress,
            cancel.clone(),
        )
        .await;
        progress.persist();
        match end {
            SendEnd::Finished => {
                info!(
                    tid,
                    pid,
                    rows = status.lock().rows_sent,
                    "finished: the last pack is accepted"
                );
                return TaskState::Finished;
            }
            SendEnd::Dropped { message } => {
                info!(tid, pid, "SyncTool dropped the task: {message}");
                return TaskState::Dropped;
            }
            SendEnd::Cancelled => return TaskState::Stopped,
            SendEnd::Source(e) => {
                warn!(tid, pid, "reading failed: {e}");
                status.lock().error = Some(e);
                return TaskState::Failed;
            }
            SendEnd::Transport(e) => {
                warn!(
                    tid,
                    pid,
                    "stream to SyncTool {} broke: {e}",
                    task.des_endpoint()
                );
                {
                    let mut s = status.lock();
                    s.error = Some(e);
                    s.state = TaskState::Retrying;
                }
                if pause(settings.retry_interval, cancel).await {
                    return TaskState::Stopped;
                }
            }
        }
    }
}

/// Sleeps `duration`; true when cancelled meanwhile.
async fn pause(duration: Duration, cancel: &mut watch::Receiver<bool>) -> bool {
    let cancelled = tokio::select! {
        _ = tokio::time::sleep(duration) => false,
        _ = cancel.wait_for(|c| *c) => true,
    };
    cancelled || *cancel.borrow()
}

/// Follows SyncTool's answers: the status, `task.progress`, and releasing
/// binlog files SyncTool no longer needs.
struct Progress<S> {
    work: WorkDir<S>,
    task: AddSyncTaskRequest,
    status: SharedStatus,
    accepted: Point,
    persisted: Point,
    last_persist: Instant,
    last_release: Option<Instant>,
    released_for: Option<u64>,
    settings: Arc<CollectorSettings>,
    clock: fn() -> u64,
}

impl<S: LocalStore + Clone> Progress<S> {
    fn new<T>(
        env: &TaskEnv<S, T>,
        task: &AddSyncTaskRequest,
        status: SharedStatus,
    ) -> Result<Self, String> {
        let accepted = crate::prepare::assigned_point(task)
            .map_err(|e| format!("tid {} pid {}: {e}", task.tid(), task.pid()))?;
        Ok(Self {
            work: env.work.clone(),
            task: task.clone(),
            status,
            persisted: accepted.clone(),
            accepted,
            last_persist: Instant::now(),
            last_release: None,
            released_for: None,
            settings: env.settings.clone(),
            clock: env.clock,
        })
    }

    /// Writes the accepted point to `task.progress` if it moved.
    fn persist(&mut self) {
        if self.persisted == self.accepted {
            return;
        }
        let mut task = self.task.clone();
        match self.accepted.to_proto() {
            Ok(point) => task.sync_point = Some(point),
            Err(e) => {
                warn!(
                    tid = task.tid(),
                    pid = task.pid(),
                    "accepted point not persisted: {e}"
                );
                return;
            }
        }
        match self.work.save_task(&task) {
            Ok(()) => {
                self.persisted = self.accepted.clone();
                self.last_persist = Instant::now();
            }
            Err(e) => warn!(
                tid = task.tid(),
                pid = task.pid(),
                "cannot persist progress: {e}"
            ),
        }
    }

    /// Unlinks binlog files wholly before the committed binlog offset.
    fn release(&mut self, committed: &Point) {
        let Point::Binlog { offset } = committed else {
            return;
        };
        let due = self
            .last_release
            .is_none_or(|at| at.elapsed() >= self.settings.release_interval);
        if self.released_for == Some(*offset) || !due {
            return;
        }
        self.last_release = Some(Instant::now());
        self.released_for = Some(*offset);
        let (tid, pid) = (self.task.tid(), self.task.pid());
        let mut parts = BinlogTailer::new(self.work.binlog_dir(tid, pid), 1, false);
        let released = parts
            .refresh(self.work.store())
            .map_err(|e| e.to_string())
            .and_then(|()| match parts.parts().file_for(*offset) {
                Some(keep_from) => self
                    .work
                    .release_binlogs_before(tid, pid, keep_from)
                    .map_err(|e| e.to_string()),
                None => Ok(0),
            });
        match released {
            Ok(0) => {}
            Ok(n) => info!(tid, pid, files = n, committed = %committed, "released binlog files"),
            Err(e) => warn!(tid, pid, "cannot release binlog files: {e}"),
        }
    }
}

impl<S: LocalStore + Clone> SendObserver for Progress<S> {
    fn accepted(&mut self, next: &Point, committed: Option<&Point>, rows: u64, bytes: u64) {
        self.accepted = next.clone();
        {
            let mut s = self.status.lock();
            s.accepted_point = next.to_string();
            s.rows_sent += rows;
            s.bytes_sent += bytes;
            s.packs_sent += 1;
            s.last_accepted_ms = Some((self.clock)());
            s.error = None;
            if let Some(c) = committed {
                s.committed_point = Some(c.to_string());
            }
        }
        if self.last_persist.elapsed() >= self.settings.persist_interval {
            self.persist();
        }
        if let Some(c) = committed {
            self.release(c);
        }
    }

    fn rejected(&mut self, message: &str) {
        self.status.lock().error = Some(format!("SyncTool refused a pack: {message}"));
    }

    fn resumed(&mut self, at: &Point) {
        info!(tid = self.task.tid(), pid = self.task.pid(), point = %at, "resuming at SyncTool's accepted point");
        self.accepted = at.clone();
        self.status.lock().accepted_point = at.to_string();
        self.persist();
    }
}
