//! [`SyncToolHandle`]: the daemon's request API, shared by the gRPC service,
//! the HTTP+JSON admin and tests. It checks requests that need the cluster
//! (table lookup, storage mode, leaders), the configuration (destination
//! roots, field lengths) or the sink (the destination can be written; what
//! it already holds of the table) itself, then hands an [`Input`] to the
//! drive loop and waits for the reply action.

use std::path::PathBuf;
use std::sync::Arc;

use sync_core::task::{
    Action, Created, IfExists, Input, Mode, Pack, RequestedOptions, StatusReport, TableTaskSpec,
    TaskOptions, TaskOrigin,
};
use sync_infra::coordinator::Owners;
use sync_proto::datasync::{
    CreateSyncTaskRequest, DeleteSyncTaskRequest, GeneralResponse, SendDataRequest,
    SendDataResponse, TaskStatusRequest, TaskStatusResponse,
};
use sync_sinks::{Sink, SinkConfig, TableSchema, check_options};
use tokio::sync::{mpsc, oneshot};
use tracing::info;

use super::cluster::{ClusterView, syncable_leaders};
use super::drive::{Command, Reply};
use crate::dest::{MAX_FIELD_BYTES, check_dest};

/// The message when the drive loop is gone.
const STOPPED: &str = "SyncTool is shutting down";

/// A cheap, cloneable handle to a running daemon.
#[derive(Clone)]
pub struct SyncToolHandle {
    pub(crate) commands: mpsc::Sender<Command>,
    /// Flow control of packs with rows (see `submit_pack`).
    pub(crate) memory_gate: Arc<super::memory_gate::MemoryGate>,
    pub(crate) cluster: Arc<dyn ClusterView>,
    pub(crate) sink: Arc<dyn Sink>,
    pub(crate) metrics: super::metrics::Metrics,
    pub(crate) sink_config: Arc<SinkConfig>,
    /// The options of a create that gives none (`sink.*`).
    pub(crate) defaults: Arc<TaskOptions>,
    pub(crate) allowed_dest_roots: Arc<Vec<String>>,
    pub(crate) state_path: PathBuf,
    /// This SyncTool's advertised endpoint (`sync_tool.host:port`).
    pub(crate) endpoint: Arc<str>,
}

/// The SyncTools of the cluster as one of them sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// The answering SyncTool's endpoint.
    pub this: String,
    /// No ZooKeeper: this SyncTool runs alone (and coordinates itself).
    pub standalone: bool,
    /// The live SyncTools, sorted.
    pub workers: Vec<String>,
    /// The elected coordinator; `None` while none is elected.
    pub coordinator: Option<String>,
    /// Each partition task's owner and epoch (ZooKeeper's records; empty
    /// standalone, and when not asked for).
    pub owners: Owners,
}

impl Membership {
    /// How many partition tasks `worker` owns.
    pub fn parts_of(&self, worker: &str) -> usize {
        self.owners.values().filter(|o| o.worker == worker).count()
    }

    /// Whether `worker` is the elected coordinator.
    pub fn is_coordinator(&self, worker: &str) -> bool {
        self.coordinator.as_deref() == Some(worker)
    }

    /// `coordinator` or `worker`, for one of [`Membership::workers`].
    pub fn role_of(&self, worker: &str) -> &'static str {
        if self.is_coordinator(worker) {
            "coordinator"
        } else {
            "worker"
        }
    }
}

/// A pack reply that may still be on its way (for ordered streams).
pub enum PendingPack {
    /// Answered without the drive loop (the request did not parse).
    Ready(SendDataResponse),
    /// The drive loop will answer.
    Waiting(oneshot::Receiver<Reply>),
}

impl PendingPack {
    /// Waits for the reply.
    pub async fn resolve(self) -> SendDataResponse {
        match self {
            PendingPack::Ready(r) => r,
            PendingPack::Waiting(rx) => match rx.await {
                Ok(Ok(Action::PackReply(r))) => r.to_proto(),
                Ok(Ok(other)) => pack_error(format!("internal error: unexpected reply {other:?}")),
                Ok(Err(msg)) => pack_error(msg),
                Err(_) => pack_error(STOPPED.into()),
            },
        }
    }
}

