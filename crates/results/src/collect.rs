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
//!   `finished` event in `status.jsonl` decides; [`JobOutcome`] counts when there is none), or
//!   no run produced any result; the reason is the job's;
//! - `Skipped` when the spec has no client run (`Fail` if its accuracy step failed);
//! - `Invalid` when any check fails (or the client reported a failure though every check held);
//! - `Fail` when every check held but the accuracy step failed;
//! - `Pass` otherwise.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use servebench_launch::{ClientRun, LaunchSpec};

use crate::metrics;
use crate::model::{CaseResult, Check, Excerpt, GpuCounts, PointResult, Verdict};
use crate::parse::{LogSegment, Parsed, parse_result_text, parse_text_blocks, split_bench_log};
use crate::status::{StatusSummary, read_status};
use crate::validity::{CheckInput, point_checks};

/// How the executor saw the job end, when it knows more than the bundle (SLURM state, exit
/// code, a timeout). A failure here makes the case `Error` with this reason.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobOutcome {
    /// The job ended successfully.
    pub ok: bool,
    /// Why it did not (`TIMEOUT`, `NODE_FAIL`, `exit code 3: health timeout`, ...).
    pub reason: Option<String>,
    /// Wall time of the job.
    pub duration_s: Option<f64>,
}

/// Options of [`collect_with`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CollectOptions {
    /// GPUs of the deployment, for the per-GPU metrics.
    pub gpus: GpuCounts,
    /// Failed requests tolerated, in percent of `num_prompts` (default 0).
    pub max_failed_pct: f64,
    /// What the executor knows about the job's end.
    pub job: Option<JobOutcome>,
}

/// Lines of log kept in an excerpt.
const EXCERPT_LINES: usize = 20;

/// Reads what the orchestrator left in `bundle_dir` and judges it (SPEC 10.1).
pub fn collect(bundle_dir: &Path, spec: &LaunchSpec, gpus: GpuCounts) -> CaseResult {
    collect_with(
        bundle_dir,
        spec,
        &CollectOptions {
            gpus,
            ..CollectOptions::default()
        },
    )
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

/// The value after `flag` in `argv`.
fn flag<'a>(argv: &'a [String], name: &str) -> Option<&'a str> {
    let mut it = argv.iter();
    while let Some(a) = it.next() {
        if a == name {
            return it.next().map(String::as_str);
        }
        if let Some(v) = a.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
            return Some(v);
        }
    }
    None
}

/// Output tokens a run must produce when its client ignores EOS and every prompt asks for the
/// same length (`None` when the command does not say so).
pub(crate) fn expected_from_argv(argv: &[String], num_prompts: u64) -> Option<u64> {
    let sglang = argv.iter().any(|a| a.contains("sglang.bench_serving"));
    let ignore_eos = argv
        .iter()
        .any(|a| a == "--ignore-eos" || a.contains("ignore_eos:true"))
        || (sglang && !argv.iter().any(|a| a == "--disable-ignore-eos"));
    if !ignore_eos {
        return None;
    }
    let osl: u64 = flag(argv, "--random-output-len")
        .or_else(|| flag(argv, "--output-tokens-mean"))?
        .parse()
        .ok()?;
    if flag(argv, "--dataset-name").is_some_and(|d| !d.starts_with("random")) {
        return None;
    }
    if flag(argv, "--output-tokens-stddev").is_some_and(|s| s.parse::<f64>() != Ok(0.0)) {
        return None;
    }
    // Equal lengths: vLLM/TensorRT-LLM with ratio 0 ([osl(1-r), osl(1+r)]); SGLang with ratio
    // 1 ([osl*r, osl]).
    // Both clients default the ratio to 0.
    let ratio: f64 = match flag(argv, "--random-range-ratio") {
        Some(r) => r.parse().ok()?,
        None => 0.0,
    };
    let exact = if sglang { ratio == 1.0 } else { ratio == 0.0 };
    exact.then(|| num_prompts.saturating_mul(osl))
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
    let status = read_lossy(&bundle_dir.join(&spec.status_file))
        .map(|t| read_status(&t))
        .unwrap_or_default();

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
            let owner = match status.last_run {
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
            let blocks: Vec<Parsed> = parse_text_blocks(&s.text)
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
        let point = chosen.map(|(p, source)| to_point(run, p, source, opts.gpus));
        let expected = expected_from_argv(&run.step.argv, run.num_prompts).map(|e| {
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
            num_prompts: run.num_prompts,
            expected_output_tokens: expected,
            max_failed_pct: opts.max_failed_pct,
        });
        let errs: Vec<&str> = status
            .errors
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
        .or_else(|| status.duration_s());
    let (verdict, reason) = judge(spec, opts, &status, &checks, points.len(), missing);
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
    }
}

