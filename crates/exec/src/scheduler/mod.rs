//! The run scheduler (SPEC 8.2, 8.3): windowed submission, polling, retries, timeouts and
//! cancellation over any [`Backend`].
//!
//! - [`options`]: [`SchedOptions`], what a run asks for.
//! - [`dispatcher`]: [`Dispatcher`], the run state and its steps (adopt, fill the window, poll
//!   once, enforce timeouts, react to an interrupt); [`drive`] loops them to the end.
//! - [`verdict`]: the decision table from (scheduler state, final status, cancel) to a
//!   [`JobVerdict`] and whether `--retries` applies.
//!
//! The dispatcher never installs signal handlers: it waits on [`crate::Interrupts`], which the
//! caller feeds (from signals, a test, a `cancel` request).

mod dispatcher;
mod options;
mod verdict;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::time::Duration;

use servebench_launch::FailureKind;

pub use dispatcher::{Dispatcher, drive};
pub use options::SchedOptions;
pub use verdict::{Verdict, verdict_of};

use crate::journal::{JobVerdict, JournalError, TestEntry};

/// What the dispatcher reports, for the live view and logs. Backends never print.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
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
        /// Failure class, when it failed.
        kind: Option<FailureKind>,
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
    /// Failure class, when it failed.
    pub kind: Option<FailureKind>,
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
    /// Interrupted (a signal or a cancel request).
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
}
