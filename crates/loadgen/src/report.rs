//! What a run produced, and its renderings: upstream's text block, the result JSON and the
//! per-request JSON lines. Renderers are pure: they write into any `io::Write`.

use std::borrow::Cow;
use std::fmt;
use std::io::{self, Write};
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::config::{Endpoint, Metric, RequestRate, Slo};
use crate::stats::Summary;

/// Why a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// No TCP connection could be opened.
    ConnectError,
    /// The request could not be written or no response head came back.
    RequestError,
    /// The server answered with a status other than 200.
    Http(u16),
    /// The stream broke off, or ended without `data: [DONE]`.
    StreamCut,
    /// The stream ended properly but carried no choice.
    EmptyStream,
    /// An event was not valid JSON.
    InvalidChunk,
    /// The stream carried an `error` object.
    ServerError,
    /// The per-request timeout expired.
    Timeout,
    /// The overall deadline expired before the request finished (or was sent).
    Deadline,
}

impl ErrorKind {
    /// The name printed in `Error type: <name>, Count: N requests`.
    pub fn name(self) -> Cow<'static, str> {
        match self {
            Self::ConnectError => "ConnectError".into(),
            Self::RequestError => "RequestError".into(),
            Self::Http(code) => format!("HTTPStatus{code}").into(),
            Self::StreamCut => "StreamCut".into(),
            Self::EmptyStream => "EmptyStream".into(),
            Self::InvalidChunk => "InvalidChunk".into(),
            Self::ServerError => "ServerError".into(),
            Self::Timeout => "Timeout".into(),
            Self::Deadline => "Deadline".into(),
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// A failed request's kind and detail.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestError {
    /// The kind, counted per type in the report.
    pub kind: ErrorKind,
    /// Detail (status body, I/O error text).
    pub message: String,
}

impl RequestError {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

/// One request's timeline and counts. Times are offsets from the start of the measured run.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRecord {
    /// Position in the dataset order.
    pub index: usize,
    /// Planned send time.
    pub scheduled: Duration,
    /// When the request could have gone out: its planned time, or when its worker became free.
    pub eligible: Duration,
    /// When it went out (`None` if never sent).
    pub sent: Option<Duration>,
    /// Arrival of the first chunk with a choice.
    pub first_chunk: Option<Duration>,
    /// Arrival of the last chunk with a choice.
    pub last_chunk: Option<Duration>,
    /// When the request finished (success or failure).
    pub end: Duration,
    /// Chunks with a choice.
    pub chunks: u32,
    /// Gaps between consecutive chunks, in seconds.
    pub itl: Vec<f64>,
    /// `usage.prompt_tokens` reported by the server.
    pub usage_prompt_tokens: Option<u64>,
    /// `usage.completion_tokens` reported by the server.
    pub usage_completion_tokens: Option<u64>,
    /// `usage.prompt_tokens_details.cached_tokens`: prompt tokens the server's prefix cache held.
    pub usage_cached_tokens: Option<u64>,
    /// Prompt tokens counted for the metrics.
    pub prompt_tokens: u64,
    /// Output tokens counted for the metrics (0 for a failed request).
    pub output_tokens: u64,
    /// `max_tokens` asked for.
    pub expected_output_tokens: u64,
    /// Generated text, when kept.
    pub text: Option<String>,
    /// Why it failed; `None` on success.
    pub error: Option<RequestError>,
}

impl RequestRecord {
    pub(crate) fn new(index: usize, scheduled: Duration) -> Self {
        Self {
            index,
            scheduled,
            eligible: scheduled,
            sent: None,
            first_chunk: None,
            last_chunk: None,
            end: scheduled,
            chunks: 0,
            itl: Vec::new(),
            usage_prompt_tokens: None,
            usage_completion_tokens: None,
            usage_cached_tokens: None,
            prompt_tokens: 0,
            output_tokens: 0,
            expected_output_tokens: 0,
            text: None,
            error: None,
        }
    }

    /// Whether the request succeeded.
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }

    /// Time to first token, seconds (successful streamed requests).
    pub fn ttft(&self) -> Option<f64> {
        Some(self.first_chunk?.checked_sub(self.sent?)?.as_secs_f64())
    }

