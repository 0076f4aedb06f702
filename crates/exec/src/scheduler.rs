//! The dispatcher: windowed submission, polling, retries, cancellation (SPEC 8.2, 8.3).
//!
//! One task owns the run state and `select!`s over the poll tick and SIGINT/SIGTERM (STYLE 6).
//! At most `max_parallel` jobs are in flight; a new one is submitted as soon as one ends (not
//! when a whole batch has ended, as upstream did). Every action is journalled first.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::backend::{AnyBackend, Remote};
use crate::job::{StatusEvent, read_status};
use crate::journal::{
    JobVerdict, Journal, JournalError, Record, RunView, TestEntry, TestState, ts,
};

/// Scheduler settings.
#[derive(Debug, Clone)]
pub struct SchedOptions {
    /// Jobs in flight at most (0 = unlimited).
    pub max_parallel: usize,
    /// Stop submitting after the first failed test.
    pub stop_on_error: bool,
    /// Further attempts for infrastructure failures (node failure, preemption, health timeout).
    pub retries: u32,
    /// Submit the first window and return (jobs keep running; `resume` continues).
    pub detach: bool,
    /// First poll interval (the interval grows while nothing changes).
    pub poll_min: Duration,
    /// Longest poll interval.
    pub poll_max: Duration,
    /// Outer wait limit per job, queue time included.
    pub job_timeout: Duration,
    /// After a cancel, how long to wait for jobs to end before killing them.
    pub cancel_grace: Duration,
    /// Emulate upstream's lazy batches: the next batch only once every job of the previous one
    /// ended (for comparisons; never the default).
    pub lazy_batches: bool,
}

impl Default for SchedOptions {
    fn default() -> Self {
        SchedOptions {
            max_parallel: 5,
            stop_on_error: false,
            retries: 0,
            detach: false,
            poll_min: Duration::from_millis(200),
            poll_max: Duration::from_secs(30),
            job_timeout: Duration::from_secs(15 * 3600),
            cancel_grace: Duration::from_secs(60),
            lazy_batches: false,
        }
    }
}

/// What the dispatcher reports, for the live view and logs. Backends never print.
#[derive(Debug, Clone, PartialEq)]
pub enum ExecEvent {
    /// A job was submitted.
    Submitted {
        /// Test id.
        test_id: String,
        /// Job id.
        job_id: String,
        /// 1-based attempt.
        attempt: u32,
    },
    /// Scheduler state changed (`PENDING (Resources)`, `RUNNING`).
    State {
        /// Test id.
        test_id: String,
        /// State.
        state: String,
    },
    /// The job's own progress changed (from its `status.jsonl`).
    Progress {
        /// Test id.
        test_id: String,
        /// `starting ctx 1/2 gen 4/4`, `benchmark c=8 2/3`.
        text: String,
    },
    /// A job ended.
    Finished {
        /// Test id.
        test_id: String,
        /// Job id (None when the submission failed).
        job_id: Option<String>,
        /// Verdict.
        verdict: JobVerdict,
        /// Reason, when it did not succeed.
        reason: Option<String>,
        /// Whether it will be submitted again.
        will_retry: bool,
    },
    /// A test will not be submitted.
    Skipped {
        /// Test id.
        test_id: String,
        /// Why.
        reason: String,
    },
    /// Cancelling every job in flight.
    Cancelling {
        /// What asked.
        by: String,
        /// Jobs being cancelled.
        jobs: usize,
    },
    /// A scheduler command failed (the run goes on polling).
    Warning {
        /// Text.
        message: String,
    },
}

/// The end state of one test.
#[derive(Debug, Clone, PartialEq)]
pub struct TestOutcome {
    /// Test id and bundle.
    pub entry: TestEntry,
    /// Last job id.
    pub job_id: Option<String>,
    /// Verdict; None when never submitted (skipped, detached).
    pub verdict: Option<JobVerdict>,
    /// Reason.
    pub reason: Option<String>,
    /// Submissions made.
    pub attempts: u32,
}

/// What a drive ended with.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// Per test, in order.
    pub outcomes: Vec<TestOutcome>,
    /// Interrupted by a signal.
    pub interrupted: bool,
    /// Returned early with `--detach`.
    pub detached: bool,
    /// Wall time of this drive.
    pub elapsed: Duration,
    /// Scheduler commands run (`squeue` -> n).
    pub call_counts: BTreeMap<String, u64>,
    /// Poll cycles.
    pub poll_cycles: u64,
}

