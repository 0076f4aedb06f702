//! The result model: points, checks, verdicts and case results. Serde-serialisable so that
//! `results.json` (and later the history store) can be read back.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// One client run's result: one concurrency point (and repeat) of one test case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointResult {
    /// The concurrency the client ran (for `per_gen_server` scope: the listed value times the
    /// number of GEN servers), as the results report it.
    pub concurrency: u64,
    /// The concurrency as listed in the config.
    pub listed: u64,
    /// Repeat index (0-based).
    pub repeat: u64,
    /// Canonical metrics (SPEC 9.2 names, see [`crate::metrics`]); only values the source had
    /// (or that derive from them), all finite.
    pub metrics: BTreeMap<String, f64>,
    /// Tool-specific numbers with no canonical name (peak throughput, acceptance rate, client
    /// health figures, min/max latencies, ...), under documented names.
    #[serde(default)]
    pub extra: BTreeMap<String, f64>,
    /// The file the result was read from, relative to the bundle directory.
    pub source: PathBuf,
    /// Which parser read it (`result-json`, `text-block`, `aiperf-json`, ...).
    #[serde(default)]
    pub format: String,
    /// False when the source was truncated (a partial result): such a point is never valid.
    pub complete: bool,
    /// `Some(reasons)` when the client reported that it, not the server, limited the run.
    pub client_bound: Option<String>,
    /// Whether the client reported its own health at all (the built-in client does).
    #[serde(default)]
    pub client_health_reported: bool,
}

/// One validity check (SPEC 10.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// Stable name: `result_present`, `result_complete`, `completed_equals_num_prompts`,
    /// `no_failed_requests`, `output_tokens_positive`, `output_tokens_expected`,
    /// `client_not_bound`.
    pub name: String,
    /// Whether it held.
    pub passed: bool,
    /// What was compared, in words (`completed 998 of 1000`).
    pub detail: String,
    /// The concurrency point it is about (`None`: the whole case).
    #[serde(default)]
    pub concurrency: Option<u64>,
    /// The repeat it is about.
    #[serde(default)]
    pub repeat: Option<u64>,
}

/// The verdict of one test case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Ran, every result present and valid, every gate held.
    Pass,
    /// Ran with valid results, but a gate (accuracy, regression) failed.
    Fail,
    /// Ran, but a result is missing, partial or fails a validity check: never a pass.
    Invalid,
    /// Infrastructure failure or never ran (the job failed; no result at all).
    Error,
    /// Not run: nothing to run, or a test list's `SKIP (reason)` or a waive.
    Skipped,
    /// Failed as a test list's `XFAIL` expected (not a failure of the run).
    Xfail,
    /// Passed although a test list's `XFAIL` expected a failure (reported, not a failure).
    Xpass,
}

impl Verdict {
    /// Lowercase name, as in `results.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Invalid => "invalid",
            Verdict::Error => "error",
            Verdict::Skipped => "skipped",
            Verdict::Xfail => "xfail",
            Verdict::Xpass => "xpass",
        }
    }

    /// Uppercase label for the terminal table.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Invalid => "INVALID",
            Verdict::Error => "ERROR",
            Verdict::Skipped => "SKIPPED",
            Verdict::Xfail => "XFAIL",
            Verdict::Xpass => "XPASS",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A few lines of a log, attached to failures (JUnit) so CI shows why without downloads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Excerpt {
    /// The concurrency point it belongs to (`None`: the whole case).
    pub concurrency: Option<u64>,
    /// The log, relative to the bundle directory.
    pub source: PathBuf,
    /// The last lines (ANSI codes removed).
    pub text: String,
}

/// One test case's results and verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseResult {
    /// Test id.
    pub test_id: String,
    /// Every result found, in the launch spec's order.
    pub points: Vec<PointResult>,
    /// The validity checks, in order (per point, then the case).
    pub checks: Vec<Check>,
    /// The verdict.
    pub verdict: Verdict,
    /// Why, when not a pass (the first failing check, or the job's failure reason).
    pub reason: Option<String>,
    /// Wall time of the job, when known.
    pub duration_s: Option<f64>,
    /// The concurrencies the launch spec asked for, in order, without duplicates (repeats).
    #[serde(default)]
    pub requested: Vec<u64>,
    /// Log excerpts for failures.
    #[serde(default)]
    pub excerpts: Vec<Excerpt>,
    /// `UNSTABLE (reason)`: a failure of this case does not fail the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unstable: Option<String>,
    /// Accuracy values found for the configured gates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accuracy: Vec<AccuracyValue>,
}

