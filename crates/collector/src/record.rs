//! What a task's work dir remembers besides `task.progress`: its phase
//! (`task.state`, JSON), so that a restarted collector resumes an active
//! task, finishes a finishing one and keeps a dormant one dormant; and the
//! tablet's paths, so that new binlog files are linked on the timer even
//! before (or without) an answer from the tablet.
//!
//! A missing record is an active task (work dirs written before the record
//! existed). The committed point is not recorded: without it the collector
//! keeps everything until SyncTool's next answer names it.

use serde::{Deserialize, Serialize};
use sync_core::proto::datasync::ReadFailureKind;
use sync_infra::store::LocalStore;

use crate::fault::{kind_from_name, kind_name};
use crate::workdir::{STATE_FILE, WorkDir, WorkDirError};

/// Why a task sends no rows and only keeps its links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dormancy {
    /// SyncTool gave the part to another assignment (a stale token).
    Reassigned { message: String },
    /// SyncTool says the part is FAILED.
    PartFailed { message: String },
    /// Reading failed for good; the failure pack says so.
    ReadFailed {
        kind: ReadFailureKind,
        message: String,
    },
    /// SyncTool refused a pack as malformed.
    Malformed { message: String },
}

impl Dormancy {
    /// A short stable name.
    pub fn name(&self) -> &'static str {
        match self {
            Dormancy::Reassigned { .. } => "reassigned",
            Dormancy::PartFailed { .. } => "part_failed",
            Dormancy::ReadFailed { .. } => "read_failed",
            Dormancy::Malformed { .. } => "malformed",
        }
    }
}

impl std::fmt::Display for Dormancy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dormancy::Reassigned { message } => {
                write!(f, "another assignment owns the part: {message}")
            }
            Dormancy::PartFailed { message } => write!(f, "the part is FAILED: {message}"),
            Dormancy::ReadFailed { kind, message } => {
                write!(f, "reading failed ({}): {message}", kind_name(*kind))
            }
            Dormancy::Malformed { message } => write!(f, "SyncTool refused a pack: {message}"),
        }
    }
}

/// A task's recorded phase.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum RecordedPhase {
    /// Reading and streaming (or preparing to).
    #[default]
    Active,
    /// Mode 0: the last pack was accepted at the point in `task.progress`;
    /// waiting for it to be committed.
    Finishing,
    /// Sending no rows (see [`Dormancy`]) since `since_ms`.
    Dormant { why: Dormancy, since_ms: u64 },
}

/// The tablet's dirs of the partition, as `GetTableStatus` gave them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TabletPaths {
    pub snapshot_path: String,
    pub binlog_path: String,
}

/// `task.state`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskRecord {
    pub phase: RecordedPhase,
    pub tablet_paths: Option<TabletPaths>,
}

/// The JSON form.
#[derive(Serialize, Deserialize, Default)]
struct Json {
    #[serde(default)]
    phase: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dormant: Option<DormantJson>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tablet_paths: Option<TabletPaths>,
}

#[derive(Serialize, Deserialize)]
struct DormantJson {
    why: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    failure_kind: Option<String>,
    message: String,
    since_ms: u64,
}

impl TaskRecord {
    fn to_json(&self) -> Json {
        let (phase, dormant) = match &self.phase {
            RecordedPhase::Active => ("active", None),
            RecordedPhase::Finishing => ("finishing", None),
            RecordedPhase::Dormant { why, since_ms } => {
                let (message, failure_kind) = match why {
                    Dormancy::Reassigned { message }
                    | Dormancy::PartFailed { message }
                    | Dormancy::Malformed { message } => (message.clone(), None),
                    Dormancy::ReadFailed { kind, message } => {
                        (message.clone(), Some(kind_name(*kind).to_string()))
                    }
                };
                (
                    "dormant",
                    Some(DormantJson {
                        why: why.name().into(),
                        failure_kind,
                        message,
                        since_ms: *since_ms,
                    }),
                )
            }
        };
        Json {
            phase: phase.into(),
            dormant,
            tablet_paths: self.tablet_paths.clone(),
        }
    }

