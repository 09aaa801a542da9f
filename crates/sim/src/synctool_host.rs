//! A SyncTool process as a turmoil host: the real [`Daemon`] (recovery,
//! drive loop waking at the supervisor's deadlines, coordinator poller) with
//! simulated time, the in-sim cluster, collectors reached over turmoil, its
//! progress dir on the real filesystem (through [`PersistHook`]) and the real
//! sink over the durable store outside the host, served on one port with
//! `serve_incoming`. A run may have a second SyncTool writing to the same
//! destinations (its own host, port and progress dir).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sync_core::task::{Config, FileFormat, RollPolicy, TaskOptions};
use synctool::daemon::server::router;
use synctool::daemon::{Daemon, DaemonOptions, DaemonParts};

use crate::clock::SimClock;
use crate::cluster::SimCluster;
use crate::collector;
use crate::net;
use crate::store::{Durable, PersistHook, StoreControl};

/// The turmoil host name of SyncTool.
pub const HOST: &str = "synctool";
/// The host name of the second SyncTool of runs that have one.
pub const SECOND_HOST: &str = "synctool2";
/// Its port.
pub const PORT: u16 = 8848;

/// SyncTool's endpoint (what collectors send packs to).
pub fn endpoint() -> String {
    endpoint_of(HOST)
}

/// The endpoint of the SyncTool on `host`.
pub fn endpoint_of(host: &str) -> String {
    format!("{host}:{PORT}")
}

/// How SyncTool runs in a simulation.
#[derive(Debug, Clone)]
pub struct SyncToolSpec {
    /// `sync_task.progress_path` (on the real filesystem).
    pub progress_dir: PathBuf,
    /// Silence before a part is reassigned (ms).
    pub timeout_ms: u64,
    /// When segments are sealed.
    pub roll: RollPolicy,
    /// `sink.memory_limit`.
    pub memory_limit: u64,
    /// Seeds the tokens.
    pub seed: u64,
    /// Allowed destination root.
    pub dest_root: String,
    /// Its turmoil host name.
    pub host: String,
}

impl SyncToolSpec {
    fn options(&self) -> DaemonOptions {
        DaemonOptions {
            progress_path: self.progress_dir.clone(),
            supervisor: Config {
                timeout_ms: self.timeout_ms,
                des_endpoint: endpoint_of(&self.host),
                defaults: TaskOptions {
                    format: FileFormat::Csv,
                    csv_header: crate::store::Durable::csv().header,
                    csv_null: crate::store::Durable::csv().null,
                    roll: self.roll,
                    ..TaskOptions::default()
                },
                memory_limit: self.memory_limit,
                ..Config::default()
            },
            allowed_dest_roots: vec![self.dest_root.clone()],
            // Deterministic: no work on threads turmoil does not step.
            sink_config: sync_sinks::SinkConfig {
                offload: sync_sinks::Offload::Inline,
                ..sync_sinks::SinkConfig::default()
            },
            wake_on_deadlines: true,
            poll_period: Some(Duration::from_millis(500)),
            seed: self.seed,
        }
    }
}

/// The host's software: recover, serve until crashed; a background task of
/// the daemon that stops is an error that fails the run.
pub async fn run(
    spec: SyncToolSpec,
    cluster: Arc<SimCluster>,
    durable: Arc<Durable>,
    control: Arc<StoreControl>,
) -> turmoil::Result {
    let sink = durable.open(control.clone(), &spec.host);
    let parts = DaemonParts {
        clock: Arc::new(SimClock),
        local: Arc::new(PersistHook::new(control)),
        sink: Arc::new(sink),
        collectors: Arc::new(collector::collector_client(
            cluster.clone(),
            Duration::from_secs(2),
        )),
        cluster,
    };
    let mut daemon = Daemon::start(spec.options(), parts)
        .await
        .map_err(|e| format!("SyncTool cannot start: {e}"))?;
    let incoming = net::incoming(PORT).await?;
    let serve = sync_infra::one_port::serve_incoming(
        incoming,
        router(daemon.handle()),
        std::future::pending(),
    );
    tokio::select! {
        served = serve => served?,
        why = daemon.failed() => return Err(why.into()),
    }
    Ok(())
}
