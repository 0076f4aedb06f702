//! Integration tests of the load generator against a deterministic in-process server.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers panic on broken fixtures, like the tests"
)]

mod hostile;
mod server;
mod workloads;

use std::io::Write;
use std::time::{Duration, Instant};

use servebench_loadgen::{
    BenchConfig, BenchReport, DatasetSpec, Endpoint, ErrorKind, Metric, RequestRate, run_benchmark,
    write_text,
};
use server::TestServer;

/// A JSON-lines dataset of `(prompt, output_len)`.
fn dataset(rows: &[(String, u64)]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    for (p, n) in rows {
        writeln!(f, "{}", serde_json::json!({"prompt": p, "output_len": n})).unwrap();
    }
    f
}

fn config(srv: &TestServer, file: &tempfile::NamedTempFile, n: usize) -> BenchConfig {
    let mut cfg = BenchConfig::new(
        srv.url(),
        DatasetSpec::Jsonl {
            path: file.path().into(),
        },
    );
    cfg.model = Some("test-model".into());
    cfg.num_prompts = n;
    cfg.percentile_metrics = Metric::ALL.to_vec();
    cfg.percentiles = vec![50.0, 90.0, 99.0];
    cfg.request_timeout = Duration::from_secs(10);
    cfg
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn run(cfg: &BenchConfig) -> BenchReport {
    rt().block_on(run_benchmark(cfg)).unwrap()
}

/// The client's TTFT, TPOT, ITL and E2EL agree with the truth within 1 ms: the reported means
/// and medians, and 90% of the per-request values (a shared 2-core machine may stall any one
/// event). The truth is taken on the shared clock: from the instant the client wrote the request
/// (which the client stamps at the socket) to the instants the server wrote each event, so time
/// the server spent reading the request counts as server latency, as the user sees it. Token
/// counts are exact.
fn check_against_truth(srv: &TestServer, report: &BenchReport, tokens: u64) -> Result<(), String> {
    let (mut ttft_err, mut e2el_err, mut itl_err) = (vec![], vec![], vec![]);
    let (mut s_ttft, mut s_e2el, mut s_tpot, mut s_itl) = (vec![], vec![], vec![], vec![]);
    for r in &report.requests {
        assert!(r.ok(), "request {} failed: {:?}", r.index, r.error);
        let t = srv.truth(&format!("req-{}", r.index));
        assert_eq!(r.output_tokens, tokens, "request {}", r.index);
        assert_eq!(r.output_tokens, t.tokens);
        assert_eq!(r.prompt_tokens, 7, "prompt tokens come from usage");
        let wrote = report.started + r.sent.unwrap();
        assert!(
            wrote <= t.received + Duration::from_micros(200),
            "request {} written after the server read it",
            r.index
        );
        let true_ttft = (t.events[0] - wrote).as_secs_f64();
        let true_e2el = (*t.events.last().unwrap() - wrote).as_secs_f64();
        ttft_err.push((r.ttft().unwrap() - true_ttft).abs());
        e2el_err.push((r.e2el().unwrap() - true_e2el).abs());
        let gaps = t.gaps();
        assert_eq!(r.itl.len(), gaps.len(), "one ITL sample per chunk gap");
        itl_err.extend(r.itl.iter().zip(&gaps).map(|(c, s)| (c - s).abs()));
        s_ttft.push(true_ttft);
        s_e2el.push(true_e2el);
        s_tpot.push((true_e2el - true_ttft) / (tokens - 1) as f64);
        s_itl.extend(gaps);
    }
    if std::env::var_os("DEBUG_TRUTH").is_some() {
        let mut e = ttft_err.clone();
        e.sort_by(f64::total_cmp);
        eprintln!(
            "ttft errors (ms): p50 {:.3} p90 {:.3} max {:.3}",
            e[e.len() / 2] * 1e3,
            e[e.len() * 9 / 10] * 1e3,
            e[e.len() - 1] * 1e3
        );
    }
    for (name, errs) in [
        ("ttft", &mut ttft_err),
        ("e2el", &mut e2el_err),
        ("itl", &mut itl_err),
    ] {
        errs.sort_by(f64::total_cmp);
        let p90 = errs[errs.len() * 9 / 10];
        if p90 >= 1e-3 {
            return Err(format!(
                "{name}: 90% of per-request errors within 1 ms, p90 = {p90}"
            ));
        }
    }
    let m = &report.metrics;
    let p = &report.percentiles;
    for (name, client, server) in [
        ("ttft", &m.ttft_ms, &mut s_ttft),
        ("tpot", &m.tpot_ms, &mut s_tpot),
        ("itl", &m.itl_ms, &mut s_itl),
        ("e2el", &m.e2el_ms, &mut s_e2el),
    ] {
        let truth = servebench_loadgen::stats::Summary::of(server, p).scaled(1e3);
        assert_eq!(client.count, truth.count, "{name}");
        if (client.mean - truth.mean).abs() >= 1.0 || (client.median - truth.median).abs() >= 1.0 {
            return Err(format!(
                "{name}: client mean/median {}/{} vs truth {}/{}",
                client.mean, client.median, truth.mean, truth.median
            ));
        }
    }
    assert_eq!(m.total_output_tokens, tokens * report.requests.len() as u64);
    assert_eq!(m.total_input_tokens, 7 * report.requests.len() as u64);
    Ok(())
}

/// Runs a timing check up to three times on a fresh server: other processes on a shared 2-core
/// machine can stall one run, but a systematic error fails every attempt.
fn timing(mut attempt: impl FnMut() -> Result<(), String>) {
    let mut errors = Vec::new();
    for _ in 0..3 {
        match attempt() {
            Ok(()) => return,
            Err(e) => errors.push(e),
        }
    }
    panic!("timing off in every attempt: {errors:#?}");
}

/// Tests that measure time run one at a time, so they do not steal each other's two cores.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[test]
fn metrics_match_server_truth_at_concurrency_1() {
    let _serial = serial();
    timing(|| {
        let srv = TestServer::start();
        let rows: Vec<_> = (0..20)
            .map(|i| (format!("req-{i};ttft=12;itl=3"), 10))
            .collect();
        let f = dataset(&rows);
        let mut cfg = config(&srv, &f, 20);
        cfg.max_concurrency = Some(1);
        let report = run(&cfg);
        check_against_truth(&srv, &report, 10)?;
        let m = &report.metrics;
        // Known timing: TTFT ~12 ms, ITL ~3 ms (tokio timers round up to the millisecond).
        assert!(
            (11.5..20.0).contains(&m.ttft_ms.median),
            "{}",
            m.ttft_ms.median
        );
        assert!((2.5..6.0).contains(&m.itl_ms.median), "{}", m.itl_ms.median);
        assert_eq!(report.health.achieved_concurrency_peak, 1);
        assert_eq!(
            srv.state
                .connections
                .load(std::sync::atomic::Ordering::SeqCst),
            1,
            "one keep-alive connection"
        );
        Ok(())
    });
}

#[test]
fn metrics_match_server_truth_at_concurrency_256() {
    let _serial = serial();
    timing(|| {
        let srv = TestServer::start();
        // First tokens spread over 90 ms so that an unoptimised test build keeps up.
        let rows: Vec<_> = (0..256)
            .map(|i| (format!("req-{i};ttft={};itl=40", 40 + (i % 16) * 6), 4))
            .collect();
        let f = dataset(&rows);
        let mut cfg = config(&srv, &f, 256);
        cfg.max_concurrency = Some(256);
        let report = run(&cfg);
        let st = &srv.state;
        assert_eq!(
            st.peak_in_flight.load(std::sync::atomic::Ordering::SeqCst),
            256,
            "no hidden cap"
        );
        assert_eq!(
            st.connections.load(std::sync::atomic::Ordering::SeqCst),
            256,
            "pool sized to the concurrency"
        );
        assert_eq!(report.health.achieved_concurrency_peak, 256);
        check_against_truth(&srv, &report, 4)
    });
}

#[test]
fn closed_loop_refills_and_counts_multi_token_chunks_once() {
    let _serial = serial();
    let srv = TestServer::start();
    let rows: Vec<_> = (0..40)
        .map(|i| (format!("req-{i};ttft=2;itl=2;chunk=3"), 9))
        .collect();
    let f = dataset(&rows);
    let mut cfg = config(&srv, &f, 40);
    cfg.max_concurrency = Some(8);
    let report = run(&cfg);
    for r in &report.requests {
        assert_eq!(r.chunks, 3, "three events of three tokens");
        assert_eq!(
            r.itl.len(),
            2,
            "a chunk of several tokens is one ITL sample"
        );
        assert_eq!(r.output_tokens, 9);
    }
    assert_eq!(report.metrics.itl_ms.count, 80);
    assert_eq!(
        srv.state
            .peak_in_flight
            .load(std::sync::atomic::Ordering::SeqCst),
        8
    );
    assert_eq!(
        srv.state
            .connections
            .load(std::sync::atomic::Ordering::SeqCst),
        8
    );
    let h = &report.health;
    assert!(
        h.achieved_concurrency_mean > 7.0,
        "{}",
        h.achieved_concurrency_mean
    );
    assert!(h.lateness_p99_ms < 5.0, "{}", h.lateness_p99_ms);
}

#[test]
fn failures_are_counted_by_type_and_never_hang() {
    let _serial = serial();
    let srv = TestServer::start();
    let specs = [
        "req-0;itl=1",
        "req-1;status=500",
        "req-2;itl=1;cut=2",
        "req-3;itl=1;hang=1",
        "req-4;itl=1;nodone=1",
        "req-5;itl=1;badjson=1",
        "req-6;itl=1;error=2",
        "req-7;status=503",
        "req-8;itl=1;cut=0",
    ];
    let rows: Vec<_> = specs.iter().map(|s| (s.to_string(), 4)).collect();
    let f = dataset(&rows);
    let mut cfg = config(&srv, &f, specs.len());
    cfg.max_concurrency = Some(3);
    cfg.request_timeout = Duration::from_millis(400);
    let start = Instant::now();
    let report = run(&cfg);
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "a hung stream must end at the timeout"
    );
    let kind = |i: usize| report.requests[i].error.as_ref().map(|e| e.kind);
    assert_eq!(kind(0), None);
    assert_eq!(kind(1), Some(ErrorKind::Http(500)));
    assert_eq!(kind(2), Some(ErrorKind::StreamCut));
    assert_eq!(kind(3), Some(ErrorKind::Timeout));
    assert_eq!(
        kind(4),
        Some(ErrorKind::StreamCut),
        "no [DONE] is a cut stream"
    );
    assert_eq!(kind(5), Some(ErrorKind::InvalidChunk));
    assert_eq!(kind(6), Some(ErrorKind::ServerError));
    assert_eq!(kind(7), Some(ErrorKind::Http(503)));
    assert_eq!(kind(8), Some(ErrorKind::StreamCut));
    let m = &report.metrics;
    assert_eq!((m.completed, m.failed, m.total_requests), (1, 8, 9));
    assert_eq!(m.total_output_tokens, 4, "failed requests count no tokens");
    let errors: std::collections::HashMap<_, _> = report.errors.iter().cloned().collect();
    assert_eq!(errors["StreamCut"], 3);
    assert_eq!(errors["HTTPStatus500"], 1);
    assert_eq!(errors["Timeout"], 1);
    let mut text = Vec::new();
    write_text(&report, &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.contains("Error type: StreamCut, Count: 3 requests\n"),
        "{text}"
    );
    assert!(text.contains("Total failed requests: 8\n"));
    assert!(text.contains("=======================!FAILED REQUESTS!=======================\n"));
    assert!(text.contains("Failed requests:                         8         \n"));
}

