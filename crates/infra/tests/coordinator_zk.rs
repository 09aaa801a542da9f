//! The ZooKeeper coordinator against a real ZooKeeper server (started by
//! `scripts/test.sh`, which exports `SYNC_TEST_ZK`): registration, a stale
//! node from an earlier session, re-registration after the session expires
//! behind a cut network (a proxy the test controls),
//! table metadata at OpenMLDB's paths, the SyncTools' membership and
//! coordinator election (hand-over on leave, step-down when cut off), and
//! the partition tasks' ownership records (compare-and-set moves, the epoch
//! check that fences commits).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use sync_core::ownership::{self, PartKey};
use sync_infra::coordinator::zk::{Election, FenceError, Role, ZkConfig, ZkCoordinator};
use sync_infra::coordinator::{ClusterError, Coordinator, SyncTools, paths};
use sync_proto::nameserver::TableInfo;
use zookeeper_client::{Acls, Client, CreateMode};

/// The test ZooKeeper, or `None` (test skipped) when none was started and
/// services are not required.
fn zk_cluster() -> Option<String> {
    match std::env::var("SYNC_TEST_ZK") {
        Ok(cluster) => Some(cluster),
        Err(_) if std::env::var("SYNC_REQUIRE_SERVICES").as_deref() == Ok("1") => {
            panic!("SYNC_REQUIRE_SERVICES=1 but SYNC_TEST_ZK is not set")
        }
        Err(_) => {
            eprintln!("skipped: no ZooKeeper (run scripts/test.sh, or set SYNC_TEST_ZK)");
            None
        }
    }
}

/// A config under a root path of its own, so tests do not see each other.
fn config(cluster: &str, test: &str) -> ZkConfig {
    ZkConfig {
        cluster: cluster.to_string(),
        root_path: format!("/sync-test-{}-{test}", std::process::id()),
        session_timeout: Duration::from_secs(4),
        cert: String::new(),
    }
}

async fn node_owner(cluster: &str, path: &str) -> Option<(String, i64)> {
    let client = Client::connect(cluster).await.expect("connect");
    match client.get_data(path).await {
        Ok((data, stat)) => Some((
            String::from_utf8(data).expect("utf-8"),
            stat.ephemeral_owner,
        )),
        Err(zookeeper_client::Error::NoNode) => None,
        Err(err) => panic!("get {path}: {err}"),
    }
}

async fn wait_for<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn registers_an_ephemeral_node_with_the_endpoint_as_data() {
    let Some(cluster) = zk_cluster() else { return };
    let config = config(&cluster, "register");
    let coord = ZkCoordinator::connect(config.clone())
        .await
        .expect("connect");
    coord
        .register_collector("127.0.0.1:8888")
        .await
        .expect("register");
    coord
        .register_collector("127.0.0.1:8888")
        .await
        .expect("registering twice is fine");

    let path = paths::collector_node(&config.root_path, "127.0.0.1:8888");
    let (data, owner) = node_owner(&cluster, &path).await.expect("node exists");
    assert_eq!(data, "127.0.0.1:8888");
    assert_eq!(
        owner,
        coord.session_id().await,
        "ephemeral, owned by our session"
    );
    assert_eq!(
        coord.live_collectors().await.expect("list"),
        vec!["127.0.0.1:8888"]
    );

    drop(coord);
    wait_for("the node to go with the session", || async {
        node_owner(&cluster, &path).await.is_none()
    })
    .await;
}

#[tokio::test]
async fn replaces_a_stale_node_left_by_an_earlier_session() {
    let Some(cluster) = zk_cluster() else { return };
    let config = config(&cluster, "stale");
    let path = paths::collector_node(&config.root_path, "127.0.0.1:9999");
    // The "previous process": its session is still alive when we start.
    let previous = Client::connect(&cluster).await.expect("connect");
    previous
        .mkdir(
            &paths::collectors_dir(&config.root_path),
            &CreateMode::Persistent.with_acls(Acls::anyone_all()),
        )
        .await
        .expect("mkdir");
    previous
        .create(
            &path,
            b"127.0.0.1:9999",
            &CreateMode::Ephemeral.with_acls(Acls::anyone_all()),
        )
        .await
        .expect("stale node");

    let coord = ZkCoordinator::connect(config).await.expect("connect");
    coord
        .register_collector("127.0.0.1:9999")
        .await
        .expect("a stale node does not stop registration");
    let (_, owner) = node_owner(&cluster, &path).await.expect("node exists");
    assert_eq!(owner, coord.session_id().await);
    drop(previous);
}

