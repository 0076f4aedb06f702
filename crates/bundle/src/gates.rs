//! The bundle's gates (SPEC 9.3, 10.2): the metric extractor the collector runs over the logs,
//! and one accuracy gate per configured dataset with upstream's per-dataset defaults.

use servebench_launch::{AccuracyGate, AccuracyRule, Gates, MetricExtractor};

use crate::accuracy::file_safe;
use crate::{Ctx, LOG_DIR};

/// Upstream's hypothesis-test defaults per dataset (reference/upstream.md 9): alpha, beta,
/// sigma (percentage points), samples, higher is better. Unknown datasets take
/// [`UNKNOWN_DATASET`].
const DATASET_DEFAULTS: &[(&str, f64, f64, f64, u64, bool)] = &[
    ("gsm8k", 0.05, 0.2, 50.0, 1319, true),
    ("mmlu", 0.05, 0.2, 50.0, 4096, true),
    ("aime25", 0.05, 0.2, 50.0, 30, true),
    ("gpqa_diamond", 0.05, 0.2, 50.0, 198, true),
    ("gpqa_diamond_local", 0.05, 0.2, 50.0, 198, true),
    ("humaneval", 0.002, 0.2, 15.08, 164, true),
    ("cnn_dailymail", 0.002, 0.2, 11.06, 512, true),
    ("json_mode_eval", 0.05, 0.2, 50.0, 100, true),
    ("mmmu", 0.05, 0.2, 50.0, 900, true),
    ("passkey_retrieval_64k", 0.5, 0.2, 0.0, 20, true),
    ("passkey_retrieval_128k", 0.5, 0.2, 0.0, 20, true),
    ("zero_scrolls", 0.002, 0.2, 6.97, 80, true),
    ("slimpajama-6b", 0.01, 0.2, 4.48, 86, false),
];

/// Defaults of a dataset upstream does not list.
const UNKNOWN_DATASET: (f64, f64, f64, u64, bool) = (0.05, 0.2, 50.0, 1000, true);

/// The rule of `dataset`: its threshold type, with the config's overrides applied.
fn rule(ds: &servebench_config::model::AccuracyDataset) -> AccuracyRule {
    use servebench_config::model::ThresholdType;
    // Validation requires `threshold` for these two; 0 (no drop allowed) is never reached.
    let threshold = ds.threshold.unwrap_or(0.0);
    match ds.threshold_type {
        ThresholdType::Absolute => AccuracyRule::Absolute { threshold },
        ThresholdType::Relative => AccuracyRule::Relative { threshold },
        ThresholdType::HypothesisTest => hypothesis(ds),
    }
}

/// The hypothesis rule of `dataset`, with the config's overrides applied.
fn hypothesis(ds: &servebench_config::model::AccuracyDataset) -> AccuracyRule {
    let (alpha, beta, sigma, n, hib) = DATASET_DEFAULTS
        .iter()
        .find(|d| d.0 == ds.name)
        .map_or(UNKNOWN_DATASET, |d| (d.1, d.2, d.3, d.4, d.5));
    AccuracyRule::Hypothesis {
        alpha: ds.alpha.unwrap_or(alpha),
        beta: ds.beta.unwrap_or(beta),
        sigma: ds.sigma.unwrap_or(sigma),
        num_samples: ds.num_samples.unwrap_or(n),
        higher_is_better: ds.higher_is_better.unwrap_or(hib),
    }
}

/// The gates of the case.
pub(crate) fn gates(ctx: &Ctx<'_>) -> Gates {
    let cfg = &ctx.case.config;
    let m = &cfg.metrics;
    // Only a config's own override is a gate: the built-in defaults restate what the result
    // parsers already read (SPEC 9.3), and the validity checks already require it.
    let overridden = ["metadata.metrics", "benchmark.metrics"].iter().any(|k| {
        let pattern = format!("{k}.extractor_pattern");
        cfg.tree.at(&pattern).is_some()
            && !matches!(
                cfg.provenance.get(&pattern),
                Some(servebench_config::model::Origin::Default)
            )
    });
    let metrics = if m.extractor_pattern.is_empty() || !overridden {
        Vec::new()
    } else {
        vec![MetricExtractor {
            log_file: m.log_file.clone(),
            pattern: m.extractor_pattern.clone(),
            names: m.metric_names.clone(),
        }]
    };
    let accuracy = if cfg.accuracy.enable_accuracy_test {
        cfg.metadata
            .accuracy
            .iter()
            .map(|ds| {
                let safe = file_safe(&ds.name);
                AccuracyGate {
                    dataset: ds.name.clone(),
                    filter: ds.filter_type.clone(),
                    expected: ds.expected_value,
                    rule: rule(ds),
                    log: format!("{LOG_DIR}/7_accuracy_eval_{safe}.log"),
                    output_dir: format!("{LOG_DIR}/accuracy_eval_{safe}"),
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    Gates { metrics, accuracy }
}