#[test]
fn the_deadline_ends_the_run_and_fails_what_is_left() {
    let _serial = serial();
    let srv = TestServer::start();
    let rows: Vec<_> = (0..6)
        .map(|i| (format!("req-{i};ttft=50;itl=100"), 50))
        .collect();
    let f = dataset(&rows);
    let mut cfg = config(&srv, &f, 6);
    cfg.max_concurrency = Some(2);
    cfg.deadline = Some(Duration::from_millis(300));
    let start = Instant::now();
    let report = run(&cfg);
    assert!(start.elapsed() < Duration::from_secs(2));
    assert_eq!(report.metrics.failed, 6);
    assert!(
        report
            .requests
            .iter()
            .all(|r| r.error.as_ref().unwrap().kind == ErrorKind::Deadline)
    );
    assert_eq!(
        report.requests.iter().filter(|r| r.sent.is_none()).count(),
        4,
        "never sent"
    );
}

/// An open-loop schedule that runs past the deadline: the pacer stops at the deadline instead of
/// holding the remaining sends until their planned times, so the run ends with it.
#[test]
fn the_deadline_cuts_an_open_loop_schedule_short() {
    let _serial = serial();
    let srv = TestServer::start();
    let rows: Vec<_> = (0..40).map(|i| (format!("req-{i};itl=1"), 2)).collect();
    let f = dataset(&rows);
    let mut cfg = config(&srv, &f, 40);
    // 40 sends at 10 per second plan about 4 s; the deadline allows 0.4 s.
    cfg.request_rate = RequestRate::PerSecond {
        rate: 10.0,
        burstiness: 1.0,
    };
    cfg.deadline = Some(Duration::from_millis(400));
    let start = Instant::now();
    let report = run(&cfg);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "took {:?}",
        start.elapsed()
    );
    let deadline = report
        .requests
        .iter()
        .filter(|r| {
            r.error
                .as_ref()
                .is_some_and(|e| e.kind == ErrorKind::Deadline)
        })
        .count();
    let planned_after = report
        .requests
        .iter()
        .filter(|r| r.scheduled >= Duration::from_millis(400))
        .count();
    assert!(planned_after > 20, "schedule too short: {planned_after}");
    assert!(deadline >= planned_after, "{deadline} < {planned_after}");
    assert!(
        report
            .requests
            .iter()
            .filter(|r| r.scheduled >= Duration::from_millis(400))
            .all(|r| r.sent.is_none()),
        "a request planned after the deadline was sent"
    );
}

