//! `servebench job exec BUNDLE`: the in-job orchestrator (SPEC 6.2), run inside the allocation
//! (or locally by the local executor).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use servebench_exec::{JobExecOptions, Launcher, run_job};

/// `servebench job ...`.
#[derive(Debug, Args)]
pub struct JobArgs {
    #[command(subcommand)]
    command: JobCommand,
}

#[derive(Debug, Subcommand)]
enum JobCommand {
    /// Execute a bundle's launch.json: servers, health gate, router, benchmark, accuracy,
    /// teardown. Exit 0 on success; 1 a client or accuracy step failed; 2 unreadable bundle;
    /// 3 infrastructure (health timeout, a role exited, fatal log pattern); 130/143 interrupted.
    Exec(ExecArgs),
}

/// Launcher on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LauncherArg {
    /// Process groups on this machine, ports remapped to free ones.
    Local,
    /// srun steps inside the SLURM allocation.
    Srun,
}

#[derive(Debug, Args)]
struct ExecArgs {
    /// The bundle directory (holds launch.json).
    bundle: PathBuf,
    /// How processes start [default: srun inside a SLURM allocation for a SLURM bundle, else
    /// local].
    #[arg(long, value_enum)]
    launcher: Option<LauncherArg>,
    /// Override every server's health timeout (seconds).
    #[arg(long, value_name = "SECS")]
    health_timeout: Option<u64>,
}

/// Runs the subcommand.
pub fn run(args: JobArgs) -> ExitCode {
    match args.command {
        JobCommand::Exec(a) => {
            let bin = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("servebench"));
            let opts = JobExecOptions {
                bundle: a.bundle,
                launcher: a.launcher.map(|l| match l {
                    LauncherArg::Local => Launcher::Local,
                    LauncherArg::Srun => Launcher::Srun,
                }),
                health_timeout: a.health_timeout.map(Duration::from_secs),
                servebench_bin: bin,
            };
            let outcome = run_job(&opts);
            ExitCode::from(outcome.exit_code())
        }
    }
}
