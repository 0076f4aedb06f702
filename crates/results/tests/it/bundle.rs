//! `collect` over bundle directories written by hand, as the orchestrator leaves them.

use std::fs;
use std::path::Path;

use servebench_launch::{Client, ClientRun, Expectations, FailureKind, GpuUse, LaunchSpec, Step};
use servebench_results::{Verdict, collect};

/// lm_eval's table with padded filter names, as upstream prints it.
pub const LM_EVAL_TABLE: &str = "|Tasks|Version|     Filter     |n-shot|  Metric   |   |Value |   |Stderr|\n\
|-----|------:|----------------|-----:|-----------|---|-----:|---|-----:|\n\
|gsm8k|      3|flexible-extract|     5|exact_match|↑  |0.9538|±  |0.0058|\n\
|     |       |strict-match    |     5|exact_match|↑  |0.9500|±  |0.0060|\n";

/// A launch spec with one built-in client run per concurrency.
pub fn spec(concurrencies: &[(u64, u64)]) -> LaunchSpec {
    let mut spec = LaunchSpec::empty("disagg_perf_deepseek-r1_1k1k_ctx1_gen1_dep8_bs32");
    spec.client = Client::Builtin;
    for &(c, n) in concurrencies {
        let dir = format!("logs/concurrency_{c}");
        spec.benchmark.push(ClientRun {
            listed: c,
            concurrency: c,
            num_prompts: n,
            repeat: 0,
            step: Step {
                name: format!("bench_c{c}_r0"),
                argv: format!(
                    "servebench bench --dataset-name random --random-input-len 1024 --random-output-len 8 --random-range-ratio 0 --random-ids --num-prompts {n} --max-concurrency {c} --ignore-eos --save-result --result-dir {dir} --result-filename result.json"
                )
                .split(' ')
                .map(String::from)
                .collect(),
                env: Default::default(),
                log: "6_bench.log".into(),
                output_dir: Some(dir.clone()),
                srun_prefix: Vec::new(),
            },
            result_file: format!("{dir}/result.json"),
            done_line: format!("Benchmark with concurrency {c} done"),
            expect: Expectations {
                num_prompts: n,
                expected_output_tokens: Some(n * 8),
                max_failed_pct: 0.0,
            },
        });
    }
    spec
}

/// The same spec with a deployment of `total` GPUs, `generation` of them on generation servers.
pub fn with_gpus(spec: &LaunchSpec, total: u64, generation: u64) -> LaunchSpec {
    let mut s = spec.clone();
    s.gpus = GpuUse {
        total,
        ctx: total - generation,
        generation,
    };
    s
}

/// The built-in client's result JSON for `n` prompts of 8 output tokens.
pub fn builtin_json(c: u64, n: u64, failed: u64, bound: bool) -> String {
    let completed = n - failed;
    serde_json::json!({
        "date": "20261130-002000", "backend": "openai", "model_id": "m", "tokenizer_id": null,
        "num_prompts": n, "request_rate": "inf", "burstiness": 1.0, "max_concurrency": c,
        "duration": 2.0, "completed": completed, "failed": failed,
        "total_input_tokens": completed * 1024, "total_output_tokens": completed * 8,
        "request_throughput": completed as f64 / 2.0, "request_goodput": null,
        "request_goodput:": null, "output_throughput": (completed * 8) as f64 / 2.0,
        "total_token_throughput": (completed * 1032) as f64 / 2.0, "user_throughput": 100.0,
        "mean_ttft_ms": 20.0, "median_ttft_ms": 19.0, "std_ttft_ms": 2.0, "p99_ttft_ms": 30.0,
        "mean_tpot_ms": 8.0, "median_tpot_ms": 8.0, "std_tpot_ms": 0.5, "p99_tpot_ms": 9.5,
        "mean_itl_ms": 8.0, "median_itl_ms": 7.9, "std_itl_ms": 0.6, "p99_itl_ms": 10.0,
        "mean_e2el_ms": 80.0, "median_e2el_ms": 79.0, "std_e2el_ms": 3.0, "p99_e2el_ms": 90.0,
        "servebench": {
            "schema_version": 1, "expected_output_tokens": n * 8, "output_len_mismatches": 0,
            "client_health": {
                "lateness_p50_ms": 0.01, "lateness_p99_ms": if bound { 12.0 } else { 0.2 },
                "lateness_max_ms": 15.0, "configured_concurrency": c,
                "achieved_concurrency_mean": c as f64, "achieved_concurrency_peak": c,
                "cpu_user_s": 0.5, "cpu_sys_s": 0.25, "cpu_per_output_token_us": 3.0,
                "cpu_utilization": 0.1, "cores": 4, "client_bound": bound,
                "client_bound_reasons": if bound { vec!["schedule lateness p99 12.000 ms > 10 ms"] } else { vec![] },
            },
        },
    })
    .to_string()
}

