//! Garbage in: every parser of this crate, fed real inputs mutated at the byte level (cut,
//! insert, duplicate, flip, truncate; see `mutate`), arbitrary Unicode, and inputs built to be
//! slow, never panics and stays roughly linear. Complements `props` (insertions only) with
//! per-parser seeds. Case count: PROPTEST_CASES (256 by default; CI sets it), which
//! `scripts/fuzz.sh` raises for long runs.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use servebench_launch::MetricExtractor;
use servebench_results::gates::{compile_pattern, extract};
use servebench_results::parse::{
    map_result_object, parse_accuracy_any, parse_any, parse_genai_perf_table, parse_guidellm_json,
    parse_guidellm_tables, parse_llmd_report, parse_lm_eval_json, parse_lm_eval_table,
    parse_log_results, parse_result_text, parse_text_blocks, read_tables, rejection,
    split_bench_log,
};

use crate::bundle::{builtin_json, text_block};
use crate::fixtures::{fixture_files, logs_dir};
use crate::mutate::{apply_text, ops};

fn read(p: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned()
}

/// The fixture logs of one tool (a directory under `shared/fixtures/logs`).
fn tool_logs(tools: &[&str]) -> Vec<String> {
    fixture_files()
        .iter()
        .filter(|p| {
            p.strip_prefix(logs_dir())
                .ok()
                .and_then(|r| r.components().next())
                .is_some_and(|c| tools.iter().any(|t| c.as_os_str() == *t))
        })
        .map(|p| read(p))
        .collect()
}

fn bundle_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/builtin_sim_bundle"
    ))
}

/// Benchmark client text logs: `benchmark_serving`-style blocks and the built-in client's.
fn text_seeds() -> Vec<String> {
    let mut v = tool_logs(&[
        "vllm_bench_serve",
        "vllm_benchmark_serving",
        "trtllm_benchmark_serving",
        "sglang_bench_serving",
        "sa_bench",
        "inferencex_custom",
    ]);
    v.push(read(&bundle_dir().join("logs/6_bench.log")));
    v.push(text_block(8, 32, 2, true));
    v
}

/// Result JSON files: the built-in client's, SGLang JSON lines, AIPerf exports, GuideLLM.
fn json_seeds() -> Vec<String> {
    let mut v = tool_logs(&["aiperf", "sglang_bench_serving"]);
    for c in [8, 32] {
        v.push(read(
            &bundle_dir().join(format!("logs/concurrency_{c}/result.json")),
        ));
    }
    v.push(builtin_json(8, 32, 1, true));
    v.extend(
        crate::formats::input_files()
            .iter()
            .filter(|p| p.to_string_lossy().contains("json"))
            .map(|p| read(p)),
    );
    v
}

/// Console tables: GenAI-Perf, AIPerf, GuideLLM, llm-d.
fn table_seeds() -> Vec<String> {
    let mut v = tool_logs(&["genai_perf", "guidellm", "llmd_benchmark_report"]);
    v.extend(crate::formats::input_files().iter().map(|p| read(p)));
    v
}

/// lm-evaluation-harness tables and results JSON.
fn lm_eval_seeds() -> Vec<String> {
    tool_logs(&["lm_eval", "lm_eval_json"])
}

/// Every parser over one text; the results are checked for shape, not content.
fn all_parsers(s: &str) {
    for p in parse_any(s) {
        assert!(p.metrics.values().all(|v| !v.is_nan()), "NaN read: {p:?}");
    }
    let _ = parse_result_text(s);
    let _ = parse_log_results(s);
    let _ = parse_guidellm_json(s);
    let _ = rejection(s);
    for seg in split_bench_log(s) {
        let _ = parse_log_results(seg.text);
    }
    let _ = read_tables(s);
    for r in parse_accuracy_any(s) {
        assert!(r.value.is_finite(), "{r:?}");
    }
}

fn pick(seeds: &[String], i: usize) -> &str {
    &seeds[i % seeds.len()]
}

/// A log holding `line` once, and a runtime budget for the parsers over it: generous for a
/// debug build on a shared 2-core machine, far below what quadratic work on it would take.
fn within(budget: Duration, what: &str, text: &str, f: impl Fn(&str)) {
    let t = Instant::now();
    f(text);
    let took = t.elapsed();
    assert!(
        took < budget,
        "{what}: {} bytes took {took:?} (budget {budget:?})",
        text.len()
    );
}

