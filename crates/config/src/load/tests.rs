//! Loader tests: layers, provenance, decoders and the issue-11 loose ends.

use super::layers::str_node;
use super::*;
use crate::model::Origin;

fn load(path: &str, text: &str) -> LoadedFile {
    load_str(Path::new(path), text, &LoadOptions::default())
}

const MINIMAL: &str = "metadata:\n  model_name: m\nhardware:\n  gpus_per_node: 4\n  num_ctx_servers: 1\n  num_gen_servers: 2\nbenchmark:\n  concurrency_list: '1 8'\n  input_length: 1024\n  output_length: 1024\nworker_config:\n  ctx:\n    tensor_parallel_size: 4\n    max_seq_len: 2048\n  gen:\n    tensor_parallel_size: 8\n    enable_attention_dp: true\n    max_batch_size: 16\n    max_seq_len: 2100\n";

#[test]
fn minimal_disagg_config_loads_with_defaults_and_provenance() {
    let f = load("cfgs/disagg/perf/x_ctx1_gen2.yaml", MINIMAL);
    assert!(!f.has_errors(), "{:#?}", f.diagnostics);
    let case = &f.cases[0];
    assert_eq!(case.test_id, "disagg_perf_x_ctx1_gen2");
    assert_eq!(case.display_name, "disagg/perf/x_ctx1_gen2");
    assert_eq!(case.benchmark_type, "1k1k");
    let c = &case.config;
    assert_eq!(c.benchmark.concurrency_list, [1, 8]);
    assert_eq!(c.deployment.gen_role().capacity(), Some(128));
    assert_eq!(
        c.provenance.get("benchmark.streaming"),
        Some(&Origin::Default)
    );
    assert_eq!(
        c.metrics.metric_names,
        ["SERVER_MEDIAN_TTFT", "SERVER_MEDIAN_E2EL"]
    );
    assert_eq!(c.locate("gen.max_batch_size").map(|s| s.line), Some(18));
}

#[test]
fn layers_have_precedence_and_provenance() {
    let mut opts = LoadOptions {
        profile: Some(ProfileLayer {
            name: "lab".into(),
            values: vec![
                ("slurm.partition".into(), str_node("from-profile")),
                ("slurm.account".into(), str_node("acct")),
            ],
        }),
        ..LoadOptions::default()
    };
    opts.env.insert("SLURM_PARTITION".into(), "from-env".into());
    opts.sets
        .push("benchmark.concurrency_list=4,16".parse().unwrap());
    let f = load_str(Path::new("a/disagg/perf/x.yaml"), MINIMAL, &opts);
    let c = &f.cases[0].config;
    assert_eq!(c.slurm.partition.as_deref(), Some("from-env"));
    assert_eq!(c.slurm.account.as_deref(), Some("acct"));
    assert_eq!(c.benchmark.concurrency_list, [4, 16]);
    assert_eq!(
        c.provenance["slurm.partition"],
        Origin::Env("SLURM_PARTITION".into())
    );
    assert_eq!(c.provenance["slurm.account"], Origin::Profile("lab".into()));
    assert!(matches!(
        c.provenance["benchmark.concurrency_list"],
        Origin::Cli(_)
    ));
}

#[test]
fn legacy_sequence_and_mtp_keys() {
    let text = MINIMAL
        .replace("  input_length: 1024\n  output_length: 1024\n", "")
        .replace(
            "worker_config:",
            "sequence:\n  input_length: 8192\n  output_length: 1024\nworker_config:",
        )
        + "    speculative_config:\n      max_draft_len: 3\n";
    let f = load("a/disagg/perf/x.yaml", &text);
    let c = &f.cases[0].config;
    assert_eq!(c.benchmark.input_length, 8192);
    assert_eq!(f.cases[0].benchmark_type, "8k1k");
    assert_eq!(c.deployment.gen_role().mtp, 3);
    assert_eq!(
        c.physical("benchmark.input_length"),
        "sequence.input_length"
    );
}