pub fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

#[test]
fn builtin_json_passes() {
    let d = tempfile::tempdir().unwrap();
    let spec = spec(&[(4, 16), (8, 32)]);
    for (c, n) in [(4, 16), (8, 32)] {
        write(
            d.path(),
            &format!("logs/concurrency_{c}/result.json"),
            &builtin_json(c, n, 0, false),
        );
    }
    let r = collect(d.path(), &with_gpus(&spec, 16, 8));
    assert_eq!(r.verdict, Verdict::Pass, "{:#?}", r.checks);
    assert_eq!(r.points.len(), 2);
    let p = &r.points[1];
    assert_eq!(p.concurrency, 8);
    assert_eq!(p.metrics["output_token_throughput_per_gpu"], 128.0 / 16.0);
    assert_eq!(
        p.metrics["output_token_throughput_per_gen_gpu"],
        128.0 / 8.0
    );
    assert_eq!(p.metrics["interactivity"], 125.0);
    assert!(p.client_health_reported);
    assert!(
        r.checks
            .iter()
            .any(|c| c.name == "output_tokens_expected" && c.passed)
    );
}

/// A `benchmark_serving` block as the built-in client prints it (with its health section).
pub fn text_block(c: u64, n: u64, failed: u64, bound: bool) -> String {
    let ok = n - failed;
    let mut s = format!(
        "Traffic request rate: inf\nBurstiness factor: 1.0 (Poisson process)\nMaximum request concurrency: {c}\nTotal failed requests: {failed}\n"
    );
    s.push_str("============ Serving Benchmark Result ============\n");
    let row = |s: &mut String, l: &str, v: String| s.push_str(&format!("{l:<40} {v:<10}\n"));
    row(&mut s, "Total requests:", n.to_string());
    row(&mut s, "Successful requests:", ok.to_string());
    row(&mut s, "Failed requests:", failed.to_string());
    row(&mut s, "Benchmark duration (s):", "2.00".into());
    row(&mut s, "Total input tokens:", (ok * 1024).to_string());
    row(&mut s, "Total generated tokens:", (ok * 8).to_string());
    row(
        &mut s,
        "Request throughput (req/s):",
        format!("{:.2}", ok as f64 / 2.0),
    );
    row(
        &mut s,
        "Output token throughput (tok/s):",
        format!("{:.2}", (ok * 8) as f64 / 2.0),
    );
    row(
        &mut s,
        "Total Token throughput (tok/s):",
        format!("{:.2}", (ok * 1032) as f64 / 2.0),
    );
    row(&mut s, "User throughput (tok/s):", "100.00".into());
    if failed > 0 {
        s.push_str("=======================!FAILED REQUESTS!=======================\n");
        s.push_str(&format!("Total failed requests: {failed}\n"));
        s.push_str("=====================!CHECK LOG FOR ERRORS!====================\n");
    }
    s.push_str("---------------Time to First Token----------------\n");
    row(&mut s, "Mean TTFT (ms):", "20.00".into());
    row(&mut s, "Median TTFT (ms):", "19.00".into());
    row(&mut s, "Std Dev TTFT (ms):", "2.00".into());
    row(&mut s, "P99 TTFT (ms):", "30.00".into());
    s.push_str("-----Time per Output Token (excl. 1st token)------\n");
    row(&mut s, "Mean TPOT (ms):", "8.00".into());
    row(&mut s, "Median TPOT (ms):", "8.00".into());
    row(&mut s, "Std Dev TPOT (ms):", "0.50".into());
    row(&mut s, "P99 TPOT (ms):", "9.50".into());
    s.push_str("==================================================\n");
    s.push_str("------------------ Client health -----------------\n");
    row(&mut s, "Schedule lateness p50 (ms):", "0.010".into());
    row(
        &mut s,
        "Client bound:",
        if bound { "yes" } else { "no" }.into(),
    );
    if bound {
        row(
            &mut s,
            "Client bound reason:",
            "schedule lateness p99 12.000 ms > 10 ms".into(),
        );
    }
    s.push_str("==================================================\n");
    s
}