/// A failure that stops the dispatcher.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The journal could not be written: nothing is submitted without it.
    #[error("journal: {0}")]
    Journal(#[from] JournalError),
    /// Signal handlers could not be installed.
    #[error("cannot install signal handlers: {0}")]
    Signals(std::io::Error),
}

#[derive(Debug)]
enum Slot {
    Queued,
    Active {
        job_id: String,
        since: Instant,
        state: String,
        progress: String,
        cancel_by: Option<&'static str>,
    },
    Done {
        job_id: Option<String>,
        verdict: JobVerdict,
        reason: Option<String>,
    },
    Skipped,
}

struct Test {
    entry: TestEntry,
    slot: Slot,
    attempts: u32,
}

/// Drives a run to its end (or to `--detach`). `view` is the journal's state: a fresh run has
/// every test queued; a resumed one has jobs to reattach. With `retry_failed`, tests that ended
/// in failure are queued again.
pub async fn drive(
    journal: &mut Journal,
    backend: &mut AnyBackend,
    view: &RunView,
    opts: &SchedOptions,
    retry_failed: bool,
    on_event: &mut (dyn FnMut(&ExecEvent) + Send),
) -> Result<RunSummary, ExecError> {
    use tokio::signal::unix::{SignalKind, signal};
    let started = Instant::now();
    let mut sigint = signal(SignalKind::interrupt()).map_err(ExecError::Signals)?;
    let mut sigterm = signal(SignalKind::terminate()).map_err(ExecError::Signals)?;
    let mut tests: Vec<Test> = Vec::new();
    let mut queue: VecDeque<usize> = VecDeque::new();
    for (i, (entry, state)) in view.tests.iter().enumerate() {
        let mut attempts = view.attempts(&entry.test_id);
        let slot = match state {
            TestState::Submitting { attempt } => {
                // The driver died between `submitting` and `submitted`: adopt the job if the
                // scheduler has one for this bundle, so nothing is submitted twice.
                match backend.find_submitted(&entry.bundle).await {
                    Some(job_id) => {
                        journal.append(&Record::Submitted {
                            ts: ts(),
                            test_id: entry.test_id.clone(),
                            job_id: job_id.clone(),
                            attempt: *attempt,
                        })?;
                        attempts = *attempt;
                        Slot::Active {
                            job_id,
                            since: Instant::now(),
                            state: "SUBMITTED".into(),
                            progress: String::new(),
                            cancel_by: None,
                        }
                    }
                    None => {
                        queue.push_back(i);
                        Slot::Queued
                    }
                }
            }
            TestState::Queued | TestState::Skipped { .. } => {
                queue.push_back(i);
                Slot::Queued
            }
            TestState::Active { job_id, state, .. } => {
                backend.reattach(job_id, entry.bundle.clone());
                Slot::Active {
                    job_id: job_id.clone(),
                    since: Instant::now(),
                    state: state.clone(),
                    progress: String::new(),
                    // A job alive when a cancel was recorded ends as cancelled.
                    cancel_by: view.cancel_requested.then_some("cancelled"),
                }
            }
            TestState::Done {
                job_id,
                verdict,
                reason,
                ..
            } => {
                if retry_failed && *verdict != JobVerdict::Succeeded {
                    queue.push_back(i);
                    Slot::Queued
                } else {
                    Slot::Done {
                        job_id: job_id.clone(),
                        verdict: *verdict,
                        reason: reason.clone(),
                    }
                }
            }
        };
        tests.push(Test {
            entry: entry.clone(),
            slot,
            attempts,
        });
    }

    let window = if opts.max_parallel == 0 {
        usize::MAX
    } else {
        opts.max_parallel
    };
    let mut stopped = false;
    let mut signals = 0u32;
    let mut cancel_started: Option<Instant> = None;
    let mut killed = false;
    let mut interval = opts.poll_min;
    let mut cycles = 0u64;
    let mut detached = false;

    loop {
        // Submit up to the window.
        let active = tests
            .iter()
            .filter(|t| matches!(t.slot, Slot::Active { .. }))
            .count();
        let may_submit =
            !stopped && cancel_started.is_none() && (!opts.lazy_batches || active == 0);
        if may_submit {
            let mut active = active;
            while active < window {
                let Some(i) = queue.pop_front() else { break };
                let Some(t) = tests.get_mut(i) else { continue };
                submit(journal, backend, t, on_event).await?;
                if matches!(t.slot, Slot::Active { .. }) {
                    active += 1;
                } else if is_failure(&t.slot) && opts.stop_on_error {
                    stopped = true;
                    break;
                }
            }
        }
        if stopped || cancel_started.is_some() {
            let reason = if cancel_started.is_some() {
                "run cancelled"
            } else {
                "stop-on-error"
            };
            while let Some(i) = queue.pop_front() {
                if let Some(t) = tests.get_mut(i) {
                    skip(journal, t, reason, on_event)?;
                }
            }
        }
        let active_ids: Vec<(usize, String)> = tests
            .iter()
            .enumerate()
            .filter_map(|(i, t)| match &t.slot {
                Slot::Active { job_id, .. } => Some((i, job_id.clone())),
                _ => None,
            })
            .collect();
        if opts.detach && cancel_started.is_none() {
            journal.append(&Record::Detached { ts: ts() })?;
            detached = true;
            break;
        }
        if active_ids.is_empty() && (queue.is_empty() || stopped || cancel_started.is_some()) {
            break;
        }

        // Wait, then poll; signals interrupt the wait.
        let mut signal_now: Option<&'static str> = None;
        if !active_ids.is_empty() {
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                _ = sigint.recv() => signal_now = Some("SIGINT"),
                _ = sigterm.recv() => signal_now = Some("SIGTERM"),
            }
        }
        if let Some(by) = signal_now {
            signals += 1;
            let ids: Vec<String> = active_ids.iter().map(|(_, id)| id.clone()).collect();
            match signals {
                1 => {
                    journal.append(&Record::CancelRequested {
                        ts: ts(),
                        by: by.into(),
                        job_ids: ids.clone(),
                    })?;
                    on_event(&ExecEvent::Cancelling {
                        by: by.into(),
                        jobs: ids.len(),
                    });
                    mark_cancel(&mut tests, &ids, "cancelled");
                    if let Err(e) = backend.cancel(&ids).await {
                        on_event(&ExecEvent::Warning {
                            message: e.to_string(),
                        });
                    }
                    cancel_started = Some(Instant::now());
                    continue;
                }
                2 => {
                    if let Err(e) = backend.kill(&ids).await {
                        on_event(&ExecEvent::Warning {
                            message: e.to_string(),
                        });
                    }
                    killed = true;
                    continue;
                }
                _ => break,
            }
        }
        if let Some(at) = cancel_started
            && !killed
            && at.elapsed() >= opts.cancel_grace
        {
            let ids: Vec<String> = active_ids.iter().map(|(_, id)| id.clone()).collect();
            if let Err(e) = backend.kill(&ids).await {
                on_event(&ExecEvent::Warning {
                    message: e.to_string(),
                });
            }
            killed = true;
        }

        cycles += 1;
        let ids: Vec<String> = active_ids.iter().map(|(_, id)| id.clone()).collect();
        let states = match backend.poll(&ids).await {
            Ok(s) => s,
            Err(e) => {
                on_event(&ExecEvent::Warning {
                    message: e.to_string(),
                });
                interval = (interval * 2).min(opts.poll_max);
                continue;
            }
        };
        let mut changed = false;
        for (i, id) in &active_ids {
            let Some(t) = tests.get_mut(*i) else { continue };
            let remote = states.get(id).cloned().unwrap_or(Remote::Gone);
            match remote {
                Remote::Pending { reason } => {
                    changed |= set_state(journal, t, &format!("PENDING ({reason})"), on_event)?;
                }
                Remote::Running => {
                    changed |= set_state(journal, t, "RUNNING", on_event)?;
                    changed |= progress(t, on_event);
                }
                Remote::Done { state, exit_code } => {
                    changed = true;
                    progress(t, on_event);
                    let retry = conclude(
                        journal,
                        t,
                        Some(state),
                        exit_code,
                        opts,
                        cancel_started.is_some(),
                        on_event,
                    )?;
                    after_end(&tests, *i, retry, &mut queue, &mut stopped, opts);
                }
                Remote::Gone => {
                    changed = true;
                    progress(t, on_event);
                    let retry = conclude(
                        journal,
                        t,
                        None,
                        None,
                        opts,
                        cancel_started.is_some(),
                        on_event,
                    )?;
                    after_end(&tests, *i, retry, &mut queue, &mut stopped, opts);
                }
            }
        }
        // Outer wait limit.
        let overdue: Vec<String> = tests
            .iter_mut()
            .filter_map(|t| match &mut t.slot {
                Slot::Active {
                    job_id,
                    since,
                    cancel_by,
                    ..
                } if cancel_by.is_none() && since.elapsed() >= opts.job_timeout => {
                    *cancel_by = Some("timeout");
                    Some(job_id.clone())
                }
                _ => None,
            })
            .collect();
        if !overdue.is_empty() {
            journal.append(&Record::CancelRequested {
                ts: ts(),
                by: "timeout".into(),
                job_ids: overdue.clone(),
            })?;
            if let Err(e) = backend.cancel(&overdue).await {
                on_event(&ExecEvent::Warning {
                    message: e.to_string(),
                });
            }
        }
        interval = if changed {
            opts.poll_min
        } else {
            (interval.mul_f64(1.5)).min(opts.poll_max)
        };
    }

    let interrupted = cancel_started.is_some() || signals > 0;
    if !detached {
        journal.append(&Record::RunFinished {
            ts: ts(),
            interrupted,
        })?;
    }
    let outcomes = tests
        .into_iter()
        .map(|t| {
            let (job_id, verdict, reason) = match t.slot {
                Slot::Done {
                    job_id,
                    verdict,
                    reason,
                } => (job_id, Some(verdict), reason),
                Slot::Active { job_id, .. } => (Some(job_id), None, None),
                Slot::Queued | Slot::Skipped => (None, None, None),
            };
            TestOutcome {
                entry: t.entry,
                job_id,
                verdict,
                reason,
                attempts: t.attempts,
            }
        })
        .collect();
    Ok(RunSummary {
        outcomes,
        interrupted,
        detached,
        elapsed: started.elapsed(),
        call_counts: backend.call_counts(),
        poll_cycles: cycles,
    })
}

