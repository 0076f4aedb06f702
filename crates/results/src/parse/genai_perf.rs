//! The console tables of GenAI-Perf (`NVIDIA GenAI-Perf | LLM Metrics`, header `Statistic`) and
//! AIPerf (`NVIDIA AIPerf | LLM Metrics`, header `Metric`): one row per metric, one column per
//! statistic (`avg`, `min`, `max`, `p99`, `p90`, `p75`/`p50`, `std`), read through
//! [`read_tables`] (wrapped metric names, thousands separators, `N/A`/`-` cells).
//!
//! Cross-walk (SPEC 11.2): "Inter Token Latency" is vLLM's TPOT (per request, excluding the first
//! token); "Inter Chunk Latency" is vLLM's ITL; "Request Latency" is E2EL; "Time to First
//! Token" is TTFT. `avg` is the mean; `p50`, when present, also the median. A latency given in
//! seconds (`(sec)`) is converted to milliseconds. "Request Count" is `completed`, "Error Request
//! Count" `failed`. AIPerf's `Benchmark Duration: N sec` line after the table is `duration_s`.
//!
//! The GPU telemetry tables printed after an LLM table (see [`super::telemetry`]) are merged into
//! that result; telemetry with no LLM table before it is a result of its own
//! ([`Format::GpuTelemetry`]).

use super::tables::{Table, parse_number, read_tables};
use super::telemetry::{self, GpuTelemetry};
use super::{Format, Parsed};
use crate::metrics;

/// Every GenAI-Perf or AIPerf LLM table in `text` (one [`Parsed`] per table with a mapped row),
/// with the GPU telemetry printed after it.
pub fn parse_genai_perf_table(text: &str) -> Vec<Parsed> {
    let lines: Vec<&str> = text.lines().collect();
    // Per result: its GPUs, and whether a telemetry table was cut short.
    let mut out: Vec<(Parsed, Vec<GpuTelemetry>, bool)> = Vec::new();
    let mut orphan: (Vec<GpuTelemetry>, bool) = (Vec::new(), false);
    for t in read_tables(text) {
        if let Some(gpus) = telemetry::from_table(&t) {
            let (g, cut) = match out.last_mut() {
                Some((_, g, cut)) => (g, cut),
                None => (&mut orphan.0, &mut orphan.1),
            };
            telemetry::merge(g, gpus);
            *cut |= !t.closed;
            continue;
        }
        let Some(format) = llm_table_format(&t) else {
            continue;
        };
        let mut p = map_table(format, &t);
        if p.metrics.is_empty() {
            continue;
        }
        if !t.closed {
            p.complete = false;
            p.notes.push("table not closed: cut short".into());
        }
        if format == Format::AiperfTable
            && let Some(d) = duration_after(lines.get(t.end_line..).unwrap_or(&[]))
        {
            p.set(metrics::DURATION_S, d);
        }
        out.push((p, Vec::new(), false));
    }
    let with_telemetry = |mut p: Parsed, gpus: &[GpuTelemetry], cut: bool| {
        telemetry::apply(gpus, &mut p);
        if cut {
            telemetry::drop_energy(&mut p);
        }
        p
    };
    let mut results: Vec<Parsed> = out
        .into_iter()
        .map(|(p, gpus, cut)| with_telemetry(p, &gpus, cut))
        .collect();
    if !orphan.0.is_empty() {
        let p = with_telemetry(Parsed::new(Format::GpuTelemetry), &orphan.0, orphan.1);
        if !p.is_empty() {
            results.push(p);
        }
    }
    results
}

/// GenAI-Perf or AIPerf, from the header's first cell and the title above the table.
fn llm_table_format(t: &Table) -> Option<Format> {
    let first = t.header.first()?.to_lowercase();
    let said = |tool: &str| t.captions.iter().any(|c| c.contains(tool));
    match first.as_str() {
        _ if said("AIPerf") => Some(Format::AiperfTable),
        _ if said("GenAI-Perf") => Some(Format::GenaiPerfTable),
        "statistic" => Some(Format::GenaiPerfTable),
        "metric" => Some(Format::AiperfTable),
        _ => None,
    }
}

