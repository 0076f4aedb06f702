//! Reports of servebench runs: one self-contained HTML file with charts, and a Markdown
//! summary for CI comments (SPEC 11.1).
//!
//! What this crate owns:
//! - [`ReportInput`]: what a report shows (runs; per test its metadata, per-concurrency
//!   metrics, verdict, reasons, log excerpts, regressions and improvements, and optional
//!   history per (concurrency, metric) with baseline band, change points and regression
//!   marks). [`ReportInput::from_results_files`] builds it from `results.json` files; a history
//!   store fills the history parts.
//! - [`render_html`]: Pareto charts (output tokens/s per GPU against tokens/s per user) per
//!   (model, ISL/OSL, GPU type) with the frontier, latency against concurrency per test,
//!   history trends, and a sortable, filterable verdict table; inline SVG, CSS and a little
//!   JavaScript, nothing fetched at view time, every input string escaped.
//! - [`render_markdown`]: counts, regressions and improvements with deltas, failures with
//!   reasons and log links, always under [`MARKDOWN_LIMIT`] bytes.
//! - [`pareto_groups`]: the Pareto data (points and frontier) the charts draw.
//!
//! What it must not do: no network, no printing, no tokio; it reads files only in
//! [`ReportInput::from_results_files`].
//!
//! ```
//! use servebench_report::{PointMetrics, ReportInput, TestReport, render_html, render_markdown};
//! let mut input = ReportInput::default();
//! input.tests.push(TestReport {
//!     test_id: "disagg_perf_<b>x</b>".into(),
//!     points: vec![PointMetrics {
//!         concurrency: 8,
//!         metrics: [("median_tpot_ms".to_string(), 10.0),
//!                   ("output_token_throughput_per_gpu".to_string(), 900.0)].into(),
//!         valid: true,
//!     }],
//!     ..TestReport::default()
//! });
//! let html = render_html(&input);
//! assert!(html.contains("disagg_perf_&lt;b&gt;x&lt;&#x2f;b&gt;"));
//! assert!(render_markdown(&input).contains("1 pass"));
//! ```

mod chart;
mod html;
mod load;
mod markdown;
mod model;
mod pareto;
mod svg;

pub use html::render_html;
pub use load::{ReportError, case_meta};
pub use markdown::{MARKDOWN_LIMIT, render_markdown};
pub use model::{
    Band, HistoryPoint, HistorySeries, LogExcerpt, MetricChange, PointMetrics, ReportInput,
    ReportVerdict, RunInfo, TestMeta, TestReport, Topology,
};
pub use pareto::{ParetoGroup, ParetoKey, ParetoPoint, frontier, pareto_groups};
