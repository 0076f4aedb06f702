//! The metric name cross-walk between servebench's canonical names (SPEC 9.2) and upstream's:
//! the disagg framework's CSV `metric_type` and the perf-sanity OpenSearch fields.

const STATS: [&str; 3] = ["mean", "median", "p99"];
const LATENCIES: [&str; 4] = ["ttft", "tpot", "itl", "e2el"];

/// The canonical name of an upstream metric name: `DISAGG_SERVER_TTFT` and
/// `SERVER_MEDIAN_TTFT` -> `median_ttft_ms`, `SERVER_P99_ITL` -> `p99_itl_ms`, perf-sanity
/// `seq_throughput` -> `request_throughput`, `token_throughput` -> `output_token_throughput`,
/// `mean_ttft` -> `mean_ttft_ms`, `al` -> `mean_decoded_tokens_per_iter`. Any other name is
/// returned unchanged (it is already canonical, or has no canonical counterpart).
pub fn canonical_metric(name: &str) -> String {
    match name {
        "DISAGG_SERVER_TTFT" => return "median_ttft_ms".into(),
        "DISAGG_SERVER_E2EL" => return "median_e2el_ms".into(),
        "seq_throughput" => return "request_throughput".into(),
        "token_throughput" => return "output_token_throughput".into(),
        "al" => return "mean_decoded_tokens_per_iter".into(),
        _ => {}
    }
    if let Some(rest) = name.strip_prefix("SERVER_")
        && let Some((stat, lat)) = rest.split_once('_')
    {
        let (stat, lat) = (stat.to_ascii_lowercase(), lat.to_ascii_lowercase());
        if STATS.contains(&stat.as_str()) && LATENCIES.contains(&lat.as_str()) {
            return format!("{stat}_{lat}_ms");
        }
    }
    if let Some((stat, lat)) = name.split_once('_')
        && STATS.contains(&stat)
        && LATENCIES.contains(&lat)
    {
        return format!("{name}_ms");
    }
    name.to_string()
}

/// The disagg framework's CSV `metric_type` for a canonical metric: median TTFT and E2EL
/// use the current default names (`DISAGG_SERVER_TTFT`, `DISAGG_SERVER_E2EL`), the other
/// mean/median/p99 latencies the wide-EP names (`SERVER_P99_TPOT`); anything else keeps its
/// canonical name.
pub fn upstream_csv_name(canonical: &str) -> String {
    match canonical {
        "median_ttft_ms" => return "DISAGG_SERVER_TTFT".into(),
        "median_e2el_ms" => return "DISAGG_SERVER_E2EL".into(),
        _ => {}
    }
    if let Some(base) = canonical.strip_suffix("_ms")
        && let Some((stat, lat)) = base.split_once('_')
        && STATS.contains(&stat)
        && LATENCIES.contains(&lat)
    {
        return format!(
            "SERVER_{}_{}",
            stat.to_ascii_uppercase(),
            lat.to_ascii_uppercase()
        );
    }
    canonical.to_string()
}

/// The perf-sanity field stem of a canonical metric (`d_<stem>` in OpenSearch):
/// `request_throughput` -> `seq_throughput`, `output_token_throughput` -> `token_throughput`,
/// `median_ttft_ms` -> `median_ttft`, `mean_decoded_tokens_per_iter` -> `al`.
pub(crate) fn perf_sanity_name(canonical: &str) -> String {
    match canonical {
        "request_throughput" => "seq_throughput".into(),
        "output_token_throughput" => "token_throughput".into(),
        "mean_decoded_tokens_per_iter" => "al".into(),
        _ => match canonical.strip_suffix("_ms") {
            Some(base)
                if base
                    .split_once('_')
                    .is_some_and(|(_, lat)| LATENCIES.contains(&lat)) =>
            {
                base.to_string()
            }
            _ => canonical.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_names_map_both_ways() {
        for (up, canon) in [
            ("DISAGG_SERVER_TTFT", "median_ttft_ms"),
            ("DISAGG_SERVER_E2EL", "median_e2el_ms"),
            ("SERVER_P99_TPOT", "p99_tpot_ms"),
            ("SERVER_MEAN_ITL", "mean_itl_ms"),
        ] {
            assert_eq!(canonical_metric(up), canon);
            assert_eq!(upstream_csv_name(canon), up);
        }
        assert_eq!(canonical_metric("SERVER_MEDIAN_TTFT"), "median_ttft_ms");
        assert_eq!(canonical_metric("seq_throughput"), "request_throughput");
        assert_eq!(canonical_metric("median_ttft"), "median_ttft_ms");
        assert_eq!(canonical_metric("goodput"), "goodput");
        assert_eq!(
            upstream_csv_name("output_token_throughput"),
            "output_token_throughput"
        );
        assert_eq!(
            perf_sanity_name("output_token_throughput"),
            "token_throughput"
        );
        assert_eq!(perf_sanity_name("p99_e2el_ms"), "p99_e2el");
        assert_eq!(perf_sanity_name("duration_s"), "duration_s");
    }
}
