//! Whole-cluster fault simulations: the real SyncTool daemon and real
//! DataCollectors on turmoil's simulated network and clock, reading real-format
//! emulated tablet data, with crashes, partitions, held messages, session
//! expiry, snapshots, binlog GC and leader moves injected from a seeded
//! schedule; after healing, the committed output must equal the source rows,
//! exactly once.
//!
//! * [`scenario`]: what a run does, drawn from its seed ([`rng`]);
//! * [`run`]: builds the cluster, drives the schedule, waits for the end
//!   states and calls the [`check`];
//! * hosts: [`synctool_host`], [`collector`], [`admin`] (the operator);
//! * seams: [`net`] (tonic over turmoil), [`clock`], [`cluster`] (the
//!   coordinator), [`tablet`] (the tablet API), [`store`] (the durable offline
//!   store and its crash points), [`tables`] (the source data).
//!
//! `cargo test -p sim` runs the named fault tests and many seeds; a failure
//! prints its seed and the command that replays it.

pub mod admin;
pub mod check;
pub mod clock;
pub mod cluster;
pub mod collector;
pub mod net;
pub mod rng;
pub mod run;
pub mod scenario;
pub mod store;
pub mod synctool_host;
pub mod tables;
pub mod tablet;

pub use run::{Failure, Outcome, run};
pub use scenario::{Fault, Scenario, TableSetup, Who};
pub use store::{Breakage, CrashPoint, StoreKind};
