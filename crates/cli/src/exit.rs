//! Process exit codes, defined once. Documented in `docs/exit-codes.md`; keep both in sync.

/// Success: the command did what was asked and every check passed.
pub const OK: u8 = 0;
/// The command's own check failed: invalid configs (`validate`), failed, invalid or regressed
/// tests (`run`), failed requests (`bench`).
pub const FAILED: u8 = 1;
/// Usage error: bad command line, unreadable input path, unknown test list entry.
pub const USAGE: u8 = 2;
/// Infrastructure error: scheduler unavailable, server unreachable, internal error.
pub const INFRA: u8 = 3;
/// Interrupted by Ctrl-C or SIGTERM (128 + SIGINT).
pub const INTERRUPTED: u8 = 130;

use std::process::ExitCode;

use servebench_suite::{PipelineError, RunReport};

/// The exit code of a pipeline error.
pub fn of_error(e: &PipelineError) -> ExitCode {
    ExitCode::from(match e {
        PipelineError::Usage(_) => USAGE,
        PipelineError::Invalid(_) => FAILED,
        PipelineError::Infra(_) => INFRA,
    })
}

/// The exit code of a finished run: interrupted 130; any case not passed or skipped 1; else 0
/// (a detached run that submitted its window is 0).
pub fn of_report(r: &RunReport) -> ExitCode {
    ExitCode::from(if r.interrupted {
        INTERRUPTED
    } else if r.all_passed() {
        OK
    } else {
        FAILED
    })
}
