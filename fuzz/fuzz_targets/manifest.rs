//! Fuzzes the snapshot MANIFEST parser (`sync_core::manifest::parse_manifest`)
//! with arbitrary text. Asserts: a manifest or a typed error, never a panic;
//! a parsed manifest written back with `format_manifest` parses to the same
//! manifest.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sync_core::manifest::{format_manifest, parse_manifest};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(manifest) = parse_manifest(text) {
        let written = format_manifest(&manifest);
        let again = parse_manifest(&written)
            .unwrap_or_else(|e| panic!("written MANIFEST {written:?} does not parse: {e}"));
        assert_eq!(again, manifest, "MANIFEST round trip through {written:?}");
    }
});