#[tokio::test]
async fn re_registers_after_the_session_expires() {
    let Some(cluster) = zk_cluster() else { return };
    // The coordinator reaches ZooKeeper through a proxy the test can cut, so
    // the session expires the way it does in production: the server hears
    // nothing for longer than the session timeout.
    let upstream = cluster.split(',').next().unwrap_or(&cluster).to_string();
    let proxy = CuttableProxy::start(upstream).await;
    let mut config = config(&cluster, "expiry");
    config.cluster = proxy.address.clone();
    let path = paths::collector_node(&config.root_path, "127.0.0.1:7777");
    let coord = ZkCoordinator::connect(config).await.expect("connect");
    coord
        .register_collector("127.0.0.1:7777")
        .await
        .expect("register");
    let first_session = coord.session_id().await;

    proxy.cut(true);
    wait_for("the server to expire the cut-off session", || async {
        node_owner(&cluster, &path).await.is_none()
    })
    .await;
    proxy.cut(false);

    wait_for("a new session to re-register the node", || async {
        matches!(node_owner(&cluster, &path).await, Some((_, owner)) if owner != first_session && owner != 0)
    })
    .await;
    let (data, owner) = node_owner(&cluster, &path).await.expect("node exists");
    assert_eq!(data, "127.0.0.1:7777");
    assert_eq!(owner, coord.session_id().await);
    assert_eq!(
        coord.live_collectors().await.expect("list after renewal"),
        vec!["127.0.0.1:7777"]
    );
}

/// A loopback TCP proxy to one upstream. While cut, it closes every open
/// connection and every new one, like a network partition.
struct CuttableProxy {
    address: String,
    cut: tokio::sync::watch::Sender<bool>,
}

impl CuttableProxy {
    async fn start(upstream: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind proxy");
        let address = listener.local_addr().expect("proxy address").to_string();
        let (cut, cut_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            while let Ok((mut downstream, _)) = listener.accept().await {
                if *cut_rx.borrow() {
                    continue; // dropped: the connection closes at once
                }
                let upstream = upstream.clone();
                let mut cut_rx = cut_rx.clone();
                tokio::spawn(async move {
                    let Ok(mut up) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut downstream, &mut up) => {}
                        _ = cut_rx.wait_for(|cut| *cut) => {}
                    }
                });
            }
        });
        CuttableProxy { address, cut }
    }

    fn cut(&self, cut: bool) {
        self.cut.send_replace(cut);
    }
}

#[tokio::test]
async fn table_metadata_round_trips_at_openmldb_paths() {
    let Some(cluster) = zk_cluster() else { return };
    let config = config(&cluster, "tables");
    let coord = ZkCoordinator::connect(config.clone())
        .await
        .expect("connect");
    for (tid, name) in [(12, "t12"), (4, "t4")] {
        let info = TableInfo {
            tid: Some(tid),
            db: Some("demo".into()),
            name: Some(name.into()),
            ..TableInfo::default()
        };
        coord.put_table_info(&info).await.expect("put");
    }
    let tids: Vec<u32> = coord
        .table_infos()
        .await
        .expect("list")
        .iter()
        .map(|t| t.tid())
        .collect();
    assert_eq!(tids, vec![4, 12]);
    assert_eq!(
        coord
            .find_table("demo", "t12")
            .await
            .expect("find")
            .map(|t| t.tid()),
        Some(12)
    );

    // Bytes that are not a TableInfo give an error naming the node.
    let raw = Client::connect(&cluster).await.expect("connect");
    let bad = paths::table_node(&config.root_path, 99);
    raw.create(
        &bad,
        &[0xff, 0xff],
        &CreateMode::Persistent.with_acls(Acls::anyone_all()),
    )
    .await
    .expect("create");
    let err = coord.table_info(99).await.expect_err("corrupt");
    assert!(err.to_string().contains(&bad), "{err}");

    coord.delete_table_info(12).await.expect("delete");
    assert!(coord.table_info(12).await.expect("read").is_none());
}

async fn role_becomes(election: &Election, want: Role, within: Duration) {
    let mut roles = election.watch();
    if tokio::time::timeout(within, roles.wait_for(|r| *r == want))
        .await
        .is_err()
    {
        panic!(
            "role is {:?}, not {want:?}, after {within:?}",
            election.role()
        );
    }
}

