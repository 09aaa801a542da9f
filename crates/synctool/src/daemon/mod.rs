//! The `synctool` daemon: the drive loop around the pure
//! [`sync_core::task::Supervisor`], and everything that feeds it.
//!
//! * [`drive`]: the loop that owns the supervisor and executes its actions;
//! * [`handle`]: the request API (create, delete, retry, status, packs);
//! * [`grpc`], [`http`], [`server`]: `openmldb.datasync.SyncTool` over gRPC
//!   and OpenMLDB's HTTP+JSON admin paths, on one port;
//! * [`workers`]: ordered sink workers per partition, driving the real
//!   [`sync_sinks::Sink`] (local fs, HDFS, S3, or the in-memory store of
//!   tests and the simulation: one commit protocol everywhere);
//! * [`startup`]: recovery on start;
//! * seams: [`clock::Clock`], [`sync_sinks::Sink`] (the offline store),
//!   [`collector_client::CollectorClient`], [`cluster::ClusterView`].
//!
//! [`Daemon::start`] recovers, spawns the loop (which wakes itself at the
//! supervisor's next deadline) and a coordinator poller (`poll_period`: live
//! collectors and leaders), and returns a [`Daemon`] whose drop stops them.

pub mod assign_slots;
pub mod clock;
pub mod cluster;
pub mod collector_client;
pub mod drive;
pub mod fence;
pub mod grpc;
pub mod handle;
pub mod http;
pub mod memory_gate;
pub mod metrics;
pub mod server;
pub mod startup;
pub mod workers;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use sync_core::task::Input;
use sync_infra::store::LocalStore;
use sync_sinks::Sink;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tracing::warn;

use crate::config::SyncToolConfig;
use clock::Clock;
use cluster::{ClusterView, leaders};
use collector_client::CollectorClient;
use drive::{Command, DriveLoop};
pub use handle::SyncToolHandle;
pub use startup::{STATE_FILE, StartError};

/// How long a stopping daemon waits for the delayed state write.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// A boxed future, so the seams can be used as `dyn`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How the daemon runs.
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    /// `sync_task.progress_path`.
    pub progress_path: PathBuf,
    /// The supervisor's settings.
    pub supervisor: sync_core::task::Config,
    /// `sync_task.allowed_dest_roots`.
    pub allowed_dest_roots: Vec<String>,
    /// How bare destination paths resolve (for the root check at create).
    pub sink_config: sync_sinks::SinkConfig,
    /// Whether the loop wakes itself at the supervisor's next deadline
    /// (timeouts, rolls by age, retries); `false`: time passes only when
    /// [`SyncToolHandle::tick`] is called (tests with a manual clock).
    pub wake_on_deadlines: bool,
    /// How often live collectors and leaders are polled; `None`: never.
    pub poll_period: Option<Duration>,
    /// Seeds the assignment tokens.
    pub seed: u64,
}

impl DaemonOptions {
    /// From `synctool.properties`.
    pub fn from_config(config: &SyncToolConfig, seed: u64) -> Self {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Self {
            progress_path: config.progress_path.clone(),
            supervisor: sync_core::task::Config {
                timeout_ms: ms(config.task_timeout),
                des_endpoint: config.advertised_endpoint.clone(),
                defaults: config.task_defaults(),
                fail_after_ms: config.fail_after.map(ms),
                history_ms: ms(config.history),
                memory_limit: config.memory_limit,
                ..Default::default()
            },
            allowed_dest_roots: config.allowed_dest_roots.clone(),
            sink_config: config.sink_config(),
            wake_on_deadlines: true,
            poll_period: Some(config.check_period),
            seed,
        }
    }
}

/// What the daemon talks to.
pub struct DaemonParts {
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Local files (the progress dir).
    pub local: Arc<dyn LocalStore>,
    /// The offline store.
    pub sink: Arc<dyn Sink>,
    /// Calls to collectors.
    pub collectors: Arc<dyn CollectorClient>,
    /// Membership and metadata.
    pub cluster: Arc<dyn ClusterView>,
}

/// A running daemon; dropping it stops the loop and its helpers.
pub struct Daemon {
    handle: SyncToolHandle,
    tasks: JoinSet<()>,
}

