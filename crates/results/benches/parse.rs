//! Parser throughput on large inputs: a bench log of progress bars and result blocks, a
//! vLLM-style result JSON with per-request arrays, `collect` over a bundle with many runs, and
//! the console tables of AIPerf, GenAI-Perf and GuideLLM.
//!
//! `cargo bench -p servebench-results --bench parse [-- MB]` (default 50 MB of log)
#![allow(clippy::unwrap_used, reason = "a benchmark fails loudly")]

use std::fmt::Write as _;
use std::time::Instant;

use servebench_launch::{ClientRun, Expectations, GpuUse, LaunchSpec, Step};
use servebench_results::collect;
use servebench_results::parse::{
    parse_log_results, parse_result_text, parse_text_blocks, split_bench_log,
};

fn block(c: u64) -> String {
    let mut s = format!("Maximum request concurrency: {c}\nTotal failed requests: 0\n");
    s.push_str("============ Serving Benchmark Result ============\n");
    for (l, v) in [
        ("Total requests:", "1024"),
        ("Successful requests:", "1024"),
        ("Failed requests:", "0"),
        ("Benchmark duration (s):", "12.34"),
        ("Total input tokens:", "1048576"),
        ("Total generated tokens:", "1048576"),
        ("Request throughput (req/s):", "82.98"),
        ("Output token throughput (tok/s):", "84972.45"),
        ("Total Token throughput (tok/s):", "169944.90"),
        ("User throughput (tok/s):", "101.20"),
    ] {
        let _ = writeln!(s, "{l:<40} {v:<10}");
    }
    for (h, m) in [
        ("---------------Time to First Token----------------", "TTFT"),
        ("-----Time per Output Token (excl. 1st token)------", "TPOT"),
        ("---------------Inter-token Latency----------------", "ITL"),
        ("----------------End-to-end Latency----------------", "E2EL"),
    ] {
        s.push_str(h);
        s.push('\n');
        for st in ["Mean", "Median", "Std Dev", "P90", "P99", "P99.9"] {
            let _ = writeln!(s, "{:<40} {:<10}", format!("{st} {m} (ms):"), "12.34");
        }
    }
    s.push_str("==================================================\n");
    s
}

fn main() {
    let mb: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(50);
    let mut log = String::new();
    let mut i = 0u64;
    while log.len() < mb * 1_000_000 {
        log.push_str(
            "Benchmarking:  42%|####      | 430/1024 [00:05<00:07, 80.1it/s]\r\x1b[2K\x1b[1G",
        );
        log.push_str("INFO 11-30 00:00:00 engine.py:300] Avg prompt throughput: 0.0 tokens/s\n");
        if i.is_multiple_of(200) {
            log.push_str(&block(i));
            let _ = writeln!(log, "Benchmark with concurrency {i} done");
        }
        i += 1;
    }
    let t = Instant::now();
    let blocks = parse_text_blocks(&log);
    let e = t.elapsed().as_secs_f64();
    println!(
        "text blocks: {} MB, {} blocks in {:.3} s = {:.1} MB/s",
        log.len() / 1_000_000,
        blocks.len(),
        e,
        log.len() as f64 / 1e6 / e
    );
    let t = Instant::now();
    let segs = split_bench_log(&log);
    let e = t.elapsed().as_secs_f64();
    println!(
        "split at markers: {} segments in {:.3} s = {:.1} MB/s",
        segs.len(),
        e,
        log.len() as f64 / 1e6 / e
    );

    // A result JSON with 20,000 requests of 1,000 ITL samples each.
    let n = 20_000usize;
    let itl: Vec<f64> = (0..1000).map(|k| 0.001 + k as f64 * 1e-7).collect();
    let json = serde_json::json!({
        "completed": n, "failed": 0, "duration": 100.0, "total_input_tokens": n * 1024,
        "total_output_tokens": n * 1000, "output_throughput": 200000.0, "mean_ttft_ms": 10.0,
        "median_tpot_ms": 5.0, "max_concurrency": 512, "num_prompts": n,
        "itls": vec![itl; n], "ttfts": vec![0.01; n], "errors": vec![""; n],
    })
    .to_string();
    let t = Instant::now();
    let p = parse_result_text(&json).unwrap();
    let e = t.elapsed().as_secs_f64();
    println!(
        "result JSON: {} MB, {} metrics in {:.3} s = {:.1} MB/s",
        json.len() / 1_000_000,
        p.metrics.len(),
        e,
        json.len() as f64 / 1e6 / e
    );

    // collect over a bundle with 100 client runs judged from the bench log.
    let dir = tempfile::tempdir().unwrap();
    let mut spec = LaunchSpec::empty("bench");
    let mut bench_log = String::new();
    for c in 1..=100u64 {
        spec.benchmark.push(ClientRun {
            listed: c,
            concurrency: c,
            num_prompts: 1024,
            repeat: 0,
            step: Step {
                name: format!("bench_c{c}"),
                argv: Vec::new(),
                env: Default::default(),
                log: "6_bench.log".into(),
                output_dir: None,
                srun_prefix: Vec::new(),
            },
            result_file: format!("logs/concurrency_{c}/result.json"),
            done_line: format!("Benchmark with concurrency {c} done"),
            expect: Expectations {
                num_prompts: 1024,
                expected_output_tokens: None,
                max_failed_pct: 0.0,
            },
        });
        for _ in 0..2000 {
            bench_log.push_str("Benchmarking:  42%|####      | 430/1024\r\n");
        }
        bench_log.push_str(&block(c));
        let _ = writeln!(bench_log, "Benchmark with concurrency {c} done");
    }
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    std::fs::write(dir.path().join("logs/6_bench.log"), &bench_log).unwrap();
    let t = Instant::now();
    spec.gpus = GpuUse {
        total: 8,
        ctx: 4,
        generation: 4,
    };
    let r = collect(dir.path(), &spec);
    println!(
        "collect: 100 runs from a {} MB bench log in {:.3} s ({})",
        bench_log.len() / 1_000_000,
        t.elapsed().as_secs_f64(),
        r.verdict
    );

    // Console tables: AIPerf (LLM metrics and per-GPU telemetry), GenAI-Perf with nested
    // telemetry, and GuideLLM reports, repeated among progress lines to `mb / 5` MB.
    let inputs = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/inputs");
    let tables: String = [
        "aiperf/console_llm_metrics_gpu_telemetry_2gpu.txt",
        "genai_perf/verbose_llm_and_gpu_telemetry_2gpu.txt",
        "guidellm/console_report_two_benchmarks.txt",
    ]
    .iter()
    .map(|f| std::fs::read_to_string(format!("{inputs}/{f}")).unwrap())
    .collect::<Vec<_>>()
    .join("\nProfiling: 320/320 |####| 100% [01:08<00:00]\n");
    let mut console = String::new();
    while console.len() < mb * 200_000 {
        console.push_str(&tables);
        console
            .push_str("INFO 11-30 00:00:00 engine.py:300] Avg prompt throughput: 0.0 tokens/s\n");
    }
    let t = Instant::now();
    let found = parse_log_results(&console);
    let e = t.elapsed().as_secs_f64();
    println!(
        "console tables: {} MB, {} results in {:.3} s = {:.1} MB/s",
        console.len() / 1_000_000,
        found.len(),
        e,
        console.len() as f64 / 1e6 / e
    );
}