async fn joined(config: &ZkConfig, endpoint: &str) -> (ZkCoordinator, Election) {
    let coord = ZkCoordinator::connect(config.clone())
        .await
        .expect("connect");
    let election = coord.join_election(endpoint).await.expect("join");
    (coord, election)
}

#[tokio::test]
async fn the_first_synctool_leads_and_the_next_takes_over_when_it_leaves() {
    let Some(cluster) = zk_cluster() else { return };
    let config = config(&cluster, "election");
    let long = Duration::from_secs(10);
    let (a_coord, a) = joined(&config, "127.0.0.1:1001").await;
    role_becomes(&a, Role::Coordinator, long).await;
    let (b_coord, b) = joined(&config, "127.0.0.1:1002").await;
    role_becomes(&b, Role::Worker, long).await;
    let (c_coord, c) = joined(&config, "127.0.0.1:1003").await;
    role_becomes(&c, Role::Worker, long).await;
    let seen = c_coord.members().await.expect("list");
    assert_eq!(
        seen,
        SyncTools {
            workers: vec![
                "127.0.0.1:1001".into(),
                "127.0.0.1:1002".into(),
                "127.0.0.1:1003".into()
            ],
            coordinator: Some("127.0.0.1:1001".into()),
        }
    );
    // Each candidate watches only the one before it: when the middle one
    // leaves, the coordinator stays and the last one still waits.
    b.leave().await;
    drop(b_coord);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(a.role(), Role::Coordinator);
    assert_eq!(c.role(), Role::Worker);
    // The coordinator leaves cleanly: the next in line is elected at once,
    // while the leaver's session still lives (leaving deletes its nodes).
    a.leave().await;
    role_becomes(&c, Role::Coordinator, Duration::from_secs(3)).await;
    drop(a_coord);
    wait_for("the leavers' worker nodes to go", || async {
        c_coord.members().await.expect("list").workers == vec!["127.0.0.1:1003".to_string()]
    })
    .await;
    assert_eq!(
        c_coord
            .members()
            .await
            .expect("list")
            .coordinator
            .as_deref(),
        Some("127.0.0.1:1003")
    );
}

#[tokio::test]
async fn a_cut_off_coordinator_steps_down_and_stands_again_after_its_session_expires() {
    let Some(cluster) = zk_cluster() else { return };
    let upstream = cluster.split(',').next().unwrap_or(&cluster).to_string();
    let proxy = CuttableProxy::start(upstream).await;
    let direct = config(&cluster, "election-cut");
    let mut through_proxy = direct.clone();
    through_proxy.cluster = proxy.address.clone();
    let long = Duration::from_secs(10);
    let (a_coord, a) = joined(&through_proxy, "127.0.0.1:2001").await;
    role_becomes(&a, Role::Coordinator, long).await;
    let (b_coord, b) = joined(&direct, "127.0.0.1:2002").await;
    role_becomes(&b, Role::Worker, long).await;
    let first_session = a_coord.session_id().await;

    proxy.cut(true);
    // It steps down as soon as it is disconnected, before ZooKeeper expires
    // its session and elects the other one: never two coordinators.
    role_becomes(&a, Role::Joining, Duration::from_secs(2)).await;
    role_becomes(&b, Role::Coordinator, Duration::from_secs(20)).await;
    assert_ne!(a.role(), Role::Coordinator);
    proxy.cut(false);

    // A new session stands again, at the end of the line.
    role_becomes(&a, Role::Worker, Duration::from_secs(20)).await;
    assert_ne!(a_coord.session_id().await, first_session);
    assert_eq!(b.role(), Role::Coordinator);
    wait_for("both worker nodes", || async {
        b_coord.members().await.expect("list").workers.len() == 2
    })
    .await;
    assert_eq!(
        a_coord
            .members()
            .await
            .expect("list")
            .coordinator
            .as_deref(),
        Some("127.0.0.1:2002")
    );
}

