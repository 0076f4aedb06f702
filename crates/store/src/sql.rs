//! The [`Store`] implementation shared by both backends: every statement is written once here.

use std::collections::HashMap;

use jiff::Timestamp;
use servebench_results::{CaseResult, PointResult};

use crate::db::{Db, Row, Value};
use crate::error::Error;
use crate::model::{
    AcceptedChange, AccuracyRow, BaselinePin, Environment, HistoryQuery, HistoryRow, Measurement,
    PinTarget, RunInfo, RunRow, TestInfo,
};
use crate::schema;
use crate::{RecordSummary, Store, point_valid};

/// A migrated connection of either backend.
pub(crate) struct SqlStore<D: Db> {
    db: D,
    version: i64,
}

/// The `pins.test_id` of a pin for every test (a test id never is `*`: ids are file-name tokens).
const ALL_TESTS: &str = "*";

/// Most `IN (...)` parameters per statement (SQLite allows 32766; stay far below).
const IN_CHUNK: usize = 500;

pub(crate) fn us(t: Timestamp) -> i64 {
    t.as_microsecond()
}

fn ts(v: Option<i64>) -> Option<Timestamp> {
    v.and_then(|n| Timestamp::from_microsecond(n).ok())
}

impl<D: Db> SqlStore<D> {
    /// Migrates `db` to the newest schema (see [`schema`]); `target` names it in errors.
    pub(crate) fn new(mut db: D, target: &str) -> Result<Self, Error> {
        let version = schema::migrate(&mut db, schema::MIGRATIONS, target)?;
        Ok(SqlStore { db, version })
    }

    /// Runs `f` in one write transaction, rolled back when it fails.
    fn write<T>(&mut self, f: impl FnOnce(&mut D) -> Result<T, Error>) -> Result<T, Error> {
        self.db.begin_write()?;
        // A failed COMMIT leaves the transaction open: roll it back too, so the connection is
        // usable for the next call.
        match f(&mut self.db).and_then(|v| self.db.batch("COMMIT").map(|()| v)) {
            Ok(v) => Ok(v),
            Err(e) => {
                let _ = self.db.batch("ROLLBACK");
                Err(e)
            }
        }
    }
}

fn upsert_test(db: &mut impl Db, run_id: &str, test: &TestInfo) -> Result<(), Error> {
    db.execute(
        "INSERT INTO tests (test_id, fingerprint, resolved_config) VALUES (?, ?, ?)
         ON CONFLICT (test_id, fingerprint) DO NOTHING",
        &[
            test.test_id.as_str().into(),
            test.fingerprint.as_str().into(),
            test.resolved_config.as_deref().into(),
        ],
    )?;
    db.execute(
        "INSERT INTO test_runs (run_id, test_id, fingerprint, started_us, ended_us, model, precision_flag, case_name, duration_s)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (run_id, test_id) DO UPDATE SET fingerprint = excluded.fingerprint,
           started_us = COALESCE(excluded.started_us, test_runs.started_us),
           ended_us = COALESCE(excluded.ended_us, test_runs.ended_us),
           model = COALESCE(excluded.model, test_runs.model),
           precision_flag = COALESCE(excluded.precision_flag, test_runs.precision_flag),
           case_name = COALESCE(excluded.case_name, test_runs.case_name),
           duration_s = COALESCE(excluded.duration_s, test_runs.duration_s)",
        &[
            run_id.into(),
            test.test_id.as_str().into(),
            test.fingerprint.as_str().into(),
            test.started_at.map(us).into(),
            test.ended_at.map(us).into(),
            test.model.as_deref().into(),
            test.precision.as_deref().into(),
            test.case_name.as_deref().into(),
            test.duration_s.into(),
        ],
    )?;
    Ok(())
}

/// Rows per multi-row `INSERT` (11 parameters each: far below both backends' limits). One
/// statement per batch instead of per row saves a round trip per row on PostgreSQL.
const INSERT_BATCH: usize = 100;

/// Inserts measurements, skipping those already stored; returns how many were new.
fn insert_measurements(db: &mut impl Db, rows: &[Measurement]) -> Result<u64, Error> {
    let mut inserted = 0;
    for chunk in rows.chunks(INSERT_BATCH) {
        let tuples = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
        let sql = format!(
            "INSERT INTO measurements (run_id, test_id, concurrency, repeat_index, metric, value,
               measured_us, ordinal, valid, source_name, command)
             VALUES {tuples}
             ON CONFLICT (run_id, test_id, concurrency, repeat_index, metric) DO NOTHING"
        );
        let mut params = Vec::with_capacity(chunk.len() * 11);
        for m in chunk {
            params.extend([
                m.run_id.as_str().into(),
                m.test_id.as_str().into(),
                m.concurrency.into(),
                m.repeat.into(),
                m.metric.as_str().into(),
                m.value.into(),
                us(m.measured_at).into(),
                m.ordinal.into(),
                m.valid.into(),
                m.source_name.as_deref().into(),
                m.command.as_deref().into(),
            ]);
        }
        inserted += db.execute(&sql, &params)?;
    }
    Ok(inserted)
}

