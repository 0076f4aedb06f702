//! The text block is upstream's `benchmark_serving` output byte for byte, and upstream's own
//! regexes (reference/upstream.md 6.2 and 6.3) read it.

use std::time::Duration;

use regex::Regex;
use servebench_loadgen::stats::Summary;
use servebench_loadgen::{
    BenchMetrics, BenchReport, ClientHealth, Endpoint, Metric, RequestRate, Slo, WorkloadStats,
    write_text,
};

use super::{TestServer, config, dataset, run};

fn summary(mean: f64, median: f64, std: f64, p999: f64) -> Summary {
    Summary {
        count: 9,
        mean,
        median,
        std,
        min: 0.0,
        max: 0.0,
        percentiles: vec![(50.0, median), (99.9, p999)],
    }
}

/// Produced by running upstream's print statements (benchmark_serving.py at 0228a712) on the
/// same numbers with Python 3; note Python's rounding of 0.405, 186.625, 20.125 and 999.995.
const EXPECTED: &str = "Traffic request rate: inf\nBurstiness factor: 1.0 (Poisson process)\nMaximum request concurrency: 4\nError type: HTTPStatus503, Count: 1 requests\nTotal failed requests: 1\n============ Serving Benchmark Result ============\nTotal requests:                          10        \nSuccessful requests:                     9         \nFailed requests:                         1         \nBenchmark duration (s):                  12.35     \nTotal input tokens:                      1152      \nTotal generated tokens:                  2304      \nRequest throughput (req/s):              0.73      \nRequest goodput (req/s):                 0.41      \nOutput token throughput (tok/s):         186.62    \nTotal Token throughput (tok/s):          279.94    \nUser throughput (tok/s):                 123456.79 \n=======================!FAILED REQUESTS!=======================\nTotal failed requests: 1\n=====================!CHECK LOG FOR ERRORS!====================\n---------------Time to First Token----------------\nMean TTFT (ms):                          10.00     \nMedian TTFT (ms):                        9.50      \nStd Dev TTFT (ms):                       1.25      \nP50 TTFT (ms):                           9.50      \nP99.9 TTFT (ms):                         20.12     \n-----Time per Output Token (excl. 1st token)------\nMean TPOT (ms):                          5.00      \nMedian TPOT (ms):                        5.00      \nStd Dev TPOT (ms):                       0.00      \nP50 TPOT (ms):                           5.00      \nP99.9 TPOT (ms):                         5.00      \n----------------End-to-end Latency----------------\nMean E2EL (ms):                          1000.00   \nMedian E2EL (ms):                        1000.00   \nStd Dev E2EL (ms):                       3.00      \nP50 E2EL (ms):                           1000.00   \nP99.9 E2EL (ms):                         1010.00   \n==================================================\n";

fn synthetic() -> BenchReport {
    let metrics = BenchMetrics {
        total_requests: 10,
        completed: 9,
        failed: 1,
        total_input_tokens: 1152,
        total_output_tokens: 2304,
        expected_output_tokens: 2560,
        output_len_mismatches: 0,
        duration_s: 12.3456,
        request_throughput: 0.729,
        request_goodput: Some(0.405),
        output_throughput: 186.625,
        total_token_throughput: 279.9375,
        user_throughput: 123456.789,
        ttft_ms: summary(10.0, 9.5, 1.25, 20.125),
        tpot_ms: summary(5.0, 5.0, 0.0, 5.0),
        itl_ms: summary(1.0, 1.0, 0.0, 1.0),
        e2el_ms: summary(1000.0, 999.995, 3.0, 1010.0),
    };
    BenchReport {
        date: "20260101-000000".into(),
        started: std::time::Instant::now(),
        model: "m".into(),
        tokenizer: None,
        endpoint: Endpoint::Completions,
        base_url: "http://x".into(),
        num_prompts: 10,
        max_concurrency: Some(4),
        request_rate: RequestRate::Infinite,
        percentile_metrics: vec![Metric::Ttft, Metric::Tpot, Metric::E2el],
        percentiles: vec![50.0, 99.9],
        goodput: vec![Slo {
            metric: Metric::Ttft,
            limit_ms: 15.0,
        }],
        metrics,
        errors: vec![("HTTPStatus503".into(), 1)],
        health: ClientHealth {
            ramp_up_ms: 1.5,
            lateness_p50_ms: 0.01,
            lateness_p99_ms: 0.05,
            lateness_max_ms: 0.2,
            configured_concurrency: Some(4),
            achieved_concurrency_mean: 3.99,
            achieved_concurrency_peak: 4,
            cpu_user_s: 0.1,
            cpu_sys_s: 0.05,
            cpu_per_output_token_us: 65.1,
            cpu_utilization: 0.01,
            cores: 2,
            client_bound: false,
            reasons: vec![],
        },
        requests: vec![],
        warnings: vec![],
        workload: WorkloadStats::default(),
    }
}

