//! Result files: vLLM-family JSON (vLLM, TensorRT-LLM, the built-in client), SGLang JSON lines,
//! AIPerf aggregate JSON and per-request records.

use serde_json::{Map, Value};

use super::json::{Found, objects};
use super::{ClientHealth, Format, ParseError, Parsed, guidellm, telemetry};
use crate::metrics::{self, latency_parts};

/// Reads a result file. A file with several objects (JSON lines appended run after run) gives
/// the last one with metrics; AIPerf per-request records are aggregated.
pub fn parse_result_text(text: &str) -> Result<Parsed, ParseError> {
    let found = objects(text);
    if found.is_empty() {
        return Err(ParseError::NoJson);
    }
    let n = found.len();
    if let Some(last) = found
        .iter()
        .rev()
        .filter(|f| guidellm::is_report(&f.value))
        .find_map(|f| guidellm::map_report(f).pop())
    {
        // A GuideLLM report holds every benchmark of a sweep; a result file is one point.
        return Ok(last);
    }
    let records: Vec<&Found> = found
        .iter()
        .filter(|f| is_aiperf_record(&f.value))
        .collect();
    if !records.is_empty() {
        return Ok(aggregate_aiperf_records(&records));
    }
    found
        .iter()
        .rev()
        .filter_map(map_found)
        .next()
        .ok_or(ParseError::NoMetrics { objects: n })
}

/// Every object with metrics, each on its own (records are aggregated into one).
pub(crate) fn parse_all_objects(text: &str) -> Vec<Parsed> {
    let found = objects(text);
    let records: Vec<&Found> = found
        .iter()
        .filter(|f| is_aiperf_record(&f.value))
        .collect();
    let mut out: Vec<Parsed> = Vec::new();
    for f in found.iter().filter(|f| !is_aiperf_record(&f.value)) {
        if guidellm::is_report(&f.value) {
            out.extend(guidellm::map_report(f));
        } else {
            out.extend(map_found(f));
        }
    }
    if !records.is_empty() {
        out.push(aggregate_aiperf_records(&records));
    }
    out
}

/// Keys every benchmark client's result object starts with, before any metric.
const RESULT_KEYS: [&str; 6] = [
    "backend",
    "max_concurrency",
    "num_prompts",
    "dataset_name",
    "request_rate",
    "model_id",
];

fn map_found(f: &Found) -> Option<Parsed> {
    let mapped = map_result_object(&f.value);
    // A result object cut before its first metric is still a (partial) result: reporting it
    // keeps an older whole object from standing in for it.
    let looks_like_result = RESULT_KEYS
        .iter()
        .filter(|k| f.value.contains_key(**k))
        .count()
        >= 2;
    let mut p = match mapped {
        Some(p) => p,
        None if !f.complete && looks_like_result => {
            let mut p = map_vllm_family(&f.value);
            p.notes.push("no metric before the cut".into());
            p
        }
        None => return None,
    };
    if !f.complete {
        p.complete = false;
        p.notes
            .push("JSON cut short: members after the cut are missing".into());
        if f.value.contains_key("telemetry_data") {
            telemetry::drop_energy(&mut p);
        }
    }
    Some(p)
}

/// Maps one result object onto canonical names; `None` when it has no benchmark metric.
pub fn map_result_object(o: &Map<String, Value>) -> Option<Parsed> {
    let o = match o.get("records").and_then(Value::as_object) {
        Some(inner) if is_aiperf_aggregate(inner) => inner,
        _ => o,
    };
    let p = if is_aiperf_aggregate(o) {
        map_aiperf(o)
    } else {
        map_vllm_family(o)
    };
    (!p.metrics.is_empty()).then_some(p)
}

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

fn uint(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| *f >= 0.0 && f.fract() == 0.0 && *f < 9.0e15)
                .map(|f| f as u64)
        }),
        _ => None,
    }
}

