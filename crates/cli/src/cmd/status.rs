//! `servebench status [RUN]`: a run's state from its journal and the bundles' status files,
//! from any shell.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use servebench_exec::journal::{self, RunView, TestState};
use servebench_exec::proc::pid_alive;
use servebench_exec::read_status;

use crate::exit;
use crate::suite::{Format, print};

/// Arguments of `servebench status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Run id or run directory [default: the newest run under the output directory].
    run: Option<String>,
    #[command(flatten)]
    dir: crate::suite::OutputDir,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Print the state again every `--interval` seconds until the run has finished (or no
    /// process drives it any more).
    #[arg(long)]
    watch: bool,
    /// Seconds between two prints with `--watch`.
    #[arg(long, default_value_t = 5.0, value_name = "SECS")]
    interval: f64,
}

/// Prints the run's state (with `--watch`, until it ends). Exit 0 when the run is found, 2
/// when not.
pub fn run(args: StatusArgs) -> ExitCode {
    if !(args.interval.is_finite() && args.interval > 0.0) {
        say!("error: --interval must be a positive number of seconds");
        return ExitCode::from(exit::USAGE);
    }
    loop {
        let (code, ended) = once(&args);
        if !args.watch || ended || code != ExitCode::from(exit::OK) {
            return code;
        }
        std::thread::sleep(std::time::Duration::from_secs_f64(args.interval));
    }
}

/// One print; returns the exit code and whether the run has ended (finished, or not driven).
fn once(args: &StatusArgs) -> (ExitCode, bool) {
    let (dir, view) = match load(&args.dir.output, args.run.as_deref()) {
        Ok(v) => v,
        Err(e) => {
            say!("error: {e}");
            return (ExitCode::from(exit::USAGE), true);
        }
    };
    let driver_alive = !view.finished && pid_alive(view.pid);
    let rows: Vec<serde_json::Value> = view
        .tests
        .iter()
        .map(|(t, s)| {
            let log = read_status(&t.status_file);
            let progress = log
                .events
                .iter()
                .rev()
                .find(|e| !matches!(e, servebench_launch::StatusEvent::Warning { .. }))
                .map(servebench_launch::StatusEvent::describe);
            let (state, job_id, reason) = match s {
                TestState::Queued => ("queued".to_string(), None, None),
                TestState::Submitting { .. } => ("submitting".into(), None, None),
                TestState::Active { job_id, state, .. } => {
                    (state.to_lowercase(), Some(job_id.clone()), None)
                }
                TestState::Done {
                    job_id,
                    verdict,
                    reason,
                    ..
                } => (verdict.as_str().to_string(), job_id.clone(), reason.clone()),
                TestState::Skipped { reason } => ("skipped".into(), None, Some(reason.clone())),
            };
            serde_json::json!({
                "test_id": t.test_id,
                "state": state,
                "job_id": job_id,
                "attempts": view.attempts(&t.test_id),
                "progress": progress,
                "reason": reason,
                "bundle": t.bundle,
            })
        })
        .collect();
    match args.format {
        Format::Json => {
            let doc = serde_json::json!({
                "schema_version": 1,
                "run_id": view.run_id,
                "run_dir": dir,
                "executor": view.executor,
                "finished": view.finished,
                "driver_alive": driver_alive,
                "cancel_requested": view.cancel_requested,
                "tests": rows,
            });
            print(&format!(
                "{}\n",
                serde_json::to_string_pretty(&doc).unwrap_or_default()
            ));
        }
        Format::Table => {
            let mut out = format!(
                "run {} ({} executor) {}\n",
                view.run_id,
                view.executor,
                if view.finished {
                    "finished".to_string()
                } else if driver_alive {
                    format!("in progress (pid {})", view.pid)
                } else {
                    "not finished, no process drives it: `servebench resume` continues it"
                        .to_string()
                }
            );
            let s = |v: &serde_json::Value, k: &str| {
                v.get(k)
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("-")
                    .to_string()
            };
            let w = rows
                .iter()
                .map(|r| s(r, "test_id").len())
                .max()
                .unwrap_or(4)
                .max(4);
            out.push_str(&format!(
                "{:w$}  {:18}  {:12}  {}\n",
                "TEST", "STATE", "JOB", "DETAIL"
            ));
            for r in &rows {
                let detail = r
                    .get("reason")
                    .and_then(serde_json::Value::as_str)
                    .or_else(|| r.get("progress").and_then(serde_json::Value::as_str))
                    .unwrap_or("");
                out.push_str(&format!(
                    "{:w$}  {:18}  {:12}  {detail}\n",
                    s(r, "test_id"),
                    s(r, "state"),
                    s(r, "job_id")
                ));
            }
            print(&out);
        }
    }
    (ExitCode::from(exit::OK), view.finished || !driver_alive)
}

/// Finds and folds a run.
pub(crate) fn load(
    output: &std::path::Path,
    run: Option<&str>,
) -> Result<(PathBuf, RunView), String> {
    let dir = journal::find_run(output, run).map_err(|e| e.to_string())?;
    let view = RunView::load(&dir).map_err(|e| e.to_string())?;
    Ok((dir, view))
}
