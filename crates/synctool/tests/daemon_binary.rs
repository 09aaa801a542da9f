//! The `synctool` binary refuses a bad configuration with a message naming
//! the file (and the line, for a bad key), without a panic.

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
