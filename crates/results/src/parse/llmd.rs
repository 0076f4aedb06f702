//! llm-d's benchmark report (YAML, `metrics.latency.<metric>.{mean,p50,p99p9,stddev,units}`).
//!
//! Read with a small indentation reader (block mappings of scalars only, which is all the
//! report uses), so no YAML dependency. Percentile keys spell the point as `p`: `p0p1` is P0.1,
//! `p99p9` P99.9. `time_per_output_token` is TPOT, `inter_token_latency` ITL, `request_latency`
//! E2EL.

use std::collections::BTreeMap;

use super::{Format, Parsed};
use crate::metrics;

/// `a.b.c` -> scalar text, for every scalar of the document.
fn flatten(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack: Vec<(usize, String)> = Vec::new();
    for raw in text.lines() {
        let line = raw.trim_end();
        let body = line.trim_start();
        if body.is_empty() || body.starts_with('#') || body.starts_with('-') {
            continue;
        }
        let indent = line.len() - body.len();
        let Some((key, value)) = body.split_once(':') else {
            continue;
        };
        if key.contains(' ') && !key.starts_with('"') {
            continue;
        }
        while stack.last().is_some_and(|(i, _)| *i >= indent) {
            stack.pop();
        }
        let key = key.trim().trim_matches(['"', '\'']).to_string();
        let value = value.trim();
        let path = stack
            .iter()
            .map(|(_, k)| k.as_str())
            .chain(std::iter::once(key.as_str()))
            .collect::<Vec<_>>()
            .join(".");
        if value.is_empty() {
            stack.push((indent, key));
        } else {
            out.insert(path, value.trim_matches(['"', '\'']).to_string());
        }
    }
    out
}

fn stat(key: &str) -> Option<String> {
    match key {
        "mean" => Some("mean".into()),
        "stddev" | "std" => Some("std".into()),
        "median" => Some("median".into()),
        _ => metrics::percentile_stat(&key.strip_prefix('p')?.replace('p', ".")),
    }
}

/// The report in `text`, if it is one.
pub fn parse_llmd_report(text: &str) -> Vec<Parsed> {
    let flat = flatten(text);
    let mut p = Parsed::new(Format::LlmdReport);
    let get = |k: &str| flat.get(k).and_then(|v| v.parse::<f64>().ok());
    for (src, dst) in [
        ("time_to_first_token", "ttft"),
        ("time_per_output_token", "tpot"),
        ("inter_token_latency", "itl"),
        ("request_latency", "e2el"),
    ] {
        let prefix = format!("metrics.latency.{src}.");
        let unit = flat
            .get(&format!("{prefix}units"))
            .map(String::as_str)
            .unwrap_or("ms");
        let scale = if unit.starts_with("ms") {
            1.0
        } else if unit.starts_with('s') {
            1000.0
        } else {
            continue;
        };
        for (k, v) in flat.range(prefix.clone()..) {
            let Some(s) = k.strip_prefix(&prefix) else {
                break;
            };
            let (Some(st), Ok(x)) = (stat(s), v.parse::<f64>()) else {
                continue;
            };
            if st == "p50" {
                p.set(&format!("median_{dst}_ms"), x * scale);
            }
            p.set(&format!("{st}_{dst}_ms"), x * scale);
        }
    }
    for (src, dst) in [
        (
            "metrics.throughput.output_tokens_per_sec",
            metrics::OUTPUT_TOKEN_THROUGHPUT,
        ),
        (
            "metrics.throughput.requests_per_sec",
            metrics::REQUEST_THROUGHPUT,
        ),
        (
            "metrics.throughput.total_tokens_per_sec",
            metrics::TOTAL_TOKEN_THROUGHPUT,
        ),
        ("metrics.time.duration", metrics::DURATION_S),
        ("metrics.requests.failures", metrics::FAILED),
    ] {
        if let Some(x) = get(src) {
            p.set(dst, x);
        }
    }
    if let Some(total) = get("metrics.requests.total") {
        p.set_extra("total_requests", total);
        if let Some(f) = get("metrics.requests.failures") {
            p.set(metrics::COMPLETED, total - f);
        }
    }
    for (src, dst) in [
        (
            "metrics.requests.input_length.mean",
            "mean_input_sequence_length",
        ),
        (
            "metrics.requests.output_length.mean",
            "mean_output_sequence_length",
        ),
    ] {
        if let Some(x) = get(src) {
            p.set_extra(dst, x);
        }
    }
    let as_u64 = |x: f64| (x >= 0.0 && x.fract() == 0.0 && x < 9.0e15).then_some(x as u64);
    p.concurrency = get("scenario.load.args.max_concurrency").and_then(as_u64);
    p.num_prompts = get("scenario.load.args.num_prompts").and_then(as_u64);
    if p.metrics.is_empty() {
        Vec::new()
    } else {
        vec![p]
    }
}
