//! The HTTP tablet client against the emulator's tablet API.

use std::time::Duration;

use data_collector::tablet_client::{
    HttpTabletClient, TabletApi, TabletError, validate_disk_table,
};
use sync_proto::common::StorageMode;
use tablet_emu::{EmulatedTable, Storage, TableEmulator, TabletServer};

#[tokio::test]
async fn status_schema_and_validation() {
    let dir = tempfile::tempdir().unwrap();
    let mut emu = TableEmulator::create(dir.path(), EmulatedTable::demo(21, 2)).unwrap();
    emu.append_all(30).unwrap();
    emu.snapshot_all(Some("202401010000".into())).unwrap();
    let mut mem = EmulatedTable::demo(22, 1);
    mem.storage = Storage::Memory;
    TableEmulator::create(dir.path(), mem).unwrap();
    let mut rel = EmulatedTable::demo(23, 1);
    rel.report_relative_paths = true;
    TableEmulator::create(dir.path(), rel).unwrap();

    let server = TabletServer::start(dir.path(), "127.0.0.1:0")
        .await
        .unwrap();
    let ep = server.endpoint();
    let client = HttpTabletClient::new(Duration::from_secs(5));

    let status = client.get_table_status(&ep, 21, 1).await.unwrap();
    assert_eq!(
        (status.tid, status.pid, status.offset),
        (Some(21), Some(1), Some(30))
    );
    assert_eq!(status.storage_mode, Some(StorageMode::KHdd as i32));
    let paths = validate_disk_table(&status).unwrap();
    let real = std::fs::canonicalize(dir.path().join("21_1/snapshot")).unwrap();
    assert_eq!(paths.snapshot_path, format!("{}/", real.display()));
    assert!(paths.binlog_path.ends_with("/21_1/binlog/"));
    assert!(
        std::path::Path::new(&paths.snapshot_path)
            .join("MANIFEST")
            .is_file()
    );

    let meta = client.get_table_schema(&ep, 21, 0).await.unwrap();
    assert_eq!(meta, emu.table().table_meta(0).unwrap());

    let missing = client.get_table_status(&ep, 21, 9).await.unwrap_err();
    assert!(
        matches!(
            missing,
            TabletError::NotFound {
                tid: 21,
                pid: 9,
                ..
            }
        ),
        "{missing}"
    );
    let missing = client.get_table_schema(&ep, 99, 0).await.unwrap_err();
    assert!(
        matches!(missing, TabletError::Code { code: 100, .. }),
        "{missing}"
    );
    assert!(missing.to_string().contains("table does not exist"));

    let mem = client.get_table_status(&ep, 22, 0).await.unwrap();
    let err = validate_disk_table(&mem).unwrap_err().to_string();
    assert!(
        err.starts_with("table status is not valid") && err.contains("kMemory"),
        "{err}"
    );
    let rel = client.get_table_status(&ep, 23, 0).await.unwrap();
    let err = validate_disk_table(&rel).unwrap_err().to_string();
    assert!(
        err.starts_with("table status is not valid") && err.contains("not absolute"),
        "{err}"
    );

    drop(server);
    let err = client.get_table_status(&ep, 21, 0).await.unwrap_err();
    assert!(matches!(err, TabletError::Transport { .. }), "{err}");
}

#[tokio::test]
async fn a_silent_tablet_times_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ep = listener.local_addr().unwrap().to_string();
    let _hold = tokio::spawn(async move {
        let mut conns = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            conns.push(s);
        }
    });
    let client = HttpTabletClient::new(Duration::from_millis(200));
    let err = client.get_table_status(&ep, 1, 0).await.unwrap_err();
    assert!(matches!(err, TabletError::Timeout { .. }), "{err}");
}
