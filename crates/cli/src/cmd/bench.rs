//! `servebench bench`: the built-in load generator.

use std::process::ExitCode;

/// Runs the load generator with the given arguments.
pub fn run(args: servebench_loadgen::cli::BenchArgs) -> ExitCode {
    ExitCode::from(servebench_loadgen::cli::run(args))
}
