//! The run directory and its append-only journal (SPEC 8.3).
//!
//! `<output>/runs/<run-id>/journal.jsonl` holds one [`Record`] per line, written and flushed
//! (fsync) *before* the action it announces, so that `resume`, `status` and `cancel` can rebuild
//! the run's state from any shell, even after the outer process was killed.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use servebench_launch::{FailureKind, Scheduler};

use crate::job::status::now_ts;

/// The journal's file name inside a run directory.
pub const JOURNAL: &str = "journal.jsonl";
/// The final summary's file name inside a run directory.
pub const SUMMARY: &str = "summary.json";

/// One test of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestEntry {
    /// Test id.
    pub test_id: String,
    /// Bundle directory.
    pub bundle: PathBuf,
    /// The bundle's `status.jsonl`.
    pub status_file: PathBuf,
    /// Run-time limit of this test in seconds (a test list's `TIMEOUT (N)`), replacing the
    /// run's outer wait limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_limit_s: Option<u64>,
    /// Run alone: no other job of the run in flight at the same time (`ISOLATION`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub isolated: bool,
    /// How the test list wants the outcome read (`XFAIL`, `UNSTABLE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<servebench_launch::OutcomeRule>,
}

impl TestEntry {
    /// An entry for the bundle at `bundle` whose status file is `status_file` (relative to it).
    pub fn new(test_id: &str, bundle: PathBuf, status_file: &str) -> TestEntry {
        TestEntry {
            test_id: test_id.to_string(),
            status_file: bundle.join(status_file),
            bundle,
            time_limit_s: None,
            isolated: false,
            rule: None,
        }
    }

    /// The same entry with relative paths made absolute against `dir` (journals store bundle
    /// paths relative to the run directory, so a copied run directory reads its own bundles).
    pub fn resolved(&self, dir: &Path) -> TestEntry {
        TestEntry {
            bundle: dir.join(&self.bundle),
            status_file: dir.join(&self.status_file),
            ..self.clone()
        }
    }

    /// The same entry with paths inside `dir` made relative to it.
    pub fn relative_to(&self, dir: &Path) -> TestEntry {
        let rel = |p: &Path| {
            p.strip_prefix(dir)
                .map_or_else(|_| p.to_path_buf(), Path::to_path_buf)
        };
        TestEntry {
            bundle: rel(&self.bundle),
            status_file: rel(&self.status_file),
            ..self.clone()
        }
    }
}

/// The outer wait limit of journals written before it was recorded (15 hours).
pub const DEFAULT_JOB_TIMEOUT_S: u64 = 15 * 3600;

fn default_job_timeout() -> u64 {
    DEFAULT_JOB_TIMEOUT_S
}

/// How a job ended, before results are parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobVerdict {
    /// `job exec` exited 0.
    Succeeded,
    /// A client or accuracy step failed (a test failure, never retried).
    Failed,
    /// Infrastructure: node failure, preemption, health timeout, a crashed role, no status.
    InfraFailed,
    /// The SLURM time limit or the outer wait limit passed.
    TimedOut,
    /// Cancelled (Ctrl-C, `servebench cancel`, scancel).
    Cancelled,
}

impl JobVerdict {
    /// Lowercase name (`succeeded`, `infra_failed`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            JobVerdict::Succeeded => "succeeded",
            JobVerdict::Failed => "failed",
            JobVerdict::InfraFailed => "infra_failed",
            JobVerdict::TimedOut => "timed_out",
            JobVerdict::Cancelled => "cancelled",
        }
    }
}

