//! `servebench report [RUN|results.json ...]`: the HTML report (or the Markdown CI summary) of
//! one or more runs.
//!
//! Inputs are run directories, `results.json` files or run ids under `--output`; none means the
//! newest run. The report goes to `-o FILE` (`-` for stdout), by default `report.html` (or
//! `report.md` with `--format markdown`) inside the first run's directory. `--markdown FILE`
//! writes the Markdown summary as well. The exit code is about writing the report, not about
//! the verdicts in it (0 written, 2 bad input or output path).

use std::collections::HashSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use servebench_config::select::Expr;
use servebench_exec::journal;
use servebench_report::{
    Band, HistoryPoint, HistorySeries, MetricChange, ReportInput, ReportVerdict,
};
use servebench_store::HistoryQuery;
use servebench_store::gate::{check_run, default_gated_metrics};
use servebench_verdict::{Judge, Options, Verdict};

use super::history::DbArgs;
use crate::exit;

/// What `-o` receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// One self-contained HTML file with charts.
    Html,
    /// The Markdown summary for CI comments (under 65,000 characters).
    Markdown,
}

/// Arguments of `servebench report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Run directories, results.json files or run ids [default: the newest run].
    inputs: Vec<String>,
    /// Keyword expression over test ids: words, and, or, not, parentheses.
    #[arg(short = 'k', value_name = "EXPR")]
    keyword: Option<String>,
    /// Where to write the report (`-`: stdout) [default: report.html (report.md) in the first
    /// run's directory].
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    out: Option<PathBuf>,
    /// What `-o` receives.
    #[arg(long, value_enum, default_value_t = ReportFormat::Html)]
    format: ReportFormat,
    /// Also write the Markdown summary here (`-`: stdout).
    #[arg(long, value_name = "FILE")]
    markdown: Option<PathBuf>,
    /// GPU type of tests whose config names none (or several): groups the Pareto charts.
    #[arg(long, env = "GPU_TYPE", value_name = "TYPE")]
    gpu_type: Option<String>,
    /// Page title.
    #[arg(long, value_name = "TEXT")]
    title: Option<String>,
    /// History trends from this date or age on (`2026-11-01`, `30d`) [default: all].
    #[arg(long, value_name = "DATE")]
    since: Option<String>,
    /// Baseline label the verdicts compare against.
    #[arg(
        long,
        env = "SERVEBENCH_LABEL",
        value_name = "LABEL",
        default_value = "main"
    )]
    label: String,
    /// No history: no trends and no regression verdicts, even when a database is there.
    #[arg(long)]
    no_history: bool,
    #[command(flatten)]
    db: DbArgs,
}

/// Writes the report; see the module docs.
pub fn run(args: ReportArgs) -> ExitCode {
    match report(&args) {
        Ok(()) => ExitCode::from(exit::OK),
        Err(msg) => {
            say!("error: {msg}");
            ExitCode::from(exit::USAGE)
        }
    }
}

fn report(args: &ReportArgs) -> Result<(), String> {
    let expr = match args.keyword.as_deref() {
        Some(k) => Some(Expr::parse(k).map_err(|e| format!("-k expression:\n{}", e.render(k)))?),
        None => None,
    };
    let inputs = resolve_inputs(&args.inputs, &args.db.dir.output)?;
    let mut input = ReportInput::from_results_files(&inputs).map_err(|e| e.to_string())?;
    if let Some(expr) = &expr {
        input.tests.retain(|t| {
            let id = t.test_id.to_lowercase();
            expr.eval(&mut |w| id.contains(&w.to_lowercase()))
        });
    }
    if let Some(gpu) = &args.gpu_type {
        for t in input
            .tests
            .iter_mut()
            .filter(|t| t.meta.gpu_type.is_empty())
        {
            t.meta.gpu_type = servebench_config::identity::fold_gpu(gpu);
        }
    }
    if let Some(title) = &args.title {
        input.title = title.clone();
    }
    let since = args
        .since
        .as_deref()
        .map(super::history::parse_since)
        .transpose()?;
    let db = args.db.location();
    let there = servebench_store::Location::parse(&db).is_ok_and(|l| l.exists());
    if !args.no_history && there {
        add_history(&mut input, &db, &args.label, since)?;
    }
    let first_dir = inputs
        .first()
        .map(|p| {
            if p.is_dir() {
                p.clone()
            } else {
                p.parent().map(Path::to_path_buf).unwrap_or_default()
            }
        })
        .unwrap_or_default();
    let default_name = match args.format {
        ReportFormat::Html => "report.html",
        ReportFormat::Markdown => "report.md",
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| first_dir.join(default_name));
    write_report(&input, args.format, &out)?;
    if let Some(md) = &args.markdown {
        write_report(&input, ReportFormat::Markdown, md)?;
    }
    Ok(())
}