fn is_failure(slot: &Slot) -> bool {
    matches!(slot, Slot::Done { verdict, .. } if *verdict != JobVerdict::Succeeded)
}

fn mark_cancel(tests: &mut [Test], ids: &[String], by: &'static str) {
    for t in tests {
        if let Slot::Active {
            job_id, cancel_by, ..
        } = &mut t.slot
            && ids.contains(job_id)
        {
            *cancel_by = Some(by);
        }
    }
}

async fn submit(
    journal: &mut Journal,
    backend: &mut AnyBackend,
    t: &mut Test,
    on_event: &mut (dyn FnMut(&ExecEvent) + Send),
) -> Result<(), ExecError> {
    let attempt = t.attempts + 1;
    // A fresh status file per attempt: the previous attempt's is kept beside it.
    if t.entry.status_file.is_file() {
        let old = t
            .entry
            .status_file
            .with_extension(format!("attempt-{}.jsonl", t.attempts));
        let _ = std::fs::rename(&t.entry.status_file, old);
    }
    journal.append(&Record::Submitting {
        ts: ts(),
        test_id: t.entry.test_id.clone(),
        attempt,
        command: backend.submit_command(&t.entry.bundle),
    })?;
    t.attempts = attempt;
    match backend.submit(&t.entry.bundle).await {
        Ok(job_id) => {
            journal.append(&Record::Submitted {
                ts: ts(),
                test_id: t.entry.test_id.clone(),
                job_id: job_id.clone(),
                attempt,
            })?;
            on_event(&ExecEvent::Submitted {
                test_id: t.entry.test_id.clone(),
                job_id: job_id.clone(),
                attempt,
            });
            t.slot = Slot::Active {
                job_id,
                since: Instant::now(),
                state: "SUBMITTED".into(),
                progress: String::new(),
                cancel_by: None,
            };
        }
        Err(e) => {
            journal.append(&Record::SubmitFailed {
                ts: ts(),
                test_id: t.entry.test_id.clone(),
                attempt,
                error: e.to_string(),
            })?;
            on_event(&ExecEvent::Finished {
                test_id: t.entry.test_id.clone(),
                job_id: None,
                verdict: JobVerdict::InfraFailed,
                reason: Some(e.to_string()),
                will_retry: false,
            });
            t.slot = Slot::Done {
                job_id: None,
                verdict: JobVerdict::InfraFailed,
                reason: Some(e.to_string()),
            };
        }
    }
    Ok(())
}

