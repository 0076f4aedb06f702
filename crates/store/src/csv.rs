//! `perf_script_test_results.csv`, the disagg framework's results file (reference/upstream.md
//! 6.4): 17 columns in upstream's order and formatting, one row per (concurrency, metric), the
//! header written once, appended under an exclusive advisory lock (`flock`) with one `write` per
//! batch, so concurrent runs never tear or interleave rows.

use std::collections::{BTreeMap, HashSet};
use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::path::Path;

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use nix::fcntl::{Flock, FlockArg};
use servebench_results::CaseResult;

use crate::error::Error;
use crate::metric_names::upstream_csv_name;
use crate::model::{Environment, HistoryRow, TestInfo};
use crate::point_valid;

/// The file's name in the output directory.
pub const CSV_FILE_NAME: &str = "perf_script_test_results.csv";

/// The 17 columns, in upstream's order.
pub const CSV_COLUMNS: [&str; 17] = [
    "network_name",
    "network_hash",
    "sm_clk",
    "mem_clk",
    "gpu_idx",
    "perf_case_name",
    "test_name",
    "original_test_name",
    "perf_metric",
    "total_time__sec",
    "start_timestamp",
    "end_timestamp",
    "state",
    "command",
    "threshold",
    "absolute_threshold",
    "metric_type",
];

/// Upstream's timestamp format (`%Y-%m-%d %H:%M:%S`, read and written as UTC).
const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// One CSV row, every field as its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvRow(pub [String; 17]);

impl CsvRow {
    /// The value of a column by name.
    pub fn get(&self, column: &str) -> &str {
        CSV_COLUMNS
            .iter()
            .position(|c| *c == column)
            .and_then(|i| self.0.get(i))
            .map_or("", String::as_str)
    }

    /// Builds a row the way upstream's ResultSaver does.
    fn build(r: &RowParts<'_>) -> CsvRow {
        let name = format!("{}_con:{}", r.case_name, r.concurrency);
        let command = r.command.clone().unwrap_or_else(|| {
            let mut c = format!("disagg_benchmark --model={}", r.model.unwrap_or("unknown"));
            if let Some(p) = r.precision {
                c.push_str(&format!(" --{}", p.trim_start_matches('-')));
            }
            c.push_str(&format!(" --concurrency={}", r.concurrency));
            c
        });
        CsvRow([
            name.replace('/', "-"),
            name.clone(),
            r.sm_clock.unwrap_or(0).to_string(),
            r.mem_clock.unwrap_or(0).to_string(),
            String::new(),
            name.clone(),
            name.clone(),
            name,
            py_float(r.value),
            r.duration_s.map(py_float).unwrap_or_default(),
            format_time(r.start),
            format_time(r.end),
            if r.valid { "valid" } else { "invalid" }.to_string(),
            command,
            String::new(),
            String::new(),
            r.metric_type.clone(),
        ])
    }

    /// The row a stored measurement renders to (`history --format csv`).
    pub fn from_history(h: &HistoryRow) -> CsvRow {
        let start = h.test_started_at.unwrap_or(h.measured_at);
        CsvRow::build(&RowParts {
            case_name: h
                .case_name
                .clone()
                .unwrap_or_else(|| default_case_name(&h.test_id)),
            concurrency: h.concurrency,
            sm_clock: h.sm_clock_mhz,
            mem_clock: h.mem_clock_mhz,
            value: h.value,
            duration_s: h.duration_s,
            start,
            end: h.test_ended_at.unwrap_or(start),
            valid: h.valid,
            command: h.command.clone(),
            model: h.model.as_deref(),
            precision: h.precision.as_deref(),
            metric_type: h
                .source_name
                .clone()
                .unwrap_or_else(|| upstream_csv_name(&h.metric)),
        })
    }
}

struct RowParts<'a> {
    case_name: String,
    concurrency: i64,
    sm_clock: Option<i64>,
    mem_clock: Option<i64>,
    value: f64,
    duration_s: Option<f64>,
    start: Timestamp,
    end: Timestamp,
    valid: bool,
    command: Option<String>,
    model: Option<&'a str>,
    precision: Option<&'a str>,
    metric_type: String,
}

/// `test_benchmark[<test id>]`, the pytest node name upstream's rows carry.
fn default_case_name(test_id: &str) -> String {
    format!("test_benchmark[{test_id}]")
}