fn judge(
    spec: &LaunchSpec,
    opts: &CollectOptions,
    status: &StatusSummary,
    checks: &[Check],
    found: usize,
    missing: usize,
) -> (Verdict, Option<String>) {
    let executor_failure = match &opts.job {
        Some(j) if !j.ok => Some(j.reason.clone().unwrap_or_else(|| "the job failed".into())),
        _ => None,
    };
    // The bundle's own `finished` event decides (SPEC 8.1: the bundle status decides, the
    // scheduler explains); the executor's view counts when the job never got to write one.
    // A failed client or accuracy step is a test failure, judged by the results.
    let test_step = matches!(status.failure_kind.as_deref(), Some("client" | "accuracy"));
    let status_reason = || {
        status
            .reason
            .clone()
            .unwrap_or_else(|| "the job reported a failure".into())
    };
    if status.finished {
        if status.failed && !test_step {
            return (Verdict::Error, Some(status_reason()));
        }
    } else if let Some(r) = executor_failure {
        return (Verdict::Error, Some(r));
    } else if status.failed {
        return (Verdict::Error, Some(status_reason()));
    }
    if spec.benchmark.is_empty() {
        if status.failed {
            return (Verdict::Fail, Some(status_reason()));
        }
        return (
            Verdict::Skipped,
            Some("no benchmark client runs in the launch spec".into()),
        );
    }
    if found == 0 {
        // Nothing to judge: the scheduler's account (TIMEOUT, NODE_FAIL, ...) explains why.
        if let Some(r) = executor_failure {
            return (Verdict::Error, Some(r));
        }
        let why = match (&status.last_stage, status.events) {
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
        return match status.failure_kind.as_deref() {
            // Valid results, but the accuracy step failed: a test failure.
            Some("accuracy") if status.failed => (Verdict::Fail, Some(status_reason())),
            // The client said it failed, yet every check held: not a pass.
            _ if status.failed => (Verdict::Invalid, Some(status_reason())),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn expected_tokens_from_the_command() {
        let b = "servebench bench --dataset-name random --random-input-len 128 --random-output-len 32 --random-range-ratio 0 --random-ids --num-prompts 8 --ignore-eos";
        assert_eq!(expected_from_argv(&argv(b), 8), Some(256));
        assert_eq!(
            expected_from_argv(&argv(&b.replace(" --ignore-eos", "")), 8),
            None
        );
        assert_eq!(
            expected_from_argv(&argv(&b.replace("ratio 0", "ratio 0.8")), 8),
            None
        );
        assert_eq!(
            expected_from_argv(&argv(&b.replace("random --", "trtllm_custom --")), 8),
            None
        );
        let s = "python3 -m sglang.bench_serving --dataset-name random-ids --random-output-len 10 --random-range-ratio 1.0";
        assert_eq!(expected_from_argv(&argv(s), 3), Some(30));
        assert_eq!(expected_from_argv(&argv(&s.replace("1.0", "0.5")), 3), None);
        let a = "aiperf profile --output-tokens-mean 64 --extra-inputs ignore_eos:true --request-count 4";
        assert_eq!(expected_from_argv(&argv(a), 4), Some(256));
    }
}
