//! A small HTTP/1.1 client connection, owned and driven by one worker task.
//!
//! Why not hyper: hyper's client hands bytes from a connection task to the caller through
//! channels and wakers; every hand-off is a trip through the runtime's run queue, which at
//! concurrency 1024 on one thread delayed the next request by tens of milliseconds. Here the
//! worker reads the socket itself: one read, then chunked decoding and SSE parsing in place,
//! stamped with the instant the read returned. It supports what OpenAI-compatible servers send:
//! `Content-Length`, `Transfer-Encoding: chunked` and close-delimited bodies, keep-alive and
//! `Connection: close`.

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::rxstamp::{self, StampedReader};

/// Largest response head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Longest chunk-size or trailer line accepted.
const MAX_LINE: usize = 4096;
/// Read buffer size.
const READ_BUF: usize = 16 * 1024;

/// Touches every page of `buf` so that the page faults happen now, before the clock starts, and
/// not on the first read of the measured run (in a virtual machine the first touch of a page can
/// cost tens of microseconds).
pub(crate) fn prefault<T: Copy + Default>(buf: &mut [T]) {
    let step = (4096 / std::mem::size_of::<T>().max(1)).max(1);
    for x in buf.iter_mut().step_by(step) {
        *x = std::hint::black_box(T::default());
    }
}

/// Why an exchange failed at the HTTP level.
#[derive(Debug)]
pub(crate) enum HttpError {
    /// The connection ended before any byte of a response arrived.
    NoResponse(String),
    /// The response head was malformed.
    BadHead(String),
    /// The connection ended or failed in the middle of the body.
    Cut(String),
}

/// How the body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(u64),
    Chunked,
    UntilClose,
}

/// A response head.
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) status: u16,
    framing: Framing,
    keep_alive: bool,
}

/// State of the chunked decoder.
#[derive(Debug, Clone, Copy)]
enum Chunk {
    /// Expecting a size line.
    Size,
    /// Inside chunk data with this many bytes left.
    Data(u64),
    /// Expecting the CRLF after chunk data.
    DataEnd,
    /// After the last chunk: skipping trailers until an empty line.
    Trailers,
}

/// One keep-alive connection.
pub(crate) struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Unconsumed bytes are `buf[pos..len]`.
    pos: usize,
    len: usize,
    out: Vec<u8>,
    /// Requests completed on this connection.
    pub(crate) served: u64,
    reusable: bool,
    /// When the bytes of the latest read arrived (the kernel's stamp where there is one).
    pub(crate) last_read: Instant,
    rx: StampedReader,
}

