//! Fuzzes the DataCollector's flag parsing (`data_collector::flags`): the
//! input's lines as command-line arguments (`CollectorConfig::from_args`) and
//! the input as a flag file's text (`CollectorConfig::from_flagfile_text`).
//! Inputs naming `flagfile` are skipped, so that the fuzzer reads no file.
//! Asserts: a configuration or a typed error, never a panic; the flag file
//! and the same lines given as arguments (trimmed, without blank and comment
//! lines) give the same configuration, or both fail.
#![no_main]

use std::path::Path;

use data_collector::flags::CollectorConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if text.contains("flagfile") {
        return;
    }
    let _ = CollectorConfig::from_args(text.split('\n').map(str::to_string));
    let from_file = CollectorConfig::from_flagfile_text(text, Path::new("fuzz.flags"));
    let args = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string);
    let from_args = CollectorConfig::from_args(args);
    match (&from_file, &from_args) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "flag file and arguments disagree"),
        (Err(_), Err(_)) => {}
        _ => panic!("flag file {from_file:?} vs arguments {from_args:?}"),
    }
});
