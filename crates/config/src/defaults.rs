//! Built-in defaults, defined once: the lowest layer (SPEC 3.4), the values the decoders fall
//! back to when a field is present but unusable (its diagnostic is reported), and the default
//! metrics per (test type, category) (SPEC 9.3).
//!
//! The loader writes [`disagg_tree`] and [`AGG_CLIENT_TREE`] into the resolved tree (so `show
//! --resolved` and the fingerprint see them, with origin `default`); the typed decoders read the
//! same constants. Later layers (plan, bundle, exec) read the typed fields, or these constants
//! where they need a default of their own.

use crate::model::{ConcurrencyScope, Engine, Metrics, Mode, Placement, ThresholdType};
use crate::yaml::Value;

/// `engine` when absent.
pub const ENGINE: Engine = Engine::Trtllm;
/// `metadata.model_name` when absent (upstream's value; a warning says so).
pub const MODEL_NAME: &str = "unknown";
/// `metadata.precision` when absent.
pub const PRECISION: &str = "unknown";
/// `benchmark.mode`.
pub const MODE: Mode = Mode::E2e;
/// `benchmark.streaming` (aggregated clients: `streaming`).
pub const STREAMING: bool = true;
/// `benchmark.multi_round` (aggregated clients: `iterations`).
pub const MULTI_ROUND: u64 = 1;
/// `benchmark.benchmark_ratio` (aggregated clients: `random_range_ratio`): lengths are drawn in
/// `[floor(len * ratio), len]` (upstream's SGLang-style random dataset), so 1.0 is fixed
/// lengths. Upstream leaves an absent ratio at 0.0, which draws anything from 1 token up;
/// servebench defaults to fixed lengths, which is what a benchmark of given ISL/OSL means
/// (a written `0.0` is taken literally).
pub const BENCHMARK_RATIO: f64 = 1.0;
/// `benchmark.use_nv_sa_benchmark`.
pub const USE_NV_SA_BENCHMARK: bool = false;
/// `benchmark.enable_benchmark`.
pub const ENABLE_BENCHMARK: bool = true;
/// `benchmark.only_run_accuracy`.
pub const ONLY_RUN_ACCURACY: bool = false;
/// `benchmark.repeats`.
pub const REPEATS: u64 = 1;
/// `benchmark.max_failed_pct`: the share of failed requests a valid run may have (SPEC 10.1).
pub const MAX_FAILED_PCT: f64 = 0.0;
/// Input and output length of aggregated clients and the aggregated example (`isl`/`osl`).
pub const SEQUENCE_LENGTH: u64 = 1024;
/// Concurrency of an aggregated client without one.
pub const CLIENT_CONCURRENCY: u64 = 1;
/// `backend` of an aggregated client.
pub const CLIENT_BACKEND: &str = "openai";
/// `trust_remote_code` of an aggregated client.
pub const CLIENT_TRUST_REMOTE_CODE: bool = true;
/// `hardware.placement` (SPEC 5.2).
pub const PLACEMENT: Placement = Placement::Packed;
/// Default oversubscription tolerance of the gen capacity (SPEC 4 rule 5).
pub const OVERSUBSCRIPTION_TOLERANCE: f64 = 0.25;
/// Default seconds to wait for servers to become healthy.
pub const SERVER_HEALTH_TIMEOUT: u64 = 1800;
/// Default capacity per ctx server of the legacy ctx calculation (SPEC 5.3).
pub const LEGACY_CTX_CAPACITY: u64 = 5500;
/// lm_eval model type of an accuracy task (`accuracy.model`).
pub const ACCURACY_MODEL: &str = "local-completions";
/// `threshold_type` of an accuracy dataset.
pub const THRESHOLD_TYPE: ThresholdType = ThresholdType::HypothesisTest;
/// `filter_type` of an accuracy dataset.
pub const ACCURACY_FILTER: &str = "flexible-extract";

/// `benchmark.concurrency_scope` of a disaggregated config: perf-sanity counts the total, every
/// other category per generation server (SPEC 7.3).
pub fn concurrency_scope(category: &str) -> ConcurrencyScope {
    if category == "perf-sanity" {
        ConcurrencyScope::Total
    } else {
        ConcurrencyScope::PerGenServer
    }
}

/// The defaults a disaggregated tree gets where the file (and every layer) leaves them out.
pub fn disagg_tree(category: &str) -> [(&'static str, Value); 12] {
    let scope = match concurrency_scope(category) {
        ConcurrencyScope::Total => "total",
        ConcurrencyScope::PerGenServer => "per_gen_server",
    };
    [
        ("benchmark.mode", Value::Str(MODE.as_str().into())),
        ("benchmark.streaming", Value::Bool(STREAMING)),
        ("benchmark.multi_round", Value::Int(MULTI_ROUND as i64)),
        ("benchmark.benchmark_ratio", Value::Float(BENCHMARK_RATIO)),
        (
            "benchmark.use_nv_sa_benchmark",
            Value::Bool(USE_NV_SA_BENCHMARK),
        ),
        ("benchmark.enable_benchmark", Value::Bool(ENABLE_BENCHMARK)),
        (
            "benchmark.only_run_accuracy",
            Value::Bool(ONLY_RUN_ACCURACY),
        ),
        ("benchmark.repeats", Value::Int(REPEATS as i64)),
        ("benchmark.concurrency_scope", Value::Str(scope.into())),
        (
            "benchmark.oversubscription_tolerance",
            Value::Float(OVERSUBSCRIPTION_TOLERANCE),
        ),
        ("hardware.placement", Value::Str(PLACEMENT.as_str().into())),
        (
            "environment.server_health_timeout",
            Value::Int(SERVER_HEALTH_TIMEOUT as i64),
        ),
    ]
}

/// An aggregated client's tree defaults: (key, the alternative spelling that counts as set,
/// value).
pub const AGG_CLIENT_TREE: [(&str, &str, AggDefault); 8] = [
    (
        "concurrency",
        "concurrency_list",
        AggDefault::Int(CLIENT_CONCURRENCY),
    ),
    ("iterations", "iterations", AggDefault::Int(MULTI_ROUND)),
    ("isl", "input_length", AggDefault::Int(SEQUENCE_LENGTH)),
    ("osl", "output_length", AggDefault::Int(SEQUENCE_LENGTH)),
    (
        "random_range_ratio",
        "random_range_ratio",
        AggDefault::Float(BENCHMARK_RATIO),
    ),
    ("backend", "backend", AggDefault::Str(CLIENT_BACKEND)),
    ("streaming", "streaming", AggDefault::Bool(STREAMING)),
    (
        "trust_remote_code",
        "trust_remote_code",
        AggDefault::Bool(CLIENT_TRUST_REMOTE_CODE),
    ),
];

/// A constant tree default (a [`Value`] cannot be built in a `const`).
#[derive(Debug, Clone, Copy)]
pub enum AggDefault {
    /// An integer.
    Int(u64),
    /// A float.
    Float(f64),
    /// A string.
    Str(&'static str),
    /// A boolean.
    Bool(bool),
}

impl AggDefault {
    /// The YAML value.
    pub fn value(self) -> Value {
        match self {
            AggDefault::Int(i) => Value::Int(i64::try_from(i).unwrap_or(i64::MAX)),
            AggDefault::Float(f) => Value::Float(f),
            AggDefault::Str(s) => Value::Str(s.into()),
            AggDefault::Bool(b) => Value::Bool(b),
        }
    }
}

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
