//! SyncTool: the daemon and the `synctool_helper` CLI.
//!
//! * [`daemon`]: the `synctool` daemon (drive loop around the core's
//!   supervisor, gRPC + HTTP+JSON on one port, recovery);
//! * [`admin`]: OpenMLDB's JSON form of the admin messages;
//! * [`dest`]: the allowed-destination check;
//! * [`client`], [`helper`]: the helper's HTTP client and admin commands;
//! * [`config`], [`properties`]: `synctool.properties`;
//! * [`dump`], [`schema_file`]: the helper's `dump` command.

pub mod admin;
pub mod client;
pub mod config;
pub mod daemon;
pub mod dest;
pub mod dump;
pub mod helper;
pub mod properties;
pub mod schema_file;
