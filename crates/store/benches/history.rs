//! History store throughput: insert N measurements (default 1,000,000: 100 daily runs of 200
//! tests x 5 concurrencies x 10 metrics, one transaction per run), then query one test's 90-day
//! history (every metric and concurrency: 4,500 rows) and one series (one metric, one
//! concurrency: 90 rows), then time `check` of the newest run (the history gate: 3,000
//! verdicts with their change points). SQLite always; PostgreSQL too when `SERVEBENCH_TEST_POSTGRES_URL` is
//! set (`scripts/pg-throwaway.sh`), in a fresh `sb_bench` database.
//!
//! `cargo bench -p servebench-store --bench history [-- RUNS]` (RUNS of 10,000 measurements,
//! default 100)
#![allow(clippy::unwrap_used, reason = "a benchmark fails loudly")]

use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use servebench_store::gate::{check_run, default_gated_metrics};
use servebench_store::{Environment, HistoryQuery, Measurement, RunInfo, Store, TestInfo, open};
use servebench_verdict::{Judge, Options};

const TESTS: usize = 200;
const CONCURRENCIES: [i64; 5] = [1, 8, 64, 256, 1024];
const METRICS: [&str; 10] = [
    "output_token_throughput",
    "request_throughput",
    "total_token_throughput",
    "user_throughput",
    "mean_ttft_ms",
    "median_ttft_ms",
    "p99_ttft_ms",
    "median_tpot_ms",
    "median_itl_ms",
    "median_e2el_ms",
];

fn test_id(t: usize) -> String {
    format!(
        "disagg_perf_model{}_1k1k_ctx1_gen1_dep{t:03}_ccb-NIXL",
        t % 7
    )
}

fn load(store: &mut dyn Store, runs: usize, newest: Timestamp) -> Duration {
    let start = Instant::now();
    for r in 0..runs {
        let at = newest - SignedDuration::from_hours(24 * (runs - 1 - r) as i64);
        let run_id = format!("run{r:05}");
        store
            .begin_run(&RunInfo {
                run_id: run_id.clone(),
                started_at: at,
                command_line: "servebench run".into(),
                label: Some("main".into()),
                config_commit: None,
                cluster: None,
                executor: "slurm".into(),
                environment: Environment::default(),
            })
            .unwrap();
        let mut rows = Vec::with_capacity(TESTS * CONCURRENCIES.len() * METRICS.len());
        for t in 0..TESTS {
            let id = test_id(t);
            store
                .record_test(
                    &run_id,
                    &TestInfo {
                        test_id: id.clone(),
                        fingerprint: format!("fp{}", r / 30),
                        started_at: Some(at),
                        ..TestInfo::default()
                    },
                )
                .unwrap();
            for &c in &CONCURRENCIES {
                for (i, m) in METRICS.iter().enumerate() {
                    rows.push(Measurement {
                        run_id: run_id.clone(),
                        test_id: id.clone(),
                        concurrency: c,
                        repeat: 0,
                        metric: (*m).to_string(),
                        value: (r * 7 + t + i) as f64 * 0.5 + c as f64,
                        measured_at: at,
                        ordinal: c * 16 + i as i64,
                        valid: true,
                        source_name: None,
                        command: None,
                    });
                }
            }
        }
        store.insert_measurements(&rows).unwrap();
    }
    start.elapsed()
}

fn median_time(mut f: impl FnMut() -> usize) -> (Duration, usize) {
    let mut times = Vec::new();
    let mut n = 0;
    for _ in 0..21 {
        let s = Instant::now();
        n = f();
        times.push(s.elapsed());
    }
    times.sort();
    (times[times.len() / 2], n)
}

fn bench(name: &str, url: &str, runs: usize) {
    let mut store = open(url).unwrap();
    let newest: Timestamp = "2026-12-01T02:00:00Z".parse().unwrap();
    let took = load(store.as_mut(), runs, newest);
    let n = runs * TESTS * CONCURRENCIES.len() * METRICS.len();
    println!(
        "{name}: inserted {n} measurements in {:.1} s ({:.0} /s, {} per transaction)",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64(),
        TESTS * CONCURRENCIES.len() * METRICS.len()
    );
    let since = newest - SignedDuration::from_hours(24 * 89);
    let target = test_id(42);
    let (t, rows) = median_time(|| {
        let keep = |id: &str| id == target;
        store
            .history(&HistoryQuery {
                test_filter: Some(&keep),
                since: Some(since),
                ..HistoryQuery::default()
            })
            .unwrap()
            .len()
    });
    println!(
        "{name}: one test's 90-day history ({rows} rows): median {:.1} ms of 21",
        t.as_secs_f64() * 1e3
    );
    let (t, rows) = median_time(|| {
        let keep = |id: &str| id == target;
        store
            .history(&HistoryQuery {
                test_filter: Some(&keep),
                metric: Some("median_tpot_ms".into()),
                concurrency: Some(64),
                since: Some(since),
                ..HistoryQuery::default()
            })
            .unwrap()
            .len()
    });
    println!(
        "{name}: one series' 90-day history ({rows} rows): median {:.1} ms of 21",
        t.as_secs_f64() * 1e3
    );
    // `servebench check` of the newest run: every test x concurrency x gated metric.
    let judge = Judge::new(Options::default());
    let newest_run = format!("run{:05}", runs - 1);
    let s = Instant::now();
    let report = check_run(
        store.as_mut(),
        &newest_run,
        &default_gated_metrics(),
        &judge,
    )
    .unwrap();
    println!(
        "{name}: check of the newest run ({} verdicts over {runs}-run series): {:.2} s",
        report.verdicts.len(),
        s.elapsed().as_secs_f64()
    );
}

fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100);
    let dir = tempfile::tempdir().unwrap();
    bench(
        "sqlite",
        &dir.path().join("bench.db").display().to_string(),
        runs,
    );
    if let Ok(base) = std::env::var("SERVEBENCH_TEST_POSTGRES_URL") {
        let mut admin = postgres::Client::connect(&base, postgres::NoTls).unwrap();
        admin
            .batch_execute("DROP DATABASE IF EXISTS sb_bench")
            .unwrap();
        admin.batch_execute("CREATE DATABASE sb_bench").unwrap();
        let (prefix, _) = base.rsplit_once('/').unwrap();
        bench("postgres", &format!("{prefix}/sb_bench"), runs);
    } else {
        println!(
            "postgres: skipped (set SERVEBENCH_TEST_POSTGRES_URL, see scripts/pg-throwaway.sh)"
        );
    }
}
