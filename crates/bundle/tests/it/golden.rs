//! Router config against upstream's, worker configs round-trip, determinism, snapshots.

use servebench_bundle::{RenderOptions, write_bundle};
use servebench_config::model::Engine;
use servebench_config::yaml::{self, Node, Value};
use servebench_launch::LaunchSpec;

use crate::{case, dump, fixture, render, shared};

fn no_fs() -> RenderOptions {
    RenderOptions {
        skip_dataset_check: true,
        ..Default::default()
    }
}

/// `server_config_base.yaml` equals upstream's byte for byte (keys sorted as yaml.dump writes
/// them), for every config upstream could plan.
#[test]
fn server_config_matches_upstream() {
    let text = std::fs::read_to_string(shared().join("fixtures/oracle/planning.json")).unwrap();
    let oracle: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut compared = 0;
    for (rel, entry) in oracle["configs"].as_object().unwrap() {
        let ex = &entry["examples_default_log_dir"];
        if !ex["error"].is_null() {
            continue;
        }
        let cases = fixture(rel);
        let bundle = render(&cases[0], &no_fs());
        let ours = &bundle.file("server_config_base.yaml").unwrap().contents;
        let theirs = ex["server_config_base_yaml"].as_str().unwrap();
        if rel.contains("deepseek-v3-lite-fp8_1k1k_con256_ctx1_tp1_gen1_tp2") {
            // SPEC 5.2: ctx and gen never share a node. Upstream put CTX_0 on node0 next to
            // GEN_0 (same port 8000: a collision); servebench puts it on node1.
            assert_eq!(
                ours,
                &theirs.replacen(
                    "- <node0_placeholder>:8000",
                    "- <node1_placeholder>:8000",
                    1
                )
            );
        } else {
            assert_eq!(ours, theirs, "{rel}");
        }
        compared += 1;
    }
    assert!(compared >= 30);
}

fn strip(n: &Node) -> Node {
    Node::synthetic(match &n.value {
        Value::Map(m) => Value::Map(m.iter().map(|(k, v)| (strip(k), strip(v))).collect()),
        Value::Seq(s) => Value::Seq(s.iter().map(strip).collect()),
        other => other.clone(),
    })
}

