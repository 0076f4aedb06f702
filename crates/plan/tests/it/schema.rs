//! Allocation order, router placement, the JSON schema and `--node-count`.

use servebench_config::load::{LoadOptions, load_str};
use servebench_plan::{PlanOptions, SCHEMA_VERSION, check_node_count, plan_case, plans_json};

use crate::case;

const TWO_ROLES: &str = "metadata: {model_name: m}\nhardware: {gpus_per_node: 4, num_ctx_servers: 3, num_gen_servers: 2}\n\
benchmark: {concurrency_list: '4 8', input_length: 1024, output_length: 1024, multi_round: 2}\n\
slurm: {partition: p, account: a, job_time: '01:00:00', extra_args: \"--comment='a b' --exclusive\"}\n\
worker_config:\n  ctx: {tensor_parallel_size: 1, max_seq_len: 2048}\n  gen: {tensor_parallel_size: 2, max_batch_size: 16, max_seq_len: 2100}\n";

#[test]
fn gen_first_then_ctx_on_fresh_nodes_ports_unique_per_node() {
    let plan = plan_case(&case("two", TWO_ROLES), &PlanOptions::default()).unwrap();
    let got: Vec<String> = plan
        .allocations
        .iter()
        .map(|a| {
            let nodes: Vec<String> = a
                .nodes
                .iter()
                .map(|n| format!("{}{:?}", n.node_index, n.gpus))
                .collect();
            format!("{} {} {}", a.name, a.port, nodes.join(" "))
        })
        .collect();
    assert_eq!(
        got,
        [
            "GEN_0 8000 0[0, 1]",
            "GEN_1 8001 0[2, 3]",
            "CTX_0 8000 1[0]",
            "CTX_1 8001 1[1]",
            "CTX_2 8002 1[2]",
        ]
    );
    let r = plan.router.as_ref().unwrap();
    assert_eq!((r.node.as_str(), r.port), ("<node0_placeholder>", 8333));
    assert_eq!(
        (plan.generation.nodes, plan.ctx.nodes, plan.total_nodes),
        (1, 1, 2)
    );
    // Concurrency per gen server x 2 servers, prompts x multi_round.
    let c: Vec<(u64, u64, u64)> = plan
        .concurrency
        .iter()
        .map(|p| (p.listed, p.client, p.num_prompts))
        .collect();
    assert_eq!(c, [(4, 8, 16), (8, 16, 32)]);
    assert_eq!(
        plan.sbatch_args,
        [
            "--partition=p",
            "--account=a",
            "--time=01:00:00",
            "--job-name=disagg_perf_two",
            "--nodes=2",
            "--ntasks=8",
            "--ntasks-per-node=4",
            "--segment=2",
            "--output=logs/slurm-%j.out",
            "--error=logs/slurm-%j.err",
            "--comment=a b",
            "--exclusive",
        ]
    );
}

#[test]
fn exclusive_gives_each_server_whole_nodes() {
    let text = TWO_ROLES.replace(
        "num_gen_servers: 2}",
        "num_gen_servers: 2, placement: exclusive}",
    );
    let plan = plan_case(&case("ex", &text), &PlanOptions::default()).unwrap();
    let firsts: Vec<usize> = plan
        .allocations
        .iter()
        .map(|a| a.nodes[0].node_index)
        .collect();
    assert_eq!(firsts, [0, 1, 2, 3, 4]);
    assert_eq!(plan.total_nodes, 5);
    // Every server is alone on its node, so upstream's per-role numbering is kept.
    let ports: Vec<u16> = plan.allocations.iter().map(|a| a.port).collect();
    assert_eq!(ports, [8000, 8001, 8000, 8001, 8002]);
}

#[test]
fn single_host_ports_are_unique_across_the_plan() {
    let plan = plan_case(
        &case("local", TWO_ROLES),
        &PlanOptions {
            single_host: true,
            ..Default::default()
        },
    )
    .unwrap();
    let ports: Vec<u16> = plan.allocations.iter().map(|a| a.port).collect();
    assert_eq!(ports, [8000, 8001, 8002, 8003, 8004]);
}

#[test]
fn router_moves_off_a_taken_port() {
    // 334 gen servers of one GPU on a 1000-GPU "node": GEN_333 takes 8333.
    let text = "metadata: {model_name: m}\nhardware: {gpus_per_node: 1000, num_ctx_servers: 0, num_gen_servers: 334}\n\
benchmark: {mode: gen_only_no_context, concurrency_list: '1', input_length: 8, output_length: 8}\n\
worker_config:\n  gen: {tensor_parallel_size: 1, max_batch_size: 4, max_seq_len: 64}\n";
    let plan = plan_case(&case("r", text), &PlanOptions::default()).unwrap();
    assert_eq!(plan.router.unwrap().port, 8334);
    assert_eq!(plan.ctx.servers, 0);
}

#[test]
fn legacy_ctx_count_from_first_concurrency() {
    let text = TWO_ROLES
        .replace(
            "metadata: {model_name: m}",
            "metadata: {model_name: m, use_legacy_ctx_calculation: true, ctx_capacity: 5500}",
        )
        .replace("concurrency_list: '4 8'", "concurrency_list: '8192 1'");
    let plan = plan_case(&case("legacy", &text), &PlanOptions::default()).unwrap();
    assert_eq!(plan.ctx.servers, 2);
    assert!(
        plan.notes[0].contains("ceil(8192 / 5500) = 2"),
        "{:?}",
        plan.notes
    );
}

