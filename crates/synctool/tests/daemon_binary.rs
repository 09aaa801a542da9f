//! The `synctool` binary refuses a bad configuration with a message naming
//! the file (and the line, for a bad key), without a panic; its logs carry
//! no colour codes when standard output is not a terminal.

use std::process::Command;

fn run(conf: &std::path::Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_synctool"))
        .args(["-f", conf.to_str().unwrap()])
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_configs_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.properties");
    let (ok, err) = run(&missing);
    assert!(!ok && err.contains("nope.properties"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    let typo = dir.path().join("typo.properties");
    std::fs::write(
        &typo,
        "server.host=127.0.0.1\nserver.port=8848\nsync_task.progres_path=/tmp/x\n",
    )
    .unwrap();
    let (ok, err) = run(&typo);
    assert!(
        !ok && err.contains("typo.properties:3") && err.contains("sync_task.progres_path"),
        "{err}"
    );

    let wildcard = dir.path().join("wildcard.properties");
    std::fs::write(
        &wildcard,
        "server.host=0.0.0.0\nserver.port=8848\nsync_task.progress_path=/tmp/x\nzookeeper.cluster=127.0.0.1:2181\n",
    )
    .unwrap();
    let (ok, err) = run(&wildcard);
    assert!(!ok && err.contains("server.advertised_endpoint"), "{err}");
}

/// A loopback port nobody listens on right now.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Starts `synctool` on a valid standalone config with standard output and
/// error piped (not a terminal), until it logs that it serves (or exits, or
/// a minute passes); returns what it wrote to standard output.
fn serve_and_stop() -> String {
    use std::io::{BufRead, BufReader};

    let dir = tempfile::tempdir().unwrap();
    let metadata = dir.path().join("metadata");
    std::fs::create_dir(&metadata).unwrap();
    let conf = dir.path().join("synctool.properties");
    std::fs::write(
        &conf,
        format!(
            "server.host=127.0.0.1\nserver.port={}\nsync_task.progress_path={}\n\
             standalone.metadata_dir={}\nstandalone.collectors=127.0.0.1:1\n",
            free_port(),
            dir.path().join("progress").display(),
            metadata.display()
        ),
    )
    .unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_synctool"));
    command
        .args(["-f", conf.to_str().unwrap()])
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
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
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match lines_rx.recv_timeout(left) {
            Ok(line) => {
                out.push_str(&line);
                out.push('\n');
                if line.contains("SyncTool serving") {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    out
}

#[test]
fn logs_are_plain_text_when_stdout_is_not_a_terminal() {
    let out = serve_and_stop();
    assert!(out.contains("SyncTool serving"), "{out}");
    assert!(out.contains(" INFO "), "our crates log at info: {out}");
    assert!(
        !out.contains('\u{1b}'),
        "no ANSI colour codes in a log that is not a terminal: {out:?}"
    );
}

#[test]
fn a_bad_rust_log_is_a_start_up_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_synctool"))
        .args(["-f", dir.path().join("unused.properties").to_str().unwrap()])
        .env("RUST_LOG", "synctool=loud")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("RUST_LOG `synctool=loud`"), "{err}");
}
