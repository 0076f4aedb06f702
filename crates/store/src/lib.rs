//! The history store: every run's results in one SQLite file (default) or a shared PostgreSQL
//! database, plus the upstream results CSV, imports of earlier history and the OpenSearch
//! export (SPEC 11.1, `docs/history.md`).
//!
//! # Recording a run (what the run pipeline calls)
//!
//! ```no_run
//! # fn demo(cases: Vec<servebench_results::CaseResult>) -> Result<(), servebench_store::Error> {
//! use servebench_store::{RunInfo, TestInfo, Environment};
//! let mut store = servebench_store::open("servebench-out/servebench.db")?;
//! let run = RunInfo {
//!     run_id: "20261204-013000-ab12".into(),
//!     started_at: jiff::Timestamp::now(),
//!     command_line: "servebench run -k nixl".into(),
//!     label: Some("main".into()),
//!     config_commit: None,
//!     cluster: Some("local".into()),
//!     executor: "local".into(),
//!     environment: Environment::default(),
//! };
//! store.begin_run(&run)?; // again on resume: idempotent
//! for case in &cases {
//!     let test = TestInfo { test_id: case.test_id.clone(), ..TestInfo::default() };
//!     store.record_case(&run.run_id, &test, case, &[])?; // as each test finishes
//! }
//! store.end_run(&run.run_id, jiff::Timestamp::now())?;
//! # Ok(()) }
//! ```
//!
//! Every write is one transaction and every measurement has the natural key (run, test,
//! concurrency, repeat, metric): recording the same point again (a resumed run) adds nothing, so
//! a crash loses at most what was in flight. [`Store::record_point`] stores one concurrency point
//! as soon as it is parsed, when the caller has points before the whole case.
//!
//! What this crate must not do: print, start an async runtime of its own beyond the PostgreSQL
//! driver's, or depend on any servebench crate above `results`.

mod csv;
mod db;
mod error;
pub mod gate;
pub mod import;
mod metric_names;
mod model;
pub mod opensearch;
mod schema;
mod sql;

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use servebench_results::{CaseResult, PointResult};

pub use crate::csv::{
    CSV_COLUMNS, CSV_FILE_NAME, CsvRow, append_csv, csv_rows_for_case, read_csv, write_csv,
};
pub use error::{Error, redact_url};
pub use metric_names::{canonical_metric, upstream_csv_name};
pub use model::{
    AcceptedChange, AccuracyRow, BaselinePin, Environment, HistoryQuery, HistoryRow, Measurement,
    PinTarget, RunInfo, RunRow, TestInfo,
};
pub use schema::LATEST as SCHEMA_VERSION;

/// Whether a point is valid: its result is complete and every check about it (its
/// concurrency and repeat, or the whole case) held. Stored as `valid`; the CSV's `state`.
pub fn point_valid(case: &CaseResult, point: &PointResult) -> bool {
    point.complete
        && case.checks.iter().all(|c| {
            c.passed
                || c.concurrency.is_some_and(|x| x != point.concurrency)
                || c.repeat.is_some_and(|r| r != point.repeat)
        })
}

/// What [`Store::record_case`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordSummary {
    /// Measurements newly stored.
    pub inserted: u64,
    /// Measurements that were already there (a resumed run recording a point again).
    pub already_present: u64,
}

