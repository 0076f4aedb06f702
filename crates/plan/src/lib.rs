//! servebench planning: a [`TestCase`] becomes a [`Plan`] (SPEC 5): servers and GPUs per role,
//! nodes under the placement policy, the GPU/port allocation of every server, the router's place,
//! the concurrency points the client will run, and the SLURM request shaped by the cluster
//! profile.
//!
//! This crate is pure: no file system, no network, no tokio, no printing. It depends only on
//! `servebench-config`. Its JSON form ([`plans_json`]: an array of serialized [`Plan`]s) is a
//! documented, stable schema (`docs/planning.md`, [`SCHEMA_VERSION`]).
//!
//! Allocation (SPEC 5.2): a cursor walks `(node, local GPU)`; GEN servers are placed first, then
//! CTX servers, and the cursor moves to a fresh node when the role changes (ctx and gen never
//! share a node) and, under `exclusive`, before every server. Each server gets the port
//! `8000 + its index in its role` (upstream's numbering), moved up while that port is already
//! used on one of its nodes, so ports are unique per node. The router runs on the first GEN
//! server's first node on port 8333, or the next free port there.
//!
//! ```
//! # use servebench_config::{load::{load_str, LoadOptions}};
//! # use servebench_plan::{plan_case, PlanOptions};
//! let text = "metadata: {model_name: m}\nhardware: {gpus_per_node: 4, num_ctx_servers: 2, num_gen_servers: 1}\n\
//! benchmark: {concurrency_list: '8 16', input_length: 1024, output_length: 1024}\n\
//! worker_config:\n  ctx: {tensor_parallel_size: 1, max_seq_len: 2048}\n  gen: {tensor_parallel_size: 8, max_batch_size: 16, max_seq_len: 2100}\n";
//! let file = load_str("disagg/perf/x.yaml".as_ref(), text, &LoadOptions::default());
//! let plan = plan_case(&file.cases[0], &PlanOptions::default()).unwrap();
//! assert_eq!((plan.generation.nodes, plan.ctx.nodes, plan.total_nodes), (2, 1, 3));
//! assert_eq!(plan.allocations[0].nodes[0].node, "<node0_placeholder>");
//! ```

mod alloc;
mod model;
mod slurm;
mod view;

use std::collections::BTreeMap;

use servebench_config::model::{Deployment, Mode, Placement, TestCase};

pub use alloc::{MAX_GPUS, MAX_NODES, legacy_ctx_servers, role_nodes};
pub use model::*;
pub use slurm::check_node_count;
pub use view::{plans_json, render_table, upstream_allocations};

use alloc::{Allocator, role_plan};
use slurm::sbatch_args;