fn skip(
    journal: &mut Journal,
    t: &mut Test,
    reason: &str,
    on_event: &mut (dyn FnMut(&ExecEvent) + Send),
) -> Result<(), ExecError> {
    journal.append(&Record::Skipped {
        ts: ts(),
        test_id: t.entry.test_id.clone(),
        reason: reason.into(),
    })?;
    on_event(&ExecEvent::Skipped {
        test_id: t.entry.test_id.clone(),
        reason: reason.into(),
    });
    t.slot = Slot::Skipped;
    Ok(())
}

fn set_state(
    journal: &mut Journal,
    t: &mut Test,
    new: &str,
    on_event: &mut (dyn FnMut(&ExecEvent) + Send),
) -> Result<bool, ExecError> {
    let Slot::Active { job_id, state, .. } = &mut t.slot else {
        return Ok(false);
    };
    if state == new {
        return Ok(false);
    }
    new.clone_into(state);
    journal.append(&Record::State {
        ts: ts(),
        test_id: t.entry.test_id.clone(),
        job_id: job_id.clone(),
        state: new.into(),
    })?;
    on_event(&ExecEvent::State {
        test_id: t.entry.test_id.clone(),
        state: new.into(),
    });
    Ok(true)
}

/// Reports the job's own latest status line when it changed.
fn progress(t: &mut Test, on_event: &mut (dyn FnMut(&ExecEvent) + Send)) -> bool {
    let Slot::Active { progress, .. } = &mut t.slot else {
        return false;
    };
    let events = read_status(&t.entry.status_file);
    let Some(last) = events.iter().rev().find(|e| {
        !matches!(
            e,
            StatusEvent::Warning { .. } | StatusEvent::Finished { .. }
        )
    }) else {
        return false;
    };
    let text = last.describe();
    if *progress == text {
        return false;
    }
    progress.clone_from(&text);
    on_event(&ExecEvent::Progress {
        test_id: t.entry.test_id.clone(),
        text,
    });
    true
}

