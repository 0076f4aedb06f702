//! The plan's types: what a [`Plan`] holds, its options and its errors.

use serde::Serialize;
use servebench_config::model::Placement;
use servebench_config::profile::Profile;

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
