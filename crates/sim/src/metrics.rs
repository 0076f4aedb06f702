//! Prometheus `/metrics` of a simulated server.
//!
//! Gauges and counters use vLLM's names where vLLM has one (so existing dashboards and scrapers
//! work); the iteration histogram and request counters are the simulator's own.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Upper bounds of the iteration time histogram, seconds (simulated time).
pub const ITERATION_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56,
];

/// Live counters, updated by the engine task and the request handlers.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Requests in the running batch.
    pub running: AtomicU64,
    /// Requests waiting for admission.
    pub waiting: AtomicU64,
    /// KV cache usage fraction, as `f64` bits.
    pub kv_usage_bits: AtomicU64,
    /// Prompt tokens processed.
    pub prompt_tokens: AtomicU64,
    /// Output tokens produced.
    pub generation_tokens: AtomicU64,
    /// Prompt tokens looked up in the prefix cache.
    pub prefix_cache_queries: AtomicU64,
    /// Prompt tokens found in the prefix cache (reused, not computed).
    pub prefix_cache_hits: AtomicU64,
    /// Requests answered in full.
    pub requests_ok: AtomicU64,
    /// Requests answered with an error status.
    pub requests_error: AtomicU64,
    /// Streams cut by the `cut-stream-rate` fault or by the client going away.
    pub requests_aborted: AtomicU64,
    /// Histogram bucket counts (non-cumulative), plus one overflow bucket.
    pub iteration_buckets: [AtomicU64; ITERATION_BUCKETS.len() + 1],
    /// Iterations run.
    pub iterations: AtomicU64,
    /// Sum of iteration times, nanoseconds of simulated time.
    pub iteration_nanos: AtomicU64,
}

impl Metrics {
    /// Records one iteration.
    pub fn observe_iteration(&self, seconds: f64) {
        let i = ITERATION_BUCKETS
            .iter()
            .position(|b| seconds <= *b)
            .unwrap_or(ITERATION_BUCKETS.len());
        if let Some(b) = self.iteration_buckets.get(i) {
            b.fetch_add(1, Relaxed);
        }
        self.iterations.fetch_add(1, Relaxed);
        self.iteration_nanos
            .fetch_add((seconds * 1e9) as u64, Relaxed);
    }

    /// Renders the Prometheus text exposition format (version 0.0.4).
    pub fn render(&self, model: &str) -> String {
        let mut o = String::with_capacity(2048);
        let label = format!("model_name=\"{}\"", model.replace(['"', '\\', '\n'], "_"));
        let gauge = |o: &mut String, name: &str, help: &str, v: String| {
            let _ = writeln!(
                o,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name}{{{label}}} {v}"
            );
        };
        let counter = |o: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(
                o,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name}{{{label}}} {v}"
            );
        };
        gauge(
            &mut o,
            "vllm:num_requests_running",
            "Requests in the running batch.",
            self.running.load(Relaxed).to_string(),
        );
        gauge(
            &mut o,
            "vllm:num_requests_waiting",
            "Requests waiting to be scheduled.",
            self.waiting.load(Relaxed).to_string(),
        );
        let kv = f64::from_bits(self.kv_usage_bits.load(Relaxed));
        gauge(
            &mut o,
            "vllm:kv_cache_usage_perc",
            "KV cache usage (1 = full).",
            format!("{kv:.6}"),
        );
        counter(
            &mut o,
            "vllm:prompt_tokens_total",
            "Prompt tokens processed.",
            self.prompt_tokens.load(Relaxed),
        );
        counter(
            &mut o,
            "vllm:generation_tokens_total",
            "Output tokens produced.",
            self.generation_tokens.load(Relaxed),
        );
        counter(
            &mut o,
            "vllm:prefix_cache_queries_total",
            "Prompt tokens looked up in the prefix cache.",
            self.prefix_cache_queries.load(Relaxed),
        );
        counter(
            &mut o,
            "vllm:prefix_cache_hits_total",
            "Prompt tokens found in the prefix cache.",
            self.prefix_cache_hits.load(Relaxed),
        );
        let name = "servebench_sim_requests_total";
        let _ = writeln!(
            o,
            "# HELP {name} Requests by outcome.\n# TYPE {name} counter"
        );
        for (outcome, c) in [
            ("ok", &self.requests_ok),
            ("error", &self.requests_error),
            ("aborted", &self.requests_aborted),
        ] {
            let _ = writeln!(
                o,
                "{name}{{{label},outcome=\"{outcome}\"}} {}",
                c.load(Relaxed)
            );
        }
        let name = "servebench_sim_iteration_duration_seconds";
        let _ = writeln!(
            o,
            "# HELP {name} Simulated time of one engine iteration.\n# TYPE {name} histogram"
        );
        let mut cumulative = 0;
        for (bound, count) in ITERATION_BUCKETS.iter().zip(&self.iteration_buckets) {
            cumulative += count.load(Relaxed);
            let _ = writeln!(o, "{name}_bucket{{{label},le=\"{bound}\"}} {cumulative}");
        }
        let total = self.iterations.load(Relaxed);
        let _ = writeln!(o, "{name}_bucket{{{label},le=\"+Inf\"}} {total}");
        let sum = self.iteration_nanos.load(Relaxed) as f64 / 1e9;
        let _ = writeln!(
            o,
            "{name}_sum{{{label}}} {sum}\n{name}_count{{{label}}} {total}"
        );
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative() {
        let m = Metrics::default();
        m.observe_iteration(0.003);
        m.observe_iteration(0.003);
        m.observe_iteration(10.0);
        let text = m.render("m");
        assert!(text.contains(
            "servebench_sim_iteration_duration_seconds_bucket{model_name=\"m\",le=\"0.0025\"} 0"
        ));
        assert!(text.contains(
            "servebench_sim_iteration_duration_seconds_bucket{model_name=\"m\",le=\"0.005\"} 2"
        ));
        assert!(text.contains(
            "servebench_sim_iteration_duration_seconds_bucket{model_name=\"m\",le=\"+Inf\"} 3"
        ));
        assert!(
            text.contains("servebench_sim_iteration_duration_seconds_count{model_name=\"m\"} 3")
        );
    }
}
