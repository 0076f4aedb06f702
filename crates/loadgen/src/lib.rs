//! servebench's built-in load generator: an OpenAI-compatible streaming client that measures
//! the server, not itself.
//!
//! The crate owns the HTTP engine (tokio + hyper, one keep-alive connection per concurrent
//! request, incremental SSE parsing, monotonic timestamps at chunk arrival), the datasets, the
//! vLLM-compatible metrics and the client's own health check. It depends on no other servebench
//! crate and never prints: [`cli`] is the command-line face, [`run_benchmark`] the in-process one.
//!
//! ```no_run
//! # async fn demo() -> Result<(), servebench_loadgen::BenchError> {
//! use servebench_loadgen::{BenchConfig, DatasetSpec, run_benchmark, write_text};
//! let dataset = DatasetSpec::Random {
//!     input_len: 128, output_len: 256, range_ratio: 1.0, ids: true, vocab_size: 32000,
//! };
//! let mut cfg = BenchConfig::new("http://127.0.0.1:8000", dataset);
//! cfg.num_prompts = 640;
//! cfg.max_concurrency = Some(64);
//! cfg.ignore_eos = true;
//! let report = run_benchmark(&cfg).await?;
//! write_text(&report, &mut std::io::stdout()).ok();
//! assert!(!report.health.client_bound);
//! # Ok(()) }
//! ```

pub mod cli;
mod config;
mod dataset;
mod engine;
mod error;
mod http1;
mod metrics;
mod report;
pub mod rxstamp;
pub mod search;
mod sse;
pub mod stats;
mod workload;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Gamma};
use serde_json::json;
use tokenizers::Tokenizer;

pub use config::{BenchConfig, DatasetSpec, Endpoint, Metric, RequestRate, Slo};
pub use error::BenchError;
pub use report::{
    BenchMetrics, BenchReport, ClientHealth, ErrorKind, RequestError, RequestRecord, TurnStats,
    WorkloadStats, result_json, write_requests_jsonl, write_text,
};
pub use workload::{Lengths, MultiTurn, SharedPrefix, TraceReplay, Workload};

use dataset::{Prompt, Sample};

/// Checks a config for contradictions and out-of-range values.
pub fn validate(cfg: &BenchConfig) -> Result<(), BenchError> {
    let bad = |m: String| Err(BenchError::InvalidConfig(m));
    if cfg.num_prompts == 0 {
        return bad("the number of prompts must be at least 1".into());
    }
    if cfg.max_concurrency == Some(0) {
        return bad("max concurrency must be at least 1".into());
    }
    if let RequestRate::PerSecond { rate, burstiness } = cfg.request_rate {
        if !(rate.is_finite() && rate > 0.0) {
            return bad(format!("request rate must be positive or inf, got {rate}"));
        }
        if !(burstiness.is_finite() && burstiness > 0.0) {
            return bad(format!("burstiness must be positive, got {burstiness}"));
        }
    }
    if let DatasetSpec::Random {
        range_ratio,
        input_len,
        output_len,
        ids,
        ..
    } = &cfg.dataset
    {
        if !(0.0..=1.0).contains(range_ratio) {
            return bad(format!(
                "random range ratio must be in [0, 1] (lengths in [len*ratio, len]; 1 = fixed), got {range_ratio}"
            ));
        }
        if *output_len == 0 {
            return bad("random output length must be at least 1".into());
        }
        if *input_len == 0 {
            return bad("random input length must be at least 1".into());
        }
        let needs_text = !*ids || cfg.endpoint == Endpoint::ChatCompletions;
        if needs_text && cfg.tokenizer.is_none() {
            return bad(
                "text prompts from the random dataset (chat endpoint or no --random-ids) need --tokenizer"
                    .into(),
            );
        }
    }
    for &p in &cfg.percentiles {
        if !(p > 0.0 && p <= 100.0) {
            return bad(format!("percentile {p} is outside (0, 100]"));
        }
    }
    if cfg.percentile_metrics.is_empty() {
        return bad("no percentile metrics selected".into());
    }
    for slo in &cfg.goodput {
        if slo.metric == Metric::Itl {
            return bad("goodput SLOs apply to ttft, tpot and e2el only".into());
        }
        if slo.limit_ms.is_nan() || slo.limit_ms < 0.0 {
            return bad(format!(
                "goodput limit for {} must be non-negative",
                slo.metric.key()
            ));
        }
    }
    if cfg.request_timeout.is_zero() {
        return bad("the request timeout must be positive".into());
    }
    engine::parse_base_url(&cfg.base_url).map_err(BenchError::InvalidConfig)?;
    Ok(())
}

