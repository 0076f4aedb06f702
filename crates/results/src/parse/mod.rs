//! Parsers of client outputs (SPEC 9.1). Each returns [`Parsed`] records with canonical metric
//! names (SPEC 9.2, cross-walk 11.2); none panics, whatever the input.
//!
//! - [`parse_result_text`]: a result file: the JSON of the built-in client, vLLM, TensorRT-LLM
//!   (`--save-result`), SGLang (`--output-file`, JSON lines), AIPerf (`profile_export_aiperf.json`
//!   or per-request `profile_export.jsonl` records). Python's `Infinity`/`NaN` are read as null;
//!   a truncated file yields the members before the cut, marked incomplete.
//! - [`parse_text_blocks`]: every `benchmark_serving` result block in a log (TensorRT-LLM, vLLM
//!   `benchmark_serving.py` and `bench serve`, SGLang `bench_serving`, sa-bench, and the built-in
//!   client's text output with its client-health section).
//! - [`split_bench_log`]: cuts `6_bench.log` at the `Benchmark with concurrency C done` markers.
//! - [`parse_genai_perf_table`]: GenAI-Perf's and AIPerf's console tables, with the GPU telemetry
//!   tables printed after them ([`GpuTelemetry`]).
//! - [`parse_guidellm_tables`], [`parse_guidellm_json`]: GuideLLM's console report and
//!   `benchmarks.json`.
//! - [`read_tables`]: the box-drawn and pipe table reader all table parsers share.
//! - [`parse_llmd_report`]: the llm-d benchmark report (YAML).
//! - [`parse_any`]: all of the above over one text, for `--from-logs` and the fixture tests;
//!   [`parse_log_results`] the same for one bench log's stretch; [`rejection`] says why a text
//!   that yields nothing was not read.
//! - [`parse_lm_eval_table`], [`parse_lm_eval_json`], [`parse_accuracy_any`]: accuracy rows of
//!   lm-evaluation-harness (read now; the accuracy gate of SPEC 10.2 is a later issue).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

mod genai_perf;
mod guidellm;
pub(crate) mod json;
mod llmd;
mod lm_eval;
mod result_json;
mod tables;
mod telemetry;
pub(crate) mod text;

pub use genai_perf::parse_genai_perf_table;
pub use guidellm::parse_guidellm_tables;
pub use llmd::parse_llmd_report;
pub use lm_eval::{AccuracyRow, parse_lm_eval_json, parse_lm_eval_table};
pub use result_json::{map_result_object, parse_result_text};
pub use tables::{Table, parse_number, read_tables};
pub use telemetry::{GpuMetric, GpuTelemetry};
pub use text::{LogSegment, clean_line, parse_text_blocks, split_bench_log};

/// Which parser produced a [`Parsed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// vLLM/TensorRT-LLM `--save-result` JSON (and the built-in client's, which adds a
    /// `servebench` object).
    ResultJson,
    /// SGLang `bench_serving` JSON lines.
    SglangJson,
    /// AIPerf's aggregate `profile_export_aiperf.json`.
    AiperfJson,
    /// AIPerf's per-request `profile_export.jsonl` records, aggregated.
    AiperfRecords,
    /// The `benchmark_serving` text block.
    TextBlock,
    /// GenAI-Perf's console table.
    GenaiPerfTable,
    /// AIPerf's console table (`NVIDIA AIPerf | LLM Metrics`).
    AiperfTable,
    /// GPU telemetry tables with no LLM metrics table before them.
    GpuTelemetry,
    /// GuideLLM's console report tables.
    GuidellmTable,
    /// GuideLLM's JSON report (`benchmarks.json`).
    GuidellmJson,
    /// llm-d's benchmark report (YAML).
    LlmdReport,
}

impl Format {
    /// Kebab-case name, as in `results.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::ResultJson => "result-json",
            Format::SglangJson => "sglang-json",
            Format::AiperfJson => "aiperf-json",
            Format::AiperfRecords => "aiperf-records",
            Format::TextBlock => "text-block",
            Format::GenaiPerfTable => "genai-perf-table",
            Format::AiperfTable => "aiperf-table",
            Format::GpuTelemetry => "gpu-telemetry",
            Format::GuidellmTable => "guidellm-table",
            Format::GuidellmJson => "guidellm-json",
            Format::LlmdReport => "llmd-report",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the client said about its own health (the built-in client, SPEC 13).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientHealth {
    /// The client limited the run.
    pub bound: bool,
    /// Why, when bound.
    pub reasons: Vec<String>,
}

/// One parsed result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parsed {
    /// The parser.
    pub format: Format,
    /// Canonical metrics (finite values only).
    pub metrics: BTreeMap<String, f64>,
    /// Tool-specific numbers under documented names (see `docs/output-formats.md`).
    pub extra: BTreeMap<String, f64>,
    /// False when the source was cut short (or a block had no header/closing banner).
    pub complete: bool,
    /// The concurrency the source names (`max_concurrency`, a done marker, ...).
    pub concurrency: Option<u64>,
    /// The client's health report, when it gives one.
    pub client_health: Option<ClientHealth>,
    /// Output tokens the client asked for in all (the built-in client's `max_tokens` sum).
    pub expected_output_tokens: Option<u64>,
    /// Requests the client was asked to send, when the source says (`num_prompts`).
    pub num_prompts: Option<u64>,
    /// Why a result is partial, and values that were dropped.
    pub notes: Vec<String>,
}

