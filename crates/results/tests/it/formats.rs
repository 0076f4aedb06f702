//! AIPerf console, GPU telemetry and GuideLLM outputs (`tests/inputs`, see its README): one
//! golden per input, and the numbers that matter asserted outright.

use std::path::PathBuf;

use servebench_results::energy;
use servebench_results::parse::{
    Format, Parsed, parse_any, parse_guidellm_json, parse_log_results, parse_result_text, rejection,
};

use crate::fixtures::{logs_dir, render_text};

fn inputs_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/inputs"))
}

fn input(rel: &str) -> String {
    std::fs::read_to_string(inputs_dir().join(rel)).unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

/// Every input file, sorted.
pub fn input_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for tool in ["aiperf", "genai_perf", "guidellm"] {
        for e in std::fs::read_dir(inputs_dir().join(tool)).unwrap() {
            files.push(e.unwrap().path());
        }
    }
    files.sort();
    files
}

#[test]
fn input_goldens() {
    let files = input_files();
    assert_eq!(files.len(), 6);
    for f in files {
        let tool = f.parent().unwrap().file_name().unwrap().to_string_lossy();
        let name = format!("{tool}__{}", f.file_stem().unwrap().to_string_lossy());
        let text = std::fs::read_to_string(&f).unwrap();
        insta::with_settings!({
            snapshot_path => "snapshots/inputs",
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_snapshot!(name, render_text(&text));
        });
    }
}

#[test]
fn aiperf_console_table_with_gpu_telemetry() {
    let text = input("aiperf/console_llm_metrics_gpu_telemetry_2gpu.txt");
    let all = parse_any(&text);
    assert_eq!(all.len(), 1, "the telemetry joins the LLM table: {all:?}");
    let p = &all[0];
    assert_eq!(p.format, Format::AiperfTable);
    assert!(p.complete);
    // Wrapped labels and thousands separators.
    assert_eq!(p.metrics["mean_ttft_ms"], 35.21);
    assert_eq!(p.metrics["median_ttft_ms"], 31.77);
    assert_eq!(p.metrics["mean_e2el_ms"], 3412.66);
    assert_eq!(p.metrics["p99_e2el_ms"], 4088.70);
    // AIPerf's ITL is our TPOT (SPEC 11.2).
    assert_eq!(p.metrics["mean_tpot_ms"], 13.21);
    assert!(!p.metrics.contains_key("mean_itl_ms"));
    assert_eq!(p.metrics["output_token_throughput"], 1198.40);
    assert_eq!(p.metrics["completed"], 320.0);
    assert_eq!(p.metrics["duration_s"], 68.41);
    assert_eq!(p.extra["mean_input_sequence_length"], 1024.0);
    // Energy: the counter's max - min per GPU, MJ -> J, summed.
    assert!(close(p.extra["gpu0_energy_j"], 40_000.0));
    assert!(close(p.extra["gpu1_energy_j"], 30_000.0));
    assert!(close(p.metrics[energy::ENERGY_J], 70_000.0));
    assert_eq!(p.extra["gpu_count"], 2.0);
    assert!(close(p.extra["gpu_power_w"], 512.40 + 498.75));
    assert_eq!(p.extra["gpu0_memory_used_gb_avg"], 73.12);
    // J/token from the energy and throughput x duration.
    let tokens = 1198.40 * 68.41;
    assert!(close(
        p.metrics[energy::JOULES_PER_OUTPUT_TOKEN],
        70_000.0 / tokens
    ));
    assert!(close(
        p.metrics[energy::OUTPUT_TOKENS_PER_JOULE],
        tokens / 70_000.0
    ));
    // The same from the log stretch a bench step leaves.
    assert_eq!(parse_log_results(&text), all);
}

#[test]
fn genai_perf_nested_telemetry() {
    let text = input("genai_perf/verbose_llm_and_gpu_telemetry_2gpu.txt");
    let all = parse_any(&text);
    assert_eq!(all.len(), 1);
    let p = &all[0];
    assert_eq!(p.format, Format::GenaiPerfTable);
    assert_eq!(p.metrics["mean_e2el_ms"], 2571.33);
    assert_eq!(p.extra["gpu0_power_limit_w_avg"], 700.0);
    assert_eq!(p.extra["gpu1_utilization_pct_avg"], 75.0);
    assert_eq!(p.extra["gpu_memory_used_gb"], 71.30 + 71.28);
    assert!(close(p.metrics[energy::ENERGY_J], 120_000.0));
    // No duration or token total: J/token is mean power over the token rate.
    let w = 402.18 + 398.02;
    assert!(close(
        p.metrics[energy::JOULES_PER_OUTPUT_TOKEN],
        w / 794.61
    ));
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains("mean GPU power / output token throughput"))
    );
}

