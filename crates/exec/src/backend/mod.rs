//! Executors: where jobs run. A closed set dispatched through [`AnyBackend`] (STYLE 5): the
//! local executor runs `servebench job exec` as child process groups; the SLURM executor submits
//! the bundle's batch script with `sbatch` and polls `squeue`/`sacct` through a
//! [`CommandRunner`], the seam that lets state mapping run on canned text.

pub mod local;
pub mod slurm;

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};

pub use local::LocalBackend;
pub use slurm::{SlurmBackend, SystemRunner};

/// What a backend reports about one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remote {
    /// Queued (SLURM PENDING with its reason, or CONFIGURING).
    Pending {
        /// Scheduler reason (`Resources`, `Priority`, ...).
        reason: String,
    },
    /// Running.
    Running,
    /// Ended.
    Done {
        /// Scheduler state (`COMPLETED`, `FAILED`, `TIMEOUT`, `NODE_FAIL`, `PREEMPTED`,
        /// `CANCELLED`, `OUT_OF_MEMORY`, ...; `EXITED` for a local job).
        state: String,
        /// Exit code of the batch script or `job exec`, when known.
        exit_code: Option<i32>,
    },
    /// The scheduler no longer knows the job and accounting has nothing (or is off): the bundle's
    /// status file must decide.
    Gone,
}

/// Why a backend call failed.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// A scheduler command could not be run or failed.
    #[error("`{command}` failed: {message}")]
    Command {
        /// The command line.
        command: String,
        /// stderr or the OS error.
        message: String,
    },
    /// A job could not be started locally.
    #[error("cannot start `servebench job exec` for {bundle}: {message}")]
    Spawn {
        /// Bundle directory.
        bundle: String,
        /// OS error.
        message: String,
    },
    /// A job id this backend cannot handle.
    #[error("job id `{0}` does not belong to this executor")]
    ForeignId(String),
}

/// The output of one scheduler command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandOutput {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// The subprocess boundary of the SLURM executor (STYLE 5): tests replace it with canned text.
pub trait CommandRunner: Send + Sync {
    /// Runs `argv` and captures its output.
    fn run(&self, argv: &[String]) -> impl Future<Output = std::io::Result<CommandOutput>> + Send;
}

/// Every executor, dispatched without `dyn` (the set is closed).
#[derive(Debug)]
pub enum AnyBackend {
    /// Child process groups on this machine.
    Local(LocalBackend),
    /// SLURM through sbatch/squeue/sacct/scancel.
    Slurm(SlurmBackend<SystemRunner>),
}

impl AnyBackend {
    /// `local` or `slurm`.
    pub fn name(&self) -> &'static str {
        match self {
            AnyBackend::Local(_) => "local",
            AnyBackend::Slurm(_) => "slurm",
        }
    }

    /// The exact command that submits `bundle` (for `--dry-run` and the journal).
    pub fn submit_command(&self, bundle: &Path) -> Vec<String> {
        match self {
            AnyBackend::Local(b) => b.submit_command(bundle),
            AnyBackend::Slurm(b) => b.submit_command(bundle),
        }
    }

    /// Submits one bundle and returns its job id.
    pub async fn submit(&mut self, bundle: &Path) -> Result<String, BackendError> {
        match self {
            AnyBackend::Local(b) => b.submit(bundle),
            AnyBackend::Slurm(b) => b.submit(bundle).await,
        }
    }

    /// States of the given jobs (one scheduler query for all of them).
    pub async fn poll(&mut self, ids: &[String]) -> Result<BTreeMap<String, Remote>, BackendError> {
        match self {
            AnyBackend::Local(b) => Ok(b.poll(ids)),
            AnyBackend::Slurm(b) => b.poll(ids).await,
        }
    }

    /// Asks the jobs to stop (SIGTERM to local process groups, `scancel` on SLURM).
    pub async fn cancel(&mut self, ids: &[String]) -> Result<(), BackendError> {
        match self {
            AnyBackend::Local(b) => {
                b.signal(ids, nix::sys::signal::Signal::SIGTERM);
                Ok(())
            }
            AnyBackend::Slurm(b) => b.cancel(ids, false).await,
        }
    }

    /// Stops the jobs at once (SIGKILL to local process groups, `scancel --signal=KILL`).
    pub async fn kill(&mut self, ids: &[String]) -> Result<(), BackendError> {
        match self {
            AnyBackend::Local(b) => {
                b.signal(ids, nix::sys::signal::Signal::SIGKILL);
                Ok(())
            }
            AnyBackend::Slurm(b) => b.cancel(ids, true).await,
        }
    }

    /// Takes over a job submitted by an earlier process (`resume`).
    pub fn reattach(&mut self, id: &str, bundle: PathBuf) {
        if let AnyBackend::Local(b) = self {
            b.reattach(id, bundle);
        }
    }

    /// Finds a job an earlier process may have submitted for `bundle` without recording its id
    /// (it died between `submitting` and `submitted`): SLURM jobs still queued or running with
    /// that working directory (then ended ones, from accounting); a live local `job exec` of
    /// that bundle.
    pub async fn find_submitted(&mut self, bundle: &Path) -> Option<String> {
        match self {
            AnyBackend::Local(b) => {
                let id = b.find_by_bundle(bundle)?;
                b.reattach(&id, bundle.to_path_buf());
                Some(id)
            }
            AnyBackend::Slurm(b) => b.find_by_workdir(bundle).await,
        }
    }

    /// Scheduler command counts (`squeue` -> 12), for reports and tests.
    pub fn call_counts(&self) -> BTreeMap<String, u64> {
        match self {
            AnyBackend::Local(_) => BTreeMap::new(),
            AnyBackend::Slurm(b) => b.call_counts(),
        }
    }
}
