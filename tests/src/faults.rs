//! Faults a test injects into a running deployment, each undone by a guard
//! (also when the test panics), and the observers that watch the sync heal:
//!
//! * [`Paused`]: a process frozen with SIGSTOP (SIGCONT on drop);
//! * [`ImmutableDirs`]: a local destination made unwritable with
//!   `chattr +i` on every directory in it (root ignores permission bits, not
//!   the immutable flag), undone on drop;
//! * [`StatusRecorder`]: SyncTool's status page polled in a thread for the
//!   whole test, so a part that was FAILED for a moment, or a transient error,
//!   is seen even between the test's own polls;
//! * [`Appender`]: rows put into every partition at a steady rate in a thread
//!   (live traffic while the fault lasts);
//! * [`glob_data_files`]: what a reader's `dest/**/*.parquet` glob matches.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tablet_emu::TableEmulator;

use crate::process::{Signal, signal};
use crate::status::{PartErrorStatus, SyncToolStatus, synctool_status};

/// A process stopped with SIGSTOP until [`Paused::resume`] (or drop).
pub struct Paused {
    pid: u32,
    paused: bool,
}

impl Paused {
    /// Sends SIGSTOP to `pid`.
    pub fn new(pid: u32) -> anyhow::Result<Paused> {
        signal(pid, Signal::Stop).with_context(|| format!("cannot SIGSTOP pid {pid}"))?;
        Ok(Paused { pid, paused: true })
    }

    /// Sends SIGCONT.
    pub fn resume(&mut self) -> anyhow::Result<()> {
        if self.paused {
            signal(self.pid, Signal::Cont)
                .with_context(|| format!("cannot SIGCONT pid {}", self.pid))?;
            self.paused = false;
        }
        Ok(())
    }
}

impl Drop for Paused {
    fn drop(&mut self) {
        if let Err(e) = self.resume() {
            eprintln!("e2e: {e:#}");
        }
    }
}