/// `ctx_config.yaml`/`gen_config.yaml` load back to the input file's mapping, keys in the same
/// order. (Upstream's yaml.dump sorted the keys, so its files' sha256 in the oracle differ from
/// ours by design: SPEC 3.2 keeps key order.)
#[test]
fn worker_configs_round_trip() {
    let root = shared().join("fixtures/upstream");
    let mut n = 0;
    for entry in walk(&root) {
        let rel = entry
            .strip_prefix(&root)
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let text = std::fs::read_to_string(&entry).unwrap();
        let original = match yaml::parse(&text) {
            Ok(t) => t,
            Err(_) => continue,
        };
        let Some(wc) = original.get("worker_config") else {
            continue;
        };
        for c in fixture(&rel) {
            let bundle = render(&c, &no_fs());
            for role in ["ctx", "gen"] {
                let (Some(file), Some(src)) =
                    (bundle.file(&format!("{role}_config.yaml")), wc.get(role))
                else {
                    continue;
                };
                let back = yaml::parse(&file.contents).unwrap();
                assert_eq!(strip(&back), strip(src), "{rel} {role}");
                n += 1;
            }
        }
    }
    assert!(n >= 60, "only {n} worker configs compared");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// Every fixture renders with every engine and every client, and its launch spec reads back.
#[test]
fn every_fixture_renders_with_every_engine_and_client() {
    let root = shared().join("fixtures/upstream");
    let mut n = 0;
    for entry in walk(&root) {
        let rel = entry
            .strip_prefix(&root)
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        for c in fixture(&rel) {
            for engine in Engine::ALL {
                for client in servebench_launch::Client::ALL {
                    let opts = RenderOptions {
                        engine: Some(engine),
                        client: Some(client),
                        ..no_fs()
                    };
                    let b = render(&c, &opts);
                    let spec =
                        LaunchSpec::from_json(&b.file("launch.json").unwrap().contents).unwrap();
                    assert_eq!(spec, b.launch);
                    n += 1;
                }
            }
        }
    }
    assert!(n > 500, "{n}");
}

/// Same input, byte-identical bundle; writing twice gives the same tree.
#[test]
fn rendering_is_deterministic() {
    let cases = fixture("examples/disaggregated/slurm/benchmark/config.yaml");
    let a = render(&cases[0], &no_fs());
    let b = render(&cases[0], &no_fs());
    assert_eq!(dump(&a), dump(&b));
    let d1 = tempfile::tempdir().unwrap();
    let d2 = tempfile::tempdir().unwrap();
    let p1 = write_bundle(d1.path(), &a).unwrap();
    write_bundle(d1.path(), &a).unwrap();
    let p2 = write_bundle(d2.path(), &b).unwrap();
    let read = |p: &std::path::Path| {
        let mut files: Vec<(String, Vec<u8>)> = walk_all(p)
            .into_iter()
            .map(|f| {
                (
                    f.strip_prefix(p).unwrap().display().to_string(),
                    std::fs::read(&f).unwrap(),
                )
            })
            .collect();
        files.sort();
        files
    };
    assert_eq!(read(&p1), read(&p2));
    assert!(p1.join("logs").is_dir());
    // A directory that is not a bundle is never overwritten.
    let foreign = d1.path().join(&a.test_id);
    std::fs::remove_file(foreign.join("launch.json")).unwrap();
    assert!(write_bundle(d1.path(), &a).is_err());
}

fn walk_all(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk_all(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Allocation order, ports, router and log names in the launch spec.
#[test]
fn launch_spec_order_and_logs() {
    let text = "metadata: {model_name: m}\nhardware: {gpus_per_node: 4, num_ctx_servers: 2, num_gen_servers: 2}\n\
benchmark: {concurrency_list: '4 8', input_length: 64, output_length: 64, repeats: 2}\n\
accuracy: {enable_accuracy_test: true, tasks: {gsm8k: {model: local-completions, model_args_extra: 'num_concurrent=8'}}}\n\
worker_config:\n  ctx: {tensor_parallel_size: 1, max_seq_len: 128}\n  gen: {tensor_parallel_size: 4, max_batch_size: 8, max_seq_len: 128}\n";
    let b = render(&case("order", text), &no_fs());
    let s = &b.launch;
    let names: Vec<(&str, &str, u16, &str)> = s
        .servers
        .iter()
        .map(|p| (p.name.as_str(), p.host.as_str(), p.port, p.log.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("GEN_0", "<node0_placeholder>", 8000, "3_output_GEN_0.log"),
            ("GEN_1", "<node1_placeholder>", 8001, "3_output_GEN_1.log"),
            ("CTX_0", "<node2_placeholder>", 8000, "3_output_CTX_0.log"),
            ("CTX_1", "<node2_placeholder>", 8001, "3_output_CTX_1.log"),
        ]
    );
    assert_eq!(s.servers[3].env["CUDA_VISIBLE_DEVICES"], "1");
    let r = s.router.as_ref().unwrap();
    assert_eq!(
        (r.host.as_str(), r.port, r.log.as_str()),
        ("<node0_placeholder>", 8333, "4_output_server.log")
    );
    assert_eq!(r.health.url, "http://<node0_placeholder>:8333/health");
    let runs: Vec<(u64, u64, &str)> = s
        .benchmark
        .iter()
        .map(|c| (c.concurrency, c.repeat, c.result_file.as_str()))
        .collect();
    assert_eq!(
        runs,
        [
            (8, 0, "logs/concurrency_8/repeat_0/result.json"),
            (8, 1, "logs/concurrency_8/repeat_1/result.json"),
            (16, 0, "logs/concurrency_16/repeat_0/result.json"),
            (16, 1, "logs/concurrency_16/repeat_1/result.json"),
        ]
    );
    assert_eq!(
        s.benchmark[2].done_line,
        "Benchmark with concurrency 16 done"
    );
    assert_eq!(s.accuracy[0].log, "7_accuracy_eval_gsm8k.log");
    assert!(
        s.accuracy[0].argv.contains(
            &"model=m,base_url=http://<node0_placeholder>:8333/v1/completions,num_concurrent=8"
                .to_string()
        )
    );
    assert_eq!(
        s.teardown.order,
        ["ROUTER", "CTX_1", "CTX_0", "GEN_1", "GEN_0"]
    );
    assert_eq!(s.templates["server_config.yaml"], "server_config_base.yaml");
}

/// gen_only: the queue size is the per-server concurrency capped to the gen capacity.
#[test]
fn gen_only_queue_size_is_capped() {
    let text = "metadata: {model_name: m}\nhardware: {gpus_per_node: 4, num_ctx_servers: 1, num_gen_servers: 1}\n\
benchmark: {mode: gen_only, concurrency_list: '64', input_length: 64, output_length: 64}\n\
worker_config:\n  ctx: {tensor_parallel_size: 1, max_seq_len: 128}\n  gen: {tensor_parallel_size: 4, max_batch_size: 8, max_seq_len: 128}\n";
    let b = render(&case("genonly", text), &no_fs());
    let gen0 = &b.launch.servers[0];
    assert_eq!(gen0.env["TLLM_BENCHMARK_REQ_QUEUES_SIZE"], "8");
    assert_eq!(gen0.env["TRTLLM_DISABLE_KV_CACHE_TRANSFER_OVERLAP"], "1");
}

/// A missing dataset file falls back to random, with one warning.
#[test]
fn missing_dataset_falls_back_to_random_with_a_warning() {
    let text = "metadata: {model_name: m}\nhardware: {gpus_per_node: 4, num_ctx_servers: 1, num_gen_servers: 1}\n\
benchmark: {concurrency_list: '1 2', input_length: 64, output_length: 64, dataset_file: /nonexistent/data.json}\n\
worker_config:\n  ctx: {tensor_parallel_size: 1, max_seq_len: 128}\n  gen: {tensor_parallel_size: 1, max_batch_size: 8, max_seq_len: 128}\n";
    let b = render(&case("ds", text), &RenderOptions::default());
    assert_eq!(b.warnings.len(), 1, "{:?}", b.warnings);
    assert!(
        b.warnings[0]
            .contains("/nonexistent/data.json` does not exist: falling back to the random dataset")
    );
    let argv = &b.launch.benchmark[0].step.argv;
    assert!(
        argv.windows(2).any(|w| w == ["--dataset-name", "random"]),
        "{argv:?}"
    );
    let b = render(&case("ds", text), &no_fs());
    assert!(b.warnings.is_empty());
    let argv = &b.launch.benchmark[0].step.argv;
    assert!(
        argv.windows(2)
            .any(|w| w == ["--dataset-path", "/nonexistent/data.json"])
    );
}

/// Snapshot of a whole TensorRT-LLM bundle (nothing redacted: rendering is deterministic).
#[test]
fn snapshot_trtllm_bundle() {
    let cases = fixture("examples/disaggregated/slurm/benchmark/config.yaml");
    insta::assert_snapshot!("trtllm_examples_bundle", dump(&render(&cases[0], &no_fs())));
}

/// Snapshot of a simulator bundle on the slurmlab profile.
#[test]
fn snapshot_sim_bundle() {
    let profiles = servebench_config::profile::Profiles::read(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../servebench.yaml"),
    )
    .unwrap();
    let text = "metadata: {model_name: llama-3-8b}\nhardware: {gpus_per_node: 4, num_ctx_servers: 1, num_gen_servers: 2}\n\
benchmark: {concurrency_list: '4', input_length: 64, output_length: 32}\nsim: {gpu: H100}\n\
environment: {worker_env_var: 'TLLM_LOG_LEVEL=INFO'}\n\
worker_config:\n  ctx: {tensor_parallel_size: 2, max_seq_len: 128}\n  gen: {tensor_parallel_size: 1, max_batch_size: 8, max_seq_len: 128}\n";
    let opts = RenderOptions {
        profile: profiles.get("slurmlab").cloned(),
        engine: Some(Engine::Sim),
        sim_time_scale: Some(0.0),
        gpu_type: Some("H100".into()),
        ..no_fs()
    };
    insta::assert_snapshot!(
        "sim_slurmlab_bundle",
        dump(&render(&case("sim", text), &opts))
    );
}

/// Accuracy: the task-map shape with extra_kwargs (upstream's kimi accuracy config) and the
/// legacy string shape.
#[test]
fn lm_eval_steps_for_both_accuracy_shapes() {
    let rel = "tests/integration/defs/perf/disagg/test_configs/wideep/accuracy/kimi-k2-thinking-fp4_1k1k_ctx3_gen1_dep32_bs1024_eplb384_mtp0_ccb-NIXL.yaml";
    let b = render(&fixture(rel)[0], &no_fs());
    let step = &b.launch.accuracy[0];
    assert_eq!(step.log, "7_accuracy_eval_gpqa_diamond_local.log");
    let argv = step.argv.join(" ");
    assert!(
        argv.starts_with(
            "lm_eval --model local-chat-completions --tasks gpqa_diamond_local --model_args model="
        ),
        "{argv}"
    );
    assert!(argv.contains("/v1/chat/completions,"), "{argv}");
    assert!(argv.contains(" --log_samples --output_path logs/accuracy_eval_gpqa_diamond_local --apply_chat_template --trust_remote_code --include_path=<repo_path>/tests/integration/lm_eval_configs"), "{argv}");

    let rel = "tests/integration/defs/perf/disagg/test_configs/disagg/perf/deepseek-r1-fp4_8k1k_ctx1_gen3_tep8_bs32_eplb0_mtp0_ccb-NIXL.yaml";
    let mut c = fixture(rel).remove(0);
    assert!(
        render(&c, &no_fs()).launch.accuracy.is_empty(),
        "disabled in the file"
    );
    c.config.accuracy.enable_accuracy_test = true;
    let b = render(&c, &no_fs());
    let step = &b.launch.accuracy[0];
    assert_eq!(
        step.argv[..5],
        [
            "lm_eval",
            "--model",
            "local-completions",
            "--tasks",
            "gsm8k"
        ]
    );
    assert!(step.argv[6].contains("/v1/completions,"), "{:?}", step.argv);
}

/// Aggregated servers: one AGG_0 with `agg_config.yaml`, no router, clients on the server.
#[test]
fn aggregated_bundle() {
    let rel = "tests/scripts/perf-sanity/aggregated/gpt_oss_120b_fp4_blackwell.yaml";
    let c = &fixture(rel)[0];
    let b = render(c, &no_fs());
    let s = &b.launch;
    assert!(s.router.is_none() && s.templates.is_empty());
    assert_eq!(s.servers.len(), 1);
    let agg = &s.servers[0];
    assert_eq!(
        (agg.name.as_str(), agg.log.as_str()),
        ("AGG_0", "3_output_AGG_0.log")
    );
    assert!(
        agg.argv
            .windows(2)
            .any(|w| w == ["--config", "agg_config.yaml"])
    );
    assert!(b.file("agg_config.yaml").is_some() && b.file("server_config_base.yaml").is_none());
    let bench = &s.benchmark[0].step.argv;
    assert!(bench.windows(2).any(|w| w == ["--host", agg.host.as_str()]));
    assert!(
        bench
            .windows(2)
            .any(|w| w[0] == "--port" && w[1] == agg.port.to_string())
    );
}

/// vLLM and SGLang routers get every prefill and decode URL.
#[test]
fn vllm_and_sglang_routers() {
    let text = "metadata: {model_name: m}\nhardware: {gpus_per_node: 4, num_ctx_servers: 2, num_gen_servers: 1}\n\
benchmark: {concurrency_list: '4', input_length: 64, output_length: 64}\n\
worker_config:\n  ctx: {tensor_parallel_size: 2, max_seq_len: 128}\n  gen: {tensor_parallel_size: 4, max_batch_size: 8, max_seq_len: 128, custom_knob: 1}\n";
    let c = case("pd", text);
    let v = render(
        &c,
        &RenderOptions {
            engine: Some(Engine::Vllm),
            ..no_fs()
        },
    );
    assert_eq!(
        v.launch.router.as_ref().unwrap().argv.join(" "),
        "vllm-router --vllm-pd-disaggregation --decode http://<node0_placeholder>:8000 --prefill http://<node1_placeholder>:8000 --prefill http://<node1_placeholder>:8001 --host 0.0.0.0 --port 8333"
    );
    assert_eq!(v.launch.client, servebench_launch::Client::VllmBenchServe);
    let s = render(
        &c,
        &RenderOptions {
            engine: Some(Engine::Sglang),
            ..no_fs()
        },
    );
    assert!(
        s.launch
            .router
            .as_ref()
            .unwrap()
            .argv
            .join(" ")
            .contains("--pd-disaggregation --decode http://<node0_placeholder>:8000 --prefill")
    );
    assert!(s.launch.servers[0].argv.join(" ").contains("--disaggregation-mode decode --disaggregation-transfer-backend nixl --tp-size 4 --max-running-requests 8 --context-length 128"));
    assert_eq!(
        s.warnings,
        ["sglang: gen options not passed to the server: custom_knob"]
    );
    assert_eq!(
        s.launch.client,
        servebench_launch::Client::SglangBenchServing
    );
}

/// ctx_only: the context worker alone with output length 1, overlap scheduler off, no KV
/// transfer config, clients on the context server.
#[test]
fn ctx_only_bundle() {
    let text = "metadata: {model_name: m}\nhardware: {gpus_per_node: 4, num_ctx_servers: 1, num_gen_servers: 1}\n\
benchmark: {mode: ctx_only, concurrency_list: '4', input_length: 64, output_length: 1}\n\
worker_config:\n  ctx: {tensor_parallel_size: 1, max_seq_len: 128, cache_transceiver_config: {backend: UCX}}\n  gen: {tensor_parallel_size: 1, max_batch_size: 8, max_seq_len: 128}\n";
    let c = case("ctxonly", text);
    let b = render(&c, &no_fs());
    assert_eq!(
        b.file("ctx_config.yaml").unwrap().contents,
        "tensor_parallel_size: 1\nmax_seq_len: 128\ndisable_overlap_scheduler: true\n"
    );
    assert!(b.file("gen_config.yaml").is_none() && b.launch.router.is_none());
    let argv = &b.launch.benchmark[0].step.argv;
    assert!(
        argv.windows(2).any(|w| w == ["--random-output-len", "1"]),
        "{argv:?}"
    );
    assert!(argv.windows(2).any(|w| w == ["--port", "8000"]), "{argv:?}");
    let sim = render(
        &c,
        &RenderOptions {
            engine: Some(Engine::Sim),
            ..no_fs()
        },
    );
    assert!(
        sim.launch.servers[0]
            .argv
            .windows(2)
            .any(|w| w == ["--role", "agg"])
    );
}

/// An aggregated server's own `server_env_var` reaches its environment.
#[test]
fn aggregated_server_env() {
    let rel =
        "tests/scripts/perf-sanity/aggregated/deepseek_r1_fp4_v2_2_nodes_grace_blackwell.yaml";
    let cases = fixture(rel);
    let mtp3 = cases.iter().map(|c| render(c, &no_fs())).find(|b| {
        b.launch.servers[0]
            .env
            .get("TLLM_SPEC_DECODE_FORCE_NUM_ACCEPTED_TOKENS")
            .map(String::as_str)
            == Some("3")
    });
    assert!(mtp3.is_some());
}