/// A history database. Both backends implement it with the same statements; every method is
/// one transaction. Blocking: from async code call it on a blocking thread
/// (`tokio::task::spawn_blocking`), because the PostgreSQL driver runs its own small runtime and
/// must not be entered from inside another one.
pub trait Store: Send {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// The schema version in place (always [`SCHEMA_VERSION`] after [`open`]).
    fn schema_version(&self) -> i64;
    /// Records a run's start. Calling it again for the same id (resume) keeps the first start
    /// and command line and fills environment fields that were unknown.
    fn begin_run(&mut self, run: &RunInfo) -> Result<(), Error>;
    /// Records that a test belongs to a run (its fingerprint, config and timing) without results.
    fn record_test(&mut self, run_id: &str, test: &TestInfo) -> Result<(), Error>;
    /// Stores one concurrency point's metrics as soon as it is known; returns how many were new.
    fn record_point(
        &mut self,
        run_id: &str,
        test: &TestInfo,
        point: &PointResult,
        valid: bool,
    ) -> Result<u64, Error>;
    /// Stores a finished test: its points (skipping those already stored), verdict, reason,
    /// validity checks and accuracy rows.
    fn record_case(
        &mut self,
        run_id: &str,
        test: &TestInfo,
        case: &CaseResult,
        accuracy: &[AccuracyRow],
    ) -> Result<RecordSummary, Error>;
    /// Records a run's end.
    fn end_run(&mut self, run_id: &str, ended_at: Timestamp) -> Result<(), Error>;
    /// Bulk insert of prepared measurements (imports, benchmarks); returns how many were new.
    /// Their runs must have been recorded with [`Store::begin_run`] and their tests with
    /// [`Store::record_test`].
    fn insert_measurements(&mut self, rows: &[Measurement]) -> Result<u64, Error>;
    /// A run's accuracy rows, as `(test id, row)`.
    fn accuracy(&mut self, run_id: &str) -> Result<Vec<(String, AccuracyRow)>, Error>;
    /// Every test id with at least one recorded run, sorted.
    fn test_ids(&mut self) -> Result<Vec<String>, Error>;
    /// Measurements matching the query, oldest first (newest last), with fingerprint changes
    /// marked.
    fn history(&mut self, query: &HistoryQuery<'_>) -> Result<Vec<HistoryRow>, Error>;
    /// Runs started at or after `since` (every run when `None`), optionally of one label,
    /// oldest first.
    fn runs(&mut self, since: Option<Timestamp>, label: Option<&str>)
    -> Result<Vec<RunRow>, Error>;
    /// Records an accepted change (`baseline accept`).
    fn accept_change(&mut self, change: &AcceptedChange) -> Result<(), Error>;
    /// Every accepted change, oldest first.
    fn accepted_changes(&mut self) -> Result<Vec<AcceptedChange>, Error>;
    /// Pins a baseline (`baseline pin`), replacing an earlier pin of the same test (or of all).
    fn pin_baseline(&mut self, pin: &BaselinePin) -> Result<(), Error>;
    /// Every pin, all-tests pin first, then by test id.
    fn pins(&mut self) -> Result<Vec<BaselinePin>, Error>;
    /// One run's measurements, in history order.
    fn run_results(&mut self, run_id: &str) -> Result<Vec<HistoryRow>, Error> {
        self.history(&HistoryQuery {
            run_id: Some(run_id.to_string()),
            ..HistoryQuery::default()
        })
    }
}

/// Where a `--db` value points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// An SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL.
    Postgres(String),
}

impl Location {
    /// Reads `--db`: `postgres://` or `postgresql://` URLs, `sqlite:PATH` / `sqlite://PATH`, or
    /// a plain path.
    pub fn parse(url_or_path: &str) -> Result<Location, Error> {
        if url_or_path.starts_with("postgres://") || url_or_path.starts_with("postgresql://") {
            return Ok(Location::Postgres(url_or_path.to_string()));
        }
        if let Some(rest) = url_or_path.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(Error::Invalid(
                    "`sqlite:` needs a file path, e.g. `sqlite:servebench-out/servebench.db`"
                        .into(),
                ));
            }
            return Ok(Location::Sqlite(PathBuf::from(path)));
        }
        if let Some((scheme, _)) = url_or_path.split_once("://") {
            return Err(Error::Scheme {
                scheme: scheme.to_string(),
            });
        }
        if url_or_path.is_empty() {
            return Err(Error::Invalid(
                "the database location is empty: give a path or a postgres:// URL".into(),
            ));
        }
        Ok(Location::Sqlite(PathBuf::from(url_or_path)))
    }

    /// False for an SQLite file that does not exist yet (a PostgreSQL database is assumed to).
    pub fn exists(&self) -> bool {
        match self {
            Location::Sqlite(p) => p.is_file(),
            Location::Postgres(_) => true,
        }
    }

    /// The location for messages (credentials redacted).
    pub fn display(&self) -> String {
        match self {
            Location::Sqlite(p) => p.display().to_string(),
            Location::Postgres(u) => redact_url(u),
        }
    }
}