impl Daemon {
    /// Recovers and starts the drive loop (call inside a tokio runtime).
    pub async fn start(
        mut options: DaemonOptions,
        parts: DaemonParts,
    ) -> Result<Daemon, StartError> {
        // With ZooKeeper other SyncTools may share the cluster: parts are
        // claimed and commits fenced by epoch (FAULTS.md §4).
        options.supervisor.fencing = parts.cluster.fences();
        let now = parts.clock.now_ms();
        let (sup, initial) = startup::start_supervisor(
            options.supervisor.clone(),
            options.seed,
            now,
            parts.local.as_ref(),
            &options.progress_path,
            parts.cluster.as_ref(),
            parts.sink.as_ref(),
        )
        .await?;
        let (tx, rx) = mpsc::channel(1024);
        let state_path = options.progress_path.join(STATE_FILE);
        let metrics = metrics::Metrics::new();
        let memory_gate = Arc::new(memory_gate::MemoryGate::new(
            sup.config().flow_control_bytes(),
        ));
        memory_gate.publish(sup.held_bytes());
        let fence = fence::Fence {
            cluster: parts.cluster.clone(),
            worker: options.supervisor.des_endpoint.clone(),
        };
        let drive = DriveLoop {
            sup,
            memory_gate: memory_gate.clone(),
            clock: parts.clock,
            local: parts.local,
            state_path: state_path.clone(),
            offload: options.sink_config.offload,
            assign_slots: Arc::new(assign_slots::AssignSlots::new(assign_slots::PER_COLLECTOR)),
            collectors: parts.collectors,
            workers: workers::Workers::new(
                parts.sink.clone(),
                fence.clone(),
                tx.downgrade(),
                metrics.clone(),
            ),
            fence,
            commands: tx.downgrade(),
            metrics: metrics.clone(),
        };
        let handle = SyncToolHandle {
            commands: tx,
            memory_gate,
            cluster: parts.cluster,
            sink: parts.sink,
            metrics,
            sink_config: Arc::new(options.sink_config),
            defaults: Arc::new(options.supervisor.defaults.clone()),
            allowed_dest_roots: Arc::new(options.allowed_dest_roots),
            state_path,
            endpoint: options.supervisor.des_endpoint.as_str().into(),
        };
        let mut tasks = JoinSet::new();
        tasks.spawn(drive.run(initial, rx, options.wake_on_deadlines));
        if let Some(period) = options.poll_period {
            tasks.spawn(poller(handle.clone(), period));
        }
        Ok(Daemon { handle, tasks })
    }

    /// The request API.
    pub fn handle(&self) -> SyncToolHandle {
        self.handle.clone()
    }

    /// Waits until a background task (the drive loop, the poller)
    /// ends, which only happens on a bug; returns why, so the binary exits
    /// instead of serving without a supervisor.
    pub async fn failed(&mut self) -> String {
        match self.tasks.join_next().await {
            Some(Ok(())) => "a SyncTool background task stopped unexpectedly".into(),
            Some(Err(e)) if e.is_panic() => format!("a SyncTool background task panicked: {e}"),
            Some(Err(e)) => format!("a SyncTool background task ended: {e}"),
            None => "SyncTool has no background tasks".into(),
        }
    }

    /// Persists the delayed changes (waiting at most [`FLUSH_TIMEOUT`]),
    /// then stops everything and waits until the tasks are gone.
    pub async fn shutdown(mut self) {
        let (tx, rx) = oneshot::channel();
        let commands = self.handle.commands.clone();
        let flushed = async move {
            if commands.send(Command::Flush(tx)).await.is_ok() {
                let _ = rx.await;
            }
        };
        if tokio::time::timeout(FLUSH_TIMEOUT, flushed).await.is_err() {
            warn!("the task state was not persisted at shutdown within {FLUSH_TIMEOUT:?}");
        }
        self.tasks.shutdown().await;
    }
}

/// Feeds the live collectors and each task's current leaders.
pub async fn poll_once(handle: &SyncToolHandle) -> Result<(), String> {
    let cluster: &dyn ClusterView = handle.cluster.as_ref();
    match cluster.live_collectors().await {
        Ok(live) => handle.feed(Input::Collectors { live }).await?,
        Err(e) => warn!("cannot list the live data collectors: {e}"),
    }
    for tid in handle.tids().await? {
        match cluster.table_info(tid).await {
            Ok(Some(info)) => match leaders(&info) {
                Ok(partitions) => {
                    handle
                        .feed(Input::TableMetadata { tid, partitions })
                        .await?
                }
                Err(e) => warn!(tid, "table metadata unusable: {e}"),
            },
            Ok(None) => warn!(tid, "the table of a sync task is gone from the cluster"),
            Err(e) => warn!(tid, "cannot read table metadata: {e}"),
        }
    }
    Ok(())
}

async fn poller(handle: SyncToolHandle, period: Duration) {
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval.tick().await;
    loop {
        interval.tick().await;
        if poll_once(&handle).await.is_err() {
            return;
        }
    }
}
