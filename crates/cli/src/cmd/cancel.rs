//! `servebench cancel RUN`: cancels every job of a run in flight, from any shell.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use servebench_exec::journal::{Journal, Record, TestState, ts};
use servebench_exec::proc::{pid_alive, terminate};

use crate::cmd::run::backend;
use crate::cmd::status::load;
use crate::exit;

/// Arguments of `servebench cancel`.
#[derive(Debug, Args)]
pub struct CancelArgs {
    /// Run id or run directory.
    run: String,
    /// Output directory holding `runs/`.
    #[arg(
        long,
        env = "OUTPUT_PATH",
        default_value = "servebench-out",
        value_name = "DIR"
    )]
    output: PathBuf,
}

/// Signals the process driving the run (it cancels and records), and cancels the jobs directly
/// (scancel, or SIGTERM to local process groups). Exit 0 when done, 2 unknown run, 3 when the
/// scheduler refused.
pub fn run(args: CancelArgs) -> ExitCode {
    let (dir, view) = match load(&args.output, Some(&args.run)) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::USAGE);
        }
    };
    let ids: Vec<String> = view
        .tests
        .iter()
        .filter_map(|(_, s)| match s {
            TestState::Active { job_id, .. } => Some(job_id.clone()),
            _ => None,
        })
        .collect();
    let driver = (!view.finished && pid_alive(view.pid) && view.pid != std::process::id())
        .then_some(view.pid);
    if ids.is_empty() && driver.is_none() {
        eprintln!("run {}: nothing in flight", view.run_id);
        return ExitCode::from(exit::OK);
    }
    let mut journal = match Journal::open(&dir) {
        Ok(j) => j,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::INFRA);
        }
    };
    if let Err(e) = journal.append(&Record::CancelRequested {
        ts: ts(),
        by: "servebench cancel".into(),
        job_ids: ids.clone(),
    }) {
        eprintln!("error: {e}");
        return ExitCode::from(exit::INFRA);
    }
    if let Some(pid) = driver {
        terminate(pid);
        eprintln!("asked servebench run (pid {pid}) to cancel");
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::INFRA);
        }
    };
    let mut b = backend(&view.executor);
    for (t, s) in &view.tests {
        if let TestState::Active { job_id, .. } = s {
            b.reattach(job_id, t.bundle.clone());
        }
    }
    if let Err(e) = rt.block_on(b.cancel(&ids)) {
        eprintln!("error: {e}");
        return ExitCode::from(exit::INFRA);
    }
    // Wait (bounded) for the driver to record the end.
    if let Some(pid) = driver {
        let until = Instant::now() + Duration::from_secs(90);
        while pid_alive(pid) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    eprintln!(
        "run {}: cancelled {} job(s): {}",
        view.run_id,
        ids.len(),
        ids.join(" ")
    );
    ExitCode::from(exit::OK)
}
