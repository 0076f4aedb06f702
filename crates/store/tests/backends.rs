//! The store's behaviour, run against both backends: every scenario is one function taking a
//! database URL, instantiated once for SQLite (a temp file) and once for PostgreSQL
//! (`postgres_*`, `#[ignore]`d: they need `SERVEBENCH_TEST_POSTGRES_URL`, see
//! `scripts/pg-throwaway.sh`; each test gets a fresh database on that server).
#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use jiff::{SignedDuration, Timestamp};
use servebench_results::{CaseResult, Check, PointResult, Verdict};
use servebench_store::gate::{check_run, compare_runs, default_gated_metrics};
use servebench_store::{
    AcceptedChange, AccuracyRow, BaselinePin, CsvRow, Environment, Error, HistoryQuery,
    Measurement, PinTarget, RunInfo, SCHEMA_VERSION, Store, TestInfo, import, open,
    open_at_version, write_csv,
};
use servebench_verdict::{Judge, Options, Verdict as Gate};

const FIXTURE: &str = "../../../shared/fixtures/upstream/tests/integration/defs/perf/disagg/perf_script_test_results.FIRST24ROWS.csv";

/// A fresh database: a file in a temp dir, or a new database on the test PostgreSQL server.
struct Db {
    url: String,
    _dir: Option<tempfile::TempDir>,
}

fn sqlite_db() -> Db {
    let dir = tempfile::tempdir().unwrap();
    let url = dir.path().join("servebench.db").display().to_string();
    Db {
        url,
        _dir: Some(dir),
    }
}

fn postgres_db(name: &str) -> Db {
    let base = std::env::var("SERVEBENCH_TEST_POSTGRES_URL")
        .expect("SERVEBENCH_TEST_POSTGRES_URL (eval \"$(scripts/pg-throwaway.sh env)\")");
    // PostgreSQL truncates identifiers at 63 bytes: keep the name well below.
    let short: String = name.chars().take(40).collect();
    let db = format!("sb_{short}_{}", std::process::id());
    let mut admin = postgres::Client::connect(&base, postgres::NoTls).unwrap();
    // One statement per call: DROP/CREATE DATABASE refuse to run in a multi-statement batch.
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db}"))
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .unwrap();
    let (prefix, _) = base.rsplit_once('/').unwrap();
    Db {
        url: format!("{prefix}/{db}"),
        _dir: None,
    }
}

/// Raw SQL on the database, for building older schemas and damaging versions.
fn raw_sql(url: &str, sql: &str) {
    if url.starts_with("postgres") {
        let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
        c.batch_execute(sql).unwrap();
    } else {
        let c = rusqlite::Connection::open(url).unwrap();
        c.execute_batch(sql).unwrap();
    }
}

/// `scenario => sqlite_name, postgres_name`: one test per backend (the PostgreSQL one ignored).
macro_rules! both_backends {
    ($($scenario:ident => $sqlite:ident, $pg:ident;)*) => {
        $(
            #[test]
            fn $sqlite() {
                $scenario(&sqlite_db().url_holder());
            }
            #[test]
            #[ignore = "needs SERVEBENCH_TEST_POSTGRES_URL (scripts/pg-throwaway.sh)"]
            fn $pg() {
                $scenario(&postgres_db(stringify!($scenario)).url_holder());
            }
        )*
    };
}

/// Keeps the temp dir alive for the scenario's duration.
struct Holder(Db);
impl Holder {
    fn url(&self) -> &str {
        &self.0.url
    }
}
impl Db {
    fn url_holder(self) -> Holder {
        Holder(self)
    }
}

