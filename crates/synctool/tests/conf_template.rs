//! The shipped `conf/synctool.properties` loads, its values and the
//! commented defaults are the code's defaults, and it sets the keys
//! OpenMLDB's own scripts read from it (`data.cache_path`), it shows every key of
//! the declarative table with its default, and `synctool --help` lists them.

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

/// `key=value` or `#key=value` lines of the template: (key, value, commented).
fn key_lines(text: &str) -> Vec<(String, String, bool)> {
    text.lines()
        .filter_map(|line| {
            let (commented, rest) = match line.strip_prefix('#') {
                Some(rest) => (true, rest),
                None => (false, line),
            };
            let (key, value) = rest.split_once('=')?;
            let is_key = !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.');
            is_key.then(|| (key.to_string(), value.to_string(), commented))
        })
        .collect()
}

#[test]
fn the_template_shows_every_key_of_the_table_with_its_default() {
    use synctool::config::keys::{self, DefaultValue, Kind};
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conf/synctool.properties");
    let text = std::fs::read_to_string(&path).unwrap();
    let lines = key_lines(&text);
    for (key, _, _) in &lines {
        assert!(
            keys::find(key).is_some(),
            "the template's `{key}` is no key"
        );
    }
    for k in keys::KEYS {
        let line = lines.iter().find(|(key, _, _)| key == k.name);
        if k.kind == Kind::Ignored && k.name != "data.cache_path" {
            continue; // named in a comment
        }
        let Some((_, value, commented)) = line else {
            panic!("conf/synctool.properties does not show `{}`", k.name);
        };
        if let (true, DefaultValue::Value(default)) = (*commented, k.default) {
            assert_eq!(value, default, "the commented default of `{}`", k.name);
        }
    }
}

#[test]
fn help_lists_every_key() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_synctool"))
        .arg("--help")
        .output()
        .expect("run synctool --help");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for k in synctool::config::keys::KEYS {
        assert!(help.contains(k.name), "`{}` in\n{help}", k.name);
    }
    assert!(help.contains("default: 60000"), "{help}");
}
