//! `servebench check [RUN]`: judges a run's gated metrics against their baselines in the
//! history (the CI gate). Exit 1 on any regression; no baseline is never a failure.

use std::process::ExitCode;

use clap::{Args, ValueEnum};
use servebench_store::gate::{check_run, default_gated_metrics, newest_run};
use servebench_verdict::{CheckReport, Judge, Options, Verdict};

use super::history::{DbArgs, aligned};
use crate::exit;
use crate::suite::print;

/// Output format of `check` and `compare`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum VerdictFormat {
    /// Aligned text for people.
    #[default]
    Table,
    /// The versioned JSON document (`schema_version`), for CI systems.
    Json,
}

/// Arguments of `servebench check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The run to judge [default: the newest run with measurements].
    #[arg(value_name = "RUN")]
    run: Option<String>,
    /// The label whose runs form the baseline.
    #[arg(long, value_name = "L", default_value = "main")]
    label: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = VerdictFormat::Table)]
    format: VerdictFormat,
    #[command(flatten)]
    db: DbArgs,
}

/// Prints the error of a store call and turns it into an exit code: 2 for a bad argument
/// (an unknown run), 3 for a database failure.
pub(crate) fn store_error(e: &servebench_store::Error) -> ExitCode {
    say!("error: {e}");
    ExitCode::from(match e {
        servebench_store::Error::Invalid(_) => exit::USAGE,
        _ => exit::INFRA,
    })
}

/// Judges the run and prints its verdicts. Exit 0, 1 on a regression, 2 on a bad argument
/// or a missing database, 3 when the database fails.
pub fn run(args: CheckArgs) -> ExitCode {
    let mut store = match args.db.open(true) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let run_id = match args.run.clone() {
        Some(r) => r,
        None => match newest_run(store.as_mut()) {
            Ok(Some(r)) => r,
            Ok(None) => {
                say!(
                    "error: the history at {} holds no measurements yet: `servebench run` or \
                     `servebench import` fills it",
                    servebench_store::redact_url(&args.db.location())
                );
                return ExitCode::from(exit::USAGE);
            }
            Err(e) => return store_error(&e),
        },
    };
    let judge = Judge::new(Options {
        baseline_label: args.label.clone(),
        ..Options::default()
    });
    let gated = default_gated_metrics();
    let report = match check_run(store.as_mut(), &run_id, &gated, &judge) {
        Ok(r) => r,
        Err(e) => return store_error(&e),
    };
    match args.format {
        VerdictFormat::Json => print(&format!(
            "{}\n",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        )),
        VerdictFormat::Table if report.verdicts.is_empty() => {
            let names: Vec<&str> = gated.iter().map(|g| g.metric.as_str()).collect();
            say!(
                "run {run_id} measured none of the gated metrics ({}); nothing to judge",
                names.join(", ")
            );
        }
        VerdictFormat::Table => print(&table(&report)),
    }
    ExitCode::from(if report.exit_code() == 0 {
        exit::OK
    } else {
        exit::FAILED
    })
}

/// After `run`: judges the run against its history and prints the regressions and
/// improvements (the rest as counts); returns whether any metric regressed. Silent when the
/// history holds nothing to compare with.
pub(crate) fn summarise_run(db: &str, run_id: &str, label: &str) -> bool {
    let Ok(mut store) = servebench_store::open(db) else {
        return false;
    };
    let judge = Judge::new(Options {
        baseline_label: label.to_string(),
        ..Options::default()
    });
    let Ok(report) = check_run(store.as_mut(), run_id, &default_gated_metrics(), &judge) else {
        return false;
    };
    let count = |v: Verdict| {
        report
            .verdicts
            .iter()
            .filter(|e| e.verdict.verdict == v)
            .count()
    };
    let judged = report.verdicts.len() - count(Verdict::NoBaseline);
    if judged == 0 {
        return false;
    }
    let mut notable = report.clone();
    notable.verdicts.retain(|e| {
        matches!(
            e.verdict.verdict,
            Verdict::Regression | Verdict::Improvement
        )
    });
    if !notable.verdicts.is_empty() {
        print(&table(&notable));
    }
    say!(
        "history verdicts: {} regression(s), {} improvement(s), {} unchanged, {} without baseline (`servebench check {run_id}` shows each)",
        count(Verdict::Regression),
        count(Verdict::Improvement),
        count(Verdict::Unchanged),
        count(Verdict::NoBaseline)
    );
    count(Verdict::Regression) > 0
}

/// A verdict's name as printed and in JSON.
pub(crate) fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Regression => "regression",
        Verdict::Improvement => "improvement",
        Verdict::Unchanged => "unchanged",
        Verdict::NoBaseline => "no_baseline",
    }
}

/// An optional number with two decimals, `-` when absent.
pub(crate) fn num(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"))
}

/// An optional signed percentage, `-` when absent.
pub(crate) fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:+.1}%"))
}

/// An optional p-value with three significant digits (`1.00e-4`), `-` when absent.
pub(crate) fn p(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.2e}"))
}

/// One line per verdict, then the change points and a summary line.
fn table(report: &CheckReport) -> String {
    let header = [
        "TEST", "C", "METRIC", "VERDICT", "VALUE", "BASELINE", "DELTA", "P", "REASON",
    ];
    let lines: Vec<Vec<String>> = report
        .verdicts
        .iter()
        .map(|e| {
            let v = &e.verdict;
            vec![
                e.test.clone(),
                e.concurrency.to_string(),
                e.metric.clone(),
                verdict_name(v.verdict).to_owned(),
                num(Some(v.value)),
                num(v.baseline),
                pct(v.delta_pct),
                p(v.p_value),
                v.reason.clone(),
            ]
        })
        .collect();
    let mut out = aligned(&header, &lines, &[1, 4, 5, 6, 7]);
    for e in &report.verdicts {
        for c in &e.change_points {
            out.push_str(&format!(
                "change point: {}@{} {} at run {} ({} -> {}, {}, p {})\n",
                e.test,
                e.concurrency,
                e.metric,
                c.run_id,
                num(Some(c.change.before)),
                num(Some(c.change.after)),
                pct(c.change.magnitude_pct),
                p(Some(c.change.p_value))
            ));
        }
    }
    let count = |v: Verdict| {
        report
            .verdicts
            .iter()
            .filter(|e| e.verdict.verdict == v)
            .count()
    };
    out.push_str(&format!(
        "run {} against `{}`: {} regression(s), {} improvement(s), {} unchanged, {} without baseline\n",
        report.run_id,
        report.baseline_label,
        count(Verdict::Regression),
        count(Verdict::Improvement),
        count(Verdict::Unchanged),
        count(Verdict::NoBaseline)
    ));
    out
}
