//! `results.json`: the whole run's verdicts and metrics, versioned.

use serde::Serialize;
use serde_json::{Value, json};

use crate::model::{CaseResult, Verdict};

/// Version of the `results.json` layout (bumped on any incompatible change).
pub const RESULTS_SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
struct Summary {
    cases: usize,
    pass: usize,
    fail: usize,
    invalid: usize,
    error: usize,
    skipped: usize,
}

/// The `results.json` document: `{"schema_version", "summary", "cases": [..]}` (layout in
/// `docs/output-formats.md`). Non-finite numbers become `null`.
pub fn to_json(cases: &[CaseResult]) -> Value {
    let count = |v: Verdict| cases.iter().filter(|c| c.verdict == v).count();
    let summary = Summary {
        cases: cases.len(),
        pass: count(Verdict::Pass),
        fail: count(Verdict::Fail),
        invalid: count(Verdict::Invalid),
        error: count(Verdict::Error),
        skipped: count(Verdict::Skipped),
    };
    json!({
        "schema_version": RESULTS_SCHEMA_VERSION,
        "summary": serde_json::to_value(summary).unwrap_or(Value::Null),
        "cases": cases
            .iter()
            .map(|c| serde_json::to_value(c).unwrap_or(Value::Null))
            .collect::<Vec<_>>(),
    })
}