both_backends! {
    round_trip_of_a_full_run => sqlite_round_trip_of_a_full_run, postgres_round_trip_of_a_full_run;
    resume_after_a_crash_stores_each_point_once => sqlite_resume_after_a_crash_stores_each_point_once, postgres_resume_after_a_crash_stores_each_point_once;
    fingerprint_changes_are_marked => sqlite_fingerprint_changes_are_marked, postgres_fingerprint_changes_are_marked;
    migrates_from_empty_and_from_the_previous_version => sqlite_migrates_from_empty_and_from_the_previous_version, postgres_migrates_from_empty_and_from_the_previous_version;
    refuses_a_newer_schema_without_touching_it => sqlite_refuses_a_newer_schema_without_touching_it, postgres_refuses_a_newer_schema_without_touching_it;
    fixture_csv_imports_once_and_renders_back_byte_for_byte => sqlite_fixture_csv_imports_once_and_renders_back_byte_for_byte, postgres_fixture_csv_imports_once_and_renders_back_byte_for_byte;
    results_json_imports_once => sqlite_results_json_imports_once, postgres_results_json_imports_once;
    a_failed_write_changes_nothing => sqlite_a_failed_write_changes_nothing, postgres_a_failed_write_changes_nothing;
    curation_is_stored_and_listed => sqlite_curation_is_stored_and_listed, postgres_curation_is_stored_and_listed;
    migrates_from_version_2_to_curation => sqlite_migrates_from_version_2_to_curation, postgres_migrates_from_version_2_to_curation;
    the_gate_judges_stored_history => sqlite_the_gate_judges_stored_history, postgres_the_gate_judges_stored_history;
}

fn t0() -> Timestamp {
    "2026-11-01T02:00:00Z".parse().unwrap()
}

fn run_info(run_id: &str, at: Timestamp, label: &str) -> RunInfo {
    RunInfo {
        run_id: run_id.into(),
        started_at: at,
        command_line: "servebench run -k nixl".into(),
        label: Some(label.into()),
        config_commit: Some("0123abc".into()),
        cluster: Some("gb200-lyris".into()),
        executor: "slurm".into(),
        environment: Environment {
            engine: Some("trtllm".into()),
            engine_version: Some("1.2.0rc3".into()),
            gpu_type: Some("GB200".into()),
            image: Some("nvcr.io/trtllm:1.2".into()),
            nodes: vec!["node-a".into(), "node-b".into()],
            sm_clock_mhz: Some(2062),
            mem_clock_mhz: Some(3996),
        },
    }
}

fn point(concurrency: u64, repeat: u64, scale: f64) -> PointResult {
    let metrics: BTreeMap<String, f64> = [
        ("output_token_throughput", 1000.0 * scale),
        ("median_ttft_ms", 120.5 * scale),
        ("median_tpot_ms", 8.25 * scale),
        ("completed", 64.0),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v + concurrency as f64 + repeat as f64 / 10.0))
    .collect();
    PointResult {
        concurrency,
        listed: concurrency,
        repeat,
        metrics,
        extra: BTreeMap::new(),
        source: PathBuf::from(format!("logs/concurrency_{concurrency}/result.json")),
        format: "result-json".into(),
        complete: true,
        client_bound: None,
        client_health_reported: false,
    }
}

fn case(test_id: &str, concurrencies: &[u64], repeats: u64, scale: f64) -> CaseResult {
    let points: Vec<PointResult> = concurrencies
        .iter()
        .flat_map(|&c| (0..repeats).map(move |r| point(c, r, scale)))
        .collect();
    let failing = concurrencies.last().copied();
    let checks = vec![
        Check {
            name: "result_present".into(),
            passed: true,
            detail: "every concurrency has a result".into(),
            concurrency: None,
            repeat: None,
        },
        Check {
            name: "no_failed_requests".into(),
            passed: false,
            detail: "2 failed".into(),
            concurrency: failing,
            repeat: Some(0),
        },
    ];
    CaseResult {
        test_id: test_id.into(),
        points,
        checks,
        verdict: Verdict::Invalid,
        reason: Some("c=16: 2 failed".into()),
        duration_s: Some(321.5),
        requested: concurrencies.to_vec(),
        excerpts: Vec::new(),
        unstable: None,
        accuracy: Vec::new(),
    }
}

fn test_info(test_id: &str, fingerprint: &str, at: Timestamp) -> TestInfo {
    TestInfo {
        test_id: test_id.into(),
        fingerprint: fingerprint.into(),
        resolved_config: Some("metadata:\n  model_name: deepseek-r1-fp4\n".into()),
        model: Some("deepseek-r1-fp4".into()),
        precision: Some("fp4".into()),
        case_name: None,
        started_at: Some(at),
        ended_at: Some(at + SignedDuration::from_secs(300)),
        duration_s: None,
    }
}

