//! [`Dispatcher`]: one run's state and the steps that move it, over any [`Backend`].
//!
//! Every action is journalled first. At most `max_parallel` jobs are in flight; a new one is
//! submitted as soon as one ends (not when a whole batch has ended, as upstream did). An
//! `ISOLATION` test is submitted only when nothing else is in flight, and nothing is submitted
//! beside it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use servebench_launch::FailureKind;

use super::verdict::{CutShort, verdict_of};
use super::{ExecError, ExecEvent, RunSummary, SchedOptions, TestOutcome};
use crate::backend::{Backend, Remote};
use crate::failpoint;
use crate::interrupt::Interrupts;
use crate::job::read_status;
use crate::journal::{JobVerdict, Journal, Record, RunView, TestEntry, TestState, ts};

/// Where one test is.
#[derive(Debug)]
enum Slot {
    Queued,
    Active {
        job_id: String,
        since: Instant,
        state: String,
        progress: String,
        cut: Option<CutShort>,
    },
    Done {
        job_id: Option<String>,
        verdict: JobVerdict,
        kind: Option<FailureKind>,
        reason: Option<String>,
    },
    Skipped,
}

struct Test {
    entry: TestEntry,
    slot: Slot,
    attempts: u32,
}

/// The event sink.
type OnEvent<'a> = &'a mut (dyn FnMut(&ExecEvent) + Send);

/// A run being driven.
pub struct Dispatcher<'a, B: Backend> {
    journal: &'a mut Journal,
    backend: &'a mut B,
    opts: SchedOptions,
    on_event: OnEvent<'a>,
    tests: Vec<Test>,
    queue: VecDeque<usize>,
    stopped: bool,
    cancel_started: Option<Instant>,
    killed: bool,
    interrupts_seen: u32,
    interval: Duration,
    cycles: u64,
    started: Instant,
}

impl<'a, B: Backend> Dispatcher<'a, B> {
    /// A dispatcher with no tests yet.
    pub fn new(
        journal: &'a mut Journal,
        backend: &'a mut B,
        opts: SchedOptions,
        on_event: OnEvent<'a>,
    ) -> Self {
        let interval = opts.poll_min;
        Dispatcher {
            journal,
            backend,
            opts,
            on_event,
            tests: Vec::new(),
            queue: VecDeque::new(),
            stopped: false,
            cancel_started: None,
            killed: false,
            interrupts_seen: 0,
            interval,
            cycles: 0,
            started: Instant::now(),
        }
    }

    /// Takes over the journal's state: a fresh run has every test queued; a resumed one has
    /// jobs to reattach, and a test whose submission was announced but not recorded is adopted
    /// when the scheduler has a job for its bundle (so nothing is submitted twice). With
    /// `retry_failed`, tests that ended in failure are queued again.
    pub async fn adopt(&mut self, view: &RunView, retry_failed: bool) -> Result<(), ExecError> {
        for (i, (entry, state)) in view.tests.iter().enumerate() {
            let mut attempts = view.attempts(&entry.test_id);
            let slot = match state {
                TestState::Submitting { attempt } => {
                    match self.backend.find_submitted(&entry.bundle).await {
                        Some(job_id) => {
                            self.journal.append(&Record::Submitted {
                                ts: ts(),
                                test_id: entry.test_id.clone(),
                                job_id: job_id.clone(),
                                attempt: *attempt,
                            })?;
                            attempts = *attempt;
                            active(job_id, "SUBMITTED")
                        }
                        None => {
                            self.queue.push_back(i);
                            Slot::Queued
                        }
                    }
                }
                TestState::Queued | TestState::Skipped { .. } => {
                    self.queue.push_back(i);
                    Slot::Queued
                }
                TestState::Active { job_id, state, .. } => {
                    self.backend.reattach(job_id, entry.bundle.clone());
                    let mut slot = active(job_id.clone(), state);
                    // A job alive when a cancel was recorded ends as cancelled.
                    if view.cancel_requested
                        && let Slot::Active { cut, .. } = &mut slot
                    {
                        *cut = Some(CutShort::Cancelled);
                    }
                    slot
                }
                TestState::Done {
                    job_id,
                    verdict,
                    reason,
                    ..
                } => {
                    if retry_failed && *verdict != JobVerdict::Succeeded {
                        self.queue.push_back(i);
                        Slot::Queued
                    } else {
                        Slot::Done {
                            job_id: job_id.clone(),
                            verdict: *verdict,
                            kind: None,
                            reason: reason.clone(),
                        }
                    }
                }
            };
            self.tests.push(Test {
                entry: entry.clone(),
                slot,
                attempts,
            });
        }
        Ok(())
    }