/// The coordinator's moves are compare-and-sets on the ownership records:
/// a second coordinator acting on the same (now stale) view fails, and the
/// epoch check refuses the previous owner's epoch once a part moved.
#[tokio::test]
async fn ownership_moves_are_compare_and_set_and_fence_the_old_epoch() {
    let Some(cluster) = zk_cluster() else { return };
    let config = config(&cluster, "owners");
    let one = ZkCoordinator::connect(config.clone())
        .await
        .expect("connect");
    let two = ZkCoordinator::connect(config).await.expect("connect");
    let parts: BTreeSet<PartKey> = [(5, 0), (5, 1), (5, 2)].into();
    let live: BTreeSet<String> = ["10.0.0.1:1".to_string(), "10.0.0.2:1".to_string()].into();

    // First placement: no records yet, so every move creates one.
    let moves = ownership::plan(&parts, &BTreeMap::new(), &live, 0);
    for m in &moves {
        one.move_part(m, None).await.expect("create record");
    }
    // A second coordinator with the same empty view loses every create.
    for m in &moves {
        let err = two.move_part(m, None).await.expect_err("stale view");
        assert!(matches!(err, ClusterError::Stale { .. }), "{err}");
    }
    let records = two.part_owners().await.expect("read");
    assert_eq!(records.len(), 3);
    assert!(records.values().all(|r| r.owner.epoch == 1));

    // The first worker leaves: its parts move with epoch 2.
    let gone = &moves[0].to;
    let live: BTreeSet<String> = live.iter().filter(|w| *w != gone).cloned().collect();
    let owners = records.iter().map(|(p, r)| (*p, r.owner.clone())).collect();
    let moved = ownership::plan(&parts, &owners, &live, 0);
    assert!(!moved.is_empty());
    for m in &moved {
        one.move_part(m, Some(records[&m.part].version))
            .await
            .expect("move");
        // The same move from the old version again is stale.
        let err = two
            .move_part(m, Some(records[&m.part].version))
            .await
            .expect_err("stale version");
        assert!(matches!(err, ClusterError::Stale { .. }), "{err}");
    }
    let m = &moved[0];
    // The old owner's epoch is refused; the new owner's accepted.
    let err = two
        .check_epoch(m.part, gone, 1)
        .await
        .expect_err("stale epoch");
    assert!(
        matches!(
            err,
            FenceError::Stale {
                mine: 1,
                current: 2,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(err.class(), sync_core::task::ErrorClass::Permanent);
    two.check_epoch(m.part, &m.to, 2)
        .await
        .expect("the new owner commits");
    // A deleted task's record is gone, and so is every commit's right.
    one.remove_part(m.part).await.expect("remove");
    let err = two
        .check_epoch(m.part, &m.to, 2)
        .await
        .expect_err("no record");
    assert!(matches!(err, FenceError::NoRecord { .. }), "{err}");
}

/// Claims (a SyncTool taking the parts it runs): each one bumps the epoch,
/// two racing claims both get their own epoch (the compare-and-set retries),
/// and only the newest claim may commit.
#[tokio::test]
async fn each_claim_takes_the_next_epoch_and_fences_every_earlier_one() {
    let Some(cluster) = zk_cluster() else { return };
    let config = config(&cluster, "claims");
    let a = ZkCoordinator::connect(config.clone())
        .await
        .expect("connect");
    let b = ZkCoordinator::connect(config).await.expect("connect");
    let part = (9, 3);
    assert_eq!(
        a.claim_part(part, "a:1").await.expect("claim"),
        1,
        "no record: epoch 1"
    );
    a.check_epoch(part, "a:1", 1)
        .await
        .expect("the claimer commits");
    assert_eq!(b.claim_part(part, "b:1").await.expect("claim"), 2);
    let err = a.check_epoch(part, "a:1", 1).await.expect_err("stale");
    assert!(
        matches!(err, FenceError::Stale { mine: 1, current: 2, ref owner, .. } if owner == "b:1"),
        "{err}"
    );
    // Racing claims: every one succeeds with its own epoch, none is lost.
    let (x, y) = tokio::join!(a.claim_part(part, "a:1"), b.claim_part(part, "b:1"));
    let mut epochs = [x.expect("claim"), y.expect("claim")];
    epochs.sort_unstable();
    assert_eq!(epochs, [3, 4]);
    let newest = b.part_owner(part).await.expect("read").expect("record");
    assert_eq!(newest.owner.epoch, 4);
    let loser = if newest.owner.worker == "a:1" {
        "b:1"
    } else {
        "a:1"
    };
    let loser_epoch = 3;
    assert!(a.check_epoch(part, loser, loser_epoch).await.is_err());
    b.check_epoch(part, &newest.owner.worker, 4)
        .await
        .expect("the newest claim commits");
}
