//! GuideLLM: its console report tables and its JSON report (`benchmarks.json`).
//!
//! Console (GuideLLM 0.4 and later): pipe tables read through [`read_tables`], one row per
//! benchmark (a strategy run: `synchronous`, `concurrent`, `constant`, ...), several tables per
//! report: `Run Summary Info` (durations, token totals), `Request Latency Statistics`
//! (median and p95 of request latency in seconds, TTFT, ITL, TPOT in ms) and `Server
//! Throughput Statistics` (request rate, concurrency, token rates). Row `i` of every table is
//! benchmark `i`; a `Run Summary Info` table starts a new report. GuideLLM 0.3's `Benchmarks
//! Info` (request counts, token totals, duration) and `Benchmarks Stats` (request rate and
//! concurrency, token rates, mean/median/p99 of latency, TTFT, ITL, TPOT), drawn without outer
//! pipes, are read the same way.
//!
//! JSON: `{"benchmarks": [{"metrics": {"request_latency": {"successful": {"mean", "median",
//! "std_dev", "percentiles": {"p001", ..., "p999"}, "total_sum"}}, ...}}]}`, one result per
//! benchmark. Percentile keys `p001`, `p01`, `p05`, `p999` are the 0.1st, 1st, 5th and 99.9th.
//!
//! Cross-walk (SPEC 11.2): GuideLLM's ITL is `(latency - TTFT) / (output tokens - 1)` per
//! request, which is vLLM's TPOT, so it maps onto `*_tpot_ms`. GuideLLM's TPOT is latency /
//! output tokens *including the first*, which no canonical name means; it is kept as
//! `guidellm_tpot_{stat}_ms` extras. Request latency (seconds) is E2EL in ms. Successful
//! requests are `completed`, errored ones `failed` (incomplete ones, cancelled at the end of a
//! benchmark, are the extra `incomplete_requests`). Concurrency is the strategy's: 1 for
//! `synchronous`, `streams` for `concurrent` (JSON, and 0.3's `concurrent@N` label; 0.4's
//! console does not print it).

use serde_json::{Map, Value};

use super::json::Found;
use super::tables::{Table, parse_number, read_tables};
use super::{Format, Parsed};
use crate::metrics;

/// Every benchmark of every GuideLLM console report in `text`.
pub fn parse_guidellm_tables(text: &str) -> Vec<Parsed> {
    let mut out: Vec<Parsed> = Vec::new();
    let mut report: Vec<Parsed> = Vec::new();
    for t in read_tables(text) {
        let title = t.title().to_lowercase();
        // The first table of a report: `Run Summary Info` (0.4+), `Benchmarks Info` (0.3).
        let first = title.contains("run summary info") || title.contains("benchmarks info");
        let known = first
            || title.contains("request latency statistics")
            || title.contains("server throughput statistics")
            || title.contains("benchmarks stats");
        if !known {
            continue;
        }
        if first {
            out.append(&mut report);
        }
        for (i, row) in t.rows.iter().enumerate() {
            if report.len() <= i {
                report.push(Parsed::new(Format::GuidellmTable));
            }
            let Some(p) = report.get_mut(i) else { continue };
            map_row(&t, row, p);
        }
    }
    out.append(&mut report);
    out.retain(|p| !p.metrics.is_empty());
    out
}

/// `Mdn` -> `median`, `Mean` -> `mean`, `p95` -> `p95`.
fn stat_name(word: &str) -> Option<String> {
    match word {
        "mdn" | "median" => Some("median".into()),
        "mean" => Some("mean".into()),
        w => metrics::percentile_stat(w.strip_prefix('p')?),
    }
}

/// The concurrency a strategy label names: `synchronous` 1, `concurrent@8` 8 (0.3).
fn strategy_concurrency(label: &str) -> Option<u64> {
    let l = label.trim().to_lowercase();
    if l == "synchronous" {
        return Some(1);
    }
    l.strip_prefix("concurrent@")?.parse().ok()
}

