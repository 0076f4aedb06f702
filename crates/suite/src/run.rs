//! A run from its entries to its report: create the run directory and journal, drive the jobs
//! through the executor, collect each bundle's results, write the documents. `resume` enters
//! the same tail from a journal.

use std::path::{Path, PathBuf};
use std::time::Duration;

use servebench_exec::failpoint;
use servebench_exec::journal::{self, Journal, Record, RunView};
use servebench_exec::proc::pid_alive;
use std::collections::BTreeMap;

use servebench_exec::{
    AnyBackend, Backend, ExecEvent, Interrupts, JobVerdict, RunSummary, SchedOptions, TestEntry,
    drive,
};
use servebench_launch::{FailureKind, LaunchSpec, Scheduler};
use servebench_results::{CaseResult, CollectOptions, JobOutcome};

use crate::history::{HistoryTarget, Recorder, run_info};
use crate::report::{RunReport, SummaryDoc, write_json, write_results};
use crate::{Event, PipelineError, Reporter};

/// A new run.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// Output directory; the run goes to `<output>/runs/<run-id>/`.
    pub output: PathBuf,
    /// Executor.
    pub executor: Scheduler,
    /// The servebench binary jobs run (`job exec`).
    pub bin: PathBuf,
    /// Scheduler settings (window, retries, timeouts, detach).
    pub sched: SchedOptions,
    /// Print the submission commands instead of submitting.
    pub dry_run: bool,
    /// Also write JUnit here.
    pub junit: Option<PathBuf>,
    /// Store results in the history as they arrive.
    pub history: Option<HistoryTarget>,
}

/// A run directory being created: the id and where bundles go.
#[derive(Debug, Clone)]
pub struct NewRun {
    /// Run id.
    pub run_id: String,
    /// Run directory (absolute).
    pub dir: PathBuf,
}

impl NewRun {
    /// A fresh id and directory under `output` (nothing is created yet).
    pub fn new(output: &Path) -> NewRun {
        let run_id = journal::new_run_id();
        let rel = journal::runs_dir(output).join(&run_id);
        NewRun {
            dir: std::path::absolute(&rel).unwrap_or(rel),
            run_id,
        }
    }

    /// Where this run's bundles are written.
    pub fn bundles_dir(&self) -> PathBuf {
        self.dir.join("bundles")
    }
}

/// Submits `entries` (or prints them with `--dry-run`), drives the run and reports. `not_run`
/// are cases refused before submission; they are reported with the rest.
pub fn start(
    req: &RunRequest,
    run: &NewRun,
    entries: Vec<TestEntry>,
    not_run: Vec<CaseResult>,
    interrupts: Interrupts,
    reporter: &mut dyn Reporter,
) -> Result<RunReport, PipelineError> {
    let mut backend = AnyBackend::new(req.executor, req.bin.clone());
    if req.dry_run {
        for e in &entries {
            reporter.event(&Event::DryRun {
                test_id: e.test_id.clone(),
                bundle: e.bundle.clone(),
                command: backend.submit_command(&e.bundle),
            });
        }
        return Ok(RunReport {
            run_id: run.run_id.clone(),
            dir: run.dir.clone(),
            cases: not_run,
            interrupted: false,
            detached: None,
            dry_run: Some(entries.len()),
            elapsed: Duration::ZERO,
            warnings: Vec::new(),
            history: None,
        });
    }
    let rt = runtime()?;
    if !entries.is_empty()
        && let Err(e) = rt.block_on(backend.preflight())
    {
        // Nothing was submitted: leave no run directory behind.
        let _ = std::fs::remove_dir_all(&run.dir);
        return Err(PipelineError::Infra(format!(
            "the {} executor cannot submit: {e} (is the cluster reachable? try --executor local)",
            req.executor
        )));
    }
    let recorder = req
        .history
        .as_ref()
        .map(|h| Recorder::start(h, run_info(h, &run.run_id, req.executor.as_str())))
        .transpose()?;
    let mut journal = Journal::open(&run.dir)?;
    let started = Record::RunStarted {
        ts: journal::ts(),
        run_id: run.run_id.clone(),
        executor: req.executor,
        pid: std::process::id(),
        job_timeout_s: req.sched.job_timeout.map_or(0, |d| d.as_secs()),
        max_parallel: req.sched.max_parallel,
        retries: req.sched.retries,
        stop_on_error: req.sched.stop_on_error,
        tests: entries.iter().map(|e| e.relative_to(&run.dir)).collect(),
        history: req.history.as_ref().map(HistoryTarget::sink),
    };
    journal.append(&started)?;
    let view = RunView::load(&run.dir)?;
    reporter.event(&Event::Started {
        run_id: run.run_id.clone(),
        dir: run.dir.clone(),
        tests: view.tests.len(),
        executor: req.executor,
        max_parallel: req.sched.max_parallel,
        resumed: false,
    });
    drive_and_report(
        &rt,
        Drive {
            dir: &run.dir,
            journal: &mut journal,
            backend: &mut backend,
            view: &view,
            opts: &req.sched,
            retry_failed: false,
            interrupts,
        },
        not_run,
        Sinks {
            junit: req.junit.as_deref(),
            recorder,
            history: req.history.as_ref(),
        },
        reporter,
    )
}

