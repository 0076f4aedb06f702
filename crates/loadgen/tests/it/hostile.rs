//! A hostile server: broken chunked encoding, huge and garbage heads, slow drips past the
//! timeout, connections reset mid-body, broken SSE JSON, endless events and bodies, and
//! arbitrary bytes. The built-in client counts each as a failed request, never panics, ends
//! within its timeout, and holds at most its documented limits in memory (`MAX_HEAD` 64 KiB,
//! `MAX_EVENT` and `MAX_BODY` 16 MiB; the errors name them).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use servebench_loadgen::{BenchConfig, BenchError, DatasetSpec, ErrorKind, run_benchmark};

use super::{dataset, rt, serial};

/// What the server does on a connection once it has read the request.
type Behaviour = Arc<dyn Fn(&mut TcpStream) + Send + Sync>;

const SSE_HEAD: &str =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
const TIMEOUT: Duration = Duration::from_millis(500);

/// A server on its own threads whose behaviour can be swapped between runs.
struct Hostile {
    addr: SocketAddr,
    behaviour: Arc<Mutex<Behaviour>>,
}

impl Hostile {
    fn start(b: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let behaviour = Arc::new(Mutex::new(b));
        let shared = Arc::clone(&behaviour);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let b = Arc::clone(&*shared.lock().unwrap());
                std::thread::spawn(move || {
                    // Keep-alive: answer every request on the connection the same way.
                    while read_request(&mut stream) {
                        b(&mut stream);
                    }
                });
            }
        });
        Hostile { addr, behaviour }
    }

    fn set(&self, b: Behaviour) {
        *self.behaviour.lock().unwrap() = b;
    }
}

/// Reads one request head and its `Content-Length` body; false at end of stream.
fn read_request(s: &mut TcpStream) -> bool {
    let mut got = Vec::new();
    let mut byte = [0u8; 4096];
    loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            let mut have = got.len() - end - 4;
            while have < len {
                match s.read(&mut byte) {
                    Ok(0) | Err(_) => return false,
                    Ok(n) => have += n,
                }
            }
            return true;
        }
        match s.read(&mut byte) {
            Ok(0) | Err(_) => return false,
            Ok(n) => got.extend_from_slice(&byte[..n]),
        }
    }
}

fn send(bytes: &'static [u8]) -> Behaviour {
    Arc::new(move |s| {
        let _ = s.write_all(bytes);
    })
}

fn send_then_close(bytes: Vec<u8>) -> Behaviour {
    Arc::new(move |s| {
        let _ = s.write_all(&bytes);
        let _ = s.shutdown(std::net::Shutdown::Both);
    })
}

/// `prefix`, then one byte of `rest` every 20 ms (the client's timeout is 500 ms).
fn drip(prefix: &'static [u8], rest: &'static [u8]) -> Behaviour {
    Arc::new(move |s| {
        let _ = s.write_all(prefix);
        for b in rest.iter().cycle() {
            std::thread::sleep(Duration::from_millis(20));
            if s.write_all(&[*b]).is_err() {
                return;
            }
        }
    })
}

/// One chunk of chunked encoding.
fn chunk(data: &str) -> String {
    format!("{:x}\r\n{data}\r\n", data.len())
}

fn config(addr: SocketAddr, file: &tempfile::NamedTempFile, streaming: bool) -> BenchConfig {
    let mut cfg = BenchConfig::new(
        format!("http://{addr}"),
        DatasetSpec::Jsonl {
            path: file.path().into(),
        },
    );
    cfg.model = Some("m".into());
    cfg.num_prompts = 2;
    cfg.max_concurrency = Some(1);
    cfg.streaming = streaming;
    cfg.request_timeout = TIMEOUT;
    cfg
}

/// Runs two requests against the server; both fail, with `kind`, within the timeout; the
/// error of the first contains `says`.
fn expect_failure(srv: &Hostile, streaming: bool, kind: ErrorKind, says: &str) {
    let f = dataset(&[("a".into(), 2), ("b".into(), 2)]);
    let cfg = config(srv.addr, &f, streaming);
    let start = Instant::now();
    let report = rt().block_on(run_benchmark(&cfg)).unwrap();
    let took = start.elapsed();
    assert!(
        took < 2 * TIMEOUT + Duration::from_millis(1500),
        "took {took:?}"
    );
    assert_eq!(report.metrics.failed, 2, "{:?}", report.requests);
    assert_eq!(report.metrics.completed, 0);
    for r in &report.requests {
        let e = r.error.as_ref().unwrap();
        assert_eq!(e.kind, kind, "{e:?}");
        assert!(e.message.contains(says), "{e:?} does not say {says:?}");
    }
}

