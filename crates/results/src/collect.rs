//! Judging a bundle directory after its job ran (SPEC 10.1).
//!
//! For each client run of the launch spec, in order: the result file (`result_file`, relative to
//! the bundle) when it parses and is whole; else the last result block of the run's stretch of
//! the bench log (`<log_dir>/<step.log>`, cut at the `done_line` markers; the n-th run with a
//! given marker takes the n-th stretch ending in it; the unfinished tail after the last marker
//! goes, as a partial result, to the run in progress (the last `concurrency` event of
//! `status.jsonl`, else the first run without a marker); a run that ended without its marker
//! may still be found by a whole block stating its concurrency). Then the validity checks, then
//! the verdict:
//! - `Error` when the job failed other than by a client or accuracy step (the bundle's
//!   `finished` event in `status.jsonl` decides, except that a scheduler end state such as
//!   TIMEOUT or NODE_FAIL in [`JobOutcome`] explains a job the scheduler killed; the
//!   executor's view counts when there is no `finished` event), or no run produced any result;
//! - `Skipped` when the spec has no client run (`Fail` if its accuracy step failed);
//! - `Invalid` when any check fails (or the client reported a failure though every check held);
//! - `Fail` when every check held but the accuracy step failed;
//! - `Pass` otherwise.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use servebench_launch::{ClientRun, FailureKind, Finish, LaunchSpec, StatusEvent, StatusLog};

use crate::metrics;
use crate::model::{CaseResult, Check, Excerpt, GpuCounts, PointResult, Verdict};
use crate::parse::{
    LogSegment, Parsed, parse_log_results, parse_result_text, parse_text_blocks, split_bench_log,
};
use crate::validity::{CheckInput, point_checks};

/// How the executor saw the job end, when it knows more than the bundle (SLURM state, exit
/// code, a timeout). A failure here makes the case `Error` with this reason.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobOutcome {
    /// The job ended successfully.
    pub ok: bool,
    /// Why it did not (`TIMEOUT`, `NODE_FAIL`, `exit code 3: health timeout`, ...).
    pub reason: Option<String>,
    /// The failure class the executor saw.
    pub kind: Option<FailureKind>,
    /// Wall time of the job.
    pub duration_s: Option<f64>,
}

impl JobOutcome {
    /// Whether the scheduler's account overrides what the job wrote: it killed the job at its
    /// time limit, lost its node, preempted it or ran it out of memory.
    fn scheduler_explains(&self) -> bool {
        matches!(
            self.kind,
            Some(
                FailureKind::JobTimeout
                    | FailureKind::NodeFailure
                    | FailureKind::Preempted
                    | FailureKind::OutOfMemory
            )
        )
    }
}

/// Options of [`collect_with`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CollectOptions {
    /// What the executor knows about the job's end.
    pub job: Option<JobOutcome>,
}

/// Lines of log kept in an excerpt.
const EXCERPT_LINES: usize = 20;

/// Reads what the orchestrator left in `bundle_dir` and judges it (SPEC 10.1).
pub fn collect(bundle_dir: &Path, spec: &LaunchSpec) -> CaseResult {
    collect_with(bundle_dir, spec, &CollectOptions::default())
}

/// What the collector needs of `status.jsonl`.
struct Status {
    log: StatusLog,
    finish: Option<Finish>,
}

impl Status {
    fn failed(&self) -> bool {
        self.finish.as_ref().is_some_and(|f| !f.ok)
    }
    fn kind(&self) -> Option<FailureKind> {
        self.finish.as_ref().and_then(|f| f.kind)
    }
    fn reason(&self) -> String {
        self.finish
            .as_ref()
            .and_then(|f| f.reason.clone())
            .unwrap_or_else(|| "the job reported a failure".into())
    }
    fn last_stage(&self) -> Option<&str> {
        self.log.events.iter().rev().find_map(|e| match e {
            StatusEvent::Stage { stage, .. } => Some(stage.as_str()),
            _ => None,
        })
    }
}

