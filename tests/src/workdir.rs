//! The working directory of a driver (`quickstart`, `bench`): wiped at
//! start, but only when an earlier run of the same driver made it (a marker
//! file says so), never a directory someone else owns.

use std::path::Path;

use anyhow::{Context, bail};

/// Empties `out` (or creates it) for the driver `who`, whose marker file
/// `marker` it leaves in it; refuses a non-empty directory without that marker.
pub fn prepare(out: &Path, marker: &str, who: &str) -> anyhow::Result<()> {
    if out.exists() {
        let empty = std::fs::read_dir(out)
            .with_context(|| format!("cannot list {}", out.display()))?
            .next()
            .is_none();
        if !empty && !out.join(marker).exists() {
            bail!(
                "{} exists and was not made by the {who}; pass another --out",
                out.display()
            );
        }
        std::fs::remove_dir_all(out)
            .with_context(|| format!("cannot remove the previous run in {}", out.display()))?;
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    std::fs::write(
        out.join(marker),
        format!("made by {who}; removed by the next run\n"),
    )
    .with_context(|| format!("cannot write in {}", out.display()))
}
