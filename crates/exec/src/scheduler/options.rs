//! What a run asks of the scheduler.

use std::time::Duration;

use servebench_launch::Scheduler;

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
    /// Outer wait limit per job, queue time included (`None`: no limit).
    pub job_timeout: Option<Duration>,
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
            job_timeout: Some(Duration::from_secs(crate::journal::DEFAULT_JOB_TIMEOUT_S)),
            cancel_grace: Duration::from_secs(60),
            lazy_batches: false,
        }
    }
}

impl SchedOptions {
    /// Defaults per executor: local jobs are cheap to poll; slurmctld is never hammered.
    pub fn for_executor(kind: Scheduler) -> SchedOptions {
        match kind {
            Scheduler::Slurm => SchedOptions {
                poll_min: Duration::from_secs(1),
                poll_max: Duration::from_secs(10),
                ..SchedOptions::default()
            },
            Scheduler::Local => SchedOptions {
                poll_min: Duration::from_millis(100),
                poll_max: Duration::from_secs(1),
                cancel_grace: Duration::from_secs(45),
                ..SchedOptions::default()
            },
        }
    }

    /// `--job-timeout SECS` as journaled: 0 means no limit.
    pub fn job_timeout_from_secs(secs: u64) -> Option<Duration> {
        (secs > 0).then(|| Duration::from_secs(secs))
    }
}