/// Opens (creating when needed) and migrates the history database at `url_or_path` (see
/// [`Location::parse`]). Readers that should not create an empty SQLite file check
/// [`Location::exists`] first.
pub fn open(url_or_path: &str) -> Result<Box<dyn Store>, Error> {
    match Location::parse(url_or_path)? {
        Location::Sqlite(path) => open_sqlite(&path),
        Location::Postgres(url) => {
            let db = db::PgDb::connect(&url)?;
            Ok(Box::new(sql::SqlStore::new(db, &redact_url(&url))?))
        }
    }
}

fn open_sqlite(path: &Path) -> Result<Box<dyn Store>, Error> {
    let db = db::SqliteDb::open(path)?;
    Ok(Box::new(sql::SqlStore::new(
        db,
        &path.display().to_string(),
    )?))
}

/// Test-only access to the migration runner with a custom migration list (the schema
/// upgrade tests build an older database with it).
#[doc(hidden)]
pub fn open_at_version(url_or_path: &str, version: i64) -> Result<(), Error> {
    let steps: Vec<schema::Migration> = schema::MIGRATIONS
        .iter()
        .filter(|m| m.version <= version)
        .map(|m| schema::Migration {
            version: m.version,
            statements: m.statements,
        })
        .collect();
    match Location::parse(url_or_path)? {
        Location::Sqlite(path) => {
            let mut db = db::SqliteDb::open(&path)?;
            schema::migrate(&mut db, &steps, url_or_path).map(|_| ())
        }
        Location::Postgres(url) => {
            let mut db = db::PgDb::connect(&url)?;
            schema::migrate(&mut db, &steps, &redact_url(&url)).map(|_| ())
        }
    }
}

/// Recorded wall time per test: the median `duration_s` of its newest `last` runs, for CI
/// shards (`--splits`, least_duration). Tests with no recorded duration are absent.
pub fn test_durations(
    store: &mut dyn Store,
    last: usize,
) -> Result<std::collections::BTreeMap<String, f64>, Error> {
    use std::collections::BTreeMap;
    let rows = store.history(&HistoryQuery {
        test_filter: None,
        metric: Some("output_token_throughput".into()),
        concurrency: None,
        since: None,
        label: None,
        run_id: None,
    })?;
    // Newest last: keep one duration per (test, run), in order.
    let mut per_test: BTreeMap<String, Vec<(String, f64)>> = BTreeMap::new();
    for r in rows {
        let Some(d) = r.duration_s.filter(|d| d.is_finite() && *d > 0.0) else {
            continue;
        };
        let runs = per_test.entry(r.test_id).or_default();
        if runs.last().is_none_or(|(id, _)| *id != r.run_id) {
            runs.push((r.run_id, d));
        }
    }
    Ok(per_test
        .into_iter()
        .filter_map(|(test, runs)| {
            let mut recent: Vec<f64> = runs.iter().rev().take(last.max(1)).map(|r| r.1).collect();
            recent.sort_by(f64::total_cmp);
            let mid = recent.len() / 2;
            let median = if recent.len().is_multiple_of(2) {
                (recent.get(mid.wrapping_sub(1))? + recent.get(mid)?) / 2.0
            } else {
                *recent.get(mid)?
            };
            Some((test, median))
        })
        .collect())
}