/// Loads the tokenizer, if the config names one.
fn load_tokenizer(cfg: &BenchConfig) -> Result<Option<Tokenizer>, BenchError> {
    cfg.tokenizer
        .as_ref()
        .map(|p| {
            Tokenizer::from_file(p).map_err(|e| BenchError::Input {
                path: p.clone(),
                message: e.to_string(),
            })
        })
        .transpose()
}

/// The request body for one sample.
fn body_for(
    cfg: &BenchConfig,
    model: &str,
    s: &Sample,
    tok: Option<&Tokenizer>,
) -> Result<Bytes, BenchError> {
    let mut body = match cfg.endpoint {
        Endpoint::Completions => {
            let prompt = match &s.prompt {
                Prompt::Text(t) => json!(t),
                Prompt::Ids(ids) => json!(ids),
            };
            json!({"model": model, "prompt": prompt, "max_tokens": s.output_len})
        }
        Endpoint::ChatCompletions => {
            let text = match (&s.prompt, tok) {
                (Prompt::Text(t), _) => t.clone(),
                (Prompt::Ids(ids), Some(t)) => t.decode(ids, false).map_err(|e| {
                    BenchError::InvalidConfig(format!("cannot decode token ids: {e}"))
                })?,
                (Prompt::Ids(_), None) => {
                    return Err(BenchError::InvalidConfig(
                        "token-id prompts cannot go to the chat endpoint without --tokenizer"
                            .into(),
                    ));
                }
            };
            json!({
                "model": model,
                "messages": [{"role": "user", "content": text}],
                "max_tokens": s.output_len,
                "max_completion_tokens": s.output_len,
            })
        }
    };
    if let Some(o) = body.as_object_mut() {
        o.insert("temperature".into(), json!(0.0));
        o.insert("stream".into(), json!(cfg.streaming));
        if cfg.streaming {
            o.insert("stream_options".into(), json!({"include_usage": true}));
        }
        if cfg.ignore_eos {
            o.insert("ignore_eos".into(), json!(true));
        }
    }
    serde_json::to_vec(&body)
        .map(Bytes::from)
        .map_err(|e| BenchError::Internal(format!("cannot encode a request: {e}")))
}

/// Planned send offsets: all zero for an infinite rate, else gamma-distributed gaps with shape
/// `burstiness` and mean `1/rate` (the first request goes at 0, as upstream).
fn schedule(rate: RequestRate, n: usize, seed: u64) -> Result<Vec<Duration>, BenchError> {
    match rate {
        RequestRate::Infinite => Ok(vec![Duration::ZERO; n]),
        RequestRate::PerSecond { rate, burstiness } => {
            let gamma = Gamma::new(burstiness, 1.0 / (rate * burstiness))
                .map_err(|e| BenchError::InvalidConfig(format!("bad arrival process: {e}")))?;
            let mut rng = StdRng::seed_from_u64(seed ^ 0x05ee_da11);
            let mut t = 0.0f64;
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                out.push(Duration::try_from_secs_f64(t).unwrap_or(Duration::MAX));
                t += gamma.sample(&mut rng);
            }
            Ok(out)
        }
    }
}

/// UTC `%Y%m%d-%H%M%S`.
fn utc_stamp(t: SystemTime) -> String {
    jiff::Timestamp::try_from(t)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .strftime("%Y%m%d-%H%M%S")
        .to_string()
}

