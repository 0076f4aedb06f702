//! `servebench validate`: every SPEC section 4 rule, before any GPU is spent.

use std::fmt::Write as _;
use std::process::ExitCode;

use clap::Args;
use serde_json::json;
use servebench_config::diag::{Diagnostic, Severity};
use servebench_config::validate::ValidateOptions;

use crate::exit;
use crate::suite::{Format, SuiteArgs, print, usage};

/// Arguments of `servebench validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    suite: SuiteArgs,
    /// Treat warnings as errors.
    #[arg(long)]
    strict: bool,
    /// Validate as right before submission: unresolved `<placeholders>` are errors.
    #[arg(long)]
    submission: bool,
    /// Also print informational findings (unresolved placeholders).
    #[arg(short, long)]
    verbose: bool,
    /// Only print the summary.
    #[arg(short, long, conflicts_with = "verbose")]
    quiet: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// Validates the selected configs. Exit 0 when no error was found (no warning either with
/// `--strict`), 1 otherwise, 2 on usage errors.
pub fn run(args: ValidateArgs) -> ExitCode {
    let mut loaded = match args.suite.load() {
        Ok(l) => l,
        Err(e) => return usage(e),
    };
    let opts = ValidateOptions {
        submission: args.submission,
    };
    loaded.suite.validate(&opts);
    let fails = |d: &Diagnostic| {
        d.severity == Severity::Error || (args.strict && d.severity == Severity::Warning)
    };
    let mut counts = [0usize; 3];
    let mut files = Vec::new();
    let mut human = String::new();
    let mut checked = 0usize;
    for problem in &loaded.suite.problems {
        counts[2] += 1;
        let _ = write!(human, "{}", problem.render(None));
        if args.format == Format::Json {
            files.push(json!({"path": problem.file, "status": "error", "test_ids": [], "diagnostics": [problem]}));
        }
    }
    for (i, file) in loaded.suite.files.iter().enumerate() {
        if !loaded.file_selected(i) || file.skipped.is_some() {
            continue;
        }
        checked += 1;
        for d in &file.diagnostics {
            counts[d.severity as usize] += 1;
            let shown = match d.severity {
                Severity::Info => args.verbose,
                _ => !args.quiet,
            };
            if shown {
                human.push_str(&d.render(file.source.as_deref()));
                human.push('\n');
            }
        }
        let status = if file
            .diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
        {
            "error"
        } else if file
            .diagnostics
            .iter()
            .any(|d| d.severity == Severity::Warning)
        {
            "warning"
        } else {
            "ok"
        };
        if args.format == Format::Json {
            let ids: Vec<&str> = file.cases.iter().map(|c| c.test_id.as_str()).collect();
            files.push(json!({"path": file.path, "status": status, "test_ids": ids, "diagnostics": file.diagnostics}));
        }
    }
    let failed = loaded.suite.problems.iter().any(fails)
        || loaded
            .suite
            .files
            .iter()
            .enumerate()
            .filter(|(i, f)| loaded.file_selected(*i) && f.skipped.is_none())
            .any(|(_, f)| f.diagnostics.iter().any(fails));
    let [infos, warnings, errors] = counts;
    match args.format {
        Format::Json => {
            let doc = json!({
                "schema_version": 1,
                "ok": !failed,
                "strict": args.strict,
                "files": files,
                "summary": {"files": checked, "tests": loaded.selected.len(), "errors": errors, "warnings": warnings, "infos": infos},
            });
            print(&(serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"));
        }
        Format::Table => {
            let _ = writeln!(
                human,
                "{}: {checked} file(s), {} test(s): {errors} error(s), {warnings} warning(s), {infos} info(s){}",
                if failed { "FAILED" } else { "ok" },
                loaded.selected.len(),
                if infos > 0 && !args.verbose {
                    " (-v shows infos)"
                } else {
                    ""
                }
            );
            print(&human);
        }
    }
    crate::suite::discard(loaded);
    ExitCode::from(if failed { exit::FAILED } else { exit::OK })
}