/// The verdict of an ended job, from the bundle's final status (which decides) and the
/// scheduler's state (which explains). Returns whether it will be retried.
fn conclude(
    journal: &mut Journal,
    t: &mut Test,
    scheduler_state: Option<String>,
    exit_code: Option<i32>,
    opts: &SchedOptions,
    run_cancelled: bool,
    on_event: &mut (dyn FnMut(&ExecEvent) + Send),
) -> Result<bool, ExecError> {
    let Slot::Active {
        job_id, cancel_by, ..
    } = &t.slot
    else {
        return Ok(false);
    };
    let job_id = job_id.clone();
    let cancel_by = *cancel_by;
    let finished = read_status(&t.entry.status_file)
        .into_iter()
        .rev()
        .find_map(|e| match e {
            StatusEvent::Finished {
                code, kind, reason, ..
            } => Some((code, kind, reason)),
            _ => None,
        });
    let (verdict, reason, retryable) = verdict_of(
        scheduler_state.as_deref(),
        exit_code,
        finished
            .as_ref()
            .map(|(c, k, r)| (*c, k.as_deref(), r.as_deref())),
        cancel_by,
    );
    let will_retry = retryable && !run_cancelled && t.attempts <= opts.retries;
    journal.append(&Record::Finished {
        ts: ts(),
        test_id: t.entry.test_id.clone(),
        job_id: job_id.clone(),
        attempt: t.attempts,
        verdict,
        scheduler_state,
        exit_code: exit_code.or(finished.as_ref().map(|(c, _, _)| i32::from(*c))),
        reason: reason.clone(),
        will_retry,
    })?;
    on_event(&ExecEvent::Finished {
        test_id: t.entry.test_id.clone(),
        job_id: Some(job_id.clone()),
        verdict,
        reason: reason.clone(),
        will_retry,
    });
    t.slot = if will_retry {
        Slot::Queued
    } else {
        Slot::Done {
            job_id: Some(job_id),
            verdict,
            reason,
        }
    };
    Ok(will_retry)
}

