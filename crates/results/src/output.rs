//! `results.json`: the whole run's verdicts and metrics, typed and versioned.

use serde::{Deserialize, Serialize};

use crate::model::{CaseResult, Verdict};

/// Version of the `results.json` layout (bumped on any incompatible change).
pub const RESULTS_SCHEMA_VERSION: u32 = 1;

/// Verdict counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Cases.
    pub cases: usize,
    /// Passed.
    pub pass: usize,
    /// Failed (accuracy, a failed step).
    pub fail: usize,
    /// Invalid results.
    pub invalid: usize,
    /// Errors (not run, infrastructure).
    pub error: usize,
    /// Skipped.
    pub skipped: usize,
    /// Failed as `XFAIL` expected.
    #[serde(default)]
    pub xfail: usize,
    /// Passed against an `XFAIL`.
    #[serde(default)]
    pub xpass: usize,
}

impl Counts {
    /// Counts of `cases`.
    pub fn of(cases: &[CaseResult]) -> Counts {
        let count = |v: Verdict| cases.iter().filter(|c| c.verdict == v).count();
        Counts {
            cases: cases.len(),
            pass: count(Verdict::Pass),
            fail: count(Verdict::Fail),
            invalid: count(Verdict::Invalid),
            error: count(Verdict::Error),
            skipped: count(Verdict::Skipped),
            xfail: count(Verdict::Xfail),
            xpass: count(Verdict::Xpass),
        }
    }
}

/// The `results.json` document: `{"schema_version", "summary", "cases": [..]}` (layout in
/// `docs/output-formats.md`). Non-finite numbers never occur: metrics are finite by
/// construction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultsDoc {
    /// [`RESULTS_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Verdict counts.
    pub summary: Counts,
    /// Every case.
    pub cases: Vec<CaseResult>,
}

impl ResultsDoc {
    /// The document of `cases`.
    pub fn new(cases: Vec<CaseResult>) -> ResultsDoc {
        ResultsDoc {
            schema_version: RESULTS_SCHEMA_VERSION,
            summary: Counts::of(&cases),
            cases,
        }
    }
}
