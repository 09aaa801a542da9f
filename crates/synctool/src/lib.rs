//! SyncTool: the daemon and the `synctool_helper` CLI. So far: the helper's
//! `dump` command, which shows what a tablet's binlog and rows hold.

pub mod config;
pub mod dump;
pub mod properties;
pub mod schema_file;
