//! What SyncTool persists, and how it rebuilds its state after a restart.
//!
//! The persisted state ([`PersistedState`], encoded with protobuf by
//! [`PersistedState::to_bytes`]) holds every table task and, per partition, its
//! status, the FAILED reason, the leader, and the committed point with its
//! segment count and row count. It is written whole, by the daemon, with temp +
//! fsync + rename, whenever the supervisor emits [`Action::Persist`]: before
//! a reply that waits on a change, else at most
//! [`Config::persist_delay_ms`](crate::task::supervisor::Config::persist_delay_ms)
//! after the change, with the changes made meanwhile. It also
//! holds the SyncTool epoch, so tokens of different runs never collide.
//!
//! Recovery ([`Supervisor::recover`]) combines it with what the sink says is
//! committed ([`SinkProgress`], read from the commit records). **The sink wins**:
//! the local state is written after a commit and may lag; a part with no
//! commit record in the sink starts from the beginning. Then:
//!
//! * SUCCESS and FAILED parts stay as they are (FAILED keeps its reason);
//!   tables whose parts are all SUCCESS are removed;
//! * parts of tables (or partitions) gone from the cluster become FAILED;
//! * a part whose sink holds fewer committed segments than the persisted
//!   state says (files removed by hand) becomes FAILED ("the sink is behind
//!   the recorded progress"): replaying silently would write its rows again;
//! * every other part becomes RUNNING (as the seed says), its staged but
//!   uncommitted segments are cleared, and it is assigned afresh — new token,
//!   from the committed point — so collectors still streaming with an old token
//!   are told to stop.
//!
//! Task ids are never reused: the next one is past both the persisted counter
//! and every task id the sink shows.
//!
//! The daemon should also clear staging of task ids it finds in the sink but
//! not in the persisted state (tables deleted before the crash).

use std::collections::BTreeMap;

use crate::point::{Point, RowKey, SnapshotPoint};
use crate::task::assign::TokenSource;
use crate::task::failure::PartError;
use crate::task::model::{
    Ending, Failure, Finished, IfExists, Mode, PartitionLeader, Status, TableTask, TableTaskSpec,
    TaskOrigin,
};
use crate::task::options::{PersistedOptions, TaskOptions};
use crate::task::supervisor::{
    Action, Config, Ctx, Out, Supervisor, assign_next, fail, new_partition,
};

/// A point as persisted (lossless, pk as bytes).
#[derive(Clone, PartialEq, prost::Message)]
pub struct PersistedPoint {
    /// A binlog point (else a snapshot point).
    #[prost(bool, tag = "1")]
    pub binlog: bool,
    /// Snapshot key pk.
    #[prost(bytes = "vec", optional, tag = "2")]
    pub pk: Option<Vec<u8>>,
    /// Snapshot key ts.
    #[prost(uint64, optional, tag = "3")]
    pub ts: Option<u64>,
    /// Binlog offset, or the catch-up index of a snapshot point.
    #[prost(uint64, optional, tag = "4")]
    pub offset: Option<u64>,
    /// Effective snapshot offset.
    #[prost(uint64, optional, tag = "5")]
    pub snapshot_offset: Option<u64>,
}

impl From<&Point> for PersistedPoint {
    fn from(p: &Point) -> Self {
        match p {
            Point::Binlog { offset } => PersistedPoint {
                binlog: true,
                offset: Some(*offset),
                ..Default::default()
            },
            Point::Snapshot(s) => PersistedPoint {
                binlog: false,
                pk: s.key.as_ref().map(|k| k.pk.clone()),
                ts: s.key.as_ref().map(|k| k.ts),
                offset: s.catch_up_from,
                snapshot_offset: s.snapshot_offset,
            },
        }
    }
}

impl TryFrom<&PersistedPoint> for Point {
    type Error = RecoveryError;
    fn try_from(p: &PersistedPoint) -> Result<Self, RecoveryError> {
        if p.binlog {
            let offset = p
                .offset
                .ok_or_else(|| RecoveryError::Corrupt("binlog point without offset".into()))?;
            return Ok(Point::Binlog { offset });
        }
        let key = match (&p.pk, p.ts) {
            (Some(pk), Some(ts)) => Some(RowKey::new(pk.clone(), ts)),
            (None, None) => None,
            _ => {
                return Err(RecoveryError::Corrupt(
                    "snapshot point with half a key".into(),
                ));
            }
        };
        Ok(Point::Snapshot(SnapshotPoint {
            snapshot_offset: p.snapshot_offset,
            key,
            catch_up_from: p.offset,
        }))
    }
}

