//! A DataCollector process as a turmoil host: the real
//! [`TaskManager`] and `DataCollector` service (`AddSyncTask`, status page)
//! served on the simulated network, its work dir on the real filesystem
//! (hard links into the emulated tablet's data), the in-sim tablet API, the
//! pack producer inline, and a connector that reaches SyncTool over turmoil.
//!
//! Also SyncTool's side of the link: [`collector_client`], the production
//! client over the simulated network.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use data_collector::manager::TaskManager;
use data_collector::sender::ProducerMode;
use data_collector::service::{Collector, router};
use data_collector::task_run::{CollectorSettings, Connector, TaskEnv};
use data_collector::workdir::WorkDir;
use sync_infra::store::FsStore;
use synctool::daemon::collector_client::GrpcCollectorClient;

use crate::clock::sim_ms;
use crate::cluster::SimCluster;
use crate::net;
use crate::tablet::{self, SimTabletClient};

/// The running collectors by host, so a failing run can show their tasks.
pub type Board =
    Arc<Mutex<std::collections::BTreeMap<String, Arc<Collector<FsStore, SimTabletClient>>>>>;

/// One line per task of the collectors on `board`.
pub fn describe(board: &Board) -> Vec<String> {
    let board = board.lock().unwrap_or_else(|p| p.into_inner());
    let mut out = Vec::new();
    for (host, collector) in board.iter() {
        for t in collector.tasks.statuses() {
            out.push(format!(
                "{host} t{}/p{} {:?} token {} accepted {} committed {} sent {} rows in {} packs, caught up {}, error {}",
                t.tid,
                t.pid,
                t.state,
                t.token,
                t.accepted_point,
                t.committed_point.unwrap_or_default(),
                t.rows_sent,
                t.packs_sent,
                t.caught_up,
                t.error.unwrap_or_default()
            ));
        }
    }
    out
}

/// One collector process.
#[derive(Clone)]
pub struct CollectorSpec {
    /// Its turmoil host name (`c0a`).
    pub host: String,
    /// The endpoint it advertises (`tab0:7001`, on its tablet's host).
    pub endpoint: String,
    /// The port it listens on.
    pub port: u16,
    /// Its work dir (same filesystem as the tablet data).
    pub work_dir: PathBuf,
    /// Read and send settings.
    pub settings: CollectorSettings,
}

/// The settings a simulated collector runs with.
pub fn settings(max_pack_size: usize, window: usize) -> CollectorSettings {
    CollectorSettings {
        max_pack_size,
        verify_crc: true,
        window,
        idle_interval: Duration::from_millis(100),
        tail_interval: Duration::from_millis(100),
        retry_interval: Duration::from_millis(300),
        request_timeout: Duration::from_secs(2),
        retry_max_interval: Duration::from_secs(2),
        persist_interval: Duration::ZERO,
        release_interval: Duration::ZERO,
        link_interval: Duration::from_millis(200),
        probe_interval: Duration::from_millis(500),
        preparing_interval: Duration::from_millis(200),
        producer: ProducerMode::Inline,
    }
}

/// How a collector reaches SyncTool: its endpoint is a turmoil address.
pub fn connector() -> Connector {
    Arc::new(|endpoint: &str, timeout: Duration| net::channel(endpoint, timeout))
}

/// The host's software: recover the persisted tasks, listen, register, serve.
pub async fn run(spec: CollectorSpec, cluster: Arc<SimCluster>, board: Board) -> turmoil::Result {
    let env = TaskEnv {
        work: WorkDir::new(FsStore, spec.work_dir.clone()),
        tablet: Arc::new(tablet::client(spec.settings.request_timeout)),
        settings: Arc::new(spec.settings.clone()),
        clock: sim_ms,
        connect: connector(),
    };
    let collector = Arc::new(Collector {
        endpoint: spec.endpoint.clone(),
        tasks: TaskManager::new(env),
        clock: sim_ms,
    });
    collector
        .tasks
        .recover()
        .await
        .map_err(|e| format!("collector {}: {e}", spec.host))?;
    board
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(spec.host.clone(), collector.clone());
    let incoming = net::incoming(spec.port).await?;
    cluster.register(&spec.endpoint);
    sync_infra::one_port::serve_incoming(
        incoming,
        router(collector.clone()),
        std::future::pending(),
    )
    .await?;
    Ok(())
}

/// SyncTool's client of collectors over turmoil: the production
/// [`GrpcCollectorClient`], reaching a collector's advertised endpoint at its
/// turmoil address.
pub fn collector_client(cluster: Arc<SimCluster>, timeout: Duration) -> GrpcCollectorClient {
    GrpcCollectorClient::with_connector(
        timeout,
        Arc::new(move |collector: &str, timeout: Duration| {
            let target = cluster
                .route(collector)
                .ok_or_else(|| format!("collector {collector} has no route in the simulation"))?;
            net::channel(&target, timeout)
        }),
    )
}
