//! Supervisor transitions as data (raft-rs `testdata` style): each file in
//! `tests/testdata/transitions/` is a script of inputs, each followed by
//! `----` and the actions the supervisor answers with, one per line, and a
//! blank line. The harness runs every script against a fresh supervisor
//! and compares; `REWRITE=1 cargo test -p sync-core --test transitions_data`
//! writes what it got instead (review the diff before committing it).
//!
//! Commands (times in ms; `at=T` sets the clock, which only moves forward):
//!
//! | command | input |
//! |---|---|
//! | `collectors a:1 b:1` | the live collectors |
//! | `create mode=0\|1\|2 hosts=h1,h2` | a table task, partition *i* led from `hi:9` |
//! | `assign-result pid=P ok\|unreachable\|refused` | the answer to the last assignment of P |
//! | `pack pid=P start=PT next=PT rows=N [token=stale\|old] [finished]` | a pack (`PT`: `start`, `assigned`, `snap:<pk>`, `after:<offset>`; `old`: the previous assignment's token) |
//! | `sink` | every stage and commit still open succeeds (repeated until none is open) |
//! | `sink-fail kind=unavailable\|conflict\|behind\|bad_data\|destination` | the oldest open stage or commit fails |
//! | `tick` | the clock |
//! | `delete` / `retry` | the admin requests |
//! | `status` | each partition: status, holder, accepted point, last error |
//!
//! Tokens are shown as `t1`, `t2`, … in the order they were first assigned.

mod common;

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use common::config;

use sync_core::point::{Point, RowKey};
use sync_core::task::{
    Action, AssignFailure, IfExists, Input, Mode, Pack, PartitionLeader, SegmentId, SinkFailure,
    Supervisor, TableTaskSpec,
};

const TID: u32 = 7;

/// An open sink step: a stage or a commit that has not been answered.
#[derive(Debug, Clone, Copy)]
enum Open {
    Stage(SegmentId),
    Commit(SegmentId),
}

/// One script's state.
struct Harness {
    sup: Supervisor,
    now: u64,
    tokens: Vec<String>,
    /// The last assignment per pid: (token, point).
    assigned: Vec<(u32, String, Point)>,
    open: VecDeque<Open>,
}

impl Harness {
    fn new() -> Self {
        Harness {
            sup: Supervisor::new(config(), 42),
            now: 0,
            tokens: Vec::new(),
            assigned: Vec::new(),
            open: VecDeque::new(),
        }
    }

    fn assignment(&self, pid: u32) -> Result<&(u32, String, Point), String> {
        self.assigned
            .iter()
            .rev()
            .find(|(p, _, _)| *p == pid)
            .ok_or_else(|| format!("no assignment of pid {pid} yet"))
    }

    /// Runs one command and renders what the supervisor did.
    fn run(&mut self, line: &str) -> Result<String, String> {
        let mut words = line.split_whitespace();
        let command = words.next().ok_or("empty command")?;
        let args: Vec<&str> = words.collect();
        if let Some(at) = arg(&args, "at") {
            let at: u64 = at.parse().map_err(|_| format!("bad at={at}"))?;
            if at < self.now {
                return Err(format!("at={at} is before the clock ({})", self.now));
            }
            self.now = at;
        }
        let inputs = match command {
            "collectors" => vec![Input::Collectors {
                live: args
                    .iter()
                    .filter(|a| !a.contains('='))
                    .map(|s| s.to_string())
                    .collect(),
            }],
            "create" => vec![self.create(&args)?],
            "assign-result" => vec![self.assign_result(&args)?],
            "pack" => vec![self.pack(&args)?],
            "sink" => return self.sink_all(),
            "sink-fail" => vec![self.sink_fail(&args)?],
            "tick" => vec![Input::Tick],
            "delete" => vec![Input::Delete {
                db: "db".into(),
                table: "t".into(),
            }],
            "retry" => vec![Input::RetryFailed {
                db: "db".into(),
                table: "t".into(),
            }],
            "status" => return Ok(self.status()),
            other => return Err(format!("unknown command `{other}`")),
        };
        let mut out = String::new();
        for input in inputs {
            let actions = self.sup.handle(self.now, input);
            out.push_str(&self.render(&actions));
        }
        Ok(out)
    }

    fn create(&self, args: &[&str]) -> Result<Input, String> {
        let mode = match arg(args, "mode") {
            Some("0") => Mode::Full,
            Some("1") => Mode::IncrementalByTimestamp,
            Some("2") => Mode::FullAndContinuous,
            other => return Err(format!("mode must be 0, 1 or 2, got {other:?}")),
        };
        let hosts = arg(args, "hosts").ok_or("create needs hosts=")?;
        let partitions = hosts
            .split(',')
            .enumerate()
            .map(|(pid, h)| PartitionLeader {
                pid: pid as u32,
                tablet_endpoint: format!("{h}:9"),
            })
            .collect();
        Ok(Input::Create {
            spec: TableTaskSpec {
                db: "db".into(),
                table: "t".into(),
                tid: TID,
                mode,
                start_ts: (mode == Mode::IncrementalByTimestamp).then_some(0),
                dest: "/out".into(),
                if_exists: IfExists::Default,
                options: config().defaults,
            },
            partitions,
            existing: vec![],
        })
    }