const FINISHED_OK: &str =
    "{\"event\":\"finished\",\"ts\":1030.0,\"code\":0,\"ok\":true,\"kind\":null,\"reason\":null}\n";

fn status_start() -> String {
    "{\"event\":\"stage\",\"ts\":1000.0,\"stage\":\"starting\"}\n{\"event\":\"stage\",\"ts\":1001.0,\"stage\":\"benchmark\"}\n".into()
}

/// Cases of every verdict, from bundle directories (used by the renderer snapshots too).
pub fn sample_cases() -> Vec<servebench_results::CaseResult> {
    let mut out = Vec::new();
    // Pass, from the bench log only (no result files), with health from the text.
    let d = tempfile::tempdir().unwrap();
    let mut s = spec(&[(4, 16), (8, 32)]);
    s.test_id = "disagg_perf_a_1k1k_text_log".into();
    let mut log = String::from("starting client\n\x1b[33mWARNING\x1b[0m tokenizer not found\n");
    for (c, n) in [(4, 16), (8, 32)] {
        log.push_str(&text_block(c, n, 0, false));
        log.push_str(&format!("Benchmark with concurrency {c} done\n"));
    }
    write(d.path(), "logs/6_bench.log", &log);
    write(
        d.path(),
        "logs/status.jsonl",
        &(status_start() + FINISHED_OK),
    );
    out.push(collect(d.path(), &with_gpus(&s, 8, 4)));

    // Invalid: failed requests at c=8, client bound at c=4 (result JSON).
    let d = tempfile::tempdir().unwrap();
    let mut s = spec(&[(4, 16), (8, 32)]);
    s.test_id = "disagg_perf_b_1k1k_invalid".into();
    write(
        d.path(),
        "logs/concurrency_4/result.json",
        &builtin_json(4, 16, 0, true),
    );
    write(
        d.path(),
        "logs/concurrency_8/result.json",
        &builtin_json(8, 32, 3, false),
    );
    write(
        d.path(),
        "logs/6_bench.log",
        &format!(
            "{}Benchmark with concurrency 4 done\n{}Benchmark with concurrency 8 done\n",
            text_block(4, 16, 0, true),
            text_block(8, 32, 3, false)
        ),
    );
    write(
        d.path(),
        "logs/status.jsonl",
        &(status_start() + FINISHED_OK),
    );
    out.push(collect(d.path(), &with_gpus(&s, 8, 4)));

    // Invalid: the c=16 client failed (no result, no marker); the last run was cut short.
    let d = tempfile::tempdir().unwrap();
    let mut s = spec(&[(4, 16), (16, 64), (32, 128)]);
    s.test_id = "disagg_perf_c_1k1k_client_failed".into();
    let cut = text_block(32, 128, 0, false);
    let cut = &cut[..cut.find("Median TTFT").unwrap()];
    write(
        d.path(),
        "logs/6_bench.log",
        &format!(
            "{}Benchmark with concurrency 4 done\nTraceback (most recent call last):\n  ConnectionRefusedError: [Errno 111]\n{cut}",
            text_block(4, 16, 0, false)
        ),
    );
    write(
        d.path(),
        "logs/status.jsonl",
        &(status_start()
            + "{\"event\":\"concurrency\",\"ts\":1002.0,\"c\":4,\"k\":1,\"n\":3,\"repeat\":0}\n\
               {\"event\":\"concurrency\",\"ts\":1010.0,\"c\":16,\"k\":2,\"n\":3,\"repeat\":0}\n\
               {\"event\":\"error\",\"ts\":1011.0,\"message\":\"client at concurrency 16 failed (exit code 1)\"}\n\
               {\"event\":\"concurrency\",\"ts\":1012.0,\"c\":32,\"k\":3,\"n\":3,\"repeat\":0}\n\
               {\"event\":\"finished\",\"ts\":1030.0,\"code\":5,\"ok\":false,\"kind\":\"client\",\"reason\":\"client failed at concurrency 16\"}\n"),
    );
    out.push(collect(d.path(), &with_gpus(&s, 8, 4)));

    // Error: health timeout, nothing ran.
    let d = tempfile::tempdir().unwrap();
    let mut s = spec(&[(4, 16), (8, 32)]);
    s.test_id = "disagg_perf_d_1k1k_health_timeout".into();
    write(
        d.path(),
        "logs/status.jsonl",
        "{\"event\":\"stage\",\"ts\":1000.0,\"stage\":\"starting\"}\n\
         {\"event\":\"readiness\",\"ts\":1001.0,\"text\":\"ctx 1/1 gen 0/1\",\"ready\":{}}\n\
         {\"event\":\"finished\",\"ts\":2800.0,\"code\":3,\"ok\":false,\"kind\":\"health_timeout\",\"reason\":\"GEN_0 not healthy after 1800 s (last answer: HTTP 503)\"}\n",
    );
    out.push(collect(d.path(), &with_gpus(&s, 8, 4)));

    // Fail: valid results, the accuracy step failed.
    let d = tempfile::tempdir().unwrap();
    let mut s = spec(&[(4, 16)]);
    s.test_id = "disagg_perf_f_1k1k_accuracy_step_failed".into();
    write(
        d.path(),
        "logs/concurrency_4/result.json",
        &builtin_json(4, 16, 0, false),
    );
    write(
        d.path(),
        "logs/status.jsonl",
        "{\"event\":\"stage\",\"ts\":1000.0,\"stage\":\"benchmark\"}\n\
         {\"event\":\"finished\",\"ts\":1100.0,\"code\":5,\"ok\":false,\"kind\":\"accuracy\",\"reason\":\"accuracy_gsm8k exited with code 1\"}\n",
    );
    out.push(collect(d.path(), &with_gpus(&s, 8, 4)));

    // No client run: judged by its accuracy gate alone (strict-match 0.95 against 0.9454).
    let d = tempfile::tempdir().unwrap();
    let mut s = spec(&[]);
    s.test_id = "disagg_accuracy_e_gsm8k".into();
    s.gates.accuracy.push(servebench_launch::AccuracyGate {
        dataset: "gsm8k".into(),
        filter: "strict-match".into(),
        expected: 0.9454,
        rule: servebench_launch::AccuracyRule::Hypothesis {
            alpha: 0.05,
            beta: 0.2,
            sigma: 50.0,
            num_samples: 1319,
            higher_is_better: true,
        },
        log: "logs/7_accuracy_eval_gsm8k.log".into(),
        output_dir: "logs/accuracy_eval_gsm8k".into(),
    });
    write(d.path(), "logs/7_accuracy_eval_gsm8k.log", LM_EVAL_TABLE);
    write(d.path(), "logs/status.jsonl", FINISHED_OK);
    out.push(collect(d.path(), &with_gpus(&s, 8, 4)));
    out
}