/// One partition task as persisted.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PersistedPartition {
    /// Partition id.
    #[prost(uint32, tag = "1")]
    pub pid: u32,
    /// Leader tablet.
    #[prost(string, tag = "2")]
    pub tablet_endpoint: String,
    /// Status, as its OpenMLDB string.
    #[prost(string, tag = "3")]
    pub status: String,
    /// Why it is FAILED.
    #[prost(string, optional, tag = "4")]
    pub failure_reason: Option<String>,
    /// The committed point.
    #[prost(message, optional, tag = "5")]
    pub committed: Option<PersistedPoint>,
    /// Segments committed (the next seq).
    #[prost(uint64, tag = "6")]
    pub next_seq: u64,
    /// Rows committed.
    #[prost(uint64, tag = "7")]
    pub rows_committed: u64,
    /// The kind of the FAILED reason (`PartError::kind`).
    #[prost(string, optional, tag = "8")]
    pub failure_kind: Option<String>,
    /// The collector that held the part when it failed.
    #[prost(string, optional, tag = "9")]
    pub failure_collector: Option<String>,
    /// Bytes of rows committed (as received).
    #[prost(uint64, tag = "10")]
    pub bytes_committed: u64,
    /// Files committed.
    #[prost(uint64, tag = "11")]
    pub files_committed: u64,
}

/// One table task as persisted.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PersistedTable {
    /// Table task id.
    #[prost(uint64, tag = "1")]
    pub task_id: u64,
    /// Database.
    #[prost(string, tag = "2")]
    pub db: String,
    /// Table.
    #[prost(string, tag = "3")]
    pub table: String,
    /// Table id.
    #[prost(uint32, tag = "4")]
    pub tid: u32,
    /// Mode number.
    #[prost(int32, tag = "5")]
    pub mode: i32,
    /// Mode 1 lower bound.
    #[prost(uint64, optional, tag = "6")]
    pub start_ts: Option<u64>,
    /// Destination.
    #[prost(string, tag = "7")]
    pub dest: String,
    /// Partition tasks.
    #[prost(message, repeated, tag = "8")]
    pub partitions: Vec<PersistedPartition>,
    /// How the task began: 0 created, 1 resumed, 2 appended.
    #[prost(uint32, tag = "9")]
    pub origin: u32,
    /// Resumed: partitions that continued committed output.
    #[prost(uint32, tag = "10")]
    pub origin_partitions: u32,
    /// Resumed or appended: rows committed in the destination before.
    #[prost(uint64, tag = "11")]
    pub origin_rows: u64,
    /// When it was created (ms).
    #[prost(uint64, tag = "12")]
    pub created_ms: u64,
    /// The resolved output options; absent in the state of earlier
    /// versions, which wrote with SyncTool's defaults ([`Config::defaults`](crate::task::Config::defaults)).
    #[prost(message, optional, tag = "13")]
    pub options: Option<PersistedOptions>,
}

/// A table task that ended, as persisted for the history.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PersistedFinished {
    /// Table id.
    #[prost(uint32, tag = "1")]
    pub tid: u32,
    /// Table task id.
    #[prost(uint64, tag = "2")]
    pub task_id: u64,
    /// Database.
    #[prost(string, tag = "3")]
    pub db: String,
    /// Table.
    #[prost(string, tag = "4")]
    pub table: String,
    /// Mode number.
    #[prost(int32, tag = "5")]
    pub mode: i32,
    /// Destination.
    #[prost(string, tag = "6")]
    pub dest: String,
    /// `completed` or `deleted`.
    #[prost(string, tag = "7")]
    pub ending: String,
    /// Rows committed.
    #[prost(uint64, tag = "8")]
    pub rows: u64,
    /// Files committed.
    #[prost(uint64, tag = "9")]
    pub files: u64,
    /// Bytes of rows committed.
    #[prost(uint64, tag = "10")]
    pub bytes: u64,
    /// Created (ms).
    #[prost(uint64, tag = "11")]
    pub created_ms: u64,
    /// Ended (ms).
    #[prost(uint64, tag = "12")]
    pub ended_ms: u64,
}

