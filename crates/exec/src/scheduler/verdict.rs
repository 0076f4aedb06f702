//! How an ended job is judged: the bundle's final status decides, the scheduler's state
//! explains, and a cancel or timeout the dispatcher asked for says why it was cut short.

use servebench_launch::{FailureKind, Finish};

use crate::journal::JobVerdict;

/// Why the dispatcher cut a job short, if it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CutShort {
    /// The run was cancelled (signal, `servebench cancel`).
    Cancelled,
    /// The job's wait limit or `TIMEOUT (N)` passed.
    TimedOut,
}

/// The verdict of one ended job.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// How it ended.
    pub verdict: JobVerdict,
    /// Failure class, when it failed.
    pub kind: Option<FailureKind>,
    /// Why, when it failed.
    pub reason: Option<String>,
    /// Whether `--retries` may resubmit it (infrastructure failures only).
    pub retryable: bool,
}

impl Verdict {
    fn new(verdict: JobVerdict, kind: Option<FailureKind>, reason: Option<String>) -> Verdict {
        Verdict {
            verdict,
            kind,
            reason,
            retryable: kind.is_some_and(FailureKind::is_retryable),
        }
    }
}

/// The decision table. A scheduler end state that is a failure (TIMEOUT, NODE_FAIL, PREEMPTED,
/// OUT_OF_MEMORY) wins over what the job wrote (a job killed at its time limit reports
/// TIMEOUT, not "interrupted by SIGTERM"); then a dispatcher timeout; then the job's own final
/// status; a job that ended without one is an infrastructure failure that names its logs.
pub fn verdict_of(
    scheduler_state: Option<&str>,
    exit_code: Option<i32>,
    finish: Option<&Finish>,
    cut: Option<CutShort>,
) -> Verdict {
    let by_scheduler = scheduler_state.and_then(FailureKind::from_slurm_state);
    match (by_scheduler, scheduler_state) {
        (Some(FailureKind::JobTimeout), _) => {
            return Verdict::new(
                JobVerdict::TimedOut,
                Some(FailureKind::JobTimeout),
                Some("SLURM time limit reached (TIMEOUT)".into()),
            );
        }
        (
            Some(
                k @ (FailureKind::NodeFailure | FailureKind::Preempted | FailureKind::OutOfMemory),
            ),
            Some(s),
        ) => {
            return Verdict::new(
                JobVerdict::InfraFailed,
                Some(k),
                Some(format!("SLURM state {s}")),
            );
        }
        _ => {}
    }
    if cut == Some(CutShort::TimedOut) {
        return Verdict::new(
            JobVerdict::TimedOut,
            Some(FailureKind::JobTimeout),
            Some("run-time limit reached; cancelled".into()),
        );
    }
    let cancelled = cut.is_some() || by_scheduler == Some(FailureKind::Cancelled);
    match finish {
        Some(f) if f.ok => Verdict::new(JobVerdict::Succeeded, None, None),
        // A cancel signals every step too: a client killed first is not a test failure.
        Some(_) if cancelled => Verdict::new(
            JobVerdict::Cancelled,
            Some(FailureKind::Cancelled),
            Some("cancelled".into()),
        ),
        Some(f) => {
            let kind = f.kind.unwrap_or(FailureKind::Io);
            let verdict = if kind.is_test_failure() {
                JobVerdict::Failed
            } else {
                JobVerdict::InfraFailed
            };
            Verdict::new(verdict, Some(kind), f.reason.clone())
        }
        None if cancelled => Verdict::new(
            JobVerdict::Cancelled,
            Some(FailureKind::Cancelled),
            Some("cancelled before the job reported".into()),
        ),
        None => {
            let state = scheduler_state.unwrap_or("gone");
            let code = exit_code.map_or_else(String::new, |c| format!(", exit code {c}"));
            Verdict::new(
                JobVerdict::InfraFailed,
                Some(FailureKind::Io),
                Some(format!(
                    "the job ended without a final status ({state}{code}); see logs/job-exec.log or logs/slurm-*.err"
                )),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fin(code: u8, kind: Option<FailureKind>, reason: Option<&str>) -> Finish {
        Finish {
            code,
            ok: code == 0,
            kind,
            reason: reason.map(str::to_string),
        }
    }

    #[test]
    fn decision_table() {
        let ok = fin(0, None, None);
        assert_eq!(
            verdict_of(Some("COMPLETED"), Some(0), Some(&ok), None).verdict,
            JobVerdict::Succeeded
        );
        let term = fin(
            143,
            Some(FailureKind::Interrupted),
            Some("interrupted by SIGTERM"),
        );
        let t = verdict_of(Some("TIMEOUT"), Some(0), Some(&term), None);
        assert_eq!(
            (t.verdict, t.kind),
            (JobVerdict::TimedOut, Some(FailureKind::JobTimeout))
        );
        assert!(t.reason.unwrap().contains("TIMEOUT"));
        let nf = verdict_of(Some("NODE_FAIL"), None, None, None);
        assert_eq!((nf.verdict, nf.retryable), (JobVerdict::InfraFailed, true));
        assert!(verdict_of(Some("PREEMPTED"), None, None, None).retryable);
        assert!(!verdict_of(Some("OUT_OF_MEMORY"), None, None, None).retryable);
        let ht = fin(
            3,
            Some(FailureKind::HealthTimeout),
            Some("health timeout: GEN_0"),
        );
        let h = verdict_of(Some("FAILED"), Some(3), Some(&ht), None);
        assert_eq!(
            (h.verdict, h.reason.as_deref(), h.retryable),
            (JobVerdict::InfraFailed, Some("health timeout: GEN_0"), true)
        );
        let crash = fin(3, Some(FailureKind::RoleExited), Some("GEN_0 (gen) exited"));
        let c = verdict_of(None, Some(3), Some(&crash), None);
        assert_eq!((c.verdict, c.retryable), (JobVerdict::InfraFailed, false));
        let client = fin(1, Some(FailureKind::Client), None);
        let cl = verdict_of(None, Some(1), Some(&client), None);
        assert_eq!((cl.verdict, cl.retryable), (JobVerdict::Failed, false));
        assert_eq!(
            verdict_of(Some("CANCELLED"), None, Some(&term), None).verdict,
            JobVerdict::Cancelled
        );
        assert_eq!(
            verdict_of(Some("CANCELLED"), None, None, None).verdict,
            JobVerdict::Cancelled
        );
        assert_eq!(
            verdict_of(None, None, None, Some(CutShort::TimedOut)).verdict,
            JobVerdict::TimedOut
        );
        let gone = verdict_of(Some("FAILED"), Some(127), None, None);
        assert_eq!(gone.verdict, JobVerdict::InfraFailed);
        assert!(gone.reason.unwrap().contains("FAILED, exit code 127"));
    }
}
