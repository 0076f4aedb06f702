//! Decoders of the sections every format shares: metadata (with accuracy thresholds), metrics,
//! slurm, environment, profiling, accuracy tasks and engine.

use std::collections::BTreeMap;

use super::keys::*;
use crate::decode::{Decoder, display_path, join};
use crate::defaults;
use crate::diag::{Diagnostic, Rule, Severity};
use crate::model::{
    Accuracy, AccuracyDataset, AccuracyTask, Engine, Environment, Metadata, Metrics, Profiling,
    Slurm, ThresholdType,
};
use crate::yaml::{Node, Value};

/// `hardware.gpus_per_node`: one error when it is missing or not a positive integer, and then
/// `None` (never a made-up value for the planner).
pub(super) fn decode_gpus_per_node(dec: &mut Decoder<'_>, root: &Node, hw: &Node) -> Option<u64> {
    let gpn = dec.positive_uint(hw, "hardware", "gpus_per_node");
    if hw.get("gpus_per_node").is_none_or(Node::is_null) {
        missing(
            dec,
            root,
            "hardware.gpus_per_node",
            "GPUs per node, e.g. 4",
            "add `gpus_per_node: 4` under `hardware:`",
        );
    }
    gpn
}

/// An empty mapping, standing in for an absent section.
pub(super) fn empty_map() -> Node {
    Node::synthetic(Value::Map(Vec::new()))
}

/// Reports a missing required field, pointing at its section.
pub(super) fn missing(dec: &mut Decoder<'_>, root: &Node, field: &str, expected: &str, hint: &str) {
    let parent = field.rsplit_once('.').map_or("", |p| p.0);
    // Point at the enclosing section, or the start of the document when it is absent too.
    let span = if parent.is_empty() {
        None
    } else {
        root.at(parent).map(|n| n.span).filter(|s| s.line > 0)
    }
    .or(Some(root.span));
    dec.push(
        Diagnostic::new(
            Rule::MissingField,
            dec.file,
            display_path(field),
            format!("required field `{}` is missing", display_path(field)),
        )
        .at(span)
        .expected(expected.to_string())
        .hint(hint.to_string()),
    );
}

/// A string naming one of `all`; anything else is an invalid-value error with a did-you-mean,
/// and `default` is returned.
pub(super) fn enum_value<T: Copy>(
    dec: &mut Decoder<'_>,
    sec: &Node,
    path: &str,
    key: &str,
    all: &[(&str, T)],
    default: T,
) -> T {
    enum_value_rule(dec, sec, path, key, all, default, Rule::InvalidValue)
}

/// [`enum_value`] reporting under a specific rule.
fn enum_value_rule<T: Copy>(
    dec: &mut Decoder<'_>,
    sec: &Node,
    path: &str,
    key: &str,
    all: &[(&str, T)],
    default: T,
    rule: Rule,
) -> T {
    let Some(text) = dec.string(sec, path, key) else {
        return default;
    };
    if let Some((_, v)) = all.iter().find(|(name, _)| *name == text) {
        return *v;
    }
    let names: Vec<&str> = all.iter().map(|(n, _)| *n).collect();
    let suggestion = crate::diag::did_you_mean(&text, names.iter().copied());
    let node_span = sec.get(key).map(|n| n.span);
    dec.push(
        Diagnostic::new(
            rule,
            dec.file,
            display_path(&join(path, key)),
            format!(
                "`{}` is `{text}`, which is not a known value",
                display_path(&join(path, key))
            ),
        )
        .at(node_span)
        .actual(text.clone())
        .expected(format!("one of: {}", names.join(", ")))
        .hint(match suggestion {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("use one of: {}", names.join(", ")),
        }),
    );
    default
}

