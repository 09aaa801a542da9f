//! Property tests for the MANIFEST text format: what the tablet writes is read
//! back unchanged, and no input makes the parser panic.

use proptest::prelude::*;
use sync_core::manifest::{format_manifest, parse_manifest};
use sync_core::proto::api::Manifest;

fn any_manifest() -> impl Strategy<Value = Manifest> {
    (
        proptest::option::of(any::<u64>()),
        proptest::option::of(any::<String>()),
        proptest::option::of(any::<u64>()),
        proptest::option::of(any::<u64>()),
    )
        .prop_map(|(offset, name, count, term)| Manifest {
            offset,
            name,
            count,
            term,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn format_then_parse_is_identity(manifest in any_manifest()) {
        prop_assert_eq!(parse_manifest(&format_manifest(&manifest)), Ok(manifest));
    }

    #[test]
    fn arbitrary_text_never_panics(text in "(?s).{0,200}") {
        let _ = parse_manifest(&text);
    }

    #[test]
    fn mangled_manifests_never_panic(manifest in any_manifest(), cut in 0usize..200, junk in "[ -~]{0,5}") {
        let text = format_manifest(&manifest);
        let mut cut_at = cut.min(text.len());
        while !text.is_char_boundary(cut_at) {
            cut_at -= 1;
        }
        let _ = parse_manifest(&format!("{}{}{}", &text[..cut_at], junk, &text[cut_at..]));
    }
}