    /// End-to-end latency up to the last chunk, seconds (vLLM's `latency`).
    pub fn e2el(&self) -> Option<f64> {
        Some(self.last_chunk?.checked_sub(self.sent?)?.as_secs_f64())
    }
}

/// The `benchmark_serving` metrics (SPEC 9.2). Latency summaries are in milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchMetrics {
    /// Requests in the run.
    pub total_requests: usize,
    /// Successful requests.
    pub completed: usize,
    /// Failed requests.
    pub failed: usize,
    /// Prompt tokens of successful requests.
    pub total_input_tokens: u64,
    /// Output tokens of successful requests.
    pub total_output_tokens: u64,
    /// Sum of `max_tokens` over all requests.
    pub expected_output_tokens: u64,
    /// Successful requests whose output length differs from `max_tokens`.
    pub output_len_mismatches: usize,
    /// Wall time of the measured run, seconds.
    pub duration_s: f64,
    /// Completed requests per second.
    pub request_throughput: f64,
    /// Good requests per second (only with SLOs).
    pub request_goodput: Option<f64>,
    /// Output tokens per second.
    pub output_throughput: f64,
    /// Input plus output tokens per second.
    pub total_token_throughput: f64,
    /// Mean over successful requests of output tokens / E2EL.
    pub user_throughput: f64,
    /// Time to first token (ms).
    pub ttft_ms: Summary,
    /// Time per output token excluding the first (ms).
    pub tpot_ms: Summary,
    /// Pooled inter-chunk latency (ms).
    pub itl_ms: Summary,
    /// End-to-end latency (ms).
    pub e2el_ms: Summary,
}

impl BenchMetrics {
    /// The summary of one metric.
    pub fn summary(&self, m: Metric) -> &Summary {
        match m {
            Metric::Ttft => &self.ttft_ms,
            Metric::Tpot => &self.tpot_ms,
            Metric::Itl => &self.itl_ms,
            Metric::E2el => &self.e2el_ms,
        }
    }
}

/// Evidence that the client measured the server and not itself.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientHealth {
    /// Closed loop at infinite rate: how long the first request of every worker (all due at
    /// time zero) took to go out, ms; 0 for open-loop schedules.
    pub ramp_up_ms: f64,
    /// How late requests after the ramp-up went out after they became eligible (ms): p50.
    pub lateness_p50_ms: f64,
    /// p99 of the lateness (ms).
    pub lateness_p99_ms: f64,
    /// Largest lateness (ms).
    pub lateness_max_ms: f64,
    /// The concurrency cap asked for.
    pub configured_concurrency: Option<usize>,
    /// Time-weighted mean of requests in flight while requests remained to be sent.
    pub achieved_concurrency_mean: f64,
    /// Most requests in flight at once.
    pub achieved_concurrency_peak: usize,
    /// User CPU time of the process during the run, seconds.
    pub cpu_user_s: f64,
    /// System CPU time of the process during the run, seconds.
    pub cpu_sys_s: f64,
    /// (user + system) CPU per output token, microseconds.
    pub cpu_per_output_token_us: f64,
    /// CPU time / (wall time x usable cores), 0 to 1.
    pub cpu_utilization: f64,
    /// Cores the process may use.
    pub cores: usize,
    /// The client limited the run.
    pub client_bound: bool,
    /// Why, when `client_bound`.
    pub reasons: Vec<String>,
}

/// What the workload asked of the server's prefix cache and what each turn of a conversation saw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkloadStats {
    /// `shared_prefix`, `multi_turn` or `trace`; `None` for a plain dataset.
    pub kind: Option<&'static str>,
    /// The shared-prefix workload's target hit rate.
    pub target_hit_rate: Option<f64>,
    /// Cached prompt tokens / prompt tokens over successful requests whose usage reported
    /// `prompt_tokens_details.cached_tokens`; `None` when none did.
    pub observed_hit_rate: Option<f64>,
    /// Per turn of a multi-turn workload (empty otherwise).
    pub per_turn: Vec<TurnStats>,
}

/// The requests of one turn (1-based) of every session.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnStats {
    /// Turn number, from 1.
    pub turn: usize,
    /// Successful requests of this turn.
    pub completed: usize,
    /// Mean prompt tokens (the conversation so far).
    pub mean_prompt_tokens: f64,
    /// Time to first token of this turn, ms.
    pub ttft_ms: Summary,
    /// End-to-end latency of this turn, ms.
    pub e2el_ms: Summary,
}

