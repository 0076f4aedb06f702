//! Results of a servebench run: client output parsers, canonical metrics (SPEC 9), the
//! validity checks and verdicts (SPEC 10.1), and the renderers (results table, `results.json`,
//! JUnit XML; SPEC 11.1).
//!
//! What this crate owns:
//! - [`parse`]: tolerant parsers for every client output servebench meets: the result JSON of the
//!   built-in client, vLLM, TensorRT-LLM and SGLang (`--save-result`/`--output-file`), the
//!   `benchmark_serving` text block (any percentile, ANSI codes, quoting, truncation), AIPerf and
//!   GenAI-Perf exports, and the llm-d benchmark report. Each maps the tool's names onto the
//!   canonical names of [`metrics`] (SPEC 9.2, 11.2) and never panics: truncated input yields a
//!   result marked incomplete.
//! - [`collect`]: reads what the in-job orchestrator left in a bundle directory (result files,
//!   `6_bench.log`, `status.jsonl`) and judges it into a [`CaseResult`].
//! - [`write_junit`], [`render_table`], [`ResultsDoc`] (`results.json`): pure renderers.
//!
//! What it must not do: no tokio, no network, no printing (libraries return values), and it never
//! depends on the load generator (the fields of its result JSON that are read here are
//! re-declared by name).
//!
//! ```
//! use servebench_results::parse::parse_result_text;
//! let json = r#"{"completed": 8, "failed": 0, "total_output_tokens": 1024,
//!                "output_throughput": 512.0, "median_tpot_ms": 10.0, "max_concurrency": 4}"#;
//! let parsed = parse_result_text(json).unwrap();
//! assert_eq!(parsed.metrics["completed"], 8.0);
//! assert_eq!(parsed.metrics["output_token_throughput"], 512.0);
//! assert_eq!(parsed.concurrency, Some(4));
//! assert!(parsed.complete);
//! ```

mod collect;
pub mod energy;
pub mod gates;
mod junit;
pub mod metrics;
mod model;
mod output;
pub mod parse;
mod table;
mod validity;

pub use collect::{CollectOptions, JobOutcome, collect, collect_with};
pub use junit::write_junit;
pub use model::{AccuracyValue, CaseResult, Check, Excerpt, GpuCounts, PointResult, Verdict};
pub use output::{Counts, RESULTS_SCHEMA_VERSION, ResultsDoc};
pub use table::render_table;
pub use validity::{CheckInput, point_checks};
