//! Canonical metric names (SPEC 9.2) and the derived figures.
//!
//! Latency summaries are `{mean,median,std,p<N>}_{ttft,tpot,itl,e2el}_ms`, in milliseconds,
//! with vLLM's meanings: TTFT from send to the first token; TPOT the per-request mean time per
//! output token after the first, `(e2el - ttft) / (output_tokens - 1)`; ITL the pooled gaps
//! between chunks; E2EL send to last token. `p<N>` keeps the percentile as printed: `p99`,
//! `p99.9`, `p50`.

use std::collections::BTreeMap;

use crate::model::GpuCounts;

/// Every fixed canonical name (the latency summaries are a pattern, see [`is_canonical`]).
pub const FIXED: [&str; 15] = [
    REQUEST_THROUGHPUT,
    OUTPUT_TOKEN_THROUGHPUT,
    TOTAL_TOKEN_THROUGHPUT,
    USER_THROUGHPUT,
    COMPLETED,
    FAILED,
    TOTAL_INPUT_TOKENS,
    TOTAL_OUTPUT_TOKENS,
    DURATION_S,
    GOODPUT,
    MEAN_DECODED_TOKENS_PER_ITER,
    OUTPUT_TOKEN_THROUGHPUT_PER_GPU,
    OUTPUT_TOKEN_THROUGHPUT_PER_GEN_GPU,
    INTERACTIVITY,
    MEDIAN_TPOT_MS,
];

/// Completed requests per second.
pub const REQUEST_THROUGHPUT: &str = "request_throughput";
/// Output tokens per second.
pub const OUTPUT_TOKEN_THROUGHPUT: &str = "output_token_throughput";
/// Input plus output tokens per second.
pub const TOTAL_TOKEN_THROUGHPUT: &str = "total_token_throughput";
/// Mean over requests of output tokens / E2EL (TensorRT-LLM's `User throughput`).
pub const USER_THROUGHPUT: &str = "user_throughput";
/// Successful requests.
pub const COMPLETED: &str = "completed";
/// Failed requests.
pub const FAILED: &str = "failed";
/// Prompt tokens of successful requests.
pub const TOTAL_INPUT_TOKENS: &str = "total_input_tokens";
/// Output tokens of successful requests.
pub const TOTAL_OUTPUT_TOKENS: &str = "total_output_tokens";
/// Measured wall time, seconds.
pub const DURATION_S: &str = "duration_s";
/// Good requests per second (with SLOs).
pub const GOODPUT: &str = "goodput";
/// Speculative decoding: mean tokens decoded per iteration (vLLM's acceptance length).
pub const MEAN_DECODED_TOKENS_PER_ITER: &str = "mean_decoded_tokens_per_iter";
/// Output token throughput divided by every GPU of the deployment.
pub const OUTPUT_TOKEN_THROUGHPUT_PER_GPU: &str = "output_token_throughput_per_gpu";
/// Output token throughput divided by the GEN GPUs.
pub const OUTPUT_TOKEN_THROUGHPUT_PER_GEN_GPU: &str = "output_token_throughput_per_gen_gpu";
/// 1000 / median TPOT (ms): tokens per second one user sees.
pub const INTERACTIVITY: &str = "interactivity";
/// Median TPOT, the input of [`INTERACTIVITY`].
pub const MEDIAN_TPOT_MS: &str = "median_tpot_ms";

/// The four latency metrics, as they appear in canonical names.
pub const LATENCIES: [&str; 4] = ["ttft", "tpot", "itl", "e2el"];

/// Whether `name` is canonical: a fixed name, an energy or cost name ([`crate::energy::NAMES`]),
/// or `{mean,median,std,p<N>}_{ttft,tpot,itl,e2el}_ms`.
pub fn is_canonical(name: &str) -> bool {
    FIXED.contains(&name) || crate::energy::NAMES.contains(&name) || latency_parts(name).is_some()
}