fn round_trip_of_a_full_run(db: &Holder) {
    let mut store = open(db.url()).unwrap();
    assert_eq!(store.schema_version(), SCHEMA_VERSION);
    let run = run_info("20261101-020000-ab12", t0(), "main");
    store.begin_run(&run).unwrap();
    let cases = [
        case("disagg_perf_a_nixl", &[4, 8, 16], 2, 1.0),
        case("disagg_perf_b_ucx", &[1, 64], 1, 2.0),
        CaseResult::error("disagg_perf_c_broken", "sbatch failed: invalid partition"),
    ];
    let accuracy = [AccuracyRow {
        task: "gsm8k".into(),
        filter: "flexible-extract".into(),
        value: 0.9538,
        expected: Some(0.9454),
        threshold: Some(0.9134),
        passed: Some(true),
    }];
    let mut expected_rows = 0;
    for (i, c) in cases.iter().enumerate() {
        let info = test_info(&c.test_id, &format!("fp{i}"), t0());
        let acc: &[AccuracyRow] = if i == 0 { &accuracy } else { &[] };
        let s = store.record_case(&run.run_id, &info, c, acc).unwrap();
        let n: usize = c.points.iter().map(|p| p.metrics.len()).sum();
        assert_eq!(s.inserted, n as u64);
        expected_rows += n;
    }
    let end = t0() + SignedDuration::from_hours(2);
    store.end_run(&run.run_id, end).unwrap();
    drop(store);

    // A new connection reads back exactly what was written.
    let mut store = open(db.url()).unwrap();
    let runs = store.runs(None, None).unwrap();
    assert_eq!(runs.len(), 1);
    let r = &runs[0];
    assert_eq!(r.run_id, run.run_id);
    assert_eq!(r.started_at, run.started_at);
    assert_eq!(r.ended_at, Some(end));
    assert_eq!(r.environment, run.environment);
    assert_eq!(
        (
            r.label.as_deref(),
            r.config_commit.as_deref(),
            r.cluster.as_deref()
        ),
        (Some("main"), Some("0123abc"), Some("gb200-lyris"))
    );
    assert_eq!((r.tests, r.measurements), (3, expected_rows as i64));

    let rows = store.run_results(&run.run_id).unwrap();
    assert_eq!(rows.len(), expected_rows);
    for c in &cases {
        for p in &c.points {
            for (metric, value) in &p.metrics {
                let found: Vec<_> = rows
                    .iter()
                    .filter(|h| {
                        h.test_id == c.test_id
                            && h.concurrency == p.concurrency as i64
                            && h.repeat == p.repeat as i64
                            && h.metric == *metric
                    })
                    .collect();
                assert_eq!(found.len(), 1, "{} c={} {metric}", c.test_id, p.concurrency);
                assert_eq!(found[0].value, *value);
                // The failing check is about the last concurrency's repeat 0 only.
                let invalid = c.requested.last() == Some(&p.concurrency) && p.repeat == 0;
                assert_eq!(found[0].valid, !invalid);
                assert_eq!(found[0].verdict.as_deref(), Some("invalid"));
                assert_eq!(found[0].duration_s, Some(321.5));
            }
        }
    }
    let acc = store.accuracy(&run.run_id).unwrap();
    assert_eq!(
        acc,
        vec![("disagg_perf_a_nixl".to_string(), accuracy[0].clone())]
    );

    // Queries: metric, concurrency, label, since, test filter.
    let q = |metric: &str, c: Option<i64>| HistoryQuery {
        metric: Some(metric.into()),
        concurrency: c,
        ..HistoryQuery::default()
    };
    assert_eq!(store.history(&q("median_ttft_ms", None)).unwrap().len(), 8);
    assert_eq!(
        store.history(&q("median_ttft_ms", Some(8))).unwrap().len(),
        2
    );
    let keep = |t: &str| t.contains("ucx");
    let only_b = store
        .history(&HistoryQuery {
            test_filter: Some(&keep),
            ..HistoryQuery::default()
        })
        .unwrap();
    assert_eq!(only_b.len(), 8);
    assert!(only_b.iter().all(|h| h.test_id == "disagg_perf_b_ucx"));
    let other_label = HistoryQuery {
        label: Some("feature-x".into()),
        ..HistoryQuery::default()
    };
    assert!(store.history(&other_label).unwrap().is_empty());
    let later = HistoryQuery {
        since: Some(t0() + SignedDuration::from_secs(1)),
        ..HistoryQuery::default()
    };
    assert!(store.history(&later).unwrap().is_empty());
    assert_eq!(
        store.test_ids().unwrap(),
        [
            "disagg_perf_a_nixl",
            "disagg_perf_b_ucx",
            "disagg_perf_c_broken"
        ]
    );
}

