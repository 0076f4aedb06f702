//! Command-line arguments and entry point.

/// Arguments (placeholder until the issue lands).
#[derive(Debug, clap::Args)]
pub struct SimArgs {}

/// Runs the command and returns the process exit code.
pub fn run(_args: SimArgs) -> u8 {
    eprintln!("error: not implemented yet");
    3
}