impl WorkloadStats {
    /// Computes the stats from records whose token counts are filled in.
    pub(crate) fn of(
        kind: Option<&'static str>,
        target_hit_rate: Option<f64>,
        turns: usize,
        records: &[RequestRecord],
        percentiles: &[f64],
    ) -> Self {
        let (mut cached, mut prompt, mut reported) = (0u64, 0u64, false);
        for r in records.iter().filter(|r| r.ok()) {
            if let Some(c) = r.usage_cached_tokens {
                reported = true;
                cached += c;
                prompt += r.usage_prompt_tokens.unwrap_or(r.prompt_tokens);
            }
        }
        let per_turn = if turns > 1 {
            (0..turns)
                .map(|t| {
                    let of_turn: Vec<&RequestRecord> = records
                        .iter()
                        .filter(|r| r.ok() && r.index % turns == t)
                        .collect();
                    let mut ttft: Vec<f64> = of_turn.iter().filter_map(|r| r.ttft()).collect();
                    let mut e2el: Vec<f64> = of_turn.iter().filter_map(|r| r.e2el()).collect();
                    let tokens: Vec<f64> = of_turn.iter().map(|r| r.prompt_tokens as f64).collect();
                    TurnStats {
                        turn: t + 1,
                        completed: of_turn.len(),
                        mean_prompt_tokens: crate::stats::mean(&tokens),
                        ttft_ms: Summary::of(&mut ttft, percentiles).scaled(1000.0),
                        e2el_ms: Summary::of(&mut e2el, percentiles).scaled(1000.0),
                    }
                })
                .collect()
        } else {
            Vec::new()
        };
        Self {
            kind,
            target_hit_rate,
            observed_hit_rate: (reported && prompt > 0).then(|| cached as f64 / prompt as f64),
            per_turn,
        }
    }

    fn shown(&self) -> bool {
        self.kind.is_some() || self.observed_hit_rate.is_some()
    }

    fn json(&self) -> Value {
        let summary = |s: &Summary| {
            let mut o = Map::new();
            o.insert("mean".into(), json!(s.mean));
            o.insert("median".into(), json!(s.median));
            for &(p, v) in &s.percentiles {
                o.insert(format!("p{}", p_word(p)), json!(v));
            }
            Value::Object(o)
        };
        json!({
            "kind": self.kind,
            "target_prefix_cache_hit_rate": self.target_hit_rate,
            "observed_prefix_cache_hit_rate": self.observed_hit_rate,
            "per_turn": self.per_turn.iter().map(|t| json!({
                "turn": t.turn,
                "completed": t.completed,
                "mean_prompt_tokens": t.mean_prompt_tokens,
                "ttft_ms": summary(&t.ttft_ms),
                "e2el_ms": summary(&t.e2el_ms),
            })).collect::<Vec<_>>(),
        })
    }

    /// The `Workload` section of the text output. Its labels avoid `TTFT` and the other words
    /// upstream's parsers look for.
    fn write(&self, w: &mut impl Write) -> io::Result<()> {
        writeln!(w, "{}", centred(" Workload ", '-', 50))?;
        row(w, "Workload:", self.kind.unwrap_or("dataset"))?;
        if let Some(t) = self.target_hit_rate {
            row(w, "Prefix cache hit rate target (%):", &f2(t * 100.0))?;
        }
        let observed = self
            .observed_hit_rate
            .map_or_else(|| "n/a".to_owned(), |h| f2(h * 100.0));
        row(w, "Prefix cache hit rate observed (%):", &observed)?;
        for t in &self.per_turn {
            let k = t.turn;
            row(w, &format!("Turn {k} requests:"), &t.completed.to_string())?;
            row(
                w,
                &format!("Turn {k} mean prompt tokens:"),
                &f2(t.mean_prompt_tokens),
            )?;
            row(
                w,
                &format!("Turn {k} mean first token (ms):"),
                &f2(t.ttft_ms.mean),
            )?;
            row(
                w,
                &format!("Turn {k} median first token (ms):"),
                &f2(t.ttft_ms.median),
            )?;
            for &(p, v) in &t.ttft_ms.percentiles {
                row(
                    w,
                    &format!("Turn {k} P{} first token (ms):", p_word(p)),
                    &f2(v),
                )?;
            }
            row(
                w,
                &format!("Turn {k} mean latency (ms):"),
                &f2(t.e2el_ms.mean),
            )?;
        }
        writeln!(w, "{}", "=".repeat(50))
    }
}