fn map_row(t: &Table, row: &[String], p: &mut Parsed) {
    if !t.closed {
        p.complete = false;
        if !p.notes.iter().any(|n| n.starts_with("table not closed")) {
            p.notes.push("table not closed: cut short".into());
        }
    }
    if let Some(c) = row.first().and_then(|s| strategy_concurrency(s)) {
        p.concurrency = Some(c);
    }
    for (h, cell) in t.header.iter().zip(row).skip(1) {
        let Some(v) = parse_number(cell) else {
            continue;
        };
        let h = h.to_lowercase();
        let (group, last) = h.rsplit_once(' ').unwrap_or(("", h.as_str()));
        match (group, last) {
            // 0.4+ `Run Summary Info`, 0.3 `Benchmarks Info`.
            ("timings dur", "sec") | ("metadata duration", "(s)") => {
                p.set(metrics::DURATION_S, v);
            }
            ("input tokens comp", "tot") | ("prompt tok total", "comp") => {
                p.set(metrics::TOTAL_INPUT_TOKENS, v);
            }
            ("output tokens comp", "tot") | ("output tok total", "comp") => {
                p.set(metrics::TOTAL_OUTPUT_TOKENS, v);
            }
            ("requests made", "comp") => p.set(metrics::COMPLETED, v),
            ("requests made", "err") => p.set(metrics::FAILED, v),
            ("requests made", "inc") => p.set_extra("incomplete_requests", v),
            // Throughput: 0.4+ `Server Throughput Statistics`, 0.3 `Benchmarks Stats`.
            ("requests per sec", "mean") | ("request stats per", "second") => {
                p.set(metrics::REQUEST_THROUGHPUT, v);
            }
            ("requests per sec", "mdn") => p.set_extra("median_request_throughput", v),
            ("requests concurrency", "mean") | ("request stats", "concurrency") => {
                p.set_extra("achieved_concurrency", v);
            }
            ("requests concurrency", "mdn") => p.set_extra("median_concurrency", v),
            ("input tokens per sec", "mean") => p.set_extra("input_token_throughput", v),
            ("output tokens per sec", "mean") | ("out tok/sec", "mean") => {
                p.set(metrics::OUTPUT_TOKEN_THROUGHPUT, v);
            }
            ("total tokens per sec", "mean") | ("tot tok/sec", "mean") => {
                p.set(metrics::TOTAL_TOKEN_THROUGHPUT, v);
            }
            // Latency: 0.4+ `Request Latency Statistics` (Mdn, p95), 0.3 (mean, median, p99).
            _ => {
                let Some(stat) = stat_name(last) else {
                    continue;
                };
                match group {
                    "request latency sec" | "req latency (sec)" => {
                        p.set(&format!("{stat}_e2el_ms"), v * 1000.0);
                    }
                    "ttft ms" | "ttft (ms)" => p.set(&format!("{stat}_ttft_ms"), v),
                    "itl ms" | "itl (ms)" => p.set(&format!("{stat}_tpot_ms"), v),
                    "tpot ms" | "tpot (ms)" => {
                        p.set_extra(&format!("guidellm_tpot_{stat}_ms"), v);
                    }
                    _ => {}
                }
            }
        }
    }
}

/// Whether `o` is a GuideLLM report: a `benchmarks` array of objects with `metrics`.
pub(crate) fn is_report(o: &Map<String, Value>) -> bool {
    o.get("benchmarks")
        .and_then(Value::as_array)
        .and_then(|b| b.first())
        .and_then(|b| b.get("metrics"))
        .and_then(Value::as_object)
        .is_some_and(|m| {
            m.contains_key("time_to_first_token_ms") || m.contains_key("requests_per_second")
        })
}

/// One result per benchmark of a GuideLLM report; a report cut short marks the last benchmark
/// read incomplete.
pub(crate) fn map_report(f: &Found) -> Vec<Parsed> {
    let mut out: Vec<Parsed> = f
        .value
        .get("benchmarks")
        .and_then(Value::as_array)
        .map(|b| {
            b.iter()
                .filter_map(Value::as_object)
                .map(map_benchmark)
                .collect()
        })
        .unwrap_or_default();
    out.retain(|p| !p.metrics.is_empty());
    if !f.complete
        && let Some(last) = out.last_mut()
    {
        // The cut may have taken later benchmarks whole: the last one read is not known to be
        // the sweep's last.
        last.complete = false;
        last.notes
            .push("JSON cut short: members and benchmarks after the cut are missing".into());
    }
    out
}

/// `p001` -> `p0.1`, `p01` -> `p1`, `p999` -> `p99.9`, `p50` -> `p50`.
fn guidellm_percentile(key: &str) -> Option<String> {
    let digits = key.strip_prefix('p')?;
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let v: f64 = digits.parse().ok()?;
    let v = if digits.len() == 3 { v / 10.0 } else { v };
    metrics::percentile_stat(&v.to_string())
}

fn num(v: &Value) -> Option<f64> {
    v.as_f64()
}

/// A distribution's `successful` summary (GuideLLM's `StatusDistributionSummary`).
fn successful<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a Map<String, Value>> {
    m.get(key)?.get("successful")?.as_object()
}

