//! servebench loadgen (skeleton; filled by its issue).

pub mod cli {
    //! Command-line arguments and entry point.

    /// Arguments (placeholder until the issue lands).
    #[derive(Debug, clap::Args)]
    pub struct BenchArgs {}

    /// Runs the command and returns the process exit code.
    pub fn run(_args: BenchArgs) -> u8 {
        eprintln!("error: not implemented yet");
        3
    }
}