/// Everything one run produced.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// Start time, UTC, `%Y%m%d-%H%M%S` as vLLM.
    pub date: String,
    /// The instant request offsets count from (to correlate with in-process servers or logs).
    pub started: std::time::Instant,
    /// Model name sent.
    pub model: String,
    /// Tokenizer file, if any.
    pub tokenizer: Option<String>,
    /// API used.
    pub endpoint: Endpoint,
    /// Server base URL.
    pub base_url: String,
    /// Measured requests.
    pub num_prompts: usize,
    /// Concurrency cap.
    pub max_concurrency: Option<usize>,
    /// Arrival process.
    pub request_rate: RequestRate,
    /// Metrics printed.
    pub percentile_metrics: Vec<Metric>,
    /// Percentiles printed.
    pub percentiles: Vec<f64>,
    /// Goodput SLOs.
    pub goodput: Vec<Slo>,
    /// The metrics.
    pub metrics: BenchMetrics,
    /// Failed requests per error type, in order of first occurrence.
    pub errors: Vec<(String, usize)>,
    /// Client health.
    pub health: ClientHealth,
    /// Every request, in dataset order.
    pub requests: Vec<RequestRecord>,
    /// Things the user should know (token counts estimated, lengths not honoured, ...).
    pub warnings: Vec<String>,
    /// The workload and prefix-cache figures.
    pub workload: WorkloadStats,
}

impl BenchReport {
    /// True when every request succeeded.
    pub fn all_succeeded(&self) -> bool {
        self.metrics.failed == 0
    }
}

/// Python's `'{s:{c}^{n}}'.format(...)`: `s` centred in `width` copies of `fill`, extra on the right.
fn centred(s: &str, fill: char, width: usize) -> String {
    let len = s.chars().count();
    if len >= width {
        return s.to_owned();
    }
    let left = (width - len) / 2;
    let right = width - len - left;
    let mut out = String::with_capacity(width);
    out.extend(std::iter::repeat_n(fill, left));
    out.push_str(s);
    out.extend(std::iter::repeat_n(fill, right));
    out
}

/// Python's `'{:.2f}'` (`nan`/`inf` spelt as Python does).
fn f2(v: f64) -> String {
    fx(v, 2)
}

fn fx(v: f64, digits: usize) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v.is_infinite() {
        if v > 0.0 { "inf".into() } else { "-inf".into() }
    } else {
        format!("{v:.digits$}")
    }
}

/// Python's `repr(float)` for the rates printed before the block (`inf`, `1.0`, `2.5`).
fn py_float(v: f64) -> String {
    if v.is_infinite() && v > 0.0 {
        "inf".into()
    } else {
        format!("{v:?}")
    }
}

/// Python's `str(int(p)) if int(p) == p else str(p)`.
pub(crate) fn p_word(p: f64) -> String {
    if p.fract() == 0.0 && p.abs() < 1e15 {
        format!("{}", p as i64)
    } else {
        format!("{p}")
    }
}

fn row(w: &mut impl Write, label: &str, value: &str) -> io::Result<()> {
    writeln!(w, "{label:<40} {value:<10}")
}

