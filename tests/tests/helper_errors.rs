//! `synctool_helper` against a running SyncTool (and one that is not there):
//! every bad request is refused with a message that says what is wrong, the
//! exit status is non-zero, and no task is left behind. The server's own
//! checks are also hit directly over HTTP+JSON, as OpenMLDB's scripts call it.

use std::process::Output;

use e2e::Cluster;
use e2e::http;
use e2e::ports::free_endpoint;
use serde_json::{Value, json};

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs the helper; it must fail with a message containing `want`.
fn refused(cluster: &Cluster, args: &[&str], want: &str) {
    let out = cluster.helper(args).expect("run synctool_helper");
    let all = text(&out);
    assert!(
        !out.status.success(),
        "synctool_helper {args:?} should fail: {all}"
    );
    assert!(
        all.contains(want),
        "synctool_helper {args:?}: expected `{want}` in: {all}"
    );
    assert!(!all.contains("panicked"), "{all}");
}

fn create_json(cluster: &Cluster, body: Value) -> Value {
    let reply = http::post_json(
        &cluster.synctool_endpoint(),
        "/openmldb.datasync.SyncTool/CreateSyncTask",
        &body.to_string(),
    )
    .expect("POST CreateSyncTask");
    assert_eq!(reply.status, 200, "{}", reply.body);
    serde_json::from_str(&reply.body).expect("JSON reply")
}

#[test]
fn helper_refuses_bad_requests_clearly() {
    let mut cluster = Cluster::builder()
        .rows_per_partition(10)
        .without_collector()
        .synctool(|c| {
            let root = c
                .progress_path
                .parent()
                .expect("cluster dir")
                .join("offline");
            c.allowed_dest_roots = vec![format!("file://{}", root.display())];
        })
        .build()
        .expect("cluster");
    let server = cluster.synctool_endpoint();
    let table = cluster.table_name();
    let good_dest = cluster.local_dest("ok");
    let s = server.as_str();
    let t = table.as_str();

    // Bad mode: refused by the helper, and by the server when sent directly.
    refused(
        &cluster,
        &["create", "-t", t, "-m", "3", "-d", &good_dest, "-s", s],
        "mode must be 0",
    );
    let reply = create_json(
        &cluster,
        json!({"db": cluster.table().db, "name": cluster.table().name, "mode": 7, "dest": good_dest}),
    );
    assert_eq!(reply["code"], -1, "{reply}");
    assert!(
        reply["msg"]
            .as_str()
            .unwrap_or("")
            .contains("not a sync mode"),
        "{reply}"
    );

    // Mode 1 without a start timestamp.
    refused(
        &cluster,
        &["create", "-t", t, "-m", "1", "-d", &good_dest, "-s", s],
        "needs -ts",
    );
    let reply = create_json(
        &cluster,
        json!({"db": cluster.table().db, "name": cluster.table().name, "mode": 1, "dest": good_dest}),
    );
    assert_eq!(reply["code"], -1, "{reply}");
    assert!(
        reply["msg"].as_str().unwrap_or("").contains("start_ts"),
        "{reply}"
    );

    // Destinations outside the allowed roots, or climbing out of them.
    refused(
        &cluster,
        &[
            "create",
            "-t",
            t,
            "-m",
            "0",
            "-d",
            "file:///tmp/elsewhere",
            "-s",
            s,
        ],
        "outside the allowed roots",
    );
    let climbing = format!("{good_dest}/../../escape");
    refused(
        &cluster,
        &["create", "-t", t, "-m", "0", "-d", &climbing, "-s", s],
        "without . or ..",
    );

    // A table that does not exist, and a name that is not db.table.
    refused(
        &cluster,
        &[
            "create",
            "-t",
            "demo_db.nope",
            "-m",
            "0",
            "-d",
            &good_dest,
            "-s",
            s,
        ],
        "does not exist",
    );
    refused(
        &cluster,
        &[
            "create", "-t", "nodot", "-m", "0", "-d", &good_dest, "-s", s,
        ],
        "expected db.table",
    );

    // Nothing was created by any of these.
    let status = cluster.synctool_status().expect("status");
    assert!(status.tables.is_empty(), "{status:?}");
    let out = cluster.helper(&["status", "-s", s]).expect("status");
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("no task"), "{}", text(&out));

    // A SyncTool that is not there.
    let nobody = free_endpoint().expect("port");
    refused(
        &cluster,
        &[
            "create", "-t", t, "-m", "0", "-d", &good_dest, "-s", &nobody,
        ],
        "cannot reach SyncTool",
    );
    refused(
        &cluster,
        &["status", "-s", &nobody],
        "cannot reach SyncTool",
    );

    // A good request is accepted (the collector is down, so the parts wait),
    // a second one for the same table is refused, and delete removes it.
    let out = cluster
        .helper(&["create", "-t", t, "-m", "0", "-d", &good_dest, "-s", s])
        .expect("create");
    assert!(out.status.success(), "{}", text(&out));
    let out = cluster
        .helper(&["create", "-t", t, "-m", "0", "-d", &good_dest, "-s", s])
        .expect("create again");
    assert!(
        !out.status.success(),
        "a second task for one table: {}",
        text(&out)
    );
    let status = cluster.synctool_status().expect("status");
    assert_eq!(status.tables.len(), 1, "{status:?}");
    let out = cluster
        .helper(&["delete", "-t", t, "-s", s])
        .expect("delete");
    assert!(out.status.success(), "{}", text(&out));
    let status = cluster.synctool_status().expect("status");
    assert!(status.tables.is_empty(), "{status:?}");
    refused(&cluster, &["delete", "-t", t, "-s", s], "");
    cluster
        .ensure_running()
        .expect("SyncTool survived every request");
}

/// Without ZooKeeper the SyncTool runs alone and says so; `/workers` names
/// it as its own coordinator.
#[test]
fn a_standalone_synctool_lists_itself_as_the_only_worker() {
    let cluster = Cluster::builder()
        .rows_per_partition(10)
        .without_collector()
        .build()
        .expect("cluster");
    let server = cluster.synctool_endpoint();
    let out = cluster
        .helper(&["workers", "-s", &server])
        .expect("workers");
    assert_eq!(
        text(&out),
        format!("standalone (no ZooKeeper): one SyncTool\n{server} coordinator (this)\n")
    );
    let body = http::get_json(&server, "/workers").expect("GET /workers");
    assert_eq!(body["standalone"], true, "{body}");
    assert_eq!(body["coordinator"], server.as_str(), "{body}");
    assert_eq!(body["workers"][0]["role"], "coordinator", "{body}");
}
