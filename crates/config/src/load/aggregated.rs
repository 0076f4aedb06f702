//! The aggregated formats: perf-sanity `server_configs[]` x `client_configs[]` (one test case
//! per server and client) and the SLURM example's single `server:`.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::disagg::{decode_benchmark_common, max_failed_pct};
use super::keys::*;
use super::sections::*;
use super::worker::decode_worker;
use super::{Ident, finish_case};
use crate::decode::{Decoder, display_path};
use crate::defaults;
use crate::diag::{Diagnostic, Rule};
use crate::model::{
    Accuracy, Benchmark, ConcurrencyScope, Deployment, Engine, Environment, Format, Hardware,
    Metadata, Metrics, Origin, Profiling, Slurm, TestCase, TestConfig, WorkerOptions,
};
use crate::yaml::{Node, Value};

/// Shared top-level sections of the aggregated formats.
struct Common {
    metadata: Metadata,
    slurm: Slurm,
    environment: Environment,
    profiling: Profiling,
    accuracy: Accuracy,
    engine: Engine,
    metrics: Metrics,
    gpus_per_node: Option<u64>,
}

fn decode_common_agg(dec: &mut Decoder<'_>, root: &Node) -> Common {
    let empty = empty_map();
    let hw = dec.map(root, "", "hardware").unwrap_or(&empty);
    dec.check_keys(hw, "hardware", HARDWARE_KEYS);
    let gpn = decode_gpus_per_node(dec, root, hw);
    Common {
        metadata: decode_metadata(dec, root),
        slurm: decode_slurm(dec, root),
        environment: decode_environment(dec, root),
        profiling: decode_profiling(dec, root),
        accuracy: decode_accuracy(dec, root),
        engine: decode_engine(dec, root),
        metrics: decode_metrics(dec, root),
        gpus_per_node: gpn,
    }
}