/// Plans one test case.
pub fn plan_case(case: &TestCase, opts: &PlanOptions) -> Result<Plan, PlanError> {
    let cfg = &case.config;
    let hw = &cfg.hardware;
    let gpn = hw.gpus_per_node.ok_or(PlanError::NoGpusPerNode)?;
    let placement = hw.placement;
    let mut notes = Vec::new();
    let mut alloc = Allocator {
        gpn,
        node: 0,
        gpu: 0,
        single_host: opts.single_host,
        used_ports: BTreeMap::new(),
    };
    let mut allocations = Vec::new();
    let exclusive = placement == Placement::Exclusive;
    let (ctx, gen_role, agg, router) = match &cfg.deployment {
        Deployment::Disagg { ctx, generation } => {
            let mut num_ctx = hw.num_ctx_servers;
            if cfg.metadata.use_legacy_ctx_calculation
                && let Some(n) =
                    legacy_ctx_servers(&cfg.benchmark.concurrency_list, cfg.metadata.ctx_capacity)
            {
                notes.push(format!(
                    "legacy ctx count: ceil({} / {}) = {n} context server(s) (hardware.num_ctx_servers {} ignored)",
                    cfg.benchmark.concurrency_list.first().copied().unwrap_or(0),
                    cfg.metadata.ctx_capacity,
                    hw.num_ctx_servers
                ));
                num_ctx = n;
            }
            if cfg.benchmark.mode == Mode::GenOnlyNoContext {
                num_ctx = 0;
            }
            // ctx_only (upstream perf-sanity): the context worker runs alone, as an aggregated
            // server with output length 1; no generation servers, no router.
            let ctx_only = cfg.benchmark.mode == Mode::CtxOnly;
            if ctx_only && num_ctx != 1 {
                notes.push(format!(
                    "ctx_only: one context server runs alone (hardware.num_ctx_servers {num_ctx} ignored)"
                ));
                num_ctx = 1;
            }
            let num_gen = if ctx_only { 0 } else { hw.num_gen_servers };
            if num_gen == 0 && !ctx_only {
                return Err(PlanError::NoGenServers);
            }
            if generation.world_size() == 0 {
                return Err(PlanError::ZeroWorld { role: "gen" });
            }
            let ctx_plan = match ctx {
                Some(w) if num_ctx > 0 => {
                    if w.world_size() == 0 {
                        return Err(PlanError::ZeroWorld { role: "ctx" });
                    }
                    role_plan(w, num_ctx, placement, gpn)
                }
                None if num_ctx > 0 => {
                    return Err(PlanError::MissingWorker {
                        role: "ctx",
                        servers: num_ctx,
                    });
                }
                _ => RolePlan::default(),
            };
            let gen_plan = if ctx_only {
                RolePlan::default()
            } else {
                role_plan(generation, num_gen, placement, gpn)
            };
            check_size(ctx_plan.nodes.saturating_add(gen_plan.nodes))?;
            let servers = ctx_plan.servers.saturating_add(gen_plan.servers);
            if servers > u64::from(u16::MAX - BASE_PORT) {
                return Err(PlanError::TooManyServers { servers });
            }
            check_gpus(
                ctx_plan
                    .servers
                    .saturating_mul(ctx_plan.gpus_per_server)
                    .saturating_add(gen_plan.servers.saturating_mul(gen_plan.gpus_per_server)),
            )?;
            for i in 0..num_gen {
                let i = usize::try_from(i).unwrap_or(usize::MAX);
                allocations.push(alloc.server(
                    Role::Gen,
                    i,
                    gen_plan.gpus_per_server,
                    exclusive,
                )?);
            }
            alloc.fresh_node();
            for i in 0..ctx_plan.servers {
                let i = usize::try_from(i).unwrap_or(usize::MAX);
                allocations.push(alloc.server(
                    Role::Ctx,
                    i,
                    ctx_plan.gpus_per_server,
                    exclusive,
                )?);
            }
            let router = if ctx_only {
                None
            } else {
                let first = allocations
                    .first()
                    .and_then(|a| a.nodes.first())
                    .map_or(0, |n| n.node_index);
                let port = alloc.port(ROUTER_PORT, &[first], "router")?;
                Some(Endpoint {
                    node: node_placeholder(first),
                    port,
                })
            };
            (ctx_plan, gen_plan, None, router)
        }
        Deployment::Agg { server, .. } => {
            if server.world_size() == 0 {
                return Err(PlanError::ZeroWorld { role: "agg" });
            }
            let p = role_plan(server, 1, placement, gpn);
            check_size(p.nodes)?;
            check_gpus(p.gpus_per_server)?;
            allocations.push(alloc.server(Role::Agg, 0, p.gpus_per_server, exclusive)?);
            (RolePlan::default(), RolePlan::default(), Some(p), None)
        }
    };
    let total_nodes = ctx.nodes + gen_role.nodes + agg.as_ref().map_or(0, |a| a.nodes);
    let used_gpus = ctx.servers * ctx.gpus_per_server
        + gen_role.servers * gen_role.gpus_per_server
        + agg.as_ref().map_or(0, |a| a.gpus_per_server);
    let concurrency = concurrency_points(case);
    let (sbatch_args, segment) = sbatch_args(case, total_nodes, gpn, opts);
    let gen_w = cfg.deployment.gen_role();
    let upstream_log_dir_name = format!(
        "disagg_ctx{}_gen{}_{}_batch{}_eplb{}_mtp{}",
        ctx.servers,
        gen_role.servers,
        gen_w.parallel_tag(),
        gen_w.max_batch_size.unwrap_or(0),
        gen_w.eplb_slots,
        gen_w.mtp
    );
    Ok(Plan {
        test_id: case.test_id.clone(),
        display_name: case.display_name.clone(),
        path: case.path.display().to_string(),
        engine: cfg.engine.as_str().to_string(),
        mode: cfg.benchmark.mode.as_str().to_string(),
        placement,
        gpus_per_node: gpn,
        total_nodes,
        total_gpus: total_nodes.saturating_mul(gpn),
        used_gpus,
        ntasks: total_nodes.saturating_mul(gpn),
        ntasks_per_node: gpn,
        ctx,
        generation: gen_role,
        agg,
        allocations,
        router,
        concurrency,
        segment,
        sbatch_args,
        upstream_log_dir_name,
        notes,
    })
}

pub(crate) fn check_gpus(gpus: u64) -> Result<(), PlanError> {
    if gpus > MAX_GPUS {
        return Err(PlanError::TooManyGpus {
            gpus,
            max: MAX_GPUS,
        });
    }
    Ok(())
}

pub(crate) fn check_size(nodes: u64) -> Result<(), PlanError> {
    if nodes > MAX_NODES {
        return Err(PlanError::TooLarge {
            nodes,
            max: MAX_NODES,
        });
    }
    Ok(())
}

/// The client runs of a case (SPEC 7.2, 7.3).
pub fn concurrency_points(case: &TestCase) -> Vec<ConcurrencyPoint> {
    let b = &case.config.benchmark;
    b.concurrency_list
        .iter()
        .map(|&c| {
            // ctx_only runs no generation servers: the list is what the client runs.
            let client = if b.mode == Mode::CtxOnly {
                c
            } else {
                case.config.client_concurrency(c)
            };
            ConcurrencyPoint {
                listed: c,
                client,
                num_prompts: b
                    .num_prompts
                    .unwrap_or_else(|| client.saturating_mul(b.multi_round.max(1))),
            }
        })
        .collect()
}
