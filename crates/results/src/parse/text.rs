//! The `benchmark_serving` text block (reference/upstream.md 6.1) and its relatives.
//!
//! Tolerant of what posted and captured logs do to it: ANSI codes, carriage-return progress
//! bars, indentation, quote (`> `) and comment (`# `) markers, collapsed padding, prefixes before
//! the label (`srun --label`, timestamps), annotations after the value, headerless fragments,
//! and truncation. Strict about numbers: a value is one plain decimal number (no `inf`/`nan`, no
//! unit glued on); a row on the unterminated last line of the text may be cut mid-number and is
//! dropped.
//!
//! A block opens at the `Serving Benchmark Result` banner (or, headerless, at a latency section
//! header or latency row) and closes at a line of `=` (at least 10, on a terminated line). It
//! is complete only with both; a block cut by the end of the text, a new banner or a done
//! marker is partial.

use std::sync::LazyLock;

use regex::Regex;

use super::{ClientHealth, Format, Parsed};
use crate::metrics;

/// One stretch of `6_bench.log` ending at a `Benchmark with concurrency C done` marker (or at
/// the end of the log, with no marker: a run that did not finish).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSegment<'a> {
    /// `C` of the marker that ends the segment; `None` for the tail after the last marker.
    pub concurrency: Option<u64>,
    /// The text of the segment (without the marker line).
    pub text: &'a str,
    /// Line number (0-based) of the segment's first line.
    pub first_line: usize,
}

static DONE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"Benchmark with concurrency (\d+) done").ok());

static LATENCY_ROW: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"^(mean|median|std dev|std|min|max|p(\d+(?:\.\d+)?)) (ttft|tpot|itl|e2el|e2e latency)(?: \((ms|s)\))?$",
    )
    .ok()
});

static DECODED_ROW: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"^(mean|median|std dev|std|min|max|p(\d+(?:\.\d+)?))(?: avg)? decoded tokens per iter$",
    )
    .ok()
});

static SECTION: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^[-=]{2,}\s*([^-=\s].*?)\s*[-=]{2,}$").ok());

/// The concurrency of a done marker in `line`, if it has one.
pub(crate) fn done_concurrency(line: &str) -> Option<u64> {
    DONE.as_ref()?.captures(line)?.get(1)?.as_str().parse().ok()
}

/// Cuts a bench log at its done markers.
pub fn split_bench_log(text: &str) -> Vec<LogSegment<'_>> {
    let mut out = Vec::new();
    let mut start = 0usize;
    let mut first_line = 0usize;
    let mut offset = 0usize;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if let Some(c) = done_concurrency(line) {
            out.push(LogSegment {
                concurrency: Some(c),
                text: text.get(start..offset).unwrap_or(""),
                first_line,
            });
            start = offset + line.len();
            first_line = i + 1;
        }
        offset += line.len();
    }
    let tail = text.get(start..).unwrap_or("");
    if !tail.trim().is_empty() {
        out.push(LogSegment {
            concurrency: None,
            text: tail,
            first_line,
        });
    }
    out
}

