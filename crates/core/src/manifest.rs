//! The snapshot MANIFEST of an OpenMLDB disk table (`<partition>/snapshot/MANIFEST`).
//!
//! The tablet writes an `openmldb.api.Manifest` in protobuf **text format**, one
//! field per line in field-number order, strings quoted with C-style escapes:
//!
//! ```text
//! offset: 1024
//! name: "202611251300"
//! count: 1000
//! term: 3
//! ```
//!
//! `offset` is the binlog offset (log index) the snapshot was taken at, `name`
//! the checkpoint directory next to the MANIFEST, `count` an estimate of the
//! number of keys and `term` the leader term. [`parse_manifest`] accepts what
//! protobuf's text parser accepts for this message (any field order, spaces,
//! `#` comments, optional `:` before values, decimal/hex/octal integers, single
//! or double quotes, adjacent string literals); [`format_manifest`] writes the
//! exact bytes the tablet writes.

use crate::proto::api::Manifest;

/// Why a MANIFEST could not be read. Lines are 1-based.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("MANIFEST line {line}: unknown field `{field}` (expected offset, name, count or term)")]
    UnknownField { line: usize, field: String },
    #[error("MANIFEST line {line}: field `{field}` appears twice")]
    DuplicateField { line: usize, field: &'static str },
    #[error("MANIFEST line {line}: `{field}` needs an unsigned integer, found `{found}`")]
    BadInteger {
        line: usize,
        field: &'static str,
        found: String,
    },
    #[error("MANIFEST line {line}: `name` needs a quoted string: {reason}")]
    BadString { line: usize, reason: &'static str },
    #[error("MANIFEST line {line}: `name` is not valid UTF-8")]
    NotUtf8 { line: usize },
    #[error("MANIFEST line {line}: expected `field: value`, found `{found}`")]
    Syntax { line: usize, found: String },
}

/// Parses a MANIFEST written in protobuf text format.
pub fn parse_manifest(text: &str) -> Result<Manifest, ManifestError> {
    let mut manifest = Manifest::default();
    for (index, raw_line) in text.lines().enumerate() {
        let line = index + 1;
        let content = strip_comment(raw_line).trim();
        if content.is_empty() {
            continue;
        }
        let (field, value) = split_field(content).ok_or_else(|| ManifestError::Syntax {
            line,
            found: content.to_string(),
        })?;
        match field {
            "offset" => set_once(
                &mut manifest.offset,
                "offset",
                line,
                parse_u64(value, "offset", line)?,
            )?,
            "count" => set_once(
                &mut manifest.count,
                "count",
                line,
                parse_u64(value, "count", line)?,
            )?,
            "term" => set_once(
                &mut manifest.term,
                "term",
                line,
                parse_u64(value, "term", line)?,
            )?,
            "name" => set_once(&mut manifest.name, "name", line, parse_string(value, line)?)?,
            other => {
                return Err(ManifestError::UnknownField {
                    line,
                    field: other.to_string(),
                });
            }
        }
    }
    Ok(manifest)
}

/// Writes a MANIFEST exactly as protobuf's text printer does: present fields
/// only, in field-number order, one per line.
pub fn format_manifest(manifest: &Manifest) -> String {
    let mut out = String::new();
    if let Some(offset) = manifest.offset {
        out.push_str(&format!("offset: {offset}\n"));
    }
    if let Some(name) = &manifest.name {
        out.push_str("name: \"");
        escape_into(name.as_bytes(), &mut out);
        out.push_str("\"\n");
    }
    if let Some(count) = manifest.count {
        out.push_str(&format!("count: {count}\n"));
    }
    if let Some(term) = manifest.term {
        out.push_str(&format!("term: {term}\n"));
    }
    out
}

fn set_once<T>(
    slot: &mut Option<T>,
    field: &'static str,
    line: usize,
    value: T,
) -> Result<(), ManifestError> {
    if slot.is_some() {
        return Err(ManifestError::DuplicateField { line, field });
    }
    *slot = Some(value);
    Ok(())
}

/// Drops a `#` comment that is not inside a string literal.
fn strip_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '#' => return &line[..i],
            None => {}
        }
    }
    line
}

/// Splits `field: value` (the colon is optional for scalars in text format).
fn split_field(content: &str) -> Option<(&str, &str)> {
    let end = content
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(content.len());
    if end == 0 {
        return None;
    }
    let (field, rest) = content.split_at(end);
    let rest = rest.trim_start();
    let value = rest.strip_prefix(':').unwrap_or(rest).trim();
    if value.is_empty() {
        return None;
    }
    Some((field, value))
}

fn parse_u64(value: &str, field: &'static str, line: usize) -> Result<u64, ManifestError> {
    let bad = || ManifestError::BadInteger {
        line,
        field,
        found: value.to_string(),
    };
    let parsed = if let Some(hex) = value
        .strip_prefix("0x")
        .or_else(|| value.strip_prefix("0X"))
    {
        u64::from_str_radix(hex, 16)
    } else if value.len() > 1 && value.starts_with('0') {
        u64::from_str_radix(&value[1..], 8)
    } else {
        value.parse::<u64>()
    };
    parsed.map_err(|_| bad())
}

