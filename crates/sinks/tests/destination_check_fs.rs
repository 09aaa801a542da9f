//! `Sink::check_destination` on the local filesystem: a usable directory
//! passes (and is created), a path under a regular file, a directory that
//! cannot be written and an unknown scheme are refused, each with a message
//! saying what failed.

use std::path::{Path, PathBuf};
use std::process::Command;

use sync_sinks::{Sink, SinkConfig, SinkError, StoreSink};

fn sink() -> StoreSink {
    StoreSink::new(SinkConfig::default())
}

/// The reason of a refusal, which must be `Unusable`.
async fn unusable(dest: &str) -> String {
    match sink().check_destination(dest).await {
        Err(SinkError::Unusable { reason, .. }) => {
            println!("{dest}: refused: {reason}");
            reason
        }
        other => panic!("{dest}: expected Unusable, got {other:?}"),
    }
}

#[tokio::test]
async fn a_usable_directory_passes_and_is_created() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("a/b/out");
    let dest = format!("file://{}", path.display());
    let sink = sink();
    sink.check_destination(&dest).await.expect("usable");
    assert!(path.is_dir(), "the directory is created");
    assert!(
        sink.all_files(&dest).await.expect("list").is_empty(),
        "no probe left"
    );
    // Bare paths too, and again (the directory exists now).
    sink.check_destination(&path.display().to_string())
        .await
        .expect("usable again");
}

#[tokio::test]
async fn a_path_under_a_regular_file_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("f");
    std::fs::write(&file, b"x").expect("write");
    let reason = unusable(&format!("file://{}/x", file.display())).await;
    assert!(
        reason.contains(&format!("{} is not a directory", file.display())),
        "{reason}"
    );
    // The file itself as the destination.
    let reason = unusable(&format!("file://{}", file.display())).await;
    assert!(reason.contains("is not a directory"), "{reason}");
}

/// `chattr +i` on a directory until dropped (tests run as root, whom
/// permission bits do not stop).
struct Immutable(PathBuf);

impl Immutable {
    fn set(path: &Path) -> Option<Self> {
        let ok = Command::new("chattr")
            .arg("+i")
            .arg(path)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Immutable(path.to_owned()))
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let undone = Command::new("chattr").arg("-i").arg(&self.0).status();
        if !undone.is_ok_and(|s| s.success()) {
            eprintln!("could not undo chattr +i on {}", self.0.display());
        }
    }
}

#[tokio::test]
async fn a_directory_that_cannot_be_written_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).expect("mkdir");
    let Some(_guard) = Immutable::set(&locked) else {
        assert!(
            std::env::var("SYNC_REQUIRE_SERVICES").as_deref() != Ok("1"),
            "chattr +i failed but SYNC_REQUIRE_SERVICES=1"
        );
        println!("skipped: chattr +i is not available here");
        return;
    };
    // The directory exists but nothing can be created in it.
    let reason = unusable(&format!("file://{}", locked.display())).await;
    assert!(
        reason.contains("cannot write a probe file") && reason.contains("not permitted"),
        "{reason}"
    );
    // A destination to be created inside it.
    let reason = unusable(&format!("file://{}/out", locked.display())).await;
    assert!(
        reason.contains("cannot create the directory") && reason.contains("not permitted"),
        "{reason}"
    );
}

#[tokio::test]
async fn unknown_schemes_and_bad_forms_are_refused() {
    for (dest, want) in [
        ("ftp://host/x", "unknown scheme ftp://"),
        ("relative/x", "expected file:///path"),
        ("file://relative", "absolute path"),
        ("hdfs:///x", "name node"),
        ("hdfs://nn:notaport/x", "cannot set up an HDFS client"),
        ("s3:///x", "bucket"),
    ] {
        match sink().check_destination(dest).await {
            Err(e @ SinkError::BadDestination { .. }) => {
                assert!(e.to_string().contains(want), "{dest}: {e}")
            }
            other => panic!("{dest}: expected BadDestination, got {other:?}"),
        }
    }
}
