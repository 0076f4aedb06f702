//! The disaggregated format (`worker_config.ctx/gen`): one test case per file.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::keys::*;
use super::sections::*;
use super::worker::decode_worker;
use super::{Ident, finish_case};
use crate::decode::{Decoder, display_path, join};
use crate::defaults;
use crate::diag::{Diagnostic, Rule};
use crate::model::{
    Benchmark, ConcurrencyScope, Deployment, Format, Hardware, Mode, Origin, Placement, TestCase,
    TestConfig, WorkerOptions,
};
use crate::yaml::Node;

fn modes() -> Vec<(&'static str, Mode)> {
    Mode::ALL.iter().map(|m| (m.as_str(), *m)).collect()
}

/// The `benchmark` fields the disaggregated and the aggregated-example formats share.
pub(super) struct BenchCommon {
    pub mode: Mode,
    pub scope: ConcurrencyScope,
    pub tolerance: f64,
    pub repeats: u64,
    pub client: Option<String>,
    pub max_failed_pct: f64,
    pub use_nv_sa_benchmark: bool,
    pub multi_round: u64,
    pub benchmark_ratio: f64,
    pub streaming: bool,
    pub enable_benchmark: bool,
    pub env_var: Vec<(String, String)>,
}

pub(super) fn decode_benchmark_common(dec: &mut Decoder<'_>, sec: &Node, p: &str) -> BenchCommon {
    let mode = enum_value(dec, sec, p, "mode", &modes(), defaults::MODE);
    let scope = enum_value(
        dec,
        sec,
        p,
        "concurrency_scope",
        &[
            ("per_gen_server", ConcurrencyScope::PerGenServer),
            ("total", ConcurrencyScope::Total),
        ],
        ConcurrencyScope::PerGenServer,
    );
    BenchCommon {
        mode,
        scope,
        tolerance: dec
            .number(sec, p, "oversubscription_tolerance")
            .unwrap_or(defaults::OVERSUBSCRIPTION_TOLERANCE),
        repeats: dec
            .positive_uint(sec, p, "repeats")
            .unwrap_or(defaults::REPEATS),
        client: dec.string(sec, p, "client"),
        max_failed_pct: max_failed_pct(dec, sec, p),
        use_nv_sa_benchmark: dec
            .boolean(sec, p, "use_nv_sa_benchmark")
            .unwrap_or(defaults::USE_NV_SA_BENCHMARK),
        multi_round: dec
            .uint(sec, p, "multi_round")
            .unwrap_or(defaults::MULTI_ROUND),
        benchmark_ratio: dec
            .number(sec, p, "benchmark_ratio")
            .unwrap_or(defaults::BENCHMARK_RATIO),
        streaming: dec
            .boolean(sec, p, "streaming")
            .unwrap_or(defaults::STREAMING),
        enable_benchmark: dec
            .boolean(sec, p, "enable_benchmark")
            .unwrap_or(defaults::ENABLE_BENCHMARK),
        env_var: dec.env_vars(sec, p, "env_var"),
    }
}

/// `max_failed_pct`: a percentage in [0, 100].
pub(super) fn max_failed_pct(dec: &mut Decoder<'_>, sec: &Node, p: &str) -> f64 {
    let Some(v) = dec.number(sec, p, "max_failed_pct") else {
        return defaults::MAX_FAILED_PCT;
    };
    if (0.0..=100.0).contains(&v) {
        return v;
    }
    let field = display_path(&join(p, "max_failed_pct"));
    dec.push(
        Diagnostic::new(
            Rule::InvalidValue,
            dec.file,
            field.clone(),
            format!("`{field}` is {v}, outside 0-100"),
        )
        .at(sec.get("max_failed_pct").map(|n| n.span))
        .actual(v.to_string())
        .expected("a percentage of requests from 0 to 100")
        .hint("write e.g. `max_failed_pct: 1` to allow 1% failed requests"),
    );
    defaults::MAX_FAILED_PCT
}

