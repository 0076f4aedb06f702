//! `servebench resume RUN`: reattach to a run whose driving process died (or was detached),
//! collect finished jobs, submit what was never submitted.

use std::process::ExitCode;

use clap::Args;
use servebench_suite::run::{ResumeRequest, resume};

use crate::cmd::run::{OutputArgs, finish, live_view, run_dir, servebench_bin, signal_interrupts};

/// Arguments of `servebench resume`.
#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// Run id or run directory [default: the newest run].
    run: Option<String>,
    #[command(flatten)]
    out: OutputArgs,
    /// Submit again the tests that ended in failure (never done otherwise).
    #[arg(long)]
    retry_failed: bool,
    /// Submit the next window and return.
    #[arg(long)]
    detach: bool,
}

/// Continues the run with the options it was started with; exit codes as `servebench run`.
pub fn run(args: ResumeArgs) -> ExitCode {
    let dir = match run_dir(&args.out.dir.output, args.run.as_deref()) {
        Ok(d) => d,
        Err(e) => return finish(Err(e), &args.out),
    };
    let req = ResumeRequest {
        dir,
        bin: servebench_bin(),
        retry_failed: args.retry_failed,
        detach: args.detach,
        junit: args.out.junit.clone(),
        no_history: args.out.history.no_history,
        db: args.out.history.db.clone(),
        command_line: std::env::args().collect::<Vec<_>>().join(" "),
    };
    let mut live = live_view(&args.out);
    let result = resume(&req, signal_interrupts(), &mut live);
    live.finish();
    finish(result, &args.out)
}
