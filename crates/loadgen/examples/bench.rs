//! `servebench bench` without the rest of the CLI: used by `benches/loadgen_vs_peers.sh` so the
//! client can be built and measured on its own.

use std::process::ExitCode;

use clap::Parser;
use servebench_loadgen::cli::{BenchArgs, run};

/// Load-test an OpenAI-compatible server.
#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    args: BenchArgs,
}

fn main() -> ExitCode {
    ExitCode::from(run(Cli::parse().args))
}