/// One line as a reader sees it: the text after the last carriage return, ANSI escape
/// sequences removed, surrounding blanks and leading quote/comment markers stripped.
pub fn clean_line(raw: &str) -> String {
    let raw = raw.trim_end_matches(['\n', '\r']);
    let shown = match raw.rsplit_once('\r') {
        Some((_, after)) if !after.trim().is_empty() => after,
        _ => raw,
    };
    let mut out = String::with_capacity(shown.len());
    let mut chars = shown.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            if !c.is_control() || c == '\t' {
                out.push(c);
            }
            continue;
        }
        match chars.next() {
            // CSI: parameters, then one final byte in @..~.
            Some('[') => {
                for d in chars.by_ref() {
                    if ('@'..='~').contains(&d) {
                        break;
                    }
                }
            }
            // OSC: up to BEL or ESC \.
            Some(']') => {
                while let Some(d) = chars.next() {
                    if d == '\u{7}' {
                        break;
                    }
                    if d == '\u{1b}' {
                        chars.next();
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    let mut s = out.trim();
    loop {
        let t = s.trim_start_matches(['>', '#']).trim_start();
        if t.len() == s.len() {
            break;
        }
        s = t;
    }
    s.trim().to_string()
}

/// A plain decimal number (`12`, `-3.5`, `.5`, `1e3`); no `inf`, `nan`, commas or units.
fn strict_number(tok: &str) -> Option<f64> {
    let body = tok.strip_prefix(['-', '+']).unwrap_or(tok);
    let (mant, exp) = match body.find(['e', 'E']) {
        Some(i) => (body.get(..i)?, Some(body.get(i + 1..)?)),
        None => (body, None),
    };
    let digits = mant.chars().filter(char::is_ascii_digit).count();
    let dots = mant.chars().filter(|&c| c == '.').count();
    if digits == 0 || dots > 1 || mant.chars().any(|c| !c.is_ascii_digit() && c != '.') {
        return None;
    }
    if let Some(e) = exp {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        if e.is_empty() || !e.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
    }
    tok.parse().ok()
}

/// Every `label: number` split of a line, left to right (labels never hold a colon).
fn rows(line: &str) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    let mut label_start = 0usize;
    for (i, _) in line.match_indices(':') {
        let label = line.get(label_start..i).unwrap_or("");
        let after = line.get(i + 1..).unwrap_or("");
        let tok = after.split_whitespace().next().unwrap_or("");
        // The value must follow the colon (after blanks), not be glued to more text.
        if !tok.is_empty()
            && let Some(v) = strict_number(tok)
        {
            out.push((label.split_whitespace().collect::<Vec<_>>().join(" "), v));
        }
        label_start = i + 1;
    }
    out
}

fn normalise_label(label: &str) -> String {
    label
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Where a row's value goes.
#[derive(Debug, Clone, PartialEq)]
enum Target {
    Canon(&'static str),
    Extra(&'static str),
    /// A name built from the label: (name, canonical?, factor to the stored unit).
    Named(String, bool, f64),
    Concurrency,
}

fn lookup_exact(label: &str, section: &str) -> Option<Target> {
    use Target::{Canon, Extra};
    let t = match label {
        "total requests" => Extra("total_requests"),
        "successful requests" => Canon(metrics::COMPLETED),
        "failed requests" => Canon(metrics::FAILED),
        "benchmark duration (s)" => Canon(metrics::DURATION_S),
        "total input tokens" => Canon(metrics::TOTAL_INPUT_TOKENS),
        "total generated tokens" => Canon(metrics::TOTAL_OUTPUT_TOKENS),
        "total generated tokens (retokenized)" => Extra("total_output_tokens_retokenized"),
        "total input text tokens" => Extra("total_input_text_tokens"),
        "total input vision tokens" => Extra("total_input_vision_tokens"),
        "request throughput (req/s)" => Canon(metrics::REQUEST_THROUGHPUT),
        "request goodput (req/s)" => Canon(metrics::GOODPUT),
        "output token throughput (tok/s)" => Canon(metrics::OUTPUT_TOKEN_THROUGHPUT),
        "total token throughput (tok/s)" => Canon(metrics::TOTAL_TOKEN_THROUGHPUT),
        "input token throughput (tok/s)" => Extra("input_token_throughput"),
        "user throughput (tok/s)" => Canon(metrics::USER_THROUGHPUT),
        "peak output token throughput (tok/s)" => Extra("peak_output_token_throughput"),
        "peak concurrent requests" => Extra("peak_concurrent_requests"),
        "request rate configured (rps)" | "traffic request rate" => Extra("request_rate"),
        "burstiness factor" => Extra("burstiness"),
        "maximum request concurrency" | "max request concurrency" => Target::Concurrency,
        "concurrency" => Extra("concurrency"),
        "mean request ar" => Extra("mean_request_acceptance_rate"),
        "median request ar" => Extra("median_request_acceptance_rate"),
        "output token throughput/gpu (tok/s)" => Canon(metrics::OUTPUT_TOKEN_THROUGHPUT_PER_GPU),
        "total token throughput/gpu (tok/s)" => Extra("total_token_throughput_per_gpu"),
        "input token throughput/gpu (tok/s)" => Extra("input_token_throughput_per_gpu"),
        "tensor parallel size" => Extra("tensor_parallel_size"),
        "expert parallel size" => Extra("expert_parallel_size"),
        "input sequence length" => Extra("input_sequence_length"),
        "output sequence length" => Extra("output_sequence_length"),
        "acceptance rate (%)" => Extra("spec_acceptance_rate_pct"),
        "acceptance length" => Canon(metrics::MEAN_DECODED_TOKENS_PER_ITER),
        "drafts" => Extra("spec_drafts"),
        "draft tokens" => Extra("spec_draft_tokens"),
        "accepted tokens" => Extra("spec_accepted_tokens"),
        "total energy (j)" => Canon(crate::energy::ENERGY_J),
        // tokens/s per W is tokens per joule.
        "output tokens per second per watt (tps/w)" => {
            Canon(crate::energy::OUTPUT_TOKENS_PER_JOULE)
        }
        "total gpu power (w)" => Extra("gpu_power_w"),
        _ => return lookup_pattern(label, section),
    };
    Some(t)
}

fn stat_name(stat: &str, pct: Option<&str>) -> Option<String> {
    match stat {
        "mean" | "median" | "min" | "max" => Some(stat.to_string()),
        "std dev" | "std" => Some("std".into()),
        _ => metrics::percentile_stat(pct?),
    }
}

fn lookup_pattern(label: &str, section: &str) -> Option<Target> {
    if let Some(c) = LATENCY_ROW.as_ref().and_then(|r| r.captures(label)) {
        let stat = stat_name(c.get(1)?.as_str(), c.get(2).map(|m| m.as_str()))?;
        let metric = match c.get(3)?.as_str() {
            "e2e latency" => "e2el",
            m => m,
        };
        let scale = if c.get(4).is_some_and(|u| u.as_str() == "s") {
            1000.0
        } else {
            1.0
        };
        let name = format!("{stat}_{metric}_ms");
        let canonical = metrics::latency_parts(&name).is_some();
        return Some(Target::Named(name, canonical, scale));
    }
    if let Some(c) = DECODED_ROW.as_ref().and_then(|r| r.captures(label)) {
        return decoded(c.get(1)?.as_str(), c.get(2).map(|m| m.as_str()));
    }
    if section.contains("decoded tokens per iter")
        && let Some(t) = decoded_bare(label)
    {
        return Some(t);
    }
    if section.contains("speculative decoding")
        && let Some(n) = label.strip_prefix("position ")
        && let Ok(i) = n.trim().parse::<u32>()
    {
        return Some(Target::Named(
            format!("spec_acceptance_pos{i}_pct"),
            false,
            1.0,
        ));
    }
    None
}

fn decoded(stat: &str, pct: Option<&str>) -> Option<Target> {
    let stat = stat_name(stat, pct)?;
    if stat == "mean" {
        Some(Target::Canon(metrics::MEAN_DECODED_TOKENS_PER_ITER))
    } else {
        Some(Target::Named(
            format!("{stat}_decoded_tokens_per_iter"),
            false,
            1.0,
        ))
    }
}

fn decoded_bare(label: &str) -> Option<Target> {
    let (stat, pct) = match label.strip_prefix('p') {
        Some(p) if p.parse::<f64>().is_ok() => ("p", Some(p)),
        _ => (label, None),
    };
    decoded(stat, pct)
}

/// Whether a leading word may be a prefix before the label (a timestamp, a log level, a source
/// location) rather than part of it: it holds a non-letter, or is an upper-case word such as
/// `INFO`. Words such as `Peak` or `Max` are never dropped, so an unknown label like `Max
/// output token throughput (tok/s)` is not read as the output token throughput.
fn droppable(word: &str) -> bool {
    word.chars().any(|c| !c.is_alphabetic())
        || (word.chars().count() >= 2 && word.chars().all(char::is_uppercase))
}

/// The target of a label (as written, blanks collapsed), trying the whole label, then without
/// leading prefix words (see [`droppable`]).
fn lookup(label: &str, section: &str) -> Option<Target> {
    let mut l = label;
    loop {
        if let Some(t) = lookup_exact(&l.to_lowercase(), section) {
            return Some(t);
        }
        let (word, rest) = l.split_once(' ')?;
        if !droppable(word) {
            return None;
        }
        l = rest;
    }
}

/// Section headers that open a headerless block (fragments posted without the banner).
fn opens_block(section: &str) -> bool {
    [
        "time to first token",
        "time per output token",
        "inter-token latency",
        "end-to-end latency",
        "speculative decoding",
        "decoded tokens per iter",
        "energy metrics",
    ]
    .iter()
    .any(|s| section.contains(s))
}

struct Builder {
    parsed: Parsed,
    header: bool,
    rows: usize,
    section: String,
}

impl Builder {
    fn new(header: bool) -> Self {
        Builder {
            parsed: Parsed::new(Format::TextBlock),
            header,
            rows: 0,
            section: String::new(),
        }
    }

    fn store(&mut self, t: Target, v: f64) {
        self.rows += 1;
        match t {
            Target::Canon(n) => self.parsed.set(n, v),
            Target::Extra(n) => self.parsed.set_extra(n, v),
            Target::Named(name, canonical, scale) => {
                if canonical {
                    self.parsed.set(&name, v * scale);
                } else {
                    self.parsed.set_extra(&name, v * scale);
                }
            }
            Target::Concurrency => {
                if v >= 0.0 && v.fract() == 0.0 && v < 9.0e15 {
                    self.parsed.concurrency = Some(v as u64);
                }
            }
        }
    }

    fn finish(mut self, closed: bool, why: &str) -> Option<Parsed> {
        if self.rows == 0 {
            return None;
        }
        if !(closed && self.header) {
            self.parsed.complete = false;
            self.parsed.notes.push(if !self.header {
                "no `Serving Benchmark Result` header: a fragment".into()
            } else {
                format!("no closing banner: {why}")
            });
        }
        Some(self.parsed)
    }
}

/// Reads the client-health section's `label: value` rows into `p`.
fn health_row(p: &mut Parsed, line: &str) {
    let Some((label, value)) = line.split_once(':') else {
        return;
    };
    let label = normalise_label(label);
    let value = value.trim();
    let first = value.split_whitespace().next().and_then(strict_number);
    let name = match label.as_str() {
        "client bound" => {
            let h = p.client_health.get_or_insert_with(ClientHealth::default);
            h.bound = value.eq_ignore_ascii_case("yes") || value.eq_ignore_ascii_case("true");
            return;
        }
        "client bound reason" => {
            let h = p.client_health.get_or_insert_with(ClientHealth::default);
            h.reasons.push(value.to_string());
            return;
        }
        "ramp-up (ms)" => "client_ramp_up_ms",
        "schedule lateness p50 (ms)" => "client_lateness_p50_ms",
        "schedule lateness p99 (ms)" => "client_lateness_p99_ms",
        "schedule lateness max (ms)" => "client_lateness_max_ms",
        "configured concurrency" => "client_configured_concurrency",
        "achieved concurrency mean" => "client_achieved_concurrency_mean",
        "achieved concurrency peak" => "client_achieved_concurrency_peak",
        "client cpu user+sys (s)" => "client_cpu_s",
        "client cpu per output token (us)" => "client_cpu_per_output_token_us",
        "client cpu use (% of cores)" => "client_cpu_utilization_pct",
        _ => return,
    };
    if let Some(v) = first {
        p.set_extra(name, v);
    }
}

/// Every result block in `text`, in order. A block followed by a done marker (before the next
/// block) takes the marker's concurrency; otherwise the `Maximum request concurrency` row in
/// the block or just before it, if any.
pub fn parse_text_blocks(text: &str) -> Vec<Parsed> {
    let mut out: Vec<Parsed> = Vec::new();
    let mut cur: Option<Builder> = None;
    // After a block closed: the index in `out` whose client-health section may follow, and
    // whether we are inside that section.
    let mut last_closed: Option<usize> = None;
    let mut in_health = false;
    // Blocks that a done marker may still claim.
    let mut unclaimed: Vec<usize> = Vec::new();
    let mut pending_concurrency: Option<u64> = None;
    let ends_with_newline = text.ends_with('\n');
    let lines: Vec<&str> = text.split('\n').collect();
    let n = lines.len();
    let push =
        |out: &mut Vec<Parsed>, unclaimed: &mut Vec<usize>, p: Option<Parsed>| -> Option<usize> {
            let p = p?;
            out.push(p);
            let i = out.len().saturating_sub(1);
            unclaimed.push(i);
            Some(i)
        };
    for (i, raw) in lines.iter().enumerate() {
        let unterminated_last = i + 1 == n && !ends_with_newline;
        if let Some(c) = done_concurrency(raw) {
            if let Some(b) = cur.take() {
                push(
                    &mut out,
                    &mut unclaimed,
                    b.finish(false, "cut by a done marker"),
                );
            }
            // The marker claims the blocks before it, except those that state another
            // concurrency (a run that ended without its marker).
            for j in unclaimed.drain(..) {
                if let Some(p) = out.get_mut(j) {
                    p.concurrency.get_or_insert(c);
                }
            }
            last_closed = None;
            in_health = false;
            pending_concurrency = None;
            continue;
        }
        let line = clean_line(raw);
        if line.is_empty() {
            continue;
        }
        if line.contains("Serving Benchmark Result") {
            if let Some(b) = cur.take() {
                push(
                    &mut out,
                    &mut unclaimed,
                    b.finish(false, "cut by a new block"),
                );
            }
            let mut b = Builder::new(true);
            // Upstream prints `Maximum request concurrency: C` just before the block.
            b.parsed.concurrency = pending_concurrency.take();
            cur = Some(b);
            last_closed = None;
            in_health = false;
            continue;
        }
        if line.len() >= 10 && line.chars().all(|c| c == '=') {
            if unterminated_last {
                // A banner cut short may be the start of `===!FAILED REQUESTS!===`: the
                // block stays partial.
                if let Some(b) = cur.as_mut() {
                    b.parsed
                        .notes
                        .push("closing banner on an unterminated last line".into());
                }
                continue;
            }
            if let Some(b) = cur.take() {
                last_closed = push(&mut out, &mut unclaimed, b.finish(true, ""));
            }
            in_health = false;
            continue;
        }
        if line.chars().all(|c| c == '-') {
            continue;
        }
        if let Some(title) = SECTION
            .as_ref()
            .and_then(|r| r.captures(&line))
            .and_then(|c| c.get(1))
            .map(|m| m.as_str().to_lowercase())
        {
            if title.contains('!') {
                // `!FAILED REQUESTS!` / `!CHECK LOG FOR ERRORS!`: inside the block, no data.
                continue;
            }
            if title == "client health" {
                in_health = cur.is_none() && last_closed.is_some();
                continue;
            }
            in_health = false;
            if cur.is_none() && opens_block(&title) {
                cur = Some(Builder::new(false));
                last_closed = None;
            }
            if let Some(b) = cur.as_mut() {
                b.section = title;
            }
            continue;
        }
        if unterminated_last {
            // Possibly cut mid-number.
            if let Some(b) = cur.as_mut() {
                b.parsed
                    .notes
                    .push(format!("last line unterminated, not read: {line:?}"));
            }
            continue;
        }
        if in_health {
            if let Some(p) = last_closed.and_then(|j| out.get_mut(j)) {
                health_row(p, &line);
            }
            continue;
        }
        let section = cur.as_ref().map(|b| b.section.clone()).unwrap_or_default();
        for (label, v) in rows(&line) {
            let Some(t) = lookup(&label, &section) else {
                continue;
            };
            if cur.is_none() {
                // Only latency rows open a headerless block; pre-block lines such as
                // `Maximum request concurrency: 8` do not (that one is kept for the next
                // block).
                if matches!(&t, Target::Named(n, true, _) if metrics::latency_parts(n).is_some()) {
                    cur = Some(Builder::new(false));
                    last_closed = None;
                } else {
                    if t == Target::Concurrency && v >= 0.0 && v.fract() == 0.0 && v < 9.0e15 {
                        pending_concurrency = Some(v as u64);
                    }
                    continue;
                }
            }
            if let Some(b) = cur.as_mut() {
                b.store(t, v);
            }
            break;
        }
    }
    if let Some(b) = cur.take() {
        push(
            &mut out,
            &mut unclaimed,
            b.finish(false, "the text ends inside the block"),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLOCK: &str = "\
Traffic request rate: inf
Maximum request concurrency: 8
Total failed requests: 0
============ Serving Benchmark Result ============
Total requests:                          16        
Successful requests:                     16        
Failed requests:                         0         
Benchmark duration (s):                  2.00      
Total input tokens:                      1600      
Total generated tokens:                  320       
Request throughput (req/s):              8.00      
Output token throughput (tok/s):         160.00    
Total Token throughput (tok/s):          960.00    
User throughput (tok/s):                 20.00     
---------------Time to First Token----------------
Mean TTFT (ms):                          10.00     
Median TTFT (ms):                        9.00      
Std Dev TTFT (ms):                       1.00      
P99 TTFT (ms):                           12.00     
P99.9 TTFT (ms):                         12.50     
-----Time per Output Token (excl. 1st token)------
Mean TPOT (ms):                          5.00      
Median TPOT (ms):                        5.00      
Std Dev TPOT (ms):                       0.10      
P99 TPOT (ms):                           5.50      
==================================================
------------------ Client health -----------------
Ramp-up (ms):                            1.612     
Schedule lateness p50 (ms):              0.010     
Configured concurrency:                  8         
Client CPU use (% of cores):             1.00 of 4 
Client bound:                            yes       
Client bound reason:                     lateness p99 3 ms > 1 ms
==================================================
Benchmark with concurrency 8 done
";

    #[test]
    fn full_block_with_health_and_marker() {
        let b = parse_text_blocks(BLOCK);
        assert_eq!(b.len(), 1);
        let p = &b[0];
        assert!(p.complete, "{:?}", p.notes);
        assert_eq!(p.concurrency, Some(8));
        assert_eq!(p.metrics["completed"], 16.0);
        assert_eq!(p.metrics["total_token_throughput"], 960.0);
        assert_eq!(p.metrics["std_ttft_ms"], 1.0);
        assert_eq!(p.metrics["p99.9_ttft_ms"], 12.5);
        assert_eq!(p.extra["total_requests"], 16.0);
        assert_eq!(p.extra["client_cpu_utilization_pct"], 1.0);
        assert_eq!(p.extra["client_ramp_up_ms"], 1.612);
        assert_eq!(p.extra["client_lateness_p50_ms"], 0.01);
        let h = p.client_health.as_ref().unwrap();
        assert!(h.bound);
        assert_eq!(h.reasons, vec!["lateness p99 3 ms > 1 ms".to_string()]);
    }

    #[test]
    fn noise_ansi_quotes_and_prefixes() {
        let t = "\x1b[32mINFO\x1b[0m starting\n> ============ Serving Benchmark Result ============\n>   Successful requests:   4\n0: Mean TTFT (ms): 1.5   <=== look\nBenchmarking: 50%|###\r\x1b[2K\x1b[1G  Median TTFT (ms):  \t 1.25\n2026-01-01 10:00:00 INFO P90 TTFT (ms): 2\n> ==================================================\n";
        let b = parse_text_blocks(t);
        assert_eq!(b.len(), 1);
        let p = &b[0];
        assert!(p.complete);
        assert_eq!(p.metrics["completed"], 4.0);
        assert_eq!(p.metrics["mean_ttft_ms"], 1.5);
        assert_eq!(p.metrics["median_ttft_ms"], 1.25);
        assert_eq!(p.metrics["p90_ttft_ms"], 2.0);
    }

    #[test]
    fn truncated_block_is_partial_and_last_line_dropped() {
        let t = "============ Serving Benchmark Result ============\nSuccessful requests: 10\nMean TTFT (ms): 12.3";
        let b = parse_text_blocks(t);
        assert_eq!(b.len(), 1);
        assert!(!b[0].complete);
        assert!(!b[0].metrics.contains_key("mean_ttft_ms"));
    }

    #[test]
    fn unknown_labels_are_not_read_as_known_ones() {
        let t = "============ Serving Benchmark Result ============\nOutput token throughput (tok/s): 100\nMax output token throughput (tok/s): 999\nTotal failed requests: 7\nINFO 11-30 [a.py:12] Median TTFT (ms): 3\n==================================================\n";
        let b = parse_text_blocks(t);
        assert_eq!(b[0].metrics["output_token_throughput"], 100.0);
        assert!(!b[0].metrics.contains_key("failed"));
        assert_eq!(b[0].metrics["median_ttft_ms"], 3.0);
    }

    #[test]
    fn strict_numbers() {
        for ok in ["1", "1.5", ".5", "-2", "1e3", "1.2E-3", "5."] {
            assert!(strict_number(ok).is_some(), "{ok}");
        }
        for bad in ["inf", "nan", "1,000", "12ms", "", "-", "1e", "..1", "N/A"] {
            assert!(strict_number(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn segments() {
        let t =
            "a\nBenchmark with concurrency 1 done\nb\nc\nBenchmark with concurrency 2 done\ntail\n";
        let s = split_bench_log(t);
        assert_eq!(s.len(), 3);
        assert_eq!(
            (s[0].concurrency, s[0].text, s[0].first_line),
            (Some(1), "a\n", 0)
        );
        assert_eq!(
            (s[1].concurrency, s[1].text, s[1].first_line),
            (Some(2), "b\nc\n", 2)
        );
        assert_eq!((s[2].concurrency, s[2].text), (None, "tail\n"));
    }
}
