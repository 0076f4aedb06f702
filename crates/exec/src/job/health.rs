//! HTTP health checks: healthy means exactly the expected status (200); 503 is not healthy.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Host, port and path of an `http://host[:port]/path` URL.
pub(crate) fn parse_url(url: &str) -> Option<(String, u16, String)> {
    let rest = url.strip_prefix("http://")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (rest.get(..i)?, rest.get(i..)?),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().ok()?),
        None => (authority, 80),
    };
    if host.is_empty() {
        return None;
    }
    Some((host.to_string(), port, path.to_string()))
}

/// The HTTP status of `GET url`, or None when nothing answered within `timeout`.
pub(crate) async fn get_status(url: &str, timeout: Duration) -> Option<u16> {
    let (host, port, path) = parse_url(url)?;
    let fut = async {
        let mut stream = TcpStream::connect((host.as_str(), port)).await.ok()?;
        let req =
            format!("GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n");
        stream.write_all(req.as_bytes()).await.ok()?;
        let mut buf = Vec::with_capacity(64);
        let mut chunk = [0u8; 256];
        while !buf.contains(&b'\n') && buf.len() < 4096 {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(chunk.get(..n)?);
        }
        let line = String::from_utf8_lossy(&buf);
        let status = line.split_whitespace().nth(1)?;
        status.parse::<u16>().ok()
    };
    tokio::time::timeout(timeout, fut).await.ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("http://node1:8000/health"),
            Some(("node1".into(), 8000, "/health".into()))
        );
        assert_eq!(parse_url("http://h"), Some(("h".into(), 80, "/".into())));
        assert_eq!(parse_url("https://h/x"), None);
        assert_eq!(parse_url("http://:1/x"), None);
    }

    #[tokio::test]
    async fn reads_status_and_treats_silence_as_unhealthy() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        tokio::spawn(async move {
            for status in ["200 OK", "503 Service Unavailable"] {
                let (mut s, _) = l.accept().await.unwrap();
                let mut b = [0u8; 512];
                let _ = s.read(&mut b).await;
                let _ = s
                    .write_all(format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n").as_bytes())
                    .await;
            }
        });
        let url = format!("http://127.0.0.1:{port}/health");
        assert_eq!(get_status(&url, Duration::from_secs(2)).await, Some(200));
        assert_eq!(get_status(&url, Duration::from_secs(2)).await, Some(503));
        let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dead_port = dead.local_addr().unwrap().port();
        drop(dead);
        assert_eq!(
            get_status(
                &format!("http://127.0.0.1:{dead_port}/"),
                Duration::from_millis(500)
            )
            .await,
            None
        );
    }
}