fn chattr(flag: &str, dir: &Path) -> anyhow::Result<()> {
    let out = Command::new("chattr")
        .arg(flag)
        .arg(dir)
        .output()
        .context("cannot run chattr (e2fsprogs)")?;
    if !out.status.success() {
        bail!(
            "chattr {flag} {}: {}{}",
            dir.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

fn dirs_under(root: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    out.push(root.to_path_buf());
    for entry in
        std::fs::read_dir(root).with_context(|| format!("cannot list {}", root.display()))?
    {
        let entry = entry.with_context(|| format!("cannot list {}", root.display()))?;
        let ty = entry
            .file_type()
            .with_context(|| format!("cannot stat {}", entry.path().display()))?;
        if ty.is_dir() {
            dirs_under(&entry.path(), out)?;
        }
    }
    Ok(())
}

/// Every directory under a root (the root included) made immutable with
/// `chattr +i`: no entry can be created, renamed, linked or removed in them,
/// even by root; files that exist can still be rewritten in place. Undone
/// by [`ImmutableDirs::restore`] or on drop.
pub struct ImmutableDirs {
    dirs: Vec<PathBuf>,
}

impl ImmutableDirs {
    /// Makes `root` and every directory below it immutable.
    pub fn new(root: &Path) -> anyhow::Result<ImmutableDirs> {
        let mut dirs = Vec::new();
        dirs_under(root, &mut dirs)?;
        let mut guard = ImmutableDirs { dirs: Vec::new() };
        for dir in dirs {
            chattr("+i", &dir)?;
            guard.dirs.push(dir);
        }
        Ok(guard)
    }

    /// The directories made immutable.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// An error unless creating a file fails in every directory (checks that
    /// the flag really stops this process, which runs as root in CI).
    pub fn verify(&self) -> anyhow::Result<()> {
        for dir in &self.dirs {
            let probe = dir.join(".e2e-immutable-probe");
            match std::fs::File::create(&probe) {
                Ok(_) => {
                    let _ = std::fs::remove_file(&probe);
                    bail!(
                        "{} is marked immutable but a file could be created in it",
                        dir.display()
                    );
                }
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {}
                Err(e) => bail!(
                    "{}: creating a file failed with an unexpected error: {e}",
                    dir.display()
                ),
            }
        }
        Ok(())
    }

    /// Clears the flag again (innermost first).
    pub fn restore(&mut self) -> anyhow::Result<()> {
        let mut first_error = None;
        while let Some(dir) = self.dirs.pop() {
            if let Err(e) = chattr("-i", &dir) {
                first_error.get_or_insert(e);
            }
        }
        match first_error {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }
}

impl Drop for ImmutableDirs {
    fn drop(&mut self) {
        if let Err(e) = self.restore() {
            eprintln!("e2e: could not undo chattr +i: {e:#}");
        }
    }
}

/// One poll of SyncTool's status page.
#[derive(Debug, Clone)]
pub struct Observation {
    /// When, since the recorder started.
    pub at: Duration,
    pub status: SyncToolStatus,
}

/// An error one part showed, with the polls it was seen in.
#[derive(Debug, Clone)]
pub struct SeenError {
    pub tid: u32,
    pub pid: u32,
    pub error: PartErrorStatus,
    /// First and last poll that showed it (since the recorder started).
    pub first_seen: Duration,
    pub last_seen: Duration,
    /// SyncTool's clock at those polls.
    pub first_now_ms: u64,
    pub last_now_ms: u64,
}

/// Polls SyncTool's status page in a thread until stopped.
pub struct StatusRecorder {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<Observation>>>,
    join: Option<JoinHandle<()>>,
}

impl StatusRecorder {
    /// Polls `synctool` every `every` (unanswered polls are skipped: the
    /// daemon may be restarting).
    pub fn start(synctool: &str, every: Duration) -> StatusRecorder {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (addr, stop2, seen2) = (synctool.to_string(), stop.clone(), seen.clone());
        let join = std::thread::spawn(move || {
            let start = Instant::now();
            while !stop2.load(Ordering::Relaxed) {
                if let Ok(status) = synctool_status(&addr) {
                    let obs = Observation {
                        at: start.elapsed(),
                        status,
                    };
                    seen2.lock().unwrap_or_else(|p| p.into_inner()).push(obs);
                }
                std::thread::sleep(every);
            }
        });
        StatusRecorder {
            stop,
            seen,
            join: Some(join),
        }
    }

    /// Every poll so far.
    pub fn observations(&self) -> Vec<Observation> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Polls so far.
    pub fn polls(&self) -> usize {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Every poll that showed a FAILED part, as `at: brief`.
    pub fn failures(&self) -> Vec<String> {
        self.observations()
            .iter()
            .flat_map(|o| {
                o.status
                    .tables
                    .iter()
                    .filter(|t| {
                        !t.failed.is_empty() || t.parts.iter().any(|p| p.status == "FAILED")
                    })
                    .map(move |t| {
                        format!("at {:.1}s: {}", o.at.as_secs_f64(), o.status.brief(t.tid))
                    })
            })
            .collect()
    }

    /// The distinct errors (by part, kind and since time) shown so far.
    pub fn errors(&self) -> Vec<SeenError> {
        let mut out: Vec<SeenError> = Vec::new();
        for o in self.observations() {
            for t in &o.status.tables {
                for p in &t.parts {
                    let Some(e) = &p.error else { continue };
                    let same = out.iter_mut().find(|s| {
                        s.tid == t.tid
                            && s.pid == p.pid
                            && s.error.kind == e.kind
                            && s.error.since_ms == e.since_ms
                    });
                    match same {
                        Some(s) => {
                            s.last_seen = o.at;
                            s.last_now_ms = o.status.now_ms;
                            s.error = e.clone();
                        }
                        None => out.push(SeenError {
                            tid: t.tid,
                            pid: p.pid,
                            error: e.clone(),
                            first_seen: o.at,
                            last_seen: o.at,
                            first_now_ms: o.status.now_ms,
                            last_now_ms: o.status.now_ms,
                        }),
                    }
                }
            }
        }
        out
    }

    /// Stops polling and returns every poll.
    pub fn stop(mut self) -> Vec<Observation> {
        self.halt();
        self.observations()
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(join) = self.join.take() {
            let _ = join.join();
        }
    }
}

impl Drop for StatusRecorder {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Puts rows into every partition of a table in a thread, `rows` per
/// partition every `every`, until stopped.
pub struct Appender {
    stop: Arc<AtomicBool>,
    join: Option<JoinHandle<anyhow::Result<u64>>>,
}

impl Appender {
    /// Starts appending to table `tid` under the tablet root `root`.
    pub fn start(root: &Path, tid: u32, rows: u64, every: Duration) -> Appender {
        let stop = Arc::new(AtomicBool::new(false));
        let (root, stop2) = (root.to_path_buf(), stop.clone());
        let join = std::thread::spawn(move || {
            let mut rounds = 0;
            while !stop2.load(Ordering::Relaxed) {
                TableEmulator::open(&root, tid)
                    .and_then(|mut t| t.append_all(rows))
                    .with_context(|| format!("appending {rows} rows to table {tid}"))?;
                rounds += 1;
                std::thread::sleep(every);
            }
            Ok(rounds)
        });
        Appender {
            stop,
            join: Some(join),
        }
    }

    /// Stops and returns how many rounds of rows were put (an error if a put
    /// failed).
    pub fn stop(mut self) -> anyhow::Result<u64> {
        self.halt()
    }

    fn halt(&mut self) -> anyhow::Result<u64> {
        self.stop.store(true, Ordering::Relaxed);
        match self.join.take() {
            None => Ok(0),
            Some(join) => match join.join() {
                Ok(result) => result,
                Err(_) => bail!("the appender thread panicked"),
            },
        }
    }
}

impl Drop for Appender {
    fn drop(&mut self) {
        let _ = self.halt();
    }
}

/// What `<root>/**/*.<ext>` matches: every file under `root` whose name ends
/// in `.<ext>`, in every directory (also `_`- and `.`-prefixed ones, which
/// some glob implementations would skip: the check is stricter than any
/// reader). Paths are relative to `root`, `/`-separated; a directory that
/// vanishes while it is walked is skipped (the sink removes its temporaries).
pub fn glob_data_files(root: &Path, ext: &str) -> anyhow::Result<Vec<String>> {
    fn walk(root: &Path, dir: &Path, suffix: &str, out: &mut Vec<String>) -> anyhow::Result<()> {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e).with_context(|| format!("cannot list {}", dir.display())),
        };
        for entry in entries {
            let entry = match entry {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e).with_context(|| format!("cannot list {}", dir.display())),
            };
            let path = entry.path();
            let ty = match entry.file_type() {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e).with_context(|| format!("cannot stat {}", path.display())),
            };
            if ty.is_dir() {
                walk(root, &path, suffix, out)?;
            } else if entry.file_name().to_string_lossy().ends_with(suffix) {
                let rel = path
                    .strip_prefix(root)
                    .with_context(|| format!("{} is outside {}", path.display(), root.display()))?;
                out.push(rel.to_string_lossy().into_owned());
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(root, root, &format!(".{ext}"), &mut out)?;
    out.sort();
    Ok(out)
}
