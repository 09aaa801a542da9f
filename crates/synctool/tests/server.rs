//! gRPC and HTTP+JSON on a real loopback port, and the `synctool_helper`
//! binary against a running daemon.

mod common;

use std::process::Output;

use common::serving::{http, serve};
use common::*;
use serde_json::Value;
use sync_core::point::Point;
use sync_proto::datasync::sync_tool_client::SyncToolClient;
use sync_proto::datasync::{DeleteSyncTaskRequest, TaskStatusRequest};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_create_stream_status_delete() {
    let env = Env::new();
    let running = serve(env.start().await).await;
    let mut client = SyncToolClient::connect(format!("http://{}", running.addr))
        .await
        .unwrap();
    let reply = client
        .create_sync_task(create_request("db1", "t1", 2, &env.dest("t1")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.code, Some(0), "{:?}", reply.msg);
    let bad = client
        .create_sync_task(create_request("db1", "t1", 0, "/etc"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(bad.code, Some(-1));
    assert!(bad.msg.unwrap().contains("outside the allowed roots"));

    let token = env.collectors.wait_for(1).await.token.unwrap();
    let (tx, rx) = mpsc::channel(16);
    for i in 0..5 {
        tx.send(pack(7, 0, &token, i)).await.unwrap();
    }
    // An out-of-sequence pack: refused in its place in the order.
    tx.send(pack(7, 0, &token, 9)).await.unwrap();
    drop(tx);
    let mut replies = client
        .send_data_stream(ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    let mut codes = Vec::new();
    while let Some(r) = replies.message().await.unwrap() {
        codes.push(r.response.code.unwrap());
    }
    assert_eq!(codes, vec![0, 0, 0, 0, 0, -1]);
    wait_committed(&running.daemon.handle(), 7, 0, 3).await;

    let one = client
        .send_data(pack(7, 0, &token, 5))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(one.response.code, Some(0));
    assert_eq!(
        Point::from_proto(one.committed_point.as_ref().unwrap()).unwrap(),
        Point::Binlog { offset: 3 }
    );

    // Row 5 completes the second segment.
    wait_committed(&running.daemon.handle(), 7, 0, 6).await;
    let status = client
        .task_status(TaskStatusRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.task.len(), 1);
    assert_eq!(status.task[0].count, Some(6));
    // Six rows received (the refused pack not counted), committed in two
    // segments, none held.
    let (code, metrics) = http(running.addr, "GET", "/metrics", "").await;
    assert_eq!(code, 200);
    for line in [
        r#"synctool_received_rows_total{db="db1",table="t1",tid="7",pid="0"} 6"#,
        r#"synctool_committed_rows_total{db="db1",table="t1",tid="7",pid="0"} 6"#,
        r#"synctool_committed_files_total{db="db1",table="t1",tid="7",pid="0"} 2"#,
        r#"synctool_lag_rows{db="db1",table="t1",tid="7",pid="0"} 0"#,
        "synctool_commit_latency_seconds_count 2",
        "synctool_committed_segments_total 2",
        "synctool_memory_held_bytes 0",
        "synctool_memory_limit_bytes 268435456",
        "synctool_memory_full 0",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line} not in\n{metrics}"
        );
    }
    assert_eq!(
        env.sink.committed_text(&env.dest("t1")).await,
        "row0;row1;row2;row3;row4;row5;"
    );
    let deleted = client
        .delete_sync_task(DeleteSyncTaskRequest {
            db: Some("db1".into()),
            name: Some("t1".into()),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(deleted.code, Some(0));
    let status = client
        .task_status(TaskStatusRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(status.task.is_empty());
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_json_admin_as_openmldb_helper_uses_it() {
    let env = Env::new();
    let running = serve(env.start().await).await;
    let addr = running.addr;
    let base = "/openmldb.datasync.SyncTool";

    let (code, body) = http(
        addr,
        "POST",
        &format!("{base}/CreateSyncTask"),
        &format!(
            r#"{{"db":"db1","name":"t2","mode":0,"start_ts":0,"dest":"{}"}}"#,
            env.dest("t2")
        ),
    )
    .await;
    assert_eq!((code, json(&body)), (200, json(r#"{"code":0,"msg":"ok"}"#)));

    // OpenMLDB's helper GETs TaskStatus with a `{}` body.
    let (code, body) = http(addr, "GET", &format!("{base}/TaskStatus"), "{}").await;
    assert_eq!(code, 200);
    let v = json(&body);
    assert_eq!(v["response"]["code"], 0);
    assert_eq!(v["task"].as_array().unwrap().len(), 2);
    assert_eq!(v["task"][0]["progress"]["mode"], "kFull");
    assert_eq!(v["task"][1]["status"], "INIT");
    let info = v["readableInfo"][0].as_str().unwrap();
    assert!(
        info.starts_with("lastUpdateTime=") && info.contains(";progressPath="),
        "{info}"
    );

    let (code, body) = http(
        addr,
        "POST",
        &format!("{base}/CreateSyncTask"),
        r#"{"db":"db1","name":"t2","mode":0,"dest":"/tmp/t2"}"#,
    )
    .await;
    assert_eq!(code, 200);
    let v = json(&body);
    assert_eq!(v["code"], -1);
    assert!(
        v["msg"]
            .as_str()
            .unwrap()
            .contains("outside the allowed roots")
    );

    for (bad, want) in [
        ("{\"db\":", "not a JSON object"),
        ("[1,2]", "not a JSON object"),
        (
            r#"{"db":"db1","name":"t1","mode":"often","dest":"/data/offline/x"}"#,
            "not a sync mode",
        ),
        (r#"{"db":7}"#, "field `db`"),
    ] {
        let (code, body) = http(addr, "POST", &format!("{base}/CreateSyncTask"), bad).await;
        assert_eq!(code, 400, "{bad}");
        let v = json(&body);
        assert_eq!(v["code"], -1);
        assert!(v["msg"].as_str().unwrap().contains(want), "{bad}: {body}");
    }
    let (code, _) = http(addr, "POST", &format!("{base}/Nope"), "{}").await;
    assert_eq!(code, 404);

    let (code, body) = http(addr, "GET", "/status?format=json", "").await;
    assert_eq!(code, 200);
    let v = json(&body);
    assert_eq!(v["tables"][0]["db"], "db1");
    assert_eq!(v["tables"][0]["parts"].as_array().unwrap().len(), 2);
    assert!(v["tables"][0]["parts"][0]["lag_ms"].is_u64());
    assert!(v["summary"].as_str().unwrap().contains("table scope"));
    let (code, body) = http(addr, "GET", "/status", "").await;
    assert_eq!(code, 200);
    assert!(body.contains("<html") && body.contains("db1.t2"), "{body}");
    let (code, body) = http(addr, "GET", "/metrics", "").await;
    assert_eq!(code, 200);
    assert!(
        body.contains(r#"synctool_committed_rows_total{db="db1",table="t2",tid="9",pid="1"} 0"#),
        "{body}"
    );
    assert!(
        body.contains(r#"synctool_parts{status="INIT"} 2"#)
            && body.contains("synctool_table_tasks 1")
            && body.contains("# TYPE synctool_commit_latency_seconds histogram")
            && body.ends_with("# EOF\n"),
        "{body}"
    );
    let (code, body) = http(addr, "GET", "/collectors", "").await;
    assert_eq!(
        (code, json(&body)["collectors"][0].as_str()),
        (200, Some(COLLECTOR))
    );

    let (code, body) = http(
        addr,
        "POST",
        &format!("{base}/DeleteSyncTask"),
        r#"{"db":"db1","name":"t2"}"#,
    )
    .await;
    assert_eq!((code, json(&body)["code"].as_i64()), (200, Some(0)));
    let (_, body) = http(
        addr,
        "POST",
        &format!("{base}/DeleteSyncTask"),
        r#"{"db":"db1","name":"t2"}"#,
    )
    .await;
    assert!(
        json(&body)["msg"]
            .as_str()
            .unwrap()
            .contains("no sync task")
    );
    // No task: brpc leaves the empty repeated fields out (the helper prints `no task`).
    let (_, body) = http(addr, "GET", &format!("{base}/TaskStatus"), "{}").await;
    let v = json(&body);
    assert_eq!(v["response"]["code"], 0);
    assert!(
        v.get("readableInfo").is_none() && v.get("task").is_none(),
        "{body}"
    );

    running.stop().await;
}

async fn helper(args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_synctool_helper"))
            .args(&args)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn text(out: &Output) -> (bool, String, String) {
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helper_binary_against_a_running_daemon() {
    let env = Env::new();
    let running = serve(env.start().await).await;
    let s = running.addr.to_string();

    let (ok, out, err) = text(
        &helper(&[
            "create",
            "-t",
            "db1.t1",
            "-m",
            "1",
            "-ts",
            "1000",
            "-d",
            &env.dest("t1"),
            "-s",
            &s,
        ])
        .await,
    );
    assert!(ok, "{out}{err}");
    assert!(out.contains(r#""code":0"#), "{out}");

    let (ok, out, err) = text(
        &helper(&[
            "create",
            "-t",
            "db1.t2",
            "-m",
            "5",
            "-d",
            &env.dest("t2"),
            "-s",
            &s,
        ])
        .await,
    );
    assert!(!ok && err.contains("mode must be 0"), "{out}{err}");
    let (ok, out, err) = text(
        &helper(&[
            "create",
            "-t",
            "db1.t2",
            "-m",
            "1",
            "-d",
            &env.dest("t2"),
            "-s",
            &s,
        ])
        .await,
    );
    assert!(!ok && err.contains("needs -ts"), "{out}{err}");
    let (ok, out, err) = text(
        &helper(&[
            "create", "-t", "db1.t2", "-m", "0", "-d", "/srv/t2", "-s", &s,
        ])
        .await,
    );
    assert!(
        !ok && err.contains("outside the allowed roots"),
        "{out}{err}"
    );
    assert!(err.contains(&s), "the refusal names the server: {err}");
    let (ok, out, err) = text(
        &helper(&[
            "create",
            "-t",
            "db1.none",
            "-m",
            "0",
            "-d",
            &env.dest("x"),
            "-s",
            &s,
        ])
        .await,
    );
    assert!(!ok && err.contains("does not exist"), "{out}{err}");
    let (ok, out, err) = text(&helper(&["status", "-s", "127.0.0.1:1"]).await);
    assert!(
        !ok && err.contains("cannot reach SyncTool at 127.0.0.1:1"),
        "{out}{err}"
    );
    let (ok, _, err) = text(&helper(&["delete", "-t", "nodot", "-s", &s]).await);
    assert!(!ok && err.contains("expected db.table"), "{err}");

    let (ok, out, err) = text(&helper(&["status", "-s", &s]).await);
    assert!(ok, "{err}");
    assert!(out.contains("1 tasks(tid-pid)"), "{out}");
    assert!(
        out.contains("7-0 db1.t1 mode=kIncrementalByTimestamp status=INIT"),
        "{out}"
    );
    assert!(
        out.contains("table scope") && out.contains("all tasks are running"),
        "{out}"
    );

    let (ok, out, _) = text(&helper(&["collectors", "-s", &s]).await);
    assert!(ok && out.trim() == COLLECTOR, "{out}");
    let (ok, out, err) = text(&helper(&["retry", "-t", "db1.t1", "-s", &s]).await);
    assert!(ok, "{out}{err}");
    assert!(out.contains("0 failed part(s) retried"), "{out}");
    let (ok, out, err) = text(&helper(&["delete", "-t", "db1.t1", "-s", &s]).await);
    assert!(ok, "{out}{err}");
    let (ok, out, _) = text(&helper(&["status", "-s", &s]).await);
    assert!(ok && out.trim() == "no task", "{out}");
    let (ok, _, err) = text(&helper(&["delete", "-t", "db1.t1", "-s", &s]).await);
    assert!(!ok && err.contains("no sync task for db1.t1"), "{err}");

    // tool-status reads the progress path of a properties file.
    let conf = env.dir.path().join("synctool.properties");
    std::fs::write(
        &conf,
        format!(
            "server.host=127.0.0.1\nserver.port=8848\nsync_task.progress_path={}\nstandalone.metadata_dir={}\n",
            env.progress_path().display(),
            env.metadata_dir().display()
        ),
    )
    .unwrap();
    let (ok, out, err) = text(&helper(&["tool-status", "-f", conf.to_str().unwrap()]).await);
    assert!(ok, "{err}");
    assert!(out.contains("sync task progress in sync tool fs"), "{out}");
    assert!(out.contains("state.pb: epoch 0"), "{out}");
    let missing = env.dir.path().join("missing.properties");
    let (ok, _, err) = text(&helper(&["tool-status", "-f", missing.to_str().unwrap()]).await);
    assert!(!ok && err.contains("missing.properties"), "{err}");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helper_status_names_failed_parts_and_reasons() {
    let env = Env::new();
    {
        let daemon = env.start().await;
        let r = daemon
            .handle()
            .create(create_request("db1", "t1", 2, &env.dest("t1")))
            .await;
        assert_eq!(r.code, Some(0));
        daemon.shutdown().await;
    }
    std::fs::remove_file(
        sync_infra::coordinator::standalone::StandaloneCoordinator::table_info_path(
            &env.metadata_dir(),
            7,
        ),
    )
    .unwrap();
    let running = serve(env.start().await).await;
    let s = running.addr.to_string();
    let (ok, out, err) = text(&helper(&["status", "-s", &s]).await);
    assert!(ok, "{err}");
    assert!(
        out.contains("status=FAILED") && out.contains("failure_reason="),
        "{out}"
    );
    assert!(out.contains("tasks contains failed part: [7]"), "{out}");
    assert!(out.contains("failed part: pid 0:"), "{out}");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helper_status_shows_a_transient_error_and_since_when() {
    use sync_proto::common::StorageMode;
    let env = Env::new();
    let running = serve(env.start().await).await;
    let h = running.daemon.handle();
    assert_eq!(
        h.create(create_request("db1", "t1", 2, &env.dest("t1")))
            .await
            .code,
        Some(0)
    );
    // The leader moves to a host without a collector: the part waits.
    let mut moved = table_info(7, "db1", "t1", 1, StorageMode::KHdd);
    moved.table_partition[0].partition_meta[0].endpoint = "127.0.0.2:9527".into();
    sync_infra::coordinator::standalone::StandaloneCoordinator::put_table_info(
        &env.metadata_dir(),
        &moved,
    )
    .unwrap();
    synctool::daemon::poll_once(&h).await.unwrap();
    let s = running.addr.to_string();
    let (ok, out, err) = text(&helper(&["status", "-s", &s]).await);
    assert!(ok, "{err}");
    assert!(
        out.contains("status=REASSIGNING")
            && out.contains(
                "error=[no_collector transient] waiting for a data collector on host 127.0.0.2"
            )
            && out.contains("since=20"),
        "{out}"
    );
    assert!(
        out.contains("parts with errors (retried by themselves)"),
        "{out}"
    );
    assert!(!out.contains("failed part"), "{out}");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helper_history_lists_completed_and_deleted_tasks() {
    let env = Env::new();
    let running = serve(env.start().await).await;
    let h = running.daemon.handle();
    let s = running.addr.to_string();
    let (ok, out, _) = text(&helper(&["history", "-s", &s]).await);
    assert!(ok && out.contains("no ended task"), "{out}");
    assert_eq!(
        h.create(create_request("db1", "t1", 0, &env.dest("t1")))
            .await
            .code,
        Some(0)
    );
    let token = env.collectors.wait_for(1).await.token.unwrap();
    for i in 0..2 {
        let mut p = pack(7, 0, &token, i);
        p.finished = Some(i == 1);
        assert_eq!(h.send_data(p).await.response.code, Some(0));
    }
    for _ in 0..500 {
        if h.status_report().await.unwrap().tables.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(
        h.create(create_request("db1", "t2", 2, &env.dest("t2")))
            .await
            .code,
        Some(0)
    );
    let del = sync_proto::datasync::DeleteSyncTaskRequest {
        db: Some("db1".into()),
        name: Some("t2".into()),
    };
    assert_eq!(h.delete(del).await.code, Some(0));
    let (ok, out, err) = text(&helper(&["history", "-s", &s]).await);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with("db1.t2 tid=9") && lines[0].contains(" deleted at "),
        "{out}"
    );
    assert!(
        lines[1].starts_with("db1.t1 tid=7")
            && lines[1].contains(" completed at ")
            && lines[1].contains("rows=2 files=1"),
        "{out}"
    );
    let status = h
        .task_status(sync_proto::datasync::TaskStatusRequest::default())
        .await;
    assert!(
        status.task.is_empty(),
        "TaskStatus lists running tasks only"
    );
    running.stop().await;
}
