//! Bringing earlier history in: upstream `perf_script_test_results.csv` files and the
//! `results.json` of earlier servebench runs. Both are idempotent: run ids derive from the
//! content (the CSV test's start time; the servebench run id), so importing a file again, or a
//! CSV that has grown since, adds only what is new.

use std::collections::BTreeMap;
use std::path::Path;

use jiff::Timestamp;
use servebench_results::CaseResult;

use crate::Store;
use crate::csv::{CsvRow, parse_time, read_csv};
use crate::error::Error;
use crate::metric_names::canonical_metric;
use crate::model::{Environment, Measurement, RunInfo, TestInfo};

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Runs seen in the file.
    pub runs: u64,
    /// Tests seen.
    pub tests: u64,
    /// Measurements read.
    pub read: u64,
    /// Measurements newly stored (the rest were already there).
    pub inserted: u64,
}

/// `test_benchmark[<id>]` -> `<id>` (also `test_accuracy`, `test_stress`, any `test_*[...]`);
/// other names are their own id.
fn test_id_of(case_name: &str) -> &str {
    case_name
        .strip_prefix("test_")
        .and_then(|rest| rest.split_once('['))
        .and_then(|(func, inner)| {
            (!func.is_empty() && func.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
                .then_some(inner)
        })
        .and_then(|inner| inner.strip_suffix(']'))
        .unwrap_or(case_name)
}

/// Splits `<case>_con:<N>` into the case name and N; without the suffix, N comes from the
/// command's `--concurrency=N`.
fn split_concurrency(name: &str, command: &str) -> Option<(String, i64)> {
    if let Some((base, n)) = name.rsplit_once("_con:")
        && let Ok(n) = n.parse()
    {
        return Some((base.to_string(), n));
    }
    let n = command
        .split_whitespace()
        .find_map(|a| a.strip_prefix("--concurrency="))?
        .parse()
        .ok()?;
    Some((name.to_string(), n))
}

struct CsvTest {
    info: TestInfo,
    measurements: Vec<Measurement>,
}

/// Imports an upstream results CSV. Each row is one measurement of (test, metric type,
/// concurrency) at its `start_timestamp`; rows of one start time form one run
/// `csv-<YYYYMMDDTHHMMSS>` with `label`.
pub fn import_csv(
    store: &mut dyn Store,
    path: &Path,
    label: Option<&str>,
) -> Result<ImportSummary, Error> {
    let rows = read_csv(path)?;
    let err = |line: u64, message: String| Error::Format {
        path: path.to_path_buf(),
        line,
        message,
    };
    // run id -> (run, tests by id)
    let mut runs: BTreeMap<String, (RunInfo, BTreeMap<String, CsvTest>)> = BTreeMap::new();
    for (line, row) in &rows {
        let (m, run, info) = csv_measurement(row, *line, label, path, &err)?;
        let entry = runs
            .entry(m.run_id.clone())
            .or_insert_with(|| (run, BTreeMap::new()));
        let end = info.ended_at;
        let test = entry.1.entry(m.test_id.clone()).or_insert_with(|| CsvTest {
            info,
            measurements: Vec::new(),
        });
        test.info.ended_at = test.info.ended_at.max(end);
        test.measurements.push(m);
    }
    let mut summary = ImportSummary::default();
    for (run, tests) in runs.values() {
        store.begin_run(run)?;
        summary.runs += 1;
        let mut ended = run.started_at;
        for t in tests.values() {
            store.record_test(&run.run_id, &t.info)?;
            summary.tests += 1;
            summary.read += t.measurements.len() as u64;
            summary.inserted += store.insert_measurements(&t.measurements)?;
            ended = ended.max(t.info.ended_at.unwrap_or(ended));
        }
        store.end_run(&run.run_id, ended)?;
    }
    Ok(summary)
}

type FormatErr<'a> = &'a dyn Fn(u64, String) -> Error;

fn csv_measurement(
    row: &CsvRow,
    line: u64,
    label: Option<&str>,
    path: &Path,
    err: FormatErr<'_>,
) -> Result<(Measurement, RunInfo, TestInfo), Error> {
    let name = row.get("test_name");
    let command = row.get("command");
    let (case_name, concurrency) = split_concurrency(name, command).ok_or_else(|| {
        err(
            line,
            format!(
                "test_name `{name}` has no `_con:<N>` suffix and command `{command}` no `--concurrency=<N>`: cannot tell the concurrency"
            ),
        )
    })?;
    let time = |col: &str| {
        let v = row.get(col);
        parse_time(v).ok_or_else(|| {
            err(
                line,
                format!("{col} `{v}` is not a time like `2025-11-12 19:58:09`"),
            )
        })
    };
    let start = time("start_timestamp")?;
    let end = time("end_timestamp")?;
    let value_text = row.get("perf_metric");
    let value: f64 = value_text
        .trim()
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| {
            err(
                line,
                format!("perf_metric `{value_text}` is not a finite number"),
            )
        })?;
    let clock = |col: &str| -> Result<Option<i64>, Error> {
        let v = row.get(col).trim();
        if v.is_empty() {
            return Ok(None);
        }
        v.parse().map(Some).map_err(|_| {
            err(
                line,
                format!("{col} `{v}` is not a clock in MHz (an integer)"),
            )
        })
    };
    let duration = row.get("total_time__sec").trim();
    let duration_s = if duration.is_empty() {
        None
    } else {
        Some(duration.parse::<f64>().map_err(|_| {
            err(
                line,
                format!("total_time__sec `{duration}` is not a number of seconds"),
            )
        })?)
    };
    let metric_type = row.get("metric_type");
    if metric_type.is_empty() {
        return Err(err(
            line,
            "metric_type is empty: every row names its metric".into(),
        ));
    }
    let test_id = test_id_of(&case_name).to_string();
    let run_id = format!("csv-{}", start.strftime("%Y%m%dT%H%M%S"));
    let metric = canonical_metric(metric_type);
    let measurement = Measurement {
        run_id: run_id.clone(),
        test_id: test_id.clone(),
        concurrency,
        repeat: 0,
        source_name: (metric != metric_type).then(|| metric_type.to_string()),
        metric,
        value,
        measured_at: start,
        ordinal: i64::try_from(line).unwrap_or(i64::MAX),
        valid: row.get("state") == "valid",
        command: Some(command.to_string()),
    };
    let run = RunInfo {
        run_id,
        started_at: start,
        command_line: format!("servebench import {}", path.display()),
        label: label.map(str::to_string),
        config_commit: None,
        cluster: None,
        executor: "import".into(),
        environment: Environment {
            sm_clock_mhz: clock("sm_clk")?,
            mem_clock_mhz: clock("mem_clk")?,
            ..Environment::default()
        },
    };
    let info = TestInfo {
        test_id,
        case_name: Some(case_name),
        started_at: Some(start),
        ended_at: Some(end),
        duration_s,
        ..TestInfo::default()
    };
    Ok((measurement, run, info))
}

