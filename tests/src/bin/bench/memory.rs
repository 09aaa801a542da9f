//! The memory curve: peak RSS of SyncTool and the collector during a mode-0
//! sync to local Parquet, for tables of other sizes and partition counts
//! than the main run (by default 100 MB in 8 partitions, then 500 MB in 64
//! and in 512), each a table of its own, both daemons with the product's
//! defaults. Next to the main run's figure (1 GB in 8 partitions) it shows
//! whether memory follows the in-flight window (`sink.memory_limit`) or the
//! table and its partition count.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, bail};
use e2e::Format;

use crate::{SyncRun, Target, generated_table, sync_one, tree_bytes};

/// One table of the curve: `partitions:rows`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub partitions: u32,
    pub rows: u64,
}

impl FromStr for Shape {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (p, r) = s
            .split_once(':')
            .ok_or_else(|| format!("`{s}`: expected PARTITIONS:ROWS, e.g. 64:1600000"))?;
        let partitions: u32 = p
            .parse()
            .map_err(|e| format!("`{s}`: partitions `{p}`: {e}"))?;
        let rows: u64 = r.parse().map_err(|e| format!("`{s}`: rows `{r}`: {e}"))?;
        if partitions == 0 || rows < u64::from(partitions) {
            return Err(format!("`{s}`: need at least one row per partition"));
        }
        Ok(Shape { partitions, rows })
    }
}

/// What one table of the curve measured (its rows and source bytes are
/// the run's figure's).
pub struct MemoryRun {
    pub partitions: u32,
    pub run: SyncRun,
}

/// Syncs a table of `shape` (generated under `dir`, removed afterwards) to
/// local Parquet and returns its run.
pub fn run(
    dir: &Path,
    shape: Shape,
    memory_limit: Option<u64>,
    timeout: Duration,
) -> anyhow::Result<MemoryRun> {
    eprintln!(
        "bench: memory: {} rows in {} partitions: generating …",
        shape.rows, shape.partitions
    );
    let per_partition = shape.rows / u64::from(shape.partitions);
    let mut cluster = generated_table(dir, shape.partitions, per_partition, memory_limit)?;
    let source_bytes = tree_bytes(cluster.tablet_root())?;
    let run = sync_one(
        &mut cluster,
        Format::Parquet,
        &Target::Local,
        source_bytes,
        None,
        timeout,
    )?;
    let expected = per_partition * u64::from(shape.partitions);
    if run.figure.rows != expected {
        bail!(
            "the sync of {} partitions committed {} rows, not {expected}",
            shape.partitions,
            run.figure.rows
        );
    }
    drop(cluster);
    std::fs::remove_dir_all(dir).with_context(|| format!("cannot remove {}", dir.display()))?;
    Ok(MemoryRun {
        partitions: shape.partitions,
        run,
    })
}