/// One journal line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    /// The run begins (or a resume takes over: then `resumed` follows).
    RunStarted {
        /// Seconds since the Unix epoch.
        ts: f64,
        /// Run id.
        run_id: String,
        /// Executor.
        executor: Scheduler,
        /// Pid of the `servebench run` process.
        pid: u32,
        /// Outer wait limit per job in seconds, queue time included (0 = none).
        #[serde(default = "default_job_timeout")]
        job_timeout_s: u64,
        /// Window size (0 = unlimited).
        max_parallel: usize,
        /// Retries for infrastructure failures.
        retries: u32,
        /// Stop submitting after the first failure.
        stop_on_error: bool,
        /// Tests in submission order.
        tests: Vec<TestEntry>,
        /// Where the run stores its results, so a resume stores into the same place (absent:
        /// `--no-history`, or a journal older than the field).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        history: Option<HistorySink>,
    },
    /// `servebench resume` took over.
    Resumed {
        /// Seconds since the Unix epoch.
        ts: f64,
        /// Pid of the resuming process.
        pid: u32,
    },
    /// About to submit (written before the scheduler is called).
    Submitting {
        /// Seconds since the Unix epoch.
        ts: f64,
        /// Test id.
        test_id: String,
        /// 1-based attempt.
        attempt: u32,
        /// The exact command.
        command: Vec<String>,
    },
    /// Submitted.
    Submitted {
        /// Seconds since the Unix epoch.
        ts: f64,
        /// Test id.
        test_id: String,
        /// Job id (`local-<pid>` or the SLURM id).
        job_id: String,
        /// 1-based attempt.
        attempt: u32,
    },
    /// The submission failed.
    SubmitFailed {
        /// Seconds since the Unix epoch.
        ts: f64,
        /// Test id.
        test_id: String,
        /// 1-based attempt.
        attempt: u32,
        /// Why.
        error: String,
    },
    /// Scheduler state changed (`PENDING (Resources)`, `RUNNING`).
    State {
        /// Seconds since the Unix epoch.
        ts: f64,
        /// Test id.
        test_id: String,
        /// Job id.
        job_id: String,
        /// State.
        state: String,
    },
    /// A job ended.
    Finished {
        /// Seconds since the Unix epoch.
        ts: f64,
        /// Test id.
        test_id: String,
        /// Job id.
        job_id: String,
        /// 1-based attempt.
        attempt: u32,
        /// Verdict of the job.
        verdict: JobVerdict,
        /// Scheduler state at the end.
        scheduler_state: Option<String>,
        /// Exit code (job exec, or the batch script).
        exit_code: Option<i32>,
        /// Why it failed.
        reason: Option<String>,
        /// The failure class, when it failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kind: Option<FailureKind>,
        /// Whether another attempt follows.
        will_retry: bool,
    },
    /// Cancellation was requested for these jobs (written before cancelling).
    CancelRequested {
        /// Seconds since the Unix epoch.
        ts: f64,
        /// `SIGINT`, `SIGTERM`, `servebench cancel`, `stop-on-error`, `timeout`.
        by: String,
        /// Job ids.
        job_ids: Vec<String>,
    },
    /// Not submitted (stop-on-error, or the run was cancelled first).
    Skipped {
        /// Seconds since the Unix epoch.
        ts: f64,
        /// Test id.
        test_id: String,
        /// Why.
        reason: String,
    },
    /// The outer process returned while jobs run (`--detach`).
    Detached {
        /// Seconds since the Unix epoch.
        ts: f64,
    },
    /// Every job ended.
    RunFinished {
        /// Seconds since the Unix epoch.
        ts: f64,
        /// Whether the run was interrupted.
        interrupted: bool,
    },
}

/// Errors of the run directory.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// OS error.
        #[source]
        source: std::io::Error,
    },
    /// No such run.
    #[error("no run `{run}` under {}", runs.display())]
    NoRun {
        /// Requested run.
        run: String,
        /// The runs directory.
        runs: PathBuf,
    },
    /// The journal has no `run_started` record.
    #[error("{}: not a servebench run journal", path.display())]
    Empty {
        /// The journal.
        path: PathBuf,
    },
}

/// An open journal, appending.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
}

impl Journal {
    /// Opens (creating) `dir/journal.jsonl` for appending.
    pub fn open(dir: &Path) -> Result<Self, JournalError> {
        std::fs::create_dir_all(dir).map_err(|source| JournalError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join(JOURNAL);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|source| JournalError::Io {
                path: path.clone(),
                source,
            })?;
        Ok(Journal { path, file })
    }