    fn active_count(&self) -> usize {
        self.tests
            .iter()
            .filter(|t| matches!(t.slot, Slot::Active { .. }))
            .count()
    }

    fn active_ids(&self) -> Vec<(usize, String)> {
        self.tests
            .iter()
            .enumerate()
            .filter_map(|(i, t)| match &t.slot {
                Slot::Active { job_id, .. } => Some((i, job_id.clone())),
                _ => None,
            })
            .collect()
    }

    fn isolated_active(&self) -> bool {
        self.tests
            .iter()
            .any(|t| t.entry.isolated && matches!(t.slot, Slot::Active { .. }))
    }

    /// Submits queued tests up to the window (nothing once stopped or cancelling).
    pub async fn fill_window(&mut self) -> Result<(), ExecError> {
        let window = if self.opts.max_parallel == 0 {
            usize::MAX
        } else {
            self.opts.max_parallel
        };
        let mut active = self.active_count();
        let may_submit = !self.stopped
            && self.cancel_started.is_none()
            && (!self.opts.lazy_batches || active == 0);
        while may_submit && active < window && !self.isolated_active() {
            let Some(&i) = self.queue.front() else { break };
            let isolated = self.tests.get(i).is_some_and(|t| t.entry.isolated);
            if isolated && active > 0 {
                break;
            }
            self.queue.pop_front();
            self.submit(i).await?;
            match self.tests.get(i).map(|t| &t.slot) {
                Some(Slot::Active { .. }) => active += 1,
                Some(slot) if is_failure(slot) && self.opts.stop_on_error => {
                    self.stopped = true;
                }
                _ => {}
            }
        }
        if self.stopped || self.cancel_started.is_some() {
            let reason = if self.cancel_started.is_some() {
                "run cancelled"
            } else {
                "stop-on-error"
            };
            while let Some(i) = self.queue.pop_front() {
                self.skip(i, reason)?;
            }
        }
        Ok(())
    }

    /// Whether nothing is left to do.
    pub fn is_done(&self) -> bool {
        self.active_count() == 0
            && (self.queue.is_empty() || self.stopped || self.cancel_started.is_some())
    }

