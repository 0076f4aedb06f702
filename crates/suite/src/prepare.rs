//! The front half of `render` and `run`, per case: validate, plan, check `--node-count`,
//! render; then write the bundles of a run. Each caller decides what a refusal means (not
//! rendered, or not submitted).

use std::path::Path;

use servebench_bundle::{Bundle, RenderOptions, render_case, write_bundle};
use servebench_config::diag::Severity;
use servebench_config::model::TestCase;
use servebench_config::validate::{ValidateOptions, validate_case};
use servebench_exec::TestEntry;
use servebench_plan::{PlanOptions, check_node_count, plan_case};
use servebench_results::CaseResult;

use crate::{Event, PipelineError, Reporter};

/// Everything preparing a case needs besides the case.
pub struct Prepare<'a> {
    /// Validation context (`submission` for SLURM runs).
    pub validate: ValidateOptions,
    /// Planning options (profile, single host).
    pub plan: &'a PlanOptions,
    /// `--node-count`, when given.
    pub node_count: Option<u64>,
    /// Rendering options.
    pub render: &'a RenderOptions,
}

/// Why one case must not be rendered or run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    /// Validation errors (every message).
    #[error("{} validation error(s): {}", .0.len(), .0.join("; "))]
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
    /// Cases refused, as `Error` results.
    pub not_run: Vec<CaseResult>,
}

impl Prepare<'_> {
    /// The rendered bundle of `case` with its render warnings, or why it must not run.
    pub fn bundle(&self, case: &TestCase) -> Result<Bundle, Refusal> {
        let errors: Vec<String> = validate_case(case, &self.validate)
            .into_iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| d.message)
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

    /// Prepares every case and writes the bundles under `bundles_dir`.
    pub fn write_all<'c>(
        &self,
        cases: impl IntoIterator<Item = &'c TestCase>,
        bundles_dir: &Path,
        reporter: &mut dyn Reporter,
    ) -> Result<Prepared, PipelineError> {
        let mut out = Prepared::default();
        for case in cases {
            let bundle = match self.bundle(case) {
                Ok(b) => b,
                Err(refusal) => {
                    let reason = format!("not submitted: {refusal}");
                    reporter.event(&Event::NotSubmitted {
                        test_id: case.test_id.clone(),
                        reason: reason.clone(),
                    });
                    out.not_run.push(CaseResult::error(&case.test_id, reason));
                    continue;
                }
            };
            for w in &bundle.warnings {
                reporter.event(&Event::Warning {
                    test_id: case.test_id.clone(),
                    message: w.clone(),
                });
            }
            let dir = write_bundle(bundles_dir, &bundle)
                .map_err(|e| PipelineError::Infra(e.to_string()))?;
            out.entries.push(TestEntry::new(
                &case.test_id,
                dir,
                &bundle.launch.status_file,
            ));
        }
        Ok(out)
    }
}