/// The HTML report of one finished run, at `path` (default: `report.html` in the run
/// directory), with the trends and verdicts of the history `(db, label)` it was stored in;
/// returns where it went.
pub(crate) fn run_report(
    run_dir: &Path,
    path: Option<&Path>,
    history: Option<(&str, &str)>,
) -> Result<PathBuf, String> {
    let mut input =
        ReportInput::from_results_files(&[run_dir.to_path_buf()]).map_err(|e| e.to_string())?;
    if let Some((db, label)) = history {
        add_history(&mut input, db, label, None)?;
    }
    let out = path.map_or_else(|| run_dir.join("report.html"), Path::to_path_buf);
    write_report(&input, ReportFormat::Html, &out)?;
    Ok(out)
}

/// Renders `input` with its log links relative to where `path` lands (stdout: the current
/// directory), and writes it.
pub(crate) fn write_report(
    input: &ReportInput,
    format: ReportFormat,
    path: &Path,
) -> Result<(), String> {
    let dir = match path.parent() {
        Some(p) if path.as_os_str() != "-" && !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut input = input.clone();
    input.relative_logs(dir);
    let text = match format {
        ReportFormat::Html => servebench_report::render_html(&input),
        ReportFormat::Markdown => servebench_report::render_markdown(&input),
    };
    write_out(path, &text)
}

/// Each input as a results file or run directory; a name that is no path is a run id under
/// `<output>/runs`; no inputs is the newest run.
fn resolve_inputs(given: &[String], output: &Path) -> Result<Vec<PathBuf>, String> {
    if given.is_empty() {
        let dir = journal::find_run(output, None)
            .map_err(|e| format!("{e}; pass a run directory or results.json, or --output DIR"))?;
        return Ok(vec![dir]);
    }
    given
        .iter()
        .map(|g| {
            let path = PathBuf::from(g);
            if path.exists() {
                return Ok(path);
            }
            let under = journal::runs_dir(output).join(g);
            if under.join("results.json").is_file() {
                Ok(under)
            } else {
                Err(format!(
                    "{g}: no such file, and no run of that id under {} with a results.json",
                    journal::runs_dir(output).display()
                ))
            }
        })
        .collect()
}

/// Writes `text` to `path` (`-`: stdout), atomically for files; says where on stderr.
fn write_out(path: &Path, text: &str) -> Result<(), String> {
    if path.as_os_str() == "-" {
        let mut stdout = std::io::stdout().lock();
        return match stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
        {
            Ok(()) => Ok(()),
            // A closed pipe (`| head`) is not an error.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            Err(e) => Err(format!("cannot write to stdout: {e}")),
        };
    }
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("cannot write {}: {e}", path.display())
        })?;
    say!("report: {}", path.display());
    Ok(())
}

