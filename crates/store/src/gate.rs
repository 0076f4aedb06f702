//! The regression gate over the history: builds the verdict crate's [`Series`] for every
//! (test, concurrency, gated metric) of a run from the store and judges it (`servebench check`,
//! `servebench compare`; `docs/verdicts.md`, "Commands").
//!
//! A series key is (configuration fingerprint, test, concurrency, GPU type, cluster, metric):
//! runs on another GPU type or cluster never enter it, and the judge itself starts a new series
//! when the fingerprint changes. A run's value of a point is the median over its repeats, its
//! spread 1.4826 · MAD of them, and it is passing when every repeat was valid. The series holds
//! the baseline label's runs and the judged run's label's runs, oldest first, ending at the
//! judged run; accepted changes and pins come from the store's curation tables.
//!
//! Which metrics are gated is [`default_gated_metrics`] for now (output token throughput,
//! median TTFT, median TPOT); per-config overrides of the metrics, directions and thresholds
//! are not wired yet: the caller passes its own [`GatedMetric`] list and judge options.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use servebench_verdict::{
    ChangePointOptions, CheckEntry, CheckReport, Direction, Judge, MetricVerdict, Observation, Pin,
    ReportedChangePoint, Series, change_points, stats,
};

use crate::Store;
use crate::error::Error;
use crate::model::{AcceptedChange, BaselinePin, HistoryQuery, PinTarget, RunRow};

/// Change points are searched over at most this many newest runs of a series: the detector is
/// quadratic (about 2 ms for 100 runs, 60 ms for 300), and `check` runs it on every series of
/// the judged run.
const CHANGE_POINT_RUNS: usize = 100;

/// One metric the gate judges and which way it improves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GatedMetric {
    /// Canonical metric name.
    pub metric: String,
    /// Which way it improves.
    pub direction: Direction,
}

/// The default gated metrics: output token throughput (higher is better), median TTFT and
/// median TPOT (lower is better).
pub fn default_gated_metrics() -> Vec<GatedMetric> {
    [
        ("output_token_throughput", Direction::HigherIsBetter),
        ("median_ttft_ms", Direction::LowerIsBetter),
        ("median_tpot_ms", Direction::LowerIsBetter),
    ]
    .into_iter()
    .map(|(metric, direction)| GatedMetric {
        metric: metric.to_owned(),
        direction,
    })
    .collect()
}

/// The newest run with at least one measurement (`check` without RUN), if any.
pub fn newest_run(store: &mut dyn Store) -> Result<Option<String>, Error> {
    Ok(store
        .runs(None, None)?
        .into_iter()
        .rev()
        .find(|r| r.measurements > 0)
        .map(|r| r.run_id))
}

/// Judges every gated metric of `run_id` against its baseline on `judge`'s baseline label.
/// One entry per (test, concurrency, metric) the run measured, sorted by test, concurrency and
/// metric order; a metric the run did not measure has no entry.
pub fn check_run(
    store: &mut dyn Store,
    run_id: &str,
    metrics: &[GatedMetric],
    judge: &Judge,
) -> Result<CheckReport, Error> {
    let history = History::load(store, run_id, metrics)?;
    let base_label = judge.options().baseline_label.clone();
    let mut entries = Vec::new();
    for (m, gated) in metrics.iter().enumerate() {
        for key in history.keys_of(m) {
            let series = history.series(&key, &[&base_label, &history.judged.label], None);
            let pre_merge_single = history.judged.label != base_label
                && series
                    .observations
                    .iter()
                    .filter(|o| o.label == history.judged.label)
                    .count()
                    == 1;
            let mut options = judge.options().clone();
            options.direction = gated.direction;
            if pre_merge_single {
                options.confirm_runs = 1;
            }
            let verdict = judge.with_options(options).judge(&series);
            entries.push((
                key.clone(),
                CheckEntry {
                    test: key.test.clone(),
                    concurrency: u64::try_from(key.concurrency).unwrap_or(0),
                    metric: gated.metric.clone(),
                    direction: gated.direction,
                    verdict,
                    change_points: reported_change_points(&series),
                },
            ));
        }
    }
    entries.sort_by(|(a, _), (b, _)| a.cmp(b));
    let entries = entries.into_iter().map(|(_, e)| e).collect();
    Ok(CheckReport::new(run_id, base_label, entries))
}

