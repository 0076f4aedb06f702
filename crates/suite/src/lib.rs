//! The run pipeline below the CLI (SPEC 14 `run`, `resume`, `cancel`, `--from-logs`): typed
//! requests in, a typed [`RunReport`] out, progress as an [`Event`] stream for reporters.
//!
//! ```text
//! cases --prepare--> bundles (validate, plan, render, write) --run/resume--> exec::drive
//!       --collect--> CaseResult per test --report--> results.json, summary.json, JUnit
//! ```
//!
//! - [`prepare`]: validate, plan, `--node-count`, render and write one bundle per case; a case
//!   that must not run becomes an `Error` result with its reasons.
//! - [`run`](mod@run): a new run ([`run::start`]), a resumed one ([`run::resume`]), and the
//!   shared drive -> collect -> report tail; [`cancel`](mod@cancel); [`logs`]: judging runs
//!   made earlier or elsewhere ([`logs::from_logs`]) and finding bundles on disk.
//! - [`report`]: the versioned `results.json` and `summary.json` documents, written atomically.
//!
//! Nothing here prints: every step reports through a [`Reporter`]. Errors are one enum,
//! [`PipelineError`], which the CLI maps to exit codes in one place.

pub mod cancel;
pub mod history;
pub mod logs;
pub mod prepare;
pub mod report;
pub mod run;

use std::path::PathBuf;

pub use report::{ResultsDoc, RunReport, SummaryDoc};

/// What the pipeline reports while it works (one JSON object per event with `--format json`,
/// tagged by `event`; dispatcher events are nested under `exec`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A run was created (or resumed).
    Started {
        /// Run id.
        run_id: String,
        /// Run directory.
        dir: PathBuf,
        /// Tests to drive.
        tests: usize,
        /// Executor.
        executor: servebench_launch::Scheduler,
        /// Window (0 = unlimited).
        max_parallel: usize,
        /// Whether this is a resume.
        resumed: bool,
    },
    /// A render-time warning for a test.
    Warning {
        /// Test id (empty for run-wide warnings).
        test_id: String,
        /// Text.
        message: String,
    },
    /// A test will not be submitted.
    NotSubmitted {
        /// Test id.
        test_id: String,
        /// Why.
        reason: String,
    },
    /// `--dry-run`: the exact submission command of one bundle.
    DryRun {
        /// Test id.
        test_id: String,
        /// Bundle directory.
        bundle: PathBuf,
        /// The command.
        command: Vec<String>,
    },
    /// The dispatcher's progress.
    Exec {
        /// The dispatcher's event.
        exec: servebench_exec::ExecEvent,
    },
}

/// Where events go (the live view, plain lines, JSON lines, or a test's vector).
pub trait Reporter: Send {
    /// One event.
    fn event(&mut self, event: &Event);
}

impl Reporter for Vec<Event> {
    fn event(&mut self, event: &Event) {
        self.push(event.clone());
    }
}

/// Why the pipeline could not do what was asked. Each variant has one exit code in the CLI.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The request itself is wrong (nothing selected, unknown run, a bundle that cannot be
    /// read): the user must change the command.
    #[error("{0}")]
    Usage(String),
    /// Something outside the request failed (the scheduler, the file system, the journal).
    #[error("{0}")]
    Infra(String),
    /// Selected tests are invalid, so nothing was submitted (`--skip-invalid` runs the rest);
    /// every refused case, as an `Error` result.
    #[error("{} selected test(s) cannot run; nothing was submitted (--skip-invalid runs the valid ones)", .0.iter().filter(|c| c.verdict == servebench_results::Verdict::Error).count())]
    Invalid(Vec<servebench_results::CaseResult>),
}

impl From<servebench_exec::journal::JournalError> for PipelineError {
    fn from(e: servebench_exec::journal::JournalError) -> Self {
        PipelineError::Infra(e.to_string())
    }
}

impl From<servebench_exec::scheduler::ExecError> for PipelineError {
    fn from(e: servebench_exec::scheduler::ExecError) -> Self {
        PipelineError::Infra(e.to_string())
    }
}