/// The rows of one finished test: per concurrency, every canonical metric (the median over
/// repeats when `benchmark.repeats` ran the point several times), in concurrency then metric
/// order. `state` is `valid` when every repeat of the point passed its checks.
pub fn csv_rows_for_case(test: &TestInfo, env: &Environment, case: &CaseResult) -> Vec<CsvRow> {
    let mut by_concurrency: BTreeMap<u64, (bool, BTreeMap<&str, Vec<f64>>)> = BTreeMap::new();
    for p in &case.points {
        let valid = point_valid(case, p);
        let entry = by_concurrency
            .entry(p.concurrency)
            .or_insert_with(|| (true, BTreeMap::new()));
        entry.0 &= valid;
        for (m, v) in &p.metrics {
            entry.1.entry(m.as_str()).or_default().push(*v);
        }
    }
    let start = test.started_at.unwrap_or_else(Timestamp::now);
    let end = test.ended_at.unwrap_or(start);
    let duration_s = case
        .duration_s
        .or_else(|| Some((end - start).as_secs_f64()));
    let mut rows = Vec::new();
    for (c, (valid, metrics)) in by_concurrency {
        for (metric, mut values) in metrics {
            rows.push(CsvRow::build(&RowParts {
                case_name: test
                    .case_name
                    .clone()
                    .unwrap_or_else(|| default_case_name(&test.test_id)),
                concurrency: i64::try_from(c).unwrap_or(i64::MAX),
                sm_clock: env.sm_clock_mhz,
                mem_clock: env.mem_clock_mhz,
                value: median(&mut values),
                duration_s,
                start,
                end,
                valid,
                command: None,
                model: test.model.as_deref(),
                precision: test.precision.as_deref(),
                metric_type: upstream_csv_name(metric),
            }));
        }
    }
    rows
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => values.get(n / 2).copied().unwrap_or(f64::NAN),
        _ => {
            let a = values.get(n / 2 - 1).copied().unwrap_or(f64::NAN);
            let b = values.get(n / 2).copied().unwrap_or(f64::NAN);
            (a + b) / 2.0
        }
    }
}

