//! The HTTP engine: one keep-alive connection per worker, workers pulling request indices from
//! one atomic counter, and the life of one request from send to the last byte.
//!
//! Nothing on the hot path takes a lock: each worker keeps its own records and returns them when
//! it stops; timestamps are `Instant`s taken when a body frame arrives.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::error::BenchError;
use crate::http1::{Conn, HttpError, prefault};
use crate::report::{ErrorKind, RequestError, RequestRecord};
use crate::sse::{SseParser, decode_chunk};

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
    Conn::connect(addr).await
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

/// Largest non-streamed response body (and `/v1/models` document) accepted, 16 MiB: an answer
/// of 100 000 tokens is about 1 MB of JSON.
pub(crate) const MAX_BODY: usize = 16 << 20;

/// GET a small JSON document (used for `/v1/models` before the clock starts).
pub(crate) async fn get_json(target: &Target, path: &str) -> Result<serde_json::Value, String> {
    let mut c = connect(target.addr).await.map_err(|e| e.to_string())?;
    let head = format!(
        "GET {}{path} HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\nUser-Agent: servebench\r\n",
        target.prefix, target.authority
    );
    c.send(head.as_bytes(), b"")
        .await
        .map_err(|e| e.to_string())?;
    let h = c.read_head().await.map_err(|e| format!("{e:?}"))?;
    let mut body = Vec::new();
    let at = c.last_read;
    c.read_body(&h, at, &mut |d, _| {
        body.extend_from_slice(d);
        body.len() < MAX_BODY
    })
    .await
    .map_err(|e| format!("{e:?}"))?;
    if !(200..300).contains(&h.status) {
        return Err(format!("HTTP {}", h.status));
    }
    serde_json::from_slice(&body).map_err(|e| format!("invalid JSON: {e}"))
}

/// Everything the workers share, built before the clock starts.
pub(crate) struct Plan {
    pub(crate) target: Target,
    /// Request line and headers up to, not including, `Content-Length`.
    pub(crate) head: Vec<u8>,
    pub(crate) bodies: Vec<Bytes>,
    /// Expected output tokens per request (to size buffers).
    pub(crate) expected: Vec<u64>,
    /// Planned send offsets of each unit's first request from the start, non-decreasing.
    pub(crate) schedule: Vec<Duration>,
    /// Requests per unit of work (a multi-turn session; 1 otherwise): unit `u` is requests
    /// `u * turns ..`, sent one after the other by one worker.
    pub(crate) turns: usize,
    /// Pause between the end of a unit's request and the next one (a user's think time).
    pub(crate) think: Duration,
    pub(crate) streaming: bool,
    pub(crate) keep_text: bool,
    pub(crate) timeout: Duration,
    pub(crate) deadline: Option<Duration>,
}

/// The request line and fixed headers of every request of a run.
pub(crate) fn request_head(target: &Target, path: &str, api_key: Option<&str>) -> Vec<u8> {
    let mut h = format!(
        "POST {}{path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nAccept: text/event-stream, application/json\r\nUser-Agent: servebench\r\n",
        target.prefix, target.authority
    );
    if let Some(key) = api_key {
        h.push_str(&format!("Authorization: Bearer {key}\r\n"));
    }
    h.into_bytes()
}

/// Most memory prefaulted for the workers' inter-token-latency buffers before the clock starts.
const ITL_PREFAULT_BUDGET: usize = 32 << 20;

/// A worker's inter-token-latency buffer, sized to the longest output of the plan (within a
/// share of [`ITL_PREFAULT_BUDGET`]) with its pages touched before the run: the first touch of a
/// fresh page costs tens of microseconds in a virtual machine, and a stream that faulted pages in
/// as its tokens arrived would pay that between reads. Streams fill it, and each request keeps
/// an exact-size copy when it ends, so the memory touched is what the run measured, not what
/// every request might have produced (a 4,096-request run of 8,192-token outputs prefaulted
/// 256 MiB before; now at most 32 MiB over all workers).
fn itl_buffer(expected: &[u64], workers: usize) -> Vec<f64> {
    let longest = expected.iter().copied().max().unwrap_or(0).min(1 << 16) as usize;
    let share = ITL_PREFAULT_BUDGET / std::mem::size_of::<f64>() / workers.max(1);
    let cap = longest.saturating_sub(1).min(share);
    let mut v = vec![0.0; cap];
    prefault(&mut v);
    v.clear();
    v
}

