//! A minimal, fast OpenAI-compatible streaming server for client benchmarks: it answers at once,
//! one token per SSE event, every stream writing one event per scheduler round (like a decode
//! iteration over the batch), on a single thread (pin it to a core with `taskset`).
//!
//! `GET /stats` returns what it served since start or the last `GET /reset`: requests, tokens,
//! the busy window (first request byte to last event written) and server-side TTFT percentiles,
//! so that every client is measured the same way: `ttft_*` from the kernel's arrival stamp of a
//! request's first byte to its first event written (this is the server's truth: it includes the
//! time a request waited while this one thread served other streams), `ttft_read_*` from the
//! server's read of that byte (what the server alone would think it took).
//!
//! Usage: `fast_server [PORT [ITL_US]]` (port 0 or none picks one); prints `listening on ADDR`.
//! With `ITL_US` > 0 each stream sends its tokens that many microseconds apart (the first at
//! once), so a client can be measured below its saturation point.

use std::cell::RefCell;
use std::io::Write as _;
use std::rc::Rc;
use std::time::Instant;

use servebench_loadgen::rxstamp::{self, StampedReader};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

#[derive(Default)]
struct Stats {
    requests: u64,
    tokens: u64,
    first: Option<Instant>,
    last: Option<Instant>,
    /// First request byte's arrival (kernel stamp) to the first event written.
    ttft_us: Vec<f64>,
    /// The server's read of the first request byte to the first event written: leaves out the
    /// time the request waited in the socket while this single thread served other streams.
    ttft_read_us: Vec<f64>,
}

/// When a request's first byte arrived (kernel stamp) and when this server read it.
#[derive(Clone, Copy)]
struct Received {
    arrived: Instant,
    read: Instant,
}

impl Received {
    fn now() -> Self {
        let now = Instant::now();
        Self {
            arrived: now,
            read: now,
        }
    }

    fn record_ttft(&self, st: &mut Stats) {
        st.ttft_us.push(self.arrived.elapsed().as_secs_f64() * 1e6);
        st.ttft_read_us
            .push(self.read.elapsed().as_secs_f64() * 1e6);
    }
}

type Shared = Rc<RefCell<Stats>>;

static ITL_US: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let itl_us: u64 = std::env::args()
        .nth(2)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    ITL_US.store(itl_us, std::sync::atomic::Ordering::Relaxed);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        println!("listening on {}", listener.local_addr()?);
        std::io::stdout().flush()?;
        let stats: Shared = Rc::default();
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            rxstamp::enable(&stream);
            tokio::task::spawn_local(serve(Rc::clone(&stats), stream));
        }
    })
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

fn number_after(body: &[u8], key: &[u8]) -> Option<u64> {
    let i = find(body, key)? + key.len();
    let digits: Vec<u8> = body
        .get(i..)?
        .iter()
        .copied()
        .skip_while(|c| *c == b' ')
        .take_while(u8::is_ascii_digit)
        .collect();
    std::str::from_utf8(&digits).ok()?.parse().ok()
}

async fn serve(stats: Shared, mut s: TcpStream) {
    let mut buf: Vec<u8> = Vec::with_capacity(16384);
    let mut tmp = vec![0u8; 65536];
    let mut rx = StampedReader::new();
    loop {
        // Read one request.
        let mut received = if buf.is_empty() {
            None
        } else {
            Some(Received::now())
        };
        let head_end = loop {
            if let Some(i) = find(&buf, b"\r\n\r\n") {
                break i + 4;
            }
            match rx.read(&s, &mut tmp).await {
                Ok((0, _)) | Err(_) => return,
                Ok((n, arrived)) => {
                    received.get_or_insert_with(|| Received {
                        arrived,
                        read: Instant::now(),
                    });
                    buf.extend_from_slice(&tmp[..n]);
                }
            }
        };
        let received = received.unwrap_or_else(Received::now);
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let len = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse::<usize>().ok())
                    .flatten()
            })
            .unwrap_or(0);
        while buf.len() < head_end + len {
            match rx.read(&s, &mut tmp).await {
                Ok((0, _)) | Err(_) => return,
                Ok((n, _)) => buf.extend_from_slice(&tmp[..n]),
            }
        }
        let body: Vec<u8> = buf[head_end..head_end + len].to_vec();
        buf.drain(..head_end + len);
        let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
        let ok = match path.as_str() {
            "/v1/models" => {
                json(
                    &mut s,
                    r#"{"object":"list","data":[{"id":"fast","object":"model"}]}"#,
                )
                .await
            }
            "/reset" => {
                *stats.borrow_mut() = Stats::default();
                json(&mut s, "{}").await
            }
            "/stats" => {
                let doc = {
                    let mut st = stats.borrow_mut();
                    st.ttft_us.sort_by(f64::total_cmp);
                    st.ttft_read_us.sort_by(f64::total_cmp);
                    let pct = |v: &[f64], p: f64| {
                        let n = v.len();
                        if n == 0 {
                            0.0
                        } else {
                            v[((n - 1) as f64 * p).round() as usize]
                        }
                    };
                    let window = match (st.first, st.last) {
                        (Some(a), Some(b)) => (b - a).as_secs_f64(),
                        _ => 0.0,
                    };
                    format!(
                        r#"{{"requests":{},"tokens":{},"window_s":{window},"ttft_p50_us":{},"ttft_p99_us":{},"ttft_read_p50_us":{},"ttft_read_p99_us":{}}}"#,
                        st.requests,
                        st.tokens,
                        pct(&st.ttft_us, 0.5),
                        pct(&st.ttft_us, 0.99),
                        pct(&st.ttft_read_us, 0.5),
                        pct(&st.ttft_read_us, 0.99)
                    )
                };
                json(&mut s, &doc).await
            }
            _ => complete(&stats, &mut s, received, &path, &body).await,
        };
        if !ok {
            return;
        }
    }
}

