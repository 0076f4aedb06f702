//! The front half of `render` and `run`: every selected case is checked (load-time diagnostics
//! of its file, every validation rule, planning, `--node-count`) before anything is written,
//! test-list markers are applied, and only then are bundles written. Each caller decides what a
//! refusal means (not rendered, or not submitted).

use std::path::{Path, PathBuf};

use servebench_bundle::{Bundle, RenderOptions, render_case, write_bundle};
use servebench_config::diag::{Diagnostic, Severity};
use servebench_config::model::{Mode, TestCase};
use servebench_config::select::{BenchmarkMode, ListMarker};
use servebench_config::validate::{ValidateOptions, apply_context, validate_case};
use servebench_exec::TestEntry;
use servebench_launch::OutcomeRule;
use servebench_plan::{PlanOptions, check_node_count, plan_case};
use servebench_results::CaseResult;

use crate::{Event, PipelineError, Reporter};

/// Everything preparing a case needs besides the case.
pub struct Prepare<'a> {
    /// Validation context (`submission` for SLURM runs: unresolved placeholders are errors).
    pub validate: ValidateOptions,
    /// Planning options (profile, single host).
    pub plan: &'a PlanOptions,
    /// `--node-count`, when given.
    pub node_count: Option<u64>,
    /// Rendering options.
    pub render: &'a RenderOptions,
}

/// One selected case with what its file and its test-list line say about it.
#[derive(Debug, Clone)]
pub struct Selected<'a> {
    /// The case.
    pub case: &'a TestCase,
    /// Load-time diagnostics of its file (schema, unknown keys, placeholders).
    pub file_diagnostics: &'a [Diagnostic],
    /// The test-list marker of its line.
    pub marker: Option<ListMarker>,
    /// The benchmark mode its line names (`gen_only`, `ctx_only`, ...).
    pub mode: Option<BenchmarkMode>,
}

/// A config file that yielded no test case because it is broken.
#[derive(Debug, Clone)]
pub struct BrokenFile {
    /// The file.
    pub path: PathBuf,
    /// Its rendered error diagnostics.
    pub errors: Vec<String>,
}

/// What to do when some selected test is invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InvalidPolicy {
    /// Submit nothing (the default: a half-submitted suite is the worst outcome).
    #[default]
    Refuse,
    /// Run the valid ones; report each invalid one as an error.
    Skip,
}

/// Why one case must not be rendered or run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    /// Load-time or validation errors (every message).
    #[error("{} error(s): {}", .0.len(), .0.join("; "))]
    Invalid(Vec<String>),
    /// Planning failed or `--node-count` disagrees.
    #[error("{0}")]
    Plan(String),
    /// Rendering failed.
    #[error("{0}")]
    Render(String),
}

/// The bundles of a run, written, and the cases that will not run.
#[derive(Debug, Default)]
pub struct Prepared {
    /// One entry per written bundle, in order.
    pub entries: Vec<TestEntry>,
    /// Cases refused or skipped, as `Error` or `Skipped` results.
    pub not_run: Vec<CaseResult>,
}

/// The config mode of a test-list mode.
fn config_mode(m: BenchmarkMode) -> Mode {
    match m {
        BenchmarkMode::E2e => Mode::E2e,
        BenchmarkMode::GenOnly => Mode::GenOnly,
        BenchmarkMode::GenOnlyNoContext => Mode::GenOnlyNoContext,
        BenchmarkMode::CtxOnly => Mode::CtxOnly,
    }
}

/// `HH:MM:SS` of `minutes`, as SLURM's `--time` reads it.
fn slurm_time(minutes: u32) -> String {
    format!("{:02}:{:02}:00", minutes / 60, minutes % 60)
}

/// The case as its test-list line asks to run it: the line's mode applied (the test id gets the
/// mode as a suffix, `<id>.gen_only`, when it differs from the config's, so one config listed in
/// two modes gives two tests), and a `TIMEOUT (N)` as the SLURM time limit.
fn as_listed(sel: &Selected<'_>) -> TestCase {
    let mut case = sel.case.clone();
    if let Some(m) = sel.mode.map(config_mode)
        && m != case.config.benchmark.mode
    {
        case.config.benchmark.mode = m;
        case.test_id = format!("{}.{}", case.test_id, m.as_str());
        case.display_name = format!("{} [{}]", case.display_name, m.as_str());
    }
    if let Some(ListMarker::Timeout { minutes }) = &sel.marker {
        case.config.slurm.job_time = Some(slurm_time(*minutes));
    }
    case
}

