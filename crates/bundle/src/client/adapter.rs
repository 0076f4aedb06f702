//! The client adapter trait, the adapter registry and helpers shared by the adapters.

use servebench_launch::Client;

use crate::Ctx;

use super::{aiperf, builtin, sglang_bench, trtllm_bench, vllm_bench};

/// Which prompts the client sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dataset {
    /// Random token ids of the configured lengths.
    Random,
    /// A trtllm_custom dataset file.
    Custom(String),
    /// A `benchmark.workload:` file in the bundle (built-in client only: shared prefixes,
    /// multi-turn sessions, trace replay; docs/loadgen.md).
    Workload(String),
}

/// One client run.
#[derive(Debug, Clone)]
pub struct Run<'a> {
    /// Host (placeholder) of the router or aggregated server.
    pub host: &'a str,
    /// Its port.
    pub port: u16,
    /// `--model`.
    pub model: &'a str,
    /// Tokenizer / model path.
    pub tokenizer: &'a str,
    /// Concurrency.
    pub concurrency: u64,
    /// Prompts.
    pub num_prompts: u64,
    /// Result directory (relative to the bundle).
    pub result_dir: &'a str,
    /// Dataset.
    pub dataset: &'a Dataset,
}

/// What a client contributes: its command for one run.
pub trait ClientAdapter {
    /// Which client this is.
    fn name(&self) -> Client;
    /// Command of one run.
    fn argv(&self, ctx: &Ctx<'_>, run: &Run<'_>) -> Vec<String>;
    /// Result file inside `result_dir`.
    fn result_file(&self) -> &'static str {
        "result.json"
    }
    /// Output tokens the run must generate in total, when every request produces exactly the
    /// configured output length (EOS ignored, random dataset, equal lengths); `None` otherwise.
    /// Upstream's random dataset (and the built-in client) draws `[len * r, len]`: equal at
    /// `r = 1`.
    fn expected_output_tokens(&self, ctx: &Ctx<'_>, run: &Run<'_>) -> Option<u64> {
        fixed_output(ctx, run, 1.0)
    }
}

/// `num_prompts * output_length` when the run uses the random dataset and the range ratio is
/// the one that gives equal lengths for this client (`exact_ratio`; `None`: any ratio).
pub(crate) fn fixed_output(
    ctx: &Ctx<'_>,
    run: &Run<'_>,
    exact_ratio: impl Into<Option<f64>>,
) -> Option<u64> {
    if *run.dataset != Dataset::Random {
        return None;
    }
    if let Some(r) = exact_ratio.into()
        && ctx.case.config.benchmark.benchmark_ratio != r
    {
        return None;
    }
    Some(run.num_prompts.saturating_mul(ctx.output_length()))
}

/// The adapter of `client`.
pub fn adapter(client: Client) -> &'static dyn ClientAdapter {
    match client {
        Client::Builtin => &builtin::Builtin,
        Client::TrtllmBenchServing => &trtllm_bench::TrtllmBench,
        Client::VllmBenchServe => &vllm_bench::VllmBench,
        Client::SglangBenchServing => &sglang_bench::SglangBench,
        Client::Aiperf => &aiperf::Aiperf,
    }
}

/// `--random-input-len/--random-output-len/--random-range-ratio`, spelled the same by every
/// `benchmark_serving` descendant (TensorRT-LLM, vLLM, SGLang and the built-in client).
pub(crate) fn random_lengths(ctx: &Ctx<'_>) -> [(&'static str, String); 3] {
    let b = &ctx.case.config.benchmark;
    [
        ("--random-input-len", b.input_length.to_string()),
        ("--random-output-len", ctx.output_length().to_string()),
        ("--random-range-ratio", b.benchmark_ratio.to_string()),
    ]
}

/// `--num-prompts N --max-concurrency C` of one client run.
pub(crate) fn load(run: &Run<'_>) -> [(&'static str, String); 2] {
    [
        ("--num-prompts", run.num_prompts.to_string()),
        ("--max-concurrency", run.concurrency.to_string()),
    ]
}

/// `--percentile-metrics ttft,tpot,itl,e2el`: every latency the verdicts read.
pub(crate) fn all_percentile_metrics() -> [(&'static str, String); 1] {
    [("--percentile-metrics", "ttft,tpot,itl,e2el".into())]
}

/// `--save-result --result-dir DIR --result-filename FILE`, as `benchmark_serving` spells it.
pub(crate) fn save_result(argv: &mut Vec<String>, run: &Run<'_>, file: &str) {
    argv.push("--save-result".into());
    push(
        argv,
        &[
            ("--result-dir", run.result_dir.to_string()),
            ("--result-filename", file.into()),
        ],
    );
}

/// Pushes `flag value` pairs.
pub(crate) fn push(argv: &mut Vec<String>, pairs: &[(&str, String)]) {
    for (f, v) in pairs {
        argv.push((*f).to_string());
        argv.push(v.clone());
    }
}
