//! The least CPU a streaming client can spend per token: a reference for
//! `benches/loadgen_vs_peers.sh`, not a benchmark client.
//!
//! One thread, `epoll` through mio, one non-blocking read per readiness, and nothing else: no
//! HTTP parsing beyond spotting the end of a chunked body, no SSE, no JSON, no timestamps, no
//! metrics. Whatever it costs per token is what the kernel charges for receiving small TCP
//! writes on this machine; no client that reads tokens as they arrive can spend less.
//!
//! Usage: `raw_floor BASE_URL CONCURRENCY REQUESTS INPUT_LEN OUTPUT_LEN` against an
//! OpenAI-compatible server that honours `ignore_eos` (such as `fast_server`); prints the output
//! token rate, reads per token and CPU per token.

use std::error::Error;
use std::io::{ErrorKind, Read, Write};
use std::time::Instant;

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

/// A chunked body ends with an empty chunk.
const END: &[u8] = b"0\r\n\r\n";

struct Stream {
    sock: TcpStream,
    /// The last few bytes seen, to find `END` across reads.
    tail: Vec<u8>,
}

fn arg(n: usize) -> Result<String, Box<dyn Error>> {
    std::env::args()
        .nth(n)
        .ok_or_else(|| "usage: raw_floor BASE_URL CONCURRENCY REQUESTS INPUT_LEN OUTPUT_LEN".into())
}

fn main() -> Result<(), Box<dyn Error>> {
    let base = arg(1)?;
    let conc: usize = arg(2)?.parse()?;
    let total: usize = arg(3)?.parse()?;
    let isl: usize = arg(4)?.parse()?;
    let osl: usize = arg(5)?.parse()?;
    let hostport = base
        .strip_prefix("http://")
        .ok_or("BASE_URL must start with http://")?
        .trim_end_matches('/');
    let addr: std::net::SocketAddr = hostport.parse()?;
    let prompt = vec!["1"; isl].join(",");
    let body = format!(
        r#"{{"model":"fast","prompt":[{prompt}],"max_tokens":{osl},"stream":true,"ignore_eos":true}}"#
    );
    let request = format!(
        "POST /v1/completions HTTP/1.1\r\nHost: {hostport}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut poll = Poll::new()?;
    let mut streams = Vec::with_capacity(conc);
    for i in 0..conc.min(total) {
        let s = std::net::TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        s.set_nonblocking(true)?;
        let mut sock = TcpStream::from_std(s);
        poll.registry()
            .register(&mut sock, Token(i), Interest::READABLE)?;
        streams.push(Stream {
            sock,
            tail: Vec::with_capacity(16),
        });
    }
    let cpu0 = cpu_seconds()?;
    let t0 = Instant::now();
    let mut sent = 0;
    for s in &mut streams {
        s.sock.write_all(request.as_bytes())?;
        sent += 1;
    }
    let (mut done, mut reads) = (0usize, 0u64);
    let mut events = Events::with_capacity(4096);
    let mut buf = vec![0u8; 64 * 1024];
    while done < total {
        poll.poll(&mut events, None)?;
        for ev in &events {
            let Some(s) = streams.get_mut(ev.token().0) else {
                continue;
            };
            loop {
                let n = match s.sock.read(&mut buf) {
                    Ok(0) => return Err("server closed a connection".into()),
                    Ok(n) => n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e.into()),
                };
                reads += 1;
                let got = buf.get(n.saturating_sub(END.len())..n).unwrap_or_default();
                s.tail.extend_from_slice(got);
                let keep = s.tail.len().saturating_sub(END.len());
                s.tail.drain(..keep);
                if s.tail == END {
                    s.tail.clear();
                    done += 1;
                    if sent < total {
                        s.sock.write_all(request.as_bytes())?;
                        sent += 1;
                    }
                }
                if n < buf.len() {
                    break;
                }
            }
        }
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds()? - cpu0;
    let tokens = (total * osl) as f64;
    println!(
        "Output token throughput (tok/s): {:.0}\nReads per token: {:.3}\nClient CPU per output token (us): {:.3}",
        tokens / wall,
        reads as f64 / tokens,
        cpu * 1e6 / tokens
    );
    Ok(())
}

/// User + system CPU seconds of this process.
fn cpu_seconds() -> Result<f64, Box<dyn Error>> {
    let u = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF)?;
    let s = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 * 1e-6;
    Ok(s(u.user_time()) + s(u.system_time()))
}