impl Prepare<'_> {
    /// The rendered bundle of `case`, or why it must not run. `file_diagnostics` are the
    /// load-time findings of its file; their errors refuse the case like validation errors.
    pub fn bundle_with(
        &self,
        case: &TestCase,
        file_diagnostics: &[Diagnostic],
    ) -> Result<Bundle, Refusal> {
        let mut load = file_diagnostics.to_vec();
        apply_context(&mut load, &self.validate);
        let errors: Vec<String> = load
            .into_iter()
            .chain(validate_case(case, &self.validate))
            .filter(|d| d.severity == Severity::Error)
            .map(|d| format!("{}: {}", d.location(), d.message))
            .collect();
        if !errors.is_empty() {
            return Err(Refusal::Invalid(errors));
        }
        let plan = plan_case(case, self.plan).map_err(|e| Refusal::Plan(e.to_string()))?;
        if let Some(n) = self.node_count {
            check_node_count(&plan, n).map_err(|e| Refusal::Plan(e.to_string()))?;
        }
        render_case(case, &plan, self.render).map_err(|e| Refusal::Render(e.to_string()))
    }

    /// [`Prepare::bundle_with`] for a case whose file had no load-time findings.
    pub fn bundle(&self, case: &TestCase) -> Result<Bundle, Refusal> {
        self.bundle_with(case, &[])
    }

    /// Checks every selected case, then (unless refused) writes the bundles under
    /// `bundles_dir`. `SKIP` cases and waived ones are reported as skipped and never rendered.
    /// With [`InvalidPolicy::Refuse`], any invalid case or broken file means nothing is written
    /// and [`PipelineError::Invalid`] carries every refused case.
    pub fn write_all(
        &self,
        selected: &[Selected<'_>],
        broken: &[BrokenFile],
        policy: InvalidPolicy,
        bundles_dir: &Path,
        reporter: &mut dyn Reporter,
    ) -> Result<Prepared, PipelineError> {
        let mut out = Prepared::default();
        let mut refused = Vec::new();
        for b in broken {
            let reason = format!(
                "not submitted: {} cannot be loaded: {}",
                b.path.display(),
                b.errors.join("; ")
            );
            refused.push(CaseResult::error(&b.path.display().to_string(), reason));
        }
        let mut ready = Vec::new();
        for sel in selected {
            if let Some(ListMarker::Skip { reason, waived }) = &sel.marker {
                let what = if *waived {
                    "skipped (waived)"
                } else {
                    "skipped"
                };
                out.not_run.push(CaseResult::skipped(
                    &sel.case.test_id,
                    format!("{what}: {reason}"),
                ));
                continue;
            }
            let case = as_listed(sel);
            match self.bundle_with(&case, sel.file_diagnostics) {
                Ok(bundle) => ready.push((sel, case, bundle)),
                Err(refusal) => {
                    refused.push(CaseResult::error(
                        &case.test_id,
                        format!("not submitted: {refusal}"),
                    ));
                }
            }
        }
        for r in &refused {
            reporter.event(&Event::NotSubmitted {
                test_id: r.test_id.clone(),
                reason: r.reason.clone().unwrap_or_default(),
            });
        }
        if policy == InvalidPolicy::Refuse && !refused.is_empty() {
            let mut cases = refused;
            cases.extend(out.not_run);
            return Err(PipelineError::Invalid(cases));
        }
        out.not_run.extend(refused);
        for (sel, case, bundle) in ready {
            for w in &bundle.warnings {
                reporter.event(&Event::Warning {
                    test_id: case.test_id.clone(),
                    message: w.clone(),
                });
            }
            let dir = write_bundle(bundles_dir, &bundle)
                .map_err(|e| PipelineError::Infra(e.to_string()))?;
            let mut entry = TestEntry::new(&case.test_id, dir, &bundle.launch.status_file);
            match &sel.marker {
                Some(ListMarker::Timeout { minutes }) => {
                    entry.time_limit_s = Some(u64::from(*minutes) * 60);
                }
                Some(ListMarker::Isolation) => entry.isolated = true,
                Some(ListMarker::Xfail { reason }) => {
                    entry.rule = Some(OutcomeRule::Xfail {
                        reason: reason.clone(),
                    });
                }
                Some(ListMarker::Unstable { reason }) => {
                    entry.rule = Some(OutcomeRule::Unstable {
                        reason: reason.clone(),
                    });
                }
                Some(ListMarker::Skip { .. }) | None => {}
            }
            out.entries.push(entry);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slurm_time_of_minutes() {
        assert_eq!(slurm_time(90), "01:30:00");
        assert_eq!(slurm_time(5), "00:05:00");
        assert_eq!(slurm_time(600), "10:00:00");
    }
}