/// A resume.
#[derive(Debug, Clone)]
pub struct ResumeRequest {
    /// The run directory.
    pub dir: PathBuf,
    /// The servebench binary jobs run.
    pub bin: PathBuf,
    /// Submit again the tests that ended in failure.
    pub retry_failed: bool,
    /// Submit the next window and return.
    pub detach: bool,
    /// Also write JUnit here.
    pub junit: Option<PathBuf>,
    /// `--no-history`: store nothing.
    pub no_history: bool,
    /// `--db` / `SERVEBENCH_DB`: a database in place of the one the journal names (the journal
    /// never keeps a password).
    pub db: Option<String>,
    /// The command line of the resume.
    pub command_line: String,
}

/// Continues a run whose driver died or detached, with the options it was started with (window,
/// retries, stop-on-error and the job timeout come from the journal).
pub fn resume(
    req: &ResumeRequest,
    interrupts: Interrupts,
    reporter: &mut dyn Reporter,
) -> Result<RunReport, PipelineError> {
    let view = RunView::load(&req.dir)?;
    if !view.finished && view.pid != std::process::id() && pid_alive(view.pid) {
        return Err(PipelineError::Usage(format!(
            "run {} is still driven by pid {}; cancel it or wait",
            view.run_id, view.pid
        )));
    }
    let mut journal = Journal::open(&req.dir)?;
    journal.append(&Record::Resumed {
        ts: journal::ts(),
        pid: std::process::id(),
    })?;
    let opts = SchedOptions {
        max_parallel: view.max_parallel,
        retries: view.retries,
        stop_on_error: view.stop_on_error,
        detach: req.detach,
        job_timeout: SchedOptions::job_timeout_from_secs(view.job_timeout_s),
        ..SchedOptions::for_executor(view.executor)
    };
    reporter.event(&Event::Started {
        run_id: view.run_id.clone(),
        dir: req.dir.clone(),
        tests: view.tests.len(),
        executor: view.executor,
        max_parallel: view.max_parallel,
        resumed: true,
    });
    let history = (!req.no_history && (view.history.is_some() || req.db.is_some()))
        .then(|| {
            HistoryTarget::resumed(
                view.history.as_ref(),
                req.db.clone(),
                req.command_line.clone(),
            )
        })
        .transpose()?;
    let recorder = history
        .as_ref()
        .map(|h| Recorder::start(h, run_info(h, &view.run_id, view.executor.as_str())))
        .transpose()?;
    let mut backend = AnyBackend::new(view.executor, req.bin.clone());
    let rt = runtime()?;
    drive_and_report(
        &rt,
        Drive {
            dir: &req.dir,
            journal: &mut journal,
            backend: &mut backend,
            view: &view,
            opts: &opts,
            retry_failed: req.retry_failed,
            interrupts,
        },
        Vec::new(),
        Sinks {
            junit: req.junit.as_deref(),
            recorder,
            history: history.as_ref(),
        },
        reporter,
    )
}

/// A tokio runtime for the drive.
pub fn runtime() -> Result<tokio::runtime::Runtime, PipelineError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| PipelineError::Infra(format!("cannot start the async runtime: {e}")))
}

/// What one drive needs.
pub struct Drive<'a, B: Backend> {
    /// Run directory.
    pub dir: &'a Path,
    /// Its journal.
    pub journal: &'a mut Journal,
    /// The executor.
    pub backend: &'a mut B,
    /// The journal's state.
    pub view: &'a RunView,
    /// Scheduler settings.
    pub opts: &'a SchedOptions,
    /// Queue failed tests again.
    pub retry_failed: bool,
    /// Interrupts (from signals, or a test).
    pub interrupts: Interrupts,
}

/// Where a run's results go besides its directory.
pub struct Sinks<'a> {
    /// JUnit XML.
    pub junit: Option<&'a Path>,
    /// The history store's writer.
    pub recorder: Option<Recorder>,
    /// The history store it writes to.
    pub history: Option<&'a HistoryTarget>,
}

/// Collects one ended job's bundle and reads it as its test-list rule asks.
fn judge_entry(entry: &TestEntry, job: Option<JobOutcome>) -> CaseResult {
    let mut case = collect_one(&entry.test_id, &entry.bundle, job);
    if let Some(rule) = &entry.rule {
        case.apply_rule(rule);
    }
    case
}

/// Hands a judged case to the history store.
fn store_case(recorder: Option<&Recorder>, entry: &TestEntry, case: &CaseResult) {
    if let Some(r) = recorder {
        r.record(&entry.bundle, case);
    }
}

