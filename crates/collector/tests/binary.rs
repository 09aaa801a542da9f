//! The `data_collector` binary: `--log_level` takes OpenMLDB's values and an
//! unknown one stops it at start with the flag, the value and the accepted
//! values; its logs carry no colour codes when standard output is not a
//! terminal.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn collector() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_data_collector"));
    command.env_remove("RUST_LOG").env_remove("NO_COLOR");
    command
}

#[test]
fn an_unknown_log_level_is_a_start_up_error_naming_the_flag_and_the_levels() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = collector()
        .args([
            "--endpoint=127.0.0.1:0",
            &format!("--collector_datadir={}", dir.path().display()),
            "--log_level=verbose",
        ])
        .output()
        .expect("run data_collector");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("command-line argument 3")
            && err.contains("`log_level`")
            && err.contains("`verbose`"),
        "{err}"
    );
    for accepted in ["debug", "info", "warning", "error"] {
        assert!(err.contains(accepted), "{err}");
    }
}

#[test]
fn logs_are_plain_text_when_stdout_is_not_a_terminal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = collector()
        .args([
            "--endpoint=127.0.0.1:0",
            &format!("--collector_datadir={}", dir.path().join("work").display()),
            "--log_level=info",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start data_collector");
    let stdout = child.stdout.take().expect("piped stdout");
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut out = String::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let Ok(line) = lines_rx.recv_timeout(left) else {
            break;
        };
        out.push_str(&line);
        out.push('\n');
        if line.contains("DataCollector serving") {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(out.contains("DataCollector serving"), "{out}");
    assert!(out.contains(" INFO "), "{out}");
    assert!(
        !out.contains('\u{1b}'),
        "no ANSI colour codes in a log that is not a terminal: {out:?}"
    );
}
