//! SyncTool's decisions as a pure, deterministic state machine (sans-IO).
//!
//! * [`model`]: table and partition tasks, statuses, packs;
//! * [`supervisor`]: the machine — [`Supervisor::handle`] takes an [`Input`]
//!   and returns [`Action`]s;
//! * [`commit`]: staging, the rolling policy and the exactly-once commit plan;
//! * [`failure`]: typed failures, their transient/permanent class, backoff;
//! * [`options`]: per-task output options (format, roll limits, partitioning);
//! * [`assign`]: which collector gets a partition, and tokens;
//! * [`status`]: the status report;
//! * [`recovery`]: the persisted state and the rebuild after a restart.
//!
//! Sync points and the snapshot→binlog hand-off rule are in [`crate::point`].

pub mod assign;
pub mod commit;
pub mod failure;
pub mod model;
pub mod options;
pub mod recovery;
pub mod status;
pub mod supervisor;

pub use commit::{CommitSegment, RollPolicy, STANDALONE_EPOCH, SegmentId, StageSegment};
pub use failure::{AssignFailure, Backoff, ErrorClass, PartError, ReadFailure, SinkFailure};
pub use model::{
    Ending, Failure, Finished, Holder, IfExists, LastError, Mode, Ownership, Pack, PartitionLeader,
    PartitionTask, Status, TableTask, TableTaskSpec, TaskOrigin,
};
pub use options::{
    BadOption, Compression, FileFormat, PartitionBy, RequestedOptions, TaskOptions, Transform,
};
pub use recovery::{PersistedState, RecoveryError, RecoveryInput, SinkProgress};
pub use status::{ErrorView, MemoryView, PartitionView, StatusReport, TableView};
pub use supervisor::{
    Action, Assignment, Config, CreateError, Created, Input, PackOutcome, PackReply, RequestError,
    Supervisor,
};
