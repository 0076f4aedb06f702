//! The input (a series of observations and how to judge it) and the output (a verdict).

use serde::{Deserialize, Serialize};

/// Which way a metric improves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Throughput-like: a drop is a regression.
    HigherIsBetter,
    /// Latency-like (TTFT, TPOT): a rise is a regression.
    LowerIsBetter,
}

impl Direction {
    /// +1 when a larger value is worse, −1 when a smaller value is worse: multiplying a signed
    /// change by this gives its "worseness".
    pub fn worse_sign(self) -> f64 {
        match self {
            Direction::HigherIsBetter => -1.0,
            Direction::LowerIsBetter => 1.0,
        }
    }
}

/// One stored result of one metric for one (test, concurrency): a run's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// The run id in the history store.
    pub run_id: String,
    /// When the run finished, Unix seconds (UTC); orders runs and groups them into days.
    pub timestamp: i64,
    /// The run's label (branch, e.g. `main`, or a pre-merge label).
    pub label: String,
    /// The metric value: the median over the run's repeats when `benchmark.repeats > 1`.
    pub value: f64,
    /// The robust spread (1.4826 · MAD) of the run's repeats, in the value's unit, when the run
    /// had repeats. Used only as a floor under the baseline's noise (see `docs/verdicts.md`).
    pub spread: Option<f64>,
    /// Whether the run passed its validity checks (SPEC 10.1). Invalid runs never enter a
    /// baseline. A run that failed only its regression gate is still passing here.
    pub passing: bool,
    /// The resolved configuration's fingerprint; a different fingerprint is a different series.
    pub fingerprint: String,
    /// Tags attached to the run (`servebench baseline pin TAG` pins by tag).
    pub tags: Vec<String>,
}

/// A baseline fixed by a curator instead of the rolling window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pin {
    /// The window of passing baseline-label runs ending at (and including) this run.
    Run(String),
    /// The newest passing runs that carry this tag.
    Tag(String),
}

/// Everything the store knows about one (fingerprint, test, concurrency, GPU, cluster, metric).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Series {
    /// Observations oldest first; the last one is the run being judged.
    pub observations: Vec<Observation>,
    /// Run ids at which a curator accepted an intended change (`baseline accept --at RUN`):
    /// each is the first run of the new level, so the baseline restarts at the newest one.
    pub accepted_changes: Vec<String>,
    /// A pinned baseline, when one is set.
    pub pin: Option<Pin>,
}

/// How a series is judged; [`Options::default`] holds the documented defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Options {
    /// Which way the metric improves.
    pub direction: Direction,
    /// The most baseline runs (K, default 20).
    pub window: usize,
    /// The fewest baseline runs for a verdict (default 8); fewer is "no baseline".
    pub min_history: usize,
    /// The relative change a verdict needs, in percent (default 5).
    pub threshold_pct: f64,
    /// One-sided significance level per direction (default 0.01): the target rate of false
    /// regressions per check, and likewise of false improvements.
    pub alpha: f64,
    /// The label whose runs form the baseline (default `main`).
    pub baseline_label: String,
    /// The fewest newest runs a change is tested over (default 2, so that one outlying run alone
    /// is never a change; 1 lets a single run decide, e.g. one pre-merge run).
    pub confirm_runs: usize,
    /// The longest window of newest runs tested together (default 3).
    pub max_recent: usize,
    /// Monte Carlo draws per null distribution (default 20,000; p-values resolve to ~5e-5).
    pub null_draws: usize,
    /// Seed of the null distributions, so verdicts are reproducible.
    pub seed: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            direction: Direction::HigherIsBetter,
            window: 20,
            min_history: 8,
            threshold_pct: 5.0,
            alpha: 0.01,
            baseline_label: "main".to_owned(),
            confirm_runs: 2,
            max_recent: 3,
            null_draws: 20_000,
            seed: 0x5e7e_be4c,
        }
    }
}

impl Options {
    /// Checks the options a config can override, naming the field, what it expects and the fix.
    pub fn validate(&self) -> Result<(), String> {
        let o = self;
        if o.window < 3 {
            return Err(format!(
                "window is {}; expected at least 3 baseline runs (default 20)",
                o.window
            ));
        }
        if o.min_history > o.window {
            return Err(format!(
                "min_history ({}) exceeds window ({}); no baseline could ever be enough: lower \
                 min_history or raise window",
                o.min_history, o.window
            ));
        }
        if !(o.threshold_pct.is_finite() && o.threshold_pct >= 0.0) {
            return Err(format!(
                "threshold_pct is {}; expected a percentage >= 0 (default 5)",
                o.threshold_pct
            ));
        }
        if !(o.alpha > 0.0 && o.alpha < 1.0) {
            return Err(format!(
                "alpha is {}; expected a probability between 0 and 1 (default 0.01)",
                o.alpha
            ));
        }
        if o.confirm_runs == 0 || o.confirm_runs > o.max_recent {
            return Err(format!(
                "confirm_runs is {} with max_recent {}; expected 1 <= confirm_runs <= max_recent \
                 (defaults 2 and 3)",
                o.confirm_runs, o.max_recent
            ));
        }
        if o.null_draws < 1000 {
            return Err(format!(
                "null_draws is {}; expected at least 1000 so p-values resolve below alpha (default 20000)",
                o.null_draws
            ));
        }
        Ok(())
    }
}

/// The decision for one metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Worse than the baseline beyond the threshold and significantly.
    Regression,
    /// Better than the baseline beyond the threshold and significantly.
    Improvement,
    /// Neither.
    Unchanged,
    /// Too little history (or an unusable value) to judge; never a failure.
    NoBaseline,
}

/// The verdict on the newest run of a series, with the numbers behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricVerdict {
    /// The decision.
    pub verdict: Verdict,
    /// The judged run's value.
    pub value: f64,
    /// The baseline: the median of the baseline window.
    pub baseline: Option<f64>,
    /// `(value − baseline) / baseline` in percent, signed (not direction-adjusted).
    pub delta_pct: Option<f64>,
    /// One-sided p-value of the change in the direction of `delta_pct`, corrected for the
    /// windows tested; `None` without a baseline.
    pub p_value: Option<f64>,
    /// The baseline's robust noise, 1.4826 · MAD / median, in percent.
    pub noise_pct: Option<f64>,
    /// The threshold applied, in percent.
    pub threshold_pct: f64,
    /// How many runs the baseline holds.
    pub window: usize,
    /// How many of them the median/MAD screening left out as outliers (beyond 3.5 MAD-sigmas):
    /// runs on a bad node, say, worth a look when it is more than one or two.
    pub outliers: usize,
    /// How many newest runs the deciding test used (1 to `max_recent`).
    pub recent: usize,
    /// One sentence a user can act on.
    pub reason: String,
}