impl Conn {
    /// Opens a connection with Nagle off.
    pub(crate) async fn connect(addr: SocketAddr) -> io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        rxstamp::enable(&stream);
        let mut buf = vec![0; READ_BUF];
        prefault(&mut buf);
        let mut out = vec![0; 4096];
        prefault(&mut out);
        out.clear();
        Ok(Self {
            stream,
            buf,
            pos: 0,
            len: 0,
            out,
            served: 0,
            reusable: true,
            last_read: Instant::now(),
            rx: StampedReader::new(),
        })
    }

    /// Grows this process's file-descriptor table to hold `n` more descriptors, by holding `n`
    /// duplicates of this socket for a moment. The kernel doubles the table as descriptors are
    /// opened, and in a multi-threaded process each doubling waits for an RCU grace period
    /// (measured here: 10-13 ms when the 256th and 512th connection opened). Connections that
    /// open during the run (unbounded concurrency) thus no longer stall it.
    pub(crate) fn reserve_fds(&self, n: usize) {
        use std::os::fd::AsFd;
        let mut held = Vec::with_capacity(n);
        for _ in 0..n {
            match self.stream.as_fd().try_clone_to_owned() {
                Ok(fd) => held.push(fd),
                Err(_) => break,
            }
        }
    }

    /// False once the server closed the connection or a response could not be read to its end.
    /// Also notices, without blocking, a server that closed an idle kept-alive connection.
    pub(crate) fn usable(&mut self) -> bool {
        if !self.reusable || self.pos != self.len {
            return false;
        }
        let mut probe = [0u8; 1];
        match self.stream.try_read(&mut probe) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => true,
            // Data nobody asked for, end of file, or an error: do not reuse.
            _ => false,
        }
    }

    /// Writes `head` + `Content-Length` + `body` in one write; returns when the write began.
    pub(crate) async fn send(&mut self, head: &[u8], body: &[u8]) -> io::Result<Instant> {
        self.out.clear();
        self.out.extend_from_slice(head);
        self.out.extend_from_slice(b"Content-Length: ");
        self.out
            .extend_from_slice(body.len().to_string().as_bytes());
        self.out.extend_from_slice(b"\r\n\r\n");
        self.out.extend_from_slice(body);
        let at = Instant::now();
        self.stream.write_all(&self.out).await?;
        Ok(at)
    }

    /// Reads more bytes; returns how many (0 at end of file) and when the read returned.
    async fn fill(&mut self) -> io::Result<(usize, Instant)> {
        if self.pos == self.len {
            self.pos = 0;
            self.len = 0;
        } else if self.len == self.buf.len() {
            if self.pos > 0 {
                self.buf.copy_within(self.pos..self.len, 0);
                self.len -= self.pos;
                self.pos = 0;
            } else {
                let grown = self.buf.len() * 2;
                self.buf.resize(grown, 0);
            }
        }
        let (n, at) = self
            .rx
            .read(
                &self.stream,
                self.buf.get_mut(self.len..).unwrap_or_default(),
            )
            .await?;
        self.len += n;
        self.last_read = at;
        Ok((n, at))
    }

    /// Reads the response head.
    pub(crate) async fn read_head(&mut self) -> Result<Head, HttpError> {
        loop {
            let avail = self.buf.get(self.pos..self.len).unwrap_or_default();
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut resp = httparse::Response::new(&mut headers);
            match resp.parse(avail) {
                Ok(httparse::Status::Complete(n)) => {
                    let status = resp.code.unwrap_or(0);
                    let http10 = resp.version == Some(0);
                    let mut framing = Framing::UntilClose;
                    let mut keep_alive = !http10;
                    for h in resp.headers.iter() {
                        let value = std::str::from_utf8(h.value).unwrap_or("").trim();
                        if h.name.eq_ignore_ascii_case("transfer-encoding") {
                            if value.to_ascii_lowercase().ends_with("chunked") {
                                framing = Framing::Chunked;
                            }
                        } else if h.name.eq_ignore_ascii_case("content-length") {
                            if framing != Framing::Chunked {
                                let n = value.parse().map_err(|_| {
                                    HttpError::BadHead(format!("bad content-length `{value}`"))
                                })?;
                                framing = Framing::Length(n);
                            }
                        } else if h.name.eq_ignore_ascii_case("connection") {
                            let v = value.to_ascii_lowercase();
                            if v.contains("close") {
                                keep_alive = false;
                            } else if v.contains("keep-alive") {
                                keep_alive = true;
                            }
                        }
                    }
                    if status == 204 || status == 304 || (100..200).contains(&status) {
                        framing = Framing::Length(0);
                    }
                    if framing == Framing::UntilClose {
                        keep_alive = false;
                    }
                    self.pos += n;
                    if (100..200).contains(&status) {
                        // An interim response (e.g. 100 Continue): the real one follows.
                        continue;
                    }
                    return Ok(Head {
                        status,
                        framing,
                        keep_alive,
                    });
                }
                Ok(httparse::Status::Partial) => {
                    if self.len - self.pos > MAX_HEAD {
                        return Err(HttpError::BadHead(format!(
                            "response head larger than {} KiB (the client's limit)",
                            MAX_HEAD >> 10
                        )));
                    }
                }
                Err(e) => return Err(HttpError::BadHead(e.to_string())),
            }
            let got_any = self.len > self.pos;
            match self.fill().await {
                Ok((0, _)) if got_any => {
                    self.reusable = false;
                    return Err(HttpError::Cut(
                        "connection closed inside the response head".into(),
                    ));
                }
                Ok((0, _)) => {
                    self.reusable = false;
                    return Err(HttpError::NoResponse(
                        "connection closed before a response".into(),
                    ));
                }
                Ok(_) => {}
                Err(e) => {
                    self.reusable = false;
                    return Err(if got_any {
                        HttpError::Cut(e.to_string())
                    } else {
                        HttpError::NoResponse(e.to_string())
                    });
                }
            }
        }
    }

    /// Reads the body to its end, handing each piece of data to `on_data` with the instant the
    /// read that brought it returned. `on_data` returns false to stop early (the connection is
    /// then not reused).
    pub(crate) async fn read_body(
        &mut self,
        head: &Head,
        arrived: Instant,
        on_data: &mut impl FnMut(&[u8], Instant) -> bool,
    ) -> Result<(), HttpError> {
        let mut at = arrived;
        let mut left = match head.framing {
            Framing::Length(n) => n,
            _ => u64::MAX,
        };
        let mut chunk = Chunk::Size;
        loop {
            // Consume what is buffered.
            let mut done = false;
            while self.pos < self.len && !done {
                let avail = self.buf.get(self.pos..self.len).unwrap_or_default();
                match head.framing {
                    Framing::Length(_) | Framing::UntilClose => {
                        let take = (avail.len() as u64).min(left) as usize;
                        let data = avail.get(..take).unwrap_or_default();
                        self.pos += take;
                        left -= take as u64;
                        if !on_data(data, at) {
                            self.reusable = false;
                            return Ok(());
                        }
                        done = left == 0;
                    }
                    Framing::Chunked => match chunk {
                        Chunk::Size | Chunk::DataEnd | Chunk::Trailers => {
                            let Some(nl) = memchr::memchr(b'\n', avail) else {
                                if avail.len() > MAX_LINE {
                                    self.reusable = false;
                                    return Err(HttpError::Cut(format!(
                                        "chunk-size or trailer line longer than {MAX_LINE} bytes (the client's limit)"
                                    )));
                                }
                                break;
                            };
                            let line = avail.get(..nl).unwrap_or_default();
                            let line = line.strip_suffix(b"\r").unwrap_or(line);
                            let line_len = line.len();
                            self.pos += nl + 1;
                            match chunk {
                                Chunk::DataEnd => {
                                    if line_len != 0 {
                                        self.reusable = false;
                                        return Err(HttpError::Cut(
                                            "bad chunk terminator (expected CRLF after the chunk data)".into(),
                                        ));
                                    }
                                    chunk = Chunk::Size;
                                }
                                Chunk::Trailers => {
                                    if line_len == 0 {
                                        done = true;
                                    }
                                }
                                _ => {
                                    let size = parse_chunk_size(line).ok_or_else(|| {
                                        self.reusable = false;
                                        HttpError::Cut(format!(
                                            "bad chunk size `{}` (expected hex digits that fit 64 bits)",
                                            String::from_utf8_lossy(line.get(..line.len().min(32)).unwrap_or_default())
                                        ))
                                    })?;
                                    chunk = if size == 0 {
                                        Chunk::Trailers
                                    } else {
                                        Chunk::Data(size)
                                    };
                                }
                            }
                        }
                        Chunk::Data(n) => {
                            let take = (avail.len() as u64).min(n) as usize;
                            let data = avail.get(..take).unwrap_or_default();
                            self.pos += take;
                            if !on_data(data, at) {
                                self.reusable = false;
                                return Ok(());
                            }
                            let rest = n - take as u64;
                            chunk = if rest == 0 {
                                Chunk::DataEnd
                            } else {
                                Chunk::Data(rest)
                            };
                        }
                    },
                }
            }
            if done || (head.framing == Framing::Length(0)) {
                self.served += 1;
                if !head.keep_alive {
                    self.reusable = false;
                }
                return Ok(());
            }
            match self.fill().await {
                Ok((0, _)) => {
                    self.reusable = false;
                    if head.framing == Framing::UntilClose {
                        self.served += 1;
                        return Ok(());
                    }
                    return Err(HttpError::Cut(
                        "connection closed in the middle of the body".into(),
                    ));
                }
                Ok((_, t)) => at = t,
                Err(e) => {
                    self.reusable = false;
                    return Err(HttpError::Cut(e.to_string()));
                }
            }
        }
    }
}

