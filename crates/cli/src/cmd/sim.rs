//! `servebench sim`: the GPU-free simulated serving engine.

use std::process::ExitCode;

/// Runs a simulator role with the given arguments.
pub fn run(args: servebench_sim::cli::SimArgs) -> ExitCode {
    ExitCode::from(servebench_sim::cli::run(args))
}