/// One (test, concurrency, metric) of `compare`: both runs' values and run B's verdict against
/// the baseline window ending at run A.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompareEntry {
    /// Test id.
    pub test: String,
    /// Concurrency.
    pub concurrency: i64,
    /// Canonical metric name.
    pub metric: String,
    /// Which way it improves.
    pub direction: Direction,
    /// Run A's value (median over its repeats).
    pub value_a: f64,
    /// Run B's value.
    pub value_b: f64,
    /// `(B − A) / A` in percent; `None` when A is 0.
    pub raw_delta_pct: Option<f64>,
    /// B judged against the window of runs ending at A (`no_baseline` with too little history
    /// around A: then only the raw delta speaks).
    #[serde(flatten)]
    pub verdict: MetricVerdict,
}

/// The whole comparison of `compare RUN_A RUN_B`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// Always [`servebench_verdict::SCHEMA_VERSION`] when written by this version.
    pub schema_version: u32,
    /// The reference run.
    pub run_a: String,
    /// The judged run.
    pub run_b: String,
    /// Points both runs measured.
    pub entries: Vec<CompareEntry>,
    /// Points only one of the runs measured, as `test@concurrency metric`.
    pub unmatched: Vec<String>,
}

/// Compares run B with run A: for each point both measured, the raw delta and B's verdict
/// against the baseline window ending at A (`Pin::Run(A)`, A's label, one run decides).
pub fn compare_runs(
    store: &mut dyn Store,
    run_a: &str,
    run_b: &str,
    metrics: &[GatedMetric],
    judge: &Judge,
) -> Result<Comparison, Error> {
    let history = History::load(store, run_b, metrics)?;
    let a_row = history.run(run_a)?;
    let a_label = label_of(a_row);
    if history
        .runs
        .get(run_b)
        .is_some_and(|b| (b.started_at, run_b) < (a_row.started_at, run_a))
    {
        return Err(Error::Invalid(format!(
            "run {run_a} (the reference, RUN_A) started after run {run_b}: give the older run \
             first (`servebench compare {run_b} {run_a}`)"
        )));
    }
    if a_row.environment.gpu_type != history.judged.gpu_type
        || a_row.cluster != history.judged.cluster
    {
        let place = |gpu: &Option<String>, cluster: &Option<String>| {
            format!(
                "GPU type {}, cluster {}",
                gpu.as_deref().unwrap_or("unknown"),
                cluster.as_deref().unwrap_or("unknown")
            )
        };
        return Err(Error::Invalid(format!(
            "run {run_a} ran on {} but run {run_b} on {}: baselines are per GPU type and \
             cluster, so compare two runs of the same place (`servebench history` shows both)",
            place(&a_row.environment.gpu_type, &a_row.cluster),
            place(&history.judged.gpu_type, &history.judged.cluster)
        )));
    }
    let mut entries = Vec::new();
    let mut unmatched = Vec::new();
    for (m, gated) in metrics.iter().enumerate() {
        let a_keys: HashSet<Key> = history
            .points
            .iter()
            .filter(|(k, pts)| k.metric == m && pts.iter().any(|p| p.run_id == run_a))
            .map(|(k, _)| k.clone())
            .collect();
        let b_keys = history.keys_of(m);
        for key in a_keys.iter().filter(|k| !b_keys.contains(k)) {
            unmatched.push(format!(
                "{}@{} {} (only in {run_a})",
                key.test, key.concurrency, gated.metric
            ));
        }
        for key in b_keys {
            let series = history.series(
                &key,
                &[&a_label, &history.judged.label],
                Some(Pin::Run(run_a.to_owned())),
            );
            let Some(a) = series.observations.iter().find(|o| o.run_id == run_a) else {
                unmatched.push(format!(
                    "{}@{} {} (only in {run_b})",
                    key.test, key.concurrency, gated.metric
                ));
                continue;
            };
            let value_a = a.value;
            let value_b = series.observations.last().map_or(f64::NAN, |o| o.value);
            let mut options = judge.options().clone();
            options.direction = gated.direction;
            options.baseline_label = a_label.clone();
            options.confirm_runs = 1;
            options.max_recent = 1;
            let verdict = judge.with_options(options).judge(&series);
            entries.push(CompareEntry {
                test: key.test.clone(),
                concurrency: key.concurrency,
                metric: gated.metric.clone(),
                direction: gated.direction,
                value_a,
                value_b,
                raw_delta_pct: (value_a != 0.0)
                    .then(|| (value_b - value_a) / value_a.abs() * 100.0),
                verdict,
            });
        }
    }
    entries.sort_by(|x, y| (&x.test, x.concurrency).cmp(&(&y.test, y.concurrency)));
    unmatched.sort();
    Ok(Comparison {
        schema_version: servebench_verdict::SCHEMA_VERSION,
        run_a: run_a.to_owned(),
        run_b: run_b.to_owned(),
        entries,
        unmatched,
    })
}

