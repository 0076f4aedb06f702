//! The HTTP engine: one keep-alive connection per worker, workers pulling request indices from
//! one atomic counter, and the life of one request from send to the last byte.
//!
//! Nothing on the hot path takes a lock: each worker keeps its own records and returns them when
//! it stops; timestamps are `Instant`s taken when a body frame arrives.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{Connection, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::error::BenchError;
use crate::report::{ErrorKind, RequestError, RequestRecord};
use crate::sse::{SseParser, decode_chunk};

type Sender = SendRequest<Full<Bytes>>;

/// One HTTP/1.1 connection: the request handle and the connection future, driven by the worker
/// that owns it (no separate task, so a chunk reaches the parser without a cross-thread wake-up).
pub(crate) struct Conn {
    sender: Sender,
    driver: Pin<Box<Connection<TokioIo<TimedStream>, Full<Bytes>>>>,
    stamps: Arc<Stamps>,
}

/// Process-wide origin of the socket timestamps.
fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

/// Nanoseconds since [`base`], plus one so that 0 means "not stamped".
fn stamp() -> u64 {
    u64::try_from(base().elapsed().as_nanos()).unwrap_or(u64::MAX - 1) + 1
}

fn instant_of(stamp: u64) -> Option<Instant> {
    (stamp != 0).then(|| base() + Duration::from_nanos(stamp - 1))
}

/// When bytes last crossed the socket: the first write of the current request (re-armed per
/// request) and the latest read. Timestamps are taken at the system call, so the time the
/// client spends building requests or parsing is not counted as server latency.
#[derive(Debug, Default)]
pub(crate) struct Stamps {
    first_write: AtomicU64,
    last_read: AtomicU64,
}

/// A TCP stream that records [`Stamps`].
pub(crate) struct TimedStream {
    inner: TcpStream,
    stamps: Arc<Stamps>,
}

impl AsyncRead for TimedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(res, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.stamps.last_read.store(stamp(), Ordering::Relaxed);
        }
        res
    }
}

impl TimedStream {
    fn mark_write(&self) {
        if self.stamps.first_write.load(Ordering::Relaxed) == 0 {
            self.stamps.first_write.store(stamp(), Ordering::Relaxed);
        }
    }
}

impl AsyncWrite for TimedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.mark_write();
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        self.mark_write();
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Where requests go.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) addr: SocketAddr,
    /// `host:port` for the `Host` header.
    pub(crate) authority: String,
    /// Path prefix of the base URL (no trailing slash).
    pub(crate) prefix: String,
}

/// Splits `http://host[:port][/prefix]`.
pub(crate) fn parse_base_url(url: &str) -> Result<(String, u16, String), String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        format!("base URL `{url}` must start with http:// (TLS is not supported)")
    })?;
    let (hostport, prefix) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
        // [v6]:port
        let (h, p) = h
            .split_once(']')
            .ok_or_else(|| format!("bad IPv6 host in `{url}`"))?;
        (h.to_owned(), p.strip_prefix(':').unwrap_or(""))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), p),
            None => (hostport.to_owned(), ""),
        }
    };
    if host.is_empty() {
        return Err(format!("base URL `{url}` has no host"));
    }
    let port = if port.is_empty() {
        80
    } else {
        port.parse()
            .map_err(|_| format!("bad port in base URL `{url}`"))?
    };
    Ok((host, port, prefix.trim_end_matches('/').to_owned()))
}

pub(crate) async fn resolve(url: &str) -> Result<Target, BenchError> {
    let (host, port, prefix) = parse_base_url(url).map_err(BenchError::InvalidConfig)?;
    let addr = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|source| BenchError::Unreachable {
            url: url.to_owned(),
            source,
        })?
        .next()
        .ok_or_else(|| BenchError::Unreachable {
            url: url.to_owned(),
            source: std::io::Error::other("host name resolved to no address"),
        })?;
    let authority = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    Ok(Target {
        addr,
        authority,
        prefix,
    })
}

/// Opens one HTTP/1.1 keep-alive connection with Nagle off.
pub(crate) async fn connect(addr: SocketAddr) -> std::io::Result<Conn> {
    let inner = TcpStream::connect(addr).await?;
    inner.set_nodelay(true)?;
    let stamps = Arc::new(Stamps::default());
    let stream = TimedStream {
        inner,
        stamps: Arc::clone(&stamps),
    };
    let (sender, driver) = hyper::client::conn::http1::Builder::new()
        .max_buf_size(1 << 20)
        .handshake(TokioIo::new(stream))
        .await
        .map_err(std::io::Error::other)?;
    Ok(Conn {
        sender,
        driver: Box::pin(driver),
        stamps,
    })
}