/// A chunk-size line: hex digits, optionally followed by `;extensions`.
fn parse_chunk_size(line: &[u8]) -> Option<u64> {
    let hex = line.split(|&b| b == b';').next()?;
    let hex = std::str::from_utf8(hex).ok()?.trim();
    if hex.is_empty() {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// The file-descriptor table has room for the reserved descriptors afterwards (Linux shows
    /// its size as `FDSize` in /proc/self/status).
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn reserving_descriptors_grows_the_table() {
        let fd_size = || {
            std::fs::read_to_string("/proc/self/status")
                .unwrap()
                .lines()
                .find_map(|l| l.strip_prefix("FDSize:"))
                .unwrap()
                .trim()
                .parse::<usize>()
                .unwrap()
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let conn = Conn::connect(listener.local_addr().unwrap()).await.unwrap();
        let want = fd_size() * 4;
        conn.reserve_fds(want);
        assert!(fd_size() >= want, "FDSize {} below {want}", fd_size());
    }

    /// Serves `response` split into `pieces` writes, then closes or keeps the connection open.
    async fn exchange(
        response: Vec<u8>,
        cuts: Vec<usize>,
    ) -> (Result<(Head, Vec<u8>), String>, bool) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut req = [0u8; 1024];
            let _ = s.read(&mut req).await.unwrap();
            let mut last = 0;
            for c in cuts.into_iter().chain([response.len()]) {
                let c = c.min(response.len()).max(last);
                s.write_all(&response[last..c]).await.unwrap();
                s.flush().await.unwrap();
                tokio::task::yield_now().await;
                last = c;
            }
            // Keep the connection open a moment so keep-alive is observable.
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        });
        let mut c = Conn::connect(addr).await.unwrap();
        c.send(b"POST / HTTP/1.1\r\nHost: x\r\n", b"{}")
            .await
            .unwrap();
        let out = async {
            let head = c.read_head().await.map_err(|e| format!("{e:?}"))?;
            let at = c.last_read;
            let mut body = Vec::new();
            c.read_body(&head, at, &mut |d, _| {
                body.extend_from_slice(d);
                true
            })
            .await
            .map_err(|e| format!("{e:?}"))?;
            Ok((head, body))
        }
        .await;
        let reusable = c.reusable;
        server.await.unwrap();
        (out, reusable)
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn framings() {
        let rt = rt();
        let (r, keep) = rt.block_on(exchange(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n".to_vec(),
            vec![3, 40, 52, 60],
        ));
        let (head, body) = r.unwrap();
        assert_eq!(
            (head.status, body.as_slice(), keep),
            (200, &b"hello world"[..], true)
        );
        let (r, keep) = rt.block_on(exchange(
            b"HTTP/1.1 503 Busy\r\nContent-Length: 4\r\n\r\nbusy".to_vec(),
            vec![],
        ));
        let (head, body) = r.unwrap();
        assert_eq!(
            (head.status, body.as_slice(), keep),
            (503, &b"busy"[..], true)
        );
        let (r, keep) = rt.block_on(exchange(
            b"HTTP/1.0 200 OK\r\n\r\nuntil close".to_vec(),
            vec![],
        ));
        assert_eq!(r.unwrap().1, b"until close");
        assert!(!keep);
        let (r, keep) = rt.block_on(exchange(
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok".to_vec(),
            vec![],
        ));
        assert_eq!(r.unwrap().1, b"ok");
        assert!(!keep);
        let (r, _) = rt.block_on(exchange(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx".to_vec(),
            vec![],
        ));
        assert_eq!(r.unwrap().1, b"x");
    }

    #[test]
    fn cut_and_malformed() {
        let rt = rt();
        let (r, keep) = rt.block_on(exchange(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel".to_vec(),
            vec![],
        ));
        assert!(r.unwrap_err().starts_with("Cut"));
        assert!(!keep);
        let (r, _) = rt.block_on(exchange(
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort".to_vec(),
            vec![],
        ));
        assert!(r.unwrap_err().starts_with("Cut"));
        let (r, _) = rt.block_on(exchange(Vec::new(), vec![]));
        assert!(r.unwrap_err().starts_with("NoResponse"));
        let (r, _) = rt.block_on(exchange(b"NOT HTTP\r\n\r\n".to_vec(), vec![]));
        assert!(r.unwrap_err().starts_with("BadHead"));
        let (r, _) = rt.block_on(exchange(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".to_vec(),
            vec![],
        ));
        assert!(r.unwrap_err().starts_with("Cut"));
    }

    #[test]
    fn endless_chunk_line_is_refused() {
        let mut resp = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        resp.extend(std::iter::repeat_n(b'1', 3 * MAX_LINE));
        let (r, keep) = rt().block_on(exchange(resp, vec![]));
        assert!(r.unwrap_err().contains("longer than 4096 bytes"));
        assert!(!keep);
    }

    #[test]
    fn chunk_sizes() {
        assert_eq!(parse_chunk_size(b"1f"), Some(31));
        assert_eq!(parse_chunk_size(b"A;ext=1"), Some(10));
        assert_eq!(parse_chunk_size(b""), None);
        assert_eq!(parse_chunk_size(b"g"), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
        /// However the server splits its writes, the decoded body is the same.
        #[test]
        fn chunked_split_anywhere(parts in prop::collection::vec("[a-z]{1,20}", 1..6),
                                  cuts in prop::collection::vec(0usize..200, 0..6)) {
            let mut resp = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            for p in &parts {
                resp.extend_from_slice(format!("{:x}\r\n{p}\r\n", p.len()).as_bytes());
            }
            resp.extend_from_slice(b"0\r\n\r\n");
            let mut cuts = cuts;
            cuts.sort_unstable();
            let (r, keep) = rt().block_on(exchange(resp, cuts));
            let (_, body) = r.unwrap();
            prop_assert_eq!(body, parts.concat().into_bytes());
            prop_assert!(keep);
        }
    }
}