/// `Benchmark Duration: 15.81 sec` within the few lines after an AIPerf table.
fn duration_after(lines: &[&str]) -> Option<f64> {
    lines.iter().take(12).find_map(|l| {
        let rest = l.trim().strip_prefix("Benchmark Duration:")?.trim();
        let (num, unit) = rest.split_once(' ').unwrap_or((rest, "sec"));
        let v = parse_number(num)?;
        Some(v * seconds_per(unit.trim())?)
    })
}

fn seconds_per(unit: &str) -> Option<f64> {
    match unit {
        "s" | "sec" | "secs" | "seconds" => Some(1.0),
        "ms" => Some(1e-3),
        "min" | "minutes" => Some(60.0),
        _ => None,
    }
}

/// The unit in a label's last parentheses: `Request Latency (ms)` -> `ms`.
fn label_unit(label: &str) -> Option<&str> {
    let open = label.rfind('(')?;
    let rest = label.get(open + 1..)?;
    Some(rest.split(')').next()?.trim())
}

fn map_table(format: Format, t: &Table) -> Parsed {
    let mut p = Parsed::new(format);
    let header: Vec<String> = t.header.iter().skip(1).map(|h| h.to_lowercase()).collect();
    for row in &t.rows {
        let Some((label, values)) = row.split_first() else {
            continue;
        };
        let l = label
            .to_lowercase()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let latency = if l.starts_with("time to first token") {
            Some("ttft")
        } else if l.starts_with("inter token latency") {
            Some("tpot")
        } else if l.starts_with("inter chunk latency") {
            Some("itl")
        } else if l.starts_with("request latency") {
            Some("e2el")
        } else {
            None
        };
        let scale = match label_unit(&l) {
            Some("sec" | "s") => 1000.0,
            Some("us") => 1e-3,
            _ => 1.0,
        };
        for (col, cell) in header.iter().zip(values) {
            let Some(v) = parse_number(cell) else {
                continue;
            };
            if let Some(m) = latency {
                let v = v * scale;
                match col.as_str() {
                    "avg" => p.set(&format!("mean_{m}_ms"), v),
                    "min" | "max" => p.set_extra(&format!("{col}_{m}_ms"), v),
                    "std" => p.set(&format!("std_{m}_ms"), v),
                    "p50" => {
                        p.set(&format!("median_{m}_ms"), v);
                        p.set(&format!("p50_{m}_ms"), v);
                    }
                    c => {
                        if let Some(s) = c.strip_prefix('p').and_then(metrics::percentile_stat) {
                            p.set(&format!("{s}_{m}_ms"), v);
                        }
                    }
                }
                continue;
            }
            if col != "avg" {
                continue;
            }
            if l.starts_with("output token throughput per user") {
                p.set_extra("mean_output_token_throughput_per_user", v);
            } else if l.starts_with("output token throughput") {
                p.set(metrics::OUTPUT_TOKEN_THROUGHPUT, v);
            } else if l.starts_with("request throughput") {
                p.set(metrics::REQUEST_THROUGHPUT, v);
            } else if l.starts_with("request goodput") || l.starts_with("goodput") {
                p.set(metrics::GOODPUT, v);
            } else if l.starts_with("request count") {
                p.set(metrics::COMPLETED, v);
            } else if l.starts_with("error request count") {
                p.set(metrics::FAILED, v);
            } else if l.starts_with("output sequence length") {
                p.set_extra("mean_output_sequence_length", v);
            } else if l.starts_with("input sequence length") {
                p.set_extra("mean_input_sequence_length", v);
            } else if l.starts_with("time to second token") {
                p.set_extra("mean_time_to_second_token_ms", v * scale);
            }
        }
    }
    p
}
