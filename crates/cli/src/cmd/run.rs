//! `servebench run`: discover, select, validate, plan, render, execute, judge, report (SPEC 14).
//!
//! Also holds what `resume` shares with it: driving a run to its end with the live view, then
//! collecting verdicts into the results table, `results.json` and JUnit.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use servebench_bundle::write_bundle;
use servebench_config::profile::Scheduler;
use servebench_config::validate::ValidateOptions;
use servebench_exec::backend::{LocalBackend, SlurmBackend, SystemRunner};
use servebench_exec::journal::{self, Journal, Record, RunView, TestEntry};
use servebench_exec::{AnyBackend, ExecEvent, JobVerdict, RunSummary, SchedOptions, drive};
use servebench_results::{CaseResult, GpuCounts, Verdict};

use crate::exit;
use crate::prepare::{BundleArgs, Prepare};
use crate::suite::{PlanningArgs, SuiteArgs, usage};

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
    /// Output directory; runs go to `<DIR>/runs/<run-id>/`.
    #[arg(
        long,
        env = "OUTPUT_PATH",
        default_value = "servebench-out",
        value_name = "DIR"
    )]
    pub output: PathBuf,
    /// Also write JUnit XML here (one testcase per test).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// No live view; only the results table and errors.
    #[arg(short, long)]
    pub quiet: bool,
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
    /// Outer wait limit per job in seconds, queue time included.
    #[arg(long, default_value_t = 15 * 3600, value_name = "SECS")]
    job_timeout: u64,
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
                eprintln!("warning: DISAGG_BATCH_SIZE={v} is not a number; using 5");
                5
            },
            |n| usize::try_from(n).unwrap_or(0),
        ),
        _ => 5,
    })
}

/// Whether the live view draws progress bars: a stderr TTY, not CI, not quiet.
pub(crate) fn use_bars(stderr_tty: bool, ci: bool, quiet: bool, term_dumb: bool) -> bool {
    stderr_tty && !ci && !quiet && !term_dumb
}

fn servebench_bin() -> PathBuf {
    std::env::current_exe().unwrap_or_else(|_| PathBuf::from("servebench"))
}