    /// Appends one record and syncs it to disk.
    pub fn append(&mut self, record: &Record) -> Result<(), JournalError> {
        let mut line = serde_json::to_string(record).unwrap_or_default();
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.sync_data())
            .map_err(|source| JournalError::Io {
                path: self.path.clone(),
                source,
            })
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Reads every record; a torn last line (the writer was killed mid-write) is ignored, and so is
/// any other line that is not a record (invalid UTF-8 included: a write torn inside a multi-byte
/// character must not make the whole journal unreadable).
pub fn read_journal(dir: &Path) -> Result<Vec<Record>, JournalError> {
    let path = dir.join(JOURNAL);
    let bytes = std::fs::read(&path).map_err(|source| JournalError::Io {
        path: path.clone(),
        source,
    })?;
    let text = String::from_utf8_lossy(&bytes);
    let records: Vec<Record> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    if !records
        .iter()
        .any(|r| matches!(r, Record::RunStarted { .. }))
    {
        return Err(JournalError::Empty { path });
    }
    Ok(records)
}

/// A new run id: `YYYYMMDD-HHMMSS-xxxx` (UTC, then 4 hex digits from the pid and clock).
pub fn new_run_id() -> String {
    run_id_at(jiff::Timestamp::now(), std::process::id())
}

fn run_id_at(now: jiff::Timestamp, pid: u32) -> String {
    let salt = (u64::from(now.subsec_nanosecond().unsigned_abs()) ^ u64::from(pid).rotate_left(16))
        & 0xffff;
    format!("{}-{salt:04x}", now.strftime("%Y%m%d-%H%M%S"))
}

/// `<output>/runs`.
pub fn runs_dir(output: &Path) -> PathBuf {
    output.join("runs")
}

/// Finds a run directory: a path to one, a run id under `<output>/runs`, or (None) the newest.
pub fn find_run(output: &Path, run: Option<&str>) -> Result<PathBuf, JournalError> {
    let runs = runs_dir(output);
    if let Some(r) = run {
        let as_path = PathBuf::from(r);
        if as_path.join(JOURNAL).is_file() {
            return Ok(as_path);
        }
        let under = runs.join(r);
        if under.join(JOURNAL).is_file() {
            return Ok(under);
        }
        return Err(JournalError::NoRun {
            run: r.to_string(),
            runs,
        });
    }
    let mut newest: Option<(std::time::SystemTime, PathBuf)> = None;
    if let Ok(entries) = std::fs::read_dir(&runs) {
        for e in entries.flatten() {
            let p = e.path();
            let Ok(meta) = std::fs::metadata(p.join(JOURNAL)) else {
                continue;
            };
            let t = meta.modified().unwrap_or(std::time::UNIX_EPOCH);
            if newest.as_ref().is_none_or(|(nt, np)| (t, &p) > (*nt, np)) {
                newest = Some((t, p));
            }
        }
    }
    newest.map(|(_, p)| p).ok_or(JournalError::NoRun {
        run: "(latest)".into(),
        runs,
    })
}

/// The folded state of one test.
#[derive(Debug, Clone, PartialEq)]
pub enum TestState {
    /// Not submitted.
    Queued,
    /// A `submitting` record without an answer (the outer process died in between).
    Submitting {
        /// Attempt.
        attempt: u32,
    },
    /// Submitted and not finished.
    Active {
        /// Job id.
        job_id: String,
        /// Attempt.
        attempt: u32,
        /// Last scheduler state recorded.
        state: String,
    },
    /// Ended for good.
    Done {
        /// Job id (None when the submission itself failed).
        job_id: Option<String>,
        /// Attempt.
        attempt: u32,
        /// Verdict.
        verdict: JobVerdict,
        /// Reason.
        reason: Option<String>,
    },
    /// Not submitted, and will not be.
    Skipped {
        /// Why.
        reason: String,
    },
}

/// Where a run stores its results (SPEC 11.1), as journalled at its start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistorySink {
    /// The history database (an SQLite path made absolute, `sqlite:PATH` or a PostgreSQL URL
    /// with any password replaced by `****`: credentials never reach the journal).
    pub db: String,
    /// Whether a password was removed from `db` (a resume then needs `--db` or
    /// `SERVEBENCH_DB`).
    #[serde(default)]
    pub redacted: bool,
    /// The upstream CSV (absolute), if any.
    pub csv: Option<PathBuf>,
    /// Baseline label.
    pub label: Option<String>,
}

/// The state of a run rebuilt from its journal.
#[derive(Debug, Clone, PartialEq)]
pub struct RunView {
    /// Where the run stores its results.
    pub history: Option<HistorySink>,
    /// Run id.
    pub run_id: String,
    /// Executor.
    pub executor: Scheduler,
    /// Outer wait limit per job in seconds (0 = none).
    pub job_timeout_s: u64,
    /// Pid of the last process that drove the run.
    pub pid: u32,
    /// Window size.
    pub max_parallel: usize,
    /// Retries.
    pub retries: u32,
    /// Stop-on-error.
    pub stop_on_error: bool,
    /// Tests, in order, with their state.
    pub tests: Vec<(TestEntry, TestState)>,
    /// Whether `run_finished` was recorded.
    pub finished: bool,
    /// Whether a cancellation was requested.
    pub cancel_requested: bool,
    /// Every job id ever submitted (with its test id), to count submissions.
    pub submissions: Vec<(String, String)>,
}

