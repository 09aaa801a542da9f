//! Java `.properties` syntax, as `java.util.Properties.load` reads it: `key=value`,
//! `key: value` or `key value`; `#` and `!` comment lines; a trailing odd
//! backslash continues the line (leading white space of the next line is
//! dropped); escapes `\t \n \r \f \uXXXX` and `\x` for any other `x`. Each
//! entry remembers its line so that configuration errors can name it.

/// One `key = value` entry and the (first) line it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    pub key: String,
    pub value: String,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PropertiesError {
    #[error("line {line}: malformed \\uXXXX escape")]
    BadUnicodeEscape { line: usize },
}

/// Parses properties text; later entries for a key come after earlier ones
/// (the caller decides that the last one wins, as Java does).
pub fn parse_properties(text: &str) -> Result<Vec<Property>, PropertiesError> {
    let mut entries = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((index, raw)) = lines.next() {
        let first_line = index + 1;
        let trimmed = raw.trim_start_matches([' ', '\t', '\u{c}']);
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('!') {
            continue;
        }
        let mut logical = String::new();
        let mut current = trimmed.to_string();
        loop {
            if ends_with_continuation(&current) {
                current.pop();
                logical.push_str(&current);
                match lines.next() {
                    Some((_, next)) => {
                        current = next.trim_start_matches([' ', '\t', '\u{c}']).to_string()
                    }
                    None => break,
                }
            } else {
                logical.push_str(&current);
                break;
            }
        }
        let (key, value) = split_key_value(&logical);
        entries.push(Property {
            key: unescape(key, first_line)?,
            value: unescape(value, first_line)?,
            line: first_line,
        });
    }
    Ok(entries)
}

/// An odd number of trailing backslashes continues the line.
fn ends_with_continuation(line: &str) -> bool {
    line.chars().rev().take_while(|&c| c == '\\').count() % 2 == 1
}

/// Splits at the first unescaped `=`, `:` or white space (white space around
/// the separator is dropped).
fn split_key_value(line: &str) -> (&str, &str) {
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '=' | ':' => {
                return (
                    &line[..i],
                    line[i + 1..].trim_start_matches([' ', '\t', '\u{c}']),
                );
            }
            ' ' | '\t' | '\u{c}' => {
                let rest = line[i..].trim_start_matches([' ', '\t', '\u{c}']);
                let rest = rest
                    .strip_prefix(['=', ':'])
                    .map_or(rest, |r| r.trim_start_matches([' ', '\t', '\u{c}']));
                return (&line[..i], rest);
            }
            _ => {}
        }
    }
    (line, "")
}

fn unescape(text: &str, line: usize) -> Result<String, PropertiesError> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let code = (hex.len() == 4)
                    .then(|| u32::from_str_radix(&hex, 16).ok())
                    .flatten()
                    .and_then(char::from_u32)
                    .ok_or(PropertiesError::BadUnicodeEscape { line })?;
                out.push(code);
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String, usize)> {
        parse_properties(text)
            .expect("valid")
            .into_iter()
            .map(|p| (p.key, p.value, p.line))
            .collect()
    }

    #[test]
    fn separators_comments_and_whitespace() {
        let text = "# comment\n! also\n\nserver.host=0.0.0.0\n  server.port : 8848\nzookeeper.cluster 127.0.0.1:2181\nempty=\nbare\n";
        assert_eq!(
            pairs(text),
            vec![
                ("server.host".into(), "0.0.0.0".into(), 4),
                ("server.port".into(), "8848".into(), 5),
                ("zookeeper.cluster".into(), "127.0.0.1:2181".into(), 6),
                ("empty".into(), String::new(), 7),
                ("bare".into(), String::new(), 8),
            ]
        );
    }

    #[test]
    fn continuations_and_escapes() {
        let text = "roots=/a,\\\n     /b\nkey\\=with\\:seps=v\\tx\\u0041\\\\\n";
        assert_eq!(
            pairs(text),
            vec![
                ("roots".into(), "/a,/b".into(), 1),
                ("key=with:seps".into(), "v\txA\\".into(), 3),
            ]
        );
    }

    #[test]
    fn bad_unicode_escape_names_the_line() {
        assert_eq!(
            parse_properties("a=1\nb=\\u12\n"),
            Err(PropertiesError::BadUnicodeEscape { line: 2 })
        );
    }
}