/// Builds the executor.
pub(crate) fn backend(executor: &str) -> AnyBackend {
    if executor == "slurm" {
        let runner = SystemRunner {
            env: vec![(
                "SERVEBENCH_BIN".into(),
                servebench_bin().display().to_string(),
            )],
        };
        AnyBackend::Slurm(SlurmBackend::new(runner, Vec::new()))
    } else {
        AnyBackend::Local(LocalBackend::new(servebench_bin()))
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, std::io::Error> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

/// Runs the suite.
pub fn run(args: RunArgs) -> ExitCode {
    let debug_mode = std::env::var("DEBUG_MODE").is_ok_and(|v| v == "1");
    if let Some(dir) = &args.from_logs {
        return from_logs(dir, &args.out);
    }
    if debug_mode {
        let run = std::env::var("DEBUG_JOB_ID").ok();
        return match journal::find_run(&args.out.output, run.as_deref()) {
            Ok(dir) => from_logs(&dir, &args.out),
            Err(e) => {
                eprintln!("error: DEBUG_MODE=1: {e}");
                ExitCode::from(exit::USAGE)
            }
        };
    }
    if let Some(dir) = &args.bundles {
        return run_bundles(dir, &args);
    }
    let loaded = match args.suite.load() {
        Ok(l) => l,
        Err(e) => return usage(e),
    };
    let executor = args.executor.unwrap_or(
        if loaded
            .profile
            .as_ref()
            .is_some_and(|p| p.scheduler == Scheduler::Slurm)
        {
            ExecutorArg::Slurm
        } else {
            ExecutorArg::Local
        },
    );
    let run_id = journal::new_run_id();
    // Absolute, so the journal's bundle paths hold from any shell (status, cancel, resume).
    let run_dir = std::path::absolute(journal::runs_dir(&args.out.output).join(&run_id))
        .unwrap_or_else(|_| journal::runs_dir(&args.out.output).join(&run_id));
    let bundles_dir = run_dir.join("bundles");
    let plan_opts = args.planning.options(&loaded);
    let render_opts = args.bundle.options(
        &loaded,
        match executor {
            ExecutorArg::Local => Some(DEFAULT_LOCAL_TIME_SCALE),
            ExecutorArg::Slurm => None,
        },
    );
    let validate_opts = ValidateOptions {
        submission: executor == ExecutorArg::Slurm,
    };
    let mut entries = Vec::new();
    let mut not_run: Vec<CaseResult> = Vec::new();
    let prepare = Prepare {
        validate: validate_opts,
        plan: &plan_opts,
        node_count: args.planning.node_count,
        render: &render_opts,
    };
    for case in loaded.cases() {
        let bundle = match prepare.bundle(case) {
            Ok(b) => b,
            Err(reason) => {
                let reason = format!("not submitted: {reason}");
                eprintln!("error: {}: {reason}", case.test_id);
                not_run.push(CaseResult::error(&case.test_id, reason));
                continue;
            }
        };
        let status_file = bundle.launch.status_file.clone();
        match write_bundle(&bundles_dir, &bundle) {
            Ok(dir) => entries.push(TestEntry {
                test_id: case.test_id.clone(),
                status_file: dir.join(status_file),
                bundle: dir,
            }),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(exit::INFRA);
            }
        }
    }
    if entries.is_empty() && not_run.is_empty() {
        eprintln!("error: no test selected");
        return ExitCode::from(exit::USAGE);
    }
    execute(&args, executor, run_id, &run_dir, entries, not_run)
}

/// `--bundles DIR`: submits rendered bundles as they are.
fn run_bundles(dir: &Path, args: &RunArgs) -> ExitCode {
    let mut found: Vec<PathBuf> = if dir.join("launch.json").is_file() {
        vec![dir.to_path_buf()]
    } else {
        std::fs::read_dir(dir)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.join("launch.json").is_file())
                    .collect()
            })
            .unwrap_or_default()
    };
    found.sort();
    let mut entries = Vec::new();
    for b in found {
        let spec = std::fs::read_to_string(b.join("launch.json"))
            .map_err(|e| e.to_string())
            .and_then(|t| servebench_launch::LaunchSpec::from_json(&t).map_err(|e| e.to_string()));
        match spec {
            Ok(spec) => {
                let bundle = b.canonicalize().unwrap_or(b);
                entries.push(TestEntry {
                    test_id: spec.test_id.clone(),
                    status_file: bundle.join(&spec.status_file),
                    bundle,
                });
            }
            Err(e) => {
                eprintln!("error: {}: {e}", b.display());
                return ExitCode::from(exit::USAGE);
            }
        }
    }
    if entries.is_empty() {
        eprintln!("error: {}: no bundle (launch.json) found", dir.display());
        return ExitCode::from(exit::USAGE);
    }
    let executor = args.executor.unwrap_or(ExecutorArg::Local);
    let run_id = journal::new_run_id();
    // Absolute, so the journal's bundle paths hold from any shell (status, cancel, resume).
    let run_dir = std::path::absolute(journal::runs_dir(&args.out.output).join(&run_id))
        .unwrap_or_else(|_| journal::runs_dir(&args.out.output).join(&run_id));
    execute(args, executor, run_id, &run_dir, entries, Vec::new())
}