#[test]
fn verdicts() {
    let cases = sample_cases();
    let got: Vec<(&str, Verdict)> = cases
        .iter()
        .map(|c| (c.test_id.as_str(), c.verdict))
        .collect();
    assert_eq!(
        got,
        [
            ("disagg_perf_a_1k1k_text_log", Verdict::Pass),
            ("disagg_perf_b_1k1k_invalid", Verdict::Invalid),
            ("disagg_perf_c_1k1k_client_failed", Verdict::Invalid),
            ("disagg_perf_d_1k1k_health_timeout", Verdict::Error),
            ("disagg_perf_f_1k1k_accuracy_step_failed", Verdict::Fail),
            ("disagg_accuracy_e_gsm8k", Verdict::Pass),
        ]
    );
    let a = &cases[0];
    assert_eq!(a.points.len(), 2);
    assert!(
        a.points
            .iter()
            .all(|p| p.format == "text-block" && p.client_health_reported)
    );
    assert_eq!(a.duration_s, Some(30.0));
    let b = &cases[1];
    let failing: Vec<(&str, Option<u64>)> = b
        .checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| (c.name.as_str(), c.concurrency))
        .collect();
    assert_eq!(
        failing,
        [
            ("client_not_bound", Some(4)),
            ("completed_equals_num_prompts", Some(8)),
            ("no_failed_requests", Some(8)),
            ("output_tokens_expected", Some(8)),
        ]
    );
    let c = &cases[2];
    assert_eq!(c.points.len(), 2, "{:#?}", c.points);
    assert!(!c.points[1].complete);
    let missing = c
        .checks
        .iter()
        .find(|k| !k.passed && k.concurrency == Some(16))
        .unwrap();
    assert_eq!(missing.name, "result_present");
    assert!(
        missing.detail.contains("client at concurrency 16 failed"),
        "{}",
        missing.detail
    );
    let d = &cases[3];
    assert_eq!(
        d.reason.as_deref(),
        Some("GEN_0 not healthy after 1800 s (last answer: HTTP 503)")
    );
    assert_eq!(d.requested, [4, 8]);
}

