//! A tiny HTTP/1.1 client over a raw socket: full control over what the server really sent
//! (a stream cut mid-way shows up as an unterminated chunked body).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The chunked body ended with its terminating chunk.
    pub complete: bool,
}

impl RawResponse {
    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.text()))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `data:` payloads of an SSE body, in order.
    pub fn events(&self) -> Vec<String> {
        self.text()
            .split("\n\n")
            .filter(|e| !e.is_empty())
            .map(|e| {
                e.strip_prefix("data: ")
                    .unwrap_or_else(|| panic!("not an SSE event: {e:?}"))
                    .to_owned()
            })
            .collect()
    }
}

pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> std::io::Result<RawResponse> {
    let mut s = TcpStream::connect(addr).await?;
    let body = body.unwrap_or("");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await?;
    s.write_all(body.as_bytes()).await?;
    let mut raw = Vec::new();
    // A reset after a cut stream still leaves what was read.
    if let Err(e) = s.read_to_end(&mut raw).await
        && raw.is_empty()
    {
        return Err(e);
    }
    parse(&raw)
}

pub async fn post(addr: SocketAddr, path: &str, body: &serde_json::Value) -> RawResponse {
    tokio::time::timeout(
        Duration::from_secs(20),
        request(addr, "POST", path, Some(&body.to_string())),
    )
    .await
    .expect("request timed out")
    .expect("request failed")
}

pub async fn get(addr: SocketAddr, path: &str) -> RawResponse {
    tokio::time::timeout(Duration::from_secs(20), request(addr, "GET", path, None))
        .await
        .expect("request timed out")
        .expect("request failed")
}

fn parse(raw: &[u8]) -> std::io::Result<RawResponse> {
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_owned());
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no header end"))?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| bad("header not utf-8"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().ok_or_else(|| bad("no status line"))?;
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("bad status"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        })
        .collect();
    let rest = &raw[end + 4..];
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if !chunked {
        return Ok(RawResponse {
            status,
            headers,
            body: rest.to_vec(),
            complete: true,
        });
    }
    let mut body = Vec::new();
    let mut pos = 0;
    let mut complete = false;
    while let Some(nl) = rest[pos..].windows(2).position(|w| w == b"\r\n") {
        let size_str = std::str::from_utf8(&rest[pos..pos + nl]).map_err(|_| bad("chunk size"))?;
        let size = usize::from_str_radix(size_str.trim(), 16).map_err(|_| bad("chunk size"))?;
        pos += nl + 2;
        if size == 0 {
            complete = true;
            break;
        }
        if pos + size > rest.len() {
            body.extend_from_slice(&rest[pos..]);
            break;
        }
        body.extend_from_slice(&rest[pos..pos + size]);
        pos += size + 2;
    }
    Ok(RawResponse {
        status,
        headers,
        body,
        complete,
    })
}
