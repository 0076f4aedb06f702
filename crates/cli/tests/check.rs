//! End-to-end tests of the regression gate: `check`, `compare` and `baseline` over a synthetic
//! history written with the store API (20 stable runs at about 2% noise, then two runs with
//! 15% less output throughput on one concurrency).
#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use std::path::Path;
use std::process::{Command, Output};

use jiff::{SignedDuration, Timestamp};
use servebench_store::{Environment, Measurement, RunInfo, TestInfo};

const TEST: &str = "disagg_perf_deepseek-r1-fp4_1k1k_ctx1_gen1_dep8_bs256";

/// Noise of about 2%, fixed so every verdict is deterministic.
const NOISE: [f64; 10] = [0.0, 1.5, -2.0, 0.5, 2.5, -1.0, -0.5, 1.0, -2.5, 2.0];

/// Writes run `run{i:02}` on `label`: concurrencies 8 and 64, three gated metrics each; the
/// throughput at 64 is scaled by `c64_scale`.
fn record(db: &str, i: usize, label: &str, c64_scale: f64) {
    let mut store = servebench_store::open(db).unwrap();
    let run_id = format!("run{i:02}");
    let at: Timestamp = "2026-11-01T02:00:00Z".parse().unwrap();
    let at = at + SignedDuration::from_hours(i64::try_from(i).unwrap() * 24);
    store
        .begin_run(&RunInfo {
            run_id: run_id.clone(),
            started_at: at,
            command_line: "servebench run".into(),
            label: Some(label.into()),
            config_commit: Some(format!("commit{i:02}")),
            cluster: Some("gb200-lyris".into()),
            executor: "slurm".into(),
            environment: Environment {
                gpu_type: Some("GB200".into()),
                ..Environment::default()
            },
        })
        .unwrap();
    let test = TestInfo {
        test_id: TEST.into(),
        fingerprint: "cfg-1".into(),
        ..TestInfo::default()
    };
    store.record_test(&run_id, &test).unwrap();
    let n = 1.0 + NOISE[i % 10] / 100.0;
    let mut rows = Vec::new();
    for (c, scale) in [(8, 1.0), (64, c64_scale)] {
        for (metric, value) in [
            ("output_token_throughput", 1000.0 * n * scale),
            ("median_ttft_ms", 150.0 * n),
            ("median_tpot_ms", 9.0 * n),
        ] {
            rows.push(Measurement {
                run_id: run_id.clone(),
                test_id: TEST.into(),
                concurrency: c,
                repeat: 0,
                metric: metric.into(),
                value,
                measured_at: at,
                ordinal: i64::try_from(rows.len()).unwrap(),
                valid: true,
                source_name: None,
                command: None,
            });
        }
    }
    store.insert_measurements(&rows).unwrap();
    store.end_run(&run_id, at).unwrap();
}

/// A history of 20 stable `main` runs; with `regressed`, two more whose throughput at
/// concurrency 64 is 15% lower.
fn history(dir: &Path, regressed: bool) -> String {
    let db = dir.join("h.db").display().to_string();
    for i in 0..20 {
        record(&db, i, "main", 1.0);
    }
    let last = if regressed { 0.85 } else { 1.0 };
    record(&db, 20, "main", last);
    record(&db, 21, "main", last);
    db
}

fn servebench(db: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_servebench"))
        .args(args)
        .env("SERVEBENCH_DB", db)
        .env_remove("OUTPUT_PATH")
        .output()
        .unwrap()
}

fn out(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The table line of (concurrency, metric).
fn line<'a>(table: &'a str, concurrency: u64, metric: &str) -> &'a str {
    let prefix = format!("{TEST}  {concurrency:>2}  {metric} ");
    table
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no line for {concurrency} {metric} in\n{table}"))
}