/// vLLM/TensorRT-LLM/built-in `--save-result` keys, and SGLang's.
fn map_vllm_family(o: &Map<String, Value>) -> Parsed {
    let sglang = o.contains_key("mean_e2e_latency_ms")
        || o.get("backend")
            .and_then(Value::as_str)
            .is_some_and(|b| b.starts_with("sglang"));
    let mut p = Parsed::new(if sglang {
        Format::SglangJson
    } else {
        Format::ResultJson
    });
    for (k, v) in o {
        let Some(x) = num(v) else {
            if k == "avg_decoded_tokens_per_iter"
                && let Some(m) = v.get("mean").and_then(num)
            {
                p.set(metrics::MEAN_DECODED_TOKENS_PER_ITER, m);
            }
            continue;
        };
        match k.as_str() {
            "completed" => p.set(metrics::COMPLETED, x),
            "failed" => p.set(metrics::FAILED, x),
            "duration" => p.set(metrics::DURATION_S, x),
            "total_input_tokens" => p.set(metrics::TOTAL_INPUT_TOKENS, x),
            "total_output_tokens" => p.set(metrics::TOTAL_OUTPUT_TOKENS, x),
            "request_throughput" => p.set(metrics::REQUEST_THROUGHPUT, x),
            "request_goodput" | "request_goodput:" => p.set(metrics::GOODPUT, x),
            "output_throughput" => p.set(metrics::OUTPUT_TOKEN_THROUGHPUT, x),
            "total_token_throughput" | "total_throughput" => {
                p.set(metrics::TOTAL_TOKEN_THROUGHPUT, x);
            }
            "user_throughput" => p.set(metrics::USER_THROUGHPUT, x),
            "avg_decoded_tokens_per_iter" | "accept_length" | "spec_accept_length" => {
                p.set(metrics::MEAN_DECODED_TOKENS_PER_ITER, x);
            }
            "input_throughput" => p.set_extra("input_token_throughput", x),
            "max_output_tokens_per_s" => p.set_extra("peak_output_token_throughput", x),
            "max_concurrent_requests" => p.set_extra("peak_concurrent_requests", x),
            "concurrency" => p.set_extra("achieved_concurrency", x),
            "total_output_tokens_retokenized" => p.set_extra("total_output_tokens_retokenized", x),
            "max_concurrency" => p.concurrency = uint(v),
            "num_prompts" => p.num_prompts = uint(v),
            _ => {
                // SGLang spells E2EL `e2e_latency`.
                let key = k.replace("_e2e_latency_ms", "_e2el_ms");
                if latency_parts(&key).is_some() {
                    p.set(&key, x);
                } else if let Some(rest) = key
                    .strip_prefix("min_")
                    .or_else(|| key.strip_prefix("max_"))
                    && latency_parts(&format!("mean_{rest}")).is_some()
                {
                    p.set_extra(&key, x);
                }
            }
        }
    }
    if !p.metrics.contains_key(metrics::FAILED) {
        // vLLM before `failed` was added: failed requests leave a non-empty `errors` entry.
        if let Some(errs) = o.get("errors").and_then(Value::as_array) {
            let n = errs
                .iter()
                .filter(|e| e.as_str().is_some_and(|s| !s.is_empty()))
                .count();
            p.set(metrics::FAILED, n as f64);
            p.notes.push("failed counted from `errors`".into());
        }
    }
    if let Some(sb) = o.get("servebench").and_then(Value::as_object) {
        map_builtin(sb, &mut p);
    }
    p
}