/// Opens `n` connections, at most 256 handshakes at a time.
pub(crate) async fn connect_many(target: &Target, n: usize) -> std::io::Result<Vec<Conn>> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let batch = (n - out.len()).min(256);
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..batch {
            set.spawn(connect(target.addr));
        }
        while let Some(res) = set.join_next().await {
            out.push(res.map_err(std::io::Error::other)??);
        }
    }
    Ok(out)
}

/// GET a small JSON document (used for `/v1/models` before the clock starts).
pub(crate) async fn get_json(target: &Target, path: &str) -> Result<serde_json::Value, String> {
    let Conn {
        mut sender, driver, ..
    } = connect(target.addr).await.map_err(|e| e.to_string())?;
    tokio::spawn(driver);
    let req = http::Request::get(format!("{}{path}", target.prefix))
        .header(http::header::HOST, &target.authority)
        .body(Full::new(Bytes::new()))
        .map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    if !status.is_success() {
        return Err(format!("HTTP {status}"));
    }
    serde_json::from_slice(&body).map_err(|e| format!("invalid JSON: {e}"))
}

/// Everything the workers share, built before the clock starts.
pub(crate) struct Plan {
    pub(crate) target: Target,
    /// Full request path (prefix + endpoint).
    pub(crate) path: String,
    pub(crate) bodies: Vec<Bytes>,
    /// Expected output tokens per request (to size buffers).
    pub(crate) expected: Vec<u64>,
    /// Planned send offsets from the start, non-decreasing.
    pub(crate) schedule: Vec<Duration>,
    pub(crate) streaming: bool,
    pub(crate) keep_text: bool,
    pub(crate) timeout: Duration,
    pub(crate) deadline: Option<Duration>,
    pub(crate) api_key: Option<String>,
}

/// Runs all requests of `plan` on `workers` workers. `conns` are pre-opened connections (fewer
/// than `workers` is fine: the rest connect on first use). Returns records in index order, the
/// start of the run, the time it took, and the connections still usable.
pub(crate) async fn run(
    plan: Arc<Plan>,
    workers: usize,
    mut conns: Vec<Conn>,
) -> Result<(Vec<RequestRecord>, Instant, Duration, Vec<Conn>), BenchError> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::with_capacity(workers);
    let t0 = Instant::now();
    for _ in 0..workers.max(1) {
        let sender = conns.pop();
        handles.push(tokio::spawn(worker(
            Arc::clone(&plan),
            Arc::clone(&next),
            t0,
            sender,
        )));
    }
    let mut records = Vec::with_capacity(plan.bodies.len());
    let mut returned = Vec::with_capacity(workers);
    for h in handles {
        let (recs, sender) = h
            .await
            .map_err(|e| BenchError::Internal(format!("worker failed: {e}")))?;
        records.extend(recs);
        returned.extend(sender);
    }
    let duration = t0.elapsed();
    records.sort_unstable_by_key(|r| r.index);
    Ok((records, t0, duration, returned))
}

async fn worker(
    plan: Arc<Plan>,
    next: Arc<AtomicUsize>,
    t0: Instant,
    mut sender: Option<Conn>,
) -> (Vec<RequestRecord>, Option<Conn>) {
    let mut records = Vec::new();
    let mut sse = SseParser::new();
    let mut text_buf = String::new();
    let mut free_at = t0;
    let deadline_at = plan.deadline.map(|d| t0 + d);
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let (Some(body), Some(&offset)) = (plan.bodies.get(i), plan.schedule.get(i)) else {
            break;
        };
        let scheduled = t0 + offset;
        let mut rec = RequestRecord::new(i, offset);
        if let Some(dl) = deadline_at
            && scheduled.max(Instant::now()) >= dl
        {
            rec.error = Some(RequestError::new(
                ErrorKind::Deadline,
                "not sent before the deadline",
            ));
            rec.end = Instant::now().saturating_duration_since(t0);
            records.push(rec);
            continue;
        }
        if scheduled > Instant::now() {
            tokio::time::sleep_until(scheduled.into()).await;
        }
        let eligible = scheduled.max(free_at);
        let sent = Instant::now();
        rec.eligible = eligible - t0;
        rec.sent = Some(sent - t0);
        let mut limit = sent + plan.timeout;
        let mut limit_is_deadline = false;
        if let Some(dl) = deadline_at
            && dl < limit
        {
            limit = dl;
            limit_is_deadline = true;
        }
        let expected = plan.expected.get(i).copied().unwrap_or(0);
        let mut state = StreamState::new(expected, plan.keep_text, std::mem::take(&mut text_buf));
        let outcome = tokio::time::timeout_at(
            limit.into(),
            one_request(&plan, &mut sender, body.clone(), &mut sse, &mut state),
        )
        .await;
        let end = Instant::now();
        let error = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e),
            Err(_) if limit_is_deadline => Some(RequestError::new(
                ErrorKind::Deadline,
                "still running at the deadline",
            )),
            Err(_) => Some(RequestError::new(
                ErrorKind::Timeout,
                format!(
                    "no complete answer within {:.3} s",
                    plan.timeout.as_secs_f64()
                ),
            )),
        };
        if error.is_some() {
            // The connection may be mid-response: never reuse it.
            sender = None;
        }
        state.finish_into(&mut rec, t0);
        if plan.keep_text {
            rec.text = Some(std::mem::take(&mut state.text));
        } else {
            text_buf = std::mem::take(&mut state.text);
            text_buf.clear();
        }
        rec.error = error;
        rec.end = end - t0;
        free_at = end;
        records.push(rec);
    }
    (records, sender)
}

