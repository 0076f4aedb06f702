//! From request records to vLLM's metrics and to the client's health verdict.

use std::time::Duration;

use tokenizers::Tokenizer;

use crate::config::{BenchConfig, Metric, RequestRate};
use crate::dataset::{Sample, count_tokens};
use crate::report::{BenchMetrics, ClientHealth, RequestRecord};
use crate::stats::{Summary, percentile_sorted};
use crate::workload::Workload;

/// Token counting source used when the server sent no `usage`.
#[derive(Debug, Default)]
pub(crate) struct CountNotes {
    pub(crate) by_tokenizer: usize,
    pub(crate) by_chunks: usize,
    pub(crate) prompt_unknown: usize,
}

/// Fills `prompt_tokens`/`output_tokens` of each record and computes the metrics (vLLM's
/// `calculate_metrics`): failed requests count 0 output tokens and no latencies; TPOT is
/// `(e2el - ttft) / (output_tokens - 1)` for requests with more than one token; ITL pools every
/// chunk gap; user throughput is the mean of `output_tokens / e2el`.
pub(crate) fn compute(
    cfg: &BenchConfig,
    samples: &[Sample],
    records: &mut [RequestRecord],
    duration: Duration,
    tokenizer: Option<&Tokenizer>,
) -> (BenchMetrics, CountNotes) {
    let mut notes = CountNotes::default();
    let (mut ttfts, mut tpots, mut itls, mut e2els, mut user) =
        (vec![], vec![], vec![], vec![], vec![]);
    let (mut completed, mut good, mut mismatches) = (0usize, 0usize, 0usize);
    let (mut total_in, mut total_out, mut expected) = (0u64, 0u64, 0u64);
    for rec in records.iter_mut() {
        let sample = samples.get(rec.index);
        rec.expected_output_tokens = sample.map_or(0, |s| s.output_len);
        expected += rec.expected_output_tokens;
        rec.prompt_tokens = match sample
            .and_then(|s| s.prompt_len)
            .or(rec.usage_prompt_tokens)
        {
            Some(n) => n,
            None => {
                notes.prompt_unknown += 1;
                0
            }
        };
        let (Some(ttft), Some(e2el), true) = (rec.ttft(), rec.e2el(), rec.ok()) else {
            rec.output_tokens = 0;
            continue;
        };
        let out = match (rec.usage_completion_tokens, tokenizer, rec.text.as_deref()) {
            (Some(n), _, _) => n,
            (None, Some(tok), Some(text)) => {
                notes.by_tokenizer += 1;
                count_tokens(tok, text).unwrap_or(u64::from(rec.chunks))
            }
            _ => {
                notes.by_chunks += 1;
                u64::from(rec.chunks)
            }
        };
        rec.output_tokens = out;
        if out != rec.expected_output_tokens {
            mismatches += 1;
        }
        completed += 1;
        total_in += rec.prompt_tokens;
        total_out += out;
        let tpot = if out > 1 {
            let t = (e2el - ttft) / (out - 1) as f64;
            tpots.push(t);
            t
        } else {
            0.0
        };
        itls.extend_from_slice(&rec.itl);
        ttfts.push(ttft);
        e2els.push(e2el);
        user.push(if e2el > 0.0 { out as f64 / e2el } else { 0.0 });
        if !cfg.goodput.is_empty()
            && cfg.goodput.iter().all(|slo| {
                let v = match slo.metric {
                    Metric::Ttft => ttft,
                    Metric::Tpot => tpot,
                    Metric::E2el | Metric::Itl => e2el,
                };
                slo.limit_ms / 1000.0 >= v
            })
        {
            good += 1;
        }
    }
    let dur = duration.as_secs_f64().max(1e-9);
    let p = &cfg.percentiles;
    let ms = |xs: &mut Vec<f64>| Summary::of(xs, p).scaled(1000.0);
    let metrics = BenchMetrics {
        total_requests: records.len(),
        completed,
        failed: records.len() - completed,
        total_input_tokens: total_in,
        total_output_tokens: total_out,
        expected_output_tokens: expected,
        output_len_mismatches: mismatches,
        duration_s: duration.as_secs_f64(),
        request_throughput: completed as f64 / dur,
        request_goodput: (!cfg.goodput.is_empty()).then(|| good as f64 / dur),
        output_throughput: total_out as f64 / dur,
        total_token_throughput: (total_in + total_out) as f64 / dur,
        user_throughput: crate::stats::mean(&user),
        ttft_ms: ms(&mut ttfts),
        tpot_ms: ms(&mut tpots),
        itl_ms: ms(&mut itls),
        e2el_ms: ms(&mut e2els),
    };
    (metrics, notes)
}