fn resume_after_a_crash_stores_each_point_once(db: &Holder) {
    let run = run_info("20261101-030000-cd34", t0(), "main");
    let full = case("disagg_perf_a_nixl", &[4, 8, 16, 32], 1, 1.0);
    let info = test_info(&full.test_id, "fp0", t0());
    {
        // The first process stores two points as they arrive, then dies.
        let mut store = open(db.url()).unwrap();
        store.begin_run(&run).unwrap();
        for p in &full.points[..2] {
            assert_eq!(store.record_point(&run.run_id, &info, p, true).unwrap(), 4);
        }
    }
    // `servebench resume`: begins the same run again and records the finished case.
    let mut store = open(db.url()).unwrap();
    store.begin_run(&run).unwrap();
    let s = store.record_case(&run.run_id, &info, &full, &[]).unwrap();
    assert_eq!((s.inserted, s.already_present), (8, 8));
    // And once more (a second resume): nothing new.
    let s = store.record_case(&run.run_id, &info, &full, &[]).unwrap();
    assert_eq!((s.inserted, s.already_present), (0, 16));
    let rows = store.run_results(&run.run_id).unwrap();
    assert_eq!(rows.len(), 16);
    let mut keys: Vec<_> = rows
        .iter()
        .map(|h| (h.concurrency, h.repeat, h.metric.clone()))
        .collect();
    keys.dedup();
    assert_eq!(keys.len(), 16);
    assert_eq!(store.runs(None, None).unwrap().len(), 1);
}

fn fingerprint_changes_are_marked(db: &Holder) {
    let mut store = open(db.url()).unwrap();
    let c = case("t", &[8], 1, 1.0);
    for (i, fp) in ["aaa", "aaa", "bbb", "bbb"].iter().enumerate() {
        let at = t0() + SignedDuration::from_hours(24 * i as i64);
        let run = run_info(&format!("run{i}"), at, "main");
        store.begin_run(&run).unwrap();
        store
            .record_case(&run.run_id, &test_info("t", fp, at), &c, &[])
            .unwrap();
    }
    let rows = store
        .history(&HistoryQuery {
            metric: Some("median_tpot_ms".into()),
            ..HistoryQuery::default()
        })
        .unwrap();
    let seen: Vec<_> = rows
        .iter()
        .map(|h| {
            (
                h.run_id.as_str(),
                h.fingerprint.as_str(),
                h.fingerprint_changed,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("run0", "aaa", false),
            ("run1", "aaa", false),
            ("run2", "bbb", true),
            ("run3", "bbb", false)
        ]
    );
    // Newest last, and --since cuts the older runs.
    let since = store
        .history(&HistoryQuery {
            metric: Some("median_tpot_ms".into()),
            since: Some(t0() + SignedDuration::from_hours(48)),
            ..HistoryQuery::default()
        })
        .unwrap();
    assert_eq!(
        since.iter().map(|h| h.run_id.as_str()).collect::<Vec<_>>(),
        ["run2", "run3"]
    );
}

fn migrates_from_empty_and_from_the_previous_version(db: &Holder) {
    // Version 1 (before accuracy and checks existed), with a run written by that binary.
    open_at_version(db.url(), 1).unwrap();
    raw_sql(
        db.url(),
        "INSERT INTO runs (run_id, started_us, command_line, executor) VALUES ('old', 1, 'servebench run', 'local');
         INSERT INTO test_runs (run_id, test_id, fingerprint) VALUES ('old', 't', 'f');
         INSERT INTO measurements (run_id, test_id, concurrency, repeat_index, metric, value, measured_us, ordinal, valid)
           VALUES ('old', 't', 4, 0, 'median_ttft_ms', 12.5, 1, 0, TRUE);",
    );
    let mut store = open(db.url()).unwrap();
    assert_eq!(store.schema_version(), SCHEMA_VERSION);
    let rows = store.run_results("old").unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].value, 12.5);
    // The tables version 2 added work.
    let run = run_info("new", t0(), "main");
    store.begin_run(&run).unwrap();
    let acc = AccuracyRow {
        task: "gsm8k".into(),
        filter: "strict-match".into(),
        value: 0.95,
        expected: None,
        threshold: None,
        passed: None,
    };
    store
        .record_case(
            "new",
            &test_info("t", "f", t0()),
            &case("t", &[4], 1, 1.0),
            std::slice::from_ref(&acc),
        )
        .unwrap();
    assert_eq!(store.accuracy("new").unwrap(), vec![("t".to_string(), acc)]);
    // Opening again is a no-op.
    drop(store);
    assert_eq!(open(db.url()).unwrap().schema_version(), SCHEMA_VERSION);
}