/// The measurements of one point: every canonical metric, ordered so that history lists a
/// test's rows by concurrency, repeat, then metric name.
fn point_measurements(
    run_id: &str,
    test_id: &str,
    point: &PointResult,
    measured_at: Timestamp,
    valid: bool,
) -> Vec<Measurement> {
    let concurrency = i64::try_from(point.concurrency).unwrap_or(i64::MAX);
    let repeat = i64::try_from(point.repeat).unwrap_or(i64::MAX);
    point
        .metrics
        .iter()
        .enumerate()
        .map(|(i, (metric, value))| Measurement {
            run_id: run_id.to_string(),
            test_id: test_id.to_string(),
            concurrency,
            repeat,
            metric: metric.clone(),
            value: *value,
            measured_at,
            ordinal: concurrency
                .saturating_mul(1 << 20)
                .saturating_add(repeat.saturating_mul(1 << 10))
                .saturating_add(i64::try_from(i).unwrap_or(0)),
            valid,
            source_name: None,
            command: None,
        })
        .collect()
}

const HISTORY_SELECT: &str = "SELECT m.run_id, r.label, m.test_id, COALESCE(tr.fingerprint, ''),
    m.concurrency, m.repeat_index, m.metric, m.value, m.measured_us, m.valid, tr.verdict,
    m.source_name, m.command, tr.started_us, tr.ended_us, tr.duration_s, tr.model,
    tr.precision_flag, r.gpu_type, r.sm_clock_mhz, r.mem_clock_mhz, m.ordinal, tr.case_name
  FROM measurements m JOIN runs r ON r.run_id = m.run_id
  LEFT JOIN test_runs tr ON tr.run_id = m.run_id AND tr.test_id = m.test_id
  WHERE 1 = 1";

fn history_row(mut r: Row) -> Option<(HistoryRow, i64)> {
    Some((
        HistoryRow {
            run_id: r.text(0)?,
            label: r.text(1),
            test_id: r.text(2)?,
            fingerprint: r.text(3).unwrap_or_default(),
            fingerprint_changed: false,
            concurrency: r.int(4)?,
            repeat: r.int(5)?,
            metric: r.text(6)?,
            value: r.real(7)?,
            measured_at: ts(r.int(8))?,
            valid: r.boolean(9).unwrap_or(false),
            verdict: r.text(10),
            source_name: r.text(11),
            command: r.text(12),
            test_started_at: ts(r.int(13)),
            test_ended_at: ts(r.int(14)),
            duration_s: r.real(15),
            model: r.text(16),
            precision: r.text(17),
            case_name: r.text(22),
            gpu_type: r.text(18),
            sm_clock_mhz: r.int(19),
            mem_clock_mhz: r.int(20),
        },
        r.int(21).unwrap_or(0),
    ))
}

/// Marks the first row of each (test, concurrency, repeat, metric) series whose known fingerprint
/// differs from the previous known one.
fn mark_fingerprint_changes(rows: &mut [HistoryRow]) {
    let mut last: HashMap<(String, i64, i64, String), String> = HashMap::new();
    for row in rows {
        if row.fingerprint.is_empty() {
            continue;
        }
        let key = (
            row.test_id.clone(),
            row.concurrency,
            row.repeat,
            row.metric.clone(),
        );
        if let Some(prev) = last.insert(key, row.fingerprint.clone()) {
            row.fingerprint_changed = prev != row.fingerprint;
        }
    }
}

