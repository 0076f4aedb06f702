//! Running suites: the in-job orchestrator, executors, the windowed scheduler and the run journal.
//!
//! This crate owns tokio for execution (STYLE 6); config, plan and bundle stay synchronous. It
//! never prints to stdout: the CLI renders the [`ExecEvent`]s it reports.
//!
//! - [`job`]: `servebench job exec BUNDLE` (SPEC 6.2) executes a bundle's `launch.json` through a
//!   [`Launcher`] and appends [`StatusEvent`]s to the bundle's `status.jsonl`.
//! - [`backend`]: executors behind the [`Backend`] trait: [`backend::LocalBackend`] (child
//!   process groups), [`backend::SlurmBackend`] (sbatch/squeue/sacct/scancel through a
//!   [`backend::CommandRunner`]), both in [`AnyBackend`], and the scripted
//!   [`backend::FakeBackend`] for tests.
//! - [`scheduler`]: the [`scheduler::Dispatcher`] submits at most `max_parallel` jobs at a time,
//!   refilling as each ends, polls, retries infrastructure failures, enforces run-time limits and
//!   cancels on [`Interrupts`] (which the caller feeds from signals); [`drive`] runs it.
//! - [`journal`]: the run directory's append-only journal and [`RunView`], its folded state
//!   (for `status`, `cancel`, `resume`).
//! - [`failpoint`]: named fault-injection points for the reliability campaign.
//!
//! ```
//! use servebench_exec::journal::{Record, RunView};
//! use servebench_launch::Scheduler;
//! let records = vec![Record::RunStarted {
//!     ts: 0.0, run_id: "r".into(), executor: Scheduler::Local, pid: 1, job_timeout_s: 0,
//!     max_parallel: 5, retries: 0, stop_on_error: false, tests: vec![], history: None,
//! }];
//! let view = RunView::fold(&records).unwrap();
//! assert_eq!(view.executor, Scheduler::Local);
//! ```

pub mod backend;
pub mod failpoint;
pub mod interrupt;
pub mod job;
pub mod journal;
#[cfg(test)]
use servebench_testkit::mutate;
pub mod proc;
pub mod scheduler;

pub use backend::{AnyBackend, Backend, Remote};
pub use interrupt::{Interrupter, Interrupts, interrupts};
pub use job::{JobExecOptions, JobFailure, JobOutcome, Launcher, exec_job, read_status, run_job};
pub use journal::{JobVerdict, Journal, Record, RunView, TestEntry};
pub use scheduler::{ExecEvent, RunSummary, SchedOptions, TestOutcome, drive};