#[test]
fn telemetry_alone_is_a_result_of_its_own() {
    let text = input("genai_perf/verbose_llm_and_gpu_telemetry_2gpu.txt");
    let start = text.find("NVIDIA GenAI-Perf | Power Metrics").unwrap();
    let all = parse_any(&text[start..]);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].format, Format::GpuTelemetry);
    assert!(close(all[0].metrics[energy::ENERGY_J], 120_000.0));
    assert!(!all[0].metrics.contains_key(energy::JOULES_PER_OUTPUT_TOKEN));
}

#[test]
fn aiperf_json_telemetry() {
    let text = input("aiperf/profile_export_aiperf_with_telemetry.txt");
    let p = parse_result_text(&text).unwrap();
    assert_eq!(p.format, Format::AiperfJson);
    let e = (14.2452 - 14.2102 + 13.0542 - 13.0201) * 1e6;
    assert!(close(p.metrics[energy::ENERGY_J], e), "{:?}", p.metrics);
    assert!(close(
        p.metrics[energy::JOULES_PER_OUTPUT_TOKEN],
        e / 81_920.0
    ));
    assert_eq!(p.extra["gpu1_power_w_avg"], 498.75);
}

fn by_concurrency(all: &[Parsed], c: u64) -> &Parsed {
    all.iter().find(|p| p.concurrency == Some(c)).unwrap()
}

#[test]
fn guidellm_console_report() {
    let text = input("guidellm/console_report_two_benchmarks.txt");
    let all = parse_any(&text);
    assert_eq!(all.len(), 2);
    assert!(
        all.iter()
            .all(|p| p.format == Format::GuidellmTable && p.complete)
    );
    let sync = by_concurrency(&all, 1);
    assert_eq!(sync.metrics["median_e2el_ms"], 4900.0);
    assert_eq!(sync.metrics["p95_ttft_ms"], 55.0);
    // GuideLLM's ITL is our TPOT; its TPOT (first token included) is an extra.
    assert_eq!(sync.metrics["median_tpot_ms"], 19.1);
    assert_eq!(sync.extra["guidellm_tpot_median_ms"], 19.3);
    assert_eq!(sync.metrics["total_output_tokens"], 3072.0);
    assert_eq!(sync.metrics["duration_s"], 60.0);
    let conc = &all[1];
    assert_eq!(
        conc.concurrency, None,
        "the console does not print the streams"
    );
    assert_eq!(conc.metrics["request_throughput"], 5.5);
    assert_eq!(conc.metrics["output_token_throughput"], 1126.4);
    assert_eq!(conc.metrics["total_token_throughput"], 5632.0);
    assert_eq!(conc.extra["achieved_concurrency"], 31.4);
    assert_eq!(conc.extra["input_token_throughput"], 4505.6);
}

#[test]
fn guidellm_json_report() {
    let text = input("guidellm/benchmarks_json_two_benchmarks.txt");
    let all = parse_guidellm_json(&text);
    assert_eq!(all.len(), 2);
    let sync = by_concurrency(&all, 1);
    assert_eq!(sync.format, Format::GuidellmJson);
    assert_eq!(sync.metrics["mean_e2el_ms"], 4930.0);
    assert_eq!(sync.metrics["p0.1_ttft_ms"], 38.0);
    assert_eq!(sync.metrics["p99.9_tpot_ms"], 20.1);
    assert_eq!(sync.metrics["completed"], 12.0);
    let conc = by_concurrency(&all, 8);
    assert_eq!(conc.metrics["failed"], 1.0);
    assert_eq!(conc.extra["incomplete_requests"], 8.0);
    assert_eq!(conc.metrics["total_output_tokens"], 23808.0);
    // As a result file: the last benchmark of the sweep.
    assert_eq!(&parse_result_text(&text).unwrap(), conc);
    // Cut short: the benchmarks before the cut, the last marked incomplete.
    let cut = &text[..text
        .find("\"inter_token_latency_ms\": {\"successful\": {\"mean\": 19.7")
        .unwrap()];
    let part = parse_guidellm_json(cut);
    assert_eq!(part.len(), 2);
    assert!(part[0].complete && !part[1].complete);
    assert_eq!(part[1].metrics["mean_ttft_ms"], 96.4);
    assert!(!part[1].metrics.contains_key("mean_tpot_ms"));
}

#[test]
fn the_guidellm_metadata_fixture_is_rejected_with_a_reason() {
    let text =
        std::fs::read_to_string(logs_dir().join("guidellm/docs_benchmarks_metadata_section.txt"))
            .unwrap();
    assert!(parse_any(&text).is_empty());
    let why = rejection(&text).unwrap();
    assert!(why.contains("Request Latency Statistics"), "{why}");
    assert!(why.contains("benchmarks.json"), "{why}");
    // A text that parses is never rejected; unknown text has no reason.
    assert_eq!(
        rejection(&input("guidellm/console_report_two_benchmarks.txt")),
        None
    );
    assert_eq!(rejection("hello"), None);
}

#[test]
fn a_cut_aiperf_table_is_incomplete_and_keeps_what_it_read() {
    let text = input("aiperf/console_llm_metrics_gpu_telemetry_2gpu.txt");
    let cut = &text[..text.find("│         Output Token │ 1,198.40").unwrap()];
    let all = parse_any(cut);
    assert_eq!(all.len(), 1);
    assert!(!all[0].complete);
    assert_eq!(all[0].metrics["mean_tpot_ms"], 13.21);
    assert!(!all[0].metrics.contains_key("output_token_throughput"));
}

