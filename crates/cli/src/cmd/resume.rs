//! `servebench resume RUN`: reattach to a run whose driving process died (or was detached),
//! collect finished jobs, submit what was never submitted.

use std::process::ExitCode;

use clap::Args;
use servebench_exec::SchedOptions;
use servebench_exec::journal::{Journal, Record, ts};
use servebench_exec::proc::pid_alive;

use crate::cmd::run::{OutputArgs, backend, drive_and_report, sched_defaults};
use crate::cmd::status::load;
use crate::exit;

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

/// Continues the run; exit codes as `servebench run`.
pub fn run(args: ResumeArgs) -> ExitCode {
    let (dir, view) = match load(&args.out.output, args.run.as_deref()) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::USAGE);
        }
    };
    if !view.finished && view.pid != std::process::id() && pid_alive(view.pid) {
        eprintln!(
            "error: run {} is still driven by pid {}; cancel it or wait",
            view.run_id, view.pid
        );
        return ExitCode::from(exit::USAGE);
    }
    let mut journal = match Journal::open(&dir) {
        Ok(j) => j,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::INFRA);
        }
    };
    if let Err(e) = journal.append(&Record::Resumed {
        ts: ts(),
        pid: std::process::id(),
    }) {
        eprintln!("error: {e}");
        return ExitCode::from(exit::INFRA);
    }
    let opts = SchedOptions {
        max_parallel: view.max_parallel,
        retries: view.retries,
        stop_on_error: view.stop_on_error,
        detach: args.detach,
        ..sched_defaults(&view.executor)
    };
    let mut b = backend(&view.executor);
    eprintln!("resuming run {} ({})", view.run_id, dir.display());
    drive_and_report(
        &dir,
        &mut journal,
        &mut b,
        &view,
        &opts,
        args.retry_failed,
        Vec::new(),
        &args.out,
    )
}
