//! Fixed report inputs shared by the tests, the `sample_report` example (the browser check's
//! page) and the render benchmark: the real example-suite run under `tests/data/example-run`,
//! and deterministic history and verdicts laid over it or over synthetic suites.

use std::path::PathBuf;

use servebench_report::{
    Band, HistoryPoint, HistorySeries, LogExcerpt, MetricChange, PointMetrics, ReportInput,
    ReportVerdict, RunInfo, TestMeta, TestReport, Topology,
};

/// The gated metrics the synthetic history covers.
pub const GATED: [&str; 3] = [
    "output_token_throughput_per_gpu",
    "median_ttft_ms",
    "median_tpot_ms",
];

/// `tests/data/example-run`: a real `servebench run examples/test_configs --engine sim --set
/// 'benchmark.concurrency_list=1 4 16 32'` (results.json and each bundle's resolved config).
pub fn example_run_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/example-run")
}

/// A deterministic wobble in [-1, 1] (no RNG, so goldens stay fixed).
fn wobble(i: usize, k: usize) -> f64 {
    let x = (i * 7 + k * 13) % 17;
    (x as f64 - 8.0) / 8.0
}

/// Lays `runs` runs of history over every (test, concurrency, gated metric) of `input`, ending
/// at the current value: a 2% wobble, a baseline band of +-5% around the value before the
/// change, and for every third test a change point two thirds in, ending 12% worse, with the
/// last run marked as a regression (and the test's verdict and changes set to match). Every
/// fifth other test gets an improvement.
pub fn add_history(input: &mut ReportInput, runs: usize) {
    let run_ids: Vec<String> = (0..runs).map(|i| format!("nightly-{:03}", i + 1)).collect();
    for (k, test) in input.tests.iter_mut().enumerate() {
        let regress = k % 3 == 0 && test.verdict == ReportVerdict::Pass;
        let improve = !regress && k % 5 == 1 && test.verdict == ReportVerdict::Pass;
        let step_at = runs * 2 / 3;
        for (ci, p) in test.points.iter().enumerate() {
            for (m, metric) in GATED.iter().enumerate() {
                let Some(now) = p.get(metric) else { continue };
                // Throughput: higher is better; latencies: lower is better.
                let worse = if m == 0 { 0.88 } else { 1.12 };
                let better = if m == 0 { 1.10 } else { 0.90 };
                let base = if regress {
                    now / worse
                } else if improve {
                    now / better
                } else {
                    now
                };
                let points = (0..runs)
                    .map(|i| {
                        let level = if (regress || improve) && i >= step_at {
                            now
                        } else {
                            base
                        };
                        let value = if i + 1 == runs {
                            now
                        } else {
                            level * (1.0 + 0.02 * wobble(i, k + m + 5 * ci))
                        };
                        HistoryPoint {
                            run: run_ids[i].clone(),
                            value,
                            change_point: (regress || improve) && i == step_at,
                            regression: regress && i + 1 == runs,
                        }
                    })
                    .collect();
                test.history.push(HistorySeries {
                    metric: metric.to_string(),
                    concurrency: p.concurrency,
                    points,
                    baseline: Some(Band {
                        low: base * 0.95,
                        center: base,
                        high: base * 1.05,
                    }),
                });
                if (regress || improve) && m != 1 {
                    test.changes.push(MetricChange {
                        metric: metric.to_string(),
                        concurrency: p.concurrency,
                        baseline: base,
                        value: now,
                        regression: regress,
                    });
                }
            }
        }
        if regress && !test.changes.is_empty() {
            test.verdict = ReportVerdict::Regression;
            test.reasons = vec![format!(
                "{} metric(s) beyond the baseline band",
                test.changes.len()
            )];
        } else if improve && !test.changes.is_empty() {
            test.verdict = ReportVerdict::Improvement;
        }
    }
}