fn map_benchmark(b: &Map<String, Value>) -> Parsed {
    let mut p = Parsed::new(Format::GuidellmJson);
    let empty = Map::new();
    let m = b
        .get("metrics")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    for (src, dst, scale) in [
        ("request_latency", "e2el", 1000.0),
        ("time_to_first_token_ms", "ttft", 1.0),
        ("inter_token_latency_ms", "tpot", 1.0),
    ] {
        let Some(d) = successful(m, src) else {
            continue;
        };
        for (stat, key) in [("mean", "mean"), ("median", "median"), ("std", "std_dev")] {
            if let Some(v) = d.get(key).and_then(num) {
                p.set(&format!("{stat}_{dst}_ms"), v * scale);
            }
        }
        for (k, v) in d
            .get("percentiles")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if let (Some(stat), Some(v)) = (guidellm_percentile(k), num(v)) {
                p.set(&format!("{stat}_{dst}_ms"), v * scale);
            }
        }
    }
    if let Some(d) = successful(m, "time_per_output_token_ms") {
        for key in ["mean", "median"] {
            if let Some(v) = d.get(key).and_then(num) {
                p.set_extra(&format!("guidellm_tpot_{key}_ms"), v);
            }
        }
        if let Some(v) = d
            .get("percentiles")
            .and_then(|q| q.get("p99"))
            .and_then(num)
        {
            p.set_extra("guidellm_tpot_p99_ms", v);
        }
    }
    let mean = |key: &str| successful(m, key).and_then(|d| d.get("mean")).and_then(num);
    let total = |key: &str| {
        successful(m, key)
            .and_then(|d| d.get("total_sum"))
            .and_then(num)
    };
    if let Some(v) = mean("requests_per_second") {
        p.set(metrics::REQUEST_THROUGHPUT, v);
    }
    if let Some(v) = mean("output_tokens_per_second") {
        p.set(metrics::OUTPUT_TOKEN_THROUGHPUT, v);
    }
    if let Some(v) = mean("tokens_per_second") {
        p.set(metrics::TOTAL_TOKEN_THROUGHPUT, v);
    }
    if let Some(v) = mean("request_concurrency") {
        p.set_extra("achieved_concurrency", v);
    }
    if let Some(v) = total("prompt_token_count") {
        p.set(metrics::TOTAL_INPUT_TOKENS, v);
    }
    if let Some(v) = total("output_token_count") {
        p.set(metrics::TOTAL_OUTPUT_TOKENS, v);
    }
    let totals = b
        .get("request_totals")
        .or_else(|| m.get("request_totals"))
        .and_then(Value::as_object);
    if let Some(t) = totals {
        if let Some(v) = t.get("successful").and_then(num) {
            p.set(metrics::COMPLETED, v);
        }
        if let Some(v) = t.get("errored").and_then(num) {
            p.set(metrics::FAILED, v);
        }
        if let Some(v) = t.get("incomplete").and_then(num) {
            p.set_extra("incomplete_requests", v);
        }
    }
    let duration = b.get("duration").and_then(num).or_else(|| {
        let times = b.get("run_stats").unwrap_or(&Value::Null);
        let start = b.get("start_time").or_else(|| times.get("start_time"));
        let end = b.get("end_time").or_else(|| times.get("end_time"));
        Some(end.and_then(num)? - start.and_then(num)?)
    });
    if let Some(d) = duration.filter(|d| *d > 0.0) {
        p.set(metrics::DURATION_S, d);
    }
    let strategy = ["config", "scheduler", "args"]
        .iter()
        .find_map(|k| b.get(*k)?.get("strategy")?.as_object());
    if let Some(s) = strategy {
        let kind = s.get("type_").and_then(Value::as_str).unwrap_or("");
        let streams = s.get("streams").and_then(Value::as_u64);
        p.concurrency = match kind {
            "synchronous" => Some(1),
            "concurrent" => streams,
            _ => s.get("max_concurrency").and_then(Value::as_u64),
        };
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_keys() {
        assert_eq!(guidellm_percentile("p001").as_deref(), Some("p0.1"));
        assert_eq!(guidellm_percentile("p01").as_deref(), Some("p1"));
        assert_eq!(guidellm_percentile("p05").as_deref(), Some("p5"));
        assert_eq!(guidellm_percentile("p50").as_deref(), Some("p50"));
        assert_eq!(guidellm_percentile("p999").as_deref(), Some("p99.9"));
        assert_eq!(guidellm_percentile("pxx"), None);
        assert_eq!(stat_name("mdn").as_deref(), Some("median"));
        assert_eq!(stat_name("p95").as_deref(), Some("p95"));
        assert_eq!(stat_name("sec"), None);
    }
}
