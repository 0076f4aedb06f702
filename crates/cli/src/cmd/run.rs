//! `servebench run`: arguments -> a [`RunRequest`] for the pipeline (`servebench_suite`), the
//! live view as its reporter, and the report's table and exit code. Also what `resume` shares:
//! the output arguments and rendering a [`RunReport`].

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use servebench_config::profile::Scheduler as ProfileScheduler;
use servebench_config::validate::ValidateOptions;
use servebench_exec::journal;
use servebench_exec::{Interrupts, SchedOptions, interrupts};
use servebench_launch::Scheduler;
use servebench_suite::history::HistoryTarget;
use servebench_suite::prepare::{InvalidPolicy, Prepare};
use servebench_suite::run::{NewRun, RunRequest, start};
use servebench_suite::{PipelineError, RunReport};

use crate::exit;
use crate::live::{LiveView, use_bars};
use crate::prepare::BundleArgs;
use crate::suite::{Format, PlanningArgs, SuiteArgs};

/// Executor on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExecutorArg {
    /// Child process groups on this machine.
    Local,
    /// sbatch/squeue/sacct on a SLURM cluster.
    Slurm,
}

/// Where runs go and how results are reported (shared by `run` and `resume`).
#[derive(Debug, Args)]
pub struct OutputArgs {
    #[command(flatten)]
    pub dir: crate::suite::OutputDir,
    /// Also write JUnit XML here (one testcase per test).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// No live view; only the results table and errors.
    #[arg(short, long)]
    pub quiet: bool,
    /// `json`: progress events as JSON lines on stderr and the run's results as one JSON
    /// document on stdout (layout in docs/output-formats.md) instead of the live view and table.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    #[command(flatten)]
    pub history: HistoryArgs,
    /// Write the HTML report here at the end [default: report.html in the run directory].
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

/// Where results are stored as they arrive (SPEC 11.1; `docs/history.md`).
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// History database: an SQLite path, `sqlite:PATH` or `postgres://user@host/db`
    /// [default: <output>/servebench.db].
    #[arg(
        long,
        env = "SERVEBENCH_DB",
        value_name = "URL",
        hide_env_values = true
    )]
    pub db: Option<String>,
    /// Baseline label of this run in the history (a branch name for pre-merge runs); verdicts
    /// compare against the `main` history by default.
    #[arg(
        long,
        env = "SERVEBENCH_LABEL",
        value_name = "LABEL",
        default_value = "main"
    )]
    pub label: String,
    /// Store nothing: no history database, no perf_script_test_results.csv.
    #[arg(long)]
    pub no_history: bool,
}

impl HistoryArgs {
    /// The history target for runs writing under `output`, unless `--no-history`.
    pub fn target(&self, output: &Path, cluster: Option<String>) -> Option<HistoryTarget> {
        (!self.no_history).then(|| HistoryTarget {
            db: self
                .db
                .clone()
                .unwrap_or_else(|| output.join("servebench.db").to_string_lossy().into_owned()),
            csv: Some(output.join(servebench_store::CSV_FILE_NAME)),
            label: Some(self.label.clone()),
            command_line: std::env::args().collect::<Vec<_>>().join(" "),
            cluster,
        })
    }
}

/// Arguments of `servebench run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    suite: SuiteArgs,
    #[command(flatten)]
    planning: PlanningArgs,
    #[command(flatten)]
    out: OutputArgs,
    /// Executor [default: slurm when the cluster profile's scheduler is slurm, else local].
    #[arg(long, value_enum)]
    executor: Option<ExecutorArg>,
    /// Jobs in flight at most; 0 = unlimited [env: DISAGG_BATCH_SIZE] [default: 5].
    #[arg(long, alias = "batch-size", value_name = "N")]
    max_parallel: Option<usize>,
    /// Stop submitting after the first failed test (jobs in flight finish).
    #[arg(long)]
    stop_on_error: bool,
    /// Resubmit after infrastructure failures (NODE_FAIL, PREEMPTED, health timeout) up to N
    /// times; never after test failures.
    #[arg(long, default_value_t = 0, value_name = "N")]
    retries: u32,
    /// Submit the first window and return; `servebench resume RUN` continues.
    #[arg(long)]
    detach: bool,
    /// Render bundles and print the exact submission commands; submit nothing.
    #[arg(long)]
    dry_run: bool,
    /// Evaluate existing results (a run directory, a directory of bundles, or one bundle)
    /// without submitting. DEBUG_MODE=1 does the same for `<output>/runs/<DEBUG_JOB_ID>`.
    #[arg(long, value_name = "DIR")]
    from_logs: Option<PathBuf>,
    /// Submit already rendered bundles (a directory of bundles, or one bundle) instead of
    /// rendering configs; the suite filters do not apply.
    #[arg(long, value_name = "DIR", conflicts_with = "from_logs")]
    bundles: Option<PathBuf>,
    #[command(flatten)]
    bundle: BundleArgs,
    /// Outer wait limit per job in seconds, queue time included; 0 = no limit. Journaled, so
    /// `resume` keeps it.
    #[arg(long, default_value_t = journal::DEFAULT_JOB_TIMEOUT_S, value_name = "SECS")]
    job_timeout: u64,
    /// Run the valid tests when some selected ones are invalid (each invalid one is still
    /// reported as ERROR, and the exit code is 1); by default nothing is submitted then.
    #[arg(long)]
    skip_invalid: bool,
    /// Emulate upstream's lazy batches (next batch only after the whole previous one ended);
    /// for comparisons only.
    #[arg(long, hide = true)]
    lazy_batches: bool,
}