/// Process CPU time (user, system) so far.
pub(crate) fn cpu_times() -> (Duration, Duration) {
    match nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF) {
        Ok(u) => {
            let tv = |t: nix::sys::time::TimeVal| {
                Duration::from_secs(t.tv_sec().max(0) as u64)
                    + Duration::from_micros(t.tv_usec().max(0) as u64)
            };
            (tv(u.user_time()), tv(u.system_time()))
        }
        Err(_) => (Duration::ZERO, Duration::ZERO),
    }
}

/// Lateness above this (and above 1% of the median E2EL) makes the run client-bound.
const LATENESS_LIMIT_MS: f64 = 1.0;
/// CPU use above this share of the usable cores makes the run client-bound.
const CPU_LIMIT: f64 = 0.9;
/// Closed-loop runs whose mean in-flight count falls below this share of the cap are client-bound.
const CONCURRENCY_SHARE: f64 = 0.95;

/// Lateness, achieved concurrency, CPU and the `client_bound` verdict.
pub(crate) fn health(
    cfg: &BenchConfig,
    records: &[RequestRecord],
    metrics: &BenchMetrics,
    cpu: (Duration, Duration),
    cores: usize,
) -> ClientHealth {
    let lateness = |r: &RequestRecord| Some(r.sent?.saturating_sub(r.eligible).as_secs_f64() * 1e3);
    // Closed loop at infinite rate, the first request of every worker is due at time zero: one
    // thread cannot write them all at once, and the time it takes is the ramp-up, reported on
    // its own. Lateness and the verdict look at the requests after it. Open-loop schedules have
    // no ramp: a burst the schedule asks for is the client's to keep up with.
    let ramp_n = match cfg.request_rate {
        RequestRate::Infinite => cfg
            .max_concurrency
            .unwrap_or(records.len())
            .min(records.len()),
        RequestRate::PerSecond { .. } => 0,
    };
    let ramp_ms = records
        .iter()
        .filter(|r| r.index < ramp_n)
        .filter_map(lateness)
        .fold(0.0, f64::max);
    let mut late: Vec<f64> = records
        .iter()
        .filter(|r| r.index >= ramp_n)
        .filter_map(lateness)
        .collect();
    late.sort_unstable_by(f64::total_cmp);
    let (mean_conc, peak) = concurrency(records);
    let cpu_s = (cpu.0 + cpu.1).as_secs_f64();
    let wall = metrics.duration_s.max(1e-9);
    let cpu_util = cpu_s / (wall * cores.max(1) as f64);
    let mut reasons = Vec::new();
    let p99 = percentile_sorted(&late, 99.0);
    let late_limit = LATENESS_LIMIT_MS.max(metrics.e2el_ms.median * 0.01);
    if p99 > late_limit {
        reasons.push(format!(
            "p99 schedule lateness {p99:.3} ms above {late_limit:.3} ms"
        ));
    }
    if cpu_util > CPU_LIMIT {
        reasons.push(format!(
            "client CPU at {:.0}% of {cores} cores",
            cpu_util * 100.0
        ));
    }
    // Sessions that think between turns leave their slot idle on purpose: no verdict from the
    // in-flight count then.
    let thinking = matches!(&cfg.workload, Some(Workload::MultiTurn(m)) if m.think_time_ms > 0.0);
    if let (Some(c), RequestRate::Infinite, false) =
        (cfg.max_concurrency, cfg.request_rate, thinking)
    {
        let target = c.min(records.len());
        if records.len() > c && mean_conc < CONCURRENCY_SHARE * target as f64 {
            reasons.push(format!(
                "mean concurrency {mean_conc:.2} below the configured {c}"
            ));
        }
    }
    ClientHealth {
        ramp_up_ms: ramp_ms,
        lateness_p50_ms: percentile_sorted(&late, 50.0),
        lateness_p99_ms: p99,
        lateness_max_ms: late.last().copied().unwrap_or(0.0),
        configured_concurrency: cfg.max_concurrency,
        achieved_concurrency_mean: mean_conc,
        achieved_concurrency_peak: peak,
        cpu_user_s: cpu.0.as_secs_f64(),
        cpu_sys_s: cpu.1.as_secs_f64(),
        cpu_per_output_token_us: if metrics.total_output_tokens > 0 {
            cpu_s * 1e6 / metrics.total_output_tokens as f64
        } else {
            0.0
        },
        cpu_utilization: cpu_util,
        cores,
        client_bound: !reasons.is_empty(),
        reasons,
    }
}