/// Runs all requests of `plan` on `workers` workers. `conns` are pre-opened connections (fewer
/// than `workers` is fine: the rest connect on first use). Returns records in index order, the
/// start of the run, the time it took, and the connections still usable.
///
/// Every worker is spawned and has its buffers ready before the clock starts; then all start
/// together, so the first requests are not sent late by task creation and page faults.
pub(crate) async fn run(
    plan: Arc<Plan>,
    workers: usize,
    mut conns: Vec<Conn>,
) -> Result<(Vec<RequestRecord>, Instant, Duration, Vec<Conn>), BenchError> {
    let workers = workers.max(1);
    let shared = Arc::new(Shared {
        next: AtomicUsize::new(0),
        share: plan.bodies.len().div_ceil(workers),
        turns: plan.turns.max(1),
        workers,
        ready: tokio::sync::Barrier::new(workers + 1),
    });
    let (start_tx, start_rx) = tokio::sync::watch::channel(None);
    let pacer = Pacer::start(&plan, workers);
    let gate = pacer.as_ref().map(|p| Arc::clone(&p.gate));
    // Workers are spawned from a task on the runtime, not from the caller's thread (often the
    // `block_on` thread): spawning from outside wakes a runtime thread once per worker, and on
    // a client pinned to one core that ping-pong delayed the first requests by tens of ms.
    let spawner = tokio::spawn(async move {
        let mut handles = Vec::with_capacity(workers);
        for _ in 0..workers {
            let sender = conns.pop();
            // Unconstrained: tokio's cooperative budget would otherwise send a worker that just
            // finished a long stream to the back of the run queue before it writes its next
            // request, which at concurrency 1024 on one thread is a round of every stream.
            handles.push(tokio::spawn(tokio::task::unconstrained(worker(
                Arc::clone(&plan),
                Arc::clone(&shared),
                start_rx.clone(),
                gate.clone(),
                sender,
            ))));
        }
        shared.ready.wait().await;
        let t0 = Instant::now();
        if let Some(p) = &pacer {
            p.go(t0);
        }
        start_tx.send_replace(Some(t0));
        let mut done = Vec::with_capacity(workers);
        for h in handles {
            done.push(
                h.await
                    .map_err(|e| BenchError::Internal(format!("worker failed: {e}")))?,
            );
        }
        let duration = t0.elapsed();
        let mut records = Vec::with_capacity(plan.bodies.len());
        let mut returned = Vec::with_capacity(workers);
        for (recs, sender) in done {
            records.extend(recs);
            returned.extend(sender);
        }
        Ok::<_, BenchError>((records, returned, t0, duration))
    });
    let (mut records, returned, t0, duration) = spawner
        .await
        .map_err(|e| BenchError::Internal(format!("worker spawner failed: {e}")))??;
    records.sort_unstable_by_key(|r| r.index);
    Ok((records, t0, duration, returned))
}

