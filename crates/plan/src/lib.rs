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

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use servebench_config::model::{Deployment, Mode, Placement, TestCase, Worker};
use servebench_config::profile::{GpuRequest, Profile};

/// Version of the plan JSON schema. Bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;
/// First port handed to servers on a node.
pub const BASE_PORT: u16 = 8000;
/// The router's preferred port.
pub const ROUTER_PORT: u16 = 8333;

/// The placeholder of node `i` (upstream's spelling), replaced by the i-th hostname of the
/// allocation at run time.
pub fn node_placeholder(i: usize) -> String {
    format!("<node{i}_placeholder>")
}

/// What the plan depends on besides the config.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// The cluster profile in force, if any (GPU request style, `--segment`, extra args,
    /// defaults for partition/account/time).
    pub profile: Option<Profile>,
    /// Log directory written into `--output`/`--error` (default `logs`, relative to the bundle).
    pub log_dir: Option<String>,
    /// All placeholder nodes are one host (local executor): ports must then be unique across the
    /// whole plan, not only per node.
    pub single_host: bool,
}

/// A server role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Generation (decode) server.
    Gen,
    /// Context (prefill) server.
    Ctx,
    /// Aggregated server.
    Agg,
}

impl Role {
    /// Upstream's upper-case spelling (`GEN`, `CTX`, `AGG`), used in log names.
    pub fn upper(self) -> &'static str {
        match self {
            Role::Gen => "GEN",
            Role::Ctx => "CTX",
            Role::Agg => "AGG",
        }
    }
    /// Lower-case spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Gen => "gen",
            Role::Ctx => "ctx",
            Role::Agg => "agg",
        }
    }
}

/// Sizes of one role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct RolePlan {
    /// Number of servers.
    pub servers: u64,
    /// GPUs per server (world size = TP x PP x CP).
    pub gpus_per_server: u64,
    /// Nodes the role occupies.
    pub nodes: u64,
    /// Tensor parallel size.
    pub tp: u64,
    /// Pipeline parallel size.
    pub pp: u64,
    /// Context parallel size.
    pub cp: u64,
    /// Expert parallel size (when set).
    pub ep: Option<u64>,
    /// Attention data parallel.
    pub attention_dp: bool,
}

/// GPUs of one node given to a server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeGpus {
    /// Node placeholder (`<node0_placeholder>`).
    pub node: String,
    /// Index of the node in the allocation (0-based).
    pub node_index: usize,
    /// Local GPU ids.
    pub gpus: Vec<u64>,
}

/// Where one server runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Allocation {
    /// Role.
    pub role: Role,
    /// Index within the role.
    pub index: usize,
    /// `GEN_0`, `CTX_1`, `AGG_0`.
    pub name: String,
    /// Nodes and GPUs, in order; the server listens on the first node.
    pub nodes: Vec<NodeGpus>,
    /// Listening port, unique on its nodes.
    pub port: u16,
}

impl Allocation {
    /// The node the server listens on.
    pub fn host(&self) -> &str {
        self.nodes.first().map_or("", |n| n.node.as_str())
    }
    /// GPUs in total.
    pub fn gpu_count(&self) -> usize {
        self.nodes.iter().map(|n| n.gpus.len()).sum()
    }
}

/// Host and port of the router.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    /// Node placeholder.
    pub node: String,
    /// Port.
    pub port: u16,
}

/// One client run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConcurrencyPoint {
    /// The value as listed in `concurrency_list`.
    pub listed: u64,
    /// The concurrency the client runs (SPEC 7.3: `listed x num_gen_servers` under
    /// `per_gen_server`).
    pub client: u64,
    /// Prompts sent: `client x multi_round` (or the config's explicit `num_prompts`).
    pub num_prompts: u64,
}

