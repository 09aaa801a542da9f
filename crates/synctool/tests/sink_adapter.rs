//! The daemon over the real `sync-sinks` store (local filesystem, CSV):
//! create → packs of encoded rows → visible CSV files; a restart resumes from
//! the committed progress the sink itself reports, without duplicates.

mod common;

use std::sync::Arc;

use common::*;
use sync_core::point::Point;
use sync_core::row::{SchemaVersions, Value};
use sync_infra::coordinator::standalone::StandaloneCoordinator;
use sync_proto::common::{ColumnDesc, StorageMode};
use sync_proto::datasync::SendDataRequest;
use sync_proto::types::DataType;
use sync_sinks::{CsvOptions, OutputFormat, Sink, SinkConfig, StoreSink};
use synctool::daemon::sink_store::SinkStore;
use synctool::daemon::{Daemon, DaemonOptions};

fn columns_table() -> sync_proto::nameserver::TableInfo {
    let mut info = table_info(7, "db1", "t1", 1, StorageMode::KHdd);
    for (name, ty) in [("id", DataType::KBigInt), ("name", DataType::KString)] {
        let mut c = ColumnDesc {
            name: name.into(),
            ..Default::default()
        };
        c.set_data_type(ty);
        info.column_desc.push(c);
    }
    info
}

fn row_pack(token: &str, i: u64) -> SendDataRequest {
    let schema = SchemaVersions::from_table_info(&columns_table()).unwrap();
    let row = schema
        .encode(
            1,
            &[
                Value::BigInt(i as i64),
                Value::String(format!("n{i}").into_bytes()),
            ],
        )
        .unwrap();
    let mut p = pack(7, 0, token, i);
    p.rows = Some(row);
    p
}

async fn start(env: &Env, options: DaemonOptions, sink: &Arc<StoreSink>) -> Daemon {
    let mut parts = env.parts();
    parts.store = Arc::new(SinkStore::new(sink.clone(), parts.cluster.clone()));
    Daemon::start(options, parts).await.unwrap()
}

async fn visible_csv(sink: &StoreSink, dest: &str) -> String {
    let mut text = String::new();
    for f in sink.visible_files(dest).await.unwrap() {
        let bytes = sink.read_file(dest, &f).await.unwrap().unwrap();
        text.push_str(&String::from_utf8(bytes).unwrap());
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_reach_csv_files_exactly_once_across_a_restart() {
    let env = Env::new();
    StandaloneCoordinator::put_table_info(&env.metadata_dir(), &columns_table()).unwrap();
    let out = env.dir.path().join("out");
    let dest = format!("file://{}", out.display());
    let mut options = env.options();
    options.allowed_dest_roots = vec![format!("file://{}", env.dir.path().display())];
    let sink = Arc::new(StoreSink::new(SinkConfig {
        format: OutputFormat::Csv(CsvOptions {
            header: false,
            ..CsvOptions::default()
        }),
        ..SinkConfig::default()
    }));

    let daemon = start(&env, options.clone(), &sink).await;
    let h = daemon.handle();
    let r = h.create(create_request("db1", "t1", 2, &dest)).await;
    assert_eq!(r.code, Some(0), "{:?}", r.msg);
    let token = env.collectors.wait_for(1).await.token.unwrap();
    for i in 0..5 {
        let r = h.send_data(row_pack(&token, i)).await;
        assert_eq!(r.response.code, Some(0), "{:?}", r.response.msg);
    }
    wait_committed(&h, 7, 0, 3).await;
    assert_eq!(visible_csv(&sink, &dest).await, "0,n0\n1,n1\n2,n2\n");
    daemon.shutdown().await;

    let daemon = start(&env, options, &sink).await;
    let h = daemon.handle();
    let assign = env.collectors.wait_for(2).await;
    assert_eq!(
        Point::from_proto(assign.sync_point.as_ref().unwrap()).unwrap(),
        Point::Binlog { offset: 3 }
    );
    let token = assign.token.unwrap();
    for i in 3..6 {
        let r = h.send_data(row_pack(&token, i)).await;
        assert_eq!(r.response.code, Some(0), "{:?}", r.response.msg);
    }
    wait_committed(&h, 7, 0, 6).await;
    assert_eq!(
        visible_csv(&sink, &dest).await,
        "0,n0\n1,n1\n2,n2\n3,n3\n4,n4\n5,n5\n"
    );
}