/// Submits the entries (or prints them with `--dry-run`), drives the run and reports.
fn execute(
    args: &RunArgs,
    executor: ExecutorArg,
    run_id: String,
    run_dir: &Path,
    entries: Vec<TestEntry>,
    not_run: Vec<CaseResult>,
) -> ExitCode {
    let executor_name = match executor {
        ExecutorArg::Local => "local",
        ExecutorArg::Slurm => "slurm",
    };
    let mut backend = backend(executor_name);
    if args.dry_run {
        for e in &entries {
            println!("# {} ({})", e.test_id, e.bundle.display());
            println!("{}", shell_words(&backend.submit_command(&e.bundle)));
        }
        eprintln!(
            "dry run: {} bundle(s), nothing submitted{}",
            entries.len(),
            if not_run.is_empty() {
                String::new()
            } else {
                format!(", {} test(s) not submitted", not_run.len())
            }
        );
        return ExitCode::from(if not_run.is_empty() {
            exit::OK
        } else {
            exit::FAILED
        });
    }
    if executor == ExecutorArg::Slurm && !entries.is_empty() {
        let ok = std::process::Command::new("sbatch")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            eprintln!(
                "error: the slurm executor needs `sbatch` on PATH (is the cluster reachable? try --executor local)"
            );
            return ExitCode::from(exit::INFRA);
        }
    }
    let opts = SchedOptions {
        max_parallel: window(args.max_parallel),
        stop_on_error: args.stop_on_error,
        retries: args.retries,
        detach: args.detach,
        job_timeout: Duration::from_secs(args.job_timeout),
        lazy_batches: args.lazy_batches,
        ..sched_defaults(executor_name)
    };
    let mut journal = match Journal::open(run_dir) {
        Ok(j) => j,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::INFRA);
        }
    };
    let started = Record::RunStarted {
        ts: journal::ts(),
        run_id: run_id.clone(),
        executor: executor_name.into(),
        pid: std::process::id(),
        max_parallel: opts.max_parallel,
        retries: opts.retries,
        stop_on_error: opts.stop_on_error,
        tests: entries,
    };
    if let Err(e) = journal.append(&started) {
        eprintln!("error: {e}");
        return ExitCode::from(exit::INFRA);
    }
    let Some(view) = RunView::fold(std::slice::from_ref(&started)) else {
        return ExitCode::from(exit::INFRA);
    };
    eprintln!(
        "run {run_id}: {} test(s), {executor_name} executor, {} in flight at most -> {}",
        view.tests.len(),
        if opts.max_parallel == 0 {
            "all".to_string()
        } else {
            opts.max_parallel.to_string()
        },
        run_dir.display()
    );
    drive_and_report(
        run_dir,
        &mut journal,
        &mut backend,
        &view,
        &opts,
        false,
        not_run,
        &args.out,
    )
}

/// Poll intervals per executor: local jobs are cheap to poll; slurmctld is not hammered.
pub(crate) fn sched_defaults(executor: &str) -> SchedOptions {
    if executor == "slurm" {
        SchedOptions {
            poll_min: Duration::from_secs(1),
            poll_max: Duration::from_secs(10),
            ..SchedOptions::default()
        }
    } else {
        SchedOptions {
            poll_min: Duration::from_millis(100),
            poll_max: Duration::from_secs(1),
            cancel_grace: Duration::from_secs(45),
            ..SchedOptions::default()
        }
    }
}

/// Drives the run with the live view, then reports. Shared with `resume`.
#[allow(
    clippy::too_many_arguments,
    reason = "the run's pieces, passed explicitly"
)]
pub(crate) fn drive_and_report(
    run_dir: &Path,
    journal: &mut Journal,
    backend: &mut AnyBackend,
    view: &RunView,
    opts: &SchedOptions,
    retry_failed: bool,
    not_run: Vec<CaseResult>,
    out: &OutputArgs,
) -> ExitCode {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::INFRA);
        }
    };
    let bars = use_bars(
        std::io::stderr().is_terminal(),
        std::env::var_os("CI").is_some(),
        out.quiet,
        std::env::var("TERM").is_ok_and(|t| t == "dumb"),
    );
    let mut live = LiveView::new(view.tests.len(), bars, out.quiet);
    let result = rt.block_on(drive(
        journal,
        backend,
        view,
        opts,
        retry_failed,
        &mut |e| {
            live.event(e);
        },
    ));
    live.finish();
    drop(rt);
    let summary = match result {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::INFRA);
        }
    };
    report(run_dir, &summary, not_run, out)
}

