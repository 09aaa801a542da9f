//! Per-task output options through the real admin (HTTP+JSON, gRPC and the
//! `synctool_helper` binary) on a loopback port: two tables with different
//! formats on one SyncTool, their files and status; bad options refused with
//! the reason and nothing created; the options kept across a restart whose
//! defaults changed.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::serving::{http, serve};
use common::*;
use serde_json::Value;
use sync_proto::datasync::sync_tool_client::SyncToolClient;
use sync_sinks::Sink;
use synctool::client;
use synctool::daemon::Daemon;

/// [`http`] with a JSON answer.
async fn http_json(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, Value) {
    let (status, text) = http(addr, method, path, body).await;
    let v = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, v)
}

async fn helper(args: Vec<String>) -> (bool, String, String) {
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_synctool_helper"))
            .args(&args)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

const CREATE: &str = "/openmldb.datasync.SyncTool/CreateSyncTask";

/// The options of table `name` in `/status?format=json`.
async fn status_options(addr: SocketAddr, name: &str) -> Value {
    let (code, v) = http_json(addr, "GET", "/status?format=json", "").await;
    assert_eq!(code, 200);
    v["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == name)
        .unwrap_or_else(|| panic!("no task of {name}: {v}"))["options"]
        .clone()
}

/// The token of the first assignment of partition 0 of `tid`.
async fn token_of(env: &Env, tid: u32) -> String {
    for _ in 0..500 {
        if let Some((_, a)) = env
            .collectors
            .calls()
            .iter()
            .find(|(_, a)| a.tid == Some(tid) && a.pid == Some(0))
        {
            return a.token.clone().unwrap();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no assignment of tid {tid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tables_with_different_formats_on_one_synctool() {
    let env = Env::new();
    let running = serve(env.start().await).await;
    let addr = running.addr;

    // t1 over HTTP+JSON (camelCase keys, as the JSON mapping accepts):
    // Parquet, zstd, files of two rows.
    let (code, v) = http_json(
        addr,
        "POST",
        CREATE,
        &format!(
            r#"{{"db":"db1","name":"t1","mode":2,"dest":"{}","format":"parquet","parquetCompression":"zstd","rollMaxRows":2}}"#,
            env.dest("t1")
        ),
    )
    .await;
    assert_eq!((code, &v["code"]), (200, &Value::from(0)), "{v}");

    // t2 with the helper's flags: CSV partitioned by the value of `name`.
    let (dest2, server) = (env.dest("t2"), addr.to_string());
    let (ok, out, err) = helper(args(&[
        "create",
        "-t",
        "db1.t2",
        "-m",
        "2",
        "-d",
        &dest2,
        "-s",
        &server,
        "--format",
        "csv",
        "--csv-header",
        "true",
        "--partition-by",
        "name",
        "--roll-max-rows",
        "3",
    ]))
    .await;
    assert!(ok, "{out}{err}");

    let t1 = token_of(&env, 7).await;
    let t2 = token_of(&env, 9).await;
    let mut grpc = SyncToolClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    for i in 0..4 {
        let r = grpc
            .send_data(pack(7, 0, &t1, i))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.response.code, Some(0), "{:?}", r.response.msg);
    }
    for i in 0..3 {
        let r = grpc
            .send_data(pack(9, 0, &t2, i))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.response.code, Some(0), "{:?}", r.response.msg);
    }
    wait_committed(&running.daemon.handle(), 7, 0, 4).await;
    wait_committed(&running.daemon.handle(), 9, 0, 3).await;

    let f1 = env.sink.visible_files(&env.dest("t1")).await.unwrap();
    assert_eq!(
        f1,
        vec![
            "part-0000000007-00000-0000000000-000000000000.parquet",
            "part-0000000007-00000-0000000000-000000000001.parquet",
        ]
    );
    let bytes = env
        .sink
        .inner
        .read_file(&env.dest("t1"), &f1[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&bytes[..4], b"PAR1");
    let f2 = env.sink.visible_files(&env.dest("t2")).await.unwrap();
    assert_eq!(
        f2,
        vec![
            "name=row0/part-0000000009-00000-0000000001-000000000000.csv",
            "name=row1/part-0000000009-00000-0000000001-000000000000.csv",
            "name=row2/part-0000000009-00000-0000000001-000000000000.csv",
        ]
    );
    let csv = env
        .sink
        .inner
        .read_file(&env.dest("t2"), &f2[1])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        String::from_utf8(csv).unwrap(),
        "id\n1\n",
        "header, `name` left out"
    );

    // Status: JSON, HTML, and the helper.
    let o1 = status_options(addr, "t1").await;
    assert_eq!(o1["format"], "parquet");
    assert_eq!(o1["parquet_compression"], "zstd");
    assert_eq!(o1["roll_max_rows"], 2);
    assert_eq!(o1["partition_by"], Value::Null);
    let o2 = status_options(addr, "t2").await;
    assert_eq!(o2["format"], "csv");
    assert_eq!(o2["csv_header"], true);
    assert_eq!(o2["partition_by"], "name");
    let (code, html) = {
        let a = addr.to_string();
        let r = tokio::task::spawn_blocking(move || {
            client::request(&a, "GET", "/status", "", Duration::from_secs(10))
        })
        .await
        .unwrap()
        .unwrap();
        (r.status, r.body)
    };
    assert_eq!(code, 200);
    assert!(
        html.contains("format=parquet compression=zstd roll=2rows"),
        "{html}"
    );
    assert!(html.contains("partition_by=name"), "{html}");
    let (ok, out, err) = helper(args(&["status", "-s", &server])).await;
    assert!(ok, "{err}");
    assert!(
        out.contains("options=[format=parquet compression=zstd"),
        "{out}"
    );
    assert!(out.contains("options=[format=csv header=true"), "{out}");

    // Files committed count files, not segments: t2's one segment is three.
    let (code, metrics) = http(addr, "GET", "/metrics", "").await;
    assert_eq!(code, 200);
    assert_eq!(
        committed_files(&metrics, "t1"),
        f1.len() as u64,
        "{metrics}"
    );
    assert_eq!(committed_files(&metrics, "t2"), 3, "{metrics}");
    running.stop().await;
}

/// The sum of `synctool_committed_files_total` over the parts of `table`.
fn committed_files(metrics: &str, table: &str) -> u64 {
    let label = format!("table=\"{table}\"");
    metrics
        .lines()
        .filter(|l| l.starts_with("synctool_committed_files_total{") && l.contains(&label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_options_are_refused_with_the_reason_and_create_nothing() {
    let env = Env::new();
    let running = serve(env.start().await).await;
    let addr = running.addr;
    let dest = env.dest("t1");
    for (extra, want) in [
        (r#""format":"orc""#, "format `orc`: expected parquet or csv"),
        (
            r#""parquet_compression":"lzo""#,
            "parquet_compression `lzo`",
        ),
        (
            r#""roll_max_rows":0"#,
            "roll_max_rows `0`: must be at least 1",
        ),
        (r#""partition_by":"week(id)""#, "partition_by `week(id)`"),
        (r#""partition_by":"nope""#, "no column `nope`"),
        (r#""partition_by":"day(id)""#, "timestamp or date"),
        (
            r#""partition_by":"name","partition_time_zone":"Mars/Base""#,
            "Mars/Base",
        ),
        (r#""csv_null":"a,b""#, "csv_null"),
    ] {
        let body = format!(r#"{{"db":"db1","name":"t1","mode":2,"dest":"{dest}",{extra}}}"#);
        let (code, v) = http_json(addr, "POST", CREATE, &body).await;
        assert_eq!(code, 200, "{body}");
        assert_eq!(v["code"], -1, "{body}: {v}");
        let msg = v["msg"].as_str().unwrap();
        assert!(msg.contains(want), "{body}: {msg}");
    }
    // gRPC too.
    let mut grpc = SyncToolClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let mut req = create_request("db1", "t1", 2, &dest);
    req.partition_time_zone = Some("+25:00".into());
    req.partition_by = Some("name".into());
    let r = grpc.create_sync_task(req).await.unwrap().into_inner();
    assert_eq!(r.code, Some(-1));
    assert!(r.msg.unwrap().contains("+25:00"));
    // Nothing was created, nothing assigned.
    let (_, v) = http_json(addr, "GET", "/status?format=json", "").await;
    assert_eq!(v["tables"].as_array().unwrap().len(), 0, "{v}");
    assert!(env.collectors.calls().is_empty());
    // The helper refuses bad flag values itself.
    let server = addr.to_string();
    let (ok, _, err) = helper(args(&[
        "create",
        "-t",
        "db1.t1",
        "-m",
        "2",
        "-d",
        &dest,
        "-s",
        &server,
        "--parquet-compression",
        "lzo",
    ]))
    .await;
    assert!(!ok && err.contains("lzo"), "{err}");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_each_task_options_even_when_the_defaults_change() {
    let env = Env::new();
    let running = serve(env.start().await).await;
    let addr = running.addr;
    let mut grpc = SyncToolClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let mut req = create_request("db1", "t1", 2, &env.dest("t1"));
    req.roll_max_rows = Some(2);
    req.format = Some("parquet".into());
    let r = grpc.create_sync_task(req).await.unwrap().into_inner();
    assert_eq!(r.code, Some(0), "{:?}", r.msg);
    // t2 takes the defaults of this run: CSV, no header, 3 rows.
    let r = grpc
        .create_sync_task(create_request("db1", "t2", 2, &env.dest("t2")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.code, Some(0), "{:?}", r.msg);
    running.stop().await;

    // Restart with other defaults.
    let mut options = env.options();
    options.supervisor.defaults.format = sync_core::task::FileFormat::Parquet;
    options.supervisor.defaults.roll.max_rows = 99;
    let daemon = Daemon::start(options, env.parts()).await.unwrap();
    let running = serve(daemon).await;
    let o1 = status_options(running.addr, "t1").await;
    assert_eq!(
        (o1["format"].as_str(), o1["roll_max_rows"].as_u64()),
        (Some("parquet"), Some(2))
    );
    let o2 = status_options(running.addr, "t2").await;
    assert_eq!(
        (
            o2["format"].as_str(),
            o2["csv_header"].as_bool(),
            o2["roll_max_rows"].as_u64()
        ),
        (Some("csv"), Some(false), Some(3)),
        "the defaults at create, not the new ones"
    );
    // And the segments after the restart use them: rows of t1 roll at 2 into Parquet.
    let token = {
        let mut found = None;
        for _ in 0..500 {
            let calls: Vec<_> = env
                .collectors
                .calls()
                .into_iter()
                .filter(|(_, c)| c.tid == Some(7))
                .collect();
            if calls.len() >= 2 {
                found = calls.last().and_then(|(_, c)| c.token.clone());
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        found.expect("t1 assigned again after the restart")
    };
    for i in 0..2 {
        let r = grpc_send(running.addr, pack(7, 0, &token, i)).await;
        assert_eq!(r, Some(0));
    }
    wait_committed(&running.daemon.handle(), 7, 0, 2).await;
    let files = env.sink.visible_files(&env.dest("t1")).await.unwrap();
    assert_eq!(files.len(), 1);
    assert!(files[0].ends_with(".parquet"), "{files:?}");
    running.stop().await;
}

async fn grpc_send(addr: SocketAddr, p: sync_proto::datasync::SendDataRequest) -> Option<i32> {
    let mut grpc = SyncToolClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    grpc.send_data(p).await.unwrap().into_inner().response.code
}