fn read_lossy(path: &Path) -> Option<String> {
    fs::read(path)
        .ok()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

fn rel_join(a: &str, b: &str) -> PathBuf {
    if a.is_empty() {
        PathBuf::from(b)
    } else {
        Path::new(a).join(b)
    }
}

/// The concurrency of a done line (`Benchmark with concurrency C done`).
fn marker_concurrency(run: &ClientRun) -> u64 {
    crate::parse::text::done_concurrency(&run.done_line).unwrap_or(run.concurrency)
}

fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<String> = text
        .lines()
        .map(crate::parse::clean_line)
        .filter(|l| !l.is_empty())
        .collect();
    let start = lines.len().saturating_sub(n);
    lines.get(start..).unwrap_or(&[]).join("\n")
}

/// A run's stretch of its bench log.
struct Stretch {
    text: String,
    finished: bool,
    /// Only blocks that state the run's concurrency count (a search of the whole log).
    strict: bool,
}

/// Judges a bundle directory, with the executor's view of the job.
pub fn collect_with(bundle_dir: &Path, spec: &LaunchSpec, opts: &CollectOptions) -> CaseResult {
    let log = read_lossy(&bundle_dir.join(&spec.status_file))
        .map(|t| StatusLog::parse(&t))
        .unwrap_or_default();
    let status = Status {
        finish: log.finish(),
        log,
    };
    let last_run = status.log.last_run();
    let status_errors = status.log.errors();
    let gpus = GpuCounts::new(spec.gpus.total, spec.gpus.generation);

    // Bench logs, cut into stretches per marker concurrency.
    let mut logs: BTreeMap<String, Option<String>> = BTreeMap::new();
    for run in &spec.benchmark {
        logs.entry(run.step.log.clone()).or_insert_with(|| {
            read_lossy(&bundle_dir.join(rel_join(&spec.log_dir, &run.step.log)))
        });
    }
    // Cut each log once.
    let segments: BTreeMap<&str, Vec<LogSegment<'_>>> = logs
        .iter()
        .filter_map(|(name, text)| Some((name.as_str(), split_bench_log(text.as_deref()?))))
        .collect();
    let mut seen: BTreeMap<(String, u64), usize> = BTreeMap::new();
    let mut tail_taken: BTreeMap<String, bool> = BTreeMap::new();

    let mut points = Vec::new();
    let mut checks: Vec<Check> = Vec::new();
    let mut excerpts = Vec::new();
    let mut requested: Vec<u64> = Vec::new();
    let mut missing = 0usize;
    for run in &spec.benchmark {
        if !requested.contains(&run.concurrency) {
            requested.push(run.concurrency);
        }
        let log_rel = rel_join(&spec.log_dir, &run.step.log);
        let c = marker_concurrency(run);
        let k = seen.entry((run.step.log.clone(), c)).or_insert(0);
        let nth = *k;
        *k += 1;
        let stretch = segments.get(run.step.log.as_str()).and_then(|segs| {
            if let Some(s) = segs.iter().filter(|s| s.concurrency == Some(c)).nth(nth) {
                return Some(Stretch {
                    text: s.text.to_string(),
                    finished: true,
                    strict: false,
                });
            }
            // The unfinished tail belongs to the run in progress when the log ended: the
            // last run the status file saw begin, else the first run without a marker.
            let taken = tail_taken.entry(run.step.log.clone()).or_insert(false);
            let owner = match last_run {
                Some(r) => r == (run.concurrency, run.repeat),
                None => !*taken,
            };
            if *taken || !owner {
                return None;
            }
            *taken = true;
            segs.iter()
                .find(|s| s.concurrency.is_none())
                .map(|s| Stretch {
                    text: s.text.to_string(),
                    finished: false,
                    strict: false,
                })
        });

        // A run that ended without its marker (a failed client) may still have printed a
        // whole block that states its concurrency; take it when no other run shares that
        // concurrency.
        let stretch = stretch.or_else(|| {
            let unique = spec
                .benchmark
                .iter()
                .filter(|r| r.step.log == run.step.log && r.concurrency == run.concurrency)
                .count()
                == 1;
            let log = logs.get(&run.step.log).and_then(Option::as_deref)?;
            if !unique {
                return None;
            }
            let block_found = parse_text_blocks(log)
                .iter()
                .any(|b| b.complete && b.concurrency == Some(run.concurrency));
            block_found.then(|| Stretch {
                text: log.to_string(),
                finished: true,
                strict: true,
            })
        });
        let from_file =
            read_lossy(&bundle_dir.join(&run.result_file)).and_then(|t| parse_result_text(&t).ok());
        let from_log = stretch.as_ref().and_then(|s| {
            // A block that names another concurrency belongs to another run.
            let blocks: Vec<Parsed> = parse_log_results(&s.text)
                .into_iter()
                .filter(|b| match b.concurrency {
                    Some(k) => k == run.concurrency,
                    None => !s.strict,
                })
                .collect();
            let mut best = blocks
                .iter()
                .rev()
                .find(|b| b.complete)
                .or_else(|| blocks.last())
                .cloned()?;
            if !s.finished {
                best.complete = false;
                best.notes
                    .push("no done marker after it: the run did not finish".into());
            }
            Some(best)
        });
        let chosen: Option<(Parsed, PathBuf)> = match (from_file, from_log) {
            (Some(f), Some(l)) if !f.complete && l.complete => Some((l, log_rel.clone())),
            (Some(f), _) => Some((f, PathBuf::from(&run.result_file))),
            (None, Some(l)) => Some((l, log_rel.clone())),
            (None, None) => None,
        };
        let point = chosen.map(|(p, source)| to_point(run, p, source, gpus));
        let expected = run.expect.expected_output_tokens.map(|e| {
            // The built-in client knows exactly what it asked for.
            point
                .as_ref()
                .and_then(|p| p.extra.get("expected_output_tokens"))
                .map_or(e, |&x| x as u64)
        });
        let mut these = point_checks(&CheckInput {
            point: point.as_ref(),
            concurrency: run.concurrency,
            repeat: run.repeat,
            num_prompts: run.expect.num_prompts,
            expected_output_tokens: expected,
            max_failed_pct: run.expect.max_failed_pct,
        });
        let errs: Vec<&str> = status_errors
            .iter()
            .filter(|(r, _)| *r == Some((run.concurrency, run.repeat)))
            .map(|(_, m)| m.as_str())
            .collect();
        if !errs.is_empty()
            && let Some(c) = these.iter_mut().find(|c| !c.passed)
        {
            c.detail = format!("{} (status: {})", c.detail, errs.join("; "));
        }
        if these.iter().any(|c| !c.passed)
            && let Some(s) = &stretch
        {
            let text = tail_lines(&s.text, EXCERPT_LINES);
            if !text.is_empty() {
                excerpts.push(Excerpt {
                    concurrency: Some(run.concurrency),
                    source: log_rel.clone(),
                    text,
                });
            }
        }
        checks.extend(these);
        match point {
            Some(p) => points.push(p),
            None => missing += 1,
        }
    }

    let duration_s = opts
        .job
        .as_ref()
        .and_then(|j| j.duration_s)
        .or_else(|| status.log.duration_s());
    let log_dir = bundle_dir.join(&spec.log_dir);
    let (metric_checks, extracted) =
        crate::gates::metric_checks(&log_dir, &spec.gates.metrics, &requested);
    for (name, values) in &extracted {
        for p in &mut points {
            if let Some(v) = values
                .get(&Some(p.concurrency))
                .or_else(|| values.get(&None))
            {
                p.extra.insert(name.clone(), *v);
            }
        }
    }
    checks.extend(metric_checks);
    let (accuracy, accuracy_values) =
        crate::gates::accuracy_checks(bundle_dir, &spec.gates.accuracy);
    let (verdict, reason) = judge(
        spec,
        opts,
        &status,
        Judged {
            checks: &checks,
            accuracy: &accuracy,
            found: points.len(),
            missing,
        },
    );
    checks.extend(accuracy);
    if verdict == Verdict::Error {
        let status_rel = PathBuf::from(&spec.status_file);
        if let Some(t) = read_lossy(&bundle_dir.join(&status_rel)) {
            let text = tail_lines(&t, 5);
            if !text.is_empty() {
                excerpts.push(Excerpt {
                    concurrency: None,
                    source: status_rel,
                    text,
                });
            }
        }
    }
    CaseResult {
        test_id: spec.test_id.clone(),
        points,
        checks,
        verdict,
        reason,
        duration_s,
        requested,
        excerpts,
        unstable: None,
        accuracy: accuracy_values,
    }
}