#[test]
fn broken_chunked_encoding() {
    let _serial = serial();
    let event = chunk("data: {\"choices\":[{\"text\":\"a\"}]}\n\n");
    let cases: Vec<(String, &str)> = vec![
        (format!("{SSE_HEAD}zz\r\ndata\r\n"), "bad chunk size `zz`"),
        (format!("{SSE_HEAD}-5\r\nhello\r\n"), "bad chunk size"),
        (format!("{SSE_HEAD}0x5\r\nhello\r\n"), "bad chunk size"),
        (format!("{SSE_HEAD}\r\n"), "bad chunk size"),
        (
            format!("{SSE_HEAD}{event}1ffffffffffffffffff\r\n"),
            "bad chunk size `1ffffffffffffffffff`",
        ),
        (
            format!("{SSE_HEAD}{event}5\r\nhelloXX\r\n0\r\n\r\n"),
            "bad chunk terminator",
        ),
        (
            format!("{SSE_HEAD}{}", "f".repeat(8192)),
            "longer than 4096 bytes",
        ),
        // A size near 2^64: the body can never be complete; the close cuts it.
        (
            format!("{SSE_HEAD}ffffffffffffffff\r\n: a comment\n"),
            "middle of the body",
        ),
    ];
    let srv = Hostile::start(send(b""));
    for (resp, says) in cases {
        srv.set(send_then_close(resp.into_bytes()));
        expect_failure(&srv, true, ErrorKind::StreamCut, says);
    }
}

#[test]
fn huge_and_garbage_heads() {
    let _serial = serial();
    let srv = Hostile::start(send(b""));
    let mut huge = b"HTTP/1.1 200 OK\r\nX-Junk: ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 1 << 20));
    huge.extend_from_slice(b"\r\n\r\n");
    let many: String = (0..100).map(|i| format!("X-H{i}: v\r\n")).collect();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (huge, "larger than 64 KiB"),
        (
            format!("HTTP/1.1 200 OK\r\n{many}\r\n").into_bytes(),
            "too many headers",
        ),
        (b"HTCPCP/1.0 418 teapot\r\n\r\n".to_vec(), "version"),
        (b"HTTP/1.1 2000 OK\r\n\r\n".to_vec(), "status"),
        (b"\x00\x01\x02\xff garbage\r\n\r\n".to_vec(), ""),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: lots\r\n\r\n".to_vec(),
            "bad content-length `lots`",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n".to_vec(),
            "bad content-length",
        ),
    ];
    for (resp, says) in cases {
        srv.set(send_then_close(resp));
        expect_failure(&srv, true, ErrorKind::RequestError, says);
    }
    // A head cut short by the server.
    srv.set(send_then_close(b"HTTP/1.1 200 OK\r\nContent-Le".to_vec()));
    expect_failure(&srv, true, ErrorKind::StreamCut, "inside the response head");
}

#[test]
fn slow_drips_end_at_the_timeout() {
    let _serial = serial();
    let srv = Hostile::start(drip(b"HTTP/1.1 200 OK\r\n", b"X-Slow: a\r\n"));
    expect_failure(&srv, true, ErrorKind::Timeout, "within 0.500 s");
    // A head, then an event one byte at a time that never completes in time.
    srv.set(drip(
        SSE_HEAD.as_bytes(),
        b"100\r\ndata: {\"choices\":[{\"text\":\"a\"}]}",
    ));
    expect_failure(&srv, true, ErrorKind::Timeout, "within 0.500 s");
    // Valid events dripped slowly: the stream never ends in time.
    srv.set(drip(SSE_HEAD.as_bytes(), b"1\r\n\n\r\n"));
    expect_failure(&srv, true, ErrorKind::Timeout, "within 0.500 s");
    // Non-streaming: a body dripped past its length's reach.
    srv.set(drip(
        b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n",
        b"{",
    ));
    expect_failure(&srv, false, ErrorKind::Timeout, "within 0.500 s");
    // Model discovery dripped: the run ends with a bad-server error, not a hang.
    let f = dataset(&[("a".into(), 2)]);
    let mut cfg = config(srv.addr, &f, true);
    cfg.model = None;
    let start = Instant::now();
    let err = rt().block_on(run_benchmark(&cfg)).unwrap_err();
    assert!(start.elapsed() < TIMEOUT + Duration::from_secs(1));
    assert!(matches!(err, BenchError::BadServer { .. }), "{err}");
    assert!(err.to_string().contains("within 0.500 s"), "{err}");
}