#[test]
fn a_regression_in_the_newest_run_fails_the_gate_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = history(dir.path(), true);
    let o = servebench(&db, &["check"]);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    insta::assert_snapshot!("check_table", String::from_utf8_lossy(&o.stdout));
    let l = line(&text, 64, "output_token_throughput");
    assert!(l.contains("regression"), "{l}");
    // 1000 · 1.015 · 0.85 = 862.75 against the baseline mean 1001.5 of runs 0-19.
    assert!(l.contains("862.75   1001.50  -13.9%"), "{l}");
    // The other points are unchanged.
    assert!(
        line(&text, 8, "output_token_throughput").contains("unchanged"),
        "{text}"
    );
    assert!(
        line(&text, 64, "median_ttft_ms").contains("unchanged"),
        "{text}"
    );
    assert!(
        text.contains("run run21 against `main`: 1 regression(s), 0 improvement(s), 5 unchanged"),
        "{text}"
    );

    // The JSON document: versioned, one entry per (test, concurrency, metric).
    let o = servebench(&db, &["check", "run21", "--format", "json"]);
    assert_eq!(o.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["run_id"], "run21");
    assert_eq!(doc["regressions"], 1);
    let entries = doc["verdicts"].as_array().unwrap();
    assert_eq!(entries.len(), 6);
    let e = entries
        .iter()
        .find(|e| e["verdict"] == "regression")
        .unwrap();
    assert_eq!(e["test"], TEST);
    assert_eq!(e["concurrency"], 64);
    assert_eq!(e["metric"], "output_token_throughput");
    assert_eq!(e["direction"], "higher_is_better");
    assert_eq!(e["window"], 20);
    assert!(e["p_value"].as_f64().unwrap() <= 0.01, "{e}");
    assert!(e["delta_pct"].as_f64().unwrap() < -10.0, "{e}");
    assert!(
        e["reason"].as_str().unwrap().starts_with("regression:"),
        "{e}"
    );

    // The run before the regression passes.
    assert_eq!(servebench(&db, &["check", "run19"]).status.code(), Some(0));
}

#[test]
fn a_stable_history_passes_and_too_little_history_is_no_failure() {
    let dir = tempfile::tempdir().unwrap();
    let db = history(dir.path(), false);
    let o = servebench(&db, &["check"]);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(
        text.contains("0 regression(s), 0 improvement(s), 6 unchanged"),
        "{text}"
    );
    // The third run has two runs of history: no baseline, exit 0.
    let o = servebench(&db, &["check", "run02"]);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(text.contains("6 without baseline"), "{text}");
}