    fn from_json(json: Json) -> Self {
        let phase = match (json.phase.as_str(), json.dormant) {
            ("finishing", _) => RecordedPhase::Finishing,
            ("dormant", Some(d)) => {
                let message = d.message;
                let why = match d.why.as_str() {
                    "reassigned" => Dormancy::Reassigned { message },
                    "part_failed" => Dormancy::PartFailed { message },
                    "malformed" => Dormancy::Malformed { message },
                    _ => Dormancy::ReadFailed {
                        kind: d
                            .failure_kind
                            .as_deref()
                            .and_then(kind_from_name)
                            .unwrap_or(ReadFailureKind::KCorrupt),
                        message,
                    },
                };
                RecordedPhase::Dormant {
                    why,
                    since_ms: d.since_ms,
                }
            }
            _ => RecordedPhase::Active,
        };
        TaskRecord {
            phase,
            tablet_paths: json.tablet_paths,
        }
    }

    /// Reads the record of a task (the default when there is none).
    pub fn load<S: LocalStore>(
        work: &WorkDir<S>,
        tid: u32,
        pid: u32,
    ) -> Result<Self, WorkDirError> {
        let path = work.task_dir(tid, pid).join(STATE_FILE);
        let Some(bytes) = work.store().read(&path)? else {
            return Ok(Self::default());
        };
        let json: Json = serde_json::from_slice(&bytes)
            .map_err(|source| WorkDirError::State { path, source })?;
        Ok(Self::from_json(json))
    }

    /// Writes the record atomically (the task dir must exist).
    pub fn save<S: LocalStore>(
        &self,
        work: &WorkDir<S>,
        tid: u32,
        pid: u32,
    ) -> Result<(), WorkDirError> {
        let path = work.task_dir(tid, pid).join(STATE_FILE);
        let bytes =
            serde_json::to_vec_pretty(&self.to_json()).map_err(|source| WorkDirError::State {
                path: path.clone(),
                source,
            })?;
        Ok(work.store().write_atomic(&path, &bytes)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sync_infra::store::FsStore;

    #[test]
    fn records_round_trip_and_a_missing_one_is_active() {
        let dir = tempfile::tempdir().expect("tempdir");
        let work = WorkDir::new(FsStore, dir.path().to_path_buf());
        assert_eq!(
            TaskRecord::load(&work, 1, 2).expect("none"),
            TaskRecord::default()
        );
        std::fs::create_dir_all(work.task_dir(1, 2)).expect("mkdir");
        let paths = Some(TabletPaths {
            snapshot_path: "/t/snapshot/".into(),
            binlog_path: "/t/binlog/".into(),
        });
        for phase in [
            RecordedPhase::Active,
            RecordedPhase::Finishing,
            RecordedPhase::Dormant {
                why: Dormancy::Reassigned {
                    message: "stale".into(),
                },
                since_ms: 5,
            },
            RecordedPhase::Dormant {
                why: Dormancy::ReadFailed {
                    kind: ReadFailureKind::KCorrupt,
                    message: "binlog x at byte 3".into(),
                },
                since_ms: 6,
            },
            RecordedPhase::Dormant {
                why: Dormancy::PartFailed {
                    message: "m".into(),
                },
                since_ms: 7,
            },
        ] {
            let record = TaskRecord {
                phase,
                tablet_paths: paths.clone(),
            };
            record.save(&work, 1, 2).expect("save");
            assert_eq!(TaskRecord::load(&work, 1, 2).expect("load"), record);
        }
        std::fs::write(work.task_dir(1, 2).join(STATE_FILE), b"{").expect("garbage");
        let err = TaskRecord::load(&work, 1, 2).expect_err("bad");
        assert!(err.to_string().contains(STATE_FILE), "{err}");
    }
}
