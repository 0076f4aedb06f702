//! The per-case front half shared by `render` and `run`: validate, plan, check `--node-count`,
//! render. Each caller decides what a refusal means (not rendered, or not submitted).

use servebench_bundle::{Bundle, RenderOptions, render_case};
use servebench_config::diag::Severity;
use servebench_config::model::TestCase;
use servebench_config::validate::{ValidateOptions, validate_case};
use servebench_plan::{PlanOptions, check_node_count, plan_case};

/// Everything `prepare` needs besides the case.
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

impl Prepare<'_> {
    /// The rendered bundle of `case`, or why it must not run. Render warnings go to stderr.
    pub fn bundle(&self, case: &TestCase) -> Result<Bundle, String> {
        let errors: Vec<String> = validate_case(case, &self.validate)
            .into_iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| d.message)
            .collect();
        if !errors.is_empty() {
            return Err(format!(
                "{} validation error(s): {}",
                errors.len(),
                errors.join("; ")
            ));
        }
        let plan = plan_case(case, self.plan).map_err(|e| e.to_string())?;
        if let Some(n) = self.node_count {
            check_node_count(&plan, n).map_err(|e| e.to_string())?;
        }
        let bundle = render_case(case, &plan, self.render).map_err(|e| e.to_string())?;
        for w in &bundle.warnings {
            eprintln!("warning: {}: {w}", case.test_id);
        }
        Ok(bundle)
    }
}