/// Collects verdicts, writes `results.json`, `summary.json`, JUnit, prints the table.
fn report(
    run_dir: &Path,
    summary: &RunSummary,
    mut cases: Vec<CaseResult>,
    out: &OutputArgs,
) -> ExitCode {
    for o in &summary.outcomes {
        let case = match o.verdict {
            None if summary.detached && o.job_id.is_some() => continue,
            None => CaseResult::error(
                &o.entry.test_id,
                if summary.interrupted {
                    "not run: the run was cancelled"
                } else {
                    "not run (stop-on-error)"
                },
            ),
            Some(verdict) => collect_one(
                &o.entry.test_id,
                &o.entry.bundle,
                Some((verdict, o.reason.clone())),
            ),
        };
        cases.push(case);
    }
    let json = serde_json::json!({
        "schema_version": 1,
        "interrupted": summary.interrupted,
        "detached": summary.detached,
        "elapsed_s": summary.elapsed.as_secs_f64(),
        "poll_cycles": summary.poll_cycles,
        "scheduler_calls": summary.call_counts,
        "jobs": summary.outcomes.iter().map(|o| serde_json::json!({
            "test_id": o.entry.test_id,
            "bundle": o.entry.bundle,
            "job_id": o.job_id,
            "verdict": o.verdict.map(JobVerdict::as_str),
            "reason": o.reason,
            "attempts": o.attempts,
        })).collect::<Vec<_>>(),
    });
    let _ = write_atomic(
        &run_dir.join(journal::SUMMARY),
        &serde_json::to_string_pretty(&json).unwrap_or_default(),
    );
    if summary.detached {
        let active = summary
            .outcomes
            .iter()
            .filter(|o| o.verdict.is_none() && o.job_id.is_some())
            .count();
        eprintln!(
            "detached: {active} job(s) in flight; follow with `servebench status {0}`, continue with `servebench resume {0}`",
            run_dir.display()
        );
        return ExitCode::from(exit::OK);
    }
    if let Err(code) = write_results(run_dir, &cases, out) {
        return code;
    }
    if summary.interrupted {
        eprintln!(
            "interrupted: every job in flight was cancelled ({})",
            run_dir.display()
        );
        return ExitCode::from(exit::INTERRUPTED);
    }
    verdict_code(&cases)
}

/// Writes results.json and JUnit, prints the table; returns the exit code on failure to write.
fn write_results(run_dir: &Path, cases: &[CaseResult], out: &OutputArgs) -> Result<(), ExitCode> {
    let json = servebench_results::to_json(cases);
    if let Err(e) = write_atomic(
        &run_dir.join("results.json"),
        &serde_json::to_string_pretty(&json).unwrap_or_default(),
    ) {
        eprintln!("error: {e}");
        return Err(ExitCode::from(exit::INFRA));
    }
    if let Some(path) = &out.junit {
        let mut buf = Vec::new();
        let written = servebench_results::write_junit(cases, &mut buf)
            .and_then(|()| std::fs::write(path, &buf));
        if let Err(e) = written {
            eprintln!("error: cannot write {}: {e}", path.display());
            return Err(ExitCode::from(exit::INFRA));
        }
    }
    crate::suite::print(&servebench_results::render_table(cases));
    eprintln!("results: {}", run_dir.join("results.json").display());
    Ok(())
}

fn verdict_code(cases: &[CaseResult]) -> ExitCode {
    let bad = cases
        .iter()
        .filter(|c| !matches!(c.verdict, Verdict::Pass | Verdict::Skipped))
        .count();
    ExitCode::from(if bad > 0 { exit::FAILED } else { exit::OK })
}

/// Judges one bundle with the executor's view of how its job ended.
pub(crate) fn collect_one(
    test_id: &str,
    bundle: &Path,
    job: Option<(JobVerdict, Option<String>)>,
) -> CaseResult {
    let text = match std::fs::read_to_string(bundle.join("launch.json")) {
        Ok(t) => t,
        Err(e) => {
            return CaseResult::error(
                test_id,
                format!("cannot read {}: {e}", bundle.join("launch.json").display()),
            );
        }
    };
    let spec = match servebench_launch::LaunchSpec::from_json(&text) {
        Ok(s) => s,
        Err(e) => return CaseResult::error(test_id, e.to_string()),
    };
    let opts = servebench_results::CollectOptions {
        gpus: gpu_counts(bundle),
        job: job.map(|(v, reason)| servebench_results::JobOutcome {
            ok: v == JobVerdict::Succeeded,
            reason: reason.or_else(|| (v != JobVerdict::Succeeded).then(|| v.as_str().to_string())),
            duration_s: None,
        }),
        ..servebench_results::CollectOptions::default()
    };
    servebench_results::collect_with(bundle, &spec, &opts)
}