/// The decision table: (verdict, reason, retryable for infrastructure).
pub fn verdict_of(
    scheduler_state: Option<&str>,
    exit_code: Option<i32>,
    finished: Option<(u8, Option<&str>, Option<&str>)>,
    cancel_by: Option<&str>,
) -> (JobVerdict, Option<String>, bool) {
    let job_reason = finished.and_then(|(_, _, r)| r.map(str::to_string));
    match scheduler_state {
        Some("TIMEOUT") => {
            return (
                JobVerdict::TimedOut,
                Some("SLURM time limit reached (TIMEOUT)".into()),
                false,
            );
        }
        Some(s @ ("NODE_FAIL" | "PREEMPTED" | "BOOT_FAIL")) => {
            return (
                JobVerdict::InfraFailed,
                Some(format!("SLURM state {s}")),
                true,
            );
        }
        Some(s @ ("OUT_OF_MEMORY" | "DEADLINE")) => {
            return (
                JobVerdict::InfraFailed,
                Some(format!("SLURM state {s}")),
                false,
            );
        }
        _ => {}
    }
    if cancel_by == Some("timeout") {
        return (
            JobVerdict::TimedOut,
            Some("outer wait limit reached; cancelled".into()),
            false,
        );
    }
    let cancelled = cancel_by.is_some() || scheduler_state == Some("CANCELLED");
    match finished {
        Some((0, _, _)) => (JobVerdict::Succeeded, None, false),
        // A cancel signals every step too: a client killed first is not a test failure.
        Some(_) if cancelled => (JobVerdict::Cancelled, Some("cancelled".into()), false),
        Some((_, Some("client" | "accuracy"), _)) => (JobVerdict::Failed, job_reason, false),
        Some((_, kind, _)) => (
            JobVerdict::InfraFailed,
            job_reason,
            kind == Some("health_timeout"),
        ),
        None => {
            if cancelled {
                (
                    JobVerdict::Cancelled,
                    Some("cancelled before the job reported".into()),
                    false,
                )
            } else {
                let state = scheduler_state.unwrap_or("gone");
                let code = exit_code.map_or_else(String::new, |c| format!(", exit code {c}"));
                (
                    JobVerdict::InfraFailed,
                    Some(format!(
                        "the job ended without a final status ({state}{code}); see logs/job-exec.log or logs/slurm-*.err"
                    )),
                    false,
                )
            }
        }
    }
}

/// Queues a retry first in line, or stops submitting after a failure with `--stop-on-error`.
fn after_end(
    tests: &[Test],
    i: usize,
    retry: bool,
    queue: &mut VecDeque<usize>,
    stopped: &mut bool,
    opts: &SchedOptions,
) {
    if retry {
        queue.push_front(i);
    } else if opts.stop_on_error && tests.get(i).is_some_and(|t| is_failure(&t.slot)) {
        *stopped = true;
    }
}

/// Bundle paths of a run's tests, for reports.
pub fn bundles(summary: &RunSummary) -> Vec<PathBuf> {
    summary
        .outcomes
        .iter()
        .map(|o| o.entry.bundle.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_table() {
        let v = |s, c, f, x| verdict_of(s, c, f, x);
        assert_eq!(
            v(Some("COMPLETED"), Some(0), Some((0, None, None)), None).0,
            JobVerdict::Succeeded
        );
        assert_eq!(
            v(
                Some("TIMEOUT"),
                Some(0),
                Some((143, Some("interrupted"), None)),
                None
            )
            .0,
            JobVerdict::TimedOut
        );
        let nf = v(Some("NODE_FAIL"), None, None, None);
        assert_eq!((nf.0, nf.2), (JobVerdict::InfraFailed, true));
        assert!(v(Some("PREEMPTED"), None, None, None).2);
        assert!(!v(Some("OUT_OF_MEMORY"), None, None, None).2);
        let ht = v(
            Some("FAILED"),
            Some(3),
            Some((3, Some("health_timeout"), Some("health timeout: GEN_0"))),
            None,
        );
        assert_eq!(
            ht,
            (
                JobVerdict::InfraFailed,
                Some("health timeout: GEN_0".into()),
                true
            )
        );
        let crash = v(
            None,
            Some(3),
            Some((3, Some("role_exited"), Some("GEN_0 (gen) exited"))),
            None,
        );
        assert_eq!((crash.0, crash.2), (JobVerdict::InfraFailed, false));
        assert_eq!(
            v(None, Some(1), Some((1, Some("client"), None)), None).0,
            JobVerdict::Failed
        );
        assert_eq!(
            v(
                Some("CANCELLED"),
                None,
                Some((143, Some("interrupted"), None)),
                None
            )
            .0,
            JobVerdict::Cancelled
        );
        assert_eq!(
            v(Some("CANCELLED"), None, None, None).0,
            JobVerdict::Cancelled
        );
        assert_eq!(v(None, None, None, Some("timeout")).0, JobVerdict::TimedOut);
        let gone = v(Some("FAILED"), Some(127), None, None);
        assert_eq!(gone.0, JobVerdict::InfraFailed);
        assert!(gone.1.unwrap().contains("FAILED, exit code 127"));
    }
}