#[test]
fn type_errors_and_unknown_keys_are_located() {
    let text = MINIMAL
        .replace("  input_length: 1024", "  input_length: 1k")
        .replace("concurrency_list", "concurency_list");
    let f = load("a/disagg/perf/x.yaml", &text);
    let ids: Vec<_> = f.diagnostics.iter().map(|d| (d.rule, d.line)).collect();
    assert!(ids.contains(&(Rule::WrongType, Some(9))), "{ids:?}");
    assert!(ids.contains(&(Rule::UnknownKey, Some(8))), "{ids:?}");
}

#[test]
fn metric_overrides_are_partial_and_any_size() {
    // One metric, custom pattern, default log file kept.
    let text = MINIMAL.replace(
        "metadata:\n  model_name: m\n",
        "metadata:\n  model_name: m\n  metrics:\n    extractor_pattern: 'Mean\\ TTFT\\ \\(ms\\):\\s+([0-9.]+)'\n    metric_names: [MEAN_TTFT]\n",
    );
    let f = load("a/disagg/perf/x.yaml", &text);
    assert!(!f.has_errors(), "{:#?}", f.diagnostics);
    let m = &f.cases[0].config.metrics;
    assert_eq!(m.metric_names, ["MEAN_TTFT"]);
    assert_eq!(m.log_file, "6_bench.log");
    assert_eq!(
        f.cases[0].config.provenance["metadata.metrics.log_file"],
        Origin::Default
    );
    // Names without a pattern keep the default pattern, whose group count must then fit.
    let bad = MINIMAL.replace(
        "metadata:\n  model_name: m\n",
        "metadata:\n  model_name: m\n  metrics:\n    metric_names: [A, B, C, D]\n",
    );
    let f = load("a/disagg/perf/x.yaml", &bad);
    assert!(
        f.diagnostics
            .iter()
            .any(|d| d.rule == Rule::InvalidValue
                && d.message.contains("3 capture group(s) for 4")),
        "{:#?}",
        f.diagnostics
    );
    // Under benchmark.metrics too; both at once is an error.
    let both = text.replace(
        "benchmark:\n",
        "benchmark:\n  metrics:\n    log_file: x.log\n",
    );
    let f = load("a/disagg/perf/x.yaml", &both);
    assert!(
        f.diagnostics
            .iter()
            .any(|d| d.rule == Rule::ConflictingKeys)
    );
    let invalid = text.replace("([0-9.]+)", "([0-9.]+");
    let f = load("a/disagg/perf/x.yaml", &invalid);
    assert!(
        f.diagnostics
            .iter()
            .any(|d| d.message.contains("not a valid regex"))
    );
}

#[test]
fn placeholders_are_found() {
    assert_eq!(placeholders("a <b_c> <x"), ["<b_c>"]);
    assert_eq!(placeholders("<partition>"), ["<partition>"]);
    assert!(placeholders("a < b > c").is_empty());
}

#[test]
fn set_override_parsing() {
    assert!("a.b=c".parse::<SetOverride>().is_ok());
    assert!("a..b=c".parse::<SetOverride>().is_err());
    assert!("novalue".parse::<SetOverride>().is_err());
}

fn errors(f: &LoadedFile) -> Vec<&Diagnostic> {
    f.diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect()
}

fn env_opts(vars: &[(&str, &str)]) -> LoadOptions {
    let mut opts = LoadOptions::default();
    for (k, v) in vars {
        opts.env.insert((*k).to_string(), (*v).to_string());
    }
    opts
}

fn mount_of(f: &LoadedFile) -> (String, Origin) {
    let c = &f.cases[0].config;
    (
        c.environment.values["container_mount"].clone(),
        c.provenance["environment.container_mount"].clone(),
    )
}