/// A float as Python's `str()` writes it (upstream writes `perf_metric` and `total_time__sec`
/// that way): shortest round-trip digits, `.0` on integral values, exponent form below 1e-4 and
/// from 1e16 (`1e-05`, `1e+16`).
pub(crate) fn py_float(v: f64) -> String {
    if !v.is_finite() {
        return if v.is_nan() {
            "nan".into()
        } else if v > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    let a = v.abs();
    if a != 0.0 && !(1e-4..1e16).contains(&a) {
        let s = format!("{v:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let (sign, digits) = match exp.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', exp),
        };
        return format!("{mantissa}e{sign}{digits:0>2}");
    }
    if v.fract() == 0.0 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

fn format_time(t: Timestamp) -> String {
    t.strftime(TIME_FORMAT).to_string()
}

/// Parses upstream's `%Y-%m-%d %H:%M:%S` as UTC.
pub(crate) fn parse_time(s: &str) -> Option<Timestamp> {
    DateTime::strptime(TIME_FORMAT, s)
        .ok()?
        .to_zoned_datetime(TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

fn encode(rows: &[CsvRow], header: bool) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    if header {
        w.write_record(CSV_COLUMNS)?;
    }
    for r in rows {
        w.write_record(&r.0)?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

/// Writes `rows` with the header to `out` (`history --format csv`).
pub fn write_csv(out: &mut dyn Write, rows: &[CsvRow]) -> std::io::Result<()> {
    let bytes = encode(rows, true).map_err(std::io::Error::other)?;
    out.write_all(&bytes)
}

/// Appends to the CSV at `path` the `rows` it does not hold yet, creating it with the header
/// when it is new or empty. Holds an exclusive `flock` for the whole append and writes the
/// batch with one `write`.
///
/// A row equal in all 17 columns to one already in the file (timestamps included) is the same
/// measurement written again, by a resumed run or a second `collect`, and is skipped: the CSV,
/// which has no run id, stays exactly-once as the store does.
pub fn append_csv(path: &Path, rows: &[CsvRow]) -> Result<(), Error> {
    let io = |source: std::io::Error| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(path)
        .map_err(io)?;
    let mut locked = Flock::lock(file, FlockArg::LockExclusive)
        .map_err(|(_, errno)| io(std::io::Error::from(errno)))?;
    let mut existing = Vec::new();
    locked.read_to_end(&mut existing).map_err(io)?;
    let held: HashSet<Vec<String>> = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(existing.as_slice())
        .records()
        .filter_map(Result::ok)
        .map(|r| r.iter().map(str::to_string).collect())
        .collect();
    let new: Vec<CsvRow> = rows
        .iter()
        .filter(|r| !held.contains(r.0.as_slice()))
        .cloned()
        .collect();
    if new.is_empty() && !existing.is_empty() {
        return Ok(());
    }
    let bytes = encode(&new, existing.is_empty()).map_err(|e| io(std::io::Error::other(e)))?;
    locked.write_all(&bytes).map_err(io)?;
    locked.sync_data().map_err(io)?;
    Ok(())
}

/// Reads an upstream results CSV: the header must hold the 17 columns (in any order); each
/// row must have them all.
pub fn read_csv(path: &Path) -> Result<Vec<(u64, CsvRow)>, Error> {
    let format = |line: u64, message: String| Error::Format {
        path: path.to_path_buf(),
        line,
        message,
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(|e| match e.into_kind() {
            csv::ErrorKind::Io(source) => Error::Io {
                path: path.to_path_buf(),
                source,
            },
            other => format(0, format!("{other:?}")),
        })?;
    let headers = reader
        .headers()
        .map_err(|e| format(1, format!("unreadable header: {e}")))?
        .clone();
    let mut index = [0usize; 17];
    for (slot, col) in index.iter_mut().zip(CSV_COLUMNS) {
        *slot = headers
            .iter()
            .position(|h| h.trim() == col)
            .ok_or_else(|| {
                format(
                    1,
                    format!(
                        "the header has no `{col}` column: expected upstream's {} columns ({})",
                        CSV_COLUMNS.len(),
                        CSV_COLUMNS.join(",")
                    ),
                )
            })?;
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            format(line, format!("unreadable row: {e}"))
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let mut fields: [String; 17] = Default::default();
        for (field, (i, col)) in fields.iter_mut().zip(index.iter().zip(CSV_COLUMNS)) {
            *field = record
                .get(*i)
                .ok_or_else(|| {
                    format(
                        line,
                        format!(
                            "the row has {} fields, so no `{col}` (column {}): every row needs all {} columns",
                            record.len(),
                            i + 1,
                            CSV_COLUMNS.len()
                        ),
                    )
                })?
                .to_string();
        }
        rows.push((line, CsvRow(fields)));
    }
    Ok(rows)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_python() {
        assert_eq!(py_float(236.92), "236.92");
        assert_eq!(py_float(781.119517), "781.119517");
        assert_eq!(py_float(5.0), "5.0");
        assert_eq!(py_float(0.0), "0.0");
        assert_eq!(py_float(1e-5), "1e-05");
        assert_eq!(py_float(1.5e16), "1.5e+16");
        assert_eq!(py_float(-2.5e-7), "-2.5e-07");
        assert_eq!(py_float(0.0001), "0.0001");
    }

    #[test]
    fn appending_the_same_rows_again_adds_only_the_new_ones() {
        let row = |v: &str| CsvRow(std::array::from_fn(|i| format!("{v}{i}")));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv");
        append_csv(&path, &[row("a"), row("b")]).unwrap();
        append_csv(&path, &[row("a"), row("b")]).unwrap();
        append_csv(&path, &[row("b"), row("c")]).unwrap();
        let back: Vec<CsvRow> = read_csv(&path)
            .unwrap()
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        assert_eq!(back, vec![row("a"), row("b"), row("c")]);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.matches("perf_metric").count(), 1, "one header: {text}");
    }

    proptest::proptest! {
        // Each case writes (and fsyncs) a file: fewer cases than the default.
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        #[test]
        fn python_floats_read_back_exactly(v in proptest::num::f64::NORMAL | proptest::num::f64::ZERO) {
            proptest::prop_assert_eq!(py_float(v).parse::<f64>().ok(), Some(v));
        }

        #[test]
        fn written_rows_read_back(fields in proptest::collection::vec(
            proptest::collection::vec("[a-z0-9,\"\n _:\\[\\]-]{0,12}", 17), 0..6)) {
            let rows: Vec<CsvRow> = fields
                .into_iter()
                .map(|f| CsvRow(std::array::from_fn(|i| f.get(i).cloned().unwrap_or_default())))
                .collect();
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("r.csv");
            append_csv(&path, &rows).unwrap();
            let back: Vec<CsvRow> = read_csv(&path).unwrap().into_iter().map(|(_, r)| r).collect();
            proptest::prop_assert_eq!(back, rows);
        }

        #[test]
        fn arbitrary_files_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("r.csv");
            let mut text = CSV_COLUMNS.join(",").into_bytes();
            text.push(b'\n');
            text.extend(bytes);
            std::fs::write(&path, text).unwrap();
            let _ = read_csv(&path);
        }
    }

    #[test]
    fn upstream_times_round_trip() {
        let t = parse_time("2025-11-12 19:58:09");
        assert_eq!(t.map(format_time).as_deref(), Some("2025-11-12 19:58:09"));
        assert_eq!(parse_time("12/11/2025"), None);
    }
}