fn pack_error(msg: String) -> SendDataResponse {
    SendDataResponse {
        response: error(msg),
        delete_task: Some(false),
        committed_point: None,
        resume_point: None,
        drop_reason: None,
    }
}

/// The options a create asks for (its fields 101–109).
fn requested_options(req: &CreateSyncTaskRequest) -> Result<RequestedOptions, String> {
    for (field, value) in [
        ("format", &req.format),
        ("csv_null", &req.csv_null),
        ("parquet_compression", &req.parquet_compression),
        ("partition_by", &req.partition_by),
        ("partition_time_zone", &req.partition_time_zone),
    ] {
        if let Some(v) = value {
            check_length(field, v)?;
        }
    }
    Ok(RequestedOptions {
        format: req.format.clone(),
        csv_header: req.csv_header,
        csv_null: req.csv_null.clone(),
        compression: req.parquet_compression.clone(),
        roll_max_rows: req.roll_max_rows,
        roll_max_bytes: req.roll_max_bytes,
        roll_max_age_ms: req.roll_max_age_ms,
        partition_by: req.partition_by.clone(),
        time_zone: req.partition_time_zone.clone(),
    })
}

/// `{code: 0, msg: "ok"}`.
pub fn ok() -> GeneralResponse {
    GeneralResponse {
        code: Some(0),
        msg: Some("ok".into()),
    }
}

/// `{code: -1, msg}`.
pub fn error(msg: impl Into<String>) -> GeneralResponse {
    GeneralResponse {
        code: Some(-1),
        msg: Some(msg.into()),
    }
}