/// Simulator time scale of local runs: 0.5 keeps the simulated timings realistic (the example
/// suite takes about half a minute). Faster scales are fine for smoke runs since the client
/// stamps chunks at arrival and prepares its workers before the clock: on this 2-core machine the
/// example suite passed 10 of 10 runs at 0 (under a second each; 1 of 10 before) and 5 of 5 at
/// 0.25 (1 of 5 before); with all five jobs at once at 0, 1 run in 5 had a case the client
/// genuinely could not keep up with (p99 lateness 1.5 ms), which the check reports.
const DEFAULT_LOCAL_TIME_SCALE: f64 = 0.5;

/// The window size: flag > DISAGG_BATCH_SIZE (invalid -> 5, as upstream) > 5.
fn window(flag: Option<usize>) -> usize {
    flag.unwrap_or_else(|| match std::env::var("DISAGG_BATCH_SIZE") {
        Ok(v) if !v.trim().is_empty() => v.trim().parse::<i64>().map_or_else(
            |_| {
                say!("warning: DISAGG_BATCH_SIZE={v} is not a number; using 5");
                5
            },
            |n| usize::try_from(n).unwrap_or(0),
        ),
        _ => 5,
    })
}

/// The servebench binary jobs run (`job exec`): this executable.
pub(crate) fn servebench_bin() -> PathBuf {
    std::env::current_exe().unwrap_or_else(|_| PathBuf::from("servebench"))
}

/// Interrupts fed by this process's SIGINT/SIGTERM; forwarding needs a runtime, so a small one
/// runs the forwarder on its own thread for the life of the process.
/// Returns once the handlers are installed, so no signal slips past between submission and
/// the first wait.
pub(crate) fn signal_interrupts() -> Interrupts {
    let (tx, rx) = interrupts();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            let _ = ready_tx.send(());
            return;
        };
        rt.block_on(async move {
            let installed = tx.forward_signals().is_ok();
            let _ = ready_tx.send(());
            if installed {
                std::future::pending::<()>().await;
            }
        });
    });
    let _ = ready_rx.recv();
    rx
}

/// The live view for these output arguments.
pub(crate) fn live_view(out: &OutputArgs) -> LiveView {
    if out.format == Format::Json {
        return LiveView::json();
    }
    let bars = use_bars(
        std::io::stderr().is_terminal(),
        std::env::var_os("CI").is_some(),
        out.quiet,
        std::env::var("TERM").is_ok_and(|t| t == "dumb"),
    );
    LiveView::new(bars, out.quiet)
}

/// Runs the suite.
pub fn run(args: RunArgs) -> ExitCode {
    let debug_mode = std::env::var("DEBUG_MODE").is_ok_and(|v| v == "1");
    let from_logs = |dir: &Path| {
        let result = servebench_suite::logs::from_logs(
            dir,
            &args.out.dir.output,
            args.out.junit.as_deref(),
            None,
        );
        finish(result, &args.out)
    };
    if let Some(dir) = &args.from_logs {
        return from_logs(dir);
    }
    if debug_mode {
        let run = std::env::var("DEBUG_JOB_ID").ok();
        return match journal::find_run(&args.out.dir.output, run.as_deref()) {
            Ok(dir) => from_logs(&dir),
            Err(e) => {
                say!("error: DEBUG_MODE=1: {e}");
                ExitCode::from(exit::USAGE)
            }
        };
    }
    let mut live = live_view(&args.out);
    let result = prepare_and_start(&args, &mut live);
    live.finish();
    finish(result, &args.out)
}