proptest! {
    #[test]
    fn mutated_text_logs_never_panic(i in 0usize..64, ops in ops()) {
        let seeds = text_seeds();
        let s = apply_text(pick(&seeds, i), &ops);
        all_parsers(&s);
        for b in parse_text_blocks(&s) {
            prop_assert!(b.metrics.values().all(|v| v.is_finite()), "{b:?}");
        }
    }

    #[test]
    fn mutated_result_json_never_panics(i in 0usize..64, ops in ops()) {
        let seeds = json_seeds();
        let s = apply_text(pick(&seeds, i), &ops);
        all_parsers(&s);
        if let Ok(serde_json::Value::Object(o)) = serde_json::from_str::<serde_json::Value>(&s) {
            let _ = map_result_object(&o);
        }
    }

    #[test]
    fn mutated_tables_never_panic(i in 0usize..64, ops in ops()) {
        let seeds = table_seeds();
        let s = apply_text(pick(&seeds, i), &ops);
        let _ = parse_genai_perf_table(&s);
        let _ = parse_guidellm_tables(&s);
        let _ = parse_llmd_report(&s);
        all_parsers(&s);
    }

    #[test]
    fn mutated_lm_eval_never_panics(i in 0usize..64, ops in ops()) {
        let seeds = lm_eval_seeds();
        let s = apply_text(pick(&seeds, i), &ops);
        for r in parse_lm_eval_table(&s).into_iter().chain(parse_lm_eval_json(&s)) {
            prop_assert!(r.value.is_finite(), "{r:?}");
            prop_assert!(r.stderr.is_none_or(f64::is_finite), "{r:?}");
        }
        all_parsers(&s);
    }

    /// lm_eval table rows built from arbitrary cells (pipes, signs, arrows, empty cells).
    #[test]
    fn lm_eval_row_soup_never_panics(
        rows in prop::collection::vec(
            prop::collection::vec("[ a-z0-9_.\\-±↑↓⏎|]{0,10}", 0..12),
            0..10,
        ),
    ) {
        let mut s = String::from("|Tasks|Version|Filter|n-shot|Metric| |Value| |Stderr|\n|-----|------:|------|-----:|------|---|----:|---|-----:|\n");
        for r in &rows {
            s.push('|');
            s.push_str(&r.join("|"));
            s.push_str("|\n");
        }
        let _ = parse_lm_eval_table(&s);
        let _ = parse_lm_eval_table(&s.replace('\n', "⏎"));
    }

    #[test]
    fn arbitrary_unicode_never_panics(s in "\\PC{0,800}") {
        all_parsers(&s);
    }

    /// Custom metric extractors: real-looking patterns, mutated, over mutated logs. A pattern
    /// either compiles or is an error; extracting never panics and reads finite numbers only.
    #[test]
    fn custom_extractors_never_panic(
        p in 0usize..8,
        pattern_ops in ops(),
        i in 0usize..64,
        log_ops in ops(),
    ) {
        let patterns = [
            r"^Median\ TTFT\ \(ms\):\s+([0-9.]+)$",
            r"^Median\ TTFT\ \(ms\):\s+(?<=:\s{3})([0-9.]+)$\n ^Benchmark\ with\ concurrency\ (\d+)\ done",
            r"Request\ throughput\ \(req/s\):\s+([\d.]+)",
            r"(?P<v>[0-9.]+)\s*(?P=v)",
            r"P99\ (\w+)\ \(ms\):\s+([0-9.eE+-]+)",
            r"(a|aa)+$",
            r"(\d+)*x",
            r"^(?!Mean).*?:\s+(\d+)(?=\s*$)",
        ];
        let pattern = apply_text(patterns[p % patterns.len()], &pattern_ops);
        let seeds = text_seeds();
        let log = apply_text(pick(&seeds, i), &log_ops);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("6_bench.log"), log.as_bytes()).unwrap();
        let ex = MetricExtractor {
            log_file: "*.log".into(),
            pattern: pattern.clone(),
            names: vec!["A".into(), "B".into()],
        };
        match (compile_pattern(&pattern), extract(dir.path(), &ex)) {
            (Ok(_), Ok(found)) => {
                for v in found.values().flat_map(|m| m.values()) {
                    prop_assert!(v.is_finite());
                }
            }
            (Err(_), Err(_)) => {}
            (c, e) => prop_assert!(false, "compile {:?} vs extract {:?}", c.is_ok(), e.is_ok()),
        }
    }
}

/// Long lines, deep nesting and many lines: the parsers stay roughly linear. Each input takes
/// 0.1-2 s in a debug build on a shared 2-core machine; quadratic work on it would take minutes
/// (`{` + 20 000 `[` + 20 000 `,` took 50 s before the JSON scanner was fixed).
#[test]
fn huge_inputs_stay_linear() {
    let budget = Duration::from_secs(15);
    let cases = [
        ("one 1 MB line", "x".repeat(1 << 20)),
        (
            "a 512 KB number",
            format!("Mean TTFT (ms): {}\n", "9".repeat(1 << 19)),
        ),
        ("512 KB of open brackets", "{\"a\":[".repeat(1 << 16)),
        (
            "deep brackets then commas",
            format!("{{{}{}", "[".repeat(20_000), ",".repeat(20_000)),
        ),
        (
            "unclosed strings",
            "{\"completed\": 1, \"x\": \"".repeat(10_000),
        ),
        ("512 KB of pipes", "|".repeat(1 << 19)),
        ("20 000 pipe rows", "| a | b |\n".repeat(20_000)),
        (
            "10 000 metric lines",
            format!(
                "============ Serving Benchmark Result ============\n{}",
                "Mean TTFT (ms):                          12.5\n".repeat(10_000)
            ),
        ),
        (
            "5 000 lm_eval rows",
            format!(
                "|Tasks|Version|Filter|n-shot|Metric| |Value| |Stderr|\n{}",
                "|gsm8k|3|strict-match|5|exact_match|↑|0.9|±|0.01|\n".repeat(5_000)
            ),
        ),
        ("500 result blocks", text_block(8, 32, 2, true).repeat(500)),
    ];
    for (what, text) in &cases {
        within(budget, what, text, all_parsers);
    }
}
