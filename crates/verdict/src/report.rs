//! The versioned JSON document of `servebench check --format json` (see `docs/verdicts.md`).

use serde::{Deserialize, Serialize};

use crate::changepoint::ChangePoint;
use crate::model::{Direction, MetricVerdict, Verdict};

/// The version of [`CheckReport`]'s shape; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// One judged (test, concurrency, metric).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckEntry {
    /// The test id.
    pub test: String,
    /// The concurrency point.
    pub concurrency: u64,
    /// The canonical metric name (e.g. `output_token_throughput`).
    pub metric: String,
    /// Which way the metric improves.
    pub direction: Direction,
    /// The verdict and its numbers, flattened into this object.
    #[serde(flatten)]
    pub verdict: MetricVerdict,
    /// Change points found in the series' history, oldest first, with run ids.
    pub change_points: Vec<ReportedChangePoint>,
}

/// A change point as reported: the run where the new level starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportedChangePoint {
    /// The first run of the new level.
    pub run_id: String,
    /// The change point's numbers.
    #[serde(flatten)]
    pub change: ChangePoint,
}

/// The whole document: every entry of one judged run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckReport {
    /// Always [`SCHEMA_VERSION`] when written by this version.
    pub schema_version: u32,
    /// The judged run.
    pub run_id: String,
    /// The baseline label.
    pub baseline_label: String,
    /// How many entries are regressions (the gate fails when this is not 0).
    pub regressions: usize,
    /// The entries, in the order given.
    pub verdicts: Vec<CheckEntry>,
}

impl CheckReport {
    /// A report over `verdicts`, counting its regressions.
    pub fn new(
        run_id: impl Into<String>,
        baseline_label: impl Into<String>,
        verdicts: Vec<CheckEntry>,
    ) -> Self {
        let regressions = verdicts
            .iter()
            .filter(|e| e.verdict.verdict == Verdict::Regression)
            .count();
        CheckReport {
            schema_version: SCHEMA_VERSION,
            run_id: run_id.into(),
            baseline_label: baseline_label.into(),
            regressions,
            verdicts,
        }
    }

    /// The exit status of `check`: 1 when any entry is a regression, else 0.
    pub fn exit_code(&self) -> i32 {
        i32::from(self.regressions > 0)
    }
}