fn prepare_and_start(args: &RunArgs, live: &mut LiveView) -> Result<RunReport, PipelineError> {
    let new_run = NewRun::new(&args.out.dir.output);
    let (executor, entries, not_run) = if let Some(dir) = &args.bundles {
        let entries = servebench_suite::logs::find_bundles(dir)?;
        let executor = match args.executor {
            Some(ExecutorArg::Slurm) => Scheduler::Slurm,
            _ => Scheduler::Local,
        };
        (executor, entries, Vec::new())
    } else {
        let loaded = args.suite.load().map_err(|e| PipelineError::Usage(e.0))?;
        let slurm_profile = loaded
            .profile
            .as_ref()
            .is_some_and(|p| p.scheduler == ProfileScheduler::Slurm);
        let executor = match args.executor {
            Some(ExecutorArg::Slurm) => Scheduler::Slurm,
            Some(ExecutorArg::Local) => Scheduler::Local,
            None if slurm_profile => Scheduler::Slurm,
            None => Scheduler::Local,
        };
        let plan_opts = args.planning.options(&loaded);
        let render_opts = args.bundle.options(
            &loaded,
            (executor == Scheduler::Local).then_some(DEFAULT_LOCAL_TIME_SCALE),
        );
        let prepare = Prepare {
            validate: ValidateOptions {
                submission: executor == Scheduler::Slurm && !args.dry_run,
            },
            plan: &plan_opts,
            node_count: args.planning.node_count,
            render: &render_opts,
        };
        let policy = if args.skip_invalid {
            InvalidPolicy::Skip
        } else {
            InvalidPolicy::Refuse
        };
        let prepared = prepare.write_all(
            &loaded.selected_cases(),
            &loaded.broken_files(),
            policy,
            &new_run.bundles_dir(),
            live,
        )?;
        (executor, prepared.entries, prepared.not_run)
    };
    if entries.is_empty() && not_run.is_empty() {
        return Err(PipelineError::Usage("no test selected".into()));
    }
    let req = RunRequest {
        output: args.out.dir.output.clone(),
        executor,
        bin: servebench_bin(),
        sched: SchedOptions {
            max_parallel: window(args.max_parallel),
            stop_on_error: args.stop_on_error,
            retries: args.retries,
            detach: args.detach,
            job_timeout: SchedOptions::job_timeout_from_secs(args.job_timeout),
            lazy_batches: args.lazy_batches,
            ..SchedOptions::for_executor(executor)
        },
        dry_run: args.dry_run,
        junit: args.out.junit.clone(),
        history: args
            .out
            .history
            .target(&args.out.dir.output, args.suite.cluster.clone()),
    };
    start(&req, &new_run, entries, not_run, signal_interrupts(), live)
}

/// Prints a report's outcome and maps it (or the error) to the exit code.
pub(crate) fn finish(result: Result<RunReport, PipelineError>, out: &OutputArgs) -> ExitCode {
    let (format, junit, html) = (out.format, out.junit.as_deref(), out.report.as_deref());
    let report = match result {
        Ok(r) => r,
        Err(e @ PipelineError::Invalid(_)) => {
            if let PipelineError::Invalid(cases) = &e {
                crate::suite::print(&servebench_results::render_table(cases));
                if let Some(path) = junit
                    && let Err(w) = servebench_suite::report::write_junit(path, cases)
                {
                    say!("error: {w}");
                }
            }
            say!("error: {e}");
            return exit::of_error(&e);
        }
        Err(e) => {
            say!("error: {e}");
            return exit::of_error(&e);
        }
    };
    if format == Format::Json {
        crate::suite::print(&format!(
            "{}\n",
            serde_json::to_string_pretty(&report.doc()).unwrap_or_default()
        ));
        return exit::of_report(&report);
    }
    if let Some(n) = report.dry_run {
        let refused = report.cases.len();
        say!(
            "dry run: {n} bundle(s), nothing submitted{}",
            if refused == 0 {
                String::new()
            } else {
                format!(", {refused} test(s) not submitted")
            }
        );
        return exit::of_report(&report);
    }
    if let Some(active) = report.detached {
        say!(
            "detached: {active} job(s) in flight; follow with `servebench status {0}`, continue with `servebench resume {0}`",
            report.dir.display()
        );
        return exit::of_report(&report);
    }
    let table = servebench_results::render_table(&report.cases);
    crate::suite::print(&if crate::live::color_stdout() {
        crate::live::colour_verdicts(&table)
    } else {
        table
    });
    say!("results: {}", report.dir.join("results.json").display());
    // The report prints where it went.
    let history = report.history.as_ref().map(|h| {
        (
            h.db.as_str(),
            h.label.as_deref().unwrap_or(&out.history.label),
        )
    });
    if let Err(e) = crate::cmd::report::run_report(&report.dir, html, history) {
        say!("warning: no HTML report: {e}");
    }
    let regressed = match &report.history {
        Some(h) if !report.run_id.is_empty() => crate::cmd::check::summarise_run(
            &h.db,
            &report.run_id,
            h.label.as_deref().unwrap_or(&out.history.label),
        ),
        _ => false,
    };
    for w in &report.warnings {
        say!("warning: {w}");
    }
    if report.interrupted {
        say!(
            "interrupted: every job in flight was cancelled ({})",
            report.dir.display()
        );
    }
    if regressed && report.all_passed() {
        return ExitCode::from(exit::FAILED);
    }
    exit::of_report(&report)
}

/// The directory of a run given on the command line (id or path), under `output`.
pub(crate) fn run_dir(output: &Path, run: Option<&str>) -> Result<PathBuf, PipelineError> {
    journal::find_run(output, run).map_err(|e| PipelineError::Usage(e.to_string()))
}