/// Writes upstream's `benchmark_serving` output (reference 6.1) and our `Client health` section.
///
/// Order: the traffic lines upstream prints before the run, the error-type lines and
/// `Total failed requests: N`, the 50-wide result block (with the `!FAILED REQUESTS!` lines when
/// any failed), the closing banner, then the client-health section and its closing banner.
pub fn write_text(report: &BenchReport, w: &mut impl Write) -> io::Result<()> {
    let (rate, burst) = match report.request_rate {
        RequestRate::Infinite => (f64::INFINITY, 1.0),
        RequestRate::PerSecond { rate, burstiness } => (rate, burstiness),
    };
    let dist = if burst == 1.0 {
        "Poisson process"
    } else {
        "Gamma distribution"
    };
    writeln!(w, "Traffic request rate: {}", py_float(rate))?;
    writeln!(w, "Burstiness factor: {} ({dist})", py_float(burst))?;
    match report.max_concurrency {
        Some(c) => writeln!(w, "Maximum request concurrency: {c}")?,
        None => writeln!(w, "Maximum request concurrency: None")?,
    }
    let m = &report.metrics;
    for (name, count) in &report.errors {
        writeln!(w, "Error type: {name}, Count: {count} requests")?;
    }
    writeln!(w, "Total failed requests: {}", m.failed)?;
    writeln!(w, "{}", centred(" Serving Benchmark Result ", '=', 50))?;
    row(w, "Total requests:", &m.total_requests.to_string())?;
    row(w, "Successful requests:", &m.completed.to_string())?;
    row(w, "Failed requests:", &m.failed.to_string())?;
    row(w, "Benchmark duration (s):", &f2(m.duration_s))?;
    row(w, "Total input tokens:", &m.total_input_tokens.to_string())?;
    row(
        w,
        "Total generated tokens:",
        &m.total_output_tokens.to_string(),
    )?;
    row(w, "Request throughput (req/s):", &f2(m.request_throughput))?;
    if let Some(g) = m.request_goodput {
        row(w, "Request goodput (req/s):", &f2(g))?;
    }
    row(
        w,
        "Output token throughput (tok/s):",
        &f2(m.output_throughput),
    )?;
    row(
        w,
        "Total Token throughput (tok/s):",
        &f2(m.total_token_throughput),
    )?;
    row(w, "User throughput (tok/s):", &f2(m.user_throughput))?;
    if m.failed > 0 {
        writeln!(
            w,
            "=======================!FAILED REQUESTS!======================="
        )?;
        writeln!(w, "Total failed requests: {}", m.failed)?;
        writeln!(
            w,
            "=====================!CHECK LOG FOR ERRORS!===================="
        )?;
    }
    for metric in Metric::ALL {
        if !report.percentile_metrics.contains(&metric) {
            continue;
        }
        let (name, header) = match metric {
            Metric::Ttft => ("TTFT", "Time to First Token"),
            Metric::Tpot => ("TPOT", "Time per Output Token (excl. 1st token)"),
            Metric::Itl => ("ITL", "Inter-token Latency"),
            Metric::E2el => ("E2EL", "End-to-end Latency"),
        };
        let s = m.summary(metric);
        writeln!(w, "{}", centred(header, '-', 50))?;
        row(w, &format!("Mean {name} (ms):"), &f2(s.mean))?;
        row(w, &format!("Median {name} (ms):"), &f2(s.median))?;
        row(w, &format!("Std Dev {name} (ms):"), &f2(s.std))?;
        for &(p, v) in &s.percentiles {
            row(w, &format!("P{} {name} (ms):", p_word(p)), &f2(v))?;
        }
    }
    writeln!(w, "{}", "=".repeat(50))?;
    let h = &report.health;
    writeln!(w, "{}", centred(" Client health ", '-', 50))?;
    row(w, "Ramp-up (ms):", &fx(h.ramp_up_ms, 3))?;
    row(w, "Schedule lateness p50 (ms):", &fx(h.lateness_p50_ms, 3))?;
    row(w, "Schedule lateness p99 (ms):", &fx(h.lateness_p99_ms, 3))?;
    row(w, "Schedule lateness max (ms):", &fx(h.lateness_max_ms, 3))?;
    let conf = h
        .configured_concurrency
        .map_or_else(|| "None".to_owned(), |c| c.to_string());
    row(w, "Configured concurrency:", &conf)?;
    row(
        w,
        "Achieved concurrency mean:",
        &f2(h.achieved_concurrency_mean),
    )?;
    row(
        w,
        "Achieved concurrency peak:",
        &h.achieved_concurrency_peak.to_string(),
    )?;
    row(
        w,
        "Client CPU user+sys (s):",
        &fx(h.cpu_user_s + h.cpu_sys_s, 3),
    )?;
    row(
        w,
        "Client CPU per output token (us):",
        &fx(h.cpu_per_output_token_us, 3),
    )?;
    row(
        w,
        "Client CPU use (% of cores):",
        &format!("{} of {}", f2(h.cpu_utilization * 100.0), h.cores),
    )?;
    row(
        w,
        "Client bound:",
        if h.client_bound { "yes" } else { "no" },
    )?;
    for r in &h.reasons {
        row(w, "Client bound reason:", r)?;
    }
    writeln!(w, "{}", "=".repeat(50))?;
    if report.workload.shown() {
        report.workload.write(w)?;
    }
    Ok(())
}

