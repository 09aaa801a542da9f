//! The shipped `conf/synctool.properties` loads, its values and the
//! commented defaults are the code's defaults, and it sets the keys
//! OpenMLDB's own scripts read from it (`data.cache_path`).

use std::path::Path;
use std::time::Duration;

use synctool::config::{OutputFormat, SyncToolConfig};

#[test]
fn the_template_loads_with_the_documented_values() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conf/synctool.properties");
    let text = std::fs::read_to_string(&path).unwrap();
    let c = SyncToolConfig::parse(&text, &path, None).unwrap();

    // OpenMLDB's tools/synctool_helper.py tool-status reads `data.cache_path`
    // from this file (KeyError without it): the key must be set, not commented.
    let entries = synctool::properties::parse_properties(&text).unwrap();
    assert!(
        entries.iter().any(|e| e.key == "data.cache_path"),
        "conf/synctool.properties must set data.cache_path"
    );
    assert_eq!(c.listen_address(), "0.0.0.0:8848");
    assert_eq!(c.advertised_endpoint, "127.0.0.1:8848");
    assert_eq!(c.zk_cluster, "127.0.0.1:2181");
    assert_eq!(c.zk_root_path, "/openmldb");
    assert_eq!(c.progress_path, Path::new("/tmp/sync_task_progress"));
    assert_eq!(c.check_period, Duration::from_secs(10));
    assert_eq!(c.task_timeout, Duration::from_millis(20_000));
    assert_eq!(c.request_timeout, Duration::from_secs(5));
    assert_eq!(c.worker_threads, 16);
    assert!(c.allowed_dest_roots.is_empty());
    assert_eq!(c.format, OutputFormat::Parquet);
    assert!(c.csv_header);
    assert_eq!(
        (c.roll_max_rows, c.roll_max_bytes, c.roll_max_age),
        (1_000_000, 134_217_728, Duration::from_millis(60_000))
    );
    assert_eq!(c.s3_region, "us-east-1");
    assert_eq!(
        c.task_defaults(),
        sync_core::task::TaskOptions::default(),
        "the template's task options are the code's defaults"
    );

    // Every commented `#key=value` is a valid line with the default value.
    let uncommented: String = text
        .lines()
        .map(|l| match l.strip_prefix('#') {
            Some(rest) if rest.contains('=') && !rest.starts_with(' ') => rest,
            _ => l,
        })
        .filter(|l| {
            !l.starts_with("standalone.") && !l.starts_with("s3.") || l.starts_with("s3.region")
        })
        .collect::<Vec<_>>()
        .join("\n");
    let d = SyncToolConfig::parse(&uncommented, &path, None).unwrap();
    assert_eq!(d, c);
}
