//! A bundle the real pipeline wrote (`servebench run` on the simulator with the built-in
//! client): collect judges it, and the text block in the bench log agrees with the result JSON
//! to the two decimals the text prints.

use std::path::PathBuf;

use servebench_launch::LaunchSpec;
use servebench_results::parse::{parse_result_text, parse_text_blocks, split_bench_log};
use servebench_results::{Verdict, collect};

fn dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/builtin_sim_bundle"
    ))
}

fn spec() -> LaunchSpec {
    LaunchSpec::from_json(&std::fs::read_to_string(dir().join("launch.json")).unwrap()).unwrap()
}

#[test]
fn collect_real_bundle() {
    let r = collect(&dir(), &spec());
    assert_eq!(r.verdict, Verdict::Invalid);
    assert_eq!(
        r.reason.as_deref(),
        Some("c=8: the client was the bottleneck: p99 schedule lateness 7.509 ms above 4.480 ms")
    );
    assert_eq!(r.points.len(), 2);
    for p in &r.points {
        assert!(p.complete);
        assert_eq!(p.format, "result-json");
        assert!(p.client_health_reported);
    }
    let failing: Vec<_> = r
        .checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(failing, ["client_not_bound"]);
    assert!(
        r.checks
            .iter()
            .any(|c| c.name == "output_tokens_expected" && c.passed)
    );
    let d = r.duration_s.unwrap();
    assert!((d - 14.2003).abs() < 1e-3, "{d}");
}

#[test]
fn text_block_agrees_with_result_json() {
    let spec = spec();
    let log = std::fs::read_to_string(dir().join("logs/6_bench.log")).unwrap();
    let segs = split_bench_log(&log);
    assert_eq!(segs.len(), 2);
    for (run, seg) in spec.benchmark.iter().zip(&segs) {
        assert_eq!(seg.concurrency, Some(run.concurrency));
        let blocks = parse_text_blocks(seg.text);
        assert_eq!(blocks.len(), 1);
        let text = &blocks[0];
        assert!(text.complete, "{:?}", text.notes);
        assert_eq!(text.concurrency, Some(run.concurrency));
        let json =
            parse_result_text(&std::fs::read_to_string(dir().join(&run.result_file)).unwrap())
                .unwrap();
        assert_eq!(json.concurrency, Some(run.concurrency));
        assert_eq!(text.client_health, json.client_health);
        let mut compared = 0;
        for (k, t) in &text.metrics {
            let j = json
                .metrics
                .get(k)
                .unwrap_or_else(|| panic!("{k} missing in JSON"));
            assert!((t - j).abs() <= 0.005 + 1e-9, "{k}: text {t}, json {j}");
            compared += 1;
        }
        assert_eq!(compared, 25, "c={}", run.concurrency);
    }
}