/// A series key within one gate call: test, concurrency and the index of the gated metric.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Key {
    test: String,
    concurrency: i64,
    metric: usize,
}

/// One run's value of one key.
#[derive(Debug, Clone)]
struct Point {
    run_id: String,
    values: Vec<f64>,
    passing: bool,
    fingerprint: String,
    timestamp: i64,
}

/// The judged run and every stored point of its tests, with the curation that applies.
struct History {
    judged: Judged,
    metrics: Vec<String>,
    runs: HashMap<String, RunRow>,
    /// Per key, the runs oldest first (each run once), ending at the judged run.
    points: HashMap<Key, Vec<Point>>,
    accepted: Vec<AcceptedChange>,
    pins: Vec<BaselinePin>,
}

/// What places the judged run: its label and where it ran.
struct Judged {
    run_id: String,
    label: String,
    gpu_type: Option<String>,
    cluster: Option<String>,
}

/// A run's label; runs without one are on `main` (imports without `--label`).
fn label_of(run: &RunRow) -> String {
    run.label.clone().unwrap_or_else(|| "main".to_owned())
}

impl History {
    fn load(store: &mut dyn Store, run_id: &str, metrics: &[GatedMetric]) -> Result<Self, Error> {
        let runs: HashMap<String, RunRow> = store
            .runs(None, None)?
            .into_iter()
            .map(|r| (r.run_id.clone(), r))
            .collect();
        let Some(row) = runs.get(run_id) else {
            return Err(unknown_run(run_id));
        };
        let judged = Judged {
            run_id: run_id.to_owned(),
            label: label_of(row),
            gpu_type: row.environment.gpu_type.clone(),
            cluster: row.cluster.clone(),
        };
        let tests: HashSet<String> = store
            .run_results(run_id)?
            .into_iter()
            .map(|r| r.test_id)
            .collect();
        let keep = |t: &str| tests.contains(t);
        let mut points: HashMap<Key, Vec<Point>> = HashMap::new();
        for (m, gated) in metrics.iter().enumerate() {
            let rows = store.history(&HistoryQuery {
                test_filter: Some(&keep),
                metric: Some(gated.metric.clone()),
                ..HistoryQuery::default()
            })?;
            for r in rows {
                let same_place = runs.get(&r.run_id).is_some_and(|run| {
                    run.environment.gpu_type == judged.gpu_type && run.cluster == judged.cluster
                });
                if !same_place {
                    continue;
                }
                let key = Key {
                    test: r.test_id.clone(),
                    concurrency: r.concurrency,
                    metric: m,
                };
                let list = points.entry(key).or_default();
                // Rows come in time order, so a run's repeats are (nearly always) the last entry.
                match list.iter_mut().rev().find(|p| p.run_id == r.run_id) {
                    Some(p) => {
                        p.values.push(r.value);
                        p.passing &= r.valid;
                    }
                    None => list.push(Point {
                        run_id: r.run_id.clone(),
                        values: vec![r.value],
                        passing: r.valid,
                        fingerprint: r.fingerprint.clone(),
                        timestamp: r.measured_at.as_second(),
                    }),
                }
            }
        }
        // Each series ends at the judged run; keys the judged run did not measure stay (compare
        // reports them as unmatched) but are never judged.
        for list in points.values_mut() {
            if let Some(end) = list.iter().position(|p| p.run_id == run_id) {
                list.truncate(end + 1);
            }
        }
        Ok(History {
            judged,
            metrics: metrics.iter().map(|g| g.metric.clone()).collect(),
            runs,
            points,
            accepted: store.accepted_changes()?,
            pins: store.pins()?,
        })
    }