/// Imports the `results.json` of an earlier servebench run. The run id is the run directory's
/// name (`runs/<id>/results.json`); its start time and executor come from the `journal.jsonl`
/// beside it when there is one, else from the file's modification time.
pub fn import_results_json(
    store: &mut dyn Store,
    path: &Path,
    label: Option<&str>,
) -> Result<ImportSummary, Error> {
    let io = |source: std::io::Error| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let text = std::fs::read_to_string(path).map_err(io)?;
    let format = |message: String| Error::Format {
        path: path.to_path_buf(),
        line: 0,
        message,
    };
    let doc: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format(format!("not JSON (line {}): {e}", e.line())))?;
    let cases = doc
        .get("cases")
        .cloned()
        .ok_or_else(|| format("no `cases` array: expected servebench's results.json".into()))?;
    let cases: Vec<CaseResult> = serde_json::from_value(cases)
        .map_err(|e| format(format!("`cases` is not servebench's case layout: {e}")))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let run_id = dir
        .canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .ok_or_else(|| format("cannot name the run: the file has no parent directory".into()))?;
    let (started_at, executor) = journal_start(dir).unwrap_or_else(|| {
        let mtime = std::fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| Timestamp::try_from(t).ok())
            .unwrap_or_else(Timestamp::now);
        (mtime, "unknown".to_string())
    });
    let run = RunInfo {
        run_id: run_id.clone(),
        started_at,
        command_line: format!("servebench import {}", path.display()),
        label: label.map(str::to_string),
        config_commit: None,
        cluster: None,
        executor,
        environment: Environment::default(),
    };
    store.begin_run(&run)?;
    let mut summary = ImportSummary {
        runs: 1,
        ..ImportSummary::default()
    };
    for case in &cases {
        let test = TestInfo {
            test_id: case.test_id.clone(),
            started_at: Some(started_at),
            ..TestInfo::default()
        };
        let r = store.record_case(&run_id, &test, case, &[])?;
        summary.tests += 1;
        summary.read += r.inserted + r.already_present;
        summary.inserted += r.inserted;
    }
    Ok(summary)
}

