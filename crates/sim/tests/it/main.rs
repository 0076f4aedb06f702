//! Protocol and fault tests against in-process servers on 127.0.0.1:0.

#![expect(clippy::unwrap_used, reason = "test helpers outside #[test] functions")]
mod client;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use client::{get, post, request};
use serde_json::{Value, json};
use servebench_sim::log::EngineLog;
use servebench_sim::model::Role;
use servebench_sim::server::{Exit, RouterConfig, ServeConfig, SimServer};
use servebench_sim::{profile, worker::WorkerConfig};

const MODEL: &str = "llama-3-8b";

struct Running {
    server: SimServer,
    log: Arc<Mutex<Vec<String>>>,
}

impl Running {
    fn addr(&self) -> std::net::SocketAddr {
        self.server.local_addr()
    }

    fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

async fn start(role: Role, yaml: &str, faults: &[&str], time_scale: f64) -> Running {
    let (log, lines) = EngineLog::memory();
    let cfg = ServeConfig {
        role,
        worker: WorkerConfig::parse(yaml, "test.yaml").unwrap(),
        model: MODEL.to_owned(),
        profiles: profile::resolve(MODEL, "H100", None).unwrap(),
        time_scale,
        seed: 42,
        faults: faults.iter().map(|f| f.parse().unwrap()).collect(),
        log,
    };
    let server = SimServer::bind("127.0.0.1:0".parse().unwrap(), cfg)
        .await
        .unwrap();
    Running { server, log: lines }
}

async fn wait_healthy(addr: std::net::SocketAddr) {
    let t0 = Instant::now();
    while get(addr, "/health").await.status != 200 {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "server never became healthy"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn ready(role: Role, yaml: &str, faults: &[&str]) -> Running {
    let r = start(role, yaml, faults, 0.0).await;
    wait_healthy(r.addr()).await;
    r
}

fn completion(max_tokens: u32, stream: bool) -> Value {
    json!({"model": MODEL, "prompt": (0..100).collect::<Vec<u32>>(), "max_tokens": max_tokens,
           "ignore_eos": true, "stream": stream, "stream_options": {"include_usage": true}})
}

/// Output tokens in a text: the simulator's tokens are words with a leading space.
fn count_tokens(text: &str) -> usize {
    text.matches(' ').count()
}

#[tokio::test]
async fn sse_stream_format_and_usage() {
    let s = ready(Role::Agg, "", &[]).await;
    let r = post(s.addr(), "/v1/completions", &completion(20, true)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    assert!(r.complete);
    let events = r.events();
    assert_eq!(events.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    // One token per chunk (stream_interval 1), then the usage chunk with empty choices.
    assert_eq!(chunks.len(), 21);
    let (content, usage) = chunks.split_at(20);
    let mut text = String::new();
    for (i, c) in content.iter().enumerate() {
        assert_eq!(c["object"], "text_completion");
        assert_eq!(c["model"], MODEL);
        let choice = &c["choices"][0];
        text.push_str(choice["text"].as_str().unwrap());
        let expected = if i == 19 {
            json!("length")
        } else {
            Value::Null
        };
        assert_eq!(choice["finish_reason"], expected, "chunk {i}");
    }
    assert_eq!(usage[0]["choices"], json!([]));
    let u = &usage[0]["usage"];
    assert_eq!(u["prompt_tokens"], 100);
    assert_eq!(u["completion_tokens"], 20);
    assert_eq!(u["total_tokens"], 120);
    assert_eq!(
        u["prompt_tokens_details"]["cached_tokens"], 0,
        "a cold cache"
    );
    assert_eq!(count_tokens(&text), 20, "tokens sent = tokens counted");
}

#[tokio::test]
async fn non_streaming_and_chat() {
    let s = ready(Role::Agg, "", &[]).await;
    let r = post(s.addr(), "/v1/completions", &completion(33, false)).await;
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["usage"]["completion_tokens"], 33);
    assert_eq!(count_tokens(v["choices"][0]["text"].as_str().unwrap()), 33);
    assert_eq!(v["choices"][0]["finish_reason"], "length");

    let chat = json!({"model": MODEL, "messages": [{"role": "user", "content": "hello there"}], "max_tokens": 5, "ignore_eos": true});
    let v = post(s.addr(), "/v1/chat/completions", &chat).await.json();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    assert_eq!(
        count_tokens(v["choices"][0]["message"]["content"].as_str().unwrap()),
        5
    );
    assert_eq!(v["usage"]["completion_tokens"], 5);

    let mut chat_stream = chat.clone();
    chat_stream["stream"] = json!(true);
    chat_stream["stream_options"] = json!({"include_usage": true});
    let r = post(s.addr(), "/v1/chat/completions", &chat_stream).await;
    let events = r.events();
    let first: Value = serde_json::from_str(&events[0]).unwrap();
    assert_eq!(first["object"], "chat.completion.chunk");
    assert_eq!(first["choices"][0]["delta"]["role"], "assistant");
    let mut text = String::new();
    let mut usage = Value::Null;
    for e in &events[..events.len() - 1] {
        let c: Value = serde_json::from_str(e).unwrap();
        if let Some(t) = c["choices"][0]["delta"]["content"].as_str() {
            text.push_str(t);
        }
        if !c["usage"].is_null() {
            usage = c["usage"].clone();
        }
    }
    assert_eq!(count_tokens(&text), 5);
    assert_eq!(usage["completion_tokens"], 5);
    // Text prompt: one token per 4 bytes (16 bytes -> 4 tokens).
    let v = post(
        s.addr(),
        "/v1/completions",
        &json!({"prompt": "abcdabcdabcdabcd", "max_tokens": 2}),
    )
    .await
    .json();
    assert_eq!(v["usage"]["prompt_tokens"], 4);
}

#[tokio::test]
async fn output_length_without_ignore_eos_is_seeded_and_capped() {
    let s = ready(Role::Agg, "", &[]).await;
    let body = json!({"prompt": "the same prompt", "max_tokens": 40});
    let a = post(s.addr(), "/v1/completions", &body).await.json();
    let b = post(s.addr(), "/v1/completions", &body).await.json();
    let n = a["usage"]["completion_tokens"].as_u64().unwrap();
    assert!((20..=40).contains(&n), "{n}");
    assert_eq!(
        a["usage"], b["usage"],
        "same prompt, same seed, same length"
    );
}

#[tokio::test]
async fn stream_interval_groups_tokens() {
    let s = ready(Role::Agg, "stream_interval: 4\n", &[]).await;
    let r = post(s.addr(), "/v1/completions", &completion(10, true)).await;
    let sizes: Vec<usize> = r.events()[..]
        .iter()
        .filter_map(|e| serde_json::from_str::<Value>(e).ok())
        .filter_map(|c| c["choices"][0]["text"].as_str().map(count_tokens))
        .collect();
    // The first token alone, then groups of 4, the rest at the end.
    assert_eq!(sizes, vec![1, 4, 4, 1]);
}

#[tokio::test]
async fn malformed_requests_get_400_with_an_openai_error() {
    let s = ready(Role::Agg, "max_seq_len: 1000\n", &[]).await;
    let cases = [
        ("/v1/completions", "not json".to_owned()),
        ("/v1/completions", "[1,2]".to_owned()),
        ("/v1/completions", json!({"max_tokens": 5}).to_string()),
        (
            "/v1/completions",
            json!({"prompt": "x", "max_tokens": -1}).to_string(),
        ),
        (
            "/v1/completions",
            json!({"prompt": (0..2000).collect::<Vec<u32>>()}).to_string(),
        ),
        (
            "/v1/chat/completions",
            json!({"messages": "hi"}).to_string(),
        ),
    ];
    for (path, body) in cases {
        let r = request(s.addr(), "POST", path, Some(&body)).await.unwrap();
        assert_eq!(r.status, 400, "{body}");
        let v = r.json();
        assert_eq!(v["error"]["code"], 400);
        assert!(v["error"]["message"].as_str().unwrap().len() > 3);
    }
    // Not even HTTP: hyper answers 400 and closes; the server keeps serving.
    let mut garbage = tokio::net::TcpStream::connect(s.addr()).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut garbage, b"\x00\x01 GARBAGE\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tokio::io::AsyncReadExt::read_to_end(&mut garbage, &mut answer).await;
    assert!(
        answer.is_empty() || answer.starts_with(b"HTTP/1.1 400"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    let r = post(
        s.addr(),
        "/v1/completions",
        &json!({"model": "other", "prompt": "x"}),
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(get(s.addr(), "/nope").await.status, 404);
    // Still serving.
    assert_eq!(
        post(s.addr(), "/v1/completions", &completion(3, false))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn health_is_503_while_loading_then_200_and_models_lists_the_model() {
    // Llama-3-8B loads in about 24 simulated seconds; at 1/100 that is about 0.24 s.
    let s = start(Role::Agg, "", &[], 0.01).await;
    let r = get(s.addr(), "/health").await;
    assert_eq!(r.status, 503);
    assert_eq!(
        post(s.addr(), "/v1/completions", &completion(3, false))
            .await
            .status,
        503
    );
    wait_healthy(s.addr()).await;
    let v = get(s.addr(), "/v1/models").await.json();
    assert_eq!(v["data"][0]["id"], MODEL);
    assert!(s.log_text().contains("Application startup complete."));
}

#[tokio::test]
async fn metrics_count_tokens_and_iterations() {
    let s = ready(Role::Agg, "", &[]).await;
    for _ in 0..3 {
        assert_eq!(
            post(s.addr(), "/v1/completions", &completion(10, false))
                .await
                .status,
            200
        );
    }
    let text = get(s.addr(), "/metrics").await.text();
    let value = |name: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(name) && !l.starts_with('#'))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing in\n{text}"))
    };
    assert_eq!(value("vllm:prompt_tokens_total{"), 300.0);
    // The same 100-token prompt three times: the second and third reuse its three full 32-token
    // blocks (block reuse is on by default, as in TensorRT-LLM).
    assert_eq!(value("vllm:prefix_cache_queries_total{"), 300.0);
    assert_eq!(value("vllm:prefix_cache_hits_total{"), 192.0);
    assert_eq!(value("vllm:generation_tokens_total{"), 30.0);
    assert_eq!(value("vllm:num_requests_running{"), 0.0);
    assert_eq!(value("vllm:num_requests_waiting{"), 0.0);
    assert!(text.contains("vllm:kv_cache_usage_perc{"));
    assert!(value("servebench_sim_iteration_duration_seconds_count{") >= 10.0);
    assert!(
        text.contains("servebench_sim_requests_total{model_name=\"llama-3-8b\",outcome=\"ok\"} 3")
    );
}

#[tokio::test]
async fn many_concurrent_streams() {
    let s = ready(Role::Agg, "max_batch_size: 512\n", &[]).await;
    let addr = s.addr();
    let mut tasks = Vec::new();
    for _ in 0..300 {
        tasks.push(tokio::spawn(async move {
            post(addr, "/v1/completions", &completion(50, true)).await
        }));
    }
    for t in tasks {
        let r = t.await.unwrap();
        assert!(r.complete);
        assert_eq!(r.events().len(), 50 + 2);
    }
}

#[tokio::test]
async fn client_disconnect_cancels_the_request() {
    // Slow enough (scale 1/10) that the stream is still running when the client leaves.
    let s = start(Role::Agg, "", &[], 0.1).await;
    wait_healthy(s.addr()).await;
    let mut conn = tokio::net::TcpStream::connect(s.addr()).await.unwrap();
    let body = completion(5000, true).to_string();
    let req = format!(
        "POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    tokio::io::AsyncWriteExt::write_all(&mut conn, req.as_bytes())
        .await
        .unwrap();
    let mut buf = [0u8; 512];
    let n = tokio::io::AsyncReadExt::read(&mut conn, &mut buf)
        .await
        .unwrap();
    assert!(n > 0);
    drop(conn);
    let t0 = Instant::now();
    loop {
        let text = get(s.addr(), "/metrics").await.text();
        if text.contains("vllm:num_requests_running{model_name=\"llama-3-8b\"} 0")
            && text.contains("outcome=\"aborted\"} 1")
        {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "request not cancelled:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---- faults, each observed from the client side ----

#[tokio::test]
async fn fault_start_delay() {
    let s = start(Role::Agg, "", &["start-delay=300ms"], 0.0).await;
    let t0 = Instant::now();
    assert_eq!(get(s.addr(), "/health").await.status, 503);
    wait_healthy(s.addr()).await;
    assert!(
        t0.elapsed() >= Duration::from_millis(250),
        "{:?}",
        t0.elapsed()
    );
}

#[tokio::test]
async fn fault_never_healthy() {
    let s = start(Role::Agg, "", &["never-healthy"], 0.0).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(get(s.addr(), "/health").await.status, 503);
    assert_eq!(
        post(s.addr(), "/v1/completions", &completion(3, false))
            .await
            .status,
        503
    );
    assert!(s.log_text().contains("[E]"), "{}", s.log_text());
}

#[tokio::test]
async fn fault_crash_after() {
    let mut s = ready(Role::Agg, "", &["crash-after=2"]).await;
    assert_eq!(
        post(s.addr(), "/v1/completions", &completion(5, true))
            .await
            .status,
        200
    );
    assert_eq!(
        post(s.addr(), "/v1/completions", &completion(5, false))
            .await
            .status,
        200
    );
    let exit = tokio::time::timeout(Duration::from_secs(5), s.server.wait())
        .await
        .unwrap();
    assert_eq!(exit, Exit::Crashed);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let third = request(
        s.addr(),
        "POST",
        "/v1/completions",
        Some(&completion(5, false).to_string()),
    )
    .await;
    assert!(
        third.is_err(),
        "the crashed server must not answer: {third:?}"
    );
    assert!(s.log_text().contains("Traceback (most recent call last):"));
}

#[tokio::test]
async fn fault_hang_after() {
    let s = ready(Role::Agg, "", &["hang-after=1"]).await;
    assert_eq!(
        post(s.addr(), "/v1/completions", &completion(5, false))
            .await
            .status,
        200
    );
    let hung = tokio::time::timeout(
        Duration::from_millis(300),
        request(
            s.addr(),
            "POST",
            "/v1/completions",
            Some(&completion(5, false).to_string()),
        ),
    )
    .await;
    assert!(hung.is_err(), "expected no answer, got {hung:?}");
    // The socket is still accepted (no refusal), and health hangs too.
    let conn = tokio::net::TcpStream::connect(s.addr()).await;
    assert!(conn.is_ok());
    assert!(
        tokio::time::timeout(
            Duration::from_millis(200),
            request(s.addr(), "GET", "/health", None)
        )
        .await
        .is_err()
    );
}

#[tokio::test]
async fn fault_error_rate() {
    let s = ready(Role::Agg, "", &["error-rate=1"]).await;
    let r = post(s.addr(), "/v1/completions", &completion(5, true)).await;
    assert_eq!(r.status, 500);
    assert_eq!(r.json()["error"]["code"], 500);
    assert!(s.log_text().contains("Traceback (most recent call last):"));
    // A rate of one half fails some requests, not all.
    let s = ready(Role::Agg, "", &["error-rate=0.5"]).await;
    let mut codes = Vec::new();
    for _ in 0..20 {
        codes.push(
            post(s.addr(), "/v1/completions", &completion(2, false))
                .await
                .status,
        );
    }
    assert!(codes.contains(&200) && codes.contains(&500), "{codes:?}");
}

#[tokio::test]
async fn fault_cut_stream_rate() {
    let s = ready(Role::Agg, "", &["cut-stream-rate=1"]).await;
    let r = post(s.addr(), "/v1/completions", &completion(20, true)).await;
    assert_eq!(r.status, 200);
    assert!(!r.complete, "the chunked body must not be terminated");
    let events = r.events();
    assert_eq!(events.len(), 10, "cut half-way");
    assert!(!events.iter().any(|e| e == "[DONE]"));
    assert!(s.log_text().contains("cut-stream-rate"));
    // Non-streaming requests are not affected.
    assert_eq!(
        post(s.addr(), "/v1/completions", &completion(4, false))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn fault_slow_factor() {
    // Same request at time scale 1/20, with and without slow-factor=4.
    async fn timed(faults: &[&str]) -> Duration {
        let s = start(Role::Agg, "", faults, 0.05).await;
        wait_healthy(s.addr()).await;
        let t0 = Instant::now();
        assert_eq!(
            post(s.addr(), "/v1/completions", &completion(60, false))
                .await
                .status,
            200
        );
        t0.elapsed()
    }
    let normal = timed(&[]).await;
    let slow = timed(&["slow-factor=4"]).await;
    assert!(slow > normal * 2, "{normal:?} vs {slow:?}");
}

/// Seconds until the first SSE event of a streaming request arrives.
async fn time_to_first_event(addr: std::net::SocketAddr, body: &Value) -> f64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = body.to_string();
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    let t0 = Instant::now();
    let req = format!(
        "POST /v1/completions HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(req.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = conn.read(&mut buf).await.unwrap();
        assert!(
            n > 0,
            "closed before the first event: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
        if seen.windows(6).any(|w| w == b"data: ") {
            return t0.elapsed().as_secs_f64();
        }
    }
}

#[tokio::test]
async fn kv_transfer_delays_the_first_token_on_a_gen_server_in_real_time() {
    // Time scale 1, no load time: the wall clock shows the model's transfer time.
    let yaml = "cache_transceiver_config: {backend: MPI}\n";
    let mut profiles = profile::resolve(MODEL, "H100", None).unwrap();
    profiles.tuning.load_fixed_s = 0.0;
    profiles.tuning.load_gbps = f64::INFINITY;
    profiles.tuning.jitter = 0.0;
    let worker = WorkerConfig::parse(yaml, "gen.yaml").unwrap();
    let shape = servebench_sim::model::ServerShape::new(Role::Gen, &worker, profiles.clone());
    let cfg = ServeConfig {
        role: Role::Gen,
        worker,
        model: MODEL.to_owned(),
        profiles,
        time_scale: 1.0,
        seed: 1,
        faults: Vec::new(),
        log: EngineLog::Off,
    };
    let server = SimServer::bind("127.0.0.1:0".parse().unwrap(), cfg)
        .await
        .unwrap();
    wait_healthy(server.local_addr()).await;
    let gen_request = |input: u32| {
        json!({"prompt": (0..input).collect::<Vec<u32>>(), "max_tokens": 2, "ignore_eos": true, "stream": true,
               "disaggregated_params": {"request_type": "generation_only", "kv_handle": {"ctx_world": 1}}})
    };
    let short = time_to_first_event(server.local_addr(), &gen_request(100)).await;
    let long = time_to_first_event(server.local_addr(), &gen_request(30_000)).await;
    let expected = shape.kv_transfer_time(30_000, 1) - shape.kv_transfer_time(100, 1);
    assert!(expected > 0.1, "{expected}");
    let got = long - short;
    assert!(
        got > expected * 0.7 && got < expected * 1.5 + 0.05,
        "expected about {expected:.3}s more, got {got:.3}s"
    );
}

// ---- disaggregated flow through the router ----

#[tokio::test]
async fn router_context_first_flow() {
    let ctx = ready(Role::Ctx, "tensor_parallel_size: 2\n", &[]).await;
    let gen_a = ready(Role::Gen, "", &[]).await;
    let gen_b = ready(Role::Gen, "", &[]).await;
    let yaml = format!(
        "hostname: localhost\nport: 8333\nbackend: pytorch\ncontext_servers:\n  num_instances: 1\n  urls: [\"{}\"]\ngeneration_servers:\n  num_instances: 2\n  urls: [\"{}\", \"http://{}\"]\n",
        ctx.addr(),
        gen_a.addr(),
        gen_b.addr()
    );
    let mut cfg = RouterConfig::parse(&yaml, "server_config.yaml").unwrap();
    cfg.log = EngineLog::Off;
    let router = SimServer::bind_router("127.0.0.1:0".parse().unwrap(), cfg)
        .await
        .unwrap();
    let addr = router.local_addr();
    assert_eq!(get(addr, "/health").await.status, 200);
    assert_eq!(get(addr, "/v1/models").await.json()["data"][0]["id"], MODEL);

    let r = post(addr, "/v1/completions", &completion(12, true)).await;
    assert!(r.complete);
    let events = r.events();
    assert_eq!(events.last().unwrap(), "[DONE]");
    let usage: Value = serde_json::from_str(&events[events.len() - 2]).unwrap();
    assert_eq!(usage["usage"]["completion_tokens"], 12);
    assert_eq!(usage["usage"]["prompt_tokens"], 100);
    let v = post(addr, "/v1/completions", &completion(7, false))
        .await
        .json();
    assert_eq!(v["usage"]["completion_tokens"], 7);
    // Prefill happened on the ctx server, decode on the gen servers (round robin: one each).
    let metric = |text: String, name: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(
        metric(
            get(ctx.addr(), "/metrics").await.text(),
            "vllm:prompt_tokens_total{"
        ),
        200.0
    );
    assert_eq!(
        metric(
            get(ctx.addr(), "/metrics").await.text(),
            "vllm:generation_tokens_total{"
        ),
        2.0
    );
    let gen_tokens = metric(
        get(gen_a.addr(), "/metrics").await.text(),
        "vllm:generation_tokens_total{",
    ) + metric(
        get(gen_b.addr(), "/metrics").await.text(),
        "vllm:generation_tokens_total{",
    );
    assert_eq!(gen_tokens, 19.0);
    assert_eq!(
        metric(
            get(gen_a.addr(), "/metrics").await.text(),
            "vllm:prompt_tokens_total{"
        ),
        0.0
    );
    // Errors from a worker pass through.
    let bad = post(addr, "/v1/completions", &json!({"prompt": []})).await;
    assert_eq!(bad.status, 400);
    // One worker down: the router is not healthy.
    gen_b.server.shutdown();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(get(addr, "/health").await.status, 503);
}
