//! Storing a run as its results arrive (SPEC 11.1): the history database (SQLite by default,
//! PostgreSQL for teams) and the upstream `perf_script_test_results.csv`.
//!
//! The store's drivers are synchronous (and PostgreSQL's runs its own runtime), so a
//! [`Recorder`] owns the store on a thread of its own and the pipeline hands it each finished
//! test over a channel: a crash loses at most the test in flight, and the store's natural key
//! (run, test, concurrency, repeat, metric) makes a resume or a second `collect` add nothing.

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use servebench_exec::failpoint;
use servebench_exec::journal::HistorySink;
use servebench_launch::{LaunchSpec, StatusLog};
use servebench_results::CaseResult;
use servebench_store::{AccuracyRow, Environment, RunInfo, TestInfo};

use crate::PipelineError;

/// Where a run's history goes.
#[derive(Debug, Clone, PartialEq, Eq)]
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

impl HistoryTarget {
    /// What the journal keeps of the target: paths made absolute (a resume may start
    /// elsewhere) and any password removed from a database URL.
    pub fn sink(&self) -> HistorySink {
        let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        let (db, redacted) = if self.db.contains("://") {
            let shown = servebench_store::redact_url(&self.db);
            let redacted = shown != self.db;
            (shown, redacted)
        } else {
            let (prefix, path) = match self.db.strip_prefix("sqlite:") {
                Some(p) => ("sqlite:", p),
                None => ("", self.db.as_str()),
            };
            (
                format!("{prefix}{}", absolute(Path::new(path)).display()),
                false,
            )
        };
        HistorySink {
            db,
            redacted,
            csv: self.csv.as_deref().map(absolute),
            label: self.label.clone(),
        }
    }

    /// The target a resume stores into: the one the run's journal names (`sink`), with `db`
    /// (`--db`, `SERVEBENCH_DB`) in place of its database when given.
    pub fn resumed(
        sink: Option<&HistorySink>,
        db: Option<String>,
        command_line: String,
    ) -> Result<HistoryTarget, PipelineError> {
        let journalled = sink.filter(|s| !s.redacted).map(|s| s.db.clone());
        let db = db.or(journalled).ok_or_else(|| {
            PipelineError::Usage(format!(
                "the run stores into {} whose password the journal does not keep: pass it again with --db or SERVEBENCH_DB (or --no-history)",
                sink.map_or("", |s| s.db.as_str())
            ))
        })?;
        Ok(HistoryTarget {
            db,
            csv: sink.and_then(|s| s.csv.clone()),
            label: sink.and_then(|s| s.label.clone()),
            command_line,
            cluster: None,
        })
    }
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

/// The store's view of a test, from its bundle (launch spec and resolved config). Its start
/// and end come from the job's status log, so collecting the same bundle again (a resume)
/// yields the same rows.
fn test_info(bundle: &Path, spec: &LaunchSpec, case: &CaseResult) -> TestInfo {
    let span = std::fs::read_to_string(bundle.join(&spec.status_file))
        .ok()
        .and_then(|t| StatusLog::parse(&t).span());
    let at =
        |secs: f64| jiff::Timestamp::from_duration(jiff::SignedDuration::from_secs_f64(secs)).ok();
    TestInfo {
        test_id: case.test_id.clone(),
        fingerprint: spec.meta.fingerprint.clone(),
        resolved_config: std::fs::read_to_string(bundle.join("config.resolved.yaml")).ok(),
        model: Some(spec.meta.model.clone()).filter(|m| !m.is_empty()),
        precision: Some(spec.meta.precision.clone()).filter(|p| !p.is_empty()),
        case_name: None,
        started_at: span.and_then(|(start, _)| at(start)),
        ended_at: span
            .and_then(|(_, end)| at(end))
            .or_else(|| Some(jiff::Timestamp::now())),
        duration_s: case.duration_s,
    }
}

/// The environment a bundle ran in, as far as it says.
fn environment(spec: &LaunchSpec) -> Environment {
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
                        failpoint::hit("before-store");
                        if let Err(e) =
                            store.record_case(&run.run_id, &test, &case, &accuracy_rows(&case))
                        {
                            warnings.push(format!("history: {}: {e}", case.test_id));
                        }
                        failpoint::hit("after-store");
                        if let Some(csv) = &target.csv {
                            let rows = servebench_store::csv_rows_for_case(&test, &env, &case);
                            if let Err(e) = servebench_store::append_csv(csv, &rows) {
                                warnings.push(format!("history CSV: {e}"));
                            }
                            failpoint::hit("after-csv");
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

    /// Queues one judged test of the bundle at `bundle` (nothing when its launch spec cannot
    /// be read: the case then says why).
    pub fn record(&self, bundle: &Path, case: &CaseResult) {
        let spec = std::fs::read_to_string(bundle.join("launch.json"))
            .ok()
            .and_then(|t| LaunchSpec::from_json(&t).ok());
        if let Some(spec) = spec {
            let item = (
                test_info(bundle, &spec, case),
                environment(&spec),
                case.clone(),
            );
            let _ = self.tx.send(Msg::Case(Box::new(item)));
        }
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

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    fn target(db: &str) -> HistoryTarget {
        HistoryTarget {
            db: db.into(),
            csv: Some(PathBuf::from("out/perf_script_test_results.csv")),
            label: Some("main".into()),
            command_line: "servebench run".into(),
            cluster: None,
        }
    }

    #[test]
    fn the_journal_keeps_no_password_and_a_resume_asks_for_it() {
        let sink = target("postgres://ci:s3cret-PLANTED@db.example/perf").sink();
        assert!(!sink.db.contains("s3cret-PLANTED"), "{}", sink.db);
        assert!(sink.redacted);
        assert!(sink.csv.as_ref().unwrap().is_absolute());
        let err = HistoryTarget::resumed(Some(&sink), None, "resume".into()).unwrap_err();
        assert!(err.to_string().contains("--db"), "{err}");
        let again = HistoryTarget::resumed(
            Some(&sink),
            Some("postgres://ci:s3cret-PLANTED@db.example/perf".into()),
            "resume".into(),
        )
        .unwrap();
        assert_eq!(again.csv, sink.csv);
        assert_eq!(again.label.as_deref(), Some("main"));
    }

    #[test]
    fn sqlite_paths_are_journalled_absolute() {
        for db in ["out/servebench.db", "sqlite:out/servebench.db"] {
            let sink = target(db).sink();
            assert!(!sink.redacted);
            let path = sink.db.strip_prefix("sqlite:").unwrap_or(&sink.db);
            assert!(Path::new(path).is_absolute(), "{}", sink.db);
            let again = HistoryTarget::resumed(Some(&sink), None, "resume".into()).unwrap();
            assert_eq!(again.db, sink.db);
        }
    }
}
