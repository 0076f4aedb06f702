//! `servebench render`: one self-contained job bundle per selected test (SPEC 6.1).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use servebench_bundle::write_bundle;
use servebench_config::validate::ValidateOptions;

use crate::exit;
use servebench_suite::prepare::Prepare;

use crate::prepare::BundleArgs;
use crate::suite::{PlanningArgs, SuiteArgs, usage};

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
    #[command(flatten)]
    bundle: BundleArgs,
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
    let opts = args.bundle.options(&loaded, None);
    let mut failed = 0usize;
    let mut written = 0usize;
    let prepare = Prepare {
        validate: ValidateOptions::default(),
        plan: &plan_opts,
        node_count: args.planning.node_count,
        render: &opts,
    };
    for sel in loaded.selected_cases() {
        let case = sel.case;
        let bundle = match prepare.bundle_with(case, sel.file_diagnostics) {
            Ok(b) => b,
            Err(reason) => {
                say!("error: {}: not rendered: {reason}", case.test_id);
                failed += 1;
                continue;
            }
        };
        for w in &bundle.warnings {
            say!("warning: {}: {w}", case.test_id);
        }
        match write_bundle(&args.output, &bundle) {
            Ok(dir) => {
                written += 1;
                if !args.quiet {
                    out!("{}", dir.display());
                }
            }
            Err(e) => {
                say!("error: {e}");
                return ExitCode::from(exit::INFRA);
            }
        }
    }
    say!(
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