#[test]
fn text_block_is_upstream_byte_for_byte() {
    let mut out = Vec::new();
    write_text(&synthetic(), &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with(EXPECTED), "got:\n{text}");
    // Our own section follows the closing banner, in the same row format, and closes again.
    let rest = &text[EXPECTED.len()..];
    assert!(
        rest.starts_with("----------------- Client health ------------------\n"),
        "{rest}"
    );
    assert!(
        rest.contains("Client bound:                            no        \n"),
        "{rest}"
    );
    assert!(rest.ends_with(&format!("{}\n", "=".repeat(50))));
    for line in rest.lines() {
        for label in [
            "TTFT",
            "TPOT",
            "ITL",
            "E2EL",
            "Failed requests:",
            "throughput (",
        ] {
            assert!(
                !line.contains(label),
                "health line `{line}` would confuse upstream parsers"
            );
        }
    }
}

fn upstream_block_regex(metrics: &[&str]) -> Regex {
    // reference/upstream.md 6.2, built the way utils/config_loader.py writes them.
    let mut pat = String::new();
    for m in metrics {
        pat.push_str(&format!(
            r"^.*?{}\ \(ms\):\s+([0-9.]+).*?$\n (?:.*\n)*? ",
            m.replace(' ', r"\ ")
        ));
    }
    pat.push_str(r"^.*?Benchmark\ with\ concurrency\ (\d+)\ done");
    Regex::new(&format!("(?mx){pat}")).unwrap()
}

#[test]
fn upstream_regexes_read_a_real_run() {
    let _serial = super::serial();
    let srv = TestServer::start();
    let rows: Vec<_> = (0..12)
        .map(|i| (format!("req-{i};ttft=3;itl=1"), 6))
        .collect();
    let f = dataset(&rows);
    let mut cfg = config(&srv, &f, 12);
    cfg.max_concurrency = Some(4);
    cfg.percentiles = vec![99.0];
    let report = run(&cfg);
    let mut log = b"Benchmarking with concurrency 4 ... 12 prompts\n".to_vec();
    write_text(&report, &mut log).unwrap();
    log.extend_from_slice(b"Benchmark with concurrency 4 done\n");
    let log = String::from_utf8(log).unwrap();
    let m = &report.metrics;
    let f2 = |v: f64| format!("{v:.2}");

    // Disagg default: median TTFT, median E2EL, concurrency.
    let caps = upstream_block_regex(&["Median TTFT", "Median E2EL"])
        .captures(&log)
        .expect("disagg regex");
    assert_eq!(&caps[1], f2(m.ttft_ms.median));
    assert_eq!(&caps[2], f2(m.e2el_ms.median));
    assert_eq!(&caps[3], "4");

    // Wide-EP default: 12 metrics then concurrency.
    let names: Vec<String> = ["TTFT", "TPOT", "ITL", "E2EL"]
        .iter()
        .flat_map(|k| ["Mean", "Median", "P99"].map(|s| format!("{s} {k}")))
        .collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let caps = upstream_block_regex(&refs)
        .captures(&log)
        .expect("wideep regex");
    let mut i = 1;
    for metric in Metric::ALL {
        let s = m.summary(metric);
        for v in [s.mean, s.median, s.percentiles[0].1] {
            assert_eq!(&caps[i], f2(v), "group {i}");
            i += 1;
        }
    }
    assert_eq!(&caps[13], "4");

    // Perf-sanity line regexes (6.3), first hit wins.
    let mut checks = vec![
        (r"Request throughput \(req\/s\):", m.request_throughput),
        (r"Output token throughput \(tok\/s\):", m.output_throughput),
        (
            r"Total Token throughput \(tok\/s\):",
            m.total_token_throughput,
        ),
        (r"User throughput \(tok\/s\):", m.user_throughput),
    ];
    let labels = ["TTFT", "TPOT", "ITL", "E2EL"];
    let pats: Vec<(String, f64)> = Metric::ALL
        .iter()
        .zip(labels)
        .flat_map(|(&metric, l)| {
            let s = m.summary(metric).clone();
            [
                (format!(r"Mean {l} \(ms\):"), s.mean),
                (format!(r"Median {l} \(ms\):"), s.median),
                (format!(r"P99 {l} \(ms\):"), s.percentiles[0].1),
            ]
        })
        .collect();
    checks.extend(pats.iter().map(|(p, v)| (p.as_str(), *v)));
    assert_eq!(checks.len(), 16);
    for (pat, want) in checks {
        let re = Regex::new(&format!(r"{pat}\s+(-?[\d\.]+)")).unwrap();
        let got = log
            .lines()
            .find_map(|l| re.captures(l).map(|c| c[1].to_owned()))
            .expect(pat);
        assert_eq!(got, f2(want), "{pat}");
    }
    // Perf-sanity rejection rules see a clean run.
    let failed = Regex::new(r"Failed requests:\s+(\d+)").unwrap();
    assert_eq!(&failed.captures(&log).unwrap()[1], "0");
    assert!(!log.contains("!FAILED REQUESTS!"));
    let _ = Duration::ZERO;
}
