//! Four processes write one SQLite history (and, with `SERVEBENCH_TEST_POSTGRES_URL`, one
//! PostgreSQL history) and one upstream CSV at the same time: every measurement must be stored
//! once and every CSV row appear once, whole, under one header.
//!
//! A harness-less test binary that is its own child: run without arguments it spawns itself
//! four times with `child DB CSV INDEX`, waits, and checks the result.
#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use servebench_results::{CaseResult, PointResult, Verdict};
use servebench_store::{
    CSV_COLUMNS, Environment, HistoryQuery, RunInfo, TestInfo, append_csv, csv_rows_for_case, open,
};

const WRITERS: usize = 4;
const TESTS: usize = 25;
const CONCURRENCIES: [u64; 4] = [1, 8, 64, 512];
const METRICS: [&str; 4] = [
    "median_ttft_ms",
    "median_tpot_ms",
    "output_token_throughput",
    "p99_e2el_ms",
];

fn case(test_id: &str) -> CaseResult {
    let points = CONCURRENCIES
        .iter()
        .map(|&c| PointResult {
            concurrency: c,
            listed: c,
            repeat: 0,
            metrics: METRICS
                .iter()
                .map(|m| (m.to_string(), c as f64 * 1.5))
                .collect::<BTreeMap<_, _>>(),
            extra: BTreeMap::new(),
            source: PathBuf::from("logs/6_bench.log"),
            format: "text-block".into(),
            complete: true,
            client_bound: None,
            client_health_reported: false,
        })
        .collect();
    CaseResult {
        test_id: test_id.into(),
        points,
        checks: Vec::new(),
        verdict: Verdict::Pass,
        reason: None,
        duration_s: Some(12.0),
        requested: CONCURRENCIES.to_vec(),
        excerpts: Vec::new(),
        unstable: None,
        accuracy: Vec::new(),
    }
}

fn child(db: &str, csv: &Path, index: usize) {
    let mut store = open(db).unwrap();
    let run = RunInfo {
        run_id: format!("run-{index}"),
        started_at: jiff::Timestamp::now(),
        command_line: "servebench run".into(),
        label: Some("main".into()),
        config_commit: None,
        cluster: None,
        executor: "local".into(),
        environment: Environment::default(),
    };
    store.begin_run(&run).unwrap();
    for t in 0..TESTS {
        let c = case(&format!("w{index}_test{t:02}"));
        let info = TestInfo {
            test_id: c.test_id.clone(),
            fingerprint: "f".into(),
            model: Some("m".into()),
            ..TestInfo::default()
        };
        store.record_case(&run.run_id, &info, &c, &[]).unwrap();
        append_csv(csv, &csv_rows_for_case(&info, &Environment::default(), &c)).unwrap();
    }
    store.end_run(&run.run_id, jiff::Timestamp::now()).unwrap();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let [_, mode, db, csv, index] = args.as_slice()
        && mode == "child"
    {
        child(db, Path::new(csv), index.parse().unwrap());
        return;
    }
    // `cargo test` passes harness flags (`--quiet`, filters): a filter that excludes us skips.
    if args
        .iter()
        .skip(1)
        .any(|a| !a.starts_with('-') && !"concurrent_writers".contains(a.as_str()))
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sqlite = dir.path().join("servebench.db").display().to_string();
    scenario("SQLite", &sqlite, dir.path());
    // The same on PostgreSQL when .ci/run's throw-away server is up.
    if let Ok(base) = std::env::var("SERVEBENCH_TEST_POSTGRES_URL") {
        let name = format!("sb_concurrent_{}", std::process::id());
        let mut admin = postgres::Client::connect(&base, postgres::NoTls).unwrap();
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
            .unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        let (prefix, _) = base.rsplit_once('/').unwrap();
        let pg_dir = tempfile::tempdir().unwrap();
        scenario("PostgreSQL", &format!("{prefix}/{name}"), pg_dir.path());
    }
}

/// Four writer processes into the history `db` and a CSV in `dir`, then the checks.
fn scenario(backend: &str, db: &str, dir: &Path) {
    let csv = dir.join("perf_script_test_results.csv");
    let me = std::env::current_exe().unwrap();
    let started = std::time::Instant::now();
    let children: Vec<_> = (0..WRITERS)
        .map(|i| {
            Command::new(&me)
                .args(["child", db, &csv.display().to_string(), &i.to_string()])
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success(), "a writer failed");
    }
    let took = started.elapsed();

    let per_writer = TESTS * CONCURRENCIES.len() * METRICS.len();
    let mut store = open(db).unwrap();
    let rows = store.history(&HistoryQuery::default()).unwrap();
    assert_eq!(rows.len(), WRITERS * per_writer);
    let keys: HashSet<_> = rows
        .iter()
        .map(|h| (&h.run_id, &h.test_id, h.concurrency, &h.metric))
        .collect();
    assert_eq!(keys.len(), rows.len(), "a measurement is stored twice");
    assert_eq!(store.runs(None, None).unwrap().len(), WRITERS);

    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.first().copied(), Some(CSV_COLUMNS.join(",").as_str()));
    assert_eq!(
        lines.len(),
        1 + WRITERS * per_writer,
        "rows missing or a second header"
    );
    let mut seen = HashSet::new();
    for line in &lines[1..] {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields.len(), 17, "torn row: {line}");
        assert!(
            fields[0].starts_with("test_benchmark[w"),
            "torn row: {line}"
        );
        assert!(seen.insert((fields[6], fields[16])), "row twice: {line}");
    }
    println!(
        "concurrent_writers ({backend}): {WRITERS} processes, {} measurements and CSV rows each present once ({} test cases recorded in {:.2} s)",
        rows.len(),
        WRITERS * TESTS,
        took.as_secs_f64()
    );
}