/// The `run_started` record's time and executor from `dir/journal.jsonl`.
fn journal_start(dir: &Path) -> Option<(Timestamp, String)> {
    let text = std::fs::read_to_string(dir.join("journal.jsonl")).ok()?;
    let first: serde_json::Value = serde_json::from_str(text.lines().next()?).ok()?;
    if first.get("type")?.as_str()? != "run_started" {
        return None;
    }
    let secs = first.get("ts")?.as_f64()?;
    let at = Timestamp::from_microsecond((secs * 1e6) as i64).ok()?;
    let executor = first.get("executor")?.as_str()?.to_string();
    Some((at, executor))
}

/// Imports a file by its kind: `.json` as a servebench `results.json`, anything else as an
/// upstream results CSV.
pub fn import_file(
    store: &mut dyn Store,
    path: &Path,
    label: Option<&str>,
) -> Result<ImportSummary, Error> {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    {
        import_results_json(store, path, label)
    } else {
        import_csv(store, path, label)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn any_name_splits_without_panicking(name in "\\PC{0,40}", command in "\\PC{0,40}") {
            if let Some((base, n)) = split_concurrency(&name, &command) {
                proptest::prop_assert!(name.starts_with(&base));
                proptest::prop_assert!(n.to_string().len() <= 20);
            }
            proptest::prop_assert!(name.contains(test_id_of(&name)));
        }

        #[test]
        fn wrapped_ids_unwrap(id in "[a-z0-9:_.-]{1,30}", c in 0i64..100_000) {
            let name = format!("test_benchmark[{id}]_con:{c}");
            let (base, n) = split_concurrency(&name, "").unwrap_or_default();
            proptest::prop_assert_eq!(n, c);
            proptest::prop_assert_eq!(test_id_of(&base), id.as_str());
        }
    }

    #[test]
    fn names_split_into_test_and_concurrency() {
        assert_eq!(
            split_concurrency("test_benchmark[a:b_c]_con:144", ""),
            Some(("test_benchmark[a:b_c]".into(), 144))
        );
        assert_eq!(
            split_concurrency("x", "disagg_benchmark --model=m --concurrency=8"),
            Some(("x".into(), 8))
        );
        assert_eq!(split_concurrency("x", "disagg_benchmark"), None);
        assert_eq!(
            test_id_of("test_benchmark[disagg_perf_file:x]"),
            "disagg_perf_file:x"
        );
        assert_eq!(test_id_of("test_stress[y]"), "y");
        assert_eq!(test_id_of("plain"), "plain");
        assert_eq!(test_id_of("test_[x]"), "test_[x]");
    }
}
