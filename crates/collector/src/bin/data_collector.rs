//! `data_collector`: the DataCollector daemon, one per TabletServer host.
//!
//! ```text
//! data_collector --flagfile=conf/data_collector.flags [--name=value ...]
//! ```
//!
//! Flags are OpenMLDB's (gflags syntax, later ones win; see
//! `conf/data_collector.flags`). It listens on `--endpoint` for SyncTool's
//! `AddSyncTask` and serves `GET /status` there; with `--zk_cluster` it
//! registers `<zk_root_path>/sync_tool/collector/<endpoint>` once it listens,
//! otherwise it runs standalone (SyncTool lists it in `standalone.collectors`).
//! Tasks persisted under `--collector_datadir` are resumed at start. SIGINT
//! or SIGTERM stops it cleanly. Logs go to standard output, without colour
//! codes unless it is a terminal (`sync_infra::logging`).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use data_collector::flags::CollectorConfig;
use data_collector::manager::TaskManager;
use data_collector::service::{self, Collector};
use data_collector::tablet_client::HttpTabletClient;
use data_collector::task_run::{CollectorSettings, TaskEnv, tcp_connector};
use data_collector::workdir::WorkDir;
use sync_infra::coordinator::zk::{ZkConfig, ZkCoordinator};
use sync_infra::logging::{self, LogOutput};
use sync_infra::one_port;
use sync_infra::store::FsStore;
use tracing::{error, info};

const USAGE: &str = "\
data_collector: the OpenMLDB DataCollector daemon (reads tablet snapshots and binlogs, streams rows to SyncTool)

usage: data_collector --flagfile=conf/data_collector.flags [--name=value ...]

flags (OpenMLDB's names; a later flag wins):
  --endpoint=IP:PORT                listen address and this collector's name (required)
  --zk_cluster=HOST:PORT,...        ZooKeeper; empty = standalone
  --zk_root_path=/openmldb          OpenMLDB's root path in ZooKeeper
  --zk_session_timeout=MS           ZooKeeper session timeout (2000)
  --zk_cert=USER:PASSWORD           ZooKeeper digest auth
  --collector_datadir=DIR           work dir for hard links; same filesystem as the tablet data
  --max_pack_size=BYTES             bytes of rows per pack (1048576)
  --socket_max_unwritten_bytes=N    bytes of packs in flight per stream (67108864)
  --sync_task_long_interval_ms=MS   heartbeat when caught up; first pause before retrying (5000, doubling to 30 s)
  --tail_interval_ms=MS             first look for new binlog entries once caught up (100; doubling to 1 s)
  --request_timeout_ms=MS           tablet calls and connecting to SyncTool (20000)
  --binlog_enable_crc=true|false    verify binlog record checksums (false)
  --link_interval_ms=MS             link new binlog files this often, in every phase (1000)
  --probe_interval_ms=MS            a dormant task asks SyncTool for the committed point this often (10000)
  --thread_pool_size=N              async worker threads (16)
  --log_level=debug|info|warning|error  level of this daemon's logs (debug); dependencies log
                                    at warn; RUST_LOG (EnvFilter syntax) overrides both
see conf/data_collector.flags for every flag";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args
        .iter()
        .any(|a| matches!(a.as_str(), "--help" | "-h" | "-help"))
    {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    if args
        .iter()
        .any(|a| matches!(a.as_str(), "--version" | "-version"))
    {
        println!("data_collector {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let config = match CollectorConfig::from_args(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}\n(data_collector --help lists the flags)");
            return ExitCode::FAILURE;
        }
    };
    // --log_level sets our crates' level; dependencies stay at warn; RUST_LOG
    // overrides both. Plain text unless stdout is a terminal.
    if let Err(e) = logging::init(config.log_level, LogOutput::Stdout) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.thread_pool_size.clamp(1, 256) as usize)
        .enable_all()
        .build()
        .context("cannot start the tokio runtime");
    let result = runtime.and_then(|rt| rt.block_on(run(config)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{e:#}");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The task settings the flags describe.
fn settings(config: &CollectorConfig) -> CollectorSettings {
    let pack = config.max_pack_size.max(1);
    CollectorSettings {
        max_pack_size: usize::try_from(pack).unwrap_or(usize::MAX),
        verify_crc: config.binlog_enable_crc,
        // brpc capped the bytes a socket may queue; here that caps the packs in flight.
        window: (config.socket_max_unwritten_bytes / pack).clamp(1, 64) as usize,
        idle_interval: Duration::from_millis(config.sync_task_long_interval_ms.max(10)),
        tail_interval: Duration::from_millis(config.tail_interval_ms.max(1)),
        retry_interval: Duration::from_millis(config.sync_task_long_interval_ms.max(10)),
        request_timeout: Duration::from_millis(config.request_timeout_ms.max(1)),
        link_interval: Duration::from_millis(config.link_interval_ms.max(1)),
        probe_interval: Duration::from_millis(config.probe_interval_ms.max(1)),
        ..CollectorSettings::default()
    }
}

async fn run(config: CollectorConfig) -> anyhow::Result<()> {
    if config.endpoint.is_empty() {
        bail!("--endpoint is required (ip:port to listen on; also this collector's name)");
    }
    let listener = one_port::bind(&config.endpoint).await?;
    let settings = settings(&config);
    let env = TaskEnv {
        work: WorkDir::new(FsStore, config.collector_datadir.clone()),
        tablet: Arc::new(HttpTabletClient::new(settings.request_timeout)),
        settings: Arc::new(settings),
        clock: now_ms,
        connect: tcp_connector(),
    };
    let collector = Arc::new(Collector {
        endpoint: config.endpoint.clone(),
        tasks: TaskManager::new(env),
        clock: now_ms,
    });
    let recovered = collector.tasks.recover().await.with_context(|| {
        format!(
            "reading the work dir {}",
            config.collector_datadir.display()
        )
    })?;
    // Registered only once the port is bound, so SyncTool never sees a
    // collector it cannot reach; the node goes with the session on exit.
    let coordinator = if config.zk_cluster.is_empty() {
        info!(
            "standalone mode (no ZooKeeper): list {} in SyncTool's standalone.collectors",
            config.endpoint
        );
        None
    } else {
        let zk = ZkCoordinator::connect(ZkConfig {
            cluster: config.zk_cluster.clone(),
            root_path: config.zk_root_path.clone(),
            session_timeout: Duration::from_millis(config.zk_session_timeout_ms.max(1)),
            cert: config.zk_cert.clone(),
        })
        .await
        .with_context(|| format!("connecting to ZooKeeper {}", config.zk_cluster))?;
        zk.register_collector(&config.endpoint)
            .await
            .context("registering in ZooKeeper")?;
        Some(zk)
    };
    info!(
        endpoint = %config.endpoint,
        datadir = %config.collector_datadir.display(),
        recovered,
        "DataCollector serving"
    );
    one_port::serve(
        listener,
        service::router(collector.clone()),
        one_port::shutdown_signal(),
    )
    .await?;
    info!("stopping: tasks are kept in the work dir and resumed at the next start");
    collector.tasks.shutdown().await;
    drop(coordinator);
    Ok(())
}
