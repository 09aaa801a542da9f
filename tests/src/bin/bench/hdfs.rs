//! The full sync to HDFS next to `hdfs dfs -put` of the same output files
//! into the same HDFS, measured in the same run: `scripts/bench.sh` starts
//! a NameNode and a DataNode on this machine (`scripts/lib/hdfs.sh`) and
//! passes the Hadoop class path, with which the baseline runs Hadoop's own
//! `FsShell -put` (what `hdfs dfs -put` runs). The put's time includes its
//! JVM start, which [`Put::jvm_seconds`] measures alone.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};

/// The baseline: `hdfs dfs -put` of a sync's output files.
#[derive(Debug, Clone)]
pub struct Put {
    pub seconds: f64,
    /// A `FsShell -test -e /` alone: the JVM start and connection in `seconds`.
    pub jvm_seconds: f64,
    pub files: usize,
}

/// Runs Hadoop's FsShell with `args`; the seconds it took.
fn fs_shell(classpath: &str, name_node: &str, args: &[&str]) -> anyhow::Result<f64> {
    let started = Instant::now();
    let out = Command::new("java")
        .args([
            "-Xmx512m",
            "-Djava.net.preferIPv4Stack=true",
            "-cp",
            classpath,
        ])
        .arg("org.apache.hadoop.fs.FsShell")
        .args(["-fs", name_node])
        .args(args)
        .output()
        .context("cannot run java (Hadoop's FsShell)")?;
    if !out.status.success() {
        bail!(
            "FsShell {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(started.elapsed().as_secs_f64())
}

/// The committed data files of a local destination (top level, `part-*`).
fn data_files(dir: &Path, ext: &str) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry
            .with_context(|| format!("cannot list {}", dir.display()))?
            .path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        if name.is_some_and(|n| n.starts_with("part-") && n.ends_with(ext)) {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// `hdfs dfs -put` of the `.ext` data files in `local_dest` into `target`
/// (a fresh directory of the HDFS at `name_node`).
pub fn put(
    classpath: &str,
    name_node: &str,
    local_dest: &Path,
    ext: &str,
    target: &str,
) -> anyhow::Result<Put> {
    let files = data_files(local_dest, ext)?;
    if files.is_empty() {
        bail!("no part-*.{ext} files in {}", local_dest.display());
    }
    let jvm_seconds = fs_shell(classpath, name_node, &["-test", "-e", "/"])?;
    fs_shell(classpath, name_node, &["-mkdir", "-p", target])?;
    let mut args = vec!["-put".to_string()];
    args.extend(files.iter().map(|f| f.display().to_string()));
    args.push(target.to_string());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let seconds = fs_shell(classpath, name_node, &args)?;
    Ok(Put {
        seconds,
        jvm_seconds,
        files: files.len(),
    })
}
