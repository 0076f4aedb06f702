//! Running suites: the in-job orchestrator, executors, the windowed scheduler and the run journal.
//!
//! This crate owns tokio for execution (STYLE 6). It never prints to stdout; the CLI renders what
//! it reports.
//!
//! - [`job`]: `servebench job exec BUNDLE` (SPEC 6.2): executes a bundle's `launch.json` through
//!   a [`job::Launcher`] and writes `status.jsonl` events.
#![doc = "- executors, scheduler and journal: see the modules below."]

pub mod job;
mod proc;

pub use job::{
    JobExecOptions, JobFailure, JobOutcome, Launcher, StatusEvent, exec_job, read_status, run_job,
};