fn refuses_a_newer_schema_without_touching_it(db: &Holder) {
    drop(open(db.url()).unwrap());
    // An older binary (one that knows only version 1) meets this database.
    match open_at_version(db.url(), 1) {
        Err(Error::SchemaTooNew {
            found, supported, ..
        }) => {
            assert_eq!((found, supported), (SCHEMA_VERSION, 1));
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
    // A database from the future.
    raw_sql(db.url(), "UPDATE servebench_schema SET version = 99");
    let e = open(db.url()).err().unwrap();
    let msg = e.to_string();
    assert!(msg.contains("schema version 99"), "{msg}");
    assert!(msg.contains("upgrade servebench"), "{msg}");
    raw_sql(
        db.url(),
        &format!("UPDATE servebench_schema SET version = {SCHEMA_VERSION}"),
    );
    assert!(open(db.url()).is_ok());
}

fn fixture_csv_imports_once_and_renders_back_byte_for_byte(db: &Holder) {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
    let mut store = open(db.url()).unwrap();
    let s = import::import_csv(store.as_mut(), &fixture, Some("main")).unwrap();
    assert_eq!((s.runs, s.tests, s.read, s.inserted), (2, 2, 24, 24));
    let again = import::import_csv(store.as_mut(), &fixture, Some("main")).unwrap();
    assert_eq!(again.inserted, 0);
    let rows = store.history(&HistoryQuery::default()).unwrap();
    assert_eq!(rows.len(), 24);
    // Upstream names map to canonical ones, and concurrency comes from the name.
    let first = &rows[0];
    assert_eq!(
        first.test_id,
        "disagg_perf_file:deepseek-r1-fp4_001_1k1k_tep:8_bs:32_mtp:0_ccbackend:NIXL"
    );
    assert_eq!(
        (first.concurrency, first.metric.as_str()),
        (4, "median_ttft_ms")
    );
    assert_eq!(first.value, 236.92);
    let mut out = Vec::new();
    let csv: Vec<CsvRow> = rows.iter().map(CsvRow::from_history).collect();
    write_csv(&mut out, &csv).unwrap();
    let original = std::fs::read_to_string(&fixture).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), original);
}

fn results_json_imports_once(db: &Holder) {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("runs").join("20261101-040000-ef56");
    std::fs::create_dir_all(&run_dir).unwrap();
    let cases = vec![case("disagg_perf_a_nixl", &[4, 8], 1, 1.0)];
    let json = serde_json::to_string(&servebench_results::ResultsDoc::new(cases)).unwrap();
    std::fs::write(run_dir.join("results.json"), json).unwrap();
    std::fs::write(
        run_dir.join("journal.jsonl"),
        r#"{"type":"run_started","ts":1793502000.5,"run_id":"20261101-040000-ef56","executor":"local","pid":1,"max_parallel":0,"retries":0,"stop_on_error":false,"tests":[]}
"#,
    )
    .unwrap();
    let mut store = open(db.url()).unwrap();
    let path = run_dir.join("results.json");
    let s = import::import_file(store.as_mut(), &path, Some("nightly")).unwrap();
    assert_eq!((s.runs, s.tests, s.inserted), (1, 1, 8));
    assert_eq!(
        import::import_file(store.as_mut(), &path, Some("nightly"))
            .unwrap()
            .inserted,
        0
    );
    let runs = store.runs(None, Some("nightly")).unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].run_id, "20261101-040000-ef56");
    assert_eq!(runs[0].executor, "local");
    assert_eq!(
        runs[0].started_at,
        Timestamp::from_microsecond(1_793_502_000_500_000).unwrap()
    );
    let rows = store.run_results("20261101-040000-ef56").unwrap();
    assert_eq!(rows.len(), 8);
    assert!(rows.iter().all(|h| h.verdict.as_deref() == Some("invalid")));
}

