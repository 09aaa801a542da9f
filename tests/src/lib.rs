//! Shared helpers for the end-to-end tests: finding the workspace's built
//! binaries and running them as real processes.

use std::path::PathBuf;

/// Path of a binary built from this workspace (`target/<profile>/<name>`),
/// found next to the running test executable (`target/<profile>/deps/…`).
pub fn workspace_bin(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .ok_or_else(|| anyhow::anyhow!("test executable {} has no profile dir", exe.display()))?;
    let bin = profile_dir.join(name);
    anyhow::ensure!(
        bin.is_file(),
        "{} not built; run `cargo build --workspace --bins` first",
        bin.display()
    );
    Ok(bin)
}
