//! The per-case front half shared by `render` and `run`: validate, plan, check `--node-count`,
//! render. Each caller decides what a refusal means (not rendered, or not submitted).

use clap::{Args, ValueEnum};
use servebench_bundle::{Bundle, RenderOptions, render_case};
use servebench_config::diag::Severity;
use servebench_config::model::{Engine, TestCase};
use servebench_config::validate::{ValidateOptions, validate_case};
use servebench_plan::{PlanOptions, check_node_count, plan_case};

use crate::suite::Loaded;

/// Everything `prepare` needs besides the case.
/// Engine override on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EngineArg {
    /// TensorRT-LLM.
    Trtllm,
    /// vLLM.
    Vllm,
    /// SGLang.
    Sglang,
    /// The built-in simulator.
    Sim,
}

impl From<EngineArg> for Engine {
    fn from(e: EngineArg) -> Self {
        match e {
            EngineArg::Trtllm => Engine::Trtllm,
            EngineArg::Vllm => Engine::Vllm,
            EngineArg::Sglang => Engine::Sglang,
            EngineArg::Sim => Engine::Sim,
        }
    }
}

/// How bundles are rendered: the options `render` and `run` share.
#[derive(Debug, Args)]
pub struct BundleArgs {
    /// Run every selected config on this engine instead of its own (`sim` runs anything).
    #[arg(long, value_enum)]
    engine: Option<EngineArg>,
    /// Benchmark client (builtin, trtllm-bench-serving, vllm-bench-serve, sglang-bench-serving,
    /// aiperf); default: the config's `benchmark.client`, else the engine's.
    #[arg(long)]
    client: Option<String>,
    /// Simulator time scale (wall seconds per simulated second) [default: 0.5 for `run` with the
    /// local executor, so simulated timings look real and the suite takes about half a minute].
    #[arg(long, value_name = "X")]
    sim_time_scale: Option<f64>,
    /// Do not check that dataset files exist here (they exist on the cluster).
    #[arg(long)]
    no_dataset_check: bool,
}

impl BundleArgs {
    /// The render options for `loaded`, with `default_time_scale` when none was given.
    pub fn options(&self, loaded: &Loaded, default_time_scale: Option<f64>) -> RenderOptions {
        RenderOptions {
            profile: loaded.profile.clone(),
            gpu_type: loaded.gpu.clone(),
            sim_time_scale: self.sim_time_scale.or(default_time_scale),
            client: self.client.clone(),
            engine: self.engine.map(Engine::from),
            skip_dataset_check: self.no_dataset_check,
        }
    }
}

/// Validate, plan and render one case, as `render` and `run` both do.
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
