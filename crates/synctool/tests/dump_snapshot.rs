//! `synctool_helper dump` on a tablet snapshot, as an operator runs it: a
//! real-format RocksDB checkpoint written by the tablet emulator (snappy
//! rows, a shared column family) is printed row by row in index-0 order,
//! from the snapshot dir (through its MANIFEST) or the checkpoint itself; a
//! schema without indexes is a clear error.

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::{Value, json};
use tablet_emu::emulator::TableEmulator;
use tablet_emu::partition::partition_dir;
use tablet_emu::spec::{EmulatedTable, IndexSpec};

const TID: u32 = 3;
const ROWS: u64 = 120;

fn schema_json(table: &EmulatedTable, with_indexes: bool) -> Value {
    let columns: Vec<Value> = table
        .columns
        .iter()
        .map(|c| json!({"name": c.name, "type": c.sql_type}))
        .collect();
    let indexes: Vec<Value> = table
        .indexes
        .iter()
        .map(|i| json!({"name": i.name, "keys": i.key_columns, "ts": i.ts_column}))
        .collect();
    let mut schema = json!({"columns": columns, "compress_type": "snappy"});
    if with_indexes {
        schema["indexes"] = json!(indexes);
    }
    schema
}

fn helper(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_synctool_helper"))
        .arg("dump")
        .args(args)
        .output()
        .expect("run synctool_helper")
}

#[test]
fn dumps_every_snapshot_row_in_index_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("tablet");
    let mut table = EmulatedTable::demo(TID, 1);
    table.snappy = true;
    // A second index on the same key column shares idx0's column family.
    table.indexes.push(IndexSpec::new("idx2", &["card"], None));
    let mut emu = TableEmulator::create(&root, table.clone()).expect("create");
    emu.append_all(ROWS).expect("append");
    emu.snapshot_all(None).expect("snapshot");
    emu.append_all(30)
        .expect("rows after the snapshot are not in it");

    let schema_path = dir.path().join("schema.json");
    std::fs::write(&schema_path, schema_json(&table, true).to_string()).expect("schema");
    let snapshot_dir = partition_dir(&root, TID, 0).join("snapshot");

    let out = helper(&[
        snapshot_dir.as_os_str(),
        "--schema".as_ref(),
        schema_path.as_os_str(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len() as u64, ROWS, "every snapshot row once");
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("{ROWS} row(s)")));

    // Index-0 order: pk ascending, ts descending.
    let keys: Vec<(String, u64)> = lines
        .iter()
        .map(|l| {
            (
                l["pk"].as_str().expect("pk").to_string(),
                l["ts"].as_u64().expect("ts"),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    assert_eq!(keys, sorted);

    // The rows are the generated ones, decoded.
    let part = emu.partition(0).expect("partition");
    let expected: BTreeSet<(String, u64)> = (0..ROWS)
        .map(|seq| {
            let row = part.generator().row(0, seq).expect("row");
            (String::from_utf8(row.key.pk).expect("utf-8 pk"), row.key.ts)
        })
        .collect();
    assert_eq!(keys.iter().cloned().collect::<BTreeSet<_>>(), expected);
    for line in &lines {
        let values = &line["row"]["values"];
        assert_eq!(
            values["ts"], line["ts"],
            "index 0's ts is the ts column: {line}"
        );
        // Index 0's key is the card column (OpenMLDB's placeholder when NULL).
        match values["card"].as_str() {
            Some(card) => assert_eq!(line["pk"], card),
            None => assert_eq!(line["pk"], "!N@U#L$L%"),
        }
    }

    // The checkpoint dir itself works too.
    let manifest = std::fs::read_to_string(snapshot_dir.join("MANIFEST")).expect("manifest");
    let name = manifest
        .lines()
        .find_map(|l| l.trim().strip_prefix("name:"))
        .map(|n| n.trim().trim_matches('"').to_string())
        .expect("a checkpoint name");
    let checkpoint = snapshot_dir.join(name);
    let out = helper(&[
        checkpoint.as_os_str(),
        "--schema".as_ref(),
        schema_path.as_os_str(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count() as u64,
        ROWS
    );
}

#[test]
fn a_snapshot_needs_a_schema_with_indexes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("tablet");
    let table = EmulatedTable::demo(TID, 1);
    let mut emu = TableEmulator::create(&root, table.clone()).expect("create");
    emu.append_all(5).expect("append");
    emu.snapshot_all(None).expect("snapshot");
    let snapshot_dir = partition_dir(&root, TID, 0).join("snapshot");

    let out = helper(&[snapshot_dir.as_os_str()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs --schema"));

    let schema_path = dir.path().join("schema.json");
    std::fs::write(&schema_path, schema_json(&table, false).to_string()).expect("schema");
    let out = helper(&[
        snapshot_dir.as_os_str(),
        "--schema".as_ref(),
        schema_path.as_os_str(),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("indexes"), "{stderr}");
}