pub(super) fn decode_metadata(dec: &mut Decoder<'_>, root: &Node) -> Metadata {
    let empty = empty_map();
    let sec = dec.map(root, "", "metadata").unwrap_or(&empty);
    let model_name = dec.string(sec, "metadata", "model_name");
    if model_name.is_none() {
        // Upstream defaults it to "unknown"; results would be filed under that name.
        missing(
            dec,
            root,
            "metadata.model_name",
            "the model id, e.g. `deepseek_r1_0528_fp4_v2`",
            "add `model_name:` under `metadata:` (results are reported under `unknown` until then)",
        );
        if let Some(d) = dec.diags.last_mut() {
            d.severity = Severity::Warning;
        }
    }
    let mut supported = dec
        .strings(sec, "metadata", "supported_gpus")
        .unwrap_or_default();
    if let Some(hw) = root
        .get("hardware")
        .filter(|h| h.get("supported_gpus").is_some())
        && sec.get("supported_gpus").is_some_and(|n| n.span.line == 0)
    {
        // Legacy `hardware.supported_gpus` wins over the built-in default.
        supported = dec
            .strings(hw, "hardware", "supported_gpus")
            .unwrap_or_default();
    }
    let tags = dec.strings(sec, "metadata", "tags").unwrap_or_default();
    let mut accuracy = Vec::new();
    if let Some(acc) = dec.map(sec, "metadata", "accuracy") {
        dec.check_keys(acc, "metadata.accuracy", &["datasets", "metrics"]);
        if let Some(list) = acc.get("datasets") {
            match &list.value {
                Value::Seq(items) => {
                    for (i, item) in items.iter().enumerate() {
                        let path = format!("metadata.accuracy.datasets.{i}");
                        if !matches!(item.value, Value::Map(_)) {
                            dec.push(
                                Diagnostic::new(
                                    Rule::WrongType,
                                    dec.file,
                                    display_path(&path),
                                    "an accuracy dataset must be a mapping",
                                )
                                .at(Some(item.span))
                                .expected(
                                    "{dataset_name, expected_value, threshold_type, filter_type}",
                                ),
                            );
                            continue;
                        }
                        accuracy.push(decode_dataset(dec, item, &path));
                    }
                }
                Value::Null => {}
                _ => dec.push(
                    Diagnostic::new(
                        Rule::WrongType,
                        dec.file,
                        "metadata.accuracy.datasets",
                        "`datasets` must be a list",
                    )
                    .at(Some(list.span))
                    .expected("a list of datasets"),
                ),
            }
        }
        if let Some(m) = dec.map(acc, "metadata.accuracy", "metrics") {
            dec.check_keys(m, "metadata.accuracy.metrics", METRICS_KEYS);
        }
    }
    let _ = dec.string(sec, "metadata", "benchmark_type");
    Metadata {
        model_name: model_name.unwrap_or_else(|| defaults::MODEL_NAME.into()),
        precision: dec
            .string(sec, "metadata", "precision")
            .unwrap_or_else(|| defaults::PRECISION.into()),
        model_dir_name: dec
            .string(sec, "metadata", "model_dir_name")
            .unwrap_or_default(),
        supported_gpus: supported,
        tags,
        accuracy,
        use_legacy_ctx_calculation: dec
            .boolean(sec, "metadata", "use_legacy_ctx_calculation")
            .unwrap_or(false),
        ctx_capacity: dec
            .uint(sec, "metadata", "ctx_capacity")
            .unwrap_or(defaults::LEGACY_CTX_CAPACITY),
    }
}

fn decode_dataset(dec: &mut Decoder<'_>, item: &Node, path: &str) -> AccuracyDataset {
    dec.check_keys(item, path, DATASET_KEYS);
    let name = one_of_keys(dec, item, path, "dataset_name", "name");
    if name.is_none() {
        missing(
            dec,
            item,
            &join(path, "dataset_name"),
            "the lm_eval task name, e.g. gsm8k",
            "add `dataset_name: gsm8k`",
        );
    }
    let filter_type = one_of_keys(dec, item, path, "filter_type", "filter")
        .unwrap_or_else(|| defaults::ACCURACY_FILTER.into());
    let types: Vec<(&str, ThresholdType)> = ThresholdType::ALL
        .iter()
        .map(|t| (t.as_str(), *t))
        .collect();
    let threshold_type = enum_value_rule(
        dec,
        item,
        path,
        "threshold_type",
        &types,
        defaults::THRESHOLD_TYPE,
        Rule::AccuracyThreshold,
    );
    let threshold = dec.number(item, path, "threshold");
    match (threshold_type, threshold) {
        (ThresholdType::Absolute | ThresholdType::Relative, None)
            if item.get("threshold").is_none() =>
        {
            dec.push(
                Diagnostic::new(
                    Rule::AccuracyThreshold,
                    dec.file,
                    display_path(&join(path, "threshold")),
                    format!(
                        "`threshold_type: {}` needs a `threshold`",
                        threshold_type.as_str()
                    ),
                )
                .at(item.get("threshold_type").map(|n| n.span))
                .expected("the allowed drop, e.g. `threshold: 0.02`")
                .hint("add `threshold:` to this dataset, or use `threshold_type: hypothesis_test`"),
            );
        }
        (ThresholdType::Absolute | ThresholdType::Relative, Some(t))
            if !(0.0..1.0).contains(&t) =>
        {
            dec.push(
                Diagnostic::new(
                    Rule::AccuracyThreshold,
                    dec.file,
                    display_path(&join(path, "threshold")),
                    format!("threshold {t} is outside [0, 1)"),
                )
                .at(item.get("threshold").map(|n| n.span))
                .actual(t.to_string())
                .expected("a fraction in [0, 1), like expected_value")
                .hint("write e.g. `threshold: 0.02` for two points"),
            );
        }
        _ => {}
    }
    AccuracyDataset {
        name: name.unwrap_or_default(),
        expected_value: dec.number(item, path, "expected_value").unwrap_or(0.0),
        threshold_type,
        threshold,
        filter_type,
        alpha: dec.number(item, path, "alpha"),
        beta: dec.number(item, path, "beta"),
        sigma: dec.number(item, path, "sigma"),
        num_samples: dec.uint(item, path, "num_samples"),
        higher_is_better: dec.boolean(item, path, "higher_is_better"),
    }
}