/// The complete plan of one test case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// Test id.
    pub test_id: String,
    /// Display name.
    pub display_name: String,
    /// Config file.
    pub path: String,
    /// Engine adapter name.
    pub engine: String,
    /// Benchmark mode.
    pub mode: String,
    /// Placement policy.
    pub placement: Placement,
    /// GPUs per node.
    pub gpus_per_node: u64,
    /// Nodes requested.
    pub total_nodes: u64,
    /// GPUs requested (`total_nodes x gpus_per_node`).
    pub total_gpus: u64,
    /// GPUs the servers use (sum of world sizes).
    pub used_gpus: u64,
    /// SLURM tasks (`total_nodes x gpus_per_node`).
    pub ntasks: u64,
    /// Tasks per node (`gpus_per_node`).
    pub ntasks_per_node: u64,
    /// Context role (zero servers for aggregated and `gen_only_no_context`).
    pub ctx: RolePlan,
    /// Generation role (zero servers for aggregated); `gen` in JSON.
    #[serde(rename = "gen")]
    pub generation: RolePlan,
    /// The aggregated server's role, for aggregated configs.
    pub agg: Option<RolePlan>,
    /// Server allocations: GEN servers, then CTX servers (or the AGG server).
    pub allocations: Vec<Allocation>,
    /// The router (disaggregated only).
    pub router: Option<Endpoint>,
    /// Client runs, in order.
    pub concurrency: Vec<ConcurrencyPoint>,
    /// `--segment` value, when requested.
    pub segment: Option<u64>,
    /// sbatch arguments (without `sbatch` and the script).
    pub sbatch_args: Vec<String>,
    /// Upstream's default log directory name for this topology.
    pub upstream_log_dir_name: String,
    /// Decisions worth knowing (legacy ctx count, ...).
    pub notes: Vec<String>,
}

/// The `plan --format json` document: an array with one object per planned test case, each
/// carrying `schema_version`, so tools can stream or filter it (`jq '.[] | .total_nodes'`)
/// and still check the version of every element. Cases that cannot be planned are reported on
/// stderr and in the exit code, not in this array.
pub fn plans_json(plans: &[Plan]) -> serde_json::Value {
    serde_json::Value::Array(
        plans
            .iter()
            .map(|plan| {
                let mut object = serde_json::Map::new();
                object.insert("schema_version".into(), SCHEMA_VERSION.into());
                if let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(plan) {
                    object.extend(fields);
                }
                serde_json::Value::Object(object)
            })
            .collect(),
    )
}

/// A test case that could not be planned.
#[derive(Debug, Clone, Serialize)]
pub struct PlanErrorEntry {
    /// Test id.
    pub test_id: String,
    /// Message.
    pub error: String,
}

/// Why a case cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// A role's world size is zero.
    #[error("{role} world size is 0 (tensor/pipeline/context parallel sizes must be >= 1)")]
    ZeroWorld {
        /// Role.
        role: &'static str,
    },
    /// Servers are configured but the role's engine options are missing.
    #[error("{servers} {role} server(s) configured but `worker_config.{role}` is missing")]
    MissingWorker {
        /// Role.
        role: &'static str,
        /// Servers configured.
        servers: u64,
    },
    /// No generation servers.
    #[error("`hardware.num_gen_servers` is 0; at least one generation server is needed")]
    NoGenServers,
    /// `hardware.gpus_per_node` is missing or invalid (its load diagnostic says which).
    #[error(
        "`hardware.gpus_per_node` is missing or not a positive integer; fix it before planning"
    )]
    NoGpusPerNode,
    /// The plan would be absurdly large.
    #[error("the plan needs {nodes} nodes, more than the {max} servebench plans")]
    TooLarge {
        /// Nodes needed.
        nodes: u64,
        /// Limit.
        max: u64,
    },
    /// The servers would use absurdly many GPUs.
    #[error("the plan needs {gpus} GPUs, more than the {max} servebench plans")]
    TooManyGpus {
        /// GPUs needed.
        gpus: u64,
        /// Limit.
        max: u64,
    },
    /// More servers than there are ports above 8000.
    #[error("{servers} servers cannot each get a port between 8000 and 65535")]
    TooManyServers {
        /// Servers configured.
        servers: u64,
    },
    /// No port is free on a node.
    #[error("no free port for {server} on {node}")]
    NoPort {
        /// Server name.
        server: String,
        /// Node.
        node: String,
    },
}