impl From<&Finished> for PersistedFinished {
    fn from(f: &Finished) -> Self {
        PersistedFinished {
            tid: f.tid,
            task_id: f.task_id,
            db: f.db.clone(),
            table: f.table.clone(),
            mode: f.mode.to_proto() as i32,
            dest: f.dest.clone(),
            ending: f.ending.as_str().into(),
            rows: f.rows,
            files: f.files,
            bytes: f.bytes,
            created_ms: f.created_ms,
            ended_ms: f.ended_ms,
        }
    }
}

impl TryFrom<&PersistedFinished> for Finished {
    type Error = RecoveryError;
    fn try_from(f: &PersistedFinished) -> Result<Self, RecoveryError> {
        Ok(Finished {
            tid: f.tid,
            task_id: f.task_id,
            db: f.db.clone(),
            table: f.table.clone(),
            mode: Mode::from_i32(f.mode).map_err(|e| RecoveryError::Corrupt(e.to_string()))?,
            dest: f.dest.clone(),
            ending: match f.ending.as_str() {
                "completed" => Ending::Completed,
                "deleted" => Ending::Deleted,
                other => {
                    return Err(RecoveryError::Corrupt(format!(
                        "unknown ending {other:?} in the history"
                    )));
                }
            },
            rows: f.rows,
            files: f.files,
            bytes: f.bytes,
            created_ms: f.created_ms,
            ended_ms: f.ended_ms,
        })
    }
}

impl PersistedTable {
    fn origin(&self) -> TaskOrigin {
        match self.origin {
            1 => TaskOrigin::Resumed {
                partitions: self.origin_partitions,
                rows: self.origin_rows,
            },
            2 => TaskOrigin::Appended {
                rows: self.origin_rows,
            },
            _ => TaskOrigin::Created,
        }
    }
}

/// Everything SyncTool persists.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PersistedState {
    /// The SyncTool epoch that wrote it.
    #[prost(uint64, tag = "1")]
    pub epoch: u64,
    /// The next table task id.
    #[prost(uint64, tag = "2")]
    pub next_task_id: u64,
    /// Table tasks.
    #[prost(message, repeated, tag = "3")]
    pub tables: Vec<PersistedTable>,
    /// Ended table tasks, for the history.
    #[prost(message, repeated, tag = "4")]
    pub history: Vec<PersistedFinished>,
}

impl PersistedState {
    /// Protobuf encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        prost::Message::encode_to_vec(self)
    }

    /// Decodes what [`PersistedState::to_bytes`] wrote.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, RecoveryError> {
        <Self as prost::Message>::decode(bytes).map_err(|e| RecoveryError::Decode(e.to_string()))
    }
}

/// The last commit record of a partition task, as the sink reports it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SinkProgress {
    /// Table id.
    pub tid: u32,
    /// Partition id.
    pub pid: u32,
    /// Table task id.
    pub task_id: u64,
    /// The last committed seq.
    pub last_seq: u64,
    /// Its end point.
    pub end: Point,
    /// Rows committed up to and including it.
    pub rows_total: u64,
}

/// What recovery starts from.
#[derive(Clone, Debug, Default)]
pub struct RecoveryInput {
    /// The last persisted state.
    pub state: PersistedState,
    /// The sink's last commit record per partition task.
    pub sink: Vec<SinkProgress>,
    /// Live collectors.
    pub live_collectors: Vec<String>,
    /// Current partitions and leaders of each table still in the cluster.
    pub leaders: BTreeMap<u32, Vec<PartitionLeader>>,
}

/// The persisted state cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecoveryError {
    /// Not a valid encoding.
    #[error("persisted state does not decode: {0}")]
    Decode(String),
    /// Decodes but makes no sense.
    #[error("persisted state is corrupt: {0}")]
    Corrupt(String),
}

impl Supervisor {
    /// The state to persist now.
    pub fn persisted(&self) -> PersistedState {
        PersistedState {
            epoch: self.epoch,
            next_task_id: self.next_task_id,
            tables: self.tables.values().map(persist_table).collect(),
            history: self.history.iter().map(PersistedFinished::from).collect(),
        }
    }