/// Decodes a disaggregated config into its test case (none when the gen role is missing).
pub(super) fn decode_disagg(
    dec: &mut Decoder<'_>,
    root: &Arc<Node>,
    id: &Ident<'_>,
    prov: &Arc<BTreeMap<String, Origin>>,
) -> Option<TestCase> {
    dec.check_keys(root, "", TOP_DISAGG);
    let metadata = decode_metadata(dec, root);
    let slurm = decode_slurm(dec, root);
    let environment = decode_environment(dec, root);
    let profiling = decode_profiling(dec, root);
    let accuracy = decode_accuracy(dec, root);
    let engine = decode_engine(dec, root);
    let metrics = decode_metrics(dec, root);
    let mut aliases = BTreeMap::new();

    // hardware
    let empty = empty_map();
    let hw = dec.map(root, "", "hardware").unwrap_or(&empty);
    dec.check_keys(hw, "hardware", HARDWARE_KEYS);
    let placement = enum_value(
        dec,
        hw,
        "hardware",
        "placement",
        &[
            (Placement::Packed.as_str(), Placement::Packed),
            (Placement::Exclusive.as_str(), Placement::Exclusive),
        ],
        defaults::PLACEMENT,
    );

    // benchmark (+ legacy sequence)
    let bench = dec.map(root, "", "benchmark").unwrap_or(&empty);
    dec.check_keys(bench, "benchmark", BENCHMARK_KEYS);
    let common = decode_benchmark_common(dec, bench, "benchmark");
    let mode = common.mode;
    let seq = dec.map(root, "", "sequence");
    if let Some(s) = seq {
        dec.check_keys(s, "sequence", SEQUENCE_KEYS);
    }
    let length = |dec: &mut Decoder<'_>, key: &str, aliases: &mut BTreeMap<String, String>| {
        dec.uint(bench, "benchmark", key).or_else(|| {
            let v = seq.and_then(|s| dec.uint(s, "sequence", key));
            if v.is_some() {
                aliases.insert(format!("benchmark.{key}"), format!("sequence.{key}"));
            }
            v
        })
    };
    let isl = length(dec, "input_length", &mut aliases);
    let osl = length(dec, "output_length", &mut aliases);
    for (key, v) in [("input_length", isl), ("output_length", osl)] {
        if v.is_none() {
            missing(
                dec,
                root,
                &format!("benchmark.{key}"),
                "a token count",
                &format!("add `{key}: 1024` under `benchmark:`"),
            );
        }
    }

    // worker_config
    let wc = dec.map(root, "", "worker_config").unwrap_or(&empty);
    dec.check_keys(wc, "worker_config", WORKER_CONFIG_KEYS);
    let legacy_eplb = dec.uint(wc, "worker_config", "eplb_num_slots");
    let concurrency = match bench.get("concurrency_list") {
        Some(_) => dec.concurrency_list(bench, "benchmark", "concurrency_list"),
        None => {
            let v = dec.concurrency_list(wc, "worker_config", "concurrency_list");
            if v.is_some() {
                aliases.insert(
                    "benchmark.concurrency_list".into(),
                    "worker_config.concurrency_list".into(),
                );
            }
            v
        }
    };
    let enable_benchmark = common.enable_benchmark;
    let only_run_accuracy = dec
        .boolean(bench, "benchmark", "only_run_accuracy")
        .unwrap_or(defaults::ONLY_RUN_ACCURACY);
    let concurrency_list = concurrency.unwrap_or_default();
    if concurrency_list.is_empty() && enable_benchmark && !only_run_accuracy {
        dec.push(
            Diagnostic::new(
                Rule::ConcurrencyEmpty,
                dec.file,
                "benchmark.concurrency_list",
                "the concurrency list is empty",
            )
            .at(bench
                .get("concurrency_list")
                .map(|n| n.span)
                .or_else(|| root.key_span("benchmark")))
            .expected("at least one positive concurrency")
            .hint("add `concurrency_list: '1 8 64'` under `benchmark:`"),
        );
    }

    let num_ctx = dec.uint(hw, "hardware", "num_ctx_servers");
    let num_gen = dec.uint(hw, "hardware", "num_gen_servers");
    let gpn = decode_gpus_per_node(dec, root, hw);
    if num_gen.is_none() {
        missing(
            dec,
            root,
            "hardware.num_gen_servers",
            "the number of generation servers",
            "add `num_gen_servers: 1` under `hardware:`",
        );
    }
    if num_ctx.is_none() && mode != Mode::GenOnlyNoContext {
        missing(
            dec,
            root,
            "hardware.num_ctx_servers",
            "the number of context servers",
            "add `num_ctx_servers: 1` under `hardware:`",
        );
    }
    let num_ctx = num_ctx.unwrap_or(0);

    aliases.insert("gen".into(), "worker_config.gen".into());
    aliases.insert("ctx".into(), "worker_config.ctx".into());
    let gen_node = dec.map(wc, "worker_config", "gen");
    let Some(gen_node) = gen_node else {
        missing(
            dec,
            root,
            "worker_config.gen",
            "the generation server's engine options",
            "add a `gen:` mapping under `worker_config:`",
        );
        return None;
    };
    let generation = decode_worker(
        dec,
        gen_node,
        "worker_config.gen",
        WorkerOptions::shared(Arc::clone(root), "worker_config.gen"),
        legacy_eplb,
    );
    let ctx = match dec.map(wc, "worker_config", "ctx") {
        Some(n) => Some(decode_worker(
            dec,
            n,
            "worker_config.ctx",
            WorkerOptions::shared(Arc::clone(root), "worker_config.ctx"),
            legacy_eplb,
        )),
        None => {
            if num_ctx > 0 && mode != Mode::GenOnlyNoContext {
                missing(
                    dec,
                    root,
                    "worker_config.ctx",
                    "the context server's engine options",
                    "add a `ctx:` mapping under `worker_config:`",
                );
            }
            None
        }
    };
    let benchmark = Benchmark {
        mode,
        use_nv_sa_benchmark: common.use_nv_sa_benchmark,
        multi_round: common.multi_round,
        benchmark_ratio: common.benchmark_ratio,
        streaming: common.streaming,
        concurrency_list,
        input_length: isl.unwrap_or(0),
        output_length: osl.unwrap_or(0),
        dataset_file: dec
            .string(bench, "benchmark", "dataset_file")
            .or_else(|| environment.values.get("dataset_file").cloned()),
        enable_benchmark,
        only_run_accuracy,
        env_var: common.env_var,
        repeats: common.repeats,
        concurrency_scope: common.scope,
        client: common.client,
        oversubscription_tolerance: common.tolerance,
        num_prompts: None,
        max_failed_pct: common.max_failed_pct,
    };
    let hardware = Hardware {
        gpus_per_node: gpn,
        num_ctx_servers: if mode == Mode::GenOnlyNoContext {
            0
        } else {
            num_ctx
        },
        num_gen_servers: num_gen.unwrap_or(1),
        placement,
    };
    let config = TestConfig {
        format: Format::Disagg,
        metadata,
        slurm,
        benchmark,
        hardware,
        environment,
        profiling,
        accuracy,
        deployment: Deployment::Disagg { ctx, generation },
        engine,
        metrics,
        sim: root.get("sim").cloned(),
        tree: Arc::clone(root),
        provenance: Arc::clone(prov),
        aliases,
    };
    Some(finish_case(id, config, None, root))
}