/// The planned total differs from `--node-count` (SPEC 4 rule 13).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{test_id}: planned {planned} node(s) (ctx {ctx_nodes} + gen {gen_nodes}, {placement} placement), but --node-count is {requested}"
)]
pub struct NodeCountMismatch {
    /// Test id.
    pub test_id: String,
    /// Planned total.
    pub planned: u64,
    /// Requested.
    pub requested: u64,
    /// Planned ctx nodes.
    pub ctx_nodes: u64,
    /// Planned gen nodes (or aggregated nodes).
    pub gen_nodes: u64,
    /// Placement policy.
    pub placement: &'static str,
}

/// Largest node count servebench plans (guards against overflowing allocations).
pub const MAX_NODES: u64 = 100_000;
/// Largest GPU count servebench allocates (each GPU id is listed in the plan).
pub const MAX_GPUS: u64 = 1_000_000;

/// SPEC 5.3: `ceil(first concurrency / ctx_capacity)`.
pub fn legacy_ctx_servers(concurrency: &[u64], ctx_capacity: u64) -> Option<u64> {
    let first = *concurrency.first()?;
    (ctx_capacity > 0).then(|| first.div_ceil(ctx_capacity))
}

/// Nodes for `servers` servers of `world` GPUs under a placement policy (SPEC 5.2).
pub fn role_nodes(placement: Placement, world: u64, servers: u64, gpus_per_node: u64) -> u64 {
    let gpn = gpus_per_node.max(1);
    match placement {
        Placement::Packed => world.saturating_mul(servers).div_ceil(gpn),
        Placement::Exclusive => world.div_ceil(gpn).saturating_mul(servers),
    }
}

fn role_plan(w: &Worker, servers: u64, placement: Placement, gpn: u64) -> RolePlan {
    RolePlan {
        servers,
        gpus_per_server: w.world_size(),
        nodes: role_nodes(placement, w.world_size(), servers, gpn),
        tp: w.tp,
        pp: w.pp,
        cp: w.cp,
        ep: w.ep,
        attention_dp: w.attention_dp,
    }
}

/// Walks `(node, gpu)` and hands out GPUs and ports.
struct Allocator {
    gpn: u64,
    node: u64,
    gpu: u64,
    single_host: bool,
    used_ports: BTreeMap<u64, BTreeSet<u16>>,
}

impl Allocator {
    fn fresh_node(&mut self) {
        if self.gpu > 0 {
            self.node += 1;
            self.gpu = 0;
        }
    }

    fn take(&mut self, world: u64) -> Vec<NodeGpus> {
        let mut out: Vec<NodeGpus> = Vec::new();
        for _ in 0..world {
            if self.gpu >= self.gpn {
                self.node += 1;
                self.gpu = 0;
            }
            let node_index = usize::try_from(self.node).unwrap_or(usize::MAX);
            match out.last_mut() {
                Some(last) if last.node_index == node_index => last.gpus.push(self.gpu),
                _ => out.push(NodeGpus {
                    node: node_placeholder(node_index),
                    node_index,
                    gpus: vec![self.gpu],
                }),
            }
            self.gpu += 1;
        }
        out
    }

    fn port_key(&self, node: usize) -> u64 {
        if self.single_host {
            0
        } else {
            u64::try_from(node).unwrap_or(u64::MAX)
        }
    }

    /// The first port >= `preferred` free on every node of `nodes`; marks it used.
    fn port(&mut self, preferred: u16, nodes: &[usize], name: &str) -> Result<u16, PlanError> {
        let keys: Vec<u64> = nodes.iter().map(|n| self.port_key(*n)).collect();
        let mut port = preferred;
        loop {
            let free = keys
                .iter()
                .all(|k| !self.used_ports.get(k).is_some_and(|s| s.contains(&port)));
            if free {
                for k in keys {
                    self.used_ports.entry(k).or_default().insert(port);
                }
                return Ok(port);
            }
            port = port.checked_add(1).ok_or_else(|| PlanError::NoPort {
                server: name.to_string(),
                node: nodes
                    .first()
                    .map(|n| node_placeholder(*n))
                    .unwrap_or_default(),
            })?;
        }
    }