    /// Rebuilds the supervisor after a restart (module doc). The actions start
    /// with a persist of the new epoch, then clear staging and assign.
    pub fn recover(
        config: Config,
        seed: u64,
        now_ms: u64,
        input: RecoveryInput,
    ) -> Result<(Supervisor, Vec<Action>), RecoveryError> {
        let epoch = input.state.epoch + 1;
        let newest_in_sink = input.sink.iter().map(|s| s.task_id + 1).max().unwrap_or(0);
        let mut sup = Supervisor {
            config,
            tokens: TokenSource::new(seed, epoch),
            epoch,
            next_task_id: input.state.next_task_id.max(newest_in_sink),
            tables: BTreeMap::new(),
            live: input.live_collectors.into_iter().collect(),
            history: input
                .state
                .history
                .iter()
                .map(Finished::try_from)
                .collect::<Result<_, _>>()?,
            held: 0,
            persist_due_ms: None,
            reply_waits: false,
        };
        let mut behind_parts: BTreeMap<u32, BTreeMap<u32, String>> = BTreeMap::new();
        let sink: BTreeMap<(u32, u32, u64), &SinkProgress> = input
            .sink
            .iter()
            .map(|s| ((s.tid, s.pid, s.task_id), s))
            .collect();
        for t in &input.state.tables {
            let mode = Mode::from_i32(t.mode).map_err(|e| RecoveryError::Corrupt(e.to_string()))?;
            if t.task_id >= sup.next_task_id {
                sup.next_task_id = t.task_id + 1;
            }
            let mut table = TableTask {
                task_id: t.task_id,
                spec: TableTaskSpec {
                    db: t.db.clone(),
                    table: t.table.clone(),
                    tid: t.tid,
                    mode,
                    start_ts: t.start_ts,
                    dest: t.dest.clone(),
                    if_exists: IfExists::Default,
                    options: match &t.options {
                        Some(o) => TaskOptions::try_from(o).map_err(|e| {
                            RecoveryError::Corrupt(format!("options of task {}: {e}", t.task_id))
                        })?,
                        None => sup.config.defaults.clone(),
                    },
                },
                origin: t.origin(),
                created_ms: t.created_ms,
                partitions: BTreeMap::new(),
            };
            // Parts whose sink is behind the persisted progress, with why.
            let mut behind = BTreeMap::new();
            for p in &t.partitions {
                let status: Status =
                    p.status
                        .parse()
                        .map_err(|e: crate::task::model::UnknownStatus| {
                            RecoveryError::Corrupt(e.to_string())
                        })?;
                let (committed, next_seq, rows) = match sink.get(&(t.tid, p.pid, t.task_id)) {
                    Some(s) => (s.end.clone(), s.last_seq + 1, s.rows_total),
                    None => (Point::start(), 0, 0),
                };
                if next_seq < p.next_seq && !status.is_terminal() {
                    behind.insert(
                        p.pid,
                        format!(
                            "{} holds {next_seq} committed segment(s) ({rows} rows) of tid {} pid {} \
                             task {}, the recorded progress {} ({} rows); delete the task and \
                             create it again to write the partition anew",
                            t.dest, t.tid, p.pid, t.task_id, p.next_seq, p.rows_committed
                        ),
                    );
                }
                let mut part = new_partition(
                    &table,
                    p.pid,
                    p.tablet_endpoint.clone(),
                    status,
                    committed,
                    next_seq,
                    rows,
                    now_ms,
                );
                part.plan
                    .restore_volume(p.bytes_committed, p.files_committed);
                part.failure = p.failure_reason.clone().map(|message| Failure {
                    kind: p.failure_kind.clone().unwrap_or_default(),
                    message,
                    collector: p.failure_collector.clone(),
                });
                table.partitions.insert(p.pid, part);
            }
            behind_parts.insert(t.tid, behind);
            sup.tables.insert(t.tid, table);
        }

        let mut out = Out::default();
        out.actions.push(Action::Persist(sup.persisted()));
        let Supervisor {
            config,
            tokens,
            tables,
            live,
            ..
        } = &mut sup;
        for (tid, table) in tables.iter_mut() {
            let leaders: Option<BTreeMap<u32, &String>> = input
                .leaders
                .get(tid)
                .map(|ls| ls.iter().map(|l| (l.pid, &l.tablet_endpoint)).collect());
            let mut ctx = Ctx {
                config,
                tokens,
                live,
                spec: &table.spec,
                now: now_ms,
            };
            for part in table.partitions.values_mut() {
                if part.status.is_terminal() {
                    continue;
                }
                let gone = match &leaders {
                    None => Some(PartError::TableGone(format!(
                        "table {}.{} (tid {tid}) no longer exists in the cluster",
                        ctx.spec.db, ctx.spec.table
                    ))),
                    Some(ls) => match ls.get(&part.pid) {
                        None => Some(PartError::TableGone(format!(
                            "partition {} of tid {tid} no longer exists in the cluster",
                            part.pid
                        ))),
                        Some(ep) => {
                            part.tablet_endpoint = (*ep).clone();
                            None
                        }
                    },
                };
                let gone = gone.or_else(|| {
                    behind_parts
                        .get(tid)
                        .and_then(|b| b.get(&part.pid))
                        .map(|why| PartError::SinkBehind(why.clone()))
                });
                out.actions.push(Action::ClearStaging {
                    tid: *tid,
                    pid: part.pid,
                    task_id: table.task_id,
                    dest: ctx.spec.dest.clone(),
                    from_seq: part.plan.next_seq(),
                });
                out.dirty = true;
                match gone {
                    Some(error) => fail(&mut ctx, part, error, &mut out),
                    None => {
                        part.status = Status::Running;
                        assign_next(&mut ctx, part, &mut out);
                    }
                }
            }
        }
        sup.remove_completed(now_ms, None, &mut out);
        let actions = sup.finish(now_ms, out);
        Ok((sup, actions))
    }
}