/// What the checks found, for [`judge`].
struct Judged<'a> {
    /// Validity and custom-metric checks.
    checks: &'a [Check],
    /// Accuracy gates.
    accuracy: &'a [Check],
    /// Client runs with a result.
    found: usize,
    /// Client runs without one.
    missing: usize,
}

fn judge(
    spec: &LaunchSpec,
    opts: &CollectOptions,
    status: &Status,
    judged: Judged<'_>,
) -> (Verdict, Option<String>) {
    let Judged {
        checks,
        accuracy,
        found,
        missing,
    } = judged;
    let accuracy_failure = || {
        let failed: Vec<&str> = accuracy
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.detail.as_str())
            .collect();
        (!failed.is_empty()).then(|| failed.join("; "))
    };
    let job_failure = opts.job.as_ref().filter(|j| !j.ok);
    let executor_reason =
        |j: &JobOutcome| j.reason.clone().unwrap_or_else(|| "the job failed".into());
    // The scheduler explains a job it killed (TIMEOUT, NODE_FAIL, ...) better than the job's
    // own "interrupted by SIGTERM".
    if let Some(j) = job_failure.filter(|j| j.scheduler_explains()) {
        return (Verdict::Error, Some(executor_reason(j)));
    }
    // The bundle's own `finished` event decides (SPEC 8.1: the bundle status decides, the
    // scheduler explains); the executor's view counts when the job never got to write one.
    // A failed client or accuracy step is a test failure, judged by the results.
    let test_step = status.kind().is_some_and(FailureKind::is_test_failure);
    if status.finish.is_some() {
        if status.failed() && !test_step {
            return (Verdict::Error, Some(status.reason()));
        }
    } else if let Some(j) = job_failure {
        return (Verdict::Error, Some(executor_reason(j)));
    }
    if spec.benchmark.is_empty() {
        if let Some(why) = accuracy_failure() {
            return (Verdict::Fail, Some(why));
        }
        if status.failed() {
            return (Verdict::Fail, Some(status.reason()));
        }
        if accuracy.is_empty() {
            // Nothing was measured: that is never a pass, and never quietly skipped.
            return (
                Verdict::Error,
                Some("nothing was measured: no benchmark client run and no accuracy gate".into()),
            );
        }
        return (Verdict::Pass, None);
    }
    if found == 0 {
        // Nothing to judge: the scheduler's account (TIMEOUT, NODE_FAIL, ...) explains why.
        if let Some(j) = job_failure {
            return (Verdict::Error, Some(executor_reason(j)));
        }
        let why = match (status.last_stage(), status.log.events.len()) {
            (_, 0) => "no status events".to_string(),
            (Some(st), _) => format!("last status stage `{st}`"),
            (None, n) => format!("{n} status events"),
        };
        return (
            Verdict::Error,
            Some(format!(
                "no result for any of the {missing} client run(s) ({why})"
            )),
        );
    }
    let failing: Vec<String> = checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| match c.concurrency {
            Some(k) => format!("c={k}: {}", c.detail),
            None => c.detail.clone(),
        })
        .collect();
    if failing.is_empty() {
        if let Some(why) = accuracy_failure() {
            return (Verdict::Fail, Some(why));
        }
        return match status.kind() {
            // Valid results, but the accuracy step failed: a test failure.
            Some(FailureKind::Accuracy) if status.failed() => {
                (Verdict::Fail, Some(status.reason()))
            }
            // The client said it failed, yet every check held: not a pass.
            _ if status.failed() => (Verdict::Invalid, Some(status.reason())),
            _ => (Verdict::Pass, None),
        };
    }
    let mut reason = failing
        .iter()
        .take(3)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if failing.len() > 3 {
        reason.push_str(&format!(" (+{} more)", failing.len() - 3));
    }
    (Verdict::Invalid, Some(reason))
}

fn to_point(run: &ClientRun, p: Parsed, source: PathBuf, gpus: GpuCounts) -> PointResult {
    let mut m = p.metrics;
    metrics::derive(&mut m, gpus);
    let mut extra = p.extra;
    if let Some(e) = p.expected_output_tokens {
        extra.insert("expected_output_tokens".into(), e as f64);
    }
    let client_bound = p.client_health.as_ref().and_then(|h| {
        h.bound.then(|| {
            if h.reasons.is_empty() {
                "client bound".to_string()
            } else {
                h.reasons.join("; ")
            }
        })
    });
    PointResult {
        concurrency: run.concurrency,
        listed: run.listed,
        repeat: run.repeat,
        metrics: m,
        extra,
        source,
        format: p.format.as_str().to_string(),
        complete: p.complete,
        client_bound,
        client_health_reported: p.client_health.is_some(),
    }
}
