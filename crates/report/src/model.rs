//! The report's input: runs, tests with their metadata, per-concurrency metrics, verdicts, and
//! optional history. Built from `results.json` files ([`crate::ReportInput::from_results_files`])
//! or filled by a history store; the renderers read nothing else.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Everything one report shows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportInput {
    /// Page title (`servebench report` when empty).
    pub title: String,
    /// The runs the tests come from, oldest first.
    pub runs: Vec<RunInfo>,
    /// One entry per (run, test), in the runs' order.
    pub tests: Vec<TestReport>,
}

/// One run of a suite.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunInfo {
    /// Run id (the run directory's name).
    pub id: String,
    /// Where it was read from (a path or URL), shown and used as the base of log links.
    pub source: Option<String>,
}

/// The verdict a report shows: the run's verdicts plus the regression gate's.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ReportVerdict {
    /// Valid results, every gate held.
    #[default]
    Pass,
    /// A metric moved beyond its baseline band in the good direction (still a pass).
    Improvement,
    /// A metric moved beyond its baseline band in the bad direction.
    Regression,
    /// A gate (accuracy, ...) failed.
    Fail,
    /// A result is missing, partial or fails a validity check.
    Invalid,
    /// Infrastructure failure or never ran.
    Error,
    /// Nothing to run.
    Skipped,
}

impl ReportVerdict {
    /// Every verdict, in the order the summary counts them.
    pub const ALL: [ReportVerdict; 7] = [
        ReportVerdict::Pass,
        ReportVerdict::Improvement,
        ReportVerdict::Regression,
        ReportVerdict::Fail,
        ReportVerdict::Invalid,
        ReportVerdict::Error,
        ReportVerdict::Skipped,
    ];

    /// Lowercase name (`pass`, `regression`, ...), also the CSS class of its colour.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportVerdict::Pass => "pass",
            ReportVerdict::Improvement => "improvement",
            ReportVerdict::Regression => "regression",
            ReportVerdict::Fail => "fail",
            ReportVerdict::Invalid => "invalid",
            ReportVerdict::Error => "error",
            ReportVerdict::Skipped => "skipped",
        }
    }

    /// Sort key that puts the worst first: error, invalid, fail, regression, improvement,
    /// pass, skipped.
    pub fn rank(self) -> u8 {
        match self {
            ReportVerdict::Error => 0,
            ReportVerdict::Invalid => 1,
            ReportVerdict::Fail => 2,
            ReportVerdict::Regression => 3,
            ReportVerdict::Improvement => 4,
            ReportVerdict::Pass => 5,
            ReportVerdict::Skipped => 6,
        }
    }

    /// Whether the test needs a look (everything but pass, improvement and skipped).
    pub fn is_problem(self) -> bool {
        matches!(
            self,
            ReportVerdict::Regression
                | ReportVerdict::Fail
                | ReportVerdict::Invalid
                | ReportVerdict::Error
        )
    }
}

impl fmt::Display for ReportVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<servebench_results::Verdict> for ReportVerdict {
    fn from(v: servebench_results::Verdict) -> Self {
        use servebench_results::Verdict;
        match v {
            Verdict::Pass => ReportVerdict::Pass,
            Verdict::Fail => ReportVerdict::Fail,
            Verdict::Invalid => ReportVerdict::Invalid,
            Verdict::Error => ReportVerdict::Error,
            // An expected failure needs no look; an unexpected pass reads as a pass.
            Verdict::Skipped | Verdict::Xfail => ReportVerdict::Skipped,
            Verdict::Xpass => ReportVerdict::Pass,
        }
    }
}

/// The deployment shape a Pareto point is labelled with. Every field is optional: what the
/// sources did not say is left out of the label.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Topology {
    /// CTX (prefill) servers; `None` for aggregated deployments.
    pub ctx_servers: Option<u64>,
    /// GEN (decode) servers, or the aggregated servers.
    pub gen_servers: Option<u64>,
    /// Tensor parallel size of a CTX server.
    pub ctx_tp: Option<u64>,
    /// Tensor parallel size of a GEN (or aggregated) server.
    pub gen_tp: Option<u64>,
    /// Expert parallel size of a GEN server.
    pub gen_ep: Option<u64>,
    /// GEN servers use attention data parallelism (`dep` in file names).
    pub attention_dp: bool,
    /// Max batch size of a GEN server.
    pub batch: Option<u64>,
}

impl Topology {
    /// Short label: `ctx1(tp4) gen2(dep8 ep16) bs32`; `agg2(tp4)` for aggregated servers.
    /// Parallelism is written `dep` with attention DP, and EP only when it differs from TP.
    /// Unknown parts are left out; `?` when nothing is known.
    pub fn label(&self) -> String {
        let role = |name: &str, n: u64, par: Option<String>, extra: Option<String>| {
            let inner: Vec<String> = par.into_iter().chain(extra).collect();
            if inner.is_empty() {
                format!("{name}{n}")
            } else {
                format!("{name}{n}({})", inner.join(" "))
            }
        };
        let mut parts = Vec::new();
        if let Some(c) = self.ctx_servers {
            parts.push(role("ctx", c, self.ctx_tp.map(|t| format!("tp{t}")), None));
        }
        let gen_tp = self
            .gen_tp
            .map(|t| format!("{}{t}", if self.attention_dp { "dep" } else { "tp" }));
        let ep = self
            .gen_ep
            .filter(|&ep| ep > 1 && Some(ep) != self.gen_tp)
            .map(|ep| format!("ep{ep}"));
        let name = if self.ctx_servers.is_some() {
            "gen"
        } else {
            "agg"
        };
        match self.gen_servers {
            Some(g) => parts.push(role(name, g, gen_tp, ep)),
            None => parts.extend(gen_tp.into_iter().chain(ep)),
        }
        if let Some(b) = self.batch {
            parts.push(format!("bs{b}"));
        }
        if parts.is_empty() {
            "?".to_string()
        } else {
            parts.join(" ")
        }
    }
}

