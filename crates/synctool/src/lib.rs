//! SyncTool: the daemon and the `synctool_helper` CLI.

pub mod dump;