#[test]
fn repeats_take_their_own_stretch() {
    let d = tempfile::tempdir().unwrap();
    let mut s = spec(&[(4, 16)]);
    let mut second = s.benchmark[0].clone();
    second.repeat = 1;
    second.result_file = "logs/concurrency_4/repeat_1/result.json".into();
    s.benchmark.push(second);
    let log = format!(
        "{}Benchmark with concurrency 4 done\n{}Benchmark with concurrency 4 done\n",
        text_block(4, 16, 0, false),
        text_block(4, 16, 2, false)
    );
    write(d.path(), "logs/6_bench.log", &log);
    let r = collect(d.path(), &s);
    assert_eq!(r.points.len(), 2);
    assert_eq!(r.points[0].metrics["failed"], 0.0);
    assert_eq!(r.points[1].metrics["failed"], 2.0);
    assert_eq!(r.points[1].repeat, 1);
    assert_eq!(r.verdict, Verdict::Invalid);
    assert_eq!(r.requested, [4]);
}

#[test]
fn executor_failure_counts_without_a_bundle_status_and_garbage_never_panics() {
    use servebench_results::{CollectOptions, JobOutcome, collect_with};
    let d = tempfile::tempdir().unwrap();
    let s = spec(&[(4, 16)]);
    write(
        d.path(),
        "logs/concurrency_4/result.json",
        &builtin_json(4, 16, 0, false),
    );
    let r = collect_with(
        d.path(),
        &s,
        &CollectOptions {
            job: Some(JobOutcome {
                ok: false,
                reason: Some("NODE_FAIL".into()),
                kind: Some(FailureKind::NodeFailure),
                duration_s: Some(12.0),
            }),
        },
    );
    assert_eq!(
        (r.verdict, r.reason.as_deref()),
        (Verdict::Error, Some("NODE_FAIL"))
    );
    assert_eq!(r.duration_s, Some(12.0));

    let d = tempfile::tempdir().unwrap();
    fs::create_dir_all(d.path().join("logs/concurrency_4")).unwrap();
    fs::write(
        d.path().join("logs/concurrency_4/result.json"),
        [0xff, 0x00, b'{', b'"'],
    )
    .unwrap();
    fs::write(d.path().join("logs/6_bench.log"), [0xfe, b'\n', b'=', 0x1b]).unwrap();
    fs::write(d.path().join("logs/status.jsonl"), "{\"event\":\n\u{0}").unwrap();
    let r = collect(d.path(), &s);
    assert_eq!(r.verdict, Verdict::Error);
    assert!(
        r.reason
            .unwrap()
            .starts_with("no result for any of the 1 client run(s)")
    );
    // A missing bundle directory is an error too, not a panic.
    let r = collect(&d.path().join("nope"), &s);
    assert_eq!(r.verdict, Verdict::Error);
}

#[test]
fn failed_client_block_without_marker_is_found_by_its_concurrency() {
    let d = tempfile::tempdir().unwrap();
    let s = spec(&[(8, 32), (16, 64)]);
    // The c=8 client exited 1 (failed requests): no marker, no result file.
    let log = format!(
        "{}{}Benchmark with concurrency 16 done\n",
        text_block(8, 32, 3, false),
        text_block(16, 64, 0, false)
    );
    write(d.path(), "logs/6_bench.log", &log);
    write(
        d.path(),
        "logs/status.jsonl",
        "{\"event\":\"concurrency\",\"ts\":1.0,\"c\":8,\"k\":1,\"n\":2,\"repeat\":0}\n\
         {\"event\":\"error\",\"ts\":2.0,\"message\":\"client at concurrency 8 failed (exit code 1)\"}\n\
         {\"event\":\"concurrency\",\"ts\":3.0,\"c\":16,\"k\":2,\"n\":2,\"repeat\":0}\n\
         {\"event\":\"finished\",\"ts\":4.0,\"code\":5,\"ok\":false,\"kind\":\"client\",\"reason\":\"client failed at concurrency 8\"}\n",
    );
    let r = collect(d.path(), &s);
    assert_eq!(r.verdict, Verdict::Invalid);
    assert_eq!(r.points.len(), 2);
    assert_eq!(r.points[0].metrics["failed"], 3.0);
    assert_eq!(r.points[1].metrics["completed"], 64.0);
    assert_eq!(r.points[1].metrics["failed"], 0.0);
    let failing: Vec<_> = r
        .checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| (c.name.as_str(), c.concurrency))
        .collect();
    assert_eq!(
        failing,
        [
            ("completed_equals_num_prompts", Some(8)),
            ("no_failed_requests", Some(8)),
            ("output_tokens_expected", Some(8))
        ]
    );
    assert!(
        r.checks
            .iter()
            .any(|c| c.detail.contains("(status: client at concurrency 8 failed"))
    );
}