#[test]
fn unreachable_server_is_an_infrastructure_error() {
    let _serial = serial();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let f = dataset(&[("req-0".into(), 1)]);
    let mut cfg = BenchConfig::new(
        format!("http://127.0.0.1:{port}"),
        DatasetSpec::Jsonl {
            path: f.path().into(),
        },
    );
    cfg.model = Some("m".into());
    cfg.num_prompts = 1;
    cfg.max_concurrency = Some(1);
    let err = rt().block_on(run_benchmark(&cfg)).unwrap_err();
    assert!(
        matches!(err, servebench_loadgen::BenchError::Unreachable { .. }),
        "{err}"
    );
}

#[test]
fn non_streaming_chat_and_model_discovery() {
    let _serial = serial();
    timing(|| {
        let srv = TestServer::start();
        let rows: Vec<_> = (0..4).map(|i| (format!("req-{i};ttft=10"), 5)).collect();
        let f = dataset(&rows);
        let mut cfg = config(&srv, &f, 4);
        cfg.model = None;
        cfg.streaming = false;
        cfg.endpoint = Endpoint::ChatCompletions;
        cfg.max_concurrency = Some(2);
        let report = run(&cfg);
        assert_eq!(report.model, "test-model", "asked /v1/models");
        for r in &report.requests {
            assert!(r.ok(), "{:?}", r.error);
            assert_eq!(
                r.ttft(),
                r.e2el(),
                "non-streaming: TTFT is the whole answer"
            );
            assert_eq!(r.output_tokens, 5);
            let t = srv.truth(&format!("req-{}", r.index));
            let truth = (t.events[0] - (report.started + r.sent.unwrap())).as_secs_f64();
            if (r.e2el().unwrap() - truth).abs() >= 1e-3 {
                return Err(format!("e2el {} vs truth {truth}", r.e2el().unwrap()));
            }
        }
        Ok(())
    });
    // Streaming chat reads delta.content.
    let srv = TestServer::start();
    let f = dataset(&[("req-0".into(), 5), ("req-1".into(), 5)]);
    let mut cfg = config(&srv, &f, 2);
    cfg.endpoint = Endpoint::ChatCompletions;
    cfg.keep_text = true;
    let report = run(&cfg);
    assert!(
        report
            .requests
            .iter()
            .all(|r| r.text.as_deref() == Some("ttttt"))
    );
}