    fn run(&self, run_id: &str) -> Result<&RunRow, Error> {
        self.runs.get(run_id).ok_or_else(|| unknown_run(run_id))
    }

    /// The keys of metric `m` the judged run measured, sorted.
    fn keys_of(&self, m: usize) -> Vec<Key> {
        let mut keys: Vec<Key> = self
            .points
            .iter()
            .filter(|(k, pts)| {
                k.metric == m && pts.last().is_some_and(|p| p.run_id == self.judged.run_id)
            })
            .map(|(k, _)| k.clone())
            .collect();
        keys.sort();
        keys
    }

    /// The series of `key` over runs of `labels`, with its accepted changes and pin (`pin`
    /// overrides the stored one).
    fn series(&self, key: &Key, labels: &[&str], pin: Option<Pin>) -> Series {
        let metric = self.metrics.get(key.metric).map_or("", String::as_str);
        let observations = self
            .points
            .get(key)
            .into_iter()
            .flatten()
            .filter_map(|p| {
                let run = self.runs.get(&p.run_id)?;
                let label = label_of(run);
                labels.contains(&label.as_str()).then(|| Observation {
                    run_id: p.run_id.clone(),
                    timestamp: p.timestamp,
                    label,
                    value: stats::median(&p.values).unwrap_or(f64::NAN),
                    spread: (p.values.len() > 1)
                        .then(|| stats::robust_sigma(&p.values))
                        .flatten(),
                    passing: p.passing,
                    fingerprint: p.fingerprint.clone(),
                    tags: run.config_commit.iter().cloned().collect(),
                })
            })
            .collect();
        let accepted_changes = self
            .accepted
            .iter()
            .filter(|c| c.applies_to(&key.test, metric, key.concurrency))
            .map(|c| c.at_run.clone())
            .collect();
        let stored_pin = self
            .pins
            .iter()
            .rev()
            .find(|p| p.test_id.as_deref().is_none_or(|t| t == key.test))
            .map(|p| match &p.target {
                PinTarget::Run(r) => Pin::Run(r.clone()),
                PinTarget::Tag(t) => Pin::Tag(t.clone()),
            });
        Series {
            observations,
            accepted_changes,
            pin: pin.or(stored_pin),
        }
    }
}

fn unknown_run(run_id: &str) -> Error {
    Error::Invalid(format!(
        "no run `{run_id}` in the history; `servebench history` lists the stored runs"
    ))
}