/// GPU counts from the bundle's plan.json (0 when unreadable).
fn gpu_counts(bundle: &Path) -> GpuCounts {
    let plan: serde_json::Value = std::fs::read_to_string(bundle.join("plan.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let role = |r: &str| {
        let v = plan.get(r)?;
        Some(v.get("servers")?.as_u64()? * v.get("gpus_per_server")?.as_u64()?)
    };
    let total = plan
        .get("used_gpus")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0);
    GpuCounts::new(total, role("gen").or_else(|| role("agg")).unwrap_or(total))
}

/// `--from-logs DIR`: a run directory, a directory of bundles, or one bundle.
fn from_logs(dir: &Path, out: &OutputArgs) -> ExitCode {
    let mut bundles: Vec<(String, PathBuf)> = Vec::new();
    let mut jobs: std::collections::BTreeMap<String, (JobVerdict, Option<String>)> =
        Default::default();
    if let Ok(records) = journal::read_journal(dir) {
        if let Some(view) = RunView::fold(&records) {
            for (t, state) in &view.tests {
                if let journal::TestState::Done {
                    verdict, reason, ..
                } = state
                {
                    jobs.insert(t.test_id.clone(), (*verdict, reason.clone()));
                }
                bundles.push((t.test_id.clone(), t.bundle.clone()));
            }
        }
    } else if dir.join("launch.json").is_file() {
        let id = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        bundles.push((id, dir.to_path_buf()));
    } else {
        let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.join("launch.json").is_file())
                    .collect()
            })
            .unwrap_or_default();
        found.sort();
        for p in found {
            let id = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            bundles.push((id, p));
        }
    }
    if bundles.is_empty() {
        eprintln!(
            "error: {}: no run journal or bundle (launch.json) found",
            dir.display()
        );
        return ExitCode::from(exit::USAGE);
    }
    let cases: Vec<CaseResult> = bundles
        .iter()
        .map(|(id, b)| collect_one(id, b, jobs.get(id).cloned()))
        .collect();
    let target = if dir.join(journal::JOURNAL).is_file() {
        dir.to_path_buf()
    } else {
        out.output.clone()
    };
    if let Err(e) = std::fs::create_dir_all(&target) {
        eprintln!("error: {}: {e}", target.display());
        return ExitCode::from(exit::INFRA);
    }
    if let Err(code) = write_results(&target, &cases, out) {
        return code;
    }
    verdict_code(&cases)
}

fn write_atomic(path: &Path, text: &str) -> Result<(), String> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Quotes an argv for a POSIX shell (for `--dry-run` output).
pub(crate) fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Progress: bars on a TTY (one line per active job, a total with elapsed and ETA), plain
/// state-change lines otherwise, nothing but errors with `-q`.
struct LiveView {
    start: Instant,
    mode: Mode,
    done: u64,
}

enum Mode {
    Bars {
        multi: indicatif::MultiProgress,
        total: indicatif::ProgressBar,
        jobs: std::collections::BTreeMap<String, (indicatif::ProgressBar, String, String)>,
    },
    Plain,
    Quiet,
}

