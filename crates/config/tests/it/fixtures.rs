//! Golden test: every upstream config in `shared/fixtures/upstream` loads, and validation gives
//! the outcome recorded in the snapshot (status and rule ids per file).
//!
//! Expected outcomes, as a careful reader of SPEC 4 sees them:
//! - most upstream configs capture CUDA graphs for batch sizes above `max_batch_size`
//!   (`cuda-graph-batch-sizes`, a warning);
//! - several run 5-12.5% above the gen capacity on purpose (`concurrency-oversubscribed`);
//! - several file names disagree with their content (`name-topology`, upstream.md section 11);
//! - `gb200_deepseek-r1-fp4_1k1k_con2048_..._mtp3_ccb-UCX` has gen `max_num_tokens` 1536 for
//!   `max_batch_size` 768 with MTP 3: an error (`mtp-token-budget`);
//! - the QA aggregated `*_ctx_*` files size `max_seq_len` for context-only runs (isl + 32) but
//!   declare no mode, so as end-to-end runs their output would not fit: `gen-max-seq-len` errors;
//! - the documented examples have no `metadata.model_name` (a warning: results go to `unknown`).

use std::path::{Path, PathBuf};

use servebench_config::diag::Severity;
use servebench_config::discover::load_suite;
use servebench_config::load::LoadOptions;
use servebench_config::validate::ValidateOptions;

pub fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

fn upstream() -> PathBuf {
    shared().join("fixtures/upstream")
}

#[test]
fn every_upstream_config_loads_and_validates_as_recorded() {
    let root = upstream();
    let mut suite = load_suite(std::slice::from_ref(&root), &LoadOptions::default());
    assert!(suite.problems.is_empty(), "{:?}", suite.problems);
    suite.validate(&ValidateOptions::default());
    let mut lines = Vec::new();
    let mut configs = 0;
    for file in &suite.files {
        let rel = file.path.strip_prefix(&root).unwrap().display().to_string();
        if let Some(why) = &file.skipped {
            lines.push(format!("skip  {rel} ({why})"));
            continue;
        }
        configs += 1;
        assert!(
            !file.cases.is_empty(),
            "{rel} produced no test case: {:#?}",
            file.diagnostics
        );
        let mut rules: Vec<String> = file
            .diagnostics
            .iter()
            .filter(|d| d.severity > Severity::Info)
            .map(|d| format!("{}:{}", &d.severity.as_str()[..1], d.rule.id()))
            .collect();
        rules.sort();
        rules.dedup();
        let status = if file.has_errors() {
            "ERROR"
        } else if rules.is_empty() {
            "ok"
        } else {
            "warn"
        };
        lines.push(format!(
            "{status:<5} {rel} [{}] {}",
            file.cases.len(),
            rules.join(" ")
        ));
    }
    assert_eq!(configs, 46, "every upstream config file is covered");
    insta::assert_snapshot!(lines.join("\n"));
}

#[test]
fn every_diagnostic_names_a_location_and_a_fix() {
    let mut suite = load_suite(&[upstream()], &LoadOptions::default());
    suite.validate(&ValidateOptions::default());
    for d in suite.diagnostics() {
        assert!(d.line.is_some(), "no line: {d:?}");
        assert!(d.hint.is_some() || d.expected.is_some(), "no fix: {d:?}");
    }
}

#[test]
fn upstream_generations_are_read_correctly() {
    let suite = load_suite(&[upstream()], &LoadOptions::default());
    let case = |stem: &str| {
        suite
            .cases()
            .find(|c| c.file_stem == stem)
            .unwrap_or_else(|| panic!("no case {stem}"))
    };
    // Legacy `sequence:` section: benchmark type from it, not 0k0k.
    let legacy = case("deepseek-r1-fp4_000.LEGACY_cb5b1541");
    assert_ne!(legacy.benchmark_type, "0k0k");
    assert_eq!(
        legacy.config.physical("benchmark.input_length"),
        "sequence.input_length"
    );
    // Newer MTP key.
    let v4 =
        case("gb300_deepseek-v4-pro-fp4_8k1k_con4301_ctx12_dep4_gen1_dep8_eplb384_mtp1_ccb-NIXL");
    assert_eq!(v4.config.deployment.gen_role().mtp, 1);
    assert_eq!(v4.category, "perf-sanity");
    assert_eq!(
        v4.config.benchmark.concurrency_scope,
        servebench_config::model::ConcurrencyScope::Total
    );
    // Accuracy datasets under `dataset_name`, strict-match filter.
    let kimi = case("kimi-k2-thinking-fp4_1k1k_ctx3_gen1_dep32_bs1024_eplb384_mtp0_ccb-NIXL");
    assert_eq!(kimi.config.metadata.accuracy[0].name, "gpqa_diamond_local");
    assert_eq!(kimi.config.metadata.accuracy[0].filter_type, "strict-match");
    assert_eq!(
        kimi.test_id,
        "wideep_accuracy_kimi-k2-thinking-fp4_1k1k_ctx3_gen1_dep32_bs1024_eplb384_mtp0_ccb-NIXL"
    );
    // Aggregated files become one case per (server, client).
    let agg: Vec<_> = suite
        .cases()
        .filter(|c| c.file_stem == "gpt_oss_120b_fp4_blackwell")
        .collect();
    assert!(agg.len() > 1);
    assert!(agg.iter().all(|c| {
        c.test_id
            .starts_with("agg_perf-sanity_gpt_oss_120b_fp4_blackwell-")
    }));
    let mut fps: Vec<_> = agg.iter().map(|c| c.fingerprint.clone()).collect();
    fps.sort();
    fps.dedup();
    assert_eq!(
        fps.len(),
        agg.len(),
        "each aggregated case has its own fingerprint"
    );
}

#[test]
fn engine_options_round_trip_through_emit() {
    use servebench_config::model::Deployment;
    use servebench_config::yaml::{emit, parse};
    let suite = load_suite(&[upstream()], &LoadOptions::default());
    let mut checked = 0;
    for case in suite.cases() {
        let workers = match &case.config.deployment {
            Deployment::Disagg { ctx, generation } => vec![Some(generation), ctx.as_ref()],
            Deployment::Agg { server, .. } => vec![Some(server)],
        };
        for w in workers.into_iter().flatten() {
            let text = emit(&w.options);
            let back = parse(&text).unwrap_or_else(|e| panic!("{}: {e}\n{text}", case.test_id));
            assert_eq!(
                back.without_spans(),
                w.options.without_spans(),
                "{}:\n{text}",
                case.test_id
            );
            checked += 1;
        }
    }
    assert!(checked > 80, "{checked}");
}
