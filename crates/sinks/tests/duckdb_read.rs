//! Partitioned Parquet output read back by DuckDB, as readers would:
//! `read_parquet('<dest>/**/*.parquet', hive_partitioning=true)` sees every
//! committed row once, with the partition column taken from the path (a
//! value partition's column is not in the files; `day` is added next to the
//! timestamp or date it is taken from), NULL from
//! `__HIVE_DEFAULT_PARTITION__`, and nothing staged.
//!
//! DuckDB's Python package comes from a venv outside the clone
//! (`$SYNC_TEST_DUCKDB_PYTHON`, else `$DUCKDB_VENV` or
//! `~/.cache/openmldb-sync/duckdb-venv`, made here with `pip install duckdb`
//! when missing, as `scripts/lib/duckdb.sh` does). Without it the test
//! prints `skipped`, unless `SYNC_REQUIRE_SERVICES` is set.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use sync_core::task::{FileFormat, TaskOptions};
use sync_sinks::{Sink, SinkConfig, StoreSink};

use common::{Seg, seg, table};

/// A python that imports duckdb, making the venv if needed.
fn duckdb_python() -> Result<PathBuf, String> {
    let works = |py: &PathBuf| {
        Command::new(py)
            .args(["-c", "import duckdb"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if let Some(py) = std::env::var_os("SYNC_TEST_DUCKDB_PYTHON").map(PathBuf::from) {
        return if works(&py) {
            Ok(py)
        } else {
            Err(format!(
                "SYNC_TEST_DUCKDB_PYTHON={} cannot import duckdb",
                py.display()
            ))
        };
    }
    let venv = match std::env::var_os("DUCKDB_VENV") {
        Some(v) => PathBuf::from(v),
        None => {
            let home = std::env::var_os("HOME").ok_or("HOME is not set")?;
            PathBuf::from(home).join(".cache/openmldb-sync/duckdb-venv")
        }
    };
    let py = venv.join("bin/python");
    if works(&py) {
        return Ok(py);
    }
    let run = |cmd: &mut Command| -> Result<(), String> {
        let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{cmd:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    };
    let _ = std::fs::remove_dir_all(&venv);
    run(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
    run(Command::new(venv.join("bin/pip")).args(["install", "-q", "duckdb"]))?;
    if works(&py) {
        Ok(py)
    } else {
        Err(format!(
            "{} cannot import duckdb after the install",
            py.display()
        ))
    }
}

/// Runs `sql` in DuckDB; the rows as JSON text (values as strings).
fn query(py: &PathBuf, sql: &str) -> String {
    let script = "import duckdb, json, sys\n\
        rows = duckdb.connect().execute(sys.argv[1]).fetchall()\n\
        print(json.dumps([[None if v is None else str(v) for v in r] for r in rows]))\n";
    let out = Command::new(py)
        .args(["-c", script, sql])
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "duckdb failed on {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_owned()
}

fn with(mut s: Seg, o: &Arc<TaskOptions>) -> Seg {
    s.stage.options = Some(o.clone());
    s.commit.options = Some(o.clone());
    s
}

/// Writes `segments` segments of `per` rows of partition 0 with `partition_by`,
/// the last one staged but not committed (readers must not see it).
async fn write(dest: &str, partition_by: &str, segments: u64, per: u64) {
    let sink = StoreSink::new(SinkConfig::default());
    let schema = table();
    let o = Arc::new(TaskOptions {
        format: FileFormat::Parquet,
        partition_by: Some(partition_by.parse().expect("partition_by")),
        ..TaskOptions::default()
    });
    for i in 0..=segments {
        let s = with(seg(dest, 0, i, i * per, per), &o);
        sink.stage(&s.stage, &schema).await.expect("stage");
        if i < segments {
            sink.commit(&s.commit).await.expect("commit");
        }
    }
}

#[tokio::test]
async fn duckdb_reads_partitioned_output_with_hive_partitioning() {
    let py = match duckdb_python() {
        Ok(py) => py,
        Err(why) if std::env::var_os("SYNC_REQUIRE_SERVICES").is_none() => {
            eprintln!("skipped: no Python with duckdb ({why})");
            return;
        }
        Err(why) => panic!("SYNC_REQUIRE_SERVICES is set and there is no duckdb: {why}"),
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().display().to_string();

    // A value partition: `b` (n % 2 == 0) only in the paths.
    let by_b = format!("{root}/by_b");
    write(&by_b, "b", 3, 10).await;
    let glob = format!("read_parquet('{by_b}/**/*.parquet', hive_partitioning=true)");
    assert_eq!(
        query(
            &py,
            &format!(
                "SELECT CAST(b AS VARCHAR), count(*), sum(l) // 1000003 FROM {glob} GROUP BY b ORDER BY b"
            )
        ),
        // Rows 0..30: 15 odd (sum 225), 15 even (sum 210).
        r#"[["false", "15", "225"], ["true", "15", "210"]]"#
    );
    assert_eq!(
        query(
            &py,
            &format!(
                "SELECT count(*) FROM (DESCRIBE SELECT * FROM {glob}) WHERE column_name = 'b'"
            )
        ),
        r#"[["1"]]"#,
        "b once: from the path, not also from the files"
    );

    // A day partition of a date column, which stays in the files.
    let by_day = format!("{root}/by_day");
    write(&by_day, "day(dt)", 2, 30).await;
    let glob = format!("read_parquet('{by_day}/**/*.parquet', hive_partitioning=true)");
    assert_eq!(
        query(
            &py,
            &format!(
                "SELECT count(*), count(DISTINCT day), count(*) FILTER (WHERE CAST(day AS DATE) <> dt) FROM {glob}"
            )
        ),
        // 60 rows; dt of row n is (2000 + n%50, 1 + n%12, 1 + n%28): 60 distinct days.
        r#"[["60", "60", "0"]]"#
    );

    // A string partition with NULLs (rows 0 and 5) and characters Hive
    // escapes (`str` of row n is `s,"n"` and a line break).
    let by_str = format!("{root}/by_str");
    write(&by_str, "str", 1, 10).await;
    let glob = format!("read_parquet('{by_str}/**/*.parquet', hive_partitioning=true)");
    assert_eq!(
        query(
            &py,
            &format!(
                "SELECT count(*), count(*) FILTER (WHERE str IS NULL), \
                 count(*) FILTER (WHERE str = 's,\"' || (l // 1000003) || '\"' || chr(10)) FROM {glob}"
            )
        ),
        r#"[["10", "2", "8"]]"#
    );
}