fn secs(d: Option<Duration>) -> Value {
    d.map_or(Value::Null, |d| json!(d.as_secs_f64()))
}

/// The result JSON: vLLM's `--save-result` field names plus a `servebench` object of ours.
///
/// Per-request arrays (`input_lens`, `output_lens`, `ttfts`, `itls`, `e2els`, `errors`) follow
/// vLLM: seconds, with `0` TTFT/latency and `""` error for failed or successful requests
/// respectively. `request_goodput:` (with the colon, a TensorRT-LLM typo) and `request_goodput`
/// are both written.
pub fn result_json(report: &BenchReport) -> Value {
    let m = &report.metrics;
    let mut o = Map::new();
    let (rate, burst) = match report.request_rate {
        RequestRate::Infinite => (json!("inf"), json!(1.0)),
        RequestRate::PerSecond { rate, burstiness } => (json!(rate), json!(burstiness)),
    };
    o.insert("date".into(), json!(report.date));
    o.insert("backend".into(), json!(report.endpoint.backend_name()));
    o.insert("model_id".into(), json!(report.model));
    o.insert("tokenizer_id".into(), json!(report.tokenizer));
    o.insert("num_prompts".into(), json!(report.num_prompts));
    o.insert("request_rate".into(), rate);
    o.insert("burstiness".into(), burst);
    o.insert("max_concurrency".into(), json!(report.max_concurrency));
    o.insert("duration".into(), json!(m.duration_s));
    o.insert("completed".into(), json!(m.completed));
    o.insert("failed".into(), json!(m.failed));
    o.insert("total_input_tokens".into(), json!(m.total_input_tokens));
    o.insert("total_output_tokens".into(), json!(m.total_output_tokens));
    o.insert("request_throughput".into(), json!(m.request_throughput));
    o.insert("request_goodput".into(), json!(m.request_goodput));
    o.insert("request_goodput:".into(), json!(m.request_goodput));
    o.insert("output_throughput".into(), json!(m.output_throughput));
    o.insert(
        "total_token_throughput".into(),
        json!(m.total_token_throughput),
    );
    o.insert("user_throughput".into(), json!(m.user_throughput));
    for metric in Metric::ALL {
        if !report.percentile_metrics.contains(&metric) {
            continue;
        }
        let k = metric.key();
        let s = m.summary(metric);
        o.insert(format!("mean_{k}_ms"), json!(s.mean));
        o.insert(format!("median_{k}_ms"), json!(s.median));
        o.insert(format!("std_{k}_ms"), json!(s.std));
        for &(p, v) in &s.percentiles {
            o.insert(format!("p{}_{k}_ms", p_word(p)), json!(v));
        }
    }
    let reqs = &report.requests;
    o.insert(
        "input_lens".into(),
        reqs.iter().map(|r| json!(r.prompt_tokens)).collect(),
    );
    o.insert(
        "output_lens".into(),
        reqs.iter().map(|r| json!(r.output_tokens)).collect(),
    );
    o.insert(
        "ttfts".into(),
        reqs.iter()
            .map(|r| json!(if r.ok() { r.ttft().unwrap_or(0.0) } else { 0.0 }))
            .collect(),
    );
    o.insert("itls".into(), reqs.iter().map(|r| json!(r.itl)).collect());
    o.insert(
        "e2els".into(),
        reqs.iter()
            .map(|r| json!(if r.ok() { r.e2el().unwrap_or(0.0) } else { 0.0 }))
            .collect(),
    );
    o.insert(
        "errors".into(),
        reqs.iter()
            .map(|r| {
                json!(
                    r.error
                        .as_ref()
                        .map_or(String::new(), |e| format!("{}: {}", e.kind, e.message))
                )
            })
            .collect(),
    );
    let h = &report.health;
    let errors: Map<String, Value> = report
        .errors
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    o.insert(
        "servebench".into(),
        json!({
            "schema_version": 1,
            "base_url": report.base_url,
            "endpoint": report.endpoint.path(),
            "expected_output_tokens": m.expected_output_tokens,
            "output_len_mismatches": m.output_len_mismatches,
            "error_counts": errors,
            "goodput_slos_ms": report.goodput.iter().map(|s| (s.metric.key().to_owned(), json!(s.limit_ms))).collect::<Map<_, _>>(),
            "min_ms": Metric::ALL.iter().map(|&k| (k.key().to_owned(), json!(m.summary(k).min))).collect::<Map<_, _>>(),
            "max_ms": Metric::ALL.iter().map(|&k| (k.key().to_owned(), json!(m.summary(k).max))).collect::<Map<_, _>>(),
            "client_health": {
                "ramp_up_ms": h.ramp_up_ms,
                "lateness_p50_ms": h.lateness_p50_ms,
                "lateness_p99_ms": h.lateness_p99_ms,
                "lateness_max_ms": h.lateness_max_ms,
                "configured_concurrency": h.configured_concurrency,
                "achieved_concurrency_mean": h.achieved_concurrency_mean,
                "achieved_concurrency_peak": h.achieved_concurrency_peak,
                "cpu_user_s": h.cpu_user_s,
                "cpu_sys_s": h.cpu_sys_s,
                "cpu_per_output_token_us": h.cpu_per_output_token_us,
                "cpu_utilization": h.cpu_utilization,
                "cores": h.cores,
                "client_bound": h.client_bound,
                "client_bound_reasons": h.reasons,
            },
            "warnings": report.warnings,
            "workload": report.workload.json(),
        }),
    );
    Value::Object(o)
}