/// A field with two spellings (`dataset_name`/`name`): both set to different values is an error.
fn one_of_keys(
    dec: &mut Decoder<'_>,
    item: &Node,
    path: &str,
    key: &str,
    alt: &str,
) -> Option<String> {
    let a = dec.string(item, path, key);
    let b = dec.string(item, path, alt);
    if let (Some(a), Some(b)) = (&a, &b)
        && a != b
    {
        dec.push(
            Diagnostic::new(
                Rule::ConflictingKeys,
                dec.file,
                display_path(path),
                format!("both `{key}: {a}` and `{alt}: {b}` are set"),
            )
            .at(item.get(alt).map(|n| n.span))
            .expected(format!("one of `{key}` or `{alt}`"))
            .hint(format!("keep `{key}` and remove `{alt}`")),
        );
    }
    a.or(b)
}

pub(super) fn decode_metrics(dec: &mut Decoder<'_>, root: &Node) -> Metrics {
    let a = root.at("metadata.metrics");
    let b = root.at("benchmark.metrics");
    let from_file = |n: Option<&Node>| n.is_some_and(|n| n.span.line > 0);
    if from_file(a) && from_file(b) {
        dec.push(
            Diagnostic::new(
                Rule::ConflictingKeys,
                dec.file,
                "benchmark.metrics",
                "metrics are overridden in both `metadata.metrics` and `benchmark.metrics`",
            )
            .at(b.map(|n| n.span))
            .expected("one metrics override")
            .hint("merge them into `metadata.metrics`"),
        );
    }
    let (path, node) = if from_file(b) && !from_file(a) {
        ("benchmark.metrics", b)
    } else {
        ("metadata.metrics", a)
    };
    let empty = empty_map();
    let node = match node {
        Some(n) if matches!(n.value, Value::Map(_)) => n,
        Some(n) if !n.is_null() => {
            dec.push(
                Diagnostic::new(
                    Rule::WrongType,
                    dec.file,
                    path,
                    format!("`{path}` must be a mapping"),
                )
                .at(Some(n.span))
                .expected("{log_file, extractor_pattern, metric_names}"),
            );
            &empty
        }
        _ => &empty,
    };
    dec.check_keys(node, path, METRICS_KEYS);
    let metrics = Metrics {
        log_file: dec.string(node, path, "log_file").unwrap_or_default(),
        extractor_pattern: dec
            .string(node, path, "extractor_pattern")
            .unwrap_or_default(),
        metric_names: dec.strings(node, path, "metric_names").unwrap_or_default(),
    };
    check_metric_pattern(dec, node, path, &metrics);
    if metrics.metric_names.is_empty() {
        dec.push(
            Diagnostic::new(
                Rule::InvalidValue,
                dec.file,
                format!("{path}.metric_names"),
                "no metric names to extract",
            )
            .at(node.get("metric_names").map(|n| n.span))
            .expected("at least one metric name")
            .hint("name one metric per regex group, e.g. `metric_names: [SERVER_MEDIAN_TTFT]`"),
        );
    }
    metrics
}

