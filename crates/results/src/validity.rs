//! The validity checks of SPEC 10.1, as a pure function of one point (tested as a truth table).

use crate::metrics;
use crate::model::{Check, PointResult};

/// What one client run is checked against.
#[derive(Debug, Clone, Copy)]
pub struct CheckInput<'a> {
    /// The result, `None` when the run produced none.
    pub point: Option<&'a PointResult>,
    /// The run's concurrency.
    pub concurrency: u64,
    /// The run's repeat index.
    pub repeat: u64,
    /// Requests the run was asked to send.
    pub num_prompts: u64,
    /// Output tokens expected in all when the client ignores EOS (`None`: not checkable).
    pub expected_output_tokens: Option<u64>,
    /// Failed requests tolerated, in percent of `num_prompts` (0: none).
    pub max_failed_pct: f64,
}

fn fmt_count(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// The checks of one run, in a fixed order: `result_present`; then, when present,
/// `result_complete`, `completed_equals_num_prompts`, `no_failed_requests`,
/// `output_tokens_positive`, `output_tokens_expected` (only when checkable) and
/// `client_not_bound` (only when the client reports its health).
pub fn point_checks(input: &CheckInput<'_>) -> Vec<Check> {
    let check = |name: &str, passed: bool, detail: String| Check {
        name: name.to_string(),
        passed,
        detail,
        concurrency: Some(input.concurrency),
        repeat: Some(input.repeat),
    };
    let Some(p) = input.point else {
        return vec![check(
            "result_present",
            false,
            "no result: neither a result file nor a result block in the bench log".into(),
        )];
    };
    let mut out = vec![check(
        "result_present",
        true,
        format!("read from {} ({})", p.source.display(), p.format),
    )];
    out.push(check(
        "result_complete",
        p.complete,
        if p.complete {
            "complete".into()
        } else {
            "partial result: the output was cut short".into()
        },
    ));
    let n = input.num_prompts as f64;
    let completed = p.metrics.get(metrics::COMPLETED).copied();
    let failed = p.metrics.get(metrics::FAILED).copied();
    let allowed_failed = (n * input.max_failed_pct.max(0.0) / 100.0).floor();
    out.push(match completed {
        None => check(
            "completed_equals_num_prompts",
            false,
            "completed requests not reported".into(),
        ),
        Some(c) => {
            let ok = if input.max_failed_pct > 0.0 {
                c <= n && c >= n - allowed_failed
            } else {
                c == n
            };
            check(
                "completed_equals_num_prompts",
                ok,
                format!("completed {} of {}", fmt_count(c), input.num_prompts),
            )
        }
    });
    out.push(match (failed, completed) {
        (Some(f), _) => check(
            "no_failed_requests",
            f <= allowed_failed,
            if input.max_failed_pct > 0.0 {
                format!(
                    "{} failed (at most {} allowed, {}%)",
                    fmt_count(f),
                    fmt_count(allowed_failed),
                    input.max_failed_pct
                )
            } else {
                format!("{} failed", fmt_count(f))
            },
        ),
        (None, Some(c)) if c == n => check(
            "no_failed_requests",
            true,
            "failed not reported; every request completed".into(),
        ),
        (None, _) => check(
            "no_failed_requests",
            false,
            "failed requests not reported and not every request completed".into(),
        ),
    });
    let out_tokens = p.metrics.get(metrics::TOTAL_OUTPUT_TOKENS).copied();
    out.push(match out_tokens {
        Some(t) => check(
            "output_tokens_positive",
            t > 0.0,
            format!("{} output tokens", fmt_count(t)),
        ),
        None => check(
            "output_tokens_positive",
            false,
            "output tokens not reported".into(),
        ),
    });
    if let (Some(e), Some(t)) = (input.expected_output_tokens, out_tokens) {
        out.push(check(
            "output_tokens_expected",
            t == e as f64,
            format!("{} output tokens, {e} expected (ignore_eos)", fmt_count(t)),
        ));
    }
    if p.client_health_reported {
        out.push(match &p.client_bound {
            None => check("client_not_bound", true, "client kept up".into()),
            Some(why) => check(
                "client_not_bound",
                false,
                format!("the client was the bottleneck: {why}"),
            ),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use super::*;

    fn point(completed: Option<f64>, failed: Option<f64>, out: Option<f64>) -> PointResult {
        let mut metrics = BTreeMap::new();
        for (k, v) in [
            ("completed", completed),
            ("failed", failed),
            ("total_output_tokens", out),
        ] {
            if let Some(v) = v {
                metrics.insert(k.to_string(), v);
            }
        }
        PointResult {
            concurrency: 4,
            listed: 4,
            repeat: 0,
            metrics,
            extra: BTreeMap::new(),
            source: PathBuf::from("logs/concurrency_4/result.json"),
            format: "result-json".into(),
            complete: true,
            client_bound: None,
            client_health_reported: true,
        }
    }

    fn failing(checks: &[Check]) -> Vec<&str> {
        checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.name.as_str())
            .collect()
    }

    /// Each row: (completed, failed, output tokens, expected, max_failed_pct, complete, bound)
    /// -> the checks that fail.
    #[test]
    fn truth_table() {
        type Row = (
            Option<f64>,
            Option<f64>,
            Option<f64>,
            Option<u64>,
            f64,
            bool,
            bool,
            &'static [&'static str],
        );
        let rows: &[Row] = &[
            (
                Some(10.0),
                Some(0.0),
                Some(100.0),
                Some(100),
                0.0,
                true,
                false,
                &[],
            ),
            (Some(10.0), None, Some(100.0), None, 0.0, true, false, &[]),
            (
                Some(9.0),
                Some(1.0),
                Some(90.0),
                None,
                0.0,
                true,
                false,
                &["completed_equals_num_prompts", "no_failed_requests"],
            ),
            (
                Some(9.0),
                Some(1.0),
                Some(90.0),
                None,
                10.0,
                true,
                false,
                &[],
            ),
            (
                Some(8.0),
                Some(2.0),
                Some(80.0),
                None,
                10.0,
                true,
                false,
                &["completed_equals_num_prompts", "no_failed_requests"],
            ),
            (
                Some(9.0),
                None,
                Some(90.0),
                None,
                0.0,
                true,
                false,
                &["completed_equals_num_prompts", "no_failed_requests"],
            ),
            (
                None,
                Some(0.0),
                Some(100.0),
                None,
                0.0,
                true,
                false,
                &["completed_equals_num_prompts"],
            ),
            (
                Some(10.0),
                Some(0.0),
                Some(0.0),
                None,
                0.0,
                true,
                false,
                &["output_tokens_positive"],
            ),
            (
                Some(10.0),
                Some(0.0),
                None,
                Some(100),
                0.0,
                true,
                false,
                &["output_tokens_positive"],
            ),
            (
                Some(10.0),
                Some(0.0),
                Some(99.0),
                Some(100),
                0.0,
                true,
                false,
                &["output_tokens_expected"],
            ),
            (
                Some(10.0),
                Some(0.0),
                Some(100.0),
                None,
                0.0,
                false,
                false,
                &["result_complete"],
            ),
            (
                Some(10.0),
                Some(0.0),
                Some(100.0),
                None,
                0.0,
                true,
                true,
                &["client_not_bound"],
            ),
            (
                Some(11.0),
                Some(0.0),
                Some(100.0),
                None,
                10.0,
                true,
                false,
                &["completed_equals_num_prompts"],
            ),
        ];
        for (i, &(c, f, o, e, pct, complete, bound, want)) in rows.iter().enumerate() {
            let mut p = point(c, f, o);
            p.complete = complete;
            p.client_bound = bound.then(|| "lateness".to_string());
            let checks = point_checks(&CheckInput {
                point: Some(&p),
                concurrency: 4,
                repeat: 0,
                num_prompts: 10,
                expected_output_tokens: e,
                max_failed_pct: pct,
            });
            assert_eq!(failing(&checks), want, "row {i}: {checks:#?}");
        }
    }

    #[test]
    fn missing_result_and_unreported_health() {
        let checks = point_checks(&CheckInput {
            point: None,
            concurrency: 4,
            repeat: 1,
            num_prompts: 10,
            expected_output_tokens: None,
            max_failed_pct: 0.0,
        });
        assert_eq!(failing(&checks), ["result_present"]);
        assert_eq!(checks[0].repeat, Some(1));
        let mut p = point(Some(10.0), Some(0.0), Some(5.0));
        p.client_health_reported = false;
        let checks = point_checks(&CheckInput {
            point: Some(&p),
            concurrency: 4,
            repeat: 0,
            num_prompts: 10,
            expected_output_tokens: None,
            max_failed_pct: 0.0,
        });
        assert!(checks.iter().all(|c| c.name != "client_not_bound"));
        assert!(failing(&checks).is_empty());
    }
}
