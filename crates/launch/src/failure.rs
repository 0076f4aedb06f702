//! Why a job failed, as one closed set shared by the orchestrator (which records it in
//! `status.jsonl`), the scheduler (which decides retries) and the collector (which explains it).

use serde::{Deserialize, Serialize};

/// The class of a job failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The bundle or its launch spec could not be read.
    Bundle,
    /// The allocation's nodes could not be resolved.
    Nodes,
    /// A setup (install) step failed.
    Setup,
    /// A process could not be started.
    Spawn,
    /// A server did not become healthy in time.
    HealthTimeout,
    /// A server or the router exited while the job ran.
    RoleExited,
    /// A fatal pattern appeared in a log.
    FatalPattern,
    /// A benchmark client run failed (the servers stayed up).
    Client,
    /// An accuracy step failed.
    Accuracy,
    /// SIGINT or SIGTERM reached the orchestrator (a cancel).
    Interrupted,
    /// The job's time limit (SLURM `--time`, `TIMEOUT (N)`, the outer wait limit) was reached.
    JobTimeout,
    /// The scheduler reported a node failure (`NODE_FAIL`, `BOOT_FAIL`).
    NodeFailure,
    /// The scheduler preempted the job.
    Preempted,
    /// The job ran out of memory (`OUT_OF_MEMORY`) or hit a deadline.
    OutOfMemory,
    /// The job was cancelled before it could report.
    Cancelled,
    /// A file could not be written, or the job ended without a final status.
    Io,
}

impl FailureKind {
    /// Whether the failure is the test's own (a client or accuracy step), as opposed to
    /// infrastructure.
    pub fn is_test_failure(self) -> bool {
        matches!(self, FailureKind::Client | FailureKind::Accuracy)
    }

    /// Whether `--retries` may resubmit after this failure (SPEC 8.3: node failure, preemption,
    /// health timeout; never test failures).
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            FailureKind::NodeFailure | FailureKind::Preempted | FailureKind::HealthTimeout
        )
    }

    /// The stable snake_case name (`health_timeout`).
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Bundle => "bundle",
            FailureKind::Nodes => "nodes",
            FailureKind::Setup => "setup",
            FailureKind::Spawn => "spawn",
            FailureKind::HealthTimeout => "health_timeout",
            FailureKind::RoleExited => "role_exited",
            FailureKind::FatalPattern => "fatal_pattern",
            FailureKind::Client => "client",
            FailureKind::Accuracy => "accuracy",
            FailureKind::Interrupted => "interrupted",
            FailureKind::JobTimeout => "job_timeout",
            FailureKind::NodeFailure => "node_failure",
            FailureKind::Preempted => "preempted",
            FailureKind::OutOfMemory => "out_of_memory",
            FailureKind::Cancelled => "cancelled",
            FailureKind::Io => "io",
        }
    }

    /// The failure a SLURM end state stands for, if it is one (`TIMEOUT`, `NODE_FAIL`, ...).
    pub fn from_slurm_state(state: &str) -> Option<FailureKind> {
        Some(match state {
            "TIMEOUT" => FailureKind::JobTimeout,
            "NODE_FAIL" | "BOOT_FAIL" => FailureKind::NodeFailure,
            "PREEMPTED" => FailureKind::Preempted,
            "OUT_OF_MEMORY" | "DEADLINE" => FailureKind::OutOfMemory,
            "CANCELLED" => FailureKind::Cancelled,
            _ => return None,
        })
    }
}

impl std::fmt::Display for FailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_policy_and_names() {
        for k in [
            FailureKind::NodeFailure,
            FailureKind::Preempted,
            FailureKind::HealthTimeout,
        ] {
            assert!(k.is_retryable(), "{k}");
            assert!(!k.is_test_failure());
        }
        for k in [
            FailureKind::Client,
            FailureKind::Accuracy,
            FailureKind::RoleExited,
        ] {
            assert!(!k.is_retryable(), "{k}");
        }
        let json = serde_json::to_string(&FailureKind::HealthTimeout).unwrap();
        assert_eq!(json, "\"health_timeout\"");
        assert_eq!(
            FailureKind::from_slurm_state("NODE_FAIL"),
            Some(FailureKind::NodeFailure)
        );
        assert_eq!(FailureKind::from_slurm_state("COMPLETED"), None);
    }
}
