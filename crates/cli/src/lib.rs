//! The `servebench` command line.
//!
//! This crate only wires the layers together: it parses arguments with clap, converts them into
//! library inputs, calls one entry point per subcommand (`cmd/<name>.rs`) and renders the result.
//! Exit codes are defined once in [`exit`] and documented in `docs/exit-codes.md`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// `eprintln!` that never panics: a full disk or a closed pipe behind stderr must not turn a
/// message into a crash (the message is lost; the exit code still says what happened).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

/// `println!` that never panics (`servebench list | head` closes the pipe early).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

mod cmd;
pub mod exit;
mod live;
mod prepare;
mod suite;

/// Run performance and accuracy test suites for LLM serving.
#[derive(Debug, Parser)]
#[command(name = "servebench", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List test cases, grouped by test type, category and model.
    List(cmd::list::ListArgs),
    /// Show one config: its test cases, or with --resolved every value and where it came from.
    Show(cmd::show::ShowArgs),
    /// Check configs against every validation rule before any GPU is spent.
    Validate(cmd::validate::ValidateArgs),
    /// Plan nodes, GPUs, ports and the SLURM request of every selected test.
    Plan(cmd::plan::PlanArgs),
    /// Write one self-contained job bundle per selected test.
    Render(cmd::render::RenderArgs),
    /// Load-test an OpenAI-compatible server (the built-in benchmark client).
    Bench(Box<servebench_loadgen::cli::BenchArgs>),
    /// Run the GPU-free simulated serving engine.
    Sim(Box<servebench_sim::cli::SimArgs>),
    /// Run the selected tests: validate, plan, render, execute, judge, report.
    Run(Box<cmd::run::RunArgs>),
    /// Show a run's state (default: the newest run).
    Status(cmd::status::StatusArgs),
    /// Cancel every job of a run in flight.
    Cancel(cmd::cancel::CancelArgs),
    /// Continue a run whose `servebench run` died or detached; never submits a test twice.
    Resume(cmd::resume::ResumeArgs),
    /// In-job commands (`job exec BUNDLE`: the orchestrator that runs inside the allocation).
    Job(cmd::job::JobArgs),
    /// Judge and store runs made earlier or elsewhere (a run directory or bundles).
    Collect(cmd::collect::CollectArgs),
    /// Stored measurements over time, newest last, config changes marked.
    History(cmd::history::HistoryArgs),
    /// Judge a run's gated metrics against their baselines; exit 1 on a regression (the CI gate).
    Check(cmd::check::CheckArgs),
    /// Compare two runs: per test and concurrency the deltas and their significance.
    Compare(cmd::compare::CompareArgs),
    /// Curate baselines: pin a run or tag, accept an intended change.
    Baseline(cmd::baseline::BaselineArgs),
    /// Import upstream results CSVs or earlier results.json files into the history.
    Import(cmd::import::ImportArgs),
    /// Export the history (OpenSearch bulk documents).
    Export(cmd::export::ExportArgs),
    /// Write the HTML report (or Markdown CI summary) of one or more runs.
    Report(cmd::report::ReportArgs),
    /// Print a shell completion script (bash, zsh, fish, ...).
    Completions(cmd::completions::CompletionsArgs),
}

/// Parses the process arguments, runs the subcommand and returns its exit code.
pub fn main_impl() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // clap prints help/version to stdout with code 0 and usage errors with code 2.
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    match cli.command {
        Command::List(args) => cmd::list::run(args),
        Command::Show(args) => cmd::show::run(args),
        Command::Validate(args) => cmd::validate::run(args),
        Command::Plan(args) => cmd::plan::run(args),
        Command::Render(args) => cmd::render::run(args),
        Command::Bench(args) => cmd::bench::run(*args),
        Command::Sim(args) => cmd::sim::run(*args),
        Command::Job(args) => cmd::job::run(args),
        Command::Run(args) => cmd::run::run(*args),
        Command::Status(args) => cmd::status::run(args),
        Command::Cancel(args) => cmd::cancel::run(args),
        Command::Resume(args) => cmd::resume::run(args),
        Command::Collect(args) => cmd::collect::run(args),
        Command::History(args) => cmd::history::run(args),
        Command::Check(args) => cmd::check::run(args),
        Command::Compare(args) => cmd::compare::run(args),
        Command::Baseline(args) => cmd::baseline::run(args),
        Command::Import(args) => cmd::import::run(args),
        Command::Export(args) => cmd::export::run(args),
        Command::Report(args) => cmd::report::run(args),
        Command::Completions(args) => cmd::completions::run(args),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