#[test]
fn node_count_mismatch_shows_both_numbers() {
    let plan = plan_case(&case("two", TWO_ROLES), &PlanOptions::default()).unwrap();
    assert!(check_node_count(&plan, 2).is_ok());
    let e = check_node_count(&plan, 3).unwrap_err().to_string();
    assert_eq!(
        e,
        "disagg_perf_two: planned 2 node(s) (ctx 1 + gen 1, packed placement), but --node-count is 3"
    );
}

#[test]
fn profile_shapes_the_request() {
    let profiles = servebench_config::profile::Profiles::parse(
        "profiles:\n  lab: {scheduler: slurm, partition: normal, gpu_request: gres, segment: false, sbatch_args: [--exclusive]}\n",
        "servebench.yaml".as_ref(),
    )
    .unwrap();
    let text = TWO_ROLES.replace("slurm: {partition: p, account: a, job_time: '01:00:00', extra_args: \"--comment='a b' --exclusive\"}\n", "slurm: {extra_args: --gres=gpu:8}\n");
    let plan = plan_case(
        &case("prof", &text),
        &PlanOptions {
            profile: profiles.get("lab").cloned(),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        plan.sbatch_args,
        [
            "--partition=normal",
            "--job-name=disagg_perf_prof",
            "--nodes=2",
            "--ntasks=8",
            "--ntasks-per-node=4",
            "--gres=gpu:4",
            "--output=logs/slurm-%j.out",
            "--error=logs/slurm-%j.err",
            "--exclusive",
        ]
    );
    assert_eq!(plan.segment, None);
}

#[test]
fn aggregated_configs_plan_one_server() {
    let root = crate::shared().join("fixtures/upstream/tests/scripts/perf-sanity/aggregated");
    let mut n = 0;
    for entry in std::fs::read_dir(&root).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let file = load_str(&path, &text, &LoadOptions::default());
        for c in &file.cases {
            let plan = plan_case(c, &PlanOptions::default()).unwrap();
            assert!(plan.agg.is_some() && plan.router.is_none());
            assert_eq!(plan.allocations.len(), 1);
            n += 1;
        }
    }
    assert!(n > 0);
}

/// The `plan --format json` document: a stable schema other tools read.
#[test]
fn json_schema_snapshot() {
    let plan = plan_case(&case("two", TWO_ROLES), &PlanOptions::default()).unwrap();
    let plans = vec![plan];
    let json = plans_json(&plans);
    assert_eq!(
        json.as_array().map(Vec::len),
        Some(1),
        "an array, one object per test case"
    );
    let p = &json[0];
    assert_eq!(p["schema_version"], SCHEMA_VERSION);
    for key in [
        "test_id",
        "total_nodes",
        "total_gpus",
        "ntasks",
        "ntasks_per_node",
        "placement",
        "allocations",
        "sbatch_args",
    ] {
        assert!(!p[key].is_null(), "missing {key}");
    }
    for role in ["ctx", "gen"] {
        for key in ["servers", "gpus_per_server", "nodes"] {
            assert!(p[role][key].is_u64(), "missing {role}.{key}");
        }
    }
    let mut settings = insta::Settings::clone_current();
    settings.set_sort_maps(false);
    settings.bind(|| insta::assert_json_snapshot!("plan_document", json));
}

/// ctx_only (upstream perf-sanity): one context server alone, no gen servers, no router; the
/// client runs the listed concurrency.
#[test]
fn ctx_only_plans_one_context_server() {
    let text = TWO_ROLES.replace(
        "benchmark: {concurrency_list: '4 8'",
        "benchmark: {mode: ctx_only, concurrency_list: '4 8'",
    );
    let plan = plan_case(&case("ctxonly", &text), &PlanOptions::default()).unwrap();
    assert_eq!((plan.ctx.servers, plan.generation.servers), (1, 0));
    assert_eq!(plan.total_nodes, 1);
    assert!(plan.router.is_none());
    assert_eq!(plan.allocations.len(), 1);
    assert_eq!(plan.allocations[0].name, "CTX_0");
    let c: Vec<u64> = plan.concurrency.iter().map(|p| p.client).collect();
    assert_eq!(c, [4, 8]);
    assert!(
        plan.notes[0].contains("num_ctx_servers 3 ignored"),
        "{:?}",
        plan.notes
    );
}

/// Absurd sizes are errors, not hangs or overflows.
#[test]
fn absurd_sizes_are_errors() {
    let huge = TWO_ROLES
        .replace("gpus_per_node: 4", "gpus_per_node: 1000000000")
        .replace(
            "tensor_parallel_size: 2",
            "tensor_parallel_size: 1000000000",
        );
    let e = plan_case(&case("huge", &huge), &PlanOptions::default()).unwrap_err();
    assert!(e.to_string().contains("GPUs, more than the 1000000"), "{e}");
    let wide = TWO_ROLES.replace("num_gen_servers: 2", "num_gen_servers: 9000000000000000000");
    let e = plan_case(&case("wide", &wide), &PlanOptions::default()).unwrap_err();
    assert!(e.to_string().contains("nodes, more than the 100000"), "{e}");
}

#[test]
fn an_invalid_gpus_per_node_is_never_planned_with_a_made_up_value() {
    for bad in ["-4", "0"] {
        let text = TWO_ROLES.replace("gpus_per_node: 4", &format!("gpus_per_node: {bad}"));
        let err = plan_case(&case("bad", &text), &PlanOptions::default()).unwrap_err();
        assert_eq!(err, servebench_plan::PlanError::NoGpusPerNode, "{bad}");
    }
}
