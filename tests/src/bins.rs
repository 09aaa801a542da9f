//! Finding the workspace's built binaries (`synctool`, `synctool_helper`,
//! `data_collector`, `tablet_emulator`) from a test or from the quickstart.
//!
//! Order: `$SYNC_BIN_DIR/<name>` when that variable is set, then the running
//! executable's own directory (a binary in `target/<profile>/`), then its
//! parent (a test in `target/<profile>/deps/`).

use std::path::PathBuf;

use anyhow::{Context, bail};

/// The environment variable naming a directory of the binaries.
pub const BIN_DIR_ENV: &str = "SYNC_BIN_DIR";

/// Path of a binary built from this workspace.
pub fn workspace_bin(name: &str) -> anyhow::Result<PathBuf> {
    let mut tried = Vec::new();
    if let Some(dir) = std::env::var_os(BIN_DIR_ENV).filter(|d| !d.is_empty()) {
        let bin = PathBuf::from(dir).join(name);
        if bin.is_file() {
            return Ok(bin);
        }
        tried.push(bin);
    }
    let exe = std::env::current_exe().context("cannot find the running executable")?;
    let mut dir = exe.parent();
    for _ in 0..2 {
        let Some(d) = dir else { break };
        let bin = d.join(name);
        if bin.is_file() {
            return Ok(bin);
        }
        tried.push(bin);
        dir = d.parent();
    }
    let tried: Vec<String> = tried.iter().map(|p| p.display().to_string()).collect();
    bail!(
        "binary `{name}` not built (looked at {}); run `cargo build --workspace --bins` first \
         or set {BIN_DIR_ENV}",
        tried.join(", ")
    )
}
