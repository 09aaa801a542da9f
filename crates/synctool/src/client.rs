//! A small blocking HTTP/1.1 client for `synctool_helper` (one request per
//! connection, `Connection: close`), so the helper needs no async runtime.
//! Errors name the server address.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// A reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpReply {
    /// Status code.
    pub status: u16,
    /// Body as text.
    pub body: String,
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Cannot connect.
    #[error("cannot reach SyncTool at {server}: {source} (is it running? pass -s HOST:PORT)")]
    Connect {
        /// The address.
        server: String,
        /// Why.
        source: std::io::Error,
    },
    /// Reading or writing failed.
    #[error("talking to SyncTool at {server}: {source}")]
    Io {
        /// The address.
        server: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not an HTTP reply.
    #[error("SyncTool at {server} sent a reply that is not HTTP: {message}")]
    BadReply {
        /// The address.
        server: String,
        /// What is wrong.
        message: String,
    },
}

/// Sends one request and reads the whole reply.
pub fn request(
    server: &str,
    method: &str,
    path: &str,
    body: &str,
    timeout: Duration,
) -> Result<HttpReply, ClientError> {
    let connect = |source| ClientError::Connect {
        server: server.to_string(),
        source,
    };
    let io = |source| ClientError::Io {
        server: server.to_string(),
        source,
    };
    let addrs: Vec<_> = server.to_socket_addrs().map_err(connect)?.collect();
    let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no address");
    let mut stream = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = e,
        }
    }
    let mut stream = stream.ok_or_else(|| connect(last))?;
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    stream.set_write_timeout(Some(timeout)).map_err(io)?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {server}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).map_err(io)?;
    stream.write_all(body.as_bytes()).map_err(io)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(io)?;
    parse_reply(&raw).map_err(|message| ClientError::BadReply {
        server: server.to_string(),
        message,
    })
}

/// Parses a complete HTTP/1.1 reply (fixed length, chunked, or to EOF).
pub fn parse_reply(raw: &[u8]) -> Result<HttpReply, String> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no end of headers")?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|_| "headers are not UTF-8")?;
    let rest = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().ok_or("empty reply")?;
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| format!("bad status line `{status_line}`"))?;
    let mut chunked = false;
    let mut length = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
        if name == "transfer-encoding" && value.eq_ignore_ascii_case("chunked") {
            chunked = true;
        } else if name == "content-length" {
            length = value.parse::<usize>().ok();
        }
    }
    let body = if chunked {
        dechunk(rest)?
    } else if let Some(n) = length {
        rest.get(..n)
            .ok_or("reply shorter than its Content-Length")?
            .to_vec()
    } else {
        rest.to_vec()
    };
    Ok(HttpReply {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("truncated chunk size")?;
        let size_text = std::str::from_utf8(&data[..end]).map_err(|_| "bad chunk size")?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size `{size_text}`"))?;
        data = &data[end + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = data.get(..size).ok_or("truncated chunk")?;
        out.extend_from_slice(chunk);
        data = data.get(size + 2..).ok_or("truncated chunk end")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fixed_length_and_chunked_replies() {
        let r = parse_reply(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokEXTRA").unwrap();
        assert_eq!((r.status, r.body.as_str()), (200, "ok"));
        let r = parse_reply(
            b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!((r.status, r.body.as_str()), (400, "abcde"));
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_reply(b"hello").is_err());
        assert!(parse_reply(b"HTTP/1.1 abc\r\n\r\n").is_err());
        assert!(parse_reply(b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nab").is_err());
    }

    #[test]
    fn unreachable_server_names_the_address() {
        // Port 1 on loopback is closed on any test machine.
        let err = request("127.0.0.1:1", "GET", "/status", "", Duration::from_secs(2))
            .unwrap_err()
            .to_string();
        assert!(err.contains("127.0.0.1:1"), "{err}");
    }
}