/// The pattern must compile (multi-line, verbose, as upstream) and have one group per metric
/// name, optionally plus a trailing concurrency group. Any number of metrics works (upstream
/// silently required three groups).
fn check_metric_pattern(dec: &mut Decoder<'_>, node: &Node, path: &str, m: &Metrics) {
    let field = format!("{path}.extractor_pattern");
    let span = node
        .get("extractor_pattern")
        .map(|n| n.span)
        .or_else(|| node.get("metric_names").map(|n| n.span));
    let groups = match pattern_groups(&m.extractor_pattern) {
        Ok(g) => g,
        Err(reason) => {
            dec.push(
                Diagnostic::new(Rule::InvalidValue, dec.file, field, format!("the metrics pattern is not a valid regex: {reason}"))
                    .at(span)
                    .expected("a regex with one capture group per metric name")
                    .hint("fix the pattern; it is compiled multi-line and verbose (escape spaces as `\\ `)"),
            );
            return;
        }
    };
    let names = m.metric_names.len();
    if groups != names && groups != names + 1 {
        dec.push(
            Diagnostic::new(
                Rule::InvalidValue,
                dec.file,
                field,
                format!(
                    "the metrics pattern has {groups} capture group(s) for {names} metric name(s)"
                ),
            )
            .at(span)
            .actual(format!("{groups} group(s)"))
            .expected(format!(
                "{names} group(s), or {} with a trailing concurrency group",
                names + 1
            ))
            .hint("use one group per name in `metric_names` (non-capturing `(?:...)` elsewhere)"),
        );
    }
}

/// Capture groups of a metrics pattern, compiled once per thread and pattern (a suite of
/// thousands of configs shares a handful of patterns).
fn pattern_groups(pattern: &str) -> Result<usize, String> {
    thread_local! {
        static CACHE: std::cell::RefCell<std::collections::HashMap<String, Result<usize, String>>> = Default::default();
    }
    CACHE.with(|cache| {
        if let Some(hit) = cache.borrow().get(pattern) {
            return hit.clone();
        }
        let result = regex::RegexBuilder::new(pattern)
            .multi_line(true)
            .ignore_whitespace(true)
            .size_limit(1 << 22)
            .build()
            .map(|re| re.captures_len().saturating_sub(1))
            .map_err(|e| e.to_string().lines().last().unwrap_or_default().to_string());
        cache
            .borrow_mut()
            .insert(pattern.to_string(), result.clone());
        result
    })
}

pub(super) fn decode_slurm(dec: &mut Decoder<'_>, root: &Node) -> Slurm {
    let Some(sec) = dec.map(root, "", "slurm") else {
        return Slurm::default();
    };
    dec.check_keys(sec, "slurm", SLURM_KEYS);
    let p = "slurm";
    Slurm {
        script_file: dec.string(sec, p, "script_file"),
        partition: dec.string(sec, p, "partition"),
        account: dec.string(sec, p, "account"),
        job_time: dec.string(sec, p, "job_time"),
        job_name: dec.string(sec, p, "job_name"),
        extra_args: dec.string(sec, p, "extra_args"),
        set_segment: dec.boolean(sec, p, "set_segment"),
        numa_bind: dec.boolean(sec, p, "numa_bind").unwrap_or(false),
        timeout: dec.uint(sec, p, "timeout"),
    }
}

pub(super) fn decode_environment(dec: &mut Decoder<'_>, root: &Node) -> Environment {
    let Some(sec) = dec.map(root, "", "environment") else {
        return Environment {
            values: BTreeMap::new(),
            server_health_timeout: defaults::SERVER_HEALTH_TIMEOUT,
        };
    };
    let mut known: Vec<&str> = ENVIRONMENT_STRING_KEYS.to_vec();
    known.extend(["build_wheel", "server_health_timeout"]);
    dec.check_keys(sec, "environment", &known);
    let mut values = BTreeMap::new();
    for key in ENVIRONMENT_STRING_KEYS {
        if let Some(v) = dec.string(sec, "environment", key) {
            values.insert((*key).to_string(), v);
        }
    }
    if let Some(b) = dec.boolean(sec, "environment", "build_wheel") {
        values.insert("build_wheel".into(), b.to_string());
    }
    let timeout = match sec.get("server_health_timeout") {
        // Upstream PR #17881: positive integer seconds; booleans rejected.
        Some(n) if matches!(n.value, Value::Int(i) if i <= 0) => {
            dec.push(
                Diagnostic::new(
                    Rule::InvalidValue,
                    dec.file,
                    "environment.server_health_timeout",
                    "`server_health_timeout` must be positive",
                )
                .at(Some(n.span))
                .actual(crate::decode::describe(n))
                .expected("a positive number of seconds")
                .hint("write e.g. `server_health_timeout: 3600`"),
            );
            defaults::SERVER_HEALTH_TIMEOUT
        }
        _ => dec
            .uint(sec, "environment", "server_health_timeout")
            .unwrap_or(defaults::SERVER_HEALTH_TIMEOUT),
    };
    Environment {
        values,
        server_health_timeout: timeout,
    }
}

