//! A deterministic OpenAI-compatible test server with known timing and injectable faults.
//!
//! It speaks just enough HTTP/1.1 by hand (keep-alive, chunked responses) so that its timestamps
//! are taken at the socket: `received` when the first byte of a request arrives, and each event's
//! time right after its bytes were written.
//!
//! The prompt (a string) selects the behaviour, as `;`-separated `key=value` pairs after a name:
//! `req-3;ttft=20;itl=5;chunk=1;usage=1` streams `max_tokens` tokens, `chunk` per event, the
//! first after `ttft` ms and the others every `itl` ms, then a usage event and `[DONE]`.
//! Faults: `status=503`, `cut=N` (connection dropped after N events), `hang=N` (silence after N
//! events), `nodone=1`, `badjson=1`, `error=1` (an error event).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What the server did for one request.
#[derive(Debug, Clone)]
pub struct Truth {
    pub received: Instant,
    pub events: Vec<Instant>,
    pub tokens: u64,
}

impl Truth {
    pub fn gaps(&self) -> Vec<f64> {
        self.events
            .windows(2)
            .map(|w| (w[1] - w[0]).as_secs_f64())
            .collect()
    }
}

#[derive(Default)]
pub struct State {
    pub truths: Mutex<HashMap<String, Truth>>,
    pub requests: AtomicUsize,
    pub connections: AtomicUsize,
    in_flight: AtomicUsize,
    pub peak_in_flight: AtomicUsize,
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub state: Arc<State>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    /// Starts the server on its own runtime thread, bound to 127.0.0.1:0.
    pub fn start() -> Self {
        let state = Arc::new(State::default());
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
        let st = Arc::clone(&state);
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                loop {
                    tokio::select! {
                        _ = &mut stop_rx => break,
                        acc = listener.accept() => {
                            let Ok((stream, _)) = acc else { continue };
                            stream.set_nodelay(true).unwrap();
                            st.connections.fetch_add(1, Ordering::SeqCst);
                            tokio::spawn(serve(Arc::clone(&st), stream));
                        }
                    }
                }
            });
            rt.shutdown_timeout(Duration::from_millis(100));
        });
        let addr = addr_rx.recv().unwrap();
        Self {
            addr,
            state,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn truth(&self, name: &str) -> Truth {
        self.state
            .truths
            .lock()
            .unwrap()
            .get(name)
            .cloned()
            .unwrap_or_else(|| panic!("no truth for {name}"))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn param(spec: &str, key: &str) -> Option<u64> {
    spec.split(';').skip(1).find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| v.parse().ok()).flatten()
    })
}

/// Reads one request: (time of its first byte, path, body); `None` at end of connection.
async fn read_request(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
) -> Option<(Instant, String, Vec<u8>)> {
    let mut first: Option<Instant> = if buf.is_empty() {
        None
    } else {
        Some(Instant::now())
    };
    let mut chunk = [0u8; 16384];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        first.get_or_insert_with(Instant::now);
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())
                .flatten()
        })
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[head_end..head_end + len].to_vec();
    buf.drain(..head_end + len);
    Some((first?, path, body))
}

async fn serve(st: Arc<State>, mut stream: TcpStream) {
    let mut buf = Vec::new();
    while let Some((received, path, body)) = read_request(&mut stream, &mut buf).await {
        st.requests.fetch_add(1, Ordering::SeqCst);
        if !respond(&st, &mut stream, received, &path, &body).await {
            return;
        }
    }
}

async fn write_chunk(stream: &mut TcpStream, data: &[u8]) -> bool {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    stream.write_all(&out).await.is_ok()
}