/// What one stream has shown so far.
struct StreamState {
    first: Option<Instant>,
    last: Option<Instant>,
    chunks: u32,
    itl: Vec<f64>,
    done: bool,
    /// A response head arrived.
    head: bool,
    /// When the request's first byte was written.
    wrote: Option<Instant>,
    usage_prompt: Option<u64>,
    usage_completion: Option<u64>,
    keep_text: bool,
    text: String,
    failed: Option<RequestError>,
}

impl StreamState {
    fn new(expected: u64, keep_text: bool, text: String) -> Self {
        Self {
            first: None,
            last: None,
            chunks: 0,
            itl: Vec::with_capacity(expected.min(1 << 16) as usize),
            done: false,
            head: false,
            wrote: None,
            usage_prompt: None,
            usage_completion: None,
            keep_text,
            text,
            failed: None,
        }
    }

    fn on_event(&mut self, data: &[u8], now: Instant) {
        if self.failed.is_some() {
            return;
        }
        if data == b"[DONE]" {
            self.done = true;
            return;
        }
        match decode_chunk(data) {
            Err(e) => {
                self.failed = Some(RequestError::new(ErrorKind::InvalidChunk, e.to_string()));
            }
            Ok(info) => {
                if info.error {
                    let msg =
                        String::from_utf8_lossy(data.get(..data.len().min(512)).unwrap_or(data));
                    self.failed = Some(RequestError::new(ErrorKind::ServerError, msg));
                    return;
                }
                if info.prompt_tokens.is_some() {
                    self.usage_prompt = info.prompt_tokens;
                }
                if info.completion_tokens.is_some() {
                    self.usage_completion = info.completion_tokens;
                }
                if info.has_choice {
                    match self.last {
                        None => self.first = Some(now),
                        Some(last) => self.itl.push((now - last).as_secs_f64()),
                    }
                    self.last = Some(now);
                    self.chunks += 1;
                    if self.keep_text
                        && let Some(t) = info.text
                    {
                        self.text.push_str(&t);
                    }
                }
            }
        }
    }

    fn finish_into(&mut self, rec: &mut RequestRecord, t0: Instant) {
        if let Some(w) = self.wrote {
            // The request really left when its first byte was written.
            rec.sent = Some(
                w.saturating_duration_since(t0)
                    .max(rec.sent.unwrap_or_default()),
            );
        }
        rec.first_chunk = self.first.map(|t| t - t0);
        rec.last_chunk = self.last.map(|t| t - t0);
        rec.chunks = self.chunks;
        rec.itl = std::mem::take(&mut self.itl);
        rec.usage_prompt_tokens = self.usage_prompt;
        rec.usage_completion_tokens = self.usage_completion;
    }
}