fn persist_table(t: &TableTask) -> PersistedTable {
    PersistedTable {
        task_id: t.task_id,
        db: t.spec.db.clone(),
        table: t.spec.table.clone(),
        tid: t.spec.tid,
        mode: t.spec.mode.to_proto() as i32,
        start_ts: t.spec.start_ts,
        dest: t.spec.dest.clone(),
        partitions: t
            .partitions
            .values()
            .map(|p| PersistedPartition {
                pid: p.pid,
                tablet_endpoint: p.tablet_endpoint.clone(),
                status: p.status.to_string(),
                failure_reason: p.failure.as_ref().map(|f| f.message.clone()),
                committed: Some(p.plan.committed().into()),
                next_seq: p.plan.first_uncommitted_seq(),
                rows_committed: p.plan.rows_committed(),
                failure_kind: p.failure.as_ref().map(|f| f.kind.clone()),
                failure_collector: p.failure.as_ref().and_then(|f| f.collector.clone()),
                bytes_committed: p.plan.committed_volume().0,
                files_committed: p.plan.committed_volume().1,
            })
            .collect(),
        origin: match t.origin {
            TaskOrigin::Created => 0,
            TaskOrigin::Resumed { .. } => 1,
            TaskOrigin::Appended { .. } => 2,
        },
        origin_partitions: match t.origin {
            TaskOrigin::Resumed { partitions, .. } => partitions,
            _ => 0,
        },
        origin_rows: match t.origin {
            TaskOrigin::Resumed { rows, .. } | TaskOrigin::Appended { rows } => rows,
            TaskOrigin::Created => 0,
        },
        created_ms: t.created_ms,
        options: Some(PersistedOptions::from(&t.spec.options)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::options::FileFormat;

    /// A state with one table task, as a version without options wrote it
    /// when `options` is `None`.
    fn state_of(options: Option<PersistedOptions>) -> Vec<u8> {
        PersistedState {
            epoch: 1,
            next_task_id: 5,
            tables: vec![PersistedTable {
                task_id: 4,
                db: "db".into(),
                table: "t".into(),
                tid: 7,
                mode: 2,
                dest: "/out".into(),
                options,
                partitions: vec![PersistedPartition {
                    pid: 0,
                    tablet_endpoint: "h:1".into(),
                    status: "RUNNING".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            history: Vec::new(),
        }
        .to_bytes()
    }

    fn recovered_options(bytes: &[u8], defaults: TaskOptions) -> TaskOptions {
        let config = Config {
            defaults,
            ..Config::default()
        };
        let input = RecoveryInput {
            state: PersistedState::from_bytes(bytes).expect("decode"),
            sink: Vec::new(),
            live_collectors: Vec::new(),
            leaders: BTreeMap::from([(
                7,
                vec![PartitionLeader {
                    pid: 0,
                    tablet_endpoint: "h:1".into(),
                }],
            )]),
        };
        let (sup, actions) = Supervisor::recover(config, 1, 0, input).expect("recover");
        let persisted = actions.iter().find_map(|a| match a {
            Action::Persist(p) => Some(p.tables[0].options.clone()),
            _ => None,
        });
        let options = sup.table(7).expect("task").spec.options.clone();
        assert_eq!(
            persisted,
            Some(Some(PersistedOptions::from(&options))),
            "the resolved options are written back"
        );
        options
    }

    #[test]
    fn a_state_without_options_gets_the_defaults_and_stored_options_stay() {
        let defaults = TaskOptions {
            format: FileFormat::Csv,
            csv_null: "\\N".into(),
            ..TaskOptions::default()
        };
        assert_eq!(
            recovered_options(&state_of(None), defaults.clone()),
            defaults,
            "an earlier version's state: the SyncTool's defaults"
        );
        let mut own = TaskOptions {
            partition_by: Some("day(ts)".parse().expect("spec")),
            ..TaskOptions::default()
        };
        own.roll.max_rows = 7;
        let bytes = state_of(Some(PersistedOptions::from(&own)));
        assert_eq!(
            recovered_options(&bytes, defaults),
            own,
            "stored options win"
        );
        let mut bad = PersistedOptions::from(&own);
        bad.format = "orc".into();
        let input = RecoveryInput {
            state: PersistedState::from_bytes(&state_of(Some(bad))).expect("decode"),
            sink: Vec::new(),
            live_collectors: Vec::new(),
            leaders: BTreeMap::new(),
        };
        assert!(matches!(
            Supervisor::recover(Config::default(), 1, 0, input),
            Err(RecoveryError::Corrupt(_))
        ));
    }

    #[test]
    fn persisted_points_round_trip_including_non_utf8_keys() {
        let points = [
            Point::start(),
            Point::in_snapshot(4, Some(RowKey::new(vec![0xff, 0], 3))),
            Point::catching_up(9, RowKey::new("k", 1), 5),
            Point::Binlog { offset: 77 },
        ];
        for p in points {
            let back = Point::try_from(&PersistedPoint::from(&p)).unwrap();
            assert_eq!(back, p);
        }
    }

    #[test]
    fn persisted_state_round_trips_through_bytes() {
        let state = PersistedState {
            epoch: 3,
            next_task_id: 5,
            tables: vec![PersistedTable {
                task_id: 4,
                db: "db".into(),
                table: "t".into(),
                tid: 9,
                mode: 2,
                start_ts: None,
                dest: "/d".into(),
                partitions: vec![PersistedPartition {
                    pid: 0,
                    tablet_endpoint: "h:1".into(),
                    status: "FAILED".into(),
                    failure_reason: Some("why".into()),
                    committed: Some((&Point::Binlog { offset: 3 }).into()),
                    next_seq: 2,
                    rows_committed: 10,
                    failure_kind: Some("data_gone".into()),
                    failure_collector: Some("h:2".into()),
                    bytes_committed: 640,
                    files_committed: 2,
                }],
                origin: 1,
                origin_partitions: 1,
                origin_rows: 7,
                created_ms: 12,
                options: None,
            }],
            history: vec![PersistedFinished {
                tid: 8,
                task_id: 3,
                db: "db".into(),
                table: "old".into(),
                mode: 0,
                dest: "/e".into(),
                ending: "completed".into(),
                rows: 5,
                files: 1,
                bytes: 90,
                created_ms: 1,
                ended_ms: 2,
            }],
        };
        assert_eq!(PersistedState::from_bytes(&state.to_bytes()), Ok(state));
        assert!(matches!(
            PersistedState::from_bytes(&[0xff, 0xff]),
            Err(RecoveryError::Decode(_))
        ));
    }
}
