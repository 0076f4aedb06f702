//! Built-in defaults: the lowest layer (SPEC 3.4) and the default metrics per
//! (test type, category) (SPEC 9.3).

use crate::model::Metrics;

/// Upstream's perf pattern for the `benchmark_serving` block: median TTFT, median E2EL, then the
/// concurrency from the `Benchmark with concurrency N done` marker.
const DISAGG_PERF_PATTERN: &str = r"^.*?Median\ TTFT\ \(ms\):\s+([0-9.]+).*?$\n
(?:.*\n)*?
^.*?Median\ E2EL\ \(ms\):\s+([0-9.]+).*?$\n
(?:.*\n)*?
^.*?Benchmark\ with\ concurrency\ (\d+)\ done";

/// Upstream's accuracy pattern over lm_eval tables: task, filter, exact_match value. Unlike
/// upstream it allows the space padding of the filter column, so `strict-match` rows parse.
const ACCURACY_PATTERN: &str = r"\|\s*([a-zA-Z0-9_-]+)\s*\|.*?\|\s*([\w-]+)\s*\|.*?\|\s*exact_match\s*\|.*?\|\s*([0-9.]+)\s*\|";

/// The wide-EP perf metrics: mean/median/p99 of TTFT, TPOT, ITL and E2EL, then the concurrency.
fn wideep_pattern() -> String {
    let mut out = String::new();
    for metric in ["TTFT", "TPOT", "ITL", "E2EL"] {
        for stat in ["Mean", "Median", "P99"] {
            out.push_str(&format!(
                "^.*?{stat}\\ {metric}\\ \\(ms\\):\\s+([0-9.]+).*?$\\n\n(?:.*\\n)*?\n"
            ));
        }
    }
    out.push_str(r"^.*?Benchmark\ with\ concurrency\ (\d+)\ done");
    out
}

/// The default metrics of a (test type, category). Perf-sanity gets the perf defaults (upstream
/// had none, so those configs were silently never collected).
pub fn metrics_for(test_type: &str, category: &str) -> Metrics {
    if category == "accuracy" {
        return Metrics {
            log_file: "7_accuracy_eval_*.log".into(),
            extractor_pattern: ACCURACY_PATTERN.into(),
            metric_names: vec!["flexible-extract".into(), "strict-match".into()],
        };
    }
    if test_type == "wideep" {
        let mut names = Vec::new();
        for metric in ["TTFT", "TPOT", "ITL", "E2EL"] {
            for stat in ["MEAN", "MEDIAN", "P99"] {
                names.push(format!("SERVER_{stat}_{metric}"));
            }
        }
        return Metrics {
            log_file: "6_bench.log".into(),
            extractor_pattern: wideep_pattern(),
            metric_names: names,
        };
    }
    Metrics {
        log_file: "6_bench.log".into(),
        extractor_pattern: DISAGG_PERF_PATTERN.into(),
        metric_names: vec!["SERVER_MEDIAN_TTFT".into(), "SERVER_MEDIAN_E2EL".into()],
    }
}

/// Default oversubscription tolerance of the gen capacity (SPEC 4 rule 5).
pub const OVERSUBSCRIPTION_TOLERANCE: f64 = 0.25;
/// Default seconds to wait for servers to become healthy.
pub const SERVER_HEALTH_TIMEOUT: u64 = 1800;
/// Default capacity per ctx server of the legacy ctx calculation (SPEC 5.3).
pub const LEGACY_CTX_CAPACITY: u64 = 5500;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_pattern_has_one_group_per_name_plus_concurrency() {
        for (t, c) in [
            ("disagg", "perf"),
            ("wideep", "perf"),
            ("disagg", "perf-sanity"),
            ("disagg", "stress"),
        ] {
            let m = metrics_for(t, c);
            let groups = m.extractor_pattern.matches("([").count()
                + m.extractor_pattern.matches("(\\d").count();
            assert_eq!(groups, m.metric_names.len() + 1, "{t}/{c}");
        }
        assert_eq!(
            metrics_for("disagg", "accuracy").metric_names,
            ["flexible-extract", "strict-match"]
        );
    }
}