/// One JSON object per request and line (times in seconds from the start of the run).
pub fn write_requests_jsonl(report: &BenchReport, w: &mut impl Write) -> io::Result<()> {
    for r in &report.requests {
        let line = json!({
            "index": r.index,
            "max_concurrency": report.max_concurrency,
            "scheduled_s": r.scheduled.as_secs_f64(),
            "eligible_s": r.eligible.as_secs_f64(),
            "sent_s": secs(r.sent),
            "first_chunk_s": secs(r.first_chunk),
            "last_chunk_s": secs(r.last_chunk),
            "end_s": r.end.as_secs_f64(),
            "ttft_ms": r.ttft().map(|v| v * 1e3),
            "e2el_ms": r.e2el().map(|v| v * 1e3),
            "chunks": r.chunks,
            "prompt_tokens": r.prompt_tokens,
            "output_tokens": r.output_tokens,
            "expected_output_tokens": r.expected_output_tokens,
            "usage_prompt_tokens": r.usage_prompt_tokens,
            "usage_completion_tokens": r.usage_completion_tokens,
            "usage_cached_tokens": r.usage_cached_tokens,
            "success": r.ok(),
            "error_type": r.error.as_ref().map(|e| e.kind.name()),
            "error": r.error.as_ref().map(|e| e.message.as_str()),
        });
        serde_json::to_writer(&mut *w, &line)?;
        w.write_all(b"\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_formatting() {
        assert_eq!(
            centred(" Serving Benchmark Result ", '=', 50),
            "============ Serving Benchmark Result ============"
        );
        assert_eq!(
            centred("Time to First Token", '-', 50),
            "---------------Time to First Token----------------"
        );
        assert_eq!(
            centred("Time per Output Token (excl. 1st token)", '-', 50),
            "-----Time per Output Token (excl. 1st token)------"
        );
        assert_eq!(
            centred("Inter-token Latency", '-', 50),
            "---------------Inter-token Latency----------------"
        );
        assert_eq!(
            centred("End-to-end Latency", '-', 50),
            "----------------End-to-end Latency----------------"
        );
        assert_eq!(p_word(99.0), "99");
        assert_eq!(p_word(99.9), "99.9");
        assert_eq!(py_float(f64::INFINITY), "inf");
        assert_eq!(py_float(1.0), "1.0");
        assert_eq!(py_float(2.5), "2.5");
        assert_eq!(f2(f64::NAN), "nan");
        assert_eq!(f2(1.005), "1.00"); // 1.005 is 1.00499999... in binary, as Python prints
        assert_eq!(f2(2.675), "2.67");
        assert_eq!(f2(0.125), "0.12"); // exact tie rounds to even, as Python
    }
}