pub(super) fn decode_profiling(dec: &mut Decoder<'_>, root: &Node) -> Profiling {
    let Some(sec) = dec.map(root, "", "profiling") else {
        return Profiling::default();
    };
    dec.check_keys(sec, "profiling", PROFILING_KEYS);
    Profiling {
        nsys_on: dec.boolean(sec, "profiling", "nsys_on").unwrap_or(false),
        ctx_profile_range: dec.string(sec, "profiling", "ctx_profile_range"),
        gen_profile_range: dec.string(sec, "profiling", "gen_profile_range"),
    }
}

pub(super) fn decode_accuracy(dec: &mut Decoder<'_>, root: &Node) -> Accuracy {
    let Some(sec) = dec.map(root, "", "accuracy") else {
        return Accuracy::default();
    };
    dec.check_keys(sec, "accuracy", ACCURACY_KEYS);
    let p = "accuracy";
    let enable = dec.boolean(sec, p, "enable_accuracy_test").unwrap_or(false);
    let env_var = dec.env_vars(sec, p, "env_var");
    let legacy_model = dec
        .string(sec, p, "model")
        .unwrap_or_else(|| defaults::ACCURACY_MODEL.into());
    let legacy_args = dec.string(sec, p, "model_args_extra").unwrap_or_default();
    let mut tasks = Vec::new();
    if let Some(node) = sec.get("tasks") {
        match &node.value {
            // Legacy shape: `tasks: gsm8k` (comma-separated), model and args at section level.
            Value::Str(s) => {
                for name in s.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                    tasks.push(AccuracyTask {
                        name: name.to_string(),
                        model: legacy_model.clone(),
                        model_args_extra: legacy_args.clone(),
                        extra_kwargs: None,
                    });
                }
            }
            Value::Map(entries) => {
                for (k, v) in entries {
                    let Some(name) = k.as_key() else { continue };
                    let path = format!("accuracy.tasks.{name}");
                    let empty = empty_map();
                    let task = match &v.value {
                        Value::Map(_) => v,
                        Value::Null => &empty,
                        _ => {
                            dec.push(
                                Diagnostic::new(
                                    Rule::WrongType,
                                    dec.file,
                                    path.clone(),
                                    format!("task `{name}` must be a mapping"),
                                )
                                .at(Some(v.span))
                                .expected("{model, model_args_extra, extra_kwargs}"),
                            );
                            continue;
                        }
                    };
                    dec.check_keys(task, &path, ACCURACY_TASK_KEYS);
                    tasks.push(AccuracyTask {
                        name: name.to_string(),
                        model: dec
                            .string(task, &path, "model")
                            .unwrap_or_else(|| legacy_model.clone()),
                        model_args_extra: dec
                            .string(task, &path, "model_args_extra")
                            .unwrap_or_else(|| legacy_args.clone()),
                        extra_kwargs: task.get("extra_kwargs").cloned(),
                    });
                }
            }
            Value::Null => {}
            _ => dec.push(
                Diagnostic::new(
                    Rule::WrongType,
                    dec.file,
                    "accuracy.tasks",
                    "`accuracy.tasks` must be a task name or a mapping of tasks",
                )
                .at(Some(node.span))
                .expected("`gsm8k` or `{gsm8k: {model: local-completions}}`"),
            ),
        }
    }
    Accuracy {
        enable_accuracy_test: enable,
        env_var,
        tasks,
    }
}

pub(super) fn decode_engine(dec: &mut Decoder<'_>, root: &Node) -> Engine {
    let all: Vec<(&str, Engine)> = Engine::ALL.iter().map(|e| (e.as_str(), *e)).collect();
    match root.get("engine") {
        Some(n) if matches!(n.value, Value::Map(_)) => {
            dec.check_keys(n, "engine", &["name"]);
            enum_value(dec, n, "engine", "name", &all, defaults::ENGINE)
        }
        _ => enum_value(dec, root, "", "engine", &all, defaults::ENGINE),
    }
}