/// Parses one or more adjacent quoted literals (`"ab" 'cd'` = `abcd`).
fn parse_string(value: &str, line: usize) -> Result<String, ManifestError> {
    let bad = |reason| ManifestError::BadString { line, reason };
    let mut bytes = Vec::new();
    let mut rest = value;
    while !rest.is_empty() {
        let quote = match rest.chars().next() {
            Some(q @ ('"' | '\'')) => q,
            _ => return Err(bad("expected an opening quote")),
        };
        let mut chars = rest[1..].char_indices();
        let mut closed_at = None;
        while let Some((i, c)) = chars.next() {
            if c == quote {
                closed_at = Some(i + 2);
                break;
            }
            if c != '\\' {
                let mut buf = [0u8; 4];
                bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                continue;
            }
            let Some((_, esc)) = chars.next() else {
                return Err(bad("unterminated escape"));
            };
            match esc {
                'n' => bytes.push(b'\n'),
                'r' => bytes.push(b'\r'),
                't' => bytes.push(b'\t'),
                'a' => bytes.push(0x07),
                'b' => bytes.push(0x08),
                'f' => bytes.push(0x0c),
                'v' => bytes.push(0x0b),
                '\\' | '\'' | '"' | '?' => bytes.push(esc as u8),
                'x' | 'X' => {
                    let digits: String = chars
                        .clone()
                        .map(|(_, c)| c)
                        .take_while(char::is_ascii_hexdigit)
                        .take(2)
                        .collect();
                    if digits.is_empty() {
                        return Err(bad("\\x without hex digits"));
                    }
                    for _ in 0..digits.len() {
                        chars.next();
                    }
                    bytes.push(u8::from_str_radix(&digits, 16).map_err(|_| bad("bad \\x escape"))?);
                }
                '0'..='7' => {
                    let mut digits = String::from(esc);
                    digits.extend(
                        chars
                            .clone()
                            .map(|(_, c)| c)
                            .take_while(|c| ('0'..='7').contains(c))
                            .take(2),
                    );
                    for _ in 1..digits.len() {
                        chars.next();
                    }
                    let code =
                        u32::from_str_radix(&digits, 8).map_err(|_| bad("bad octal escape"))?;
                    bytes.push(u8::try_from(code).map_err(|_| bad("octal escape above \\377"))?);
                }
                _ => return Err(bad("unknown escape")),
            }
        }
        let end = closed_at.ok_or_else(|| bad("missing closing quote"))?;
        rest = rest[end..].trim_start();
    }
    String::from_utf8(bytes).map_err(|_| ManifestError::NotUtf8 { line })
}

/// C-style escaping as protobuf's text printer does it (`CEscape`).
fn escape_into(bytes: &[u8], out: &mut String) {
    for &b in bytes {
        match b {
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            b'"' => out.push_str("\\\""),
            b'\'' => out.push_str("\\'"),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\{b:03o}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(offset: u64, name: &str, count: u64, term: u64) -> Manifest {
        Manifest {
            offset: Some(offset),
            name: Some(name.to_string()),
            count: Some(count),
            term: Some(term),
        }
    }

    #[test]
    fn formats_like_the_tablet() {
        let text = format_manifest(&manifest(1024, "202611251300", 1000, 3));
        assert_eq!(
            text,
            "offset: 1024\nname: \"202611251300\"\ncount: 1000\nterm: 3\n"
        );
    }

    #[test]
    fn absent_fields_are_not_written() {
        let only_offset = Manifest {
            offset: Some(7),
            ..Manifest::default()
        };
        assert_eq!(format_manifest(&only_offset), "offset: 7\n");
        assert_eq!(format_manifest(&Manifest::default()), "");
    }

    #[test]
    fn parses_any_order_comments_and_number_forms() {
        let text = "# written by hand\n  term:3\nname :'snap' \"_1\"  # trailing\n\ncount: 0x10\noffset 017\n";
        assert_eq!(parse_manifest(text), Ok(manifest(15, "snap_1", 16, 3)));
    }

    #[test]
    fn escapes_round_trip() {
        let odd = "a\"b'c\\d\ne\tf\u{7f}é";
        let original = manifest(1, odd, 2, 3);
        let text = format_manifest(&original);
        assert_eq!(parse_manifest(&text), Ok(original));
        assert!(
            text.contains("\\303\\251"),
            "non-ASCII bytes are octal-escaped: {text}"
        );
    }

    #[test]
    fn reports_errors_with_line_numbers() {
        assert_eq!(
            parse_manifest("offset: 1\nsize: 2\n"),
            Err(ManifestError::UnknownField {
                line: 2,
                field: "size".into()
            })
        );
        assert_eq!(
            parse_manifest("offset: -1\n"),
            Err(ManifestError::BadInteger {
                line: 1,
                field: "offset",
                found: "-1".into()
            })
        );
        assert_eq!(
            parse_manifest("offset: 1\noffset: 2\n"),
            Err(ManifestError::DuplicateField {
                line: 2,
                field: "offset"
            })
        );
        assert!(matches!(
            parse_manifest("name: \"abc\n"),
            Err(ManifestError::BadString { line: 1, .. })
        ));
        assert!(matches!(
            parse_manifest("name: abc\n"),
            Err(ManifestError::BadString { line: 1, .. })
        ));
        assert!(matches!(
            parse_manifest("name: \"\\400\"\n"),
            Err(ManifestError::BadString { .. })
        ));
        assert!(matches!(
            parse_manifest(": 5\n"),
            Err(ManifestError::Syntax { line: 1, .. })
        ));
        assert!(matches!(
            parse_manifest("name: \"\\377\"\n"),
            Err(ManifestError::NotUtf8 { line: 1 })
        ));
    }

    #[test]
    fn empty_manifest_has_no_fields() {
        assert_eq!(parse_manifest(""), Ok(Manifest::default()));
        assert_eq!(
            parse_manifest("\n# only a comment\n"),
            Ok(Manifest::default())
        );
    }
}