/// Releases one send permit at each planned send time of an open-loop schedule, from its own OS
/// thread. tokio's timers tick in milliseconds, which made open-loop sends 1.05-1.22 ms late at
/// the median (1.75-2.34 ms at p99); this thread sleeps on the kernel's high-resolution timer with
/// its timer slack at 1 ns (itself 36-46 us late at the median here), and sends went out
/// 0.05-0.16 ms late at the median (0.17-0.71 ms at p99). It never spins: between sends it sleeps.
struct Pacer {
    gate: Arc<tokio::sync::Semaphore>,
    start: std::sync::mpsc::Sender<Instant>,
    /// Set when the run ends or is dropped: the thread releases every worker and exits.
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Pacer {
    /// A pacer for an open-loop `plan` (none for a closed loop, where every send is due at 0),
    /// waiting for [`Pacer::go`].
    fn start(plan: &Arc<Plan>, workers: usize) -> Option<Self> {
        if plan.schedule.iter().all(Duration::is_zero) {
            return None;
        }
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (start, t0) = std::sync::mpsc::channel();
        let all = plan.schedule.len() + workers;
        let (plan, g, halt) = (Arc::clone(plan), Arc::clone(&gate), Arc::clone(&stop));
        let spawned = std::thread::Builder::new()
            .name("servebench-pacer".into())
            .spawn(move || {
                if let Ok(t0) = t0.recv() {
                    pace(&plan, t0, &g, &halt);
                }
                // Once every send is released, one more permit per worker lets each see that
                // nothing is left and stop.
                g.add_permits(all);
            });
        if spawned.is_err() {
            // No thread: release everything now; workers fall back to tokio's timers.
            gate.add_permits(all);
        }
        Some(Self { gate, start, stop })
    }

    /// Starts the schedule at `t0`.
    fn go(&self, t0: Instant) {
        let _ = self.start.send(t0);
    }
}

impl Drop for Pacer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Releases one permit at `t0 + offset` for every offset of the schedule; past the deadline, or
/// when stopped, it returns at once (the caller then releases everything).
fn pace(
    plan: &Plan,
    t0: Instant,
    gate: &tokio::sync::Semaphore,
    stop: &std::sync::atomic::AtomicBool,
) {
    #[cfg(target_os = "linux")]
    let _ = nix::sys::prctl::set_timerslack(1);
    let deadline = plan.deadline.map(|d| t0 + d);
    for &offset in &plan.schedule {
        let at = t0 + offset;
        if deadline.is_some_and(|dl| at >= dl) {
            return;
        }
        loop {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let now = Instant::now();
            if now >= at {
                break;
            }
            // Short naps so that a stopped run is noticed.
            std::thread::sleep((at - now).min(Duration::from_millis(20)));
        }
        gate.add_permits(1);
    }
}

/// What the workers of one run share.
struct Shared {
    /// The next request index to send.
    next: AtomicUsize,
    /// Workers, to share the prefault budget.
    workers: usize,
    /// Requests per worker if they were spread evenly (to size each worker's record list).
    share: usize,
    /// Requests per unit of work.
    turns: usize,
    /// Every worker and the spawner meet here before the clock starts.
    ready: tokio::sync::Barrier,
}

async fn worker(
    plan: Arc<Plan>,
    shared: Arc<Shared>,
    mut start: tokio::sync::watch::Receiver<Option<Instant>>,
    gate: Option<Arc<tokio::sync::Semaphore>>,
    mut sender: Option<Conn>,
) -> (Vec<RequestRecord>, Option<Conn>) {
    // Room for a fair share and then some, touched now rather than during the run.
    let mut records = Vec::with_capacity(shared.share + shared.share / 4 + 4);
    records.resize_with(records.capacity(), || RequestRecord::new(0, Duration::ZERO));
    records.clear();
    let mut sse = SseParser::new();
    let mut text_buf = String::new();
    let mut itl_buf = itl_buffer(&plan.expected, shared.workers);
    shared.ready.wait().await;
    let t0 = start
        .wait_for(Option::is_some)
        .await
        .ok()
        .and_then(|t| *t)
        .unwrap_or_else(Instant::now);
    let mut free_at = t0;
    let deadline_at = plan.deadline.map(|d| t0 + d);
    loop {
        // Open loop: wait for the pacer to say the next send is due.
        if let Some(g) = &gate {
            match g.acquire().await {
                Ok(permit) => permit.forget(),
                Err(_) => break,
            }
        }
        let unit = shared.next.fetch_add(1, Ordering::Relaxed);
        let Some(&offset) = plan.schedule.get(unit) else {
            break;
        };
        let first = unit.saturating_mul(shared.turns);
        let last = first.saturating_add(shared.turns).min(plan.bodies.len());
        for i in first..last {
            // A later turn is due a think time after the previous one ended; the timer's own
            // lateness (tokio's millisecond wheel) is part of the simulated user, not counted.
            let (planned, eligible_floor) = if i == first {
                (t0 + offset, free_at)
            } else {
                let due = free_at + plan.think;
                if plan.think.is_zero() {
                    // Due at once: any delay is the client's.
                    (due, due)
                } else {
                    tokio::time::sleep_until(due.into()).await;
                    (due, Instant::now().max(due))
                }
            };
            let Some(rec) = send_one(
                &plan,
                &mut sender,
                &mut sse,
                &mut text_buf,
                &mut itl_buf,
                Turn {
                    index: i,
                    planned,
                    eligible_floor,
                    t0,
                    deadline_at,
                },
            )
            .await
            else {
                break;
            };
            // A failed turn does not end its session: the history of later turns is built
            // before the run, so they are still the requests the workload asks for.
            free_at = t0 + rec.end;
            records.push(rec);
        }
    }
    (records, sender)
}

/// One request of a unit, as the worker sends it.
struct Turn {
    index: usize,
    /// When it was due.
    planned: Instant,
    /// It cannot have been eligible before this (its worker was busy or the user was thinking).
    eligible_floor: Instant,
    t0: Instant,
    deadline_at: Option<Instant>,
}

/// Sends one request and returns its record (a request the deadline caught before it was sent
/// is a record too); `None` only for an index outside the plan.
async fn send_one(
    plan: &Plan,
    sender: &mut Option<Conn>,
    sse: &mut SseParser,
    text_buf: &mut String,
    itl_buf: &mut Vec<f64>,
    turn: Turn,
) -> Option<RequestRecord> {
    let Turn {
        index: i,
        planned: scheduled,
        eligible_floor,
        t0,
        deadline_at,
    } = turn;
    let body = plan.bodies.get(i)?;
    let mut rec = RequestRecord::new(i, scheduled.saturating_duration_since(t0));
    if let Some(dl) = deadline_at
        && scheduled.max(Instant::now()) >= dl
    {
        rec.error = Some(RequestError::new(
            ErrorKind::Deadline,
            "not sent before the deadline",
        ));
        rec.end = Instant::now().saturating_duration_since(t0);
        return Some(rec);
    }
    if scheduled > Instant::now() {
        tokio::time::sleep_until(scheduled.into()).await;
    }
    let eligible = scheduled.max(eligible_floor);
    let sent = Instant::now();
    rec.eligible = eligible.saturating_duration_since(t0);
    rec.sent = Some(sent.saturating_duration_since(t0));
    let mut limit = sent + plan.timeout;
    let mut limit_is_deadline = false;
    if let Some(dl) = deadline_at
        && dl < limit
    {
        limit = dl;
        limit_is_deadline = true;
    }
    let mut state = StreamState::new(
        std::mem::take(itl_buf),
        plan.keep_text,
        std::mem::take(text_buf),
    );
    let outcome = tokio::time::timeout_at(
        limit.into(),
        one_request(plan, sender, body, sse, &mut state),
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
        *sender = None;
    }
    state.finish_into(&mut rec, t0);
    *itl_buf = std::mem::take(&mut state.itl);
    itl_buf.clear();
    if plan.keep_text {
        rec.text = Some(std::mem::take(&mut state.text));
    } else {
        *text_buf = std::mem::take(&mut state.text);
        text_buf.clear();
    }
    rec.error = error;
    rec.end = end.saturating_duration_since(t0);
    Some(rec)
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
    usage_cached: Option<u64>,
    keep_text: bool,
    text: String,
    failed: Option<RequestError>,
}

impl StreamState {
    /// `itl` is the worker's prepared buffer ([`itl_buffer`]), empty.
    fn new(itl: Vec<f64>, keep_text: bool, text: String) -> Self {
        Self {
            first: None,
            last: None,
            chunks: 0,
            itl,
            done: false,
            head: false,
            wrote: None,
            usage_prompt: None,
            usage_completion: None,
            usage_cached: None,
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
                if info.cached_tokens.is_some() {
                    self.usage_cached = info.cached_tokens;
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
        // An exact-size copy: the worker's buffer is reused by its next request.
        rec.itl = self.itl.clone();
        rec.usage_prompt_tokens = self.usage_prompt;
        rec.usage_completion_tokens = self.usage_completion;
        rec.usage_cached_tokens = self.usage_cached;
    }
}

/// Sends one request on the worker's connection, opening a fresh one when there is none or the
/// server closed it. A kept-alive connection that turns out dead before any response byte (the
/// server closed it while the request was on its way) gets one retry on a fresh connection.
async fn one_request(
    plan: &Plan,
    conn: &mut Option<Conn>,
    body: &[u8],
    sse: &mut SseParser,
    state: &mut StreamState,
) -> Result<(), RequestError> {
    let mut attempt = 0;
    let c = loop {
        attempt += 1;
        let fresh = !conn.as_mut().is_some_and(Conn::usable);
        if fresh {
            *conn = None;
            let c = connect(plan.target.addr)
                .await
                .map_err(|e| RequestError::new(ErrorKind::ConnectError, e.to_string()))?;
            *conn = Some(c);
        }
        let Some(c) = conn.as_mut() else {
            return Err(RequestError::new(ErrorKind::ConnectError, "no connection"));
        };
        let retry = !fresh && attempt == 1;
        match c.send(&plan.head, body).await {
            Ok(t) => state.wrote = Some(t),
            Err(_) if retry => {
                *conn = None;
                continue;
            }
            Err(e) => {
                *conn = None;
                return Err(RequestError::new(ErrorKind::RequestError, e.to_string()));
            }
        }
        match c.read_head().await {
            Ok(head) => break (c, head),
            Err(HttpError::NoResponse(_)) if retry => *conn = None,
            Err(HttpError::NoResponse(msg) | HttpError::BadHead(msg)) => {
                *conn = None;
                return Err(RequestError::new(ErrorKind::RequestError, msg));
            }
            Err(HttpError::Cut(msg)) => {
                *conn = None;
                return Err(RequestError::new(ErrorKind::StreamCut, msg));
            }
        }
    };
    let (c, head) = c;
    state.head = true;
    let arrived = c.last_read;
    let cut = |e: HttpError| {
        let msg = match e {
            HttpError::NoResponse(m) | HttpError::BadHead(m) | HttpError::Cut(m) => m,
        };
        RequestError::new(ErrorKind::StreamCut, msg)
    };
    if head.status != 200 {
        let mut msg = Vec::new();
        let read = c
            .read_body(&head, arrived, &mut |d, _| {
                if msg.len() < 512 {
                    msg.extend_from_slice(d);
                }
                true
            })
            .await;
        if read.is_err() {
            *conn = None;
        }
        msg.truncate(512);
        return Err(RequestError::new(
            ErrorKind::Http(head.status),
            String::from_utf8_lossy(&msg).into_owned(),
        ));
    }
    if !plan.streaming {
        let mut whole = Vec::new();
        let mut last = arrived;
        let mut too_large = false;
        let read = c
            .read_body(&head, arrived, &mut |d, t| {
                if whole.len() + d.len() > MAX_BODY {
                    too_large = true;
                    return false;
                }
                whole.extend_from_slice(d);
                last = t;
                true
            })
            .await;
        if let Err(e) = read {
            *conn = None;
            return Err(cut(e));
        }
        if too_large {
            *conn = None;
            return Err(RequestError::new(
                ErrorKind::InvalidChunk,
                format!(
                    "response body larger than {} MiB (the client's limit for a non-streamed answer)",
                    MAX_BODY >> 20
                ),
            ));
        }
        state.on_event(&whole, last);
        state.done = true;
        if let Some(e) = state.failed.take() {
            return Err(e);
        }
        if state.first.is_none() {
            return Err(RequestError::new(
                ErrorKind::EmptyStream,
                "response has no choices",
            ));
        }
        return Ok(());
    }
    sse.reset();
    let read = c
        .read_body(&head, arrived, &mut |d, t| {
            sse.feed(d, &mut |ev| state.on_event(ev, t));
            if sse.overflowed() && state.failed.is_none() {
                state.failed = Some(RequestError::new(
                    ErrorKind::InvalidChunk,
                    format!(
                        "server-sent event larger than {} MiB (the client's limit per event)",
                        crate::sse::MAX_EVENT >> 20
                    ),
                ));
            }
            state.failed.is_none()
        })
        .await;
    if let Some(e) = state.failed.take() {
        *conn = None;
        return Err(e);
    }
    if let Err(e) = read {
        *conn = None;
        return Err(cut(e));
    }
    if !state.done {
        return Err(RequestError::new(
            ErrorKind::StreamCut,
            "stream ended without [DONE]",
        ));
    }
    if state.first.is_none() {
        return Err(RequestError::new(
            ErrorKind::EmptyStream,
            "stream carried no choices",
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