#[test]
fn accepting_the_change_clears_the_regression() {
    let dir = tempfile::tempdir().unwrap();
    let db = history(dir.path(), true);
    let o = servebench(
        &db,
        &[
            "baseline",
            "accept",
            TEST,
            "--at",
            "run20",
            "--reason",
            "PR 1234: bigger batches",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let o = servebench(&db, &["check"]);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(text.contains("0 regression(s)"), "{text}");
    let l = line(&text, 64, "output_token_throughput");
    assert!(l.contains("no_baseline"), "{l}");
    // The record is listed with its reason.
    let o = servebench(&db, &["baseline", "list"]);
    let text = out(&o);
    assert!(text.contains("run20"), "{text}");
    assert!(text.contains("PR 1234: bigger batches"), "{text}");
}

#[test]
fn a_pin_replaces_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let db = history(dir.path(), true);
    let o = servebench(&db, &["baseline", "pin", "run09", "-k", "deepseek"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let o = servebench(&db, &["check", "--format", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let e = doc["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["verdict"] == "regression")
        .unwrap();
    // The window ends at run09: ten runs, not twenty.
    assert_eq!(e["window"], 10, "{e}");
    // A pin by tag (a config commit) of a run with too little history before it.
    let o = servebench(&db, &["baseline", "pin", "commit21"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    // Unknown names are usage errors that say what to do.
    let o = servebench(&db, &["baseline", "pin", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        out(&o).contains("neither a stored run nor a tag"),
        "{}",
        out(&o)
    );
    let o = servebench(
        &db,
        &[
            "baseline", "accept", "--all", "--at", "nope", "--reason", "x",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(out(&o).contains("no run `nope`"), "{}", out(&o));
}

#[test]
fn compare_prints_the_delta_and_its_significance() {
    let dir = tempfile::tempdir().unwrap();
    let db = history(dir.path(), true);
    // run10 has no noise: 1000 at concurrency 64; run21 has 1000 · 1.015 · 0.85 = 862.75.
    let o = servebench(&db, &["compare", "run10", "run21"]);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(0), "{text}");
    insta::assert_snapshot!("compare_table", String::from_utf8_lossy(&o.stdout));
    let l = line(&text, 64, "output_token_throughput");
    assert!(l.contains("1000.00"), "{l}");
    assert!(l.contains("862.75"), "{l}");
    assert!(l.contains("-13.7%"), "{l}");
    assert!(l.contains("regression"), "{l}");
    let l = line(&text, 8, "output_token_throughput");
    assert!(l.contains("unchanged"), "{l}");
    let o = servebench(&db, &["compare", "run10", "run21", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["entries"].as_array().unwrap().len(), 6);
    // The reference comes first.
    let o = servebench(&db, &["compare", "run21", "run10"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        out(&o).contains("`servebench compare run10 run21`"),
        "{}",
        out(&o)
    );
}

#[test]
fn a_single_pre_merge_run_is_judged_alone_and_bad_input_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = history(dir.path(), false);
    record(&db, 22, "pr-77", 0.85);
    let o = servebench(&db, &["check", "run22"]);
    let text = out(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        line(&text, 64, "output_token_throughput").contains("regression"),
        "{text}"
    );

    let o = servebench(&db, &["check", "run99"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(out(&o).contains("no run `run99`"), "{}", out(&o));
    let missing = dir.path().join("missing.db").display().to_string();
    let o = servebench(&missing, &["check"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(out(&o).contains("no history database"), "{}", out(&o));
}

/// `report --db` draws each gated metric's stored history with its baseline band, marks the
/// regressed run, and turns the passing test into a regression with the delta.
#[test]
fn the_report_draws_the_history_and_flags_the_regression() {
    let dir = tempfile::tempdir().unwrap();
    let db = history(dir.path(), true);
    let run = dir.path().join("run21");
    std::fs::create_dir_all(&run).unwrap();
    let results = serde_json::json!({
        "schema_version": 1,
        "summary": {"cases": 1, "pass": 1, "fail": 0, "invalid": 0, "error": 0, "skipped": 0},
        "cases": [{"test_id": TEST, "verdict": "pass", "points": [], "checks": [],
                   "excerpts": [], "requested": [8, 64], "reason": null, "duration_s": null}]
    });
    std::fs::write(run.join("results.json"), results.to_string()).unwrap();
    let html = dir.path().join("r.html");
    let md = dir.path().join("r.md");
    let o = servebench(
        &db,
        &[
            "report",
            run.to_str().unwrap(),
            "-o",
            html.to_str().unwrap(),
            "--markdown",
            md.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", out(&o));
    let html = std::fs::read_to_string(&html).unwrap();
    // Three gated metrics at two concurrencies, each with 22 stored values.
    assert_eq!(
        html.matches("<path class=\"tl ").count(),
        6,
        "one trend line per series"
    );
    assert!(html.contains("<rect class=\"band "), "baseline band drawn");
    assert_eq!(
        html.matches("<path class=\"reg\"").count(),
        1,
        "the regressed run marked once"
    );
    let md = std::fs::read_to_string(&md).unwrap();
    assert!(md.contains("regression"), "{md}");
    assert!(
        md.contains("-13.9%"),
        "the delta against the baseline: {md}"
    );
    // Without the history: no trends, the test is a plain pass.
    let plain = dir.path().join("plain.md");
    let o = servebench(
        &db,
        &[
            "report",
            run.to_str().unwrap(),
            "--no-history",
            "--format",
            "markdown",
            "-o",
            plain.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", out(&o));
    assert!(!std::fs::read_to_string(&plain).unwrap().contains("-13.9%"));
}
