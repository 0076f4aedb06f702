//! `servebench import FILE...`: brings upstream `perf_script_test_results.csv` history and the
//! `results.json` of earlier servebench runs into the history database; importing a file again
//! adds nothing.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use servebench_store::import::import_file;

use super::history::DbArgs;
use crate::exit;

/// Arguments of `servebench import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Files: upstream results CSVs, or servebench `results.json` files (by the `.json`
    /// extension).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Label of the imported runs (`main`, a branch).
    #[arg(long, value_name = "L")]
    label: Option<String>,
    #[command(flatten)]
    db: DbArgs,
}

/// Imports every file; stops at the first unreadable one. Exit 0, 2 on a bad file, 3 when the
/// database fails.
pub fn run(args: ImportArgs) -> ExitCode {
    let mut store = match args.db.open(false) {
        Ok(s) => s,
        Err(code) => return code,
    };
    for file in &args.files {
        match import_file(store.as_mut(), file, args.label.as_deref()) {
            Ok(s) => say!(
                "{}: {} measurements of {} tests in {} runs, {} new",
                file.display(),
                s.read,
                s.tests,
                s.runs,
                s.inserted
            ),
            Err(e) => {
                say!("error: {e}");
                return ExitCode::from(match e {
                    servebench_store::Error::Io { .. } | servebench_store::Error::Format { .. } => {
                        exit::USAGE
                    }
                    _ => exit::INFRA,
                });
            }
        }
    }
    ExitCode::from(exit::OK)
}