/// Fills each test's trends (every stored value of its gated metrics, change points and the
/// flagged run marked), baseline band, regressions and improvements, and turns a passing test
/// with a regression into `regression` (one with an improvement into `improvement`), from the
/// history at `db` judged against `label`. Runs the store does not hold are left as they are.
fn add_history(
    input: &mut ReportInput,
    db: &str,
    label: &str,
    since: Option<jiff::Timestamp>,
) -> Result<(), String> {
    let mut store = servebench_store::open(db).map_err(|e| e.to_string())?;
    let judge = Judge::new(Options {
        baseline_label: label.to_string(),
        ..Options::default()
    });
    let gated = default_gated_metrics();
    for (index, run) in input.runs.iter().enumerate() {
        let Ok(check) = check_run(store.as_mut(), &run.id, &gated, &judge) else {
            continue;
        };
        for t in input.tests.iter_mut().filter(|t| t.run == index) {
            let id = t.test_id.clone();
            let only = |test: &str| test == id;
            let rows = store
                .history(&HistoryQuery {
                    test_filter: Some(&only),
                    since,
                    ..HistoryQuery::default()
                })
                .map_err(|e| e.to_string())?;
            for e in check.verdicts.iter().filter(|e| e.test == t.test_id) {
                let v = &e.verdict;
                let changes: HashSet<&str> =
                    e.change_points.iter().map(|c| c.run_id.as_str()).collect();
                let regressed = v.verdict == Verdict::Regression;
                let points = rows
                    .iter()
                    .filter(|r| {
                        r.metric == e.metric && u64::try_from(r.concurrency) == Ok(e.concurrency)
                    })
                    .map(|r| HistoryPoint {
                        run: r.run_id.clone(),
                        value: r.value,
                        change_point: changes.contains(r.run_id.as_str()),
                        regression: regressed && r.run_id == run.id,
                    })
                    .collect();
                let band = v.baseline.map(|center| {
                    let half = center.abs() * v.threshold_pct / 100.0;
                    Band {
                        low: center - half,
                        center,
                        high: center + half,
                    }
                });
                t.history.push(HistorySeries {
                    metric: e.metric.clone(),
                    concurrency: e.concurrency,
                    points,
                    baseline: band,
                });
                if let (Verdict::Regression | Verdict::Improvement, Some(baseline)) =
                    (v.verdict, v.baseline)
                {
                    t.changes.push(MetricChange {
                        metric: e.metric.clone(),
                        concurrency: e.concurrency,
                        baseline,
                        value: v.value,
                        regression: regressed,
                    });
                }
            }
            if t.verdict == ReportVerdict::Pass {
                if t.changes.iter().any(|c| c.regression) {
                    t.verdict = ReportVerdict::Regression;
                } else if !t.changes.is_empty() {
                    t.verdict = ReportVerdict::Improvement;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example_run() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../report/tests/data/example-run")
    }

    fn args(inputs: Vec<String>, out: &Path) -> ReportArgs {
        ReportArgs {
            inputs,
            keyword: None,
            out: Some(out.to_path_buf()),
            format: ReportFormat::Html,
            markdown: None,
            gpu_type: None,
            title: None,
            since: None,
            label: "main".into(),
            no_history: false,
            db: DbArgs {
                db: None,
                dir: crate::suite::OutputDir {
                    output: PathBuf::from("servebench-out"),
                },
            },
        }
    }

    #[test]
    fn writes_html_and_markdown_of_a_run_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let html = tmp.path().join("r.html");
        let md = tmp.path().join("r.md");
        let mut a = args(vec![example_run().display().to_string()], &html);
        a.markdown = Some(md.clone());
        a.gpu_type = Some("GB200_LYRIS".into());
        a.keyword = Some("llama8b and not stress".into());
        report(&a).unwrap();
        let page = std::fs::read_to_string(&html).unwrap();
        assert!(page.contains("llama-3.1-8b · ISL&#x2f;OSL 1024&#x2f;1024 · GB200"));
        assert!(page.contains("disagg_perf_llama8b_1k1k_ctx1_gen2"));
        assert!(!page.contains("disagg_stress_llama8b"), "-k left it out");
        assert!(!page.contains("llama70b"), "-k left it out");
        let summary = std::fs::read_to_string(&md).unwrap();
        assert!(
            summary.starts_with("### servebench: 2 test(s)"),
            "{summary}"
        );
        // Log links point from the report's directory into the run's bundles, never absolute.
        assert!(page.contains("\">logs</a>"));
        assert!(!page.contains("href=\"&#x2f;"), "absolute log links");
    }

    #[test]
    fn run_ids_resolve_under_the_output_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let runs = tmp.path().join("runs/r7");
        std::fs::create_dir_all(&runs).unwrap();
        std::fs::copy(
            example_run().join("results.json"),
            runs.join("results.json"),
        )
        .unwrap();
        let got = resolve_inputs(&["r7".into()], tmp.path()).unwrap();
        assert_eq!(got, [runs]);
        let err = resolve_inputs(&["nope".into()], tmp.path()).unwrap_err();
        assert!(err.contains("nope: no such file"), "{err}");
    }

    #[test]
    fn a_bad_expression_is_shown_with_a_caret() {
        let tmp = tempfile::tempdir().unwrap();
        let mut a = args(
            vec![example_run().display().to_string()],
            &tmp.path().join("x"),
        );
        a.keyword = Some("llama and".into());
        let err = report(&a).unwrap_err();
        assert!(err.contains("llama and\n"), "{err}");
        assert!(err.contains('^'), "{err}");
    }
}
