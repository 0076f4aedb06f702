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
//! - [`parse_genai_perf_table`]: GenAI-Perf's console table.
//! - [`parse_llmd_report`]: the llm-d benchmark report (YAML).
//! - [`parse_any`]: all of the above over one text, for `--from-logs` and the fixture tests.
//! - [`parse_lm_eval_table`], [`parse_lm_eval_json`], [`parse_accuracy_any`]: accuracy rows of
//!   lm-evaluation-harness (read now; the accuracy gate of SPEC 10.2 is a later issue).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

mod genai_perf;
pub(crate) mod json;
mod llmd;
mod lm_eval;
mod result_json;
pub(crate) mod text;

pub use genai_perf::parse_genai_perf_table;
pub use llmd::parse_llmd_report;
pub use lm_eval::{AccuracyRow, parse_lm_eval_json, parse_lm_eval_table};
pub use result_json::{map_result_object, parse_result_text};
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

/// Every result any parser finds in `text`, in the order: result JSON objects, GenAI-Perf
/// table, llm-d report, text blocks. For logs of unknown origin (`--from-logs`) and the
/// fixture tests.
pub fn parse_any(text: &str) -> Vec<Parsed> {
    let mut out = Vec::new();
    out.extend(result_json::parse_all_objects(text));
    out.extend(parse_genai_perf_table(text));
    out.extend(parse_llmd_report(text));
    out.extend(parse_text_blocks(text));
    out
}

/// Every accuracy row in `text`: lm_eval results JSON first, then tables.
pub fn parse_accuracy_any(text: &str) -> Vec<AccuracyRow> {
    let mut out = parse_lm_eval_json(text);
    out.extend(parse_lm_eval_table(text));
    out
}
