//! What a result must show to pass: written by the bundle renderer from the resolved config,
//! read by the collector. Nothing downstream re-derives these from argv or the config tree.

use serde::{Deserialize, Serialize};

/// What one client run must produce (SPEC 10.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectations {
    /// Requests the client sends; all must complete.
    pub num_prompts: u64,
    /// Output tokens the run must generate in total, when the client ignores EOS and every
    /// prompt asks for the same length (`None` when lengths vary or EOS may end a request).
    pub expected_output_tokens: Option<u64>,
    /// Failed requests tolerated, in percent of `num_prompts` (`benchmark.max_failed_pct`,
    /// default 0).
    pub max_failed_pct: f64,
}

/// The gates of the whole bundle beyond validity: custom metrics and accuracy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gates {
    /// Metric extractors (`metrics.extractor_pattern` / `metric_names`), when the config
    /// overrides the defaults.
    pub metrics: Vec<MetricExtractor>,
    /// Accuracy gates, one per configured dataset and filter.
    pub accuracy: Vec<AccuracyGate>,
}

/// A custom metric extractor (SPEC 9.3): a regex (Python `re` syntax, compiled VERBOSE and
/// MULTILINE as upstream does) run over a log; its groups map to `names` in order, with an
/// optional trailing concurrency group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricExtractor {
    /// Log file (relative to the log directory; a glob is allowed).
    pub log_file: String,
    /// The pattern.
    pub pattern: String,
    /// Metric names, one per group.
    pub names: Vec<String>,
}

/// One accuracy gate (SPEC 10.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccuracyGate {
    /// lm_eval task / dataset name (`gsm8k`).
    pub dataset: String,
    /// Filter (`flexible-extract`, `strict-match`).
    pub filter: String,
    /// Expected value as a fraction (0.95).
    pub expected: f64,
    /// The pass rule.
    pub rule: AccuracyRule,
    /// Log and result locations the collector reads, relative to the bundle.
    pub log: String,
    /// lm_eval `--output_path` (results JSON under it), relative to the bundle.
    pub output_dir: String,
}

/// How an accuracy value is judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AccuracyRule {
    /// Upstream's one-sided hypothesis test (reference/upstream.md 9):
    /// threshold = ref + z(alpha) * sqrt(2 sigma^2 / n), in percent.
    Hypothesis {
        /// Significance level.
        alpha: f64,
        /// Type II error (informational; upstream prints it).
        beta: f64,
        /// Standard deviation of the score, in percentage points.
        sigma: f64,
        /// Samples in the dataset.
        num_samples: u64,
        /// Higher scores are better.
        higher_is_better: bool,
    },
    /// Pass when actual >= expected - threshold (fractions, like the expected value).
    Absolute {
        /// Allowed drop.
        threshold: f64,
    },
    /// Pass when actual >= expected * (1 - threshold).
    Relative {
        /// Allowed relative drop.
        threshold: f64,
    },
}

/// How a test list asks for a test's outcome to be read (SPEC 3.7 markers), kept with the run
/// so `resume` reads it the same way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case", deny_unknown_fields)]
pub enum OutcomeRule {
    /// `XFAIL (reason)`: a failure is expected (XFAIL); a pass is reported as XPASS.
    Xfail {
        /// Text in parentheses.
        reason: String,
    },
    /// `UNSTABLE (reason)`: reported as it is, but a failure does not fail the run.
    Unstable {
        /// Text in parentheses.
        reason: String,
    },
}
