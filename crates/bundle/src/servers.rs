//! Server and router processes of a bundle, their placement and the teardown order, plus the
//! setup steps that run before any server starts.

use std::collections::BTreeMap;

use servebench_launch::{Health, ProcPlacement, Process, Step, Teardown};
use servebench_plan::{Allocation, Role};

use crate::engine::{self, EngineAdapter};
use crate::{Ctx, wire_role};

/// Environment of every process, by process name (for the `env/<NAME>.env` files).
pub(crate) type EnvFiles = Vec<(String, BTreeMap<String, String>)>;

/// The health check of a process at `host:port`.
pub(crate) fn health(ctx: &Ctx<'_>, eng: &dyn EngineAdapter, host: &str, port: u16) -> Health {
    let timeout_s = match ctx.case.config.environment.server_health_timeout {
        0 => crate::HEALTH_TIMEOUT_S,
        t => t,
    };
    Health {
        url: format!("http://{host}:{port}{}", eng.health_path()),
        expect_status: 200,
        timeout_s,
        interval_s: 10,
    }
}

/// The servers in plan order: GEN, then CTX, or the aggregated server.
pub(crate) fn servers(
    ctx: &Ctx<'_>,
    eng: &dyn EngineAdapter,
    env_files: &mut EnvFiles,
) -> Vec<Process> {
    let cfg = &ctx.case.config;
    let worker_env = ctx.env_string("worker_env_var");
    let mut out = Vec::new();
    for a in &ctx.plan.allocations {
        let mut env = ctx.profile_env();
        if let Some(first) = a.nodes.first() {
            let ids: Vec<String> = first.gpus.iter().map(u64::to_string).collect();
            env.insert("CUDA_VISIBLE_DEVICES".into(), ids.join(","));
        }
        env.extend(worker_env.clone());
        let role_key = match a.role {
            Role::Ctx => "ctx_worker_env_var",
            Role::Gen => "gen_worker_env_var",
            Role::Agg => "server_env_var",
        };
        env.extend(ctx.env_string(role_key));
        if a.role == Role::Agg {
            // Aggregated perf-sanity servers carry their own `server_env_var`.
            let own = engine::worker(ctx, Role::Agg)
                .and_then(|w| cfg.tree.at(&format!("{}.server_env_var", w.path)))
                .and_then(|n| n.as_str().map(str::to_string));
            if let Some(text) = own {
                env.extend(ctx.parse_env("server_env_var", &text));
            }
        }
        env.extend(eng.server_env(ctx, a));
        let placement = server_placement(ctx, a, eng.uses_mpi());
        env_files.push((a.name.clone(), env.clone()));
        out.push(Process {
            name: a.name.clone(),
            role: wire_role(a.role),
            argv: eng.server_argv(ctx, a),
            env,
            log: format!("3_output_{}.log", a.name),
            placement,
            host: a.host().to_string(),
            port: a.port,
            health: health(ctx, eng, a.host(), a.port),
        });
    }
    out
}

/// The disaggregated router, when the plan has one.
pub(crate) fn router(
    ctx: &Ctx<'_>,
    eng: &dyn EngineAdapter,
    env_files: &mut EnvFiles,
) -> Option<Process> {
    let r = ctx.plan.router.as_ref()?;
    let mut env = ctx.profile_env();
    env.extend(ctx.env_string("server_env_var"));
    env_files.push(("ROUTER".into(), env.clone()));
    let nodes = vec![r.node.clone()];
    Some(Process {
        name: "ROUTER".into(),
        role: servebench_launch::Role::Router,
        argv: eng.router_argv(ctx),
        env,
        log: "4_output_server.log".into(),
        placement: ProcPlacement {
            srun_prefix: ctx.srun(&nodes, 1, 1, None),
            nodes,
            ntasks: 1,
            ntasks_per_node: 1,
            gpus: vec![Vec::new()],
            mpi: None,
            container: ctx.in_container(),
        },
        host: r.node.clone(),
        port: r.port,
        health: health(ctx, eng, &r.node, r.port),
    })
}

/// Teardown: the router first, then the servers in reverse start order.
pub(crate) fn teardown(servers: &[Process], router: Option<&Process>) -> Teardown {
    let order = router
        .map(|r| r.name.clone())
        .into_iter()
        .chain(servers.iter().rev().map(|s| s.name.clone()))
        .collect();
    Teardown {
        signal: "TERM".into(),
        grace_s: 30,
        order,
    }
}

fn server_placement(ctx: &Ctx<'_>, a: &Allocation, mpi: bool) -> ProcPlacement {
    let container = ctx.in_container();
    let (nodes, gpus, ntasks, per_node): (Vec<String>, Vec<Vec<u64>>, u64, u64) = if mpi {
        let per_node = a.nodes.iter().map(|n| n.gpus.len()).max().unwrap_or(1);
        (
            a.nodes.iter().map(|n| n.node.clone()).collect(),
            a.nodes.iter().map(|n| n.gpus.clone()).collect(),
            a.gpu_count() as u64,
            per_node as u64,
        )
    } else {
        // One process per server, on its first node; it drives all its GPUs itself.
        (
            a.nodes
                .first()
                .map(|n| n.node.clone())
                .into_iter()
                .collect(),
            a.nodes.iter().map(|n| n.gpus.clone()).take(1).collect(),
            1,
            1,
        )
    };
    let mpi_type = if mpi {
        Some(
            ctx.opts
                .profile
                .as_ref()
                .and_then(|p| p.mpi.clone())
                .unwrap_or_else(|| "pmix".into()),
        )
    } else {
        None
    };
    ProcPlacement {
        srun_prefix: ctx.srun(&nodes, ntasks, per_node, mpi_type.as_deref()),
        nodes,
        ntasks,
        ntasks_per_node: per_node,
        gpus,
        mpi: mpi_type,
        container,
    }
}

/// Container launch and install steps, on every node.
pub(crate) fn setup_steps(ctx: &Ctx<'_>, nodes: &[String]) -> Vec<Step> {
    let env = &ctx.case.config.environment.values;
    let usable = |k: &str| {
        env.get(k)
            .filter(|v| !v.is_empty() && !v.contains('<'))
            .cloned()
    };
    let n = nodes.len() as u64;
    let srun_all = ctx.srun(nodes, n, 1, None);
    let mut steps = Vec::new();
    if ctx.in_container() {
        steps.push(Step {
            name: "container_launch".into(),
            argv: vec!["true".into()],
            env: BTreeMap::new(),
            log: "1_container_launch.log".into(),
            output_dir: None,
            srun_prefix: srun_all.clone(),
        });
    }
    let install = if let Some(wheel) = usable("trtllm_wheel_path") {
        Some(vec!["pip".into(), "install".into(), wheel])
    } else {
        usable("trtllm_repo").map(|repo| vec!["pip".into(), "install".into(), "-e".into(), repo])
    };
    if let Some(argv) = install {
        steps.push(Step {
            name: "install".into(),
            argv,
            env: BTreeMap::new(),
            log: "2_install.log".into(),
            output_dir: None,
            srun_prefix: srun_all,
        });
    }
    steps
}
