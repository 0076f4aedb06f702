//! Streaming throughput of one sim process on one core, at `--time-scale 0`.
//!
//! `cargo bench -p servebench-sim --bench stream_load -- [--streams N] [--tokens T] [--rounds R]`
//!
//! The bench re-runs its own binary twice: as the server (pinned to CPU 0 with `taskset`, a
//! current-thread runtime, as `servebench sim serve` runs) and as the client (pinned to CPU 1).
//! The client opens N connections, starts N streaming requests at once (`ignore_eos`, T tokens
//! each, one token per SSE chunk), reads every byte, and counts SSE events. It reports the
//! streams that were open at once, streamed tokens per second, and the server's peak RSS
//! (`VmHWM` from `/proc/PID/status`) afterwards.
#![expect(clippy::unwrap_used, reason = "benchmark harness")]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use servebench_sim::log::EngineLog;
use servebench_sim::model::Role;
use servebench_sim::server::{ServeConfig, SimServer};
use servebench_sim::{profile, worker::WorkerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn arg(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("server") => server(),
        Some("client") => client(&args),
        _ => orchestrate(&args),
    }
}

fn pinned(cpu: &str) -> Command {
    let exe = std::env::current_exe().unwrap();
    if Command::new("taskset").arg("-V").output().is_ok() {
        let mut c = Command::new("taskset");
        c.arg("-c").arg(cpu).arg(exe);
        c
    } else {
        eprintln!("warning: taskset not found; running unpinned");
        Command::new(exe)
    }
}

fn orchestrate(args: &[String]) {
    let streams = arg(args, "--streams", 5000);
    let tokens = arg(args, "--tokens", 200);
    let rounds = arg(args, "--rounds", 1);
    let mut server = pinned("0")
        .arg("server")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line.trim().to_owned();
    let cpu0 = cpu_seconds(server.id());
    let t0 = Instant::now();
    let status = pinned("1")
        .args(["client", "--addr", &addr])
        .args([
            "--streams",
            &streams.to_string(),
            "--tokens",
            &tokens.to_string(),
            "--rounds",
            &rounds.to_string(),
        ])
        .status()
        .unwrap();
    let wall = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds(server.id()) - cpu0;
    println!(
        "server CPU {cpu:.2} s over {wall:.2} s of client run ({:.0}% of its core, connection setup included)",
        100.0 * cpu / wall
    );
    let proc_status =
        std::fs::read_to_string(format!("/proc/{}/status", server.id())).unwrap_or_default();
    for l in proc_status
        .lines()
        .filter(|l| l.starts_with("VmHWM") || l.starts_with("VmRSS"))
    {
        println!("server {l}");
    }
    let _ = server.kill();
    let _ = server.wait();
    assert!(status.success(), "client failed");
}

/// User + system CPU seconds of a process (Linux `/proc/PID/stat`, fields 14 and 15).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split(' ').collect();
    // `rest` starts at field 3, so utime and stime (fields 14, 15) are at 11 and 12.
    let num = |i: usize| {
        fields
            .get(i)
            .and_then(|x| x.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (num(11) + num(12)) / 100.0
}

fn server() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let yaml = "tensor_parallel_size: 8\nmax_batch_size: 20000\nmax_num_tokens: 1000000\nmax_seq_len: 8192\nkv_cache_config: {dtype: fp8}\n";
        let cfg = ServeConfig {
            role: Role::Agg,
            worker: WorkerConfig::parse(yaml, "bench.yaml").unwrap(),
            model: "llama-3-8b".to_owned(),
            profiles: profile::resolve("llama-3-8b", "H100", None).unwrap(),
            time_scale: 0.0,
            seed: 0,
            faults: Vec::new(),
            log: EngineLog::Off,
        };
        let mut s = SimServer::bind("127.0.0.1:0".parse().unwrap(), cfg).await.unwrap();
        println!("{}", s.local_addr());
        s.wait().await;
    });
}

fn client(args: &[String]) {
    let addr: std::net::SocketAddr = args
        .iter()
        .position(|a| a == "--addr")
        .and_then(|i| args.get(i + 1))
        .unwrap()
        .parse()
        .unwrap();
    let streams = arg(args, "--streams", 5000) as usize;
    let tokens = arg(args, "--tokens", 200);
    let rounds = arg(args, "--rounds", 1);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        // Wait for health.
        loop {
            if let Ok(mut s) = TcpStream::connect(addr).await {
                s.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await.unwrap();
                let mut buf = Vec::new();
                let _ = s.read_to_end(&mut buf).await;
                if buf.starts_with(b"HTTP/1.1 200") {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let prompt: Vec<u32> = (0..16).collect();
        let body = serde_json::json!({"model": "llama-3-8b", "prompt": prompt, "max_tokens": tokens, "ignore_eos": true, "stream": true}).to_string();
        let request = Arc::new(format!(
            "POST /v1/completions HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        ));
        for round in 0..rounds {
            // Connect everything first (a few hundred at a time), then start all streams.
            let mut conns = Vec::with_capacity(streams);
            for chunk in 0..streams.div_ceil(500) {
                let n = 500.min(streams - chunk * 500);
                let mut set = tokio::task::JoinSet::new();
                for _ in 0..n {
                    set.spawn(async move {
                        let s = TcpStream::connect(addr).await.unwrap();
                        s.set_nodelay(true).unwrap();
                        s
                    });
                }
                while let Some(s) = set.join_next().await {
                    conns.push(s.unwrap());
                }
            }
            let events = Arc::new(AtomicU64::new(0));
            let open = Arc::new(AtomicUsize::new(0));
            let peak_open = Arc::new(AtomicUsize::new(0));
            let complete = Arc::new(AtomicUsize::new(0));
            let start = Instant::now();
            let mut set = tokio::task::JoinSet::new();
            for mut s in conns {
                let request = request.clone();
                let (events, open, peak_open, complete) = (events.clone(), open.clone(), peak_open.clone(), complete.clone());
                set.spawn(async move {
                    s.write_all(request.as_bytes()).await.unwrap();
                    let mut buf = vec![0u8; 16 * 1024];
                    let mut prev = 0u8;
                    let mut mine = 0u64;
                    let mut counted_open = false;
                    let mut done = false;
                    while !done {
                        let n = s.read(&mut buf).await.unwrap();
                        if n == 0 {
                            break;
                        }
                        if !counted_open {
                            counted_open = true;
                            let now = open.fetch_add(1, Relaxed) + 1;
                            peak_open.fetch_max(now, Relaxed);
                        }
                        for &b in &buf[..n] {
                            if b == b'\n' && prev == b'\n' {
                                mine += 1;
                            }
                            prev = b;
                        }
                        // The terminating chunk of the chunked body.
                        done = buf[..n].ends_with(b"0\r\n\r\n");
                    }
                    open.fetch_sub(1, Relaxed);
                    // Events: T token chunks + [DONE].
                    events.fetch_add(mine.saturating_sub(1), Relaxed);
                    if mine == tokens + 1 {
                        complete.fetch_add(1, Relaxed);
                    }
                });
            }
            while set.join_next().await.is_some() {}
            let secs = start.elapsed().as_secs_f64();
            let ev = events.load(Relaxed);
            println!("client CPU so far {:.2} s", cpu_seconds(std::process::id()));
            println!(
                "round {round}: streams {streams} (peak open at once {}), complete {}, tokens {ev} in {secs:.2} s = {:.0} streamed tokens/s",
                peak_open.load(Relaxed),
                complete.load(Relaxed),
                ev as f64 / secs
            );
        }
    });
}
