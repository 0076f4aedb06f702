//! Storing a run as its results arrive (SPEC 11.1): the history database (SQLite by default,
//! PostgreSQL for teams) and the upstream `perf_script_test_results.csv`.
//!
//! The store's drivers are synchronous (and PostgreSQL's runs its own runtime), so a
//! [`Recorder`] owns the store on a thread of its own and the pipeline hands it each finished
//! test over a channel: a crash loses at most the test in flight, and the store's natural key
//! (run, test, concurrency, repeat, metric) makes a resume or a second `collect` add nothing.

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use servebench_launch::LaunchSpec;
use servebench_results::CaseResult;
use servebench_store::{AccuracyRow, Environment, RunInfo, TestInfo};

use crate::PipelineError;

/// Where a run's history goes.
#[derive(Debug, Clone)]
pub struct HistoryTarget {
    /// `--db`: an SQLite path, `sqlite:PATH` or `postgres://...`.
    pub db: String,
    /// The upstream CSV to append to (`<output>/perf_script_test_results.csv`), if any.
    pub csv: Option<PathBuf>,
    /// Baseline label (`main`, a branch).
    pub label: Option<String>,
    /// The command line that started the run.
    pub command_line: String,
    /// Cluster profile name.
    pub cluster: Option<String>,
}

enum Msg {
    Case(Box<(TestInfo, Environment, CaseResult)>),
    End,
}

/// A store writer on its own thread.
pub struct Recorder {
    tx: mpsc::Sender<Msg>,
    handle: std::thread::JoinHandle<Vec<String>>,
}

/// The store's view of a test, from its bundle (launch spec and resolved config).
pub fn test_info(bundle: &Path, spec: &LaunchSpec, case: &CaseResult) -> TestInfo {
    TestInfo {
        test_id: case.test_id.clone(),
        fingerprint: spec.meta.fingerprint.clone(),
        resolved_config: std::fs::read_to_string(bundle.join("config.resolved.yaml")).ok(),
        model: Some(spec.meta.model.clone()).filter(|m| !m.is_empty()),
        precision: Some(spec.meta.precision.clone()).filter(|p| !p.is_empty()),
        case_name: None,
        started_at: None,
        ended_at: Some(jiff::Timestamp::now()),
        duration_s: case.duration_s,
    }
}

/// The environment a bundle ran in, as far as it says.
pub fn environment(spec: &LaunchSpec) -> Environment {
    Environment {
        engine: Some(spec.engine.as_str().to_string()),
        gpu_type: spec.meta.gpu_type.clone(),
        ..Environment::default()
    }
}

fn accuracy_rows(case: &CaseResult) -> Vec<AccuracyRow> {
    case.accuracy
        .iter()
        .map(|a| AccuracyRow {
            task: a.dataset.clone(),
            filter: a.filter.clone(),
            value: a.value,
            expected: Some(a.expected),
            threshold: Some(a.threshold),
            passed: Some(a.passed),
        })
        .collect()
}

impl Recorder {
    /// Opens the store (migrating it) and records the run's start; fails before anything runs
    /// when the database cannot be opened.
    pub fn start(target: &HistoryTarget, run: RunInfo) -> Result<Recorder, PipelineError> {
        let (tx, rx) = mpsc::channel::<Msg>();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
        let target = target.clone();
        let handle = std::thread::spawn(move || {
            let mut warnings = Vec::new();
            let mut store = match servebench_store::open(&target.db)
                .and_then(|mut s| s.begin_run(&run).map(|()| s))
            {
                Ok(s) => {
                    let _ = ready_tx.send(Ok(()));
                    s
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e.to_string()));
                    return warnings;
                }
            };
            while let Ok(msg) = rx.recv() {
                match msg {
                    Msg::Case(item) => {
                        let (test, env, case) = *item;
                        if let Err(e) =
                            store.record_case(&run.run_id, &test, &case, &accuracy_rows(&case))
                        {
                            warnings.push(format!("history: {}: {e}", case.test_id));
                        }
                        if let Some(csv) = &target.csv {
                            let rows = servebench_store::csv_rows_for_case(&test, &env, &case);
                            if let Err(e) = servebench_store::append_csv(csv, &rows) {
                                warnings.push(format!("history CSV: {e}"));
                            }
                        }
                    }
                    Msg::End => {
                        if let Err(e) = store.end_run(&run.run_id, jiff::Timestamp::now()) {
                            warnings.push(format!("history: {e}"));
                        }
                        break;
                    }
                }
            }
            warnings
        });
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(Recorder { tx, handle }),
            Ok(Err(e)) => Err(PipelineError::Infra(format!(
                "cannot open the history database: {e} (point --db / SERVEBENCH_DB elsewhere, or --no-history)"
            ))),
            Err(_) => Err(PipelineError::Infra(
                "the history writer stopped before it started".into(),
            )),
        }
    }

    /// Queues one finished test.
    pub fn record(&self, test: TestInfo, env: Environment, case: CaseResult) {
        let _ = self.tx.send(Msg::Case(Box::new((test, env, case))));
    }

    /// Records the run's end, waits for every queued write, and returns the warnings.
    pub fn finish(self) -> Vec<String> {
        let _ = self.tx.send(Msg::End);
        self.handle.join().unwrap_or_default()
    }
}

/// The run's record for the store.
pub fn run_info(target: &HistoryTarget, run_id: &str, executor: &str) -> RunInfo {
    RunInfo {
        run_id: run_id.to_string(),
        started_at: jiff::Timestamp::now(),
        command_line: target.command_line.clone(),
        label: target.label.clone(),
        config_commit: None,
        cluster: target.cluster.clone(),
        executor: executor.to_string(),
        environment: Environment::default(),
    }
}