/// Drives, judging and storing each test as its job ends, then writes the documents.
pub fn drive_and_report<B: Backend>(
    rt: &tokio::runtime::Runtime,
    d: Drive<'_, B>,
    not_run: Vec<CaseResult>,
    sinks: Sinks<'_>,
    reporter: &mut dyn Reporter,
) -> Result<RunReport, PipelineError> {
    let mut interrupts = d.interrupts;
    let entries: BTreeMap<String, TestEntry> = d
        .view
        .tests
        .iter()
        .map(|(t, _)| (t.test_id.clone(), t.clone()))
        .collect();
    let mut judged: BTreeMap<String, CaseResult> = BTreeMap::new();
    let recorder = sinks.recorder;
    let summary = rt.block_on(drive(
        d.journal,
        d.backend,
        d.view,
        d.opts,
        d.retry_failed,
        &mut interrupts,
        &mut |e| {
            reporter.event(&Event::Exec { exec: e.clone() });
            if let ExecEvent::Finished {
                test_id,
                job_id: Some(_),
                verdict,
                reason,
                kind,
                will_retry: false,
            } = e
                && let Some(entry) = entries.get(test_id)
            {
                failpoint::hit("collect");
                let case = judge_entry(entry, Some(job_outcome(*verdict, *kind, reason.clone())));
                store_case(recorder.as_ref(), entry, &case);
                judged.insert(test_id.clone(), case);
            }
        },
    ));
    let mut result = summary.map_err(PipelineError::from).and_then(|s| {
        let docs = Docs {
            dir: d.dir,
            junit: sinks.junit,
            run_id: &d.view.run_id,
            recorder: recorder.as_ref(),
            history: sinks.history,
        };
        report(&docs, &s, not_run, &mut judged)
    });
    if let Some(r) = recorder {
        let warnings = r.finish();
        if let Ok(report) = &mut result {
            report.warnings.extend(warnings);
        }
    }
    // A signal after the last job ended cancels nothing, but the user (or CI's timeout) asked
    // the run to stop: it still ends as interrupted, with complete results.
    if let Ok(report) = &mut result
        && !report.interrupted
        && let Some(by) = interrupts.arrived()
    {
        report.interrupted = true;
        report.warnings.push(format!(
            "{by} arrived after every job had ended: the results are complete"
        ));
    }
    result
}

/// Where [`report`] writes.
struct Docs<'a> {
    dir: &'a Path,
    junit: Option<&'a Path>,
    run_id: &'a str,
    recorder: Option<&'a Recorder>,
    history: Option<&'a HistoryTarget>,
}

/// Writes the summary and results documents. A test that ended before this process started
/// (a resumed run's) is judged and stored here: the store's natural key and the CSV's
/// exact-row check make storing it again add nothing, and a driver killed between a job's end
/// and its store write loses no row.
fn report(
    docs: &Docs<'_>,
    summary: &RunSummary,
    mut cases: Vec<CaseResult>,
    judged: &mut BTreeMap<String, CaseResult>,
) -> Result<RunReport, PipelineError> {
    let dir = docs.dir;
    write_json(&dir.join(journal::SUMMARY), &SummaryDoc::new(summary))?;
    let mut report = RunReport {
        run_id: docs.run_id.to_string(),
        dir: dir.to_path_buf(),
        cases: Vec::new(),
        interrupted: summary.interrupted,
        detached: None,
        dry_run: None,
        elapsed: summary.elapsed,
        warnings: Vec::new(),
        history: docs.history.cloned(),
    };
    if summary.detached {
        report.detached = Some(
            summary
                .outcomes
                .iter()
                .filter(|o| o.verdict.is_none() && o.job_id.is_some())
                .count(),
        );
        return Ok(report);
    }
    for o in &summary.outcomes {
        let case = match o.verdict {
            None => CaseResult::error(
                &o.entry.test_id,
                if summary.interrupted {
                    "not run: the run was cancelled"
                } else {
                    "not run (stop-on-error)"
                },
            ),
            Some(verdict) => judged.remove(&o.entry.test_id).unwrap_or_else(|| {
                let case = judge_entry(
                    &o.entry,
                    Some(job_outcome(verdict, o.kind, o.reason.clone())),
                );
                store_case(docs.recorder, &o.entry, &case);
                case
            }),
        };
        cases.push(case);
    }
    failpoint::hit("before-results");
    write_results(dir, &cases, docs.junit)?;
    report.cases = cases;
    Ok(report)
}

/// The executor's account of a job, for the collector.
pub fn job_outcome(
    verdict: JobVerdict,
    kind: Option<FailureKind>,
    reason: Option<String>,
) -> JobOutcome {
    let ok = verdict == JobVerdict::Succeeded;
    JobOutcome {
        ok,
        reason: reason.or_else(|| (!ok).then(|| verdict.as_str().to_string())),
        kind,
        duration_s: None,
    }
}

/// Judges one bundle with the executor's view of how its job ended.
pub fn collect_one(test_id: &str, bundle: &Path, job: Option<JobOutcome>) -> CaseResult {
    let path = bundle.join("launch.json");
    let spec = match std::fs::read_to_string(&path) {
        Ok(t) => LaunchSpec::from_json(&t),
        Err(e) => {
            return CaseResult::error(test_id, format!("cannot read {}: {e}", path.display()));
        }
    };
    match spec {
        Ok(spec) => servebench_results::collect_with(bundle, &spec, &CollectOptions { job }),
        Err(e) => CaseResult::error(test_id, format!("{}: {e}", path.display())),
    }
}
