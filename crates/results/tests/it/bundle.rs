//! `collect` over bundle directories written by hand, as the orchestrator leaves them.

use std::fs;
use std::path::Path;

use servebench_launch::{ClientRun, LaunchSpec, Step};
use servebench_results::{GpuCounts, Verdict, collect};

/// A launch spec with one built-in client run per concurrency.
pub fn spec(concurrencies: &[(u64, u64)]) -> LaunchSpec {
    let mut spec = LaunchSpec::empty("disagg_perf_deepseek-r1_1k1k_ctx1_gen1_dep8_bs32");
    spec.client = "builtin".into();
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
        });
    }
    spec
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
    let r = collect(d.path(), &spec, GpuCounts::new(16, 8));
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