/// The built-in client's own object (`servebench`): expected tokens and client health.
fn map_builtin(sb: &Map<String, Value>, p: &mut Parsed) {
    p.expected_output_tokens = sb.get("expected_output_tokens").and_then(uint);
    if let Some(n) = sb.get("output_len_mismatches").and_then(num) {
        p.set_extra("output_len_mismatches", n);
    }
    let Some(h) = sb.get("client_health").and_then(Value::as_object) else {
        return;
    };
    for (src, dst) in [
        ("ramp_up_ms", "client_ramp_up_ms"),
        ("lateness_p50_ms", "client_lateness_p50_ms"),
        ("lateness_p99_ms", "client_lateness_p99_ms"),
        ("lateness_max_ms", "client_lateness_max_ms"),
        ("configured_concurrency", "client_configured_concurrency"),
        (
            "achieved_concurrency_mean",
            "client_achieved_concurrency_mean",
        ),
        (
            "achieved_concurrency_peak",
            "client_achieved_concurrency_peak",
        ),
        ("cpu_per_output_token_us", "client_cpu_per_output_token_us"),
        ("cores", "client_cores"),
    ] {
        if let Some(x) = h.get(src).and_then(num) {
            p.set_extra(dst, x);
        }
    }
    if let (Some(u), Some(s)) = (
        h.get("cpu_user_s").and_then(num),
        h.get("cpu_sys_s").and_then(num),
    ) {
        p.set_extra("client_cpu_s", u + s);
    }
    if let Some(u) = h.get("cpu_utilization").and_then(num) {
        p.set_extra("client_cpu_utilization_pct", u * 100.0);
    }
    if let Some(bound) = h.get("client_bound").and_then(Value::as_bool) {
        let reasons = h
            .get("client_bound_reasons")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        p.client_health = Some(ClientHealth { bound, reasons });
    }
}

/// AIPerf metric objects: `{"unit": "ms", "avg": .., "p50": .., ...}`.
fn is_aiperf_aggregate(o: &Map<String, Value>) -> bool {
    [
        "request_throughput",
        "time_to_first_token",
        "request_latency",
        "inter_token_latency",
        "request_count",
    ]
    .iter()
    .any(|k| {
        o.get(*k)
            .and_then(Value::as_object)
            .is_some_and(|m| m.contains_key("avg") || m.contains_key("unit"))
    })
}

/// Milliseconds per one unit of `unit` (latencies), `None` for a non-time unit.
fn ms_per(unit: Option<&str>) -> f64 {
    match unit.map(str::trim) {
        Some("s" | "sec" | "secs" | "seconds") => 1000.0,
        Some("us" | "µs") => 1e-3,
        Some("ns") => 1e-6,
        _ => 1.0,
    }
}

fn map_aiperf(o: &Map<String, Value>) -> Parsed {
    let mut p = Parsed::new(Format::AiperfJson);
    // Cross-walk (SPEC 11.2): AIPerf's inter_token_latency is vLLM's TPOT; its
    // inter_chunk_latency is vLLM's ITL; request_latency is E2EL.
    for (src, dst) in [
        ("time_to_first_token", "ttft"),
        ("inter_token_latency", "tpot"),
        ("inter_chunk_latency", "itl"),
        ("request_latency", "e2el"),
    ] {
        let Some(m) = o.get(src).and_then(Value::as_object) else {
            continue;
        };
        let scale = ms_per(m.get("unit").and_then(Value::as_str));
        for (stat, v) in m {
            let Some(x) = num(v) else { continue };
            let x = x * scale;
            match stat.as_str() {
                "avg" => p.set(&format!("mean_{dst}_ms"), x),
                "std" => p.set(&format!("std_{dst}_ms"), x),
                "min" | "max" => p.set_extra(&format!("{stat}_{dst}_ms"), x),
                "p50" => {
                    p.set(&format!("median_{dst}_ms"), x);
                    p.set(&format!("p50_{dst}_ms"), x);
                }
                s => {
                    if let Some(pc) = s.strip_prefix('p').and_then(metrics::percentile_stat) {
                        p.set(&format!("{pc}_{dst}_ms"), x);
                    }
                }
            }
        }
    }
    let avg = |k: &str| o.get(k).and_then(|m| m.get("avg")).and_then(num);
    if let Some(x) = avg("request_throughput") {
        p.set(metrics::REQUEST_THROUGHPUT, x);
    }
    if let Some(x) = avg("output_token_throughput") {
        p.set(metrics::OUTPUT_TOKEN_THROUGHPUT, x);
    }
    if let Some(x) = avg("goodput").or_else(|| avg("request_goodput")) {
        p.set(metrics::GOODPUT, x);
    }
    if let Some(x) = avg("request_count") {
        p.set(metrics::COMPLETED, x);
    }
    if let Some(x) = avg("error_request_count") {
        p.set(metrics::FAILED, x);
    }
    if let Some(x) = avg("benchmark_duration") {
        let scale = ms_per(
            o.get("benchmark_duration")
                .and_then(|m| m.get("unit"))
                .and_then(Value::as_str),
        ) / 1000.0;
        p.set(metrics::DURATION_S, x * scale);
    }
    for (src, dst) in [
        ("total_output_tokens", metrics::TOTAL_OUTPUT_TOKENS),
        ("total_osl", metrics::TOTAL_OUTPUT_TOKENS),
        ("total_input_tokens", metrics::TOTAL_INPUT_TOKENS),
        ("total_isl", metrics::TOTAL_INPUT_TOKENS),
    ] {
        if let Some(x) = avg(src) {
            p.set(dst, x);
        }
    }
    for (src, dst) in [
        (
            "output_token_throughput_per_user",
            "mean_output_token_throughput_per_user",
        ),
        ("output_sequence_length", "mean_output_sequence_length"),
        ("input_sequence_length", "mean_input_sequence_length"),
        ("time_to_second_token", "mean_time_to_second_token_ms"),
    ] {
        if let Some(x) = avg(src) {
            p.set_extra(dst, x);
        }
    }
    if let Some(t) = o.get("telemetry_data").and_then(Value::as_object) {
        telemetry::apply(&telemetry::from_aiperf_json(t), &mut p);
    }
    p
}

