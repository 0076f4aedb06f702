//! Results of runs made earlier or elsewhere (`--from-logs`, DEBUG_MODE=1), and finding bundles
//! on disk (`--bundles`, `--from-logs` over a bundle directory).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use servebench_exec::TestEntry;
use servebench_exec::journal::{self, RunView, TestState};
use servebench_launch::LaunchSpec;
use servebench_results::{CaseResult, JobOutcome};

use crate::PipelineError;
use crate::history::{HistoryTarget, Recorder, run_info};
use crate::report::{RunReport, write_results};
use crate::run::{collect_one, job_outcome};

/// The bundles at `dir`: `dir` itself when it holds `launch.json`, else its sub-directories
/// that do, sorted by path. Each launch spec is read (a broken one is an error naming it).
pub fn find_bundles(dir: &Path) -> Result<Vec<TestEntry>, PipelineError> {
    let mut found: Vec<PathBuf> = if dir.join("launch.json").is_file() {
        vec![dir.to_path_buf()]
    } else {
        std::fs::read_dir(dir)
            .map_err(|e| PipelineError::Usage(format!("{}: {e}", dir.display())))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.join("launch.json").is_file())
            .collect()
    };
    found.sort();
    let mut entries = Vec::new();
    for b in found {
        let path = b.join("launch.json");
        let spec = std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|t| LaunchSpec::from_json(&t).map_err(|e| e.to_string()))
            .map_err(|e| PipelineError::Usage(format!("{}: {e}", path.display())))?;
        let bundle = std::path::absolute(&b).unwrap_or(b);
        entries.push(TestEntry::new(&spec.test_id, bundle, &spec.status_file));
    }
    if entries.is_empty() {
        return Err(PipelineError::Usage(format!(
            "{}: no run journal or bundle (launch.json) found",
            dir.display()
        )));
    }
    Ok(entries)
}

/// Judges a run directory (with its journal's account of each job), a directory of bundles, or
/// one bundle. Results go into the run directory itself, else into `output`; with `history`,
/// they are stored too (`servebench collect`), under the run's id (or `collect-<time>` for
/// bundles outside a run), so collecting twice adds nothing.
pub fn from_logs(
    dir: &Path,
    output: &Path,
    junit: Option<&Path>,
    history: Option<&HistoryTarget>,
) -> Result<RunReport, PipelineError> {
    let mut jobs: BTreeMap<String, JobOutcome> = BTreeMap::new();
    let (entries, target, run_id) = match RunView::load(dir) {
        Ok(view) => {
            for (t, state) in &view.tests {
                if let TestState::Done {
                    verdict, reason, ..
                } = state
                {
                    jobs.insert(
                        t.test_id.clone(),
                        job_outcome(*verdict, None, reason.clone()),
                    );
                }
            }
            let entries = view.tests.into_iter().map(|(t, _)| t).collect();
            (entries, dir.to_path_buf(), view.run_id)
        }
        Err(_) if dir.join(journal::JOURNAL).is_file() => {
            return Err(PipelineError::Usage(format!(
                "{}: the run journal cannot be read",
                dir.display()
            )));
        }
        Err(_) => (find_bundles(dir)?, output.to_path_buf(), String::new()),
    };
    let cases: Vec<CaseResult> = entries
        .iter()
        .map(|e| {
            let mut case = collect_one(&e.test_id, &e.bundle, jobs.get(&e.test_id).cloned());
            if let Some(rule) = &e.rule {
                case.apply_rule(rule);
            }
            case
        })
        .collect();
    std::fs::create_dir_all(&target)
        .map_err(|e| PipelineError::Infra(format!("{}: {e}", target.display())))?;
    write_results(&target, &cases, junit)?;
    let mut warnings = Vec::new();
    if let Some(h) = history {
        let id = if run_id.is_empty() {
            format!("collect-{}", servebench_exec::journal::new_run_id())
        } else {
            run_id.clone()
        };
        let recorder = Recorder::start(h, run_info(h, &id, "collect"))?;
        for (e, case) in entries.iter().zip(&cases) {
            recorder.record(&e.bundle, case);
        }
        warnings = recorder.finish();
    }
    Ok(RunReport {
        run_id,
        dir: target,
        cases,
        interrupted: false,
        detached: None,
        dry_run: None,
        elapsed: std::time::Duration::ZERO,
        warnings,
        history: history.cloned(),
    })
}