/// Change points over the newest runs of the judged run's configuration, with run ids.
fn reported_change_points(series: &Series) -> Vec<ReportedChangePoint> {
    let Some(newest) = series.observations.last() else {
        return Vec::new();
    };
    let same: Vec<&Observation> = series
        .observations
        .iter()
        .filter(|o| o.fingerprint == newest.fingerprint)
        .collect();
    let tail = same
        .get(same.len().saturating_sub(CHANGE_POINT_RUNS)..)
        .unwrap_or_default();
    let values: Vec<f64> = tail.iter().map(|o| o.value).collect();
    change_points(&values, &ChangePointOptions::default())
        .into_iter()
        .filter_map(|change| {
            Some(ReportedChangePoint {
                run_id: tail.get(change.index)?.run_id.clone(),
                change,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use jiff::{SignedDuration, Timestamp};

    use super::*;
    use crate::model::{Environment, Measurement, RunInfo, TestInfo};

    /// Run `i` of test `t` at concurrency 4 with these throughput repeats, on `gpu`.
    fn record(store: &mut dyn Store, i: i64, gpu: &str, repeats: &[(f64, bool)]) {
        let run_id = format!("r{i}");
        let at = Timestamp::UNIX_EPOCH + SignedDuration::from_hours(i);
        store
            .begin_run(&RunInfo {
                run_id: run_id.clone(),
                started_at: at,
                command_line: String::new(),
                label: None,
                config_commit: Some(format!("c{i}")),
                cluster: None,
                executor: "local".into(),
                environment: Environment {
                    gpu_type: Some(gpu.into()),
                    ..Environment::default()
                },
            })
            .unwrap();
        let test = TestInfo {
            test_id: "t".into(),
            fingerprint: "f".into(),
            ..TestInfo::default()
        };
        store.record_test(&run_id, &test).unwrap();
        let rows: Vec<Measurement> = repeats
            .iter()
            .enumerate()
            .map(|(r, &(value, valid))| Measurement {
                run_id: run_id.clone(),
                test_id: "t".into(),
                concurrency: 4,
                repeat: r as i64,
                metric: "output_token_throughput".into(),
                value,
                measured_at: at,
                ordinal: r as i64,
                valid,
                source_name: None,
                command: None,
            })
            .collect();
        store.insert_measurements(&rows).unwrap();
    }

    #[test]
    fn a_series_holds_medians_of_repeats_of_the_same_place_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = crate::open(&dir.path().join("h.db").display().to_string()).unwrap();
        record(
            store.as_mut(),
            0,
            "GB200",
            &[(100.0, true), (90.0, true), (130.0, true)],
        );
        record(store.as_mut(), 1, "H100", &[(50.0, true)]);
        record(store.as_mut(), 2, "GB200", &[(110.0, true), (80.0, false)]);
        record(store.as_mut(), 3, "GB200", &[(105.0, true)]);
        let gated = default_gated_metrics();
        // Judging run r2: r3 (later) and r1 (another GPU) are not in its series.
        let h = History::load(store.as_mut(), "r2", &gated).unwrap();
        let keys = h.keys_of(0);
        assert_eq!(keys.len(), 1);
        assert!(h.keys_of(1).is_empty(), "the run measured no TTFT");
        let s = h.series(&keys[0], &["main"], None);
        let ids: Vec<&str> = s.observations.iter().map(|o| o.run_id.as_str()).collect();
        assert_eq!(ids, ["r0", "r2"]);
        let [r0, r2] = [&s.observations[0], &s.observations[1]];
        // Medians of the repeats; spread 1.4826 · MAD: |100-100|, |90-100|, |130-100| -> 10.
        assert_eq!(
            (r0.value, r0.spread),
            (100.0, Some(stats::MAD_TO_SIGMA * 10.0))
        );
        assert_eq!(
            (r2.value, r2.spread),
            (95.0, Some(stats::MAD_TO_SIGMA * 15.0))
        );
        // One invalid repeat makes the run not passing; the config commit is its tag.
        assert!(r0.passing && !r2.passing);
        assert_eq!(r2.tags, ["c2"]);
        // The stored pin applies unless the caller gives its own.
        store
            .pin_baseline(&BaselinePin {
                test_id: None,
                target: PinTarget::Tag("c0".into()),
                pinned_at: Timestamp::UNIX_EPOCH,
            })
            .unwrap();
        let h = History::load(store.as_mut(), "r2", &gated).unwrap();
        assert_eq!(
            h.series(&keys[0], &["main"], None).pin,
            Some(Pin::Tag("c0".into()))
        );
        let own = Some(Pin::Run("r0".into()));
        assert_eq!(h.series(&keys[0], &["main"], own.clone()).pin, own);
    }
}