/// One line of AIPerf's `profile_export.jsonl`: `{"metadata": .., "metrics": .., "error": ..}`.
fn is_aiperf_record(o: &Map<String, Value>) -> bool {
    o.get("metadata").is_some_and(Value::is_object)
        && o.get("metrics").is_some_and(Value::is_object)
}

/// numpy's default (linear) percentile of sorted values.
pub(crate) fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let rank = p / 100.0 * last as f64;
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    let a = *sorted.get(lo)?;
    let b = *sorted.get(hi)?;
    Some(a + (b - a) * (rank - lo as f64))
}

fn summarise(p: &mut Parsed, name: &str, mut v: Vec<f64>) {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    p.set(&format!("mean_{name}_ms"), mean);
    p.set(&format!("std_{name}_ms"), var.sqrt());
    for (stat, q) in [("median", 50.0), ("p90", 90.0), ("p99", 99.0)] {
        if let Some(x) = percentile(&v, q) {
            p.set(&format!("{stat}_{name}_ms"), x);
        }
    }
}

/// Aggregates per-request records: counts, token totals, and latency summaries.
fn aggregate_aiperf_records(records: &[&Found]) -> Parsed {
    let mut p = Parsed::new(Format::AiperfRecords);
    let (mut ok, mut failed) = (0u64, 0u64);
    let (mut isl, mut osl) = (0.0, 0.0);
    let (mut ttft, mut tpot, mut e2el) = (Vec::new(), Vec::new(), Vec::new());
    for r in records {
        if !r.complete {
            // A record cut short counts for nothing (its values may be missing).
            p.complete = false;
            continue;
        }
        let is_error = r.value.get("error").is_some_and(|e| !e.is_null());
        if is_error {
            failed += 1;
            continue;
        }
        ok += 1;
        let Some(m) = r.value.get("metrics").and_then(Value::as_object) else {
            continue;
        };
        let val = |k: &str| -> Option<f64> {
            let e = m.get(k)?;
            let x = e.get("value").and_then(num)?;
            Some(x * ms_per(e.get("unit").and_then(Value::as_str)))
        };
        isl += val("input_sequence_length").unwrap_or(0.0);
        osl += val("output_sequence_length").unwrap_or(0.0);
        ttft.extend(val("time_to_first_token"));
        tpot.extend(val("inter_token_latency"));
        e2el.extend(val("request_latency"));
    }
    p.set(metrics::COMPLETED, ok as f64);
    p.set(metrics::FAILED, failed as f64);
    p.set(metrics::TOTAL_INPUT_TOKENS, isl);
    p.set(metrics::TOTAL_OUTPUT_TOKENS, osl);
    summarise(&mut p, "ttft", ttft);
    summarise(&mut p, "tpot", tpot);
    summarise(&mut p, "e2el", e2el);
    if !p.complete {
        p.notes.push("a record was cut short".into());
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_result_json() {
        let t = r#"{"date": "20260101-000000", "backend": "openai", "num_prompts": 16,
            "request_rate": "inf", "max_concurrency": 4, "duration": 2.5, "completed": 16,
            "failed": 0, "total_input_tokens": 1600, "total_output_tokens": 320,
            "request_throughput": 6.4, "request_goodput": null, "request_goodput:": null,
            "output_throughput": 128.0, "total_token_throughput": 768.0, "user_throughput": 40.0,
            "mean_ttft_ms": 10.0, "median_ttft_ms": 9.0, "std_ttft_ms": 1.0, "p99_ttft_ms": 12.0,
            "p99.9_ttft_ms": 12.5, "mean_tpot_ms": 5.0, "median_tpot_ms": 5.0, "std_tpot_ms": 0.1,
            "p99_tpot_ms": 5.5, "ttfts": [0.01], "errors": [""],
            "servebench": {"schema_version": 1, "expected_output_tokens": 320,
              "output_len_mismatches": 0, "min_ms": {"ttft": 8.0}, "max_ms": {"ttft": 13.0},
              "client_health": {"ramp_up_ms": 2.5, "lateness_p50_ms": 0.01, "lateness_p99_ms": 0.2,
                "lateness_max_ms": 0.3, "configured_concurrency": 4,
                "achieved_concurrency_mean": 3.9, "achieved_concurrency_peak": 4,
                "cpu_user_s": 0.1, "cpu_sys_s": 0.05, "cpu_per_output_token_us": 3.0,
                "cpu_utilization": 0.02, "cores": 4, "client_bound": true,
                "client_bound_reasons": ["schedule lateness p99 0.2 ms"]}}}"#;
        let p = parse_result_text(t).unwrap();
        assert_eq!(p.format, Format::ResultJson);
        assert!(p.complete);
        assert_eq!(p.concurrency, Some(4));
        assert_eq!(p.num_prompts, Some(16));
        assert_eq!(p.expected_output_tokens, Some(320));
        assert_eq!(p.metrics["completed"], 16.0);
        assert_eq!(p.metrics["failed"], 0.0);
        assert_eq!(p.metrics["duration_s"], 2.5);
        assert_eq!(p.metrics["output_token_throughput"], 128.0);
        assert_eq!(p.metrics["p99.9_ttft_ms"], 12.5);
        assert!(!p.metrics.contains_key("goodput"));
        assert_eq!(
            p.client_health,
            Some(ClientHealth {
                bound: true,
                reasons: vec!["schedule lateness p99 0.2 ms".into()]
            })
        );
        assert_eq!(p.extra["client_cpu_s"], 0.15000000000000002);
        assert_eq!(p.extra["client_ramp_up_ms"], 2.5);
    }

    #[test]
    fn failed_from_errors_array() {
        let p = parse_result_text(r#"{"completed": 2, "errors": ["", "boom", "x"]}"#).unwrap();
        assert_eq!(p.metrics["failed"], 2.0);
    }

    #[test]
    fn a_cut_last_run_is_not_replaced_by_an_older_whole_one() {
        let t = "{\"backend\": \"sglang\", \"max_concurrency\": 16, \"completed\": 3}\n{\"backend\": \"sglang\", \"request_rate\": Infinity, \"max_concurrency\": 32, \"dura";
        let p = parse_result_text(t).unwrap();
        assert_eq!(p.concurrency, Some(32));
        assert!(!p.complete);
        assert!(p.metrics.is_empty());
    }

    #[test]
    fn not_a_result() {
        assert_eq!(parse_result_text("hello"), Err(ParseError::NoJson));
        assert_eq!(
            parse_result_text(r#"{"a": 1}"#),
            Err(ParseError::NoMetrics { objects: 1 })
        );
    }

    #[test]
    fn numpy_percentile() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&v, 50.0), Some(2.5));
        assert_eq!(percentile(&v, 100.0), Some(4.0));
        assert_eq!(percentile(&v, 0.0), Some(1.0));
        assert_eq!(percentile(&[], 50.0), None);
    }
}