#[test]
fn env_mounts_are_added_to_profile_mounts_and_name_their_variables() {
    let mut opts = env_opts(&[("MODEL_DIR", "/models"), ("DATASET_DIR", "/data")]);
    opts.profile = Some(ProfileLayer {
        name: "lab".into(),
        values: vec![(
            "environment.container_mount".into(),
            str_node("/lustre:/lustre,/models:/models"),
        )],
    });
    let f = load_str(Path::new("a/disagg/perf/x.yaml"), MINIMAL, &opts);
    let (mounts, origin) = mount_of(&f);
    // The profile's mounts stay first, the env ones are added once each.
    assert_eq!(mounts, "/lustre:/lustre,/models:/models,/data:/data");
    assert_eq!(
        origin,
        Origin::Merged(vec![
            Origin::Profile("lab".into()),
            Origin::Env("MODEL_DIR, DATASET_DIR".into())
        ])
    );
    assert_eq!(
        origin.to_string(),
        "cluster profile lab + env MODEL_DIR, DATASET_DIR"
    );
}

#[test]
fn env_mounts_never_claim_an_unset_variable() {
    let f = load_str(
        Path::new("a/disagg/perf/x.yaml"),
        MINIMAL,
        &env_opts(&[("MODEL_DIR", "/models")]),
    );
    let (mounts, origin) = mount_of(&f);
    assert_eq!(mounts, "/models:/models");
    assert_eq!(origin, Origin::Env("MODEL_DIR".into()));
    // A file's own mounts are kept too, and a placeholder is replaced.
    let with_file = MINIMAL.to_string() + "environment:\n  container_mount: /scratch:/scratch\n";
    let f = load_str(
        Path::new("a/disagg/perf/x.yaml"),
        &with_file,
        &env_opts(&[("WORK_DIR", "/work")]),
    );
    let (mounts, origin) = mount_of(&f);
    assert_eq!(mounts, "/scratch:/scratch,/work:/work");
    assert_eq!(
        origin,
        Origin::Merged(vec![Origin::File, Origin::Env("WORK_DIR".into())])
    );
    let placeholder = MINIMAL.to_string() + "environment:\n  container_mount: <container_mount>\n";
    let f = load_str(
        Path::new("a/disagg/perf/x.yaml"),
        &placeholder,
        &env_opts(&[("WORK_DIR", "/work")]),
    );
    assert_eq!(
        mount_of(&f),
        ("/work:/work".into(), Origin::Env("WORK_DIR".into()))
    );
    assert!(!f.diagnostics.iter().any(|d| d.rule == Rule::Placeholder));
}

#[test]
fn a_blank_slurm_section_does_not_change_the_fingerprint() {
    let fp = |text: &str| {
        load("a/disagg/perf/x.yaml", text).cases[0]
            .fingerprint
            .clone()
    };
    let base = fp(MINIMAL);
    for blank in [
        "slurm:\n",
        "slurm: {}\n",
        "slurm:\n  partition: p\n  account: a\n",
    ] {
        assert_eq!(fp(&(MINIMAL.to_string() + blank)), base, "{blank:?}");
    }
    // A real slurm setting does change it, and so does an empty engine option mapping.
    assert_ne!(
        fp(&(MINIMAL.to_string() + "slurm:\n  numa_bind: true\n")),
        base
    );
    assert_ne!(
        fp(&(MINIMAL.to_string() + "    cuda_graph_config: {}\n")),
        base
    );
}