/// Sends one request on the worker's connection, opening a fresh one when there is none or the
/// old one turned out closed before the request went out (then once more on a fresh one).
async fn one_request(
    plan: &Plan,
    conn: &mut Option<Conn>,
    body: Bytes,
    sse: &mut SseParser,
    state: &mut StreamState,
) -> Result<(), RequestError> {
    for attempt in 0..2 {
        let fresh = match conn {
            Some(c) if !c.sender.is_closed() => false,
            _ => {
                *conn = None;
                let c = connect(plan.target.addr)
                    .await
                    .map_err(|e| RequestError::new(ErrorKind::ConnectError, e.to_string()))?;
                *conn = Some(c);
                true
            }
        };
        let Some(Conn {
            sender,
            driver,
            stamps,
        }) = conn.as_mut()
        else {
            return Err(RequestError::new(ErrorKind::ConnectError, "no connection"));
        };
        stamps.first_write.store(0, Ordering::Relaxed);
        let (outcome, written) = {
            let fut = exchange(plan, sender, stamps, body.clone(), sse, state);
            tokio::pin!(fut);
            let outcome = tokio::select! {
                biased;
                r = &mut fut => r,
                // The connection ended: whatever it delivered (a response head, the last
                // frames, an error) is still in the exchange's channels, so let it finish.
                _ = driver.as_mut() => fut.await,
            };
            (outcome, stamps.first_write.load(Ordering::Relaxed) != 0)
        };
        match outcome {
            Ok(()) => return Ok(()),
            Err(Outcome::Failed(e)) => return Err(e),
            // Nothing left the client: the kept-alive connection was already gone. Try once
            // more on a fresh connection.
            Err(Outcome::NotSent(_)) if !written && !fresh && attempt == 0 => *conn = None,
            Err(Outcome::NotSent(msg)) => {
                *conn = None;
                return Err(RequestError::new(ErrorKind::RequestError, msg));
            }
        }
    }
    Err(RequestError::new(
        ErrorKind::RequestError,
        "no usable connection",
    ))
}

/// How an exchange failed.
enum Outcome {
    /// A failure to count.
    Failed(RequestError),
    /// No response head came back (the request may or may not have been written).
    NotSent(String),
}

async fn exchange(
    plan: &Plan,
    sender: &mut Sender,
    stamps: &Stamps,
    body: Bytes,
    sse: &mut SseParser,
    state: &mut StreamState,
) -> Result<(), Outcome> {
    let fail = |kind, msg: String| Outcome::Failed(RequestError::new(kind, msg));
    sender
        .ready()
        .await
        .map_err(|e| Outcome::NotSent(e.to_string()))?;
    let mut req = http::Request::post(plan.path.as_str())
        .header(http::header::HOST, plan.target.authority.as_str())
        .header(http::header::CONTENT_TYPE, "application/json");
    if let Some(key) = &plan.api_key {
        req = req.header(http::header::AUTHORIZATION, format!("Bearer {key}"));
    }
    let req = req
        .body(Full::new(body))
        .map_err(|e| fail(ErrorKind::RequestError, e.to_string()))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| Outcome::NotSent(e.to_string()))?;
    state.head = true;
    state.wrote = instant_of(stamps.first_write.load(Ordering::Relaxed));
    // Arrival of a frame: the read that brought its bytes (never later than now).
    let arrival = || {
        instant_of(stamps.last_read.load(Ordering::Relaxed))
            .map_or_else(Instant::now, |t| t.min(Instant::now()))
    };
    let status = resp.status();
    let mut body = resp.into_body();
    if status != http::StatusCode::OK {
        let mut msg = Vec::new();
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(d) = frame.into_data()
                && msg.len() < 4096
            {
                msg.extend_from_slice(&d);
            }
        }
        msg.truncate(512);
        return Err(fail(
            ErrorKind::Http(status.as_u16()),
            String::from_utf8_lossy(&msg).into_owned(),
        ));
    }
    if !plan.streaming {
        let whole = body
            .collect()
            .await
            .map_err(|e| fail(ErrorKind::StreamCut, e.to_string()))?
            .to_bytes();
        let now = arrival();
        state.on_event(&whole, now);
        state.done = true;
        if let Some(e) = state.failed.take() {
            return Err(Outcome::Failed(e));
        }
        if state.first.is_none() {
            return Err(fail(
                ErrorKind::EmptyStream,
                "response has no choices".into(),
            ));
        }
        return Ok(());
    }
    sse.reset();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| fail(ErrorKind::StreamCut, e.to_string()))?;
        let now = arrival();
        if let Ok(data) = frame.into_data() {
            sse.feed(&data, &mut |ev| state.on_event(ev, now));
        }
        if let Some(e) = state.failed.take() {
            return Err(Outcome::Failed(e));
        }
    }
    if !state.done {
        return Err(fail(
            ErrorKind::StreamCut,
            "stream ended without [DONE]".into(),
        ));
    }
    if state.first.is_none() {
        return Err(fail(
            ErrorKind::EmptyStream,
            "stream carried no choices".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        assert_eq!(
            parse_base_url("http://h:81/x/").unwrap(),
            ("h".into(), 81, "/x".into())
        );
        assert_eq!(
            parse_base_url("http://h").unwrap(),
            ("h".into(), 80, String::new())
        );
        assert_eq!(
            parse_base_url("http://[::1]:9").unwrap(),
            ("::1".into(), 9, String::new())
        );
        assert!(parse_base_url("https://h").is_err());
        assert!(parse_base_url("http://h:x").is_err());
        assert!(parse_base_url("http://:80").is_err());
    }
}