    fn server(
        &mut self,
        role: Role,
        index: usize,
        world: u64,
        exclusive: bool,
    ) -> Result<Allocation, PlanError> {
        if exclusive {
            self.fresh_node();
        }
        let nodes = self.take(world);
        let name = format!("{}_{index}", role.upper());
        let offset = u16::try_from(index).unwrap_or(u16::MAX);
        let idx: Vec<usize> = nodes.iter().map(|n| n.node_index).collect();
        let port = self.port(BASE_PORT.saturating_add(offset), &idx, &name)?;
        Ok(Allocation {
            role,
            index,
            name,
            nodes,
            port,
        })
    }
}

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

fn check_gpus(gpus: u64) -> Result<(), PlanError> {
    if gpus > MAX_GPUS {
        return Err(PlanError::TooManyGpus {
            gpus,
            max: MAX_GPUS,
        });
    }
    Ok(())
}

fn check_size(nodes: u64) -> Result<(), PlanError> {
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

/// The sbatch arguments of SPEC 5.4, in upstream's order: partition, account, time, job name,
/// nodes, tasks, tasks per node, the profile's GPU request, `--segment`, output and error files,
/// then the profile's and the config's extra arguments (duplicates of earlier arguments dropped).
fn sbatch_args(
    case: &TestCase,
    nodes: u64,
    gpn: u64,
    opts: &PlanOptions,
) -> (Vec<String>, Option<u64>) {
    let s = &case.config.slurm;
    let profile = opts.profile.as_ref();
    let mut args = Vec::new();
    let partition = s
        .partition
        .clone()
        .or_else(|| profile.and_then(|p| p.partition.clone()));
    if let Some(p) = partition.filter(|p| !p.is_empty()) {
        args.push(format!("--partition={p}"));
    }
    let account = s
        .account
        .clone()
        .or_else(|| profile.and_then(|p| p.account.clone()));
    if let Some(a) = account.filter(|a| !a.is_empty()) {
        args.push(format!("--account={a}"));
    }
    let time = s
        .job_time
        .clone()
        .or_else(|| profile.and_then(|p| p.job_time.clone()));
    if let Some(t) = time.filter(|t| !t.is_empty()) {
        args.push(format!("--time={t}"));
    }
    let name = s.job_name.clone().unwrap_or_else(|| case.test_id.clone());
    args.push(format!("--job-name={name}"));
    args.push(format!("--nodes={nodes}"));
    args.push(format!("--ntasks={}", nodes.saturating_mul(gpn)));
    args.push(format!("--ntasks-per-node={gpn}"));
    match profile.map_or(GpuRequest::None, |p| p.gpu_request) {
        GpuRequest::GpusPerNode => args.push(format!("--gpus-per-node={gpn}")),
        GpuRequest::Gres => args.push(format!("--gres=gpu:{gpn}")),
        GpuRequest::None => {}
    }
    // Without a profile, follow upstream (segment unless the config says no); with one, only
    // where the cluster supports it.
    let supported = profile.is_none_or(|p| p.segment);
    let segment = (supported && s.set_segment != Some(false)).then_some(nodes);
    if let Some(n) = segment {
        args.push(format!("--segment={n}"));
    }
    let log_dir = opts.log_dir.as_deref().unwrap_or("logs");
    args.push(format!("--output={log_dir}/slurm-%j.out"));
    args.push(format!("--error={log_dir}/slurm-%j.err"));
    let extra_cfg = s
        .extra_args
        .as_deref()
        .map(|e| {
            servebench_config::profile::shell_words(e)
                .unwrap_or_else(|| e.split_whitespace().map(str::to_string).collect())
        })
        .unwrap_or_default();
    let gpu_flag = |a: &str| a.starts_with("--gres=gpu") || a.starts_with("--gpus-per-node");
    let has_gpu_flag = args.iter().any(|a| gpu_flag(a));
    for extra in profile
        .map(|p| p.sbatch_args.clone())
        .unwrap_or_default()
        .into_iter()
        .chain(extra_cfg)
    {
        // The profile's GPU request wins over a config's hard-coded one (upstream configs carry
        // `--gres=gpu:4` for GB200 in `extra_args`).
        if args.contains(&extra) || (has_gpu_flag && gpu_flag(&extra)) {
            continue;
        }
        args.push(extra);
    }
    (args, segment)
}

/// Checks `--node-count` against the plan (SPEC 4 rule 13).
pub fn check_node_count(plan: &Plan, requested: u64) -> Result<(), NodeCountMismatch> {
    if plan.total_nodes == requested {
        return Ok(());
    }
    Err(NodeCountMismatch {
        test_id: plan.test_id.clone(),
        planned: plan.total_nodes,
        requested,
        ctx_nodes: plan.ctx.nodes,
        gen_nodes: plan.generation.nodes + plan.agg.as_ref().map_or(0, |a| a.nodes),
        placement: match plan.placement {
            Placement::Packed => "packed",
            Placement::Exclusive => "exclusive",
        },
    })
}

/// Upstream's `allocations.json` shape for a plan:
/// `{"GEN": {"0": {"port": P, "nodes": {"<node0_placeholder>": [0, 1]}}}, "CTX": {...}}`.
pub fn upstream_allocations(plan: &Plan) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for role in [Role::Gen, Role::Ctx, Role::Agg] {
        let mut servers = serde_json::Map::new();
        for a in plan.allocations.iter().filter(|a| a.role == role) {
            let mut nodes = serde_json::Map::new();
            for n in &a.nodes {
                nodes.insert(n.node.clone(), serde_json::json!(n.gpus));
            }
            servers.insert(
                a.index.to_string(),
                serde_json::json!({"port": a.port, "nodes": nodes}),
            );
        }
        if role != Role::Agg || !servers.is_empty() {
            out.insert(role.upper().to_string(), serde_json::Value::Object(servers));
        }
    }
    serde_json::Value::Object(out)
}

