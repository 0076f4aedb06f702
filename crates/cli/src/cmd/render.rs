//! `servebench render`: one self-contained job bundle per selected test (SPEC 6.1).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use servebench_bundle::{RenderOptions, write_bundle};
use servebench_config::model::Engine;
use servebench_config::validate::ValidateOptions;

use crate::exit;
use crate::prepare::Prepare;
use crate::suite::{PlanningArgs, SuiteArgs, usage};

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

/// Arguments of `servebench render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    suite: SuiteArgs,
    #[command(flatten)]
    planning: PlanningArgs,
    /// Directory the bundles are written into (one subdirectory per test id).
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    output: PathBuf,
    /// Run every selected config on this engine instead of its own (`sim` runs anything).
    #[arg(long, value_enum)]
    engine: Option<EngineArg>,
    /// Benchmark client (builtin, trtllm-bench-serving, vllm-bench-serve, sglang-bench-serving,
    /// aiperf); default: the config's `benchmark.client`, else the engine's.
    #[arg(long)]
    client: Option<String>,
    /// Simulator time scale (wall seconds per simulated second).
    #[arg(long, value_name = "X")]
    sim_time_scale: Option<f64>,
    /// Do not check that dataset files exist here (they exist on the cluster).
    #[arg(long)]
    no_dataset_check: bool,
    /// Only print the summary line.
    #[arg(short, long)]
    quiet: bool,
}

/// Renders bundles. Exit 0 when every selected test was rendered; 1 when a test is invalid,
/// cannot be planned or disagrees with `--node-count` (the others are still rendered); 2 on
/// usage errors; 3 when a bundle cannot be written.
pub fn run(args: RenderArgs) -> ExitCode {
    let loaded = match args.suite.load() {
        Ok(l) => l,
        Err(e) => return usage(e),
    };
    let plan_opts = args.planning.options(&loaded);
    let opts = RenderOptions {
        profile: loaded.profile.clone(),
        gpu_type: loaded.gpu.clone(),
        sim_time_scale: args.sim_time_scale,
        client: args.client.clone(),
        engine: args.engine.map(Engine::from),
        skip_dataset_check: args.no_dataset_check,
    };
    let mut failed = 0usize;
    let mut written = 0usize;
    let prepare = Prepare {
        validate: ValidateOptions::default(),
        plan: &plan_opts,
        node_count: args.planning.node_count,
        render: &opts,
    };
    for case in loaded.cases() {
        let bundle = match prepare.bundle(case) {
            Ok(b) => b,
            Err(reason) => {
                eprintln!("error: {}: not rendered: {reason}", case.test_id);
                failed += 1;
                continue;
            }
        };
        match write_bundle(&args.output, &bundle) {
            Ok(dir) => {
                written += 1;
                if !args.quiet {
                    println!("{}", dir.display());
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(exit::INFRA);
            }
        }
    }
    eprintln!(
        "{written} bundle(s) written to {}{}",
        args.output.display(),
        if failed > 0 {
            format!(", {failed} test(s) not rendered")
        } else {
            String::new()
        }
    );
    ExitCode::from(if failed > 0 { exit::FAILED } else { exit::OK })
}
