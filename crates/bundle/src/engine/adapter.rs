//! The engine adapter trait, the adapter registry and helpers shared by the adapters.

use std::collections::BTreeMap;

use servebench_config::model::{Engine, Worker};
use servebench_plan::{Allocation, Role};

use crate::{BundleFile, Ctx, RenderError};

use super::{sglang, sim, trtllm, vllm};

/// What an engine contributes to a bundle.
pub trait EngineAdapter {
    /// Engine name (`trtllm`).
    fn name(&self) -> &'static str;
    /// Engine files written into the bundle (worker configs, router config template).
    fn files(&self, ctx: &Ctx<'_>) -> Result<Vec<BundleFile>, RenderError>;
    /// Command of one server.
    fn server_argv(&self, ctx: &Ctx<'_>, alloc: &Allocation) -> Vec<String>;
    /// Engine-specific environment of one server (on top of the shared role environment).
    fn server_env(&self, _ctx: &Ctx<'_>, _alloc: &Allocation) -> BTreeMap<String, String> {
        BTreeMap::new()
    }
    /// Command of the disaggregated router.
    fn router_argv(&self, ctx: &Ctx<'_>) -> Vec<String>;
    /// Whether servers are MPI jobs (`srun --mpi=`).
    fn uses_mpi(&self) -> bool {
        false
    }
    /// Health endpoint path.
    fn health_path(&self) -> &'static str {
        "/health"
    }
    /// Client adapter used when the config names none.
    fn default_client(&self) -> servebench_launch::Client;
    /// The model name clients send (`--model`).
    fn served_model(&self, ctx: &Ctx<'_>) -> String {
        ctx.model_path()
    }
}

/// The adapter of an engine.
pub fn adapter(engine: Engine) -> &'static dyn EngineAdapter {
    match engine {
        Engine::Trtllm => &trtllm::Trtllm,
        Engine::Vllm => &vllm::Vllm,
        Engine::Sglang => &sglang::Sglang,
        Engine::Sim => &sim::Sim,
    }
}

/// The worker options of a role.
pub(crate) fn worker<'a>(ctx: &'a Ctx<'_>, role: Role) -> Option<&'a Worker> {
    use servebench_config::model::Deployment;
    match (&ctx.case.config.deployment, role) {
        (Deployment::Disagg { ctx: c, .. }, Role::Ctx) => c.as_ref(),
        (Deployment::Disagg { generation, .. }, Role::Gen) => Some(generation),
        (Deployment::Agg { server, .. }, Role::Agg) => Some(server),
        _ => None,
    }
}

/// The worker config file name of a role (`ctx_config.yaml`, `gen_config.yaml`,
/// `agg_config.yaml`).
pub fn worker_file(role: Role) -> String {
    format!("{}_config.yaml", role.as_str())
}

/// Worker configs written verbatim (key order and unknown keys kept). Under `ctx_only` the
/// context worker runs alone, as upstream's perf-sanity does: `cache_transceiver_config` is
/// dropped and `disable_overlap_scheduler: true` set.
pub(crate) fn worker_files(ctx: &Ctx<'_>) -> Vec<BundleFile> {
    use servebench_config::model::Mode;
    use servebench_config::yaml::{Node, Value};
    let mut out = Vec::new();
    for role in [Role::Ctx, Role::Gen, Role::Agg] {
        let has_servers = ctx.plan.allocations.iter().any(|a| a.role == role);
        let Some(w) = worker(ctx, role).filter(|_| has_servers) else {
            continue;
        };
        let text = if role == Role::Ctx && ctx.case.config.benchmark.mode == Mode::CtxOnly {
            let mut options = (*w.options).clone();
            if let Value::Map(entries) = &mut options.value {
                entries.retain(|(k, _)| k.as_key() != Some("cache_transceiver_config"));
            }
            options.set_path(
                "disable_overlap_scheduler",
                Node::synthetic(Value::Bool(true)),
            );
            servebench_config::yaml::emit(&options)
        } else {
            servebench_config::yaml::emit(&w.options)
        };
        out.push(BundleFile::text(worker_file(role), text));
    }
    out
}

/// `http://host:port`.
pub(crate) fn url(host: &str, port: u16) -> String {
    format!("http://{host}:{port}")
}

/// Arguments shared by the vLLM and SGLang P/D routers after their own program and mode flags:
/// `--prefill URL` per ctx server, `--decode URL` per gen server, then the listen address.
pub(crate) fn pd_router_args(ctx: &Ctx<'_>) -> Vec<String> {
    let mut argv = Vec::new();
    for a in &ctx.plan.allocations {
        let flag = match a.role {
            Role::Ctx => "--prefill",
            Role::Gen => "--decode",
            Role::Agg => continue,
        };
        argv.extend([flag.to_string(), url(a.host(), a.port)]);
    }
    if let Some(r) = &ctx.plan.router {
        argv.extend([
            "--host".to_string(),
            "0.0.0.0".into(),
            "--port".into(),
            r.port.to_string(),
        ]);
    }
    argv
}

/// The router config (`server_config.yaml`) as upstream writes it (keys sorted, as yaml.dump
/// does): backend, context_servers, generation_servers, hostname, port.
pub(crate) fn server_config(ctx: &Ctx<'_>) -> String {
    use std::fmt::Write as _;
    let mut out = String::from("backend: pytorch\n");
    for (key, role) in [
        ("context_servers", Role::Ctx),
        ("generation_servers", Role::Gen),
    ] {
        let urls: Vec<String> = ctx
            .plan
            .allocations
            .iter()
            .filter(|a| a.role == role)
            .map(|a| format!("{}:{}", a.host(), a.port))
            .collect();
        let _ = writeln!(out, "{key}:\n  num_instances: {}", urls.len());
        if urls.is_empty() {
            out.push_str("  urls: []\n");
        } else {
            out.push_str("  urls:\n");
            for u in urls {
                let _ = writeln!(out, "  - {u}");
            }
        }
    }
    if let Some(r) = &ctx.plan.router {
        let _ = writeln!(out, "hostname: {}\nport: {}", r.node, r.port);
    }
    out
}