/// The example run with 30 runs of history, GPU type GB200, and an invalid and an error test
/// added (their reasons and excerpts in the shape `collect` writes), so that every part of the
/// report shows.
pub fn example_report() -> ReportInput {
    let mut input = ReportInput::from_results_files(&[example_run_dir()])
        .unwrap_or_else(|e| panic!("example run: {e}"));
    input.title = "servebench example suite".to_string();
    for t in &mut input.tests {
        t.meta.gpu_type = "GB200".to_string();
    }
    add_history(&mut input, 30);
    let mut invalid = input
        .tests
        .iter()
        .find(|t| t.test_id.contains("llama8b_1k1k_ctx1_gen2"))
        .cloned()
        .unwrap_or_default();
    invalid.test_id = "disagg_perf_llama8b_1k1k_ctx1_gen1_tep1_bs8_eplb0_mtp0".into();
    invalid.verdict = ReportVerdict::Invalid;
    invalid.meta.topology.gen_servers = Some(1);
    for p in &mut invalid.points {
        for v in p.metrics.values_mut() {
            *v *= 0.7;
        }
    }
    if let Some(last) = invalid.points.last_mut() {
        last.valid = false;
    }
    invalid.reasons = vec!["c=32: completed 29 of 32".into(), "c=32: 3 failed".into()];
    invalid.excerpts = vec![LogExcerpt {
        concurrency: Some(32),
        source: "logs/6_bench.log".into(),
        text: "Traceback (most recent call last):\n  File \"bench.py\", line 12\nRuntimeError: 3 requests failed <HTTP 500>".into(),
    }];
    invalid.changes.clear();
    invalid.history.clear();
    invalid.logs = None;
    let mut error = TestReport {
        test_id: "disagg_perf_llama70b_1k1k_ctx4_gen1_dep8_bs64_eplb0_mtp0".into(),
        run: 0,
        verdict: ReportVerdict::Error,
        reasons: vec!["health check timed out after 1800 s (GEN_0)".into()],
        ..TestReport::default()
    };
    error.meta.model = "llama-3.1-70b".into();
    input.tests.push(invalid);
    input.tests.push(error);
    input
}

/// A synthetic suite: `tests` tests x `concurrencies` concurrencies, in 4 Pareto groups, with
/// `runs` runs of history per gated metric (the benchmark's and the truncation test's input).
pub fn synthetic(tests: usize, concurrencies: usize, runs: usize) -> ReportInput {
    let mut input = ReportInput {
        title: format!("synthetic {tests} x {concurrencies} x {runs}"),
        runs: vec![RunInfo {
            id: "nightly-030".into(),
            source: Some("servebench-out/runs/nightly-030".into()),
        }],
        tests: Vec::with_capacity(tests),
    };
    for i in 0..tests {
        let gpus = 4 * (1 + (i % 4) as u64);
        let points = (0..concurrencies)
            .map(|c| {
                let conc = 1u64 << c;
                let tpot = 5.0 + (c as f64) * 1.5 + (i % 7) as f64 * 0.3;
                let per_gpu = 50.0 * conc as f64 / (1.0 + conc as f64 / 64.0)
                    * (1.0 + (i % 11) as f64 / 20.0);
                PointMetrics {
                    concurrency: conc,
                    metrics: [
                        ("median_tpot_ms", tpot),
                        ("p99_tpot_ms", tpot * 1.4),
                        ("median_ttft_ms", 40.0 + conc as f64 * 3.0),
                        ("p99_ttft_ms", 90.0 + conc as f64 * 6.0),
                        ("median_e2el_ms", 1000.0 + conc as f64 * 20.0),
                        ("p99_e2el_ms", 1500.0 + conc as f64 * 30.0),
                        ("output_token_throughput_per_gpu", per_gpu),
                    ]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect(),
                    valid: (i + c) % 97 != 0,
                }
            })
            .collect();
        let verdict = match i % 50 {
            7 => ReportVerdict::Invalid,
            13 => ReportVerdict::Error,
            29 => ReportVerdict::Fail,
            _ => ReportVerdict::Pass,
        };
        input.tests.push(TestReport {
            test_id: format!(
                "disagg_perf_model{}_1k1k_ctx{}_gen{}_dep{gpus}_bs{}_case{i:04}",
                i % 4,
                1 + i % 3,
                1 + i % 2,
                16 << (i % 3)
            ),
            run: 0,
            meta: TestMeta {
                model: format!("model-{}", i % 4),
                isl: Some(1024),
                osl: Some(1024),
                gpu_type: "GB200".into(),
                gpus: Some(gpus),
                topology: Topology {
                    ctx_servers: Some(1 + (i % 3) as u64),
                    gen_servers: Some(1 + (i % 2) as u64),
                    ctx_tp: Some(4),
                    gen_tp: Some(gpus),
                    gen_ep: Some(gpus),
                    attention_dp: true,
                    batch: Some(16 << (i % 3)),
                },
            },
            points,
            verdict,
            reasons: if verdict == ReportVerdict::Pass {
                Vec::new()
            } else {
                vec![
                    format!("c=8: completed {} of 64", 60 - i % 5),
                    "c=8: 4 failed".into(),
                ]
            },
            excerpts: if verdict == ReportVerdict::Pass {
                Vec::new()
            } else {
                vec![LogExcerpt {
                    concurrency: Some(8),
                    source: "logs/6_bench.log".into(),
                    text: (0..40)
                        .map(|l| format!("[I] iteration {l}: 64 requests in flight\n"))
                        .collect(),
                }]
            },
            logs: Some(format!(
                "servebench-out/runs/nightly-030/bundles/case{i:04}"
            )),
            ..TestReport::default()
        });
    }
    add_history(&mut input, runs);
    input
}