#[test]
fn collect_reads_energy_from_an_aiperf_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = crate::bundle::spec(&[(16, 320)]);
    spec.client = servebench_launch::Client::Aiperf;
    let run = spec.benchmark.first_mut().unwrap();
    run.result_file = "logs/concurrency_16/profile_export_aiperf.json".into();
    crate::bundle::write(
        dir.path(),
        &run.result_file,
        &input("aiperf/profile_export_aiperf_with_telemetry.txt"),
    );
    let case = servebench_results::collect(dir.path(), &crate::bundle::with_gpus(&spec, 2, 2));
    let point = case.points.first().unwrap();
    assert_eq!(point.format, "aiperf-json");
    let e = (14.2452 - 14.2102 + 13.0542 - 13.0201) * 1e6;
    assert!(close(point.metrics[energy::ENERGY_J], e));
    assert!(close(
        point.metrics[energy::JOULES_PER_OUTPUT_TOKEN],
        e / 81_920.0
    ));
    assert!(servebench_results::metrics::is_canonical(
        energy::JOULES_PER_OUTPUT_TOKEN
    ));
    assert_eq!(point.extra["gpu_count"], 2.0);
}

#[test]
fn benchmark_serving_energy_section_is_canonical() {
    let block = "\
============ Serving Benchmark Result ============
Successful requests:                     16        
Benchmark duration (s):                  2.00      
Total generated tokens:                  2048      
Output token throughput (tok/s):         1024.00   
----------------- Energy Metrics -----------------
Total Energy (J):                        1500.0000 
Output Tokens per Second per Watt (tps/W): 1.3653    
Total GPU Power (W):                     750.0000  
==================================================
";
    let all = servebench_results::parse::parse_text_blocks(block);
    let p = all.first().unwrap();
    assert_eq!(p.metrics[energy::ENERGY_J], 1500.0);
    // The tool's own tokens/s per W wins over the derived tokens/J.
    assert_eq!(p.metrics[energy::OUTPUT_TOKENS_PER_JOULE], 1.3653);
    assert_eq!(p.extra["gpu_power_w"], 750.0);
    let mut m = p.metrics.clone();
    servebench_results::metrics::derive(&mut m, servebench_results::GpuCounts::default());
    assert!(close(m[energy::JOULES_PER_OUTPUT_TOKEN], 1500.0 / 2048.0));
    assert_eq!(m[energy::OUTPUT_TOKENS_PER_JOULE], 1.3653);
}

#[test]
fn cut_telemetry_gives_no_energy_sum() {
    let text = input("aiperf/console_llm_metrics_gpu_telemetry_2gpu.txt");
    let cut = &text[..text.find("│      GPU Utilization (%) │    79.95").unwrap()];
    let p = parse_any(cut).pop().unwrap();
    assert!(!p.complete);
    assert!(!p.metrics.contains_key(energy::ENERGY_J));
    assert!(p.extra.contains_key("gpu1_energy_j"), "what was read stays");
    let json = input("aiperf/profile_export_aiperf_with_telemetry.txt");
    let cut = &json[..json.find("\"gpu_1\"").unwrap()];
    let p = parse_result_text(cut).unwrap();
    assert!(!p.complete);
    assert!(!p.metrics.contains_key(energy::ENERGY_J));
    assert_eq!(p.metrics["completed"], 320.0);
}

#[test]
fn guidellm_0_3_console_report() {
    let text = input("guidellm/console_v0_3_benchmarks_info_and_stats.txt");
    let all = parse_any(&text);
    assert_eq!(all.len(), 2, "{all:?}");
    let one = by_concurrency(&all, 1);
    assert_eq!(one.format, Format::GuidellmTable);
    assert!(one.complete);
    assert_eq!(one.metrics["completed"], 12.0);
    assert_eq!(one.metrics["failed"], 0.0);
    assert_eq!(one.extra["incomplete_requests"], 1.0);
    assert_eq!(one.metrics["total_output_tokens"], 3072.0);
    assert_eq!(one.metrics["duration_s"], 60.0);
    assert_eq!(one.metrics["request_throughput"], 0.2);
    assert_eq!(one.metrics["mean_e2el_ms"], 4930.0);
    assert_eq!(one.metrics["p99_ttft_ms"], 58.1);
    assert_eq!(one.metrics["median_tpot_ms"], 19.1);
    assert_eq!(one.extra["guidellm_tpot_p99_ms"], 20.2);
    let eight = by_concurrency(&all, 8);
    assert_eq!(eight.metrics["failed"], 1.0);
    assert_eq!(eight.metrics["output_token_throughput"], 396.8);
    assert_eq!(eight.metrics["total_token_throughput"], 1984.0);
    assert_eq!(eight.extra["achieved_concurrency"], 7.9);
}