/// Decodes an aggregated config into its test cases.
pub(super) fn decode_aggregated(
    dec: &mut Decoder<'_>,
    root: &Arc<Node>,
    format: Format,
    id: &Ident<'_>,
    prov: &Arc<BTreeMap<String, Origin>>,
) -> Vec<TestCase> {
    dec.check_keys(
        root,
        "",
        if format == Format::Aggregated {
            TOP_AGG
        } else {
            TOP_AGG_EXAMPLE
        },
    );
    let common = decode_common_agg(dec, root);
    let make = |common: &Common,
                benchmark: Benchmark,
                deployment: Deployment,
                aliases: BTreeMap<String, String>| TestConfig {
        format,
        metadata: common.metadata.clone(),
        slurm: common.slurm.clone(),
        benchmark,
        hardware: Hardware {
            gpus_per_node: common.gpus_per_node,
            num_ctx_servers: 0,
            num_gen_servers: 1,
            placement: defaults::PLACEMENT,
        },
        environment: common.environment.clone(),
        profiling: common.profiling.clone(),
        accuracy: common.accuracy.clone(),
        deployment,
        engine: common.engine,
        metrics: common.metrics.clone(),
        sim: root.get("sim").cloned(),
        tree: Arc::clone(root),
        provenance: Arc::clone(prov),
        aliases,
    };
    if format == Format::AggregatedExample {
        let empty = empty_map();
        let server = dec.map(root, "", "server").unwrap_or(&empty);
        let bench = dec.map(root, "", "benchmark").unwrap_or(&empty);
        dec.check_keys(bench, "benchmark", BENCHMARK_EXAMPLE_KEYS);
        let common_bench = decode_benchmark_common(dec, bench, "benchmark");
        let mut aliases = BTreeMap::new();
        let concurrency_list = match bench.get("max_concurrency") {
            Some(_) => {
                aliases.insert(
                    "benchmark.concurrency_list".into(),
                    "benchmark.max_concurrency".into(),
                );
                dec.concurrency_list(bench, "benchmark", "max_concurrency")
                    .unwrap_or_default()
            }
            None => dec
                .concurrency_list(bench, "benchmark", "concurrency_list")
                .unwrap_or_default(),
        };
        let benchmark = Benchmark {
            mode: common_bench.mode,
            use_nv_sa_benchmark: common_bench.use_nv_sa_benchmark,
            multi_round: common_bench.multi_round,
            benchmark_ratio: common_bench.benchmark_ratio,
            streaming: common_bench.streaming,
            concurrency_list,
            input_length: dec
                .uint(bench, "benchmark", "input_length")
                .unwrap_or(defaults::SEQUENCE_LENGTH),
            output_length: dec
                .uint(bench, "benchmark", "output_length")
                .unwrap_or(defaults::SEQUENCE_LENGTH),
            dataset_file: dec
                .string(bench, "benchmark", "dataset_name")
                .or_else(|| dec.string(bench, "benchmark", "dataset_file")),
            enable_benchmark: common_bench.enable_benchmark,
            only_run_accuracy: false,
            env_var: common_bench.env_var,
            repeats: common_bench.repeats,
            concurrency_scope: ConcurrencyScope::Total,
            client: common_bench.client,
            oversubscription_tolerance: common_bench.tolerance,
            num_prompts: dec.uint(bench, "benchmark", "num_prompts"),
            max_failed_pct: common_bench.max_failed_pct,
        };
        aliases.insert("gen".into(), "server".into());
        aliases.insert("ctx".into(), "server".into());
        let worker = decode_worker(
            dec,
            server,
            "server",
            WorkerOptions::shared(Arc::clone(root), "server"),
            None,
        );
        let deployment = Deployment::Agg {
            server: worker,
            server_name: None,
            client_name: None,
        };
        let config = make(&common, benchmark, deployment, aliases);
        return vec![finish_case(id, config, None, root)];
    }
    let mut cases = Vec::new();
    let Some(servers) = root.get("server_configs") else {
        return cases;
    };
    let Value::Seq(items) = &servers.value else {
        dec.push(
            Diagnostic::new(
                Rule::WrongType,
                dec.file,
                "server_configs",
                "`server_configs` must be a list of servers",
            )
            .at(Some(servers.span))
            .expected("a list of {name, ..., client_configs}"),
        );
        return cases;
    };
    for (i, server) in items.iter().enumerate() {
        let spath = format!("server_configs.{i}");
        let Some(entries) = server.as_map() else {
            dec.push(
                Diagnostic::new(
                    Rule::WrongType,
                    dec.file,
                    display_path(&spath),
                    "a server config must be a mapping",
                )
                .at(Some(server.span))
                .expected("{name, ..., client_configs}"),
            );
            continue;
        };
        let name = dec.string(server, &spath, "name");
        if name.is_none() {
            missing(
                dec,
                root,
                &format!("{spath}.name"),
                "a server name",
                "add `name: <server name>` to this server",
            );
        }
        let name = name.unwrap_or_else(|| format!("server{i}"));
        let options = Node {
            value: Value::Map(
                entries
                    .iter()
                    .filter(|(k, _)| {
                        !k.as_key()
                            .is_some_and(|k| AGG_SERVER_FRAMEWORK_KEYS.contains(&k))
                    })
                    .cloned()
                    .collect(),
            ),
            span: server.span,
        };
        let worker = decode_worker(
            dec,
            server,
            &spath,
            WorkerOptions::owned(Arc::new(options)),
            None,
        );
        // Per-server clients, or (QA one-file-per-case format) top-level clients for every server.
        let (clients, list_path): (&[Node], String) =
            match (server.get("client_configs"), root.get("client_configs")) {
                (
                    Some(Node {
                        value: Value::Seq(c),
                        ..
                    }),
                    _,
                ) => (c, format!("{spath}.client_configs")),
                (
                    None,
                    Some(Node {
                        value: Value::Seq(c),
                        ..
                    }),
                ) => (c, "client_configs".to_string()),
                _ => {
                    missing(
                        dec,
                        root,
                        &format!("{spath}.client_configs"),
                        "a list of benchmark clients",
                        "add `client_configs: [{concurrency: 1, isl: 1024, osl: 1024}]`",
                    );
                    (&[], String::new())
                }
            };
        let mut seen_names = Vec::new();
        for (j, client) in clients.iter().enumerate() {
            let cpath = format!("{list_path}.{j}");
            if !matches!(client.value, Value::Map(_)) {
                dec.push(
                    Diagnostic::new(
                        Rule::WrongType,
                        dec.file,
                        display_path(&cpath),
                        "a client config must be a mapping",
                    )
                    .at(Some(client.span))
                    .expected("{name, concurrency, iterations, isl, osl}"),
                );
                continue;
            }
            dec.check_keys(client, &cpath, AGG_CLIENT_KEYS);
            let (conc_key, isl_key, osl_key) = (
                if client.get("concurrency_list").is_some() {
                    "concurrency_list"
                } else {
                    "concurrency"
                },
                if client.get("input_length").is_some() {
                    "input_length"
                } else {
                    "isl"
                },
                if client.get("output_length").is_some() {
                    "output_length"
                } else {
                    "osl"
                },
            );
            let concurrency = dec
                .concurrency_list(client, &cpath, conc_key)
                .unwrap_or_default();
            let c = concurrency.first().copied().unwrap_or(0);
            let iterations = dec.uint(client, &cpath, "iterations").unwrap_or(1);
            let isl = dec.uint(client, &cpath, isl_key).unwrap_or(1024);
            let osl = dec.uint(client, &cpath, osl_key).unwrap_or(1024);
            let cname = dec
                .string(client, &cpath, "name")
                .unwrap_or_else(|| format!("con{c}_iter{iterations}_isl{isl}_osl{osl}"));
            if seen_names.contains(&cname) {
                dec.push(
                    Diagnostic::new(
                        Rule::InvalidValue,
                        dec.file,
                        display_path(&format!("{cpath}.name")),
                        format!("client name `{cname}` is used twice in this server"),
                    )
                    .at(Some(client.span))
                    .expected("unique client names per server")
                    .hint("rename one of the clients; names form the test id"),
                );
            }
            seen_names.push(cname.clone());
            if c == 0
                && client
                    .get(conc_key)
                    .is_some_and(|n| !matches!(n.value, Value::Str(_) | Value::Seq(_)))
            {
                dec.push(
                    Diagnostic::new(
                        Rule::ConcurrencyEmpty,
                        dec.file,
                        display_path(&format!("{cpath}.concurrency")),
                        "concurrency must be positive",
                    )
                    .at(client.get("concurrency").map(|n| n.span))
                    .actual("0")
                    .expected(">= 1"),
                );
            }
            let mut aliases = BTreeMap::new();
            for (logical, key) in [
                ("benchmark.concurrency_list", conc_key),
                ("benchmark.input_length", isl_key),
                ("benchmark.output_length", osl_key),
                ("benchmark.multi_round", "iterations"),
                ("benchmark.benchmark_ratio", "random_range_ratio"),
                ("benchmark.streaming", "streaming"),
                ("benchmark.dataset_file", "dataset_file"),
                ("benchmark.use_nv_sa_benchmark", "use_nv_sa_benchmark"),
            ] {
                aliases.insert(logical.to_string(), format!("{cpath}.{key}"));
            }
            aliases.insert("gen".into(), spath.clone());
            aliases.insert("ctx".into(), spath.clone());
            let benchmark = Benchmark {
                mode: defaults::MODE,
                use_nv_sa_benchmark: dec
                    .boolean(client, &cpath, "use_nv_sa_benchmark")
                    .unwrap_or(defaults::USE_NV_SA_BENCHMARK),
                multi_round: iterations,
                benchmark_ratio: dec
                    .number(client, &cpath, "random_range_ratio")
                    .unwrap_or(defaults::BENCHMARK_RATIO),
                streaming: dec
                    .boolean(client, &cpath, "streaming")
                    .unwrap_or(defaults::STREAMING),
                concurrency_list: concurrency,
                input_length: isl,
                output_length: osl,
                dataset_file: dec.string(client, &cpath, "dataset_file"),
                enable_benchmark: true,
                only_run_accuracy: dec
                    .boolean(client, &cpath, "only_run_accuracy")
                    .unwrap_or(defaults::ONLY_RUN_ACCURACY),
                env_var: dec.env_vars(client, &cpath, "client_env_var"),
                repeats: defaults::REPEATS,
                concurrency_scope: ConcurrencyScope::Total,
                client: None,
                oversubscription_tolerance: defaults::OVERSUBSCRIPTION_TOLERANCE,
                num_prompts: None,
                max_failed_pct: max_failed_pct(dec, client, &cpath),
            };
            let deployment = Deployment::Agg {
                server: worker.clone(),
                server_name: Some(name.clone()),
                client_name: Some(cname.clone()),
            };
            let config = make(&common, benchmark, deployment, aliases);
            // Fingerprint only what this case runs: this server with this client (built from
            // the small sections, never a copy of every server and client of the file).
            let without = |node: &Node, skip: &[&str]| -> Vec<(Node, Node)> {
                node.as_map()
                    .unwrap_or_default()
                    .iter()
                    .filter(|(k, _)| !k.as_key().is_some_and(|k| skip.contains(&k)))
                    .cloned()
                    .collect()
            };
            let key = |k: &str| Node::synthetic(Value::Str(k.into()));
            let mut one_server = without(server, &["client_configs"]);
            one_server.push((
                key("client_configs"),
                Node::synthetic(Value::Seq(vec![client.clone()])),
            ));
            let mut case_entries = without(root, &["server_configs", "client_configs"]);
            case_entries.push((
                key("server_configs"),
                Node::synthetic(Value::Seq(vec![Node::synthetic(Value::Map(one_server))])),
            ));
            let case_tree = Node::synthetic(Value::Map(case_entries));
            cases.push(finish_case(
                id,
                config,
                Some(format!("{name}-{cname}")),
                &case_tree,
            ));
        }
    }
    cases
}