#[test]
fn gpus_per_node_below_one_is_one_error_and_no_value() {
    for bad in ["-4", "0", "2.5", "four"] {
        let text = MINIMAL.replace("gpus_per_node: 4", &format!("gpus_per_node: {bad}"));
        let f = load("a/disagg/perf/x.yaml", &text);
        let errs = errors(&f);
        assert_eq!(errs.len(), 1, "{bad}: {errs:#?}");
        assert_eq!(errs[0].field, "hardware.gpus_per_node", "{bad}");
        assert_eq!(errs[0].line, Some(4), "{bad}");
        assert_eq!(f.cases[0].config.hardware.gpus_per_node, None, "{bad}");
    }
    let f = load(
        "a/disagg/perf/x.yaml",
        &MINIMAL.replace("  gpus_per_node: 4\n", ""),
    );
    assert_eq!(errors(&f).len(), 1);
    assert_eq!(errors(&f)[0].rule, Rule::MissingField);
    assert_eq!(f.cases[0].config.hardware.gpus_per_node, None);
}

#[test]
fn zero_repeats_is_an_error() {
    let text = MINIMAL.replace(
        "  input_length: 1024\n",
        "  input_length: 1024\n  repeats: 0\n",
    );
    let f = load("a/disagg/perf/x.yaml", &text);
    let errs = errors(&f);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert_eq!(errs[0].field, "benchmark.repeats");
    let ok = text.replace("repeats: 0", "repeats: 3");
    let f = load("a/disagg/perf/x.yaml", &ok);
    assert!(!f.has_errors());
    assert_eq!(f.cases[0].config.benchmark.repeats, 3);
}

#[test]
fn max_failed_pct_is_typed_with_a_zero_default() {
    let f = load("a/disagg/perf/x.yaml", MINIMAL);
    assert_eq!(f.cases[0].config.benchmark.max_failed_pct, 0.0);
    let set = |v: &str| {
        MINIMAL.replace(
            "  input_length: 1024\n",
            &format!("  input_length: 1024\n  max_failed_pct: {v}\n"),
        )
    };
    let f = load("a/disagg/perf/x.yaml", &set("2.5"));
    assert!(!f.has_errors(), "{:#?}", f.diagnostics);
    assert_eq!(f.cases[0].config.benchmark.max_failed_pct, 2.5);
    for bad in ["150", "-1"] {
        let f = load("a/disagg/perf/x.yaml", &set(bad));
        let errs = errors(&f);
        assert_eq!(errs.len(), 1, "{bad}");
        assert_eq!(errs[0].field, "benchmark.max_failed_pct");
        assert_eq!(f.cases[0].config.benchmark.max_failed_pct, 0.0);
    }
    // Aggregated clients set it per client.
    let agg = "metadata: {model_name: m}\nhardware: {gpus_per_node: 8}\nserver_configs:\n- name: s\n  tensor_parallel_size: 8\n  max_batch_size: 64\n  client_configs:\n  - {name: c, concurrency: 8, max_failed_pct: 5}\n";
    let f = load("a/agg/perf-sanity/x.yaml", agg);
    assert!(!f.has_errors(), "{:#?}", f.diagnostics);
    assert_eq!(f.cases[0].config.benchmark.max_failed_pct, 5.0);
}

fn with_dataset(fields: &str) -> String {
    MINIMAL.replace(
        "metadata:\n  model_name: m\n",
        &format!(
            "metadata:\n  model_name: m\n  accuracy:\n    datasets:\n    - dataset_name: gsm8k\n      expected_value: 0.95\n{fields}"
        ),
    )
}

