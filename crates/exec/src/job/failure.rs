//! [`JobFailure`]: why a `job exec` failed, its exit code and its [`FailureKind`].

use servebench_launch::{FailureKind, Role};

/// Why a job failed. The exit code of `job exec` follows from it ([`JobFailure::exit_code`]).
#[derive(Debug, thiserror::Error)]
pub enum JobFailure {
    /// The bundle or its launch spec could not be read.
    #[error("cannot read bundle {path}: {message}")]
    Bundle {
        /// Bundle directory.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The allocation's nodes could not be resolved.
    #[error("cannot resolve nodes: {0}")]
    Nodes(String),
    /// A setup step failed.
    #[error("setup step `{step}` failed ({status})")]
    Setup {
        /// Step name.
        step: String,
        /// Exit status.
        status: String,
    },
    /// A process could not be started.
    #[error("cannot start {name}: {message}")]
    Spawn {
        /// Process or step name.
        name: String,
        /// OS error.
        message: String,
    },
    /// A server did not answer the expected status in time.
    #[error("health timeout: {name} not healthy after {secs}s ({url}, last answer: {last})")]
    HealthTimeout {
        /// Server name.
        name: String,
        /// Health URL.
        url: String,
        /// Seconds waited.
        secs: u64,
        /// Last status seen, or `none`.
        last: String,
    },
    /// A server or the router exited.
    #[error("{name} ({role}) exited: {status}")]
    RoleExited {
        /// Process name.
        name: String,
        /// Role.
        role: Role,
        /// Exit status.
        status: String,
    },
    /// A fatal pattern appeared in a log.
    #[error("fatal pattern `{pattern}` in {name} log: {line}")]
    Fatal {
        /// Process name.
        name: String,
        /// Pattern.
        pattern: String,
        /// The line.
        line: String,
    },
    /// Client runs failed (the other runs still ran).
    #[error("benchmark client failed at concurrency {}", .failed.iter().map(u64::to_string).collect::<Vec<_>>().join(", "))]
    Client {
        /// Concurrencies whose client exited non-zero.
        failed: Vec<u64>,
    },
    /// An accuracy step failed.
    #[error("accuracy step `{task}` failed ({status})")]
    Accuracy {
        /// Step name.
        task: String,
        /// Exit status.
        status: String,
    },
    /// SIGTERM or SIGINT arrived.
    #[error("interrupted by {signal}")]
    Interrupted {
        /// `SIGTERM` or `SIGINT`.
        signal: &'static str,
    },
    /// A file could not be written.
    #[error("{what}: {message}")]
    Io {
        /// What was being done.
        what: String,
        /// OS error.
        message: String,
    },
}

/// Exit codes of `servebench job exec`.
pub mod exit_code {
    /// Success.
    pub const OK: u8 = 0;
    /// A client or accuracy step failed while the servers stayed up.
    pub const STEP_FAILED: u8 = 1;
    /// The bundle could not be read.
    pub const BAD_BUNDLE: u8 = 2;
    /// Infrastructure: setup, start, health timeout, a role exited, a fatal log pattern.
    pub const INFRA: u8 = 3;
    /// SIGINT.
    pub const SIGINT: u8 = 130;
    /// SIGTERM (scancel, time limit).
    pub const SIGTERM: u8 = 143;
}

impl JobFailure {
    /// The exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            JobFailure::Client { .. } | JobFailure::Accuracy { .. } => exit_code::STEP_FAILED,
            JobFailure::Bundle { .. } => exit_code::BAD_BUNDLE,
            JobFailure::Interrupted { signal } => {
                if *signal == "SIGINT" {
                    exit_code::SIGINT
                } else {
                    exit_code::SIGTERM
                }
            }
            JobFailure::Nodes(_)
            | JobFailure::Setup { .. }
            | JobFailure::Spawn { .. }
            | JobFailure::HealthTimeout { .. }
            | JobFailure::RoleExited { .. }
            | JobFailure::Fatal { .. }
            | JobFailure::Io { .. } => exit_code::INFRA,
        }
    }

    /// The failure class, recorded in `status.jsonl`.
    pub fn kind(&self) -> FailureKind {
        match self {
            JobFailure::Bundle { .. } => FailureKind::Bundle,
            JobFailure::Nodes(_) => FailureKind::Nodes,
            JobFailure::Setup { .. } => FailureKind::Setup,
            JobFailure::Spawn { .. } => FailureKind::Spawn,
            JobFailure::HealthTimeout { .. } => FailureKind::HealthTimeout,
            JobFailure::RoleExited { .. } => FailureKind::RoleExited,
            JobFailure::Fatal { .. } => FailureKind::FatalPattern,
            JobFailure::Client { .. } => FailureKind::Client,
            JobFailure::Accuracy { .. } => FailureKind::Accuracy,
            JobFailure::Interrupted { .. } => FailureKind::Interrupted,
            JobFailure::Io { .. } => FailureKind::Io,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_by_failure() {
        assert_eq!(
            JobFailure::Client {
                failed: vec![8, 16]
            }
            .exit_code(),
            1
        );
        assert_eq!(
            JobFailure::Client {
                failed: vec![8, 16]
            }
            .to_string(),
            "benchmark client failed at concurrency 8, 16"
        );
        assert_eq!(
            JobFailure::Interrupted { signal: "SIGTERM" }.exit_code(),
            143
        );
        assert_eq!(
            JobFailure::Interrupted { signal: "SIGINT" }.exit_code(),
            130
        );
        assert_eq!(JobFailure::Nodes("x".into()).exit_code(), 3);
    }
}
