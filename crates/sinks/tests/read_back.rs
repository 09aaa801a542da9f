//! Partitioned Parquet output read back as readers would: DuckDB's
//! `read_parquet('<dest>/**/*.parquet', hive_partitioning=true)`, pyarrow's
//! `dataset(..., partitioning="hive")` and Spark's `spark.read.parquet`
//! each see every committed row once, with the partition column taken from
//! the path (a value partition's column is not in the files; `day` is added
//! next to the timestamp or date it is taken from), NULL from
//! `__HIVE_DEFAULT_PARTITION__`, Hive's escapes undone, and nothing staged.
//!
//! The readers come from a Python venv outside the clone
//! (`$SYNC_TEST_DUCKDB_PYTHON`, else `$DUCKDB_VENV` or
//! `~/.cache/openmldb-sync/duckdb-venv`, made here with `pip install` of
//! [`READER_PACKAGES`] when missing, as `scripts/lib/duckdb.sh` does); Spark
//! runs on the `java` of the PATH. Without them the tests print `skipped`,
//! unless `SYNC_REQUIRE_SERVICES` is set.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use serde_json::Value;
use sync_core::task::{FileFormat, TaskOptions};
use sync_sinks::{Sink, SinkConfig, StoreSink};

use common::{Seg, seg, table};

/// What the venv holds (kept equal to `READER_PACKAGES` in
/// `scripts/lib/duckdb.sh`).
const READER_PACKAGES: [&str; 3] = ["duckdb", "pyarrow", "pyspark==3.5.3"];
const READER_IMPORTS: &str = "import duckdb, pyarrow, pyspark";

/// A python that imports the readers, making the venv if needed.
fn reader_python() -> Result<PathBuf, String> {
    let works = |py: &PathBuf| {
        Command::new(py)
            .args(["-c", READER_IMPORTS])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if let Some(py) = std::env::var_os("SYNC_TEST_DUCKDB_PYTHON").map(PathBuf::from) {
        return if works(&py) {
            Ok(py)
        } else {
            Err(format!(
                "SYNC_TEST_DUCKDB_PYTHON={} cannot {READER_IMPORTS}",
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
    run(Command::new(venv.join("bin/pip"))
        .args(["install", "-q"])
        .args(READER_PACKAGES))?;
    if works(&py) {
        Ok(py)
    } else {
        Err(format!(
            "{} cannot {READER_IMPORTS} after the install",
            py.display()
        ))
    }
}

/// The readers' python, or `None` when the test is to be skipped.
fn python_or_skip() -> Option<PathBuf> {
    match reader_python() {
        Ok(py) => Some(py),
        Err(why) if std::env::var_os("SYNC_REQUIRE_SERVICES").is_none() => {
            eprintln!("skipped: no Python with the readers ({why})");
            None
        }
        Err(why) => panic!("SYNC_REQUIRE_SERVICES is set and the readers are missing: {why}"),
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
    let Some(py) = python_or_skip() else {
        return;
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

/// Reads each `(dir, column)` with pyarrow and with one Spark session; per
/// reader and dir: rows, columns, and rows per value of `column` (`None`
/// for NULL).
const PYARROW_AND_SPARK: &str = r#"
import json, sys
def key(v):
    return "None" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
def groups(values):
    g = {}
    for v in values:
        g[key(v)] = g.get(key(v), 0) + 1
    return g
jobs = json.loads(sys.argv[1])
import pyarrow.dataset as ds
out = {"pyarrow": []}
for path, column in jobs:
    t = ds.dataset(path, format="parquet", partitioning="hive").to_table()
    out["pyarrow"].append({"rows": t.num_rows, "columns": t.column_names,
                           "groups": groups(t.column(column).to_pylist())})
from pyspark.sql import SparkSession
spark = (SparkSession.builder.master("local[2]").appName("read-back")
         .config("spark.ui.enabled", "false").getOrCreate())
spark.sparkContext.setLogLevel("ERROR")
out["spark"] = []
for path, column in jobs:
    df = spark.read.parquet(path)
    out["spark"].append({"rows": df.count(), "columns": df.columns,
                         "groups": {key(r[0]): r[1] for r in df.groupBy(column).count().collect()}})
spark.stop()
print(json.dumps(out))
"#;

#[tokio::test]
async fn pyarrow_and_spark_read_partitioned_output() {
    let Some(py) = python_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().display().to_string();
    let (by_b, by_day, by_str) = (
        format!("{root}/by_b"),
        format!("{root}/by_day"),
        format!("{root}/by_str"),
    );
    write(&by_b, "b", 3, 10).await;
    write(&by_day, "day(dt)", 2, 30).await;
    write(&by_str, "str", 1, 10).await;
    let jobs = serde_json::json!([[by_b, "b"], [by_day, "day"], [by_str, "str"]]);
    let out = Command::new(&py)
        .args(["-c", PYARROW_AND_SPARK, &jobs.to_string()])
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "pyarrow or Spark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    let groups = |v: &Value| -> BTreeMap<String, u64> {
        v["groups"]
            .as_object()
            .expect("groups")
            .iter()
            .map(|(k, n)| (k.clone(), n.as_u64().expect("count")))
            .collect()
    };
    let columns = |v: &Value, name: &str| {
        v["columns"]
            .as_array()
            .expect("columns")
            .iter()
            .filter(|c| *c == name)
            .count()
    };
    // `str` of row n is `s,"n"` and a line break, NULL for rows 0 and 5.
    let mut strings: BTreeMap<String, u64> = [1, 2, 3, 4, 6, 7, 8, 9]
        .iter()
        .map(|n| (format!("s,\"{n}\"\n"), 1))
        .collect();
    strings.insert("None".into(), 2);
    for reader in ["pyarrow", "spark"] {
        let [b, day, s] = [0, 1, 2].map(|i| &got[reader][i]);
        // Rows 0..30 of three committed segments; the fourth is staged only.
        assert_eq!(b["rows"], 30, "{reader}: {b}");
        assert_eq!(
            groups(b),
            BTreeMap::from([("false".into(), 15), ("true".into(), 15)]),
            "{reader}"
        );
        assert_eq!(columns(b, "b"), 1, "{reader}: b once, from the path");
        // 60 rows; dt of row n is (2000 + n%50, 1 + n%12, 1 + n%28): 60 days.
        assert_eq!(day["rows"], 60, "{reader}: {day}");
        let days = groups(day);
        assert_eq!(days.len(), 60, "{reader}: {days:?}");
        assert!(
            days.keys().all(|d| d.len() == 10 && d.starts_with("20")),
            "{reader}: {days:?}"
        );
        assert_eq!(
            (columns(day, "day"), columns(day, "dt")),
            (1, 1),
            "{reader}: {day}"
        );
        assert_eq!(s["rows"], 10, "{reader}: {s}");
        assert_eq!(groups(s), strings, "{reader}: Hive's escapes undone");
    }
}