async fn json(s: &mut TcpStream, doc: &str) -> bool {
    let resp = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{doc}",
        doc.len()
    );
    s.write_all(resp.as_bytes()).await.is_ok()
}

async fn complete(
    stats: &Shared,
    s: &mut TcpStream,
    received: Received,
    path: &str,
    body: &[u8],
) -> bool {
    let chat = path.ends_with("/chat/completions");
    let max_tokens = number_after(body, b"\"max_tokens\":")
        .or_else(|| number_after(body, b"\"max_completion_tokens\":"))
        .unwrap_or(16);
    let stream =
        find(body, b"\"stream\":true").is_some() || find(body, b"\"stream\": true").is_some();
    // The usage chunk (`choices: []`) only for clients that ask for it, as vLLM does.
    let usage_chunk = find(body, b"\"include_usage\":true").is_some()
        || find(body, b"\"include_usage\": true").is_some();
    let prompt_tokens = 0;
    {
        let mut st = stats.borrow_mut();
        st.requests += 1;
        st.first.get_or_insert(received.arrived);
    }
    if !stream {
        let text = " t".repeat(max_tokens as usize);
        let doc = if chat {
            format!(
                r#"{{"id":"c","object":"chat.completion","model":"fast","choices":[{{"index":0,"message":{{"role":"assistant","content":"{text}"}},"finish_reason":"length"}}],"usage":{{"prompt_tokens":{prompt_tokens},"completion_tokens":{max_tokens},"total_tokens":{max_tokens}}}}}"#
            )
        } else {
            format!(
                r#"{{"id":"c","object":"text_completion","model":"fast","choices":[{{"index":0,"text":"{text}","finish_reason":"length"}}],"usage":{{"prompt_tokens":{prompt_tokens},"completion_tokens":{max_tokens},"total_tokens":{max_tokens}}}}}"#
            )
        };
        let ok = json(s, &doc).await;
        let mut st = stats.borrow_mut();
        st.tokens += max_tokens;
        received.record_ttft(&mut st);
        st.last = Some(Instant::now());
        return ok;
    }
    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n";
    if s.write_all(head.as_bytes()).await.is_err() {
        return false;
    }
    let event = if chat {
        "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":0,\"model\":\"fast\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" t\"},\"finish_reason\":null}]}\n\n"
    } else {
        "data: {\"id\":\"c\",\"object\":\"text_completion\",\"created\":0,\"model\":\"fast\",\"choices\":[{\"index\":0,\"text\":\" t\",\"logprobs\":null,\"finish_reason\":null}]}\n\n"
    };
    let mut chunk = format!("{:x}\r\n", event.len()).into_bytes();
    chunk.extend_from_slice(event.as_bytes());
    chunk.extend_from_slice(b"\r\n");
    let itl = std::time::Duration::from_micros(ITL_US.load(std::sync::atomic::Ordering::Relaxed));
    let mut next = Instant::now();
    for i in 0..max_tokens {
        if !itl.is_zero() && i > 0 {
            next += itl;
            tokio::time::sleep_until(next.into()).await;
        }
        if s.write_all(&chunk).await.is_err() {
            return false;
        }
        if i == 0 {
            received.record_ttft(&mut stats.borrow_mut());
        }
        stats.borrow_mut().tokens += 1;
        // One event per stream per round, like one decode iteration over the batch.
        if itl.is_zero() {
            tokio::task::yield_now().await;
        }
    }
    let usage = if !usage_chunk {
        "data: [DONE]\n\n".to_owned()
    } else if chat {
        format!(
            "data: {{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"fast\",\"choices\":[],\"usage\":{{\"prompt_tokens\":{prompt_tokens},\"completion_tokens\":{max_tokens},\"total_tokens\":{max_tokens}}}}}\n\ndata: [DONE]\n\n"
        )
    } else {
        format!(
            "data: {{\"id\":\"c\",\"object\":\"text_completion\",\"model\":\"fast\",\"choices\":[],\"usage\":{{\"prompt_tokens\":{prompt_tokens},\"completion_tokens\":{max_tokens},\"total_tokens\":{max_tokens}}}}}\n\ndata: [DONE]\n\n"
        )
    };
    let mut tail = format!("{:x}\r\n", usage.len()).into_bytes();
    tail.extend_from_slice(usage.as_bytes());
    tail.extend_from_slice(b"\r\n0\r\n\r\n");
    let ok = s.write_all(&tail).await.is_ok();
    stats.borrow_mut().last = Some(Instant::now());
    ok
}
