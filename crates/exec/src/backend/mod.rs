//! Executors: where jobs run, behind one [`Backend`] trait the dispatcher is generic over.
//! [`AnyBackend`] is the closed set a run chooses from (STYLE 5): the local executor runs
//! `servebench job exec` as child process groups; the SLURM executor submits the bundle's batch
//! script with `sbatch` and polls `squeue`/`sacct` through a [`CommandRunner`], the seam that
//! lets state mapping run on canned text. [`FakeBackend`] is a scripted executor for tests.

pub mod fake;
pub mod local;
pub mod slurm;

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};

use servebench_launch::Scheduler;

pub use fake::FakeBackend;
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

/// The subprocess boundary (STYLE 5): every scheduler command (`sbatch`, `squeue`, `sacct`,
/// `scancel`, `scontrol`) goes through it; tests replace it with canned text.
pub trait CommandRunner: Send + Sync {
    /// Runs `argv` and captures its output.
    fn run(&self, argv: &[String]) -> impl Future<Output = std::io::Result<CommandOutput>> + Send;
}

/// An executor as the dispatcher sees it.
pub trait Backend: Send {
    /// Which scheduler this is.
    fn kind(&self) -> Scheduler;
    /// The exact command that submits `bundle` (for `--dry-run` and the journal).
    fn submit_command(&self, bundle: &Path) -> Vec<String>;
    /// Checks the executor can submit at all (SLURM: `sbatch --version`), before anything is
    /// written.
    fn preflight(&mut self) -> impl Future<Output = Result<(), BackendError>> + Send;
    /// Submits one bundle and returns its job id.
    fn submit(
        &mut self,
        bundle: &Path,
    ) -> impl Future<Output = Result<String, BackendError>> + Send;
    /// States of the given jobs (one scheduler query for all of them).
    fn poll(
        &mut self,
        ids: &[String],
    ) -> impl Future<Output = Result<BTreeMap<String, Remote>, BackendError>> + Send;
    /// Asks the jobs to stop (SIGTERM to local process groups, `scancel` on SLURM).
    fn cancel(&mut self, ids: &[String]) -> impl Future<Output = Result<(), BackendError>> + Send;
    /// Stops the jobs at once (SIGKILL, `scancel --signal=KILL`).
    fn kill(&mut self, ids: &[String]) -> impl Future<Output = Result<(), BackendError>> + Send;
    /// Takes over a job submitted by an earlier process (`resume`).
    fn reattach(&mut self, id: &str, bundle: PathBuf);
    /// Finds a job an earlier process may have submitted for `bundle` without recording its id
    /// (it died between `submitting` and `submitted`).
    fn find_submitted(&mut self, bundle: &Path) -> impl Future<Output = Option<String>> + Send;
    /// Scheduler command counts (`squeue` -> 12), for reports and tests.
    fn call_counts(&self) -> BTreeMap<String, u64>;
}

/// Every real executor, dispatched without `dyn` (the set is closed).
#[derive(Debug)]
pub enum AnyBackend {
    /// Child process groups on this machine.
    Local(LocalBackend),
    /// SLURM through sbatch/squeue/sacct/scancel.
    Slurm(SlurmBackend<SystemRunner>),
}

impl AnyBackend {
    /// The executor of `kind`; `bin` is the servebench binary jobs run (`job exec`).
    pub fn new(kind: Scheduler, bin: PathBuf) -> AnyBackend {
        match kind {
            Scheduler::Slurm => {
                let runner = SystemRunner {
                    env: vec![("SERVEBENCH_BIN".into(), bin.display().to_string())],
                };
                AnyBackend::Slurm(SlurmBackend::new(runner, Vec::new()))
            }
            Scheduler::Local => AnyBackend::Local(LocalBackend::new(bin)),
        }
    }
}

impl Backend for AnyBackend {
    fn kind(&self) -> Scheduler {
        match self {
            AnyBackend::Local(_) => Scheduler::Local,
            AnyBackend::Slurm(_) => Scheduler::Slurm,
        }
    }

    fn submit_command(&self, bundle: &Path) -> Vec<String> {
        match self {
            AnyBackend::Local(b) => b.submit_command(bundle),
            AnyBackend::Slurm(b) => b.submit_command(bundle),
        }
    }

    async fn preflight(&mut self) -> Result<(), BackendError> {
        match self {
            AnyBackend::Local(_) => Ok(()),
            AnyBackend::Slurm(b) => b.preflight().await,
        }
    }

    async fn submit(&mut self, bundle: &Path) -> Result<String, BackendError> {
        match self {
            AnyBackend::Local(b) => b.submit(bundle),
            AnyBackend::Slurm(b) => b.submit(bundle).await,
        }
    }

    async fn poll(&mut self, ids: &[String]) -> Result<BTreeMap<String, Remote>, BackendError> {
        match self {
            AnyBackend::Local(b) => Ok(b.poll(ids)),
            AnyBackend::Slurm(b) => b.poll(ids).await,
        }
    }

    async fn cancel(&mut self, ids: &[String]) -> Result<(), BackendError> {
        match self {
            AnyBackend::Local(b) => {
                b.signal(ids, nix::sys::signal::Signal::SIGTERM);
                Ok(())
            }
            AnyBackend::Slurm(b) => b.cancel(ids, false).await,
        }
    }

    async fn kill(&mut self, ids: &[String]) -> Result<(), BackendError> {
        match self {
            AnyBackend::Local(b) => {
                b.signal(ids, nix::sys::signal::Signal::SIGKILL);
                Ok(())
            }
            AnyBackend::Slurm(b) => b.cancel(ids, true).await,
        }
    }

    fn reattach(&mut self, id: &str, bundle: PathBuf) {
        if let AnyBackend::Local(b) = self {
            b.reattach(id, bundle);
        }
    }

    async fn find_submitted(&mut self, bundle: &Path) -> Option<String> {
        match self {
            AnyBackend::Local(b) => {
                let id = b.find_by_bundle(bundle)?;
                b.reattach(&id, bundle.to_path_buf());
                Some(id)
            }
            AnyBackend::Slurm(b) => b.find_by_workdir(bundle).await,
        }
    }

    fn call_counts(&self) -> BTreeMap<String, u64> {
        match self {
            AnyBackend::Local(_) => BTreeMap::new(),
            AnyBackend::Slurm(b) => b.call_counts(),
        }
    }
}
