//! GenAI-Perf's console table (`NVIDIA GenAI-Perf | LLM Metrics`): box-drawn rows of
//! `Statistic | avg | min | max | p99 | p90 | p75`.
//!
//! Cross-walk (SPEC 11.2): GenAI-Perf's "Inter Token Latency" is vLLM's TPOT (per request,
//! excluding the first token); "Request Latency" is E2EL. `avg` is the mean; `p50`, when
//! present, the median. Numbers may carry thousands separators (`1,020.58`); `N/A` is skipped.
//! A label wrapped onto a second row (with empty cells) is joined to the row above.

use super::{Format, Parsed};
use crate::metrics;

fn cells(line: &str) -> Option<Vec<String>> {
    if !line.contains(['│', '┃']) {
        return None;
    }
    let parts: Vec<String> = line
        .split(['│', '┃'])
        .map(|c| c.trim().to_string())
        .collect();
    // Drop the empty edges outside the first and last separator.
    let inner = parts.get(1..parts.len().saturating_sub(1))?;
    (!inner.is_empty()).then(|| inner.to_vec())
}

fn number(cell: &str) -> Option<f64> {
    let c = cell.replace(',', "");
    if c.is_empty()
        || !c
            .chars()
            .all(|ch| ch.is_ascii_digit() || ch == '.' || ch == '-')
    {
        return None;
    }
    c.parse().ok()
}

/// Every GenAI-Perf table in `text` (one [`Parsed`] per table with a mapped row).
pub fn parse_genai_perf_table(text: &str) -> Vec<Parsed> {
    let mut out = Vec::new();
    let mut header: Option<Vec<String>> = None;
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    let mut closed = false;
    let flush = |header: &Option<Vec<String>>,
                 rows: &mut Vec<(String, Vec<String>)>,
                 closed: bool,
                 out: &mut Vec<Parsed>| {
        if let Some(h) = header {
            let mut p = map_table(h, rows);
            if !closed {
                p.complete = false;
                p.notes.push("table not closed: cut short".into());
            }
            if !p.metrics.is_empty() {
                out.push(p);
            }
        }
        rows.clear();
    };
    for raw in text.lines() {
        let line = raw.trim();
        if line.starts_with('└') || line.starts_with('┗') {
            closed = true;
            flush(&header, &mut rows, closed, &mut out);
            header = None;
            continue;
        }
        let Some(c) = cells(line) else { continue };
        let Some((first, rest)) = c.split_first() else {
            continue;
        };
        if first.eq_ignore_ascii_case("statistic") {
            flush(&header, &mut rows, closed, &mut out);
            header = Some(rest.iter().map(|s| s.to_lowercase()).collect());
            closed = false;
            continue;
        }
        if header.is_none() {
            continue;
        }
        if rest.iter().all(String::is_empty) {
            if let Some((label, _)) = rows.last_mut() {
                label.push(' ');
                label.push_str(first);
            }
            continue;
        }
        rows.push((first.clone(), rest.to_vec()));
    }
    flush(&header, &mut rows, false, &mut out);
    out
}

fn map_table(header: &[String], rows: &[(String, Vec<String>)]) -> Parsed {
    let mut p = Parsed::new(Format::GenaiPerfTable);
    for (label, values) in rows {
        let l = label.to_lowercase();
        let l = l.split_whitespace().collect::<Vec<_>>().join(" ");
        let latency = if l.starts_with("time to first token") {
            Some("ttft")
        } else if l.starts_with("inter token latency") {
            Some("tpot")
        } else if l.starts_with("request latency") {
            Some("e2el")
        } else {
            None
        };
        for (col, cell) in header.iter().zip(values) {
            let Some(v) = number(cell) else { continue };
            if let Some(m) = latency {
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
            } else if l.starts_with("request goodput") {
                p.set(metrics::GOODPUT, v);
            } else if l.starts_with("request count") {
                p.set(metrics::COMPLETED, v);
            } else if l.starts_with("output sequence length") {
                p.set_extra("mean_output_sequence_length", v);
            } else if l.starts_with("input sequence length") {
                p.set_extra("mean_input_sequence_length", v);
            } else if l.starts_with("time to second token") {
                p.set_extra("mean_time_to_second_token_ms", v);
            }
        }
    }
    p
}
