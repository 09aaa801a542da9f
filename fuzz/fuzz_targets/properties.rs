//! Fuzzes SyncTool's `synctool.properties` reading: the Java-properties
//! parser (`synctool::properties::parse_properties`) and the whole
//! configuration (`SyncToolConfig::parse`) on arbitrary text. Asserts:
//! entries / a configuration or a typed error, never a panic; entries name
//! lines that exist; both agree on whether the syntax is valid.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use synctool::config::{ConfigError, SyncToolConfig};
use synctool::properties::parse_properties;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = parse_properties(text);
    if let Ok(entries) = &parsed {
        let lines = text.lines().count();
        for entry in entries {
            assert!(
                entry.line >= 1 && entry.line <= lines,
                "{entry:?} of {lines} lines"
            );
        }
    }
    let config = SyncToolConfig::parse(text, Path::new("fuzz.properties"), None);
    if parsed.is_err() {
        assert!(
            matches!(config, Err(ConfigError::Syntax { .. })),
            "syntax error not reported by SyncToolConfig::parse"
        );
    }
});