/// Answers one request; false when the connection must end.
async fn respond(
    st: &State,
    stream: &mut TcpStream,
    received: Instant,
    path: &str,
    body: &[u8],
) -> bool {
    if path == "/v1/models" {
        let doc = r#"{"object":"list","data":[{"id":"test-model","object":"model"}]}"#;
        let resp = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{doc}",
            doc.len()
        );
        return stream.write_all(resp.as_bytes()).await.is_ok();
    }
    // Cheap field extraction (no JSON parser), so that the server keeps up in debug builds.
    let text = String::from_utf8_lossy(body);
    let chat = path == "/v1/chat/completions";
    let after = |key: &str| text.find(key).map(|i| &text[i + key.len()..]);
    let string_at = |key: &str| {
        after(key)
            .and_then(|r| r.split('"').next())
            .map(str::to_owned)
    };
    let spec = if chat {
        string_at("\"content\":\"").unwrap()
    } else {
        string_at("\"prompt\":\"").unwrap_or_else(|| {
            format!(
                "ids-{}",
                after("\"prompt\":")
                    .unwrap_or("")
                    .split(']')
                    .next()
                    .unwrap_or("")
            )
        })
    };
    let name = spec.split(';').next().unwrap().to_owned();
    let max_tokens: u64 = after("\"max_tokens\":")
        .map(|r| {
            r.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
        .unwrap()
        .parse()
        .unwrap();
    let stream_mode = text.contains("\"stream\":true");
    if let Some(code) = param(&spec, "status") {
        let msg = "{\"error\":\"injected\"}";
        let resp = format!(
            "HTTP/1.1 {code} Injected\r\ncontent-length: {}\r\n\r\n{msg}",
            msg.len()
        );
        return stream.write_all(resp.as_bytes()).await.is_ok();
    }
    let ttft = Duration::from_millis(param(&spec, "ttft").unwrap_or(0));
    let itl = Duration::from_millis(param(&spec, "itl").unwrap_or(0));
    let per_chunk = param(&spec, "chunk").unwrap_or(1).max(1);
    let usage = param(&spec, "usage").unwrap_or(1) == 1;
    let prompt_tokens = 7u64;
    let inflight = st.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    st.peak_in_flight.fetch_max(inflight, Ordering::SeqCst);
    let mut events = Vec::new();
    let mut sent_tokens = 0u64;
    let mut next = received + ttft;
    let mut n_events = 0u64;
    let finish = |events: Vec<Instant>, tokens: u64| {
        st.in_flight.fetch_sub(1, Ordering::SeqCst);
        st.truths.lock().unwrap().insert(
            name.clone(),
            Truth {
                received,
                events,
                tokens,
            },
        );
    };
    if !stream_mode {
        tokio::time::sleep_until(next.into()).await;
        let text = "x".repeat(max_tokens as usize);
        let doc = serde_json::json!({
            "choices": [{"index": 0, "text": text, "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": max_tokens},
        })
        .to_string();
        let resp = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{doc}",
            doc.len()
        );
        events.push(Instant::now());
        finish(events, max_tokens);
        return stream.write_all(resp.as_bytes()).await.is_ok();
    }
    let head =
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
    if stream.write_all(head.as_bytes()).await.is_err() {
        finish(events, 0);
        return false;
    }
    while sent_tokens < max_tokens {
        tokio::time::sleep_until(next.into()).await;
        if param(&spec, "cut") == Some(n_events) {
            finish(events, sent_tokens);
            return false;
        }
        if param(&spec, "hang") == Some(n_events) {
            finish(events, sent_tokens);
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return false;
        }
        let k = per_chunk.min(max_tokens - sent_tokens);
        let text = "t".repeat(k as usize);
        let ev = if param(&spec, "badjson") == Some(n_events) {
            "data: {not json\n\n".to_owned()
        } else if param(&spec, "error") == Some(n_events) {
            "data: {\"error\":{\"message\":\"boom\"}}\n\n".to_owned()
        } else if chat {
            format!(
                "data: {{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{text}\"}}}}]}}\n\n"
            )
        } else {
            format!("data: {{\"choices\":[{{\"index\":0,\"text\":\"{text}\"}}]}}\n\n")
        };
        if !write_chunk(stream, ev.as_bytes()).await {
            finish(events, sent_tokens);
            return false;
        }
        events.push(Instant::now());
        sent_tokens += k;
        n_events += 1;
        next += itl;
    }
    let mut tail = String::new();
    if usage {
        tail.push_str(&format!(
            "data: {{\"choices\":[],\"usage\":{{\"prompt_tokens\":{prompt_tokens},\"completion_tokens\":{sent_tokens}}}}}\n\n"
        ));
    }
    if param(&spec, "nodone") != Some(1) {
        tail.push_str("data: [DONE]\n\n");
    }
    finish(events, sent_tokens);
    write_chunk(stream, tail.as_bytes()).await && stream.write_all(b"0\r\n\r\n").await.is_ok()
}