#[test]
fn the_bundle_status_decides_and_the_executor_explains() {
    use servebench_results::{CollectOptions, JobOutcome, collect_with};
    let failed_job = CollectOptions {
        job: Some(JobOutcome {
            ok: false,
            reason: Some("failed".into()),
            kind: None,
            duration_s: None,
        }),
    };
    let s = spec(&[(4, 16)]);
    let finished = |kind: &str, reason: &str| {
        format!(
            "{{\"event\":\"finished\",\"ts\":2.0,\"code\":5,\"ok\":false,\"kind\":\"{kind}\",\"reason\":\"{reason}\"}}\n"
        )
    };
    // The client exited 1 (failed requests): the executor saw a failed job, the bundle says
    // why; judged by the results.
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "logs/concurrency_4/result.json",
        &builtin_json(4, 16, 2, false),
    );
    write(
        d.path(),
        "logs/status.jsonl",
        &finished("client", "client failed at concurrency 4"),
    );
    let r = collect_with(d.path(), &s, &failed_job);
    assert_eq!(r.verdict, Verdict::Invalid, "{:?}", r.reason);
    assert_eq!(
        r.reason.as_deref(),
        Some(
            "c=4: completed 14 of 16; c=4: 2 failed; c=4: 112 output tokens, 128 expected (ignore_eos)"
        )
    );
    // Valid perf results, accuracy step failed: Fail.
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "logs/concurrency_4/result.json",
        &builtin_json(4, 16, 0, false),
    );
    write(
        d.path(),
        "logs/status.jsonl",
        &finished("accuracy", "accuracy_gsm8k exited with code 1"),
    );
    let r = collect_with(d.path(), &s, &failed_job);
    assert_eq!(
        (r.verdict, r.reason.as_deref()),
        (Verdict::Fail, Some("accuracy_gsm8k exited with code 1"))
    );
    // Killed in the client step by the scheduler (time limit): no result at all, so the
    // scheduler's account is the reason, not "no result".
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "logs/status.jsonl",
        &finished("client", "terminated by SIGTERM"),
    );
    let timed_out = CollectOptions {
        job: Some(JobOutcome {
            ok: false,
            reason: Some("SLURM time limit reached (TIMEOUT)".into()),
            kind: Some(FailureKind::JobTimeout),
            duration_s: None,
        }),
    };
    let r = collect_with(d.path(), &s, &timed_out);
    assert_eq!(
        (r.verdict, r.reason.as_deref()),
        (Verdict::Error, Some("SLURM time limit reached (TIMEOUT)"))
    );
    // The same when the job was killed by SIGTERM at its time limit and says "interrupted":
    // the scheduler's TIMEOUT explains it, even with results on disk.
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "logs/status.jsonl",
        &finished("interrupted", "interrupted by SIGTERM"),
    );
    write(
        d.path(),
        "logs/concurrency_4/result.json",
        &builtin_json(4, 16, 0, false),
    );
    let r = collect_with(d.path(), &s, &timed_out);
    assert_eq!(
        (r.verdict, r.reason.as_deref()),
        (Verdict::Error, Some("SLURM time limit reached (TIMEOUT)"))
    );
    // A crashed role: Error with the bundle's reason, results or not.
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "logs/concurrency_4/result.json",
        &builtin_json(4, 16, 0, false),
    );
    write(
        d.path(),
        "logs/status.jsonl",
        &finished("role_exited", "GEN_0 exited with code 1"),
    );
    let r = collect_with(d.path(), &s, &failed_job);
    assert_eq!(
        (r.verdict, r.reason.as_deref()),
        (Verdict::Error, Some("GEN_0 exited with code 1"))
    );
    // The bundle finished fine: the executor's doubt does not turn it into an error.
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "logs/concurrency_4/result.json",
        &builtin_json(4, 16, 0, false),
    );
    write(
        d.path(),
        "logs/status.jsonl",
        "{\"event\":\"finished\",\"ts\":2.0,\"code\":0,\"ok\":true,\"kind\":null,\"reason\":null}\n",
    );
    assert_eq!(
        collect_with(d.path(), &s, &failed_job).verdict,
        Verdict::Pass
    );
}