    /// Reacts to the `n`-th interrupt: the first cancels every job in flight (recorded first),
    /// the second kills them. Returns false when the caller should stop waiting (a third).
    pub async fn on_interrupt(&mut self, n: u32, by: &str) -> Result<bool, ExecError> {
        self.interrupts_seen = n;
        let ids: Vec<String> = self.active_ids().into_iter().map(|(_, id)| id).collect();
        match n {
            1 => {
                self.journal.append(&Record::CancelRequested {
                    ts: ts(),
                    by: by.into(),
                    job_ids: ids.clone(),
                })?;
                (self.on_event)(&ExecEvent::Cancelling {
                    by: by.into(),
                    jobs: ids.len(),
                });
                for t in &mut self.tests {
                    if let Slot::Active { cut, .. } = &mut t.slot {
                        *cut = Some(CutShort::Cancelled);
                    }
                }
                if let Err(e) = self.backend.cancel(&ids).await {
                    self.warn(e.to_string());
                }
                self.cancel_started = Some(Instant::now());
                Ok(true)
            }
            2 => {
                self.kill(&ids).await;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn kill(&mut self, ids: &[String]) {
        if let Err(e) = self.backend.kill(ids).await {
            self.warn(e.to_string());
        }
        self.killed = true;
    }

    fn warn(&mut self, message: String) {
        (self.on_event)(&ExecEvent::Warning { message });
    }

    /// One poll of every job in flight: state changes, progress, ends (with retries queued
    /// first in line), then the grace period of a cancel and the run-time limits.
    pub async fn poll_once(&mut self) -> Result<(), ExecError> {
        if let Some(at) = self.cancel_started
            && !self.killed
            && at.elapsed() >= self.opts.cancel_grace
        {
            let ids: Vec<String> = self.active_ids().into_iter().map(|(_, id)| id).collect();
            self.kill(&ids).await;
        }
        let active = self.active_ids();
        if active.is_empty() {
            return Ok(());
        }
        failpoint::hit("poll");
        self.cycles += 1;
        let ids: Vec<String> = active.iter().map(|(_, id)| id.clone()).collect();
        let states = match self.backend.poll(&ids).await {
            Ok(s) => s,
            Err(e) => {
                self.warn(e.to_string());
                self.interval = (self.interval * 2).min(self.opts.poll_max);
                return Ok(());
            }
        };
        let mut changed = false;
        for (i, id) in &active {
            let remote = states.get(id).cloned().unwrap_or(Remote::Gone);
            changed |= match remote {
                Remote::Pending { reason } => self.set_state(*i, &format!("PENDING ({reason})"))?,
                Remote::Running => self.set_state(*i, "RUNNING")? | self.progress(*i),
                Remote::Done { state, exit_code } => {
                    self.progress(*i);
                    self.conclude(*i, Some(state), exit_code)?;
                    true
                }
                Remote::Gone => {
                    self.progress(*i);
                    self.conclude(*i, None, None)?;
                    true
                }
            };
        }
        self.enforce_timeouts().await?;
        self.interval = if changed {
            self.opts.poll_min
        } else {
            self.interval.mul_f64(1.5).min(self.opts.poll_max)
        };
        Ok(())
    }

    /// Cancels jobs past their limit: the test's own `TIMEOUT (N)` run-time limit, else the
    /// run's outer wait limit (queue time included).
    pub async fn enforce_timeouts(&mut self) -> Result<(), ExecError> {
        let default = self.opts.job_timeout;
        let mut overdue = Vec::new();
        for t in &mut self.tests {
            let limit = t.entry.time_limit_s.map(Duration::from_secs).or(default);
            if let Slot::Active {
                job_id, since, cut, ..
            } = &mut t.slot
                && cut.is_none()
                && limit.is_some_and(|l| since.elapsed() >= l)
            {
                *cut = Some(CutShort::TimedOut);
                overdue.push(job_id.clone());
            }
        }
        if overdue.is_empty() {
            return Ok(());
        }
        self.journal.append(&Record::CancelRequested {
            ts: ts(),
            by: "timeout".into(),
            job_ids: overdue.clone(),
        })?;
        if let Err(e) = self.backend.cancel(&overdue).await {
            self.warn(e.to_string());
        }
        Ok(())
    }

    /// The wait before the next poll.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    async fn submit(&mut self, i: usize) -> Result<(), ExecError> {
        let Some(t) = self.tests.get_mut(i) else {
            return Ok(());
        };
        let attempt = t.attempts + 1;
        // A fresh status file per attempt: the previous attempt's is kept beside it.
        if t.entry.status_file.is_file() {
            let old = t
                .entry
                .status_file
                .with_extension(format!("attempt-{}.jsonl", t.attempts));
            let _ = std::fs::rename(&t.entry.status_file, old);
        }
        let test_id = t.entry.test_id.clone();
        let bundle = t.entry.bundle.clone();
        self.journal.append(&Record::Submitting {
            ts: ts(),
            test_id: test_id.clone(),
            attempt,
            command: self.backend.submit_command(&bundle),
        })?;
        t.attempts = attempt;
        failpoint::hit("before-sbatch");
        let result = self.backend.submit(&bundle).await;
        let slot = match result {
            Ok(job_id) => {
                failpoint::hit("after-sbatch");
                self.journal.append(&Record::Submitted {
                    ts: ts(),
                    test_id: test_id.clone(),
                    job_id: job_id.clone(),
                    attempt,
                })?;
                failpoint::hit("after-submitted");
                (self.on_event)(&ExecEvent::Submitted {
                    test_id,
                    job_id: job_id.clone(),
                    attempt,
                });
                active(job_id, "SUBMITTED")
            }
            Err(e) => {
                let error = e.to_string();
                self.journal.append(&Record::SubmitFailed {
                    ts: ts(),
                    test_id: test_id.clone(),
                    attempt,
                    error: error.clone(),
                })?;
                (self.on_event)(&ExecEvent::Finished {
                    test_id,
                    job_id: None,
                    verdict: JobVerdict::InfraFailed,
                    reason: Some(error.clone()),
                    kind: Some(FailureKind::Io),
                    will_retry: false,
                });
                Slot::Done {
                    job_id: None,
                    verdict: JobVerdict::InfraFailed,
                    kind: Some(FailureKind::Io),
                    reason: Some(error),
                }
            }
        };
        if let Some(t) = self.tests.get_mut(i) {
            t.slot = slot;
        }
        Ok(())
    }

    fn skip(&mut self, i: usize, reason: &str) -> Result<(), ExecError> {
        let Some(t) = self.tests.get_mut(i) else {
            return Ok(());
        };
        self.journal.append(&Record::Skipped {
            ts: ts(),
            test_id: t.entry.test_id.clone(),
            reason: reason.into(),
        })?;
        (self.on_event)(&ExecEvent::Skipped {
            test_id: t.entry.test_id.clone(),
            reason: reason.into(),
        });
        t.slot = Slot::Skipped;
        Ok(())
    }

    fn set_state(&mut self, i: usize, new: &str) -> Result<bool, ExecError> {
        let Some(t) = self.tests.get_mut(i) else {
            return Ok(false);
        };
        let Slot::Active { job_id, state, .. } = &mut t.slot else {
            return Ok(false);
        };
        if state == new {
            return Ok(false);
        }
        new.clone_into(state);
        self.journal.append(&Record::State {
            ts: ts(),
            test_id: t.entry.test_id.clone(),
            job_id: job_id.clone(),
            state: new.into(),
        })?;
        (self.on_event)(&ExecEvent::State {
            test_id: t.entry.test_id.clone(),
            state: new.into(),
        });
        Ok(true)
    }

    /// Reports the job's own latest status line when it changed.
    fn progress(&mut self, i: usize) -> bool {
        let Some(t) = self.tests.get_mut(i) else {
            return false;
        };
        let Slot::Active { progress, .. } = &mut t.slot else {
            return false;
        };
        let log = read_status(&t.entry.status_file);
        let Some(text) = log.progress().map(servebench_launch::StatusEvent::describe) else {
            return false;
        };
        if *progress == text {
            return false;
        }
        progress.clone_from(&text);
        (self.on_event)(&ExecEvent::Progress {
            test_id: t.entry.test_id.clone(),
            text,
        });
        true
    }

    /// Records how an ended job ended; queues a retry first in line, or stops submitting after
    /// a failure with `--stop-on-error`.
    fn conclude(
        &mut self,
        i: usize,
        scheduler_state: Option<String>,
        exit_code: Option<i32>,
    ) -> Result<(), ExecError> {
        let run_cancelled = self.cancel_started.is_some();
        let Some(t) = self.tests.get_mut(i) else {
            return Ok(());
        };
        let Slot::Active { job_id, cut, .. } = &t.slot else {
            return Ok(());
        };
        let job_id = job_id.clone();
        let finish = read_status(&t.entry.status_file).finish();
        let v = verdict_of(scheduler_state.as_deref(), exit_code, finish.as_ref(), *cut);
        let will_retry = v.retryable && !run_cancelled && t.attempts <= self.opts.retries;
        self.journal.append(&Record::Finished {
            ts: ts(),
            test_id: t.entry.test_id.clone(),
            job_id: job_id.clone(),
            attempt: t.attempts,
            verdict: v.verdict,
            scheduler_state,
            exit_code: exit_code.or(finish.as_ref().map(|f| i32::from(f.code))),
            reason: v.reason.clone(),
            kind: v.kind,
            will_retry,
        })?;
        failpoint::hit("after-finished");
        (self.on_event)(&ExecEvent::Finished {
            test_id: t.entry.test_id.clone(),
            job_id: Some(job_id.clone()),
            verdict: v.verdict,
            reason: v.reason.clone(),
            kind: v.kind,
            will_retry,
        });
        t.slot = if will_retry {
            Slot::Queued
        } else {
            Slot::Done {
                job_id: Some(job_id),
                verdict: v.verdict,
                kind: v.kind,
                reason: v.reason,
            }
        };
        if will_retry {
            self.queue.push_front(i);
        } else if self.opts.stop_on_error && is_failure(&t.slot) {
            self.stopped = true;
        }
        Ok(())
    }

    /// Records the end (unless detached) and reports every test's outcome.
    pub fn finish(self, detached: bool) -> Result<RunSummary, ExecError> {
        let interrupted = self.cancel_started.is_some() || self.interrupts_seen > 0;
        if detached {
            self.journal.append(&Record::Detached { ts: ts() })?;
        } else {
            failpoint::hit("before-run-finished");
            self.journal.append(&Record::RunFinished {
                ts: ts(),
                interrupted,
            })?;
        }
        let call_counts = self.backend.call_counts();
        let outcomes = self
            .tests
            .into_iter()
            .map(|t| {
                let (job_id, verdict, kind, reason) = match t.slot {
                    Slot::Done {
                        job_id,
                        verdict,
                        kind,
                        reason,
                    } => (job_id, Some(verdict), kind, reason),
                    Slot::Active { job_id, .. } => (Some(job_id), None, None, None),
                    Slot::Queued | Slot::Skipped => (None, None, None, None),
                };
                TestOutcome {
                    entry: t.entry,
                    job_id,
                    verdict,
                    kind,
                    reason,
                    attempts: t.attempts,
                }
            })
            .collect();
        Ok(RunSummary {
            outcomes,
            interrupted,
            detached,
            elapsed: self.started.elapsed(),
            call_counts,
            poll_cycles: self.cycles,
        })
    }
}

fn active(job_id: String, state: &str) -> Slot {
    Slot::Active {
        job_id,
        since: Instant::now(),
        state: state.into(),
        progress: String::new(),
        cut: None,
    }
}

fn is_failure(slot: &Slot) -> bool {
    matches!(slot, Slot::Done { verdict, .. } if *verdict != JobVerdict::Succeeded)
}

/// Drives a run to its end (or to `--detach`): adopt the journal's state, then fill the window,
/// wait (an interrupt cuts the wait short), poll, until nothing is left.
pub async fn drive<B: Backend>(
    journal: &mut Journal,
    backend: &mut B,
    view: &RunView,
    opts: &SchedOptions,
    retry_failed: bool,
    interrupts: &mut Interrupts,
    on_event: OnEvent<'_>,
) -> Result<RunSummary, ExecError> {
    let mut d = Dispatcher::new(journal, backend, opts.clone(), on_event);
    d.adopt(view, retry_failed).await?;
    loop {
        d.fill_window().await?;
        if opts.detach && d.cancel_started.is_none() {
            return d.finish(true);
        }
        if d.is_done() {
            break;
        }
        let wait = d.interval();
        let interrupt = tokio::select! {
            () = tokio::time::sleep(wait) => None,
            i = interrupts.next() => Some(i),
        };
        if let Some((n, by)) = interrupt {
            if !d.on_interrupt(n, &by).await? {
                break;
            }
            continue;
        }
        d.poll_once().await?;
    }
    d.finish(false)
}