/// Splits `p99.9_ttft_ms` into (`p99.9`, `ttft`); `None` if not a latency summary name.
pub fn latency_parts(name: &str) -> Option<(&str, &str)> {
    let rest = name.strip_suffix("_ms")?;
    let (stat, metric) = rest.rsplit_once('_')?;
    if !LATENCIES.contains(&metric) {
        return None;
    }
    let ok = matches!(stat, "mean" | "median" | "std")
        || stat.strip_prefix('p').is_some_and(|p| {
            !p.is_empty() && p.parse::<f64>().is_ok_and(|v| (0.0..=100.0).contains(&v))
        });
    ok.then_some((stat, metric))
}

/// The canonical statistic name for a percentile as printed (`99` -> `p99`, `99.90` -> `p99.9`,
/// `50` -> `p50`); `None` unless 0 <= p <= 100.
pub fn percentile_stat(p: &str) -> Option<String> {
    let v: f64 = p.trim().parse().ok()?;
    if !(0.0..=100.0).contains(&v) {
        return None;
    }
    // Python's `str(int(p)) if int(p) == p else str(p)`, as the clients print it.
    if v.fract() == 0.0 {
        Some(format!("p{}", v as u64))
    } else {
        Some(format!("p{v}"))
    }
}

/// Adds the derived figures (SPEC 9.2): per-GPU throughput (when the GPU counts are known),
/// interactivity (when the median TPOT is positive) and energy per token (when `energy_j` is
/// known, [`crate::energy::derive`]). Existing values are kept (a tool that
/// prints its own per-GPU throughput wins).
pub fn derive(metrics: &mut BTreeMap<String, f64>, gpus: GpuCounts) {
    if let Some(&tput) = metrics.get(OUTPUT_TOKEN_THROUGHPUT) {
        if gpus.total > 0 {
            metrics
                .entry(OUTPUT_TOKEN_THROUGHPUT_PER_GPU.into())
                .or_insert(tput / gpus.total as f64);
        }
        if gpus.r#gen > 0 {
            metrics
                .entry(OUTPUT_TOKEN_THROUGHPUT_PER_GEN_GPU.into())
                .or_insert(tput / gpus.r#gen as f64);
        }
    }
    if let Some(&tpot) = metrics.get(MEDIAN_TPOT_MS)
        && tpot > 0.0
    {
        metrics.entry(INTERACTIVITY.into()).or_insert(1000.0 / tpot);
    }
    crate::energy::derive(metrics);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for n in [
            "p99.9_ttft_ms",
            "p50_e2el_ms",
            "mean_itl_ms",
            "std_tpot_ms",
            "goodput",
            "interactivity",
        ] {
            assert!(is_canonical(n), "{n}");
        }
        for n in [
            "p_ttft_ms",
            "p101_ttft_ms",
            "mean_foo_ms",
            "max_ttft_ms",
            "ttft",
        ] {
            assert!(!is_canonical(n), "{n}");
        }
        assert_eq!(percentile_stat("99").as_deref(), Some("p99"));
        assert_eq!(percentile_stat("99.0").as_deref(), Some("p99"));
        assert_eq!(percentile_stat("99.9").as_deref(), Some("p99.9"));
        assert_eq!(percentile_stat("99.90").as_deref(), Some("p99.9"));
        assert_eq!(percentile_stat("0.1").as_deref(), Some("p0.1"));
        assert_eq!(percentile_stat("200"), None);
    }

    #[test]
    fn derived() {
        let mut m = BTreeMap::from([
            (OUTPUT_TOKEN_THROUGHPUT.to_string(), 1200.0),
            (MEDIAN_TPOT_MS.to_string(), 8.0),
        ]);
        derive(
            &mut m,
            GpuCounts {
                total: 12,
                r#gen: 8,
            },
        );
        assert_eq!(m[OUTPUT_TOKEN_THROUGHPUT_PER_GPU], 100.0);
        assert_eq!(m[OUTPUT_TOKEN_THROUGHPUT_PER_GEN_GPU], 150.0);
        assert_eq!(m[INTERACTIVITY], 125.0);
        let mut m = BTreeMap::from([(MEDIAN_TPOT_MS.to_string(), 0.0)]);
        derive(&mut m, GpuCounts::default());
        assert_eq!(m.len(), 1);
    }
}