/// Runs one benchmark: builds every payload, connects and warms up before the clock starts,
/// sends `num_prompts` requests, and computes the metrics and the client's health.
///
/// Failed requests are counted in the report, not returned as errors. Errors mean the run could
/// not happen: bad config or input ([`BenchError::InvalidConfig`], [`BenchError::Input`]),
/// server unreachable ([`BenchError::Unreachable`], [`BenchError::BadServer`]) or an internal
/// failure. CPU use is measured for the whole process.
pub async fn run_benchmark(cfg: &BenchConfig) -> Result<BenchReport, BenchError> {
    validate(cfg)?;
    let tok = load_tokenizer(cfg)?;
    let mut warnings = Vec::new();
    let prepared = match &cfg.workload {
        Some(w) => workload::prepare(w, cfg.num_prompts, cfg.seed)?,
        None => workload::Prepared {
            samples: dataset::load(&cfg.dataset, cfg.num_prompts, cfg.seed, tok.as_ref())?,
            turns: 1,
            think: Duration::ZERO,
            schedule: None,
            priming: Vec::new(),
        },
    };
    let samples = prepared.samples;
    let target = engine::resolve(&cfg.base_url).await?;
    let model = match &cfg.model {
        Some(m) => m.clone(),
        None => {
            let url = format!("{}/v1/models", cfg.base_url.trim_end_matches('/'));
            // Bounded by the request timeout: a server that drips or never answers must not
            // hang the run before it starts.
            let doc =
                tokio::time::timeout(cfg.request_timeout, engine::get_json(&target, "/v1/models"))
                    .await
                    .unwrap_or_else(|_| {
                        Err(format!(
                            "no complete answer within {:.3} s",
                            cfg.request_timeout.as_secs_f64()
                        ))
                    })
                    .map_err(|message| BenchError::BadServer {
                        url: url.clone(),
                        message,
                    })?;
            doc.pointer("/data/0/id")
                .and_then(|v| v.as_str())
                .map(str::to_owned)
                .ok_or_else(|| BenchError::BadServer {
                    url,
                    message: "no model listed".into(),
                })?
        }
    };
    let build = |list: &[Sample]| {
        list.iter()
            .map(|s| body_for(cfg, &model, s, tok.as_ref()))
            .collect::<Result<Vec<_>, _>>()
    };
    let bodies = build(&samples)?;
    let n = bodies.len();
    let turns = prepared.turns.max(1);
    let units = n.div_ceil(turns);
    let workers = cfg.max_concurrency.unwrap_or(units).clamp(1, units.max(1));
    let unreachable = |source| BenchError::Unreachable {
        url: cfg.base_url.clone(),
        source,
    };
    // Pre-open the pool when the concurrency is capped; otherwise prove the server answers.
    let mut conns = if cfg.max_concurrency.is_some() {
        engine::connect_many(&target, workers)
            .await
            .map_err(unreachable)?
    } else {
        let first = engine::connect(target.addr).await.map_err(unreachable)?;
        first.reserve_fds(workers + 16);
        vec![first]
    };
    let keep_text = cfg.keep_text || tok.is_some();
    let head = engine::request_head(&target, cfg.endpoint.path(), cfg.api_key.as_deref());
    // Warm-up: the workload's priming requests (one per shared prefix), then `--warmup` requests
    // of the dataset, none of them measured.
    let warm: Vec<(Bytes, u64)> = build(&prepared.priming)?
        .into_iter()
        .zip(prepared.priming.iter().map(|s| s.output_len))
        .chain(
            bodies
                .iter()
                .cloned()
                .zip(samples.iter().map(|s| s.output_len))
                .cycle()
                .take(cfg.warmup),
        )
        .collect();
    if !warm.is_empty() {
        let k = warm.len();
        let (bodies, expected) = warm.into_iter().unzip();
        let plan = engine::Plan {
            target: target.clone(),
            head: head.clone(),
            bodies,
            expected,
            schedule: vec![Duration::ZERO; k],
            turns: 1,
            think: Duration::ZERO,
            streaming: cfg.streaming,
            keep_text: false,
            timeout: cfg.request_timeout,
            deadline: cfg.deadline,
        };
        let (_, _, _, back) = engine::run(Arc::new(plan), workers.min(k), conns).await?;
        conns = back;
    }
    let schedule = match prepared.schedule {
        Some(s) => s,
        None => schedule(cfg.request_rate, units, cfg.seed)?,
    };
    let plan = engine::Plan {
        target,
        head,
        expected: samples.iter().map(|s| s.output_len).collect(),
        bodies,
        schedule,
        turns,
        think: prepared.think,
        streaming: cfg.streaming,
        keep_text,
        timeout: cfg.request_timeout,
        deadline: cfg.deadline,
    };
    let date = utc_stamp(SystemTime::now());
    let cpu0 = metrics::cpu_times();
    let (mut records, started, duration, _) = engine::run(Arc::new(plan), workers, conns).await?;
    let cpu1 = metrics::cpu_times();
    let cpu = (cpu1.0.saturating_sub(cpu0.0), cpu1.1.saturating_sub(cpu0.1));
    let (m, notes) = metrics::compute(cfg, &samples, &mut records, duration, tok.as_ref());
    if notes.by_chunks > 0 {
        warnings.push(format!(
            "{} responses had no usage and no tokenizer was given: output tokens counted as chunks",
            notes.by_chunks
        ));
    }
    if notes.by_tokenizer > 0 {
        warnings.push(format!(
            "{} responses had no usage: output tokens counted with the tokenizer",
            notes.by_tokenizer
        ));
    }
    if notes.prompt_unknown > 0 {
        warnings.push(format!(
            "{} prompts have unknown token counts (counted as 0)",
            notes.prompt_unknown
        ));
    }
    if cfg.ignore_eos && m.output_len_mismatches > 0 {
        warnings.push(format!(
            "{} successful requests did not generate max_tokens despite ignore_eos",
            m.output_len_mismatches
        ));
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let health = metrics::health(cfg, &records, &m, cpu, cores);
    let mut errors: Vec<(String, usize)> = Vec::new();
    for r in &records {
        if let Some(e) = &r.error {
            let name = e.kind.name();
            match errors.iter_mut().find(|(k, _)| *k == name) {
                Some((_, c)) => *c += 1,
                None => errors.push((name.into_owned(), 1)),
            }
        }
    }
    if !cfg.keep_text {
        for r in &mut records {
            r.text = None;
        }
    }
    Ok(BenchReport {
        date,
        started,
        model,
        tokenizer: cfg.tokenizer.as_ref().map(|p| p.display().to_string()),
        endpoint: cfg.endpoint,
        base_url: cfg.base_url.clone(),
        num_prompts: n,
        max_concurrency: cfg.max_concurrency,
        request_rate: cfg.request_rate,
        percentile_metrics: cfg.percentile_metrics.clone(),
        percentiles: cfg.percentiles.clone(),
        goodput: cfg.goodput.clone(),
        metrics: m,
        errors,
        health,
        workload: WorkloadStats::of(
            cfg.workload.as_ref().map(Workload::kind),
            cfg.workload.as_ref().and_then(Workload::target_hit_rate),
            turns,
            &records,
            &cfg.percentiles,
        ),
        requests: records,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_stamps() {
        assert_eq!(utc_stamp(SystemTime::UNIX_EPOCH), "19700101-000000");
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_709_210_096); // 2024-02-29 12:34:56
        assert_eq!(utc_stamp(t), "20240229-123456");
    }

    #[test]
    fn schedules() {
        assert_eq!(
            schedule(RequestRate::Infinite, 3, 0).unwrap(),
            vec![Duration::ZERO; 3]
        );
        let r = RequestRate::PerSecond {
            rate: 100.0,
            burstiness: 1.0,
        };
        let s = schedule(r, 2001, 1).unwrap();
        assert_eq!(s[0], Duration::ZERO);
        assert!(s.windows(2).all(|w| w[0] <= w[1]));
        // 2000 gaps of mean 10 ms: the total is near 20 s.
        let total = s[2000].as_secs_f64();
        assert!((18.0..22.0).contains(&total), "{total}");
        assert_eq!(s, schedule(r, 2001, 1).unwrap());
    }

    #[test]
    fn validation_rejects_contradictions() {
        let random = |ids| DatasetSpec::Random {
            input_len: 4,
            output_len: 4,
            range_ratio: 0.0,
            ids,
            vocab_size: 100,
        };
        let ok = BenchConfig::new("http://127.0.0.1:1", random(true));
        assert!(validate(&ok).is_ok());
        let mut c = ok.clone();
        c.endpoint = Endpoint::ChatCompletions;
        assert!(validate(&c).is_err(), "ids to chat without a tokenizer");
        let mut c = ok.clone();
        c.dataset = random(false);
        assert!(validate(&c).is_err(), "text prompts without a tokenizer");
        let mut c = ok.clone();
        c.max_concurrency = Some(0);
        assert!(validate(&c).is_err());
        let mut c = ok.clone();
        c.percentiles = vec![0.0];
        assert!(validate(&c).is_err());
        let mut c = ok.clone();
        c.goodput = vec![Slo {
            metric: Metric::Itl,
            limit_ms: 1.0,
        }];
        assert!(validate(&c).is_err());
        let mut c = ok;
        c.base_url = "https://x".into();
        assert!(validate(&c).is_err());
    }

    #[test]
    fn bodies_follow_the_openai_apis() {
        let mut cfg = BenchConfig::new("http://x", DatasetSpec::Jsonl { path: "x".into() });
        cfg.ignore_eos = true;
        let s = Sample {
            prompt: Prompt::Ids(vec![1, 2]),
            prompt_len: Some(2),
            output_len: 3,
        };
        let b: serde_json::Value =
            serde_json::from_slice(&body_for(&cfg, "m", &s, None).unwrap()).unwrap();
        assert_eq!(b["prompt"], json!([1, 2]));
        assert_eq!(b["max_tokens"], 3);
        assert_eq!(b["ignore_eos"], true);
        assert_eq!(b["stream_options"]["include_usage"], true);
        cfg.endpoint = Endpoint::ChatCompletions;
        cfg.streaming = false;
        let s = Sample {
            prompt: Prompt::Text("hi".into()),
            prompt_len: None,
            output_len: 3,
        };
        let b: serde_json::Value =
            serde_json::from_slice(&body_for(&cfg, "m", &s, None).unwrap()).unwrap();
        assert_eq!(b["messages"][0]["content"], "hi");
        assert_eq!(b["stream"], false);
        assert!(b.get("stream_options").is_none());
    }
}