impl RunView {
    /// Folds the records.
    pub fn fold(records: &[Record]) -> Option<RunView> {
        let mut view: Option<RunView> = None;
        for r in records {
            if let Record::RunStarted {
                run_id,
                executor,
                pid,
                job_timeout_s,
                max_parallel,
                retries,
                stop_on_error,
                tests,
                history,
                ..
            } = r
            {
                view = Some(RunView {
                    history: history.clone(),
                    run_id: run_id.clone(),
                    executor: *executor,
                    job_timeout_s: *job_timeout_s,
                    pid: *pid,
                    max_parallel: *max_parallel,
                    retries: *retries,
                    stop_on_error: *stop_on_error,
                    tests: tests
                        .iter()
                        .map(|t| (t.clone(), TestState::Queued))
                        .collect(),
                    finished: false,
                    cancel_requested: false,
                    submissions: Vec::new(),
                });
                continue;
            }
            let Some(v) = view.as_mut() else { continue };
            let slot = |v: &mut RunView, id: &str| -> Option<usize> {
                v.tests.iter().position(|(t, _)| t.test_id == id)
            };
            match r {
                Record::RunStarted { .. } => {}
                Record::Resumed { pid, .. } => {
                    v.pid = *pid;
                    v.finished = false;
                }
                Record::Submitting {
                    test_id, attempt, ..
                } => {
                    if let Some(i) = slot(v, test_id)
                        && let Some((_, s)) = v.tests.get_mut(i)
                    {
                        *s = TestState::Submitting { attempt: *attempt };
                    }
                }
                Record::Submitted {
                    test_id,
                    job_id,
                    attempt,
                    ..
                } => {
                    v.submissions.push((test_id.clone(), job_id.clone()));
                    if let Some(i) = slot(v, test_id)
                        && let Some((_, s)) = v.tests.get_mut(i)
                    {
                        *s = TestState::Active {
                            job_id: job_id.clone(),
                            attempt: *attempt,
                            state: "SUBMITTED".into(),
                        };
                    }
                }
                Record::SubmitFailed {
                    test_id,
                    attempt,
                    error,
                    ..
                } => {
                    if let Some(i) = slot(v, test_id)
                        && let Some((_, s)) = v.tests.get_mut(i)
                    {
                        *s = TestState::Done {
                            job_id: None,
                            attempt: *attempt,
                            verdict: JobVerdict::InfraFailed,
                            reason: Some(error.clone()),
                        };
                    }
                }
                Record::State {
                    test_id,
                    job_id,
                    state,
                    ..
                } => {
                    if let Some(i) = slot(v, test_id)
                        && let Some((
                            _,
                            TestState::Active {
                                job_id: j,
                                state: st,
                                ..
                            },
                        )) = v.tests.get_mut(i)
                        && j == job_id
                    {
                        *st = state.clone();
                    }
                }
                Record::Finished {
                    test_id,
                    job_id,
                    attempt,
                    verdict,
                    reason,
                    will_retry,
                    ..
                } => {
                    if let Some(i) = slot(v, test_id)
                        && let Some((_, s)) = v.tests.get_mut(i)
                    {
                        *s = if *will_retry {
                            TestState::Queued
                        } else {
                            TestState::Done {
                                job_id: Some(job_id.clone()),
                                attempt: *attempt,
                                verdict: *verdict,
                                reason: reason.clone(),
                            }
                        };
                    }
                }
                Record::CancelRequested { .. } => v.cancel_requested = true,
                Record::Skipped {
                    test_id, reason, ..
                } => {
                    if let Some(i) = slot(v, test_id)
                        && let Some((_, s)) = v.tests.get_mut(i)
                    {
                        *s = TestState::Skipped {
                            reason: reason.clone(),
                        };
                    }
                }
                Record::Detached { .. } => {}
                Record::RunFinished { .. } => v.finished = true,
            }
        }
        view
    }

    /// Reads and folds the journal of the run directory `dir`, with bundle paths resolved
    /// against it.
    pub fn load(dir: &Path) -> Result<RunView, JournalError> {
        let records = read_journal(dir)?;
        let mut view = RunView::fold(&records).ok_or_else(|| JournalError::Empty {
            path: dir.join(JOURNAL),
        })?;
        for (t, _) in &mut view.tests {
            *t = t.resolved(dir);
        }
        Ok(view)
    }