    fn assign_result(&self, args: &[&str]) -> Result<Input, String> {
        let pid = pid_arg(args)?;
        let (_, token, _) = self.assignment(pid)?;
        let collector = "the collector".to_string();
        let result = if args.contains(&"ok") {
            Ok(())
        } else if args.contains(&"unreachable") {
            Err(AssignFailure::Unreachable {
                collector,
                message: "connection refused".into(),
            })
        } else if args.contains(&"refused") {
            Err(AssignFailure::Refused {
                collector,
                message: "bad request".into(),
            })
        } else {
            return Err("assign-result needs ok, unreachable or refused".into());
        };
        Ok(Input::AssignResult {
            tid: TID,
            pid,
            token: token.clone(),
            result,
        })
    }

    fn pack(&self, args: &[&str]) -> Result<Input, String> {
        let pid = pid_arg(args)?;
        let (_, token, assigned) = self.assignment(pid)?;
        let start = point(arg(args, "start").ok_or("pack needs start=")?, assigned)?;
        let next = point(arg(args, "next").ok_or("pack needs next=")?, assigned)?;
        let rows: usize = arg(args, "rows")
            .unwrap_or("0")
            .parse()
            .map_err(|_| "bad rows=")?;
        let token = match arg(args, "token") {
            Some("stale") => "a-stale-token".to_string(),
            Some("old") => self
                .assigned
                .iter()
                .rev()
                .filter(|(p, _, _)| *p == pid)
                .nth(1)
                .map(|(_, t, _)| t.clone())
                .ok_or_else(|| format!("pid {pid} had no earlier assignment"))?,
            Some(other) => return Err(format!("token= takes `stale` or `old`, got {other}")),
            None => token.clone(),
        };
        Ok(Input::Pack(Pack {
            tid: TID,
            pid,
            token,
            start,
            next,
            row_count: rows as u64,
            rows: vec![b'r'; rows],
            finished: args.contains(&"finished"),
            preparing: false,
            failure: None,
        }))
    }

    fn sink_all(&mut self) -> Result<String, String> {
        let mut out = String::new();
        while let Some(step) = self.open.pop_front() {
            let input = match step {
                Open::Stage(id) => Input::Staged { id, result: Ok(()) },
                Open::Commit(id) => Input::Committed { id, result: Ok(1) },
            };
            let actions = self.sup.handle(self.now, input);
            out.push_str(&self.render(&actions));
        }
        Ok(out)
    }

    fn sink_fail(&mut self, args: &[&str]) -> Result<Input, String> {
        let message = "injected".to_string();
        let failure = match arg(args, "kind") {
            Some("unavailable") => SinkFailure::Unavailable(message),
            Some("conflict") => SinkFailure::Conflict(message),
            Some("behind") => SinkFailure::Behind(message),
            Some("bad_data") => SinkFailure::BadData(message),
            Some("destination") => SinkFailure::Destination(message),
            other => return Err(format!("unknown sink failure {other:?}")),
        };
        Ok(match self.open.pop_front().ok_or("no open sink step")? {
            Open::Stage(id) => Input::Staged {
                id,
                result: Err(failure),
            },
            Open::Commit(id) => Input::Committed {
                id,
                result: Err(failure),
            },
        })
    }

    fn alias(&self, text: String) -> String {
        let mut text = text;
        for (i, token) in self.tokens.iter().enumerate() {
            text = text.replace(token.as_str(), &format!("t{}", i + 1));
        }
        text
    }