/// A one-line-per-test table of plans (for `servebench plan`); with `verbose`, each server's
/// allocation follows its test.
pub fn render_table(plans: &[Plan], verbose: bool) -> String {
    use std::fmt::Write as _;
    let header = [
        "TEST", "PLACE", "CTX", "CTX_GPU", "CTX_N", "GEN", "GEN_GPU", "GEN_N", "NODES", "GPUS",
    ];
    let rows: Vec<[String; 10]> = plans
        .iter()
        .map(|p| {
            let (gen_servers, gen_gpus, gen_nodes) = match &p.agg {
                Some(a) => (format!("agg:{}", a.servers), a.gpus_per_server, a.nodes),
                None => (
                    p.generation.servers.to_string(),
                    p.generation.gpus_per_server,
                    p.generation.nodes,
                ),
            };
            [
                p.test_id.clone(),
                match p.placement {
                    Placement::Packed => "packed".into(),
                    Placement::Exclusive => "exclusive".into(),
                },
                p.ctx.servers.to_string(),
                p.ctx.gpus_per_server.to_string(),
                p.ctx.nodes.to_string(),
                gen_servers,
                gen_gpus.to_string(),
                gen_nodes.to_string(),
                p.total_nodes.to_string(),
                p.total_gpus.to_string(),
            ]
        })
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &mut dyn Iterator<Item = &str>| {
        let mut s = String::new();
        for (i, (c, w)) in cells.zip(widths.iter()).enumerate() {
            if i == 0 {
                let _ = write!(s, "{c:<w$}");
            } else {
                let _ = write!(s, "  {c:>w$}");
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(&mut out, &mut header.iter().copied());
    for (r, p) in rows.iter().zip(plans) {
        line(&mut out, &mut r.iter().map(String::as_str));
        if verbose {
            for a in &p.allocations {
                let nodes: Vec<String> = a
                    .nodes
                    .iter()
                    .map(|n| {
                        let gpus: Vec<String> = n.gpus.iter().map(u64::to_string).collect();
                        format!("node{}[{}]", n.node_index, gpus.join(","))
                    })
                    .collect();
                let _ = writeln!(
                    out,
                    "    {:<8} port {:<5} {}",
                    a.name,
                    a.port,
                    nodes.join(" ")
                );
            }
            if let Some(r) = &p.router {
                let node = r
                    .node
                    .trim_start_matches("<node")
                    .trim_end_matches("_placeholder>");
                let _ = writeln!(out, "    {:<8} port {:<5} node{node}", "ROUTER", r.port);
            }
            for n in &p.notes {
                let _ = writeln!(out, "    note: {n}");
            }
        }
    }
    out
}