#[test]
fn warmup_is_not_measured_and_missing_usage_falls_back_to_chunks() {
    let _serial = serial();
    let srv = TestServer::start();
    let rows: Vec<_> = (0..5).map(|i| (format!("req-{i};usage=0"), 3)).collect();
    let f = dataset(&rows);
    let mut cfg = config(&srv, &f, 5);
    cfg.warmup = 3;
    cfg.max_concurrency = Some(2);
    let report = run(&cfg);
    assert_eq!(
        srv.state.requests.load(std::sync::atomic::Ordering::SeqCst),
        8
    );
    assert_eq!(report.requests.len(), 5);
    assert_eq!(report.metrics.total_output_tokens, 15);
    assert_eq!(
        report.metrics.total_input_tokens, 0,
        "no usage, text prompts, no tokenizer"
    );
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("counted as chunks")),
        "{:?}",
        report.warnings
    );
}

#[test]
fn open_loop_follows_the_schedule() {
    let _serial = serial();
    timing(|| {
        let srv = TestServer::start();
        let rows: Vec<_> = (0..30).map(|i| (format!("req-{i};itl=1"), 2)).collect();
        let f = dataset(&rows);
        let mut cfg = config(&srv, &f, 30);
        cfg.request_rate = RequestRate::PerSecond {
            rate: 200.0,
            burstiness: 1.0,
        };
        let report = run(&cfg);
        assert_eq!(report.metrics.failed, 0);
        let last = report.requests.last().unwrap().scheduled;
        assert!(report.metrics.duration_s >= last.as_secs_f64());
        let mut late = Vec::new();
        for r in &report.requests {
            let sent = r.sent.unwrap();
            assert!(
                sent >= r.scheduled,
                "request {} sent before its time",
                r.index
            );
            late.push(sent - r.scheduled);
        }
        late.sort();
        // The pacer thread sleeps on the kernel's high-resolution timer: sends are tens of
        // microseconds late (tokio's millisecond timers made the median about 1.1 ms).
        let (median, max) = (late[late.len() / 2], late[late.len() - 1]);
        if median >= Duration::from_micros(700) || max >= Duration::from_millis(10) {
            return Err(format!("lateness median {median:?} max {max:?}"));
        }
        Ok(())
    });
}

#[test]
fn random_token_id_prompts_count_exactly() {
    let _serial = serial();
    let srv = TestServer::start();
    let mut cfg = BenchConfig::new(
        srv.url(),
        DatasetSpec::Random {
            input_len: 16,
            output_len: 6,
            range_ratio: 0.5,
            ids: true,
            vocab_size: 500,
        },
    );
    cfg.model = Some("m".into());
    cfg.num_prompts = 20;
    cfg.max_concurrency = Some(4);
    cfg.ignore_eos = true;
    let report = run(&cfg);
    let m = &report.metrics;
    assert_eq!(m.failed, 0);
    let expected_in: u64 = report.requests.iter().map(|r| r.prompt_tokens).sum();
    assert_eq!(
        m.total_input_tokens, expected_in,
        "token ids are counted on the client"
    );
    assert!(
        report
            .requests
            .iter()
            .all(|r| (8..=16).contains(&r.prompt_tokens))
    );
    assert_eq!(m.total_output_tokens, m.expected_output_tokens);
    assert_eq!(m.output_len_mismatches, 0);
}

mod cli_e2e;
mod upstream_format;
