//! Pieces shared by the daemons' `GET /status` pages: HTML escaping, the
//! page frame, and the `?format=json` switch between people and tools.

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A complete HTML page titled `title` around `body` (already HTML).
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{}</title>\
         <style>td,th{{padding:2px 8px;border:1px solid #ccc}}table{{border-collapse:collapse}}\
         .FAILED,.Failed,.Refused{{background:#fdd}}</style></head><body>{body}</body></html>",
        escape(title)
    )
}

/// True when the raw query string asks for JSON (`format=json`).
pub fn wants_json(query: Option<&str>) -> bool {
    query.unwrap_or("").split('&').any(|kv| kv == "format=json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_switches() {
        assert_eq!(
            escape("<a href=\"x\">&</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;"
        );
        assert!(wants_json(Some("x=1&format=json")));
        assert!(!wants_json(Some("format=html")));
        assert!(!wants_json(None));
        assert!(page("a<b", "<p>x</p>").contains("<title>a&lt;b</title>"));
    }
}