/// One accuracy value read for a gate (SPEC 10.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccuracyValue {
    /// Dataset / task (`gsm8k`).
    pub dataset: String,
    /// Filter (`strict-match`).
    pub filter: String,
    /// The value, a fraction as lm_eval prints it.
    pub value: f64,
    /// The expected value.
    pub expected: f64,
    /// The pass threshold in the rule's unit (percent for the hypothesis test).
    pub threshold: f64,
    /// Whether the gate held.
    pub passed: bool,
}

impl CaseResult {
    /// A case that never produced anything (`Error` with a reason), e.g. when the bundle could
    /// not be submitted.
    pub fn error(test_id: &str, reason: impl Into<String>) -> Self {
        CaseResult {
            test_id: test_id.to_string(),
            points: Vec::new(),
            checks: Vec::new(),
            verdict: Verdict::Error,
            reason: Some(reason.into()),
            duration_s: None,
            requested: Vec::new(),
            excerpts: Vec::new(),
            unstable: None,
            accuracy: Vec::new(),
        }
    }

    /// A case a test list or a waive says not to run.
    pub fn skipped(test_id: &str, reason: impl Into<String>) -> Self {
        CaseResult {
            verdict: Verdict::Skipped,
            ..CaseResult::error(test_id, reason)
        }
    }

    /// Whether this case passed or is excused: pass, skipped, XFAIL, XPASS, or an `UNSTABLE`
    /// failure. A run exits 0 only when every case is.
    pub fn is_ok(&self) -> bool {
        self.is_ok_without_rule() || self.unstable.is_some()
    }

    /// [`CaseResult::is_ok`] without the `UNSTABLE` excuse.
    pub fn is_ok_without_rule(&self) -> bool {
        matches!(
            self.verdict,
            Verdict::Pass | Verdict::Skipped | Verdict::Xfail | Verdict::Xpass
        )
    }

    /// Reads the outcome as a test list's marker asks: under `XFAIL` a failure becomes XFAIL and
    /// a pass XPASS; under `UNSTABLE` the verdict stays and the case is marked.
    pub fn apply_rule(&mut self, rule: &servebench_launch::OutcomeRule) {
        use servebench_launch::OutcomeRule;
        match rule {
            OutcomeRule::Xfail { reason } => match self.verdict {
                Verdict::Pass => {
                    self.verdict = Verdict::Xpass;
                    self.reason = Some(format!("passed, but XFAIL expected a failure ({reason})"));
                }
                Verdict::Fail | Verdict::Invalid | Verdict::Error => {
                    let why = self.reason.take().unwrap_or_default();
                    self.verdict = Verdict::Xfail;
                    self.reason = Some(format!("expected failure ({reason}): {why}"));
                }
                Verdict::Skipped | Verdict::Xfail | Verdict::Xpass => {}
            },
            OutcomeRule::Unstable { reason } => self.unstable = Some(reason.clone()),
        }
    }

    /// The checks about one concurrency (every repeat), plus the case-wide ones.
    pub fn checks_for(&self, concurrency: u64) -> impl Iterator<Item = &Check> {
        self.checks
            .iter()
            .filter(move |c| c.concurrency.is_none_or(|x| x == concurrency))
    }
}

/// GPUs of the deployment, for the per-GPU metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuCounts {
    /// Every GPU of the deployment (CTX and GEN, or the aggregated servers).
    pub total: u64,
    /// GPUs of the GEN servers (the aggregated servers' GPUs when aggregated). Spelt `r#gen`
    /// in Rust 2024 (`gen` is reserved); `gen` in JSON.
    pub r#gen: u64,
}

impl GpuCounts {
    /// Every GPU and the GEN GPUs.
    pub fn new(total: u64, gen_gpus: u64) -> Self {
        GpuCounts {
            total,
            r#gen: gen_gpus,
        }
    }
}