    fn render(&mut self, actions: &[Action]) -> String {
        let mut out = String::new();
        for action in actions {
            let line = match action {
                Action::CreateReply(Ok(c)) => format!("create-reply ok origin={:?}", c.origin),
                Action::CreateReply(Err(e)) => format!("create-reply error: {e}"),
                Action::DeleteReply(r) => format!("delete-reply {r:?}"),
                Action::RetryReply(r) => format!("retry-reply {r:?}"),
                Action::PackReply(r) => {
                    let mut line = format!("reply pid={} {:?}", r.pid, r.outcome);
                    if let Some(d) = r.drop {
                        let _ = write!(line, " drop={d:?}");
                    }
                    if let Some(c) = &r.committed {
                        let _ = write!(line, " committed={c}");
                    }
                    if let Some(p) = &r.resume_from {
                        let _ = write!(line, " resume={p}");
                    }
                    line
                }
                Action::Assign(a) => {
                    if !self.tokens.contains(&a.token) {
                        self.tokens.push(a.token.clone());
                    }
                    self.assigned
                        .push((a.pid, a.token.clone(), a.point.clone()));
                    format!(
                        "assign pid={} collector={} token={} point={}",
                        a.pid, a.collector, a.token, a.point
                    )
                }
                Action::ClaimPart { tid, pid } => format!("claim tid={tid} pid={pid}"),
                Action::Stage(s) => {
                    self.open.push_back(Open::Stage(s.id));
                    format!("stage {} rows={}", segment(&s.id), s.row_count)
                }
                Action::Commit(c) => {
                    self.open.push_back(Open::Commit(c.id));
                    format!(
                        "commit {} {}..{} rows={} total={}",
                        segment(&c.id),
                        c.start,
                        c.end,
                        c.row_count,
                        c.rows_total
                    )
                }
                Action::ClearStaging { pid, from_seq, .. } => {
                    format!("clear-staging pid={pid} from_seq={from_seq}")
                }
                Action::ReleaseDestination { dest } => format!("release-destination {dest}"),
                Action::Persist(_) => "persist".into(),
                Action::PartFailed { pid, error, .. } => format!("part-failed pid={pid}: {error}"),
                Action::SegmentCommitted { pid, rows, .. } => {
                    format!("segment-committed pid={pid} rows={rows}")
                }
                Action::TableCompleted { .. } => "table-completed".into(),
            };
            out.push_str(&self.alias(line));
            out.push('\n');
        }
        out
    }

    fn status(&self) -> String {
        let Some(table) = self.sup.table(TID) else {
            return "no table\n".into();
        };
        let mut out = String::new();
        for (pid, part) in &table.partitions {
            let mut line = format!(
                "pid={pid} {:?} holder={:?} accepted={}",
                part.status, part.holder, part.accepted
            );
            if let Some(e) = &part.last_error {
                let _ = write!(line, " error={} since={}", e.error, e.since_ms);
            }
            out.push_str(&self.alias(line));
            out.push('\n');
        }
        out
    }
}

fn segment(id: &SegmentId) -> String {
    format!("pid={} seq={}", id.pid, id.seq)
}

fn arg<'a>(args: &[&'a str], name: &str) -> Option<&'a str> {
    args.iter()
        .find_map(|a| a.strip_prefix(name)?.strip_prefix('='))
}

fn pid_arg(args: &[&str]) -> Result<u32, String> {
    arg(args, "pid")
        .ok_or("needs pid=")?
        .parse()
        .map_err(|_| "bad pid=".into())
}

fn point(text: &str, assigned: &Point) -> Result<Point, String> {
    if text == "start" {
        return Ok(Point::start());
    }
    if text == "assigned" {
        return Ok(assigned.clone());
    }
    if let Some(pk) = text.strip_prefix("snap:") {
        return Ok(Point::in_snapshot(5, Some(RowKey::new(pk, 1))));
    }
    if let Some(offset) = text.strip_prefix("after:") {
        let offset = offset.parse().map_err(|_| format!("bad point {text}"))?;
        return Ok(Point::after_snapshot(offset));
    }
    Err(format!("unknown point `{text}`"))
}

/// Runs one script. Comments (`#`) and blank lines between cases are kept;
/// returns the script with the outputs got (for `REWRITE`) and the cases
/// whose output differs.
fn run_script(path: &Path) -> Result<(String, Vec<String>), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    let mut h = Harness::new();
    let (mut rewritten, mut mismatches) = (String::new(), Vec::new());
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        i += 1;
        rewritten.push_str(line);
        rewritten.push('\n');
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut expected = String::new();
        if lines.get(i) == Some(&"----") {
            i += 1;
            while i < lines.len() && !lines[i].is_empty() {
                expected.push_str(lines[i]);
                expected.push('\n');
                i += 1;
            }
        }
        let got = h
            .run(line)
            .map_err(|e| format!("{}:{i}: `{line}`: {e}", path.display()))?;
        rewritten.push_str("----\n");
        rewritten.push_str(&got);
        if got != expected {
            mismatches.push(format!(
                "{}: `{line}`\n--- expected\n{expected}--- got\n{got}",
                path.display()
            ));
        }
    }
    Ok((rewritten, mismatches))
}

#[test]
fn every_script_in_testdata_matches() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/testdata/transitions");
    let rewrite = std::env::var_os("REWRITE").is_some();
    let mut scripts: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("testdata dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    scripts.sort();
    assert!(!scripts.is_empty(), "no scripts in {}", dir.display());
    let mut failures = Vec::new();
    for script in &scripts {
        match run_script(script) {
            Ok((text, _)) if rewrite => std::fs::write(script, text).expect("rewrite"),
            Ok((_, mismatches)) => failures.extend(mismatches),
            Err(e) => failures.push(e),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
