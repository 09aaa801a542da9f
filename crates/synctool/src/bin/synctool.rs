//! `synctool`: the SyncTool daemon. `synctool -f conf/synctool.properties`
//! (OpenMLDB's start script passes the properties file the same way).
//!
//! Logs go to standard output, at info for this project's crates and warn
//! for dependencies (`RUST_LOG` overrides), without colour codes unless
//! standard output is a terminal (`sync_infra::logging`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::{CommandFactory, FromArgMatches, Parser};
use sync_infra::coordinator::standalone::StandaloneCoordinator;
use sync_infra::coordinator::zk::{ZkConfig, ZkCoordinator};
use sync_infra::logging::{self, LogLevel, LogOutput};
use sync_infra::store::FsStore;
use sync_sinks::StoreSink;
use synctool::config::SyncToolConfig;
use synctool::daemon::clock::SystemClock;
use synctool::daemon::cluster::{ClusterView, CoordinatorView};
use synctool::daemon::collector_client::GrpcCollectorClient;
use synctool::daemon::{Daemon, DaemonOptions, DaemonParts, server};
use tracing::{error, info};

#[derive(Parser)]
#[command(
    name = "synctool",
    version,
    about = "OpenMLDB online→offline SyncTool daemon"
)]
struct Cli {
    /// The properties file.
    #[arg(
        short = 'f',
        long = "config",
        default_value = "conf/synctool.properties"
    )]
    config: PathBuf,
}

fn main() -> ExitCode {
    // OpenMLDB's synctool.properties has no log level (its log4j.properties
    // had one): our crates log at info, dependencies at warn, RUST_LOG
    // overrides both. Plain text unless stdout is a terminal.
    if let Err(e) = logging::init(LogLevel::Info, LogOutput::Stdout) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    // `--help` ends with every synctool.properties key, from the one table.
    let matches = Cli::command()
        .after_help(synctool::config::keys::help_text())
        .get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let config = match SyncToolConfig::load(&cli.config) {
        Ok(c) => c,
        Err(e) => {
            error!("{e}");
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.worker_threads)
        .enable_all()
        .build();
    let result = runtime
        .context("cannot start the tokio runtime")
        .and_then(|rt| rt.block_on(run(config)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{e:#}");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The cluster view, and the ZooKeeper coordinator when there is one (the
/// SyncTool joins its election once it serves).
async fn cluster(
    config: &SyncToolConfig,
) -> anyhow::Result<(Arc<dyn ClusterView>, Option<ZkCoordinator>)> {
    if config.zk_cluster.is_empty() {
        let dir = config
            .standalone_metadata_dir
            .clone()
            .context("standalone mode needs standalone.metadata_dir")?;
        info!(collectors = ?config.standalone_collectors, metadata = %dir.display(), "standalone mode (no ZooKeeper)");
        let c = StandaloneCoordinator::new(config.standalone_collectors.clone(), dir);
        return Ok((Arc::new(CoordinatorView(Arc::new(c))), None));
    }
    let zk = ZkCoordinator::connect(ZkConfig {
        cluster: config.zk_cluster.clone(),
        root_path: config.zk_root_path.clone(),
        session_timeout: std::time::Duration::from_secs(10),
        cert: config.zk_cert.clone(),
    })
    .await?;
    Ok((Arc::new(CoordinatorView(Arc::new(zk.clone()))), Some(zk)))
}

async fn run(config: SyncToolConfig) -> anyhow::Result<()> {
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        ^ u64::from(std::process::id());
    let unusable =
        synctool::dest::unusable_roots(&config.allowed_dest_roots, &config.sink_config());
    if !unusable.is_empty() {
        anyhow::bail!("sync_task.allowed_dest_roots: {}", unusable.join("; "));
    }
    let (cluster, zk) = cluster(&config).await?;
    let parts = DaemonParts {
        clock: Arc::new(SystemClock),
        local: Arc::new(FsStore),
        // The offline store: local fs, HDFS or S3; CSV or Parquet, as configured.
        sink: Arc::new(StoreSink::new(config.sink_config())),
        collectors: Arc::new(GrpcCollectorClient::new(config.request_timeout)),
        cluster,
    };
    let listener = server::bind(&config.listen_address()).await?;
    let mut daemon = Daemon::start(DaemonOptions::from_config(&config, seed), parts).await?;
    // Membership and the coordinator election (FAULTS.md §4), after the port
    // is bound: a node an earlier run of this endpoint left is replaced.
    let election = match &zk {
        Some(zk) => Some(
            zk.join_election(&config.advertised_endpoint)
                .await
                .context("cannot join the SyncTools' coordinator election")?,
        ),
        None => None,
    };
    info!(
        listen = %config.listen_address(),
        advertised = %config.advertised_endpoint,
        progress = %config.progress_path.display(),
        "SyncTool serving"
    );
    let shutdown = async {
        sync_infra::one_port::shutdown_signal().await;
        info!("stopping");
    };
    let serving = server::serve(listener, daemon.handle(), shutdown);
    tokio::select! {
        served = serving => served?,
        why = daemon.failed() => anyhow::bail!("{why}"),
    }
    if let Some(election) = election {
        election.leave().await;
    }
    daemon.shutdown().await;
    Ok(())
}
