//! End-to-end harness: runs the workspace's real binaries as processes and
//! checks what they write.
//!
//! * [`bins`]: finding the built binaries;
//! * [`ports`]: free loopback ports;
//! * [`process`]: child processes killed on drop, signals by PID, log tails;
//! * [`wait`]: polling with a deadline;
//! * [`workdir`]: the drivers' working directories, wiped only when theirs;
//! * [`http`]: a tiny blocking HTTP client;
//! * [`status`]: the daemons' `/status?format=json` pages;
//! * [`config`]: `synctool.properties` and `data_collector.flags`;
//! * [`cluster`]: tablet emulator + data_collector + synctool, built and
//!   driven as one;
//! * [`rows`]: rows as comparable values, multisets of rows, the source rows;
//! * [`output`]: reading committed Parquet and CSV files back;
//! * [`faults`]: injected faults undone by guards (SIGSTOP, `chattr +i`),
//!   a status recorder, a steady appender, what a reader's glob matches;
//! * [`netns`]: a collector in a network namespace of its own, and real
//!   link cuts;
//! * [`services`]: the test services (ZooKeeper, HDFS, S3) from the
//!   environment, skipping when absent.

pub mod bins;
pub mod cluster;
pub mod config;
pub mod faults;
pub mod http;
pub mod netns;
pub mod output;
pub mod ports;
pub mod process;
pub mod rows;
pub mod services;
pub mod status;
pub mod wait;
pub mod workdir;

pub use bins::workspace_bin;
pub use cluster::{Cluster, ClusterBuilder};
pub use output::Format;
pub use rows::RowSet;