impl Parsed {
    pub(crate) fn new(format: Format) -> Self {
        Parsed {
            format,
            metrics: BTreeMap::new(),
            extra: BTreeMap::new(),
            complete: true,
            concurrency: None,
            client_health: None,
            expected_output_tokens: None,
            num_prompts: None,
            notes: Vec::new(),
        }
    }

    /// Stores a canonical metric (non-finite values are dropped with a note).
    pub(crate) fn set(&mut self, name: &str, v: f64) {
        if v.is_finite() {
            self.metrics.insert(name.to_string(), v);
        } else {
            self.notes.push(format!("{name}: non-finite value dropped"));
        }
    }

    /// Stores a tool-specific number (non-finite values are dropped).
    pub(crate) fn set_extra(&mut self, name: &str, v: f64) {
        if v.is_finite() {
            self.extra.insert(name.to_string(), v);
        }
    }

    /// Whether nothing at all was read.
    pub fn is_empty(&self) -> bool {
        self.metrics.is_empty() && self.extra.is_empty() && self.client_health.is_none()
    }

    /// A metric as a count, when present, non-negative and integral.
    pub fn count(&self, name: &str) -> Option<u64> {
        let v = *self.metrics.get(name)?;
        (v >= 0.0 && v.fract() == 0.0 && v < 9.0e15).then_some(v as u64)
    }
}

/// A result file that yielded nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The text holds no JSON object at all.
    #[error("no JSON object found")]
    NoJson,
    /// JSON objects, but none with benchmark metrics.
    #[error("no benchmark metrics in {objects} JSON object(s)")]
    NoMetrics {
        /// Objects seen.
        objects: usize,
    },
}

/// Every result any parser finds in `text`, in the order: result JSON objects (GuideLLM
/// reports included), GenAI-Perf/AIPerf tables, GuideLLM tables, llm-d report, text blocks.
/// For logs of unknown origin (`--from-logs`) and the fixture tests.
pub fn parse_any(text: &str) -> Vec<Parsed> {
    let mut out = Vec::new();
    out.extend(result_json::parse_all_objects(text));
    out.extend(parse_genai_perf_table(text));
    out.extend(parse_guidellm_tables(text));
    out.extend(parse_llmd_report(text));
    out.extend(parse_text_blocks(text));
    out
}

/// What a client printed to its log: `benchmark_serving` text blocks first, then the console
/// tables of GenAI-Perf, AIPerf (with GPU telemetry) and GuideLLM. For a bench log's stretch of
/// one run, where only text blocks were read before.
pub fn parse_log_results(text: &str) -> Vec<Parsed> {
    let mut out = parse_text_blocks(text);
    out.extend(parse_genai_perf_table(text));
    out.extend(parse_guidellm_tables(text));
    out
}

/// Every benchmark of the GuideLLM JSON reports in `text`.
pub fn parse_guidellm_json(text: &str) -> Vec<Parsed> {
    json::objects(text)
        .iter()
        .filter(|f| guidellm::is_report(&f.value))
        .flat_map(guidellm::map_report)
        .collect()
}

/// Why `text` yields no result although it is recognisably a client's output, with what to pass
/// instead; `None` when something was parsed or the text is not recognised.
pub fn rejection(text: &str) -> Option<String> {
    if !parse_any(text).is_empty() {
        return None;
    }
    if text.contains("Benchmarks Metadata") || text.contains("Benchmarks Info") {
        return Some(
            "GuideLLM report without its statistics tables: only the metadata/info section is here; pass the whole console output (the `Request Latency Statistics` and `Server Throughput Statistics` tables) or benchmarks.json"
                .into(),
        );
    }
    if text.contains("GPU Telemetry Summary") || text.contains("GenAI-Perf | Power Metrics") {
        return Some(
            "GPU telemetry header without a readable per-GPU table: the table was cut before its first row".into(),
        );
    }
    if text.contains("NVIDIA AIPerf") || text.contains("NVIDIA GenAI-Perf") {
        return Some(
            "AIPerf/GenAI-Perf output without a metrics table row: the table was cut before its first row; pass profile_export_aiperf.json instead".into(),
        );
    }
    None
}

/// Every accuracy row in `text`: lm_eval results JSON first, then tables.
pub fn parse_accuracy_any(text: &str) -> Vec<AccuracyRow> {
    let mut out = parse_lm_eval_json(text);
    out.extend(parse_lm_eval_table(text));
    out
}