    /// The attempt number a test's next submission gets.
    pub fn attempts(&self, test_id: &str) -> u32 {
        u32::try_from(
            self.submissions
                .iter()
                .filter(|(t, _)| t == test_id)
                .count(),
        )
        .unwrap_or(u32::MAX)
    }
}

/// Timestamp helper for callers building records.
pub fn ts() -> f64 {
    now_ts()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str) -> TestEntry {
        TestEntry::new(id, PathBuf::from(format!("/b/{id}")), "logs/status.jsonl")
    }

    #[test]
    fn run_ids_look_right() {
        let id = new_run_id();
        assert_eq!(id.len(), 20, "{id}");
        let at: jiff::Timestamp = "2026-01-01T00:00:07Z".parse().unwrap();
        assert!(run_id_at(at, 1).starts_with("20260101-000007-"));
    }

    #[test]
    fn fold_tracks_submissions_retries_and_torn_lines() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path()).unwrap();
        let recs = vec![
            Record::RunStarted {
                ts: 0.0,
                run_id: "r".into(),
                executor: Scheduler::Slurm,
                pid: 1,
                job_timeout_s: 60,
                max_parallel: 2,
                retries: 1,
                stop_on_error: false,
                tests: vec![entry("a"), entry("b"), entry("c")],
                history: None,
            },
            Record::Submitting {
                ts: 0.0,
                test_id: "a".into(),
                attempt: 1,
                command: vec![],
            },
            Record::Submitted {
                ts: 0.0,
                test_id: "a".into(),
                job_id: "10".into(),
                attempt: 1,
            },
            Record::Submitting {
                ts: 0.0,
                test_id: "b".into(),
                attempt: 1,
                command: vec![],
            },
            Record::Submitted {
                ts: 0.0,
                test_id: "b".into(),
                job_id: "11".into(),
                attempt: 1,
            },
            Record::State {
                ts: 0.0,
                test_id: "a".into(),
                job_id: "10".into(),
                state: "RUNNING".into(),
            },
            Record::Finished {
                ts: 0.0,
                test_id: "b".into(),
                job_id: "11".into(),
                attempt: 1,
                verdict: JobVerdict::InfraFailed,
                scheduler_state: Some("NODE_FAIL".into()),
                exit_code: None,
                reason: None,
                kind: None,
                will_retry: true,
            },
            Record::Submitting {
                ts: 0.0,
                test_id: "c".into(),
                attempt: 1,
                command: vec![],
            },
        ];
        for r in &recs {
            j.append(r).unwrap();
        }
        std::fs::OpenOptions::new()
            .append(true)
            .open(j.path())
            .unwrap()
            .write_all(b"{\"type\":\"subm")
            .unwrap();
        let back = read_journal(dir.path()).unwrap();
        assert_eq!(back, recs);
        let v = RunView::fold(&back).unwrap();
        assert_eq!(
            v.tests[0].1,
            TestState::Active {
                job_id: "10".into(),
                attempt: 1,
                state: "RUNNING".into()
            }
        );
        assert_eq!(v.tests[1].1, TestState::Queued);
        assert_eq!(v.tests[2].1, TestState::Submitting { attempt: 1 });
        assert_eq!(v.attempts("b"), 1);
        assert!(!v.finished);
    }

    #[test]
    fn find_run_by_id_path_or_latest() {
        let out = tempfile::tempdir().unwrap();
        assert!(find_run(out.path(), None).is_err());
        let r = runs_dir(out.path()).join("20260101-000000-abcd");
        let mut j = Journal::open(&r).unwrap();
        j.append(&Record::Detached { ts: 0.0 }).unwrap();
        assert_eq!(find_run(out.path(), None).unwrap(), r);
        assert_eq!(
            find_run(out.path(), Some("20260101-000000-abcd")).unwrap(),
            r
        );
        assert_eq!(find_run(out.path(), Some(r.to_str().unwrap())).unwrap(), r);
        assert!(find_run(out.path(), Some("nope")).is_err());
        assert!(matches!(read_journal(&r), Err(JournalError::Empty { .. })));
    }
}

