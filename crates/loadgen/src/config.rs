//! What one benchmark run does: the target, the workload and the load shape.

use std::path::PathBuf;
use std::time::Duration;

/// One benchmark run at one concurrency (a sweep is several runs).
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Server base URL without the endpoint, e.g. `http://127.0.0.1:8000` (plain HTTP only).
    pub base_url: String,
    /// The OpenAI-compatible API to call.
    pub endpoint: Endpoint,
    /// Model name sent in each request; `None` asks the server's `/v1/models` before the clock starts.
    pub model: Option<String>,
    /// Where prompts and output lengths come from.
    pub dataset: DatasetSpec,
    /// Number of measured requests.
    pub num_prompts: usize,
    /// Closed-loop cap on requests in flight; `None` means unbounded.
    pub max_concurrency: Option<usize>,
    /// Arrival process of requests.
    pub request_rate: RequestRate,
    /// Ask the server to ignore EOS so every request generates its full output length.
    pub ignore_eos: bool,
    /// Stream tokens (SSE) or wait for the whole answer.
    pub streaming: bool,
    /// Metrics whose statistics are reported (vLLM's `--percentile-metrics`).
    pub percentile_metrics: Vec<Metric>,
    /// Percentiles reported for each metric, in (0, 100].
    pub percentiles: Vec<f64>,
    /// Service-level objectives for goodput; empty means goodput is not computed.
    pub goodput: Vec<Slo>,
    /// Local `tokenizer.json` used to count tokens and render token ids as text.
    pub tokenizer: Option<PathBuf>,
    /// Requests sent before the clock starts (not measured).
    pub warmup: usize,
    /// Seed for datasets and arrival times.
    pub seed: u64,
    /// Per-request timeout (a request still running then fails with `Timeout`).
    pub request_timeout: Duration,
    /// Overall deadline of the measured run; requests not done by then fail with `Deadline`.
    pub deadline: Option<Duration>,
    /// Extra `Authorization: Bearer` token (e.g. from `OPENAI_API_KEY`).
    pub api_key: Option<String>,
    /// Keep each request's generated text in the records.
    pub keep_text: bool,
    /// A workload (shared prefix, multi-turn, trace) in place of `dataset`; it decides the
    /// prompts, and a trace also the send times.
    pub workload: Option<crate::workload::Workload>,
}

impl BenchConfig {
    /// A config with upstream's defaults for everything but the target and dataset.
    pub fn new(base_url: impl Into<String>, dataset: DatasetSpec) -> Self {
        Self {
            base_url: base_url.into(),
            endpoint: Endpoint::Completions,
            model: None,
            dataset,
            num_prompts: 1000,
            max_concurrency: None,
            request_rate: RequestRate::Infinite,
            ignore_eos: false,
            streaming: true,
            percentile_metrics: vec![Metric::Ttft, Metric::Tpot, Metric::Itl],
            percentiles: vec![99.0],
            goodput: Vec::new(),
            tokenizer: None,
            warmup: 0,
            seed: 0,
            request_timeout: Duration::from_secs(6 * 3600),
            deadline: None,
            api_key: None,
            keep_text: false,
            workload: None,
        }
    }
}

/// The OpenAI-compatible API called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/v1/completions` (prompt as text or token ids).
    Completions,
    /// `/v1/chat/completions` (prompt as one user message; the server applies its chat template).
    ChatCompletions,
}

impl Endpoint {
    /// The request path.
    pub fn path(self) -> &'static str {
        match self {
            Self::Completions => "/v1/completions",
            Self::ChatCompletions => "/v1/chat/completions",
        }
    }

    /// The name upstream's `--backend` uses for this API (`openai` or `openai-chat`).
    pub fn backend_name(self) -> &'static str {
        match self {
            Self::Completions => "openai",
            Self::ChatCompletions => "openai-chat",
        }
    }
}

/// Source of prompts and expected output lengths.
#[derive(Debug, Clone)]
pub enum DatasetSpec {
    /// Random token ids, lengths drawn uniformly in `[len*(1-ratio), len]` as upstream.
    Random {
        /// Upper bound of the prompt length in tokens.
        input_len: u64,
        /// Upper bound of the output length in tokens.
        output_len: u64,
        /// Lengths are drawn in `[floor(len * range_ratio), len]`; in [0, 1] (1: fixed).
        range_ratio: f64,
        /// Send token-id lists (true) or text decoded with the tokenizer (false; needs one).
        ids: bool,
        /// Vocabulary size for ids when no tokenizer is given.
        vocab_size: u32,
    },
    /// TensorRT-LLM style custom file (JSON array, `{"samples": [...]}` or JSONL).
    TrtllmCustom {
        /// The file.
        path: PathBuf,
    },
    /// ShareGPT JSON (list of `{conversations: [{from, value}, ...]}`).
    ShareGpt {
        /// The file.
        path: PathBuf,
        /// Fixed output length; without it the reference answer's token count (needs a tokenizer).
        output_len: Option<u64>,
    },
    /// Generic JSON lines `{"prompt": ..., "output_len": N}`.
    Jsonl {
        /// The file.
        path: PathBuf,
    },
}

/// Arrival process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RequestRate {
    /// Send as fast as the concurrency cap allows.
    Infinite,
    /// Open loop: gamma-distributed gaps with mean `1/rate`; burstiness 1 is a Poisson process.
    PerSecond {
        /// Mean requests per second, > 0.
        rate: f64,
        /// Gamma shape, > 0.
        burstiness: f64,
    },
}

/// A latency metric of vLLM's `benchmark_serving`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    /// Time to first token.
    Ttft,
    /// Time per output token after the first.
    Tpot,
    /// Pooled gaps between streamed chunks.
    Itl,
    /// End-to-end latency.
    E2el,
}

impl Metric {
    /// All metrics in upstream's print order.
    pub const ALL: [Metric; 4] = [Metric::Ttft, Metric::Tpot, Metric::Itl, Metric::E2el];

    /// Lower-case key (`ttft`), as in `--percentile-metrics` and JSON field names.
    pub fn key(self) -> &'static str {
        match self {
            Self::Ttft => "ttft",
            Self::Tpot => "tpot",
            Self::Itl => "itl",
            Self::E2el => "e2el",
        }
    }

    /// Parses a lower-case key.
    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.key() == key)
    }
}

/// A goodput service-level objective: a request is good when `metric <= limit_ms`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slo {
    /// TTFT, TPOT or E2EL (ITL has no per-request value).
    pub metric: Metric,
    /// Limit in milliseconds.
    pub limit_ms: f64,
}
