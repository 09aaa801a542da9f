//! Start-up: rebuild the supervisor from the persisted state, the sink's
//! committed progress, the live collectors and the current leaders
//! ([`Supervisor::recover`]). A table that is gone from the cluster does not
//! stop the start: the core marks its parts FAILED with a reason. A state file
//! that does not decode, a cluster that cannot be read, or a sink that refuses
//! for good, does stop it, with an error naming the file or the service
//! (starting anyway could assign from a wrong point). A sink that is only
//! unreachable (NameNode down, S3 503: a transient error) is waited for, with
//! exponential backoff, and each wait is logged.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sync_core::task::{Action, Config, Input, PersistedState, RecoveryInput, Supervisor};
use sync_infra::store::LocalStore;
use tracing::{info, warn};

use sync_sinks::Sink;

use super::cluster::{ClusterView, leaders};

/// The file holding the persisted state, under `sync_task.progress_path`.
pub const STATE_FILE: &str = "state.pb";

/// Why the daemon cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The progress dir or state file cannot be read.
    #[error("{0}")]
    Store(#[from] sync_infra::store::StoreError),
    /// The state file does not decode.
    #[error("{path}: {source}; move it away to start without tasks", path = .path.display())]
    State {
        /// The state file.
        path: PathBuf,
        /// The decode error.
        source: sync_core::task::RecoveryError,
    },
    /// The cluster cannot be read.
    #[error("cannot read the cluster during recovery: {0}")]
    Cluster(#[from] sync_infra::coordinator::ClusterError),
    /// The sink cannot be read.
    #[error("cannot read the committed progress of tid {tid} at {dest}: {message}")]
    Sink {
        /// Table id.
        tid: u32,
        /// Destination.
        dest: String,
        /// The store's message.
        message: String,
    },
    /// Binding the listen address failed.
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// The address.
        address: String,
        /// Why.
        source: std::io::Error,
    },
}

/// Reads the persisted state, if any.
pub fn read_state(
    local: &dyn LocalStore,
    progress_path: &Path,
) -> Result<Option<PersistedState>, StartError> {
    let path = progress_path.join(STATE_FILE);
    match local.read(&path)? {
        None => Ok(None),
        Some(bytes) => PersistedState::from_bytes(&bytes)
            .map(Some)
            .map_err(|source| StartError::State { path, source }),
    }
}

/// The sink's committed progress of `tid` in `dest`, waiting out transient
/// failures of the store.
async fn committed_progress(
    offline: &dyn Sink,
    dest: &str,
    tid: u32,
) -> Result<Vec<sync_core::task::SinkProgress>, StartError> {
    let backoff = sync_core::task::Backoff::default();
    let mut attempt = 0;
    loop {
        match offline.committed(dest, Some(tid)).await {
            Ok(progress) => return Ok(progress),
            Err(e) if e.failure().class() == sync_core::task::ErrorClass::Transient => {
                attempt += 1;
                let wait = backoff.delay_ms(attempt);
                warn!(
                    tid,
                    dest,
                    attempt,
                    "the offline store cannot be read yet (retrying in {wait} ms): {e}"
                );
                tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
            }
            Err(e) => {
                return Err(StartError::Sink {
                    tid,
                    dest: dest.to_owned(),
                    message: e.to_string(),
                });
            }
        }
    }
}

/// Builds the supervisor and the actions to run first.
pub async fn start_supervisor(
    config: Config,
    seed: u64,
    now_ms: u64,
    local: &dyn LocalStore,
    progress_path: &Path,
    cluster: &dyn ClusterView,
    offline: &dyn Sink,
) -> Result<(Supervisor, Vec<Action>), StartError> {
    local.create_dir_all(progress_path)?;
    let live = cluster.live_collectors().await?;
    let Some(state) = read_state(local, progress_path)? else {
        info!("no persisted state: starting without tasks");
        let mut sup = Supervisor::new(config, seed);
        let actions = sup.handle(now_ms, Input::Collectors { live });
        return Ok((sup, actions));
    };
    let mut tables = BTreeMap::new();
    let mut sink = Vec::new();
    for t in &state.tables {
        match cluster.table_info(t.tid).await? {
            Some(info) => match leaders(&info) {
                Ok(l) => {
                    tables.insert(t.tid, l);
                }
                Err(e) => warn!(tid = t.tid, "table metadata unusable during recovery: {e}"),
            },
            None => warn!(
                tid = t.tid,
                "table {}.{} is gone from the cluster; its task will be FAILED", t.db, t.table
            ),
        }
        let progress = committed_progress(offline, &t.dest, t.tid).await?;
        sink.extend(progress);
    }
    let input = RecoveryInput {
        state,
        sink,
        live_collectors: live,
        leaders: tables,
    };
    let (sup, actions) =
        Supervisor::recover(config, seed, now_ms, input).map_err(|source| StartError::State {
            path: progress_path.join(STATE_FILE),
            source,
        })?;
    info!(
        epoch = sup.epoch(),
        tables = sup.tables().len(),
        "recovered the sync tasks"
    );
    Ok((sup, actions))
}