/// Garbage in: journals as a killed writer, a full disk or an editor leaves them. Reading never
/// panics, keeps every whole record, and folding whatever was read never panics.
/// Case count: PROPTEST_CASES (256 by default).
#[cfg(test)]
mod garbage {
    use std::io::Write as _;

    use proptest::prelude::*;

    use super::*;
    use crate::mutate::{apply, ops};

    fn entry(id: &str) -> TestEntry {
        TestEntry::new(id, PathBuf::from(format!("/b/{id}")), "logs/status.jsonl")
    }

    /// A real journal: a run with retries, states, a skip, a cancel and its end.
    fn seed() -> Vec<u8> {
        let recs = vec![
            Record::RunStarted {
                ts: 1.0,
                run_id: "20260101-000000-abcd".into(),
                executor: Scheduler::Slurm,
                pid: 7,
                job_timeout_s: 60,
                max_parallel: 2,
                retries: 1,
                stop_on_error: false,
                tests: vec![entry("a"), entry("b/ü"), entry("c")],
                history: Some(HistorySink {
                    db: "postgres://ci:****@db/perf".into(),
                    redacted: true,
                    csv: Some("/out/perf_script_test_results.csv".into()),
                    label: Some("main".into()),
                }),
            },
            Record::Submitting {
                ts: 2.0,
                test_id: "a".into(),
                attempt: 1,
                command: vec!["sbatch".into(), "--parsable".into()],
            },
            Record::Submitted {
                ts: 2.5,
                test_id: "a".into(),
                job_id: "10".into(),
                attempt: 1,
            },
            Record::State {
                ts: 3.0,
                test_id: "a".into(),
                job_id: "10".into(),
                state: "RUNNING".into(),
            },
            Record::Finished {
                ts: 4.0,
                test_id: "a".into(),
                job_id: "10".into(),
                attempt: 1,
                verdict: JobVerdict::InfraFailed,
                scheduler_state: Some("NODE_FAIL".into()),
                exit_code: Some(3),
                reason: Some("health timeout: gen 0/4 ✗".into()),
                kind: None,
                will_retry: true,
            },
            Record::Skipped {
                ts: 5.0,
                test_id: "c".into(),
                reason: "stop-on-error".into(),
            },
            Record::CancelRequested {
                ts: 6.0,
                by: "SIGINT".into(),
                job_ids: vec!["10".into()],
            },
            Record::Detached { ts: 6.5 },
            Record::RunFinished {
                ts: 7.0,
                interrupted: true,
            },
        ];
        recs.iter()
            .map(|r| format!("{}\n", serde_json::to_string(r).unwrap()))
            .collect::<String>()
            .into_bytes()
    }

    fn read(bytes: &[u8]) -> Result<Vec<Record>, JournalError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::File::create(dir.path().join(JOURNAL))
            .unwrap()
            .write_all(bytes)
            .unwrap();
        let records = read_journal(dir.path());
        if let Ok(r) = &records
            && let Some(view) = RunView::fold(r)
        {
            let _ = view.attempts("a");
            assert!(RunView::load(dir.path()).is_ok());
        }
        records
    }

    /// Regression: a write torn inside a multi-byte character (`ü` cut after its first byte)
    /// made `read_to_string` fail, and with it the whole journal ("stream did not contain
    /// valid UTF-8"), though every earlier record was whole.
    #[test]
    fn torn_multibyte_write_keeps_the_records_before_it() {
        let mut bytes = seed();
        let whole = read(&bytes).unwrap().len();
        bytes.extend_from_slice(b"{\"type\":\"skipped\",\"reason\":\"\xc3");
        assert_eq!(read(&bytes).unwrap().len(), whole);
    }

    proptest! {
        #[test]
        fn mutated_journals_never_panic(ops in ops()) {
            let _ = read(&apply(&seed(), &ops));
        }

        /// Garbage after a whole journal (a torn append, another writer) loses no record.
        #[test]
        fn appended_garbage_loses_no_record(tail in prop::collection::vec(any::<u8>(), 0..200)) {
            let mut bytes = seed();
            let whole = read(&bytes).unwrap();
            bytes.extend_from_slice(&tail);
            let back = read(&bytes).unwrap();
            prop_assert!(back.len() >= whole.len() - 1);
            prop_assert_eq!(&back[..whole.len() - 1], &whole[..whole.len() - 1]);
        }

        #[test]
        fn arbitrary_text_never_panics(s in "[\\PC\n]{0,400}") {
            let _ = read(s.as_bytes());
        }
    }
}
