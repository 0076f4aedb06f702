//! `servebench collect DIR`: judge runs made earlier or elsewhere (a run directory, a directory
//! of bundles, or one bundle, from servebench or from the logs other tools left in bundles) and
//! store them in the history; collecting the same run twice adds nothing.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::cmd::run::{OutputArgs, finish};

/// Arguments of `servebench collect`.
#[derive(Debug, Args)]
pub struct CollectArgs {
    /// A run directory, a directory of bundles, or one bundle.
    dir: PathBuf,
    #[command(flatten)]
    out: OutputArgs,
}

/// Collects and stores; exit codes as `servebench run --from-logs`.
pub fn run(args: CollectArgs) -> ExitCode {
    let history = args.out.history.target(&args.out.dir.output, None);
    let result = servebench_suite::logs::from_logs(
        &args.dir,
        &args.out.dir.output,
        args.out.junit.as_deref(),
        history.as_ref(),
    );
    finish(result, &args.out)
}
