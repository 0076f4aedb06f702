//! `servebench cancel RUN`: cancels every job of a run in flight, from any shell.

use std::process::ExitCode;

use clap::Args;

use crate::cmd::run::{run_dir, servebench_bin};
use crate::exit;

/// Arguments of `servebench cancel`.
#[derive(Debug, Args)]
pub struct CancelArgs {
    /// Run id or run directory.
    run: String,
    #[command(flatten)]
    dir: crate::suite::OutputDir,
}

/// Signals the process driving the run (it cancels and records), and cancels the jobs directly
/// (scancel, or SIGTERM to local process groups). Exit 0 when done, 2 unknown run, 3 when the
/// scheduler refused.
pub fn run(args: CancelArgs) -> ExitCode {
    let result = run_dir(&args.dir.output, Some(&args.run))
        .and_then(|dir| servebench_suite::cancel::cancel(&dir, servebench_bin()));
    match result {
        Ok(r) if r.job_ids.is_empty() && r.driver.is_none() => {
            say!("run {}: nothing in flight", r.run_id);
            ExitCode::from(exit::OK)
        }
        Ok(r) => {
            if let Some(pid) = r.driver {
                say!("asked servebench run (pid {pid}) to cancel");
            }
            say!(
                "run {}: cancelled {} job(s): {}",
                r.run_id,
                r.job_ids.len(),
                r.job_ids.join(" ")
            );
            ExitCode::from(exit::OK)
        }
        Err(e) => {
            say!("error: {e}");
            exit::of_error(&e)
        }
    }
}
