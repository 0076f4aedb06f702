//! The documents a run leaves in its directory, typed and versioned: `results.json` (every
//! case's verdict and metrics) and `summary.json` (how the executor saw each job), both written
//! atomically (temporary file, then rename).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use servebench_exec::{JobVerdict, RunSummary};
use servebench_results::CaseResult;

use crate::PipelineError;
use crate::history::HistoryTarget;

pub use servebench_results::{Counts, RESULTS_SCHEMA_VERSION, ResultsDoc};

/// Version of the `summary.json` layout.
pub const SUMMARY_SCHEMA_VERSION: u32 = 1;

/// One job in `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobLine {
    /// Test id.
    pub test_id: String,
    /// Bundle directory.
    pub bundle: PathBuf,
    /// Last job id.
    pub job_id: Option<String>,
    /// How the job ended (None: never submitted, or still running when detached).
    pub verdict: Option<JobVerdict>,
    /// Why.
    pub reason: Option<String>,
    /// Submissions.
    pub attempts: u32,
}

/// `summary.json`: the executor's account of a drive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryDoc {
    /// [`SUMMARY_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Cancelled by a signal or `servebench cancel`.
    pub interrupted: bool,
    /// Returned early with `--detach`.
    pub detached: bool,
    /// Wall seconds of the drive.
    pub elapsed_s: f64,
    /// Poll cycles.
    pub poll_cycles: u64,
    /// Scheduler commands run, by name.
    pub scheduler_calls: std::collections::BTreeMap<String, u64>,
    /// Every job.
    pub jobs: Vec<JobLine>,
}

impl SummaryDoc {
    /// The document of a drive.
    pub fn new(s: &RunSummary) -> SummaryDoc {
        SummaryDoc {
            schema_version: SUMMARY_SCHEMA_VERSION,
            interrupted: s.interrupted,
            detached: s.detached,
            elapsed_s: s.elapsed.as_secs_f64(),
            poll_cycles: s.poll_cycles,
            scheduler_calls: s.call_counts.clone(),
            jobs: s
                .outcomes
                .iter()
                .map(|o| JobLine {
                    test_id: o.entry.test_id.clone(),
                    bundle: o.entry.bundle.clone(),
                    job_id: o.job_id.clone(),
                    verdict: o.verdict,
                    reason: o.reason.clone(),
                    attempts: o.attempts,
                })
                .collect(),
        }
    }
}

/// How a run ended, for the caller (and its exit code).
#[derive(Debug, Clone, PartialEq)]
pub struct RunReport {
    /// Run id (empty for `--from-logs` outside a run directory).
    pub run_id: String,
    /// Where its documents are.
    pub dir: PathBuf,
    /// Every case, judged (empty when detached).
    pub cases: Vec<CaseResult>,
    /// Cancelled by a signal or `servebench cancel`.
    pub interrupted: bool,
    /// Returned early with `--detach`: jobs still in flight.
    pub detached: Option<usize>,
    /// `--dry-run`: bundles that would be submitted.
    pub dry_run: Option<usize>,
    /// Wall time of the drive.
    pub elapsed: Duration,
    /// Problems that did not stop the run (a history write that failed).
    pub warnings: Vec<String>,
    /// Where the results were stored (for the verdicts against history).
    pub history: Option<HistoryTarget>,
}

/// The document `run --format json` prints on stdout: how the run ended and its results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunDoc<'a> {
    /// Version of this layout (1).
    pub schema_version: u32,
    /// Run id.
    pub run_id: &'a str,
    /// Run directory.
    pub run_dir: &'a Path,
    /// Cancelled.
    pub interrupted: bool,
    /// Jobs still in flight after `--detach`.
    pub detached: Option<usize>,
    /// Bundles that `--dry-run` would submit.
    pub dry_run: Option<usize>,
    /// Verdict counts.
    pub summary: Counts,
    /// Every case.
    pub cases: &'a [CaseResult],
}

impl RunReport {
    /// The `--format json` document of this report.
    pub fn doc(&self) -> RunDoc<'_> {
        RunDoc {
            schema_version: 1,
            run_id: &self.run_id,
            run_dir: &self.dir,
            interrupted: self.interrupted,
            detached: self.detached,
            dry_run: self.dry_run,
            summary: Counts::of(&self.cases),
            cases: &self.cases,
        }
    }

    /// Whether every case passed or is excused ([`CaseResult::is_ok`]) and the run was not
    /// interrupted.
    pub fn all_passed(&self) -> bool {
        !self.interrupted && self.cases.iter().all(CaseResult::is_ok)
    }
}

/// Writes `value` as pretty JSON to `path` atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), PipelineError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| PipelineError::Infra(format!("cannot encode {}: {e}", path.display())))?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text + "\n")
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| PipelineError::Infra(format!("cannot write {}: {e}", path.display())))
}

/// Writes `results.json` and, when asked, JUnit.
pub fn write_results(
    dir: &Path,
    cases: &[CaseResult],
    junit: Option<&Path>,
) -> Result<(), PipelineError> {
    write_json(&dir.join("results.json"), &ResultsDoc::new(cases.to_vec()))?;
    if let Some(path) = junit {
        write_junit(path, cases)?;
    }
    Ok(())
}

/// Writes JUnit XML of `cases` to `path`.
pub fn write_junit(path: &Path, cases: &[CaseResult]) -> Result<(), PipelineError> {
    let mut buf = Vec::new();
    servebench_results::write_junit(cases, &mut buf)
        .and_then(|()| std::fs::write(path, &buf))
        .map_err(|e| PipelineError::Infra(format!("cannot write {}: {e}", path.display())))
}