/// What a test is: the keys of its Pareto group and its topology.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestMeta {
    /// `metadata.model_name` (empty when unknown).
    pub model: String,
    /// Input sequence length in tokens, when known.
    pub isl: Option<u64>,
    /// Output sequence length in tokens, when known.
    pub osl: Option<u64>,
    /// GPU type (`GB200`, `H100`, ...; empty when unknown).
    pub gpu_type: String,
    /// Every GPU of the deployment, when known.
    pub gpus: Option<u64>,
    /// Deployment shape.
    pub topology: Topology,
}

impl TestMeta {
    /// `1024/1024` (`?` for an unknown length).
    pub fn lengths(&self) -> String {
        let n = |v: Option<u64>| v.map_or_else(|| "?".to_string(), |v| v.to_string());
        format!("{}/{}", n(self.isl), n(self.osl))
    }
}

/// The metrics of one concurrency point (repeats folded, see
/// [`crate::ReportInput::from_results_files`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PointMetrics {
    /// The concurrency the client ran.
    pub concurrency: u64,
    /// Canonical metrics (SPEC 9.2 names: `output_token_throughput_per_gpu`,
    /// `median_tpot_ms`, `p99_ttft_ms`, ...).
    pub metrics: BTreeMap<String, f64>,
    /// Whether every validity check of this concurrency held; invalid points are drawn hollow
    /// and never on a Pareto frontier.
    pub valid: bool,
}

impl PointMetrics {
    /// A metric's value, when present and finite.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.metrics.get(name).copied().filter(|v| v.is_finite())
    }

    /// Tokens/s per user: `interactivity`, else `1000 / median_tpot_ms`.
    pub fn tokens_per_user(&self) -> Option<f64> {
        self.get("interactivity").or_else(|| {
            self.get("median_tpot_ms")
                .filter(|&t| t > 0.0)
                .map(|t| 1000.0 / t)
        })
    }
}

/// A log excerpt shown with a failure.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogExcerpt {
    /// The concurrency it belongs to (`None`: the whole test).
    pub concurrency: Option<u64>,
    /// The log file, relative to the test's log base ([`TestReport::logs`]).
    pub source: String,
    /// The last lines.
    pub text: String,
}

/// A metric that moved beyond its baseline (a regression or an improvement).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricChange {
    /// Canonical metric name.
    pub metric: String,
    /// The concurrency.
    pub concurrency: u64,
    /// Baseline value (the band's centre).
    pub baseline: f64,
    /// This run's value.
    pub value: f64,
    /// Whether the change is for the worse.
    pub regression: bool,
}

impl MetricChange {
    /// Relative change in percent (`None` when the baseline is 0).
    pub fn delta_pct(&self) -> Option<f64> {
        (self.baseline != 0.0).then(|| (self.value - self.baseline) / self.baseline.abs() * 100.0)
    }
}

/// Lower and upper edge of a metric's baseline band (its centre lies between).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Band {
    /// Lower edge.
    pub low: f64,
    /// Centre (the baseline value).
    pub center: f64,
    /// Upper edge.
    pub high: f64,
}

/// One value of a metric's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryPoint {
    /// The run it comes from.
    pub run: String,
    /// The value.
    pub value: f64,
    /// A change point starts at this run.
    #[serde(default)]
    pub change_point: bool,
    /// The regression gate flagged this run.
    #[serde(default)]
    pub regression: bool,
}

/// The history of one (concurrency, metric) of a test, oldest run first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistorySeries {
    /// Canonical metric name.
    pub metric: String,
    /// The concurrency.
    pub concurrency: u64,
    /// The values, oldest first.
    pub points: Vec<HistoryPoint>,
    /// The baseline band, when one is set.
    pub baseline: Option<Band>,
}

/// One test of one run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TestReport {
    /// Test id.
    pub test_id: String,
    /// Index into [`ReportInput::runs`].
    pub run: usize,
    /// What the test is.
    pub meta: TestMeta,
    /// Per concurrency, ascending.
    pub points: Vec<PointMetrics>,
    /// The verdict.
    pub verdict: ReportVerdict,
    /// Why, when not a pass (one entry per reason).
    pub reasons: Vec<String>,
    /// Log excerpts for failures.
    pub excerpts: Vec<LogExcerpt>,
    /// Regressions and improvements against the baseline.
    pub changes: Vec<MetricChange>,
    /// History per (concurrency, metric) of the gated metrics.
    pub history: Vec<HistorySeries>,
    /// Where the test's logs are (a directory path or URL), for links.
    pub logs: Option<String>,
}