#[test]
fn accuracy_thresholds_are_typed() {
    use crate::model::ThresholdType;
    let f = load("a/disagg/accuracy/x.yaml", &with_dataset(""));
    assert!(!f.has_errors(), "{:#?}", f.diagnostics);
    let ds = &f.cases[0].config.metadata.accuracy[0];
    assert_eq!(ds.name, "gsm8k");
    assert_eq!(ds.threshold_type, ThresholdType::HypothesisTest);
    assert_eq!(ds.filter_type, "flexible-extract");
    assert_eq!(ds.threshold, None);

    let f = load(
        "a/disagg/accuracy/x.yaml",
        &with_dataset(
            "      threshold_type: absolute\n      threshold: 0.02\n      filter: strict-match\n      alpha: 0.1\n      num_samples: 100\n      higher_is_better: true\n",
        ),
    );
    assert!(!f.has_errors(), "{:#?}", f.diagnostics);
    let ds = &f.cases[0].config.metadata.accuracy[0];
    assert_eq!(ds.threshold_type, ThresholdType::Absolute);
    assert_eq!(ds.threshold, Some(0.02));
    assert_eq!(ds.filter_type, "strict-match");
    assert_eq!(
        (ds.alpha, ds.num_samples, ds.higher_is_better),
        (Some(0.1), Some(100), Some(true))
    );

    let f = load(
        "a/disagg/accuracy/x.yaml",
        &with_dataset("      threshold_type: relative\n      threshold: 0.05\n"),
    );
    assert_eq!(
        f.cases[0].config.metadata.accuracy[0].threshold_type,
        ThresholdType::Relative
    );
}

#[test]
fn accuracy_threshold_mistakes_are_load_errors() {
    let cases = [
        (
            "      threshold_type: absolut\n",
            "did you mean `absolute`?",
        ),
        ("      threshold_type: absolute\n", "needs a `threshold`"),
        (
            "      threshold_type: relative\n      threshold: 5\n",
            "outside [0, 1)",
        ),
        (
            "      filter: strict-match\n      filter_type: flexible-extract\n",
            "remove `filter`",
        ),
        ("      bogus: 1\n", "unknown key"),
    ];
    for (fields, needle) in cases {
        let f = load("a/disagg/accuracy/x.yaml", &with_dataset(fields));
        let errs = errors(&f);
        assert_eq!(errs.len(), 1, "{fields:?}: {errs:#?}");
        let text = format!(
            "{} {}",
            errs[0].message,
            errs[0].hint.clone().unwrap_or_default()
        );
        assert!(text.contains(needle), "{fields:?}: {text}");
    }
}

proptest::proptest! {
    /// Any integer `gpus_per_node` either is taken as written (positive) or gives exactly one
    /// error and no value.
    #[test]
    fn gpus_per_node_is_taken_or_refused_once(n in -1_000_000i64..1_000_000) {
        let text = MINIMAL.replace("gpus_per_node: 4", &format!("gpus_per_node: {n}"));
        let f = load("a/disagg/perf/x.yaml", &text);
        let hw = f.cases[0].config.hardware.gpus_per_node;
        let gpn_errors = errors(&f)
            .iter()
            .filter(|d| d.field == "hardware.gpus_per_node")
            .count();
        if n > 0 {
            proptest::prop_assert_eq!(hw, u64::try_from(n).ok());
            proptest::prop_assert_eq!(gpn_errors, 0);
        } else {
            proptest::prop_assert_eq!(hw, None);
            proptest::prop_assert_eq!(gpn_errors, 1);
        }
    }
}

#[test]
fn worker_options_point_into_the_tree_instead_of_copying_it() {
    let f = load("a/disagg/perf/x.yaml", MINIMAL);
    let c = &f.cases[0].config;
    let in_tree = c.tree.at("worker_config.gen").expect("gen");
    assert!(std::ptr::eq(
        c.deployment.gen_role().options.node(),
        in_tree
    ));
    // The clients of one aggregated server share one options tree (framework keys removed).
    let agg = "metadata: {model_name: m}\nhardware: {gpus_per_node: 8}\nserver_configs:\n- name: s\n  tensor_parallel_size: 8\n  max_batch_size: 64\n  client_configs:\n  - {name: a, concurrency: 8}\n  - {name: b, concurrency: 16}\n";
    let f = load("a/agg/perf-sanity/x.yaml", agg);
    let [a, b] = [&f.cases[0], &f.cases[1]].map(|c| c.config.deployment.gen_role().options.node());
    assert!(std::ptr::eq(a, b));
    assert!(a.get("client_configs").is_none() && a.get("tensor_parallel_size").is_some());
}