impl<D: Db> Store for SqlStore<D> {
    fn backend(&self) -> &'static str {
        self.db.backend()
    }

    fn schema_version(&self) -> i64 {
        self.version
    }

    fn begin_run(&mut self, run: &RunInfo) -> Result<(), Error> {
        let env = &run.environment;
        let nodes = (!env.nodes.is_empty()).then(|| env.nodes.join(","));
        self.db.execute(
            "INSERT INTO runs (run_id, started_us, command_line, label, config_commit, cluster,
               executor, engine, engine_version, gpu_type, image, nodes, sm_clock_mhz, mem_clock_mhz)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (run_id) DO UPDATE SET
               engine = COALESCE(excluded.engine, runs.engine),
               engine_version = COALESCE(excluded.engine_version, runs.engine_version),
               gpu_type = COALESCE(excluded.gpu_type, runs.gpu_type),
               image = COALESCE(excluded.image, runs.image),
               nodes = COALESCE(excluded.nodes, runs.nodes),
               sm_clock_mhz = COALESCE(excluded.sm_clock_mhz, runs.sm_clock_mhz),
               mem_clock_mhz = COALESCE(excluded.mem_clock_mhz, runs.mem_clock_mhz)",
            &[
                run.run_id.as_str().into(),
                us(run.started_at).into(),
                run.command_line.as_str().into(),
                run.label.as_deref().into(),
                run.config_commit.as_deref().into(),
                run.cluster.as_deref().into(),
                run.executor.as_str().into(),
                env.engine.as_deref().into(),
                env.engine_version.as_deref().into(),
                env.gpu_type.as_deref().into(),
                env.image.as_deref().into(),
                nodes.as_deref().into(),
                env.sm_clock_mhz.into(),
                env.mem_clock_mhz.into(),
            ],
        )?;
        Ok(())
    }

    fn record_point(
        &mut self,
        run_id: &str,
        test: &TestInfo,
        point: &PointResult,
        valid: bool,
    ) -> Result<u64, Error> {
        let at = test.started_at.unwrap_or_else(Timestamp::now);
        let rows = point_measurements(run_id, &test.test_id, point, at, valid);
        self.write(|db| {
            upsert_test(db, run_id, test)?;
            insert_measurements(db, &rows)
        })
    }

    fn record_case(
        &mut self,
        run_id: &str,
        test: &TestInfo,
        case: &CaseResult,
        accuracy: &[AccuracyRow],
    ) -> Result<RecordSummary, Error> {
        let at = test.started_at.unwrap_or_else(Timestamp::now);
        self.write(|db| {
            upsert_test(db, run_id, test)?;
            let rows: Vec<Measurement> = case
                .points
                .iter()
                .flat_map(|p| point_measurements(run_id, &test.test_id, p, at, point_valid(case, p)))
                .collect();
            let inserted = insert_measurements(db, &rows)?;
            let summary = RecordSummary {
                inserted,
                already_present: rows.len() as u64 - inserted,
            };
            db.execute(
                "UPDATE test_runs SET verdict = ?, reason = ?, duration_s = COALESCE(?, duration_s)
                 WHERE run_id = ? AND test_id = ?",
                &[
                    case.verdict.as_str().into(),
                    case.reason.as_deref().into(),
                    case.duration_s.into(),
                    run_id.into(),
                    case.test_id.as_str().into(),
                ],
            )?;
            db.execute(
                "DELETE FROM checks WHERE run_id = ? AND test_id = ?",
                &[run_id.into(), test.test_id.as_str().into()],
            )?;
            for (seq, c) in case.checks.iter().enumerate() {
                db.execute(
                    "INSERT INTO checks (run_id, test_id, seq, name, passed, detail, concurrency, repeat_index)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    &[
                        run_id.into(),
                        test.test_id.as_str().into(),
                        i64::try_from(seq).unwrap_or(i64::MAX).into(),
                        c.name.as_str().into(),
                        c.passed.into(),
                        c.detail.as_str().into(),
                        c.concurrency.and_then(|x| i64::try_from(x).ok()).into(),
                        c.repeat.and_then(|x| i64::try_from(x).ok()).into(),
                    ],
                )?;
            }
            for a in accuracy {
                db.execute(
                    "INSERT INTO accuracy (run_id, test_id, task, filter, value, expected, threshold, passed)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                     ON CONFLICT (run_id, test_id, task, filter) DO UPDATE SET value = excluded.value,
                       expected = excluded.expected, threshold = excluded.threshold,
                       passed = excluded.passed",
                    &[
                        run_id.into(),
                        test.test_id.as_str().into(),
                        a.task.as_str().into(),
                        a.filter.as_str().into(),
                        a.value.into(),
                        a.expected.into(),
                        a.threshold.into(),
                        a.passed.into(),
                    ],
                )?;
            }
            Ok(summary)
        })
    }

    fn end_run(&mut self, run_id: &str, ended_at: Timestamp) -> Result<(), Error> {
        let n = self.db.execute(
            "UPDATE runs SET ended_us = ? WHERE run_id = ?",
            &[us(ended_at).into(), run_id.into()],
        )?;
        if n == 0 {
            return Err(Error::Invalid(format!(
                "run `{run_id}` is not in the history: record it with begin_run first"
            )));
        }
        Ok(())
    }

    fn record_test(&mut self, run_id: &str, test: &TestInfo) -> Result<(), Error> {
        self.write(|db| upsert_test(db, run_id, test))
    }

    fn insert_measurements(&mut self, rows: &[Measurement]) -> Result<u64, Error> {
        self.write(|db| insert_measurements(db, rows))
    }

    fn accuracy(&mut self, run_id: &str) -> Result<Vec<(String, AccuracyRow)>, Error> {
        let rows = self.db.query(
            "SELECT test_id, task, filter, value, expected, threshold, passed FROM accuracy
             WHERE run_id = ? ORDER BY test_id, task, filter",
            &[run_id.into()],
        )?;
        Ok(rows
            .into_iter()
            .filter_map(|mut r| {
                Some((
                    r.text(0)?,
                    AccuracyRow {
                        task: r.text(1)?,
                        filter: r.text(2)?,
                        value: r.real(3)?,
                        expected: r.real(4),
                        threshold: r.real(5),
                        passed: r.boolean(6),
                    },
                ))
            })
            .collect())
    }

    fn test_ids(&mut self) -> Result<Vec<String>, Error> {
        let rows = self
            .db
            .query("SELECT DISTINCT test_id FROM tests ORDER BY test_id", &[])?;
        Ok(rows.into_iter().filter_map(|mut r| r.text(0)).collect())
    }

    fn history(&mut self, q: &HistoryQuery<'_>) -> Result<Vec<HistoryRow>, Error> {
        let mut sql = HISTORY_SELECT.to_string();
        let mut params: Vec<Value> = Vec::new();
        for (cond, v) in [
            (" AND m.metric = ?", q.metric.as_deref().map(Value::from)),
            (" AND m.concurrency = ?", q.concurrency.map(Value::from)),
            (" AND m.measured_us >= ?", q.since.map(|t| us(t).into())),
            (" AND r.label = ?", q.label.as_deref().map(Value::from)),
            (" AND m.run_id = ?", q.run_id.as_deref().map(Value::from)),
        ] {
            if let Some(v) = v {
                sql.push_str(cond);
                params.push(v);
            }
        }
        // A filter: resolve it to the matching test ids, queried in chunks.
        let chunks: Vec<Vec<String>> = match q.test_filter {
            None => vec![Vec::new()],
            Some(keep) => {
                let all = self.test_ids()?;
                let total = all.len();
                let ids: Vec<String> = all.into_iter().filter(|t| keep(t)).collect();
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                if ids.len() == total {
                    vec![Vec::new()]
                } else {
                    ids.chunks(IN_CHUNK).map(<[String]>::to_vec).collect()
                }
            }
        };
        let mut out: Vec<(HistoryRow, i64)> = Vec::new();
        for chunk in chunks {
            let mut sql = sql.clone();
            let mut params = params.clone();
            if !chunk.is_empty() {
                let marks = vec!["?"; chunk.len()].join(", ");
                sql.push_str(&format!(" AND m.test_id IN ({marks})"));
                params.extend(chunk.iter().map(|t| Value::from(t.as_str())));
            }
            out.extend(
                self.db
                    .query(&sql, &params)?
                    .into_iter()
                    .filter_map(history_row),
            );
        }
        out.sort_by(|(a, ao), (b, bo)| {
            (a.measured_at, &a.run_id, &a.test_id, ao).cmp(&(
                b.measured_at,
                &b.run_id,
                &b.test_id,
                bo,
            ))
        });
        let mut rows: Vec<HistoryRow> = out.into_iter().map(|(r, _)| r).collect();
        mark_fingerprint_changes(&mut rows);
        Ok(rows)
    }

    fn accept_change(&mut self, c: &AcceptedChange) -> Result<(), Error> {
        self.write(|db| {
            let next = db
                .query(
                    "SELECT COALESCE(MAX(seq), 0) + 1 FROM accepted_changes",
                    &[],
                )?
                .first()
                .and_then(|r| r.int(0))
                .unwrap_or(1);
            db.execute(
                "INSERT INTO accepted_changes (seq, test_id, metric, concurrency, at_run, reason,
                   accepted_us) VALUES (?, ?, ?, ?, ?, ?, ?)",
                &[
                    next.into(),
                    c.test_id.as_deref().into(),
                    c.metric.as_deref().into(),
                    c.concurrency.into(),
                    c.at_run.as_str().into(),
                    c.reason.as_str().into(),
                    us(c.accepted_at).into(),
                ],
            )?;
            Ok(())
        })
    }

    fn accepted_changes(&mut self) -> Result<Vec<AcceptedChange>, Error> {
        let rows = self.db.query(
            "SELECT test_id, metric, concurrency, at_run, reason, accepted_us
             FROM accepted_changes ORDER BY seq",
            &[],
        )?;
        Ok(rows
            .into_iter()
            .filter_map(|mut r| {
                Some(AcceptedChange {
                    test_id: r.text(0),
                    metric: r.text(1),
                    concurrency: r.int(2),
                    at_run: r.text(3)?,
                    reason: r.text(4).unwrap_or_default(),
                    accepted_at: ts(r.int(5))?,
                })
            })
            .collect())
    }

    fn pin_baseline(&mut self, pin: &BaselinePin) -> Result<(), Error> {
        let (run, tag) = match &pin.target {
            PinTarget::Run(r) => (Some(r.as_str()), None),
            PinTarget::Tag(t) => (None, Some(t.as_str())),
        };
        self.db.execute(
            "INSERT INTO pins (test_id, run_id, tag, pinned_us) VALUES (?, ?, ?, ?)
             ON CONFLICT (test_id) DO UPDATE SET
               run_id = excluded.run_id, tag = excluded.tag, pinned_us = excluded.pinned_us",
            &[
                pin.test_id.as_deref().unwrap_or(ALL_TESTS).into(),
                run.into(),
                tag.into(),
                us(pin.pinned_at).into(),
            ],
        )?;
        Ok(())
    }

    fn pins(&mut self) -> Result<Vec<BaselinePin>, Error> {
        let rows = self.db.query(
            "SELECT test_id, run_id, tag, pinned_us FROM pins ORDER BY test_id",
            &[],
        )?;
        let mut pins: Vec<BaselinePin> = rows
            .into_iter()
            .filter_map(|mut r| {
                let test = r.text(0)?;
                let target = match (r.text(1), r.text(2)) {
                    (Some(run), _) => PinTarget::Run(run),
                    (None, Some(tag)) => PinTarget::Tag(tag),
                    (None, None) => return None,
                };
                Some(BaselinePin {
                    test_id: (test != ALL_TESTS).then_some(test),
                    target,
                    pinned_at: ts(r.int(3))?,
                })
            })
            .collect();
        pins.sort_by_key(|p| p.test_id.is_some());
        Ok(pins)
    }

    fn runs(
        &mut self,
        since: Option<Timestamp>,
        label: Option<&str>,
    ) -> Result<Vec<RunRow>, Error> {
        let mut sql = String::from(
            "SELECT r.run_id, r.started_us, r.ended_us, r.label, r.command_line, r.executor,
               r.cluster, r.config_commit, r.engine, r.engine_version, r.gpu_type, r.image,
               r.nodes, r.sm_clock_mhz, r.mem_clock_mhz,
               (SELECT COUNT(*) FROM test_runs t WHERE t.run_id = r.run_id),
               (SELECT COUNT(*) FROM measurements m WHERE m.run_id = r.run_id)
             FROM runs r WHERE r.started_us >= ?",
        );
        let mut params = vec![Value::from(since.map_or(i64::MIN, us))];
        if let Some(label) = label {
            sql.push_str(" AND r.label = ?");
            params.push(label.into());
        }
        sql.push_str(" ORDER BY r.started_us, r.run_id");
        let rows = self.db.query(&sql, &params)?;
        Ok(rows
            .into_iter()
            .filter_map(|mut r| {
                Some(RunRow {
                    run_id: r.text(0)?,
                    started_at: ts(r.int(1))?,
                    ended_at: ts(r.int(2)),
                    label: r.text(3),
                    command_line: r.text(4).unwrap_or_default(),
                    executor: r.text(5).unwrap_or_default(),
                    cluster: r.text(6),
                    config_commit: r.text(7),
                    environment: Environment {
                        engine: r.text(8),
                        engine_version: r.text(9),
                        gpu_type: r.text(10),
                        image: r.text(11),
                        nodes: r
                            .text(12)
                            .map(|n| n.split(',').map(str::to_string).collect())
                            .unwrap_or_default(),
                        sm_clock_mhz: r.int(13),
                        mem_clock_mhz: r.int(14),
                    },
                    tests: r.int(15).unwrap_or(0),
                    measurements: r.int(16).unwrap_or(0),
                })
            })
            .collect())
    }
}