fn a_failed_write_changes_nothing(db: &Holder) {
    let mut store = open(db.url()).unwrap();
    let c = case("t", &[4, 8], 1, 1.0);
    // A test result of a run that was never begun: refused (the run must exist) ...
    let e = store.record_case("never-begun", &test_info("t", "f", t0()), &c, &[]);
    assert!(matches!(e, Err(Error::Query { .. })), "{e:?}");
    assert!(store.end_run("never-begun", t0()).is_err());
    // ... rolled back whole, and the connection is still usable.
    assert!(store.history(&HistoryQuery::default()).unwrap().is_empty());
    assert!(store.test_ids().unwrap().is_empty());
    store.begin_run(&run_info("r", t0(), "main")).unwrap();
    let s = store
        .record_case("r", &test_info("t", "f", t0()), &c, &[])
        .unwrap();
    assert_eq!(s.inserted, 8);
}

fn curation_is_stored_and_listed(db: &Holder) {
    let mut store = open(db.url()).unwrap();
    assert!(store.accepted_changes().unwrap().is_empty());
    assert!(store.pins().unwrap().is_empty());
    let all = AcceptedChange {
        test_id: None,
        metric: None,
        concurrency: None,
        at_run: "run7".into(),
        reason: "engine upgrade to 1.2".into(),
        accepted_at: t0(),
    };
    let one = AcceptedChange {
        test_id: Some("t1".into()),
        metric: Some("median_ttft_ms".into()),
        concurrency: Some(16),
        at_run: "run9".into(),
        reason: "PR 123 trades TTFT for throughput".into(),
        accepted_at: t0() + SignedDuration::from_secs(60),
    };
    store.accept_change(&all).unwrap();
    store.accept_change(&one).unwrap();
    assert_eq!(
        store.accepted_changes().unwrap(),
        vec![all.clone(), one.clone()]
    );
    assert!(all.applies_to("t2", "output_token_throughput", 4));
    assert!(one.applies_to("t1", "median_ttft_ms", 16));
    assert!(!one.applies_to("t1", "median_ttft_ms", 4));
    assert!(!one.applies_to("t2", "median_ttft_ms", 16));

    let pin = |test: Option<&str>, target: PinTarget, secs: i64| BaselinePin {
        test_id: test.map(str::to_string),
        target,
        pinned_at: t0() + SignedDuration::from_secs(secs),
    };
    store
        .pin_baseline(&pin(Some("t1"), PinTarget::Run("run3".into()), 0))
        .unwrap();
    store
        .pin_baseline(&pin(None, PinTarget::Tag("0123abc".into()), 1))
        .unwrap();
    // A second pin of the same test replaces the first.
    let newer = pin(Some("t1"), PinTarget::Run("run5".into()), 2);
    store.pin_baseline(&newer).unwrap();
    assert_eq!(
        store.pins().unwrap(),
        vec![pin(None, PinTarget::Tag("0123abc".into()), 1), newer]
    );
    // They survive reopening.
    drop(store);
    assert_eq!(open(db.url()).unwrap().accepted_changes().unwrap().len(), 2);
}

fn migrates_from_version_2_to_curation(db: &Holder) {
    open_at_version(db.url(), 2).unwrap();
    raw_sql(
        db.url(),
        "INSERT INTO runs (run_id, started_us, command_line, executor) VALUES ('old', 1, 'servebench run', 'local');
         INSERT INTO measurements (run_id, test_id, concurrency, repeat_index, metric, value, measured_us, ordinal, valid)
           VALUES ('old', 't', 4, 0, 'output_token_throughput', 990.5, 1, 0, TRUE);",
    );
    let mut store = open(db.url()).unwrap();
    assert_eq!(store.schema_version(), SCHEMA_VERSION);
    assert_eq!(store.run_results("old").unwrap()[0].value, 990.5);
    store
        .accept_change(&AcceptedChange {
            test_id: Some("t".into()),
            metric: None,
            concurrency: None,
            at_run: "old".into(),
            reason: "new engine".into(),
            accepted_at: t0(),
        })
        .unwrap();
    store
        .pin_baseline(&BaselinePin {
            test_id: None,
            target: PinTarget::Run("old".into()),
            pinned_at: t0(),
        })
        .unwrap();
    assert_eq!(store.accepted_changes().unwrap().len(), 1);
    assert_eq!(store.pins().unwrap().len(), 1);
}