/// (time-weighted mean in flight between the first and the last send, peak in flight).
///
/// When all requests went out at once (no refill phase), the mean is the peak.
pub(crate) fn concurrency(records: &[RequestRecord]) -> (f64, usize) {
    // +1 at send, -1 at end; ends sort before sends at the same instant.
    let mut events: Vec<(Duration, i64)> = Vec::with_capacity(records.len() * 2);
    for r in records {
        if let Some(s) = r.sent {
            events.push((s, 1));
            events.push((r.end.max(s), -1));
        }
    }
    if events.is_empty() {
        return (0.0, 0);
    }
    events.sort_unstable();
    let first = records
        .iter()
        .filter_map(|r| r.sent)
        .min()
        .unwrap_or_default();
    let last = records
        .iter()
        .filter_map(|r| r.sent)
        .max()
        .unwrap_or_default();
    let (mut cur, mut peak, mut area) = (0i64, 0i64, 0f64);
    let mut prev = first;
    for &(t, d) in &events {
        if t > prev && prev < last {
            let until = t.min(last);
            area += cur as f64 * (until - prev).as_secs_f64();
        }
        prev = prev.max(t);
        cur += d;
        peak = peak.max(cur);
    }
    let window = (last - first).as_secs_f64();
    let peak = peak.max(0) as usize;
    if window < 1e-3 {
        (peak as f64, peak)
    } else {
        (area / window, peak)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DatasetSpec, Slo};
    use crate::dataset::Prompt;
    use crate::report::{ErrorKind, RequestError};

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn rec(
        i: usize,
        sent: u64,
        first: u64,
        last: u64,
        chunks: u32,
        usage: Option<u64>,
    ) -> RequestRecord {
        let mut r = RequestRecord::new(i, ms(sent));
        r.sent = Some(ms(sent));
        r.first_chunk = Some(ms(first));
        r.last_chunk = Some(ms(last));
        r.end = ms(last);
        r.chunks = chunks;
        r.usage_completion_tokens = usage;
        r
    }

    fn sample(out: u64) -> Sample {
        Sample {
            prompt: Prompt::Ids(vec![1, 2]),
            prompt_len: Some(2),
            output_len: out,
        }
    }

    #[test]
    fn vllm_semantics_by_hand() {
        let mut cfg = BenchConfig::new("http://x", DatasetSpec::Jsonl { path: "x".into() });
        cfg.percentiles = vec![50.0, 99.0];
        cfg.goodput = vec![Slo {
            metric: Metric::Ttft,
            limit_ms: 15.0,
        }];
        // Request 0: sent at 0, first at 10, last at 40, 4 tokens in 3 chunks (one chunk of two).
        let mut r0 = rec(0, 0, 10, 40, 3, Some(4));
        r0.itl = vec![0.010, 0.020];
        // Request 1: sent at 5, first at 25, single token.
        let r1 = rec(1, 5, 25, 25, 1, None);
        // Request 2 failed.
        let mut r2 = rec(2, 5, 6, 7, 1, Some(1));
        r2.error = Some(RequestError::new(ErrorKind::Http(500), ""));
        let mut recs = vec![r0, r1, r2];
        let samples = vec![sample(4), sample(1), sample(1)];
        let (m, notes) = compute(&cfg, &samples, &mut recs, ms(50), None);
        assert_eq!((m.completed, m.failed, m.total_requests), (2, 1, 3));
        assert_eq!((m.total_input_tokens, m.total_output_tokens), (4, 5));
        assert_eq!(
            notes.by_chunks, 1,
            "request 1 had no usage: counted by chunks"
        );
        assert_eq!(recs[2].output_tokens, 0);
        assert!((m.request_throughput - 40.0).abs() < 1e-9);
        assert!((m.output_throughput - 100.0).abs() < 1e-9);
        assert!((m.total_token_throughput - 180.0).abs() < 1e-9);
        // TTFTs 10 and 20 ms; E2ELs 40 and 20 ms; TPOT only for request 0: (40-10)/3 = 10 ms.
        assert!((m.ttft_ms.mean - 15.0).abs() < 1e-9);
        assert!((m.ttft_ms.percentiles[1].1 - 19.9).abs() < 1e-9);
        assert!((m.e2el_ms.median - 30.0).abs() < 1e-9);
        assert_eq!(m.tpot_ms.count, 1);
        assert!((m.tpot_ms.mean - 10.0).abs() < 1e-9);
        assert!((m.itl_ms.mean - 15.0).abs() < 1e-9);
        assert!((m.itl_ms.std - 5.0).abs() < 1e-9);
        // User throughput: mean(4/0.040, 1/0.020) = mean(100, 50).
        assert!((m.user_throughput - 75.0).abs() < 1e-9);
        // Only request 0 meets TTFT <= 15 ms.
        assert!((m.request_goodput.unwrap() - 20.0).abs() < 1e-9);
        assert_eq!(m.output_len_mismatches, 0);
    }

    #[test]
    fn concurrency_window_and_peak() {
        // Cap 2: two requests at 0, a third sent at 10 when the first ended, last send at 10.
        let mut a = rec(0, 0, 1, 10, 1, None);
        a.end = ms(10);
        let mut b = rec(1, 0, 1, 20, 1, None);
        b.end = ms(20);
        let mut c = rec(2, 10, 11, 30, 1, None);
        c.end = ms(30);
        let (mean, peak) = concurrency(&[a, b, c]);
        assert_eq!(peak, 2);
        assert!((mean - 2.0).abs() < 1e-9, "{mean}");
        // A refill that came 5 ms late halves the in-flight count for half the window.
        let mut a = rec(0, 0, 1, 10, 1, None);
        a.end = ms(10);
        let mut b = rec(1, 0, 1, 40, 1, None);
        b.end = ms(40);
        let mut c = rec(2, 20, 21, 30, 1, None);
        c.end = ms(30);
        let (mean, _) = concurrency(&[a, b, c]);
        assert!((mean - 1.5).abs() < 1e-9, "{mean}");
    }

    #[test]
    fn verdict_names_each_reason() {
        let mut cfg = BenchConfig::new("http://x", DatasetSpec::Jsonl { path: "x".into() });
        cfg.max_concurrency = Some(4);
        let mut recs: Vec<RequestRecord> = (0..8).map(|i| rec(i, 0, 1, 2, 1, Some(1))).collect();
        for r in &mut recs {
            r.eligible = Duration::ZERO;
            r.sent = Some(ms(5));
            r.end = ms(10);
        }
        let samples: Vec<Sample> = (0..8).map(|_| sample(1)).collect();
        let (m, _) = compute(&cfg, &samples, &mut recs, ms(100), None);
        let h = health(&cfg, &recs, &m, (ms(95), ms(0)), 1);
        assert!(h.client_bound);
        assert_eq!(h.reasons.len(), 2, "{:?}", h.reasons);
        assert!(h.reasons[0].contains("lateness"));
        assert!(h.reasons[1].contains("CPU"));
        assert!((h.lateness_p50_ms - 5.0).abs() < 1e-9);
    }

    #[test]
    fn closed_loop_ramp_up_is_reported_apart_from_lateness() {
        // Cap 4: requests 0-3 are all due at 0 and went out up to 6 ms later (the ramp-up);
        // 4-7 went out 0.1 ms after their worker freed up.
        let mut cfg = BenchConfig::new("http://x", DatasetSpec::Jsonl { path: "x".into() });
        cfg.max_concurrency = Some(4);
        let mut recs: Vec<RequestRecord> = (0..8).map(|i| rec(i, 0, 1, 2, 1, Some(1))).collect();
        for (i, r) in recs.iter_mut().enumerate() {
            let (eligible, late_us) = if i < 4 {
                (0, 2000 * i as u64)
            } else {
                (20, 100)
            };
            r.eligible = ms(eligible);
            r.sent = Some(ms(eligible) + Duration::from_micros(late_us));
            r.end = ms(40);
        }
        let samples: Vec<Sample> = (0..8).map(|_| sample(1)).collect();
        let (m, _) = compute(&cfg, &samples, &mut recs, ms(100), None);
        let h = health(&cfg, &recs, &m, (ms(1), ms(0)), 1);
        assert!((h.ramp_up_ms - 6.0).abs() < 1e-9, "{}", h.ramp_up_ms);
        assert!(
            (h.lateness_max_ms - 0.1).abs() < 1e-9,
            "{}",
            h.lateness_max_ms
        );
        assert!(
            !h.reasons.iter().any(|r| r.contains("lateness")),
            "{:?}",
            h.reasons
        );
        // The same sends on an open-loop schedule have no ramp-up: the 6 ms counts.
        cfg.request_rate = RequestRate::PerSecond {
            rate: 100.0,
            burstiness: 1.0,
        };
        let h = health(&cfg, &recs, &m, (ms(1), ms(0)), 1);
        assert_eq!(h.ramp_up_ms, 0.0);
        assert!((h.lateness_max_ms - 6.0).abs() < 1e-9);
        assert!(
            h.reasons.iter().any(|r| r.contains("lateness")),
            "{:?}",
            h.reasons
        );
    }
}
