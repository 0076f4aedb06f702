//! `servebench compare RUN_A RUN_B`: per test, concurrency and gated metric, run B's delta to
//! run A and its significance against the baseline window ending at A. Informational: exits 0
//! whatever the deltas (`check` is the gate).

use std::process::ExitCode;

use clap::Args;
use servebench_store::gate::{Comparison, compare_runs, default_gated_metrics};
use servebench_verdict::{Judge, Options};

use super::check::{VerdictFormat, num, p, pct, store_error, verdict_name};
use super::history::{DbArgs, aligned};
use crate::exit;
use crate::suite::print;

/// Arguments of `servebench compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The reference run.
    #[arg(value_name = "RUN_A")]
    run_a: String,
    /// The run compared with it.
    #[arg(value_name = "RUN_B")]
    run_b: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = VerdictFormat::Table)]
    format: VerdictFormat,
    #[command(flatten)]
    db: DbArgs,
}

/// Prints the comparison. Exit 0, 2 on an unknown run or a missing database, 3 when the
/// database fails.
pub fn run(args: CompareArgs) -> ExitCode {
    let mut store = match args.db.open(true) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let judge = Judge::new(Options::default());
    let gated = default_gated_metrics();
    let cmp = match compare_runs(store.as_mut(), &args.run_a, &args.run_b, &gated, &judge) {
        Ok(c) => c,
        Err(e) => return store_error(&e),
    };
    match args.format {
        VerdictFormat::Json => print(&format!(
            "{}\n",
            serde_json::to_string_pretty(&cmp).unwrap_or_default()
        )),
        VerdictFormat::Table => print(&table(&cmp)),
    }
    ExitCode::from(exit::OK)
}

/// One line per point both runs measured, then the points only one of them has.
fn table(cmp: &Comparison) -> String {
    let header = [
        "TEST", "C", "METRIC", "A", "B", "DELTA", "VERDICT", "BASELINE", "P", "REASON",
    ];
    let lines: Vec<Vec<String>> = cmp
        .entries
        .iter()
        .map(|e| {
            let v = &e.verdict;
            vec![
                e.test.clone(),
                e.concurrency.to_string(),
                e.metric.clone(),
                num(Some(e.value_a)),
                num(Some(e.value_b)),
                pct(e.raw_delta_pct),
                verdict_name(v.verdict).to_owned(),
                num(v.baseline),
                p(v.p_value),
                v.reason.clone(),
            ]
        })
        .collect();
    let mut out = format!("{} (A) -> {} (B)\n", cmp.run_a, cmp.run_b);
    out.push_str(&aligned(&header, &lines, &[1, 3, 4, 5, 7, 8]));
    for u in &cmp.unmatched {
        out.push_str(&format!("not compared: {u}\n"));
    }
    out
}