/// A server that reads only the first bytes of each request, writes `bytes` and closes: with
/// request bytes still unread, Linux answers the close with a reset (RST), not a FIN.
fn resetting(bytes: &'static [u8]) -> Hostile {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut first = [0u8; 8];
            let _ = s.read_exact(&mut first);
            let _ = s.write_all(bytes);
            std::thread::sleep(Duration::from_millis(5));
            drop(s);
        }
    });
    Hostile {
        addr,
        behaviour: Arc::new(Mutex::new(send(b""))),
    }
}

#[test]
fn resets_mid_body() {
    let _serial = serial();
    let half = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n30\r\ndata: {\"choices\":[{\"text\"";
    // A close (FIN) mid-body.
    let srv = Hostile::start(send_then_close(half.as_bytes().to_vec()));
    expect_failure(&srv, true, ErrorKind::StreamCut, "middle of the body");
    // A reset mid-body: the head arrived, the body broke off.
    let srv = resetting(half.as_bytes());
    let f = dataset(&[("a".into(), 2), ("b".into(), 2)]);
    let start = Instant::now();
    let report = rt()
        .block_on(run_benchmark(&config(srv.addr, &f, true)))
        .unwrap();
    assert!(start.elapsed() < Duration::from_secs(2));
    assert_eq!(report.metrics.failed, 2, "{:?}", report.requests);
    for r in &report.requests {
        let kind = r.error.as_ref().unwrap().kind;
        // The reset can overtake the head (no response) or follow it (cut).
        assert!(
            matches!(kind, ErrorKind::StreamCut | ErrorKind::RequestError),
            "{r:?}"
        );
    }
    // A reset before any response byte: no response, even after the one retry.
    let srv = resetting(b"");
    expect_failure(&srv, true, ErrorKind::RequestError, "");
}

#[test]
fn broken_sse_events() {
    let _serial = serial();
    let srv = Hostile::start(send(b""));
    let bad = [
        "data: {\"choices\": [{\"text\": \"a\"\n\n",
        "data: not json\n\n",
        "data: {\"choices\": [{\"text\": 5}]}\n\n",
        "data: \u{0}\u{1}\n\n",
        "data: {\"choices\": {}}\n\n",
    ];
    for ev in bad {
        let resp = format!("{SSE_HEAD}{}0\r\n\r\n", chunk(ev));
        srv.set(send_then_close(resp.into_bytes()));
        expect_failure(&srv, true, ErrorKind::InvalidChunk, "");
    }
    // An event that never ends (no newline), 17 MiB: refused at the 16 MiB limit.
    let mut endless = SSE_HEAD.as_bytes().to_vec();
    let piece = "x".repeat(1 << 20);
    endless.extend_from_slice(chunk("data: ").as_bytes());
    for _ in 0..17 {
        endless.extend_from_slice(chunk(&piece).as_bytes());
    }
    srv.set(send_then_close(endless));
    expect_failure(&srv, true, ErrorKind::InvalidChunk, "larger than 16 MiB");
    // A non-streamed body of 17 MiB: refused at the 16 MiB limit.
    let mut body = b"HTTP/1.1 200 OK\r\nContent-Length: 17825792\r\n\r\n".to_vec();
    body.extend(std::iter::repeat_n(b' ', 17 << 20));
    srv.set(send_then_close(body));
    expect_failure(&srv, false, ErrorKind::InvalidChunk, "larger than 16 MiB");
}

proptest! {
    /// Arbitrary bytes after a valid or garbage head, streamed or not: every request ends within
    /// the timeout, as a success or a counted failure, and nothing panics.
    #[test]
    fn arbitrary_responses_are_counted(
        head in prop_oneof![
            Just(SSE_HEAD.to_string()),
            Just("HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n".to_string()),
            Just("HTTP/1.1 200 OK\r\n\r\n".to_string()),
            "[ -~\r\n]{0,60}",
        ],
        body in prop::collection::vec(any::<u8>(), 0..200),
        sse in "(data: [ -~]{0,30}\n\n?|[0-9a-f]{1,3}\r\n|\r\n){0,6}",
        streaming: bool,
    ) {
        static SRV: std::sync::OnceLock<Hostile> = std::sync::OnceLock::new();
        let srv = SRV.get_or_init(|| Hostile::start(send(b"")));
        let mut resp = head.into_bytes();
        resp.extend_from_slice(sse.as_bytes());
        resp.extend_from_slice(&body);
        srv.set(send_then_close(resp));
        let f = dataset(&[("a".into(), 2)]);
        let mut cfg = config(srv.addr, &f, streaming);
        cfg.num_prompts = 1;
        cfg.request_timeout = Duration::from_millis(200);
        let start = Instant::now();
        let report = rt().block_on(run_benchmark(&cfg)).unwrap();
        prop_assert!(start.elapsed() < Duration::from_secs(2));
        prop_assert_eq!(report.metrics.completed + report.metrics.failed, 1);
    }
}