impl SyncToolHandle {
    async fn call(&self, input: Input) -> Reply {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Input {
                input,
                reply: Some(tx),
            })
            .await
            .map_err(|_| STOPPED.to_string())?;
        rx.await.map_err(|_| STOPPED.to_string())?
    }

    /// Feeds an input that has no reply (ticks, metadata, collectors).
    pub async fn feed(&self, input: Input) -> Result<(), String> {
        self.commands
            .send(Command::Input { input, reply: None })
            .await
            .map_err(|_| STOPPED.to_string())
    }

    /// Time passes (timeouts, rolls by age).
    pub async fn tick(&self) -> Result<(), String> {
        self.feed(Input::Tick).await
    }

    /// `CreateSyncTask`. The reply's `msg` says whether the task continues
    /// output already in the destination (`ok` alone: a new task, as OpenMLDB).
    pub async fn create(&self, req: CreateSyncTaskRequest) -> GeneralResponse {
        match self.try_create(req).await {
            Ok(Created { task_id, origin }) => {
                info!(task_id, %origin, "sync task created");
                match origin {
                    TaskOrigin::Created => ok(),
                    other => GeneralResponse {
                        code: Some(0),
                        msg: Some(format!("ok: {other}")),
                    },
                }
            }
            Err(msg) => error(msg),
        }
    }

    async fn try_create(&self, req: CreateSyncTaskRequest) -> Result<Created, String> {
        let requested = requested_options(&req)?;
        let db = req.db.unwrap_or_default();
        let name = req.name.unwrap_or_default();
        if db.is_empty() || name.is_empty() {
            return Err("db and name are required (the table as db.table)".into());
        }
        check_length("db", &db)?;
        check_length("name", &name)?;
        let if_exists = IfExists::from_proto(req.if_exists).map_err(|e| e.to_string())?;
        let mode_number = req.mode.ok_or(
            "mode is required: 0 (kFull), 1 (kIncrementalByTimestamp) or 2 (kFullAndContinuous)",
        )?;
        let mode = Mode::from_i32(mode_number).map_err(|_| {
            format!("mode {mode_number} is not a sync mode: use 0 (kFull), 1 (kIncrementalByTimestamp) or 2 (kFullAndContinuous)")
        })?;
        let start_ts = match mode {
            Mode::IncrementalByTimestamp => Some(
                req.start_ts
                    .ok_or("mode 1 (kIncrementalByTimestamp) needs start_ts")?,
            ),
            _ => None,
        };
        let options = requested
            .resolve(&self.defaults)
            .map_err(|e| format!("bad option: {e}"))?;
        let dest = req.dest.unwrap_or_default().trim().to_string();
        check_dest(&dest, &self.allowed_dest_roots, &self.sink_config)
            .map_err(|e| e.to_string())?;
        let info = self
            .cluster
            .find_table(&db, &name)
            .await
            .map_err(|e| format!("cannot read the metadata of {db}.{name}: {e}"))?
            .ok_or_else(|| format!("table {db}.{name} does not exist"))?;
        let partitions = syncable_leaders(&info).map_err(|e| e.to_string())?;
        if options.partition_by.is_some() {
            let schema = TableSchema::from_table_info(&info)
                .map_err(|e| format!("cannot read the schema of {db}.{name}: {e}"))?;
            check_options(&options, &schema).map_err(|e| format!("bad option: {e}"))?;
        }
        self.sink
            .check_destination(&dest)
            .await
            .map_err(|e| format!("destination `{dest}` cannot be written: {e}"))?;
        let existing = self
            .sink
            .committed(&dest, Some(info.tid()))
            .await
            .map_err(|e| format!("cannot read what `{dest}` already holds: {e}"))?;
        // Assign against the collectors alive now, not the last poll.
        let live = self
            .cluster
            .live_collectors()
            .await
            .map_err(|e| format!("cannot list the live data collectors: {e}"))?;
        self.feed(Input::Collectors { live }).await?;
        let spec = TableTaskSpec {
            db,
            table: name,
            tid: info.tid(),
            mode,
            start_ts,
            dest,
            if_exists,
            options,
        };
        let create = Input::Create {
            spec,
            partitions,
            existing,
        };
        match self.call(create).await? {
            Action::CreateReply(r) => r.map_err(|e| e.to_string()),
            other => Err(format!("internal error: unexpected reply {other:?}")),
        }
    }

    /// `DeleteSyncTask`.
    pub async fn delete(&self, req: DeleteSyncTaskRequest) -> GeneralResponse {
        let (db, table) = match names(req) {
            Ok(names) => names,
            Err(msg) => return error(msg),
        };
        match self.call(Input::Delete { db, table }).await {
            Ok(Action::DeleteReply(Ok(()))) => ok(),
            Ok(Action::DeleteReply(Err(e))) => error(e.to_string()),
            Ok(other) => error(format!("internal error: unexpected reply {other:?}")),
            Err(msg) => error(msg),
        }
    }

    /// Retries the FAILED parts of a table (added; `RetrySyncTask`).
    pub async fn retry(&self, req: DeleteSyncTaskRequest) -> GeneralResponse {
        let (db, table) = match names(req) {
            Ok(names) => names,
            Err(msg) => return error(msg),
        };
        match self.call(Input::RetryFailed { db, table }).await {
            Ok(Action::RetryReply(Ok(n))) => GeneralResponse {
                code: Some(0),
                msg: Some(format!("ok: {n} failed part(s) retried")),
            },
            Ok(Action::RetryReply(Err(e))) => error(e.to_string()),
            Ok(other) => error(format!("internal error: unexpected reply {other:?}")),
            Err(msg) => error(msg),
        }
    }

    /// The status report.
    pub async fn status_report(&self) -> Result<StatusReport, String> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Status(tx))
            .await
            .map_err(|_| STOPPED.to_string())?;
        rx.await.map_err(|_| STOPPED.to_string())
    }

    /// Table ids with a task.
    pub async fn tids(&self) -> Result<Vec<u32>, String> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Tids(tx))
            .await
            .map_err(|_| STOPPED.to_string())?;
        rx.await.map_err(|_| STOPPED.to_string())
    }

    /// `TaskStatus` (`clear_all` deletes every task first, as OpenMLDB).
    pub async fn task_status(&self, req: TaskStatusRequest) -> TaskStatusResponse {
        if req.clear_all == Some(true) {
            match self.status_report().await {
                Ok(report) => {
                    for t in report.tables {
                        let _ = self
                            .call(Input::Delete {
                                db: t.db,
                                table: t.table,
                            })
                            .await;
                    }
                }
                Err(msg) => return status_error(msg),
            }
        }
        match self.status_report().await {
            Ok(report) => {
                let mut resp = report.to_proto();
                resp.response = Some(ok());
                let path = self.state_path.display().to_string();
                resp.readable_info = report
                    .tables
                    .iter()
                    .flat_map(|t| t.partitions.iter())
                    // Exactly OpenMLDB's two keys: its helper splits on `;` and `=`.
                    .map(|p| format!("lastUpdateTime={};progressPath={path}", p.last_heard_ms))
                    .collect();
                resp
            }
            Err(msg) => status_error(msg),
        }
    }

    /// Hands a pack to the drive loop; the reply is awaited separately, so a
    /// stream can keep several packs in flight and still answer in order.
    pub async fn submit_pack(&self, req: SendDataRequest) -> PendingPack {
        let pack = match Pack::from_proto(req) {
            Ok(p) => p,
            Err(e) => return PendingPack::Ready(pack_error(format!("bad SendDataRequest: {e}"))),
        };
        // Flow control: while the rows held and queued near
        // `sink.memory_limit`, wait for commits to free some. The stream is
        // not read meanwhile, so the collector's sends wait too (HTTP/2 flow
        // control) instead of being answered busy.
        let admitted = (pack.row_count > 0).then_some(pack.rows.len() as u64);
        if let Some(bytes) = admitted {
            self.memory_gate.admit(bytes).await;
        }
        let (tx, rx) = oneshot::channel();
        let cmd = Command::Input {
            input: Input::Pack(pack),
            reply: Some(tx),
        };
        if self.commands.send(cmd).await.is_err() {
            if let Some(bytes) = admitted {
                self.memory_gate.taken(bytes);
            }
            return PendingPack::Ready(pack_error(STOPPED.into()));
        }
        PendingPack::Waiting(rx)
    }

    /// `SendData` (one pack).
    pub async fn send_data(&self, req: SendDataRequest) -> SendDataResponse {
        self.submit_pack(req).await.resolve().await
    }

    /// The live SyncTools and which one is the coordinator; with
    /// `with_owners` also every part's owner (one ZooKeeper read per part).
    pub async fn membership(&self, with_owners: bool) -> Result<Membership, String> {
        let this = self.endpoint.to_string();
        let owners = if with_owners {
            self.cluster
                .owners()
                .await
                .map_err(|e| format!("cannot read the partitions' owners: {e}"))?
        } else {
            Owners::new()
        };
        match self.cluster.sync_tools().await {
            Ok(None) => Ok(Membership {
                workers: vec![this.clone()],
                coordinator: Some(this.clone()),
                this,
                standalone: true,
                owners,
            }),
            Ok(Some(tools)) => Ok(Membership {
                this,
                standalone: false,
                workers: tools.workers,
                coordinator: tools.coordinator,
                owners,
            }),
            Err(e) => Err(format!("cannot list the SyncTools: {e}")),
        }
    }

    /// The live collectors, from the coordinator.
    pub async fn live_collectors(&self) -> Result<Vec<String>, String> {
        self.cluster
            .live_collectors()
            .await
            .map_err(|e| format!("cannot list the live data collectors: {e}"))
    }
}

/// The table of a delete or retry.
fn names(req: DeleteSyncTaskRequest) -> Result<(String, String), String> {
    let (db, table) = (req.db.unwrap_or_default(), req.name.unwrap_or_default());
    if db.is_empty() || table.is_empty() {
        return Err("db and name are required (the table as db.table)".into());
    }
    check_length("db", &db)?;
    check_length("name", &table)?;
    Ok((db, table))
}

/// Refuses a field longer than [`MAX_FIELD_BYTES`] (without echoing it).
fn check_length(field: &str, value: &str) -> Result<(), String> {
    if value.len() > MAX_FIELD_BYTES {
        return Err(format!(
            "{field} is {} bytes long; at most {MAX_FIELD_BYTES} are accepted",
            value.len()
        ));
    }
    Ok(())
}

fn status_error(msg: String) -> TaskStatusResponse {
    TaskStatusResponse {
        response: Some(error(msg)),
        task: Vec::new(),
        readable_info: Vec::new(),
    }
}