/// Records one run of test `t` at concurrency 8 with these values of the three gated metrics.
fn record_run(store: &mut dyn Store, i: i64, gpu: &str, throughput: f64, ttft: f64) {
    let run_id = format!("run{i:02}");
    let at = t0() + SignedDuration::from_hours(i);
    let mut info = run_info(&run_id, at, "main");
    info.environment.gpu_type = Some(gpu.into());
    store.begin_run(&info).unwrap();
    store
        .record_test(&run_id, &test_info("t", "f", at))
        .unwrap();
    let rows: Vec<Measurement> = [
        ("output_token_throughput", throughput),
        ("median_ttft_ms", ttft),
        ("median_tpot_ms", 8.0),
    ]
    .into_iter()
    .enumerate()
    .map(|(ordinal, (metric, value))| Measurement {
        run_id: run_id.clone(),
        test_id: "t".into(),
        concurrency: 8,
        repeat: 0,
        metric: metric.into(),
        value,
        measured_at: at,
        ordinal: ordinal as i64,
        valid: true,
        source_name: None,
        command: None,
    })
    .collect();
    store.insert_measurements(&rows).unwrap();
}

/// Noise of about 2%, fixed so the test is deterministic.
const NOISE: [f64; 10] = [0.0, 1.5, -2.0, 0.5, 2.5, -1.0, -0.5, 1.0, -2.5, 2.0];

fn the_gate_judges_stored_history(db: &Holder) {
    let mut store = open(db.url()).unwrap();
    // Twenty stable GB200 runs, interleaved with H100 runs at half the throughput (another
    // series: they must not enter the GB200 baseline), then two GB200 runs 15% slower.
    for i in 0..20 {
        let n = 1.0 + NOISE[i as usize % 10] / 100.0;
        record_run(store.as_mut(), 2 * i, "GB200", 1000.0 * n, 120.0 * n);
        record_run(store.as_mut(), 2 * i + 1, "H100", 500.0 * n, 240.0 * n);
    }
    record_run(store.as_mut(), 40, "GB200", 850.0, 120.0);
    record_run(store.as_mut(), 42, "GB200", 848.0, 121.0);
    let judge = Judge::new(Options::default());
    let gated = default_gated_metrics();
    let report = check_run(store.as_mut(), "run42", &gated, &judge).unwrap();
    let by_metric = |r: &servebench_verdict::CheckReport, m: &str| {
        r.verdicts.iter().find(|e| e.metric == m).unwrap().clone()
    };
    assert_eq!(report.verdicts.len(), 3);
    let tput = by_metric(&report, "output_token_throughput");
    assert_eq!(
        tput.verdict.verdict,
        Gate::Regression,
        "{}",
        tput.verdict.reason
    );
    assert_eq!(tput.verdict.window, 20);
    let baseline = tput.verdict.baseline.unwrap();
    assert!((baseline - 1000.0).abs() < 20.0, "{baseline}");
    assert_eq!(
        by_metric(&report, "median_ttft_ms").verdict.verdict,
        Gate::Unchanged
    );
    assert_eq!(report.exit_code(), 1);

    // Accepting the change at its first run restarts the baseline: too little history now.
    store
        .accept_change(&AcceptedChange {
            test_id: Some("t".into()),
            metric: None,
            concurrency: None,
            at_run: "run40".into(),
            reason: "intended".into(),
            accepted_at: t0(),
        })
        .unwrap();
    let report = check_run(store.as_mut(), "run42", &gated, &judge).unwrap();
    let tput = by_metric(&report, "output_token_throughput");
    assert_eq!(
        tput.verdict.verdict,
        Gate::NoBaseline,
        "{}",
        tput.verdict.reason
    );
    assert_eq!(report.exit_code(), 0);

    // compare: run42 against the window ending at run38, and the raw delta to run38.
    let cmp = compare_runs(store.as_mut(), "run38", "run42", &gated, &judge).unwrap();
    let e = cmp
        .entries
        .iter()
        .find(|e| e.metric == "output_token_throughput")
        .unwrap();
    assert_eq!(e.value_a, 1000.0 * (1.0 + NOISE[9] / 100.0));
    assert_eq!(e.value_b, 848.0);
    assert!((e.raw_delta_pct.unwrap() - (848.0 / 1020.0 - 1.0) * 100.0).abs() < 1e-9);
    assert_eq!(e.verdict.verdict, Gate::Regression, "{}", e.verdict.reason);

    // An unknown run is an error naming it.
    let err = check_run(store.as_mut(), "nope", &gated, &judge).unwrap_err();
    assert!(err.to_string().contains("no run `nope`"), "{err}");
}
