//! A tiny blocking HTTP/1.1 client over `std::net::TcpStream` (one request per
//! connection, `Connection: close`), enough for the daemons' status pages and
//! admin calls. Bodies with `Content-Length`, chunked bodies and bodies ended
//! by the connection's close are all read.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::{Context, bail};

/// Default timeout of connects, reads and writes.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The body as text (lossy UTF-8).
    pub body: String,
}

/// `GET path`.
pub fn get(addr: &str, path: &str) -> anyhow::Result<Reply> {
    request(addr, "GET", path, None, TIMEOUT)
}

/// `POST path` with a JSON body.
pub fn post_json(addr: &str, path: &str, body: &str) -> anyhow::Result<Reply> {
    request(addr, "POST", path, Some(body), TIMEOUT)
}

/// `GET path`, which must answer 200 with JSON.
pub fn get_json(addr: &str, path: &str) -> anyhow::Result<serde_json::Value> {
    let reply = get(addr, path)?;
    if reply.status != 200 {
        bail!(
            "GET http://{addr}{path}: HTTP {}: {}",
            reply.status,
            reply.body
        );
    }
    serde_json::from_str(&reply.body)
        .with_context(|| format!("GET http://{addr}{path}: not JSON: {}", reply.body))
}

/// One request.
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
    timeout: Duration,
) -> anyhow::Result<Reply> {
    let sock = addr
        .to_socket_addrs()
        .with_context(|| format!("bad address {addr}"))?
        .next()
        .with_context(|| format!("address {addr} resolves to nothing"))?;
    let mut stream = TcpStream::connect_timeout(&sock, timeout)
        .with_context(|| format!("cannot connect to {addr}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let body = body.unwrap_or("");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body.as_bytes()))
        .with_context(|| format!("cannot send to {addr}"))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .with_context(|| format!("cannot read the reply of {addr}"))?;
    parse_reply(&raw).with_context(|| format!("{method} http://{addr}{path}"))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Parses a whole HTTP/1.1 reply.
pub fn parse_reply(raw: &[u8]) -> anyhow::Result<Reply> {
    let end = find(raw, b"\r\n\r\n").context("reply has no end of headers")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let rest = &raw[end + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad status line `{status_line}`"))?;
    let mut length = None;
    let mut chunked = false;
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            if k == "content-length" {
                length = v.parse::<usize>().ok();
            } else if k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked") {
                chunked = true;
            }
        }
    }
    let body = if chunked {
        dechunk(rest)?
    } else if let Some(n) = length {
        rest.get(..n)
            .with_context(|| format!("body shorter than Content-Length {n}"))?
            .to_vec()
    } else {
        rest.to_vec()
    };
    Ok(Reply {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn dechunk(mut data: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = find(data, b"\r\n").context("chunk size line not ended")?;
        let size_text = String::from_utf8_lossy(&data[..eol]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .with_context(|| format!("bad chunk size `{size_text}`"))?;
        data = &data[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = data.get(..size).context("chunk shorter than its size")?;
        out.extend_from_slice(chunk);
        data = data.get(size + 2..).unwrap_or_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_parse() {
        let r = parse_reply(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}junk").unwrap();
        assert_eq!((r.status, r.body.as_str()), (200, "{}"));
        let r = parse_reply(
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!((r.status, r.body.as_str()), (404, "abcde"));
        let r = parse_reply(b"HTTP/1.0 500 X\r\n\r\nall of it").unwrap();
        assert_eq!((r.status, r.body.as_str()), (500, "all of it"));
        assert!(parse_reply(b"garbage").is_err());
    }
}