impl LiveView {
    fn new(n: usize, bars: bool, quiet: bool) -> Self {
        let mode = if quiet {
            Mode::Quiet
        } else if bars {
            let multi =
                indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::stderr());
            let total = multi.add(indicatif::ProgressBar::new(n as u64));
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{prefix:.bold} [{bar:30}] {pos}/{len} done, elapsed {elapsed_precise}, ETA {eta}",
            ) {
                total.set_style(style.progress_chars("=> "));
            }
            total.set_prefix("total");
            total.enable_steady_tick(Duration::from_millis(250));
            Mode::Bars {
                multi,
                total,
                jobs: Default::default(),
            }
        } else {
            Mode::Plain
        };
        LiveView {
            start: Instant::now(),
            mode,
            done: 0,
        }
    }

    fn plain(&self, text: &str) {
        let s = self.start.elapsed().as_secs();
        eprintln!("[{:02}:{:02}] {text}", s / 60, s % 60);
    }

    fn event(&mut self, e: &ExecEvent) {
        let line = match e {
            ExecEvent::Submitted {
                test_id,
                job_id,
                attempt,
            } => {
                let again = if *attempt > 1 {
                    format!(" (attempt {attempt})")
                } else {
                    String::new()
                };
                (
                    test_id.clone(),
                    format!("submitted as {job_id}{again}"),
                    None,
                )
            }
            ExecEvent::State { test_id, state } => (test_id.clone(), state.clone(), None),
            ExecEvent::Progress { test_id, text } => (test_id.clone(), text.clone(), None),
            ExecEvent::Finished {
                test_id,
                verdict,
                reason,
                will_retry,
                ..
            } => {
                let mut text = verdict.as_str().to_string();
                if let Some(r) = reason {
                    text.push_str(&format!(": {r}"));
                }
                if *will_retry {
                    text.push_str(" (will retry)");
                }
                (test_id.clone(), text, Some(*will_retry))
            }
            ExecEvent::Skipped { test_id, reason } => {
                (test_id.clone(), format!("skipped: {reason}"), Some(false))
            }
            ExecEvent::Cancelling { by, jobs } => (
                String::new(),
                format!("{by}: cancelling {jobs} job(s) in flight"),
                None,
            ),
            ExecEvent::Warning { message } => (String::new(), format!("warning: {message}"), None),
        };
        let (test_id, text, finished) = line;
        let is_error = matches!(e, ExecEvent::Warning { .. } | ExecEvent::Cancelling { .. })
            || matches!(e, ExecEvent::Finished { verdict, .. } if *verdict != JobVerdict::Succeeded);
        if finished == Some(false) {
            self.done += 1;
        }
        match &mut self.mode {
            Mode::Quiet => {
                if is_error {
                    let label = if test_id.is_empty() {
                        String::new()
                    } else {
                        format!("{test_id}: ")
                    };
                    eprintln!("{label}{text}");
                }
            }
            Mode::Plain => {
                let label = if test_id.is_empty() {
                    String::new()
                } else {
                    format!("{test_id}: ")
                };
                self.plain(&format!("{label}{text}"));
            }
            Mode::Bars { multi, total, jobs } => {
                if test_id.is_empty() {
                    let _ = multi.println(text);
                    return;
                }
                if finished.is_some() {
                    if let Some((bar, _, _)) = jobs.remove(&test_id) {
                        bar.finish_and_clear();
                        multi.remove(&bar);
                    }
                    // Errors are never hidden by the bars.
                    let _ = multi.println(format!("{test_id}: {text}"));
                    if finished == Some(false) {
                        total.inc(1);
                    }
                    return;
                }
                let entry = jobs.entry(test_id.clone()).or_insert_with(|| {
                    let bar = multi.insert_before(total, indicatif::ProgressBar::new_spinner());
                    if let Ok(style) = indicatif::ProgressStyle::with_template(
                        "{spinner} {prefix} {msg} ({elapsed})",
                    ) {
                        bar.set_style(style);
                    }
                    bar.set_prefix(test_id.clone());
                    bar.enable_steady_tick(Duration::from_millis(250));
                    (bar, String::new(), String::new())
                });
                match e {
                    ExecEvent::State { .. } | ExecEvent::Submitted { .. } => entry.1 = text,
                    _ => entry.2 = text,
                }
                let msg = if entry.2.is_empty() {
                    entry.1.clone()
                } else {
                    format!("{} | {}", entry.1, entry.2)
                };
                entry.0.set_message(msg);
            }
        }
    }

    fn finish(&mut self) {
        if let Mode::Bars { total, jobs, .. } = &mut self.mode {
            for (bar, _, _) in jobs.values() {
                bar.finish_and_clear();
            }
            total.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_truth_table() {
        // (tty, ci, quiet, dumb) -> bars
        for (tty, ci, quiet, dumb, want) in [
            (true, false, false, false, true),
            (false, false, false, false, false),
            (true, true, false, false, false),
            (true, false, true, false, false),
            (true, false, false, true, false),
        ] {
            assert_eq!(
                use_bars(tty, ci, quiet, dumb),
                want,
                "{tty} {ci} {quiet} {dumb}"
            );
        }
    }

    #[test]
    fn quoting() {
        let argv: Vec<String> = ["sbatch", "--chdir=/a b", "it's"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(shell_words(&argv), "sbatch '--chdir=/a b' 'it'\\''s'");
    }
}
