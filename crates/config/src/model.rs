//! The typed test-config model: one [`TestCase`] per runnable deployment + benchmark.
//!
//! Framework-owned sections are typed; engine options (`worker_config.ctx/gen`, aggregated server
//! options) stay verbatim in a [`Worker`] as a located YAML tree, with the few fields the tool
//! reasons about read into typed fields. Any value can be located in its file with
//! [`TestConfig::locate`].

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use crate::yaml::{Node, Span, Value};

/// The shape of a config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// The disaggregated framework schema (`worker_config.ctx/gen`), all generations, including
    /// perf-sanity disaggregated and QA one-concurrency-per-file configs.
    Disagg,
    /// The aggregated perf-sanity schema (`server_configs[]` with `client_configs[]`).
    Aggregated,
    /// The aggregated SLURM example (`server:` with `tp_size`/`ep_size`/`pp_size`).
    AggregatedExample,
}

/// Benchmark mode (`benchmark.mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Context then generation, the normal flow.
    E2e,
    /// Generation servers are benchmarked with the context phase pre-filled.
    GenOnly,
    /// Generation only, no context servers at all.
    GenOnlyNoContext,
    /// Context servers only (output length 1).
    CtxOnly,
}

impl Mode {
    /// The YAML spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::E2e => "e2e",
            Mode::GenOnly => "gen_only",
            Mode::GenOnlyNoContext => "gen_only_no_context",
            Mode::CtxOnly => "ctx_only",
        }
    }
    /// Every mode, for messages.
    pub const ALL: [Mode; 4] = [
        Mode::E2e,
        Mode::GenOnly,
        Mode::GenOnlyNoContext,
        Mode::CtxOnly,
    ];
}

/// How `concurrency_list` values are meant (SPEC 7.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConcurrencyScope {
    /// Per generation server: the client runs `c x num_gen_servers`.
    PerGenServer,
    /// The client runs `c` as is.
    Total,
}

impl ConcurrencyScope {
    /// The YAML spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ConcurrencyScope::PerGenServer => "per_gen_server",
            ConcurrencyScope::Total => "total",
        }
    }
}

/// Server placement policy (`hardware.placement`, SPEC 5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Placement {
    /// Servers of one role may share nodes.
    Packed,
    /// Each server gets whole nodes.
    Exclusive,
}

impl Placement {
    /// The YAML spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Placement::Packed => "packed",
            Placement::Exclusive => "exclusive",
        }
    }
}

/// Where a value that is not from the file came from (SPEC 3.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "source", rename_all = "snake_case")]
pub enum Origin {
    /// Built-in default.
    Default,
    /// A cluster profile.
    Profile(String),
    /// An environment variable.
    Env(String),
    /// The command line (`--set` or a flag).
    Cli(String),
    /// Computed from another field (legacy spellings).
    Derived(String),
    /// The file itself; appears only as a part of [`Origin::Merged`].
    File,
    /// Several layers each contributed part of the value (container mounts), lowest first.
    Merged(Vec<Origin>),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Default => write!(f, "default"),
            Origin::Profile(p) => write!(f, "cluster profile {p}"),
            Origin::Env(v) => write!(f, "env {v}"),
            Origin::Cli(a) => write!(f, "command line {a}"),
            Origin::Derived(from) => write!(f, "derived from {from}"),
            Origin::File => write!(f, "the file"),
            Origin::Merged(parts) => {
                for (i, part) in parts.iter().enumerate() {
                    if i > 0 {
                        write!(f, " + ")?;
                    }
                    write!(f, "{part}")?;
                }
                Ok(())
            }
        }
    }
}

/// A metric extraction override or resolved default (SPEC 9.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Metrics {
    /// Log file name (or glob) inside the job's log directory.
    pub log_file: String,
    /// Regex with one group per metric name, optionally a trailing concurrency group.
    pub extractor_pattern: String,
    /// Metric names, one per group.
    pub metric_names: Vec<String>,
}

/// How an accuracy dataset's measured value is judged against `expected_value` (SPEC 10.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdType {
    /// Upstream's one-sided hypothesis test (`alpha`, `beta`, `sigma`, `num_samples`).
    HypothesisTest,
    /// Pass when `actual >= expected - threshold` (fractions, like `expected_value`).
    Absolute,
    /// Pass when `actual >= expected x (1 - threshold)`.
    Relative,
}

impl ThresholdType {
    /// The YAML spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ThresholdType::HypothesisTest => "hypothesis_test",
            ThresholdType::Absolute => "absolute",
            ThresholdType::Relative => "relative",
        }
    }
    /// Every threshold type.
    pub const ALL: [ThresholdType; 3] = [
        ThresholdType::HypothesisTest,
        ThresholdType::Absolute,
        ThresholdType::Relative,
    ];
}

/// An accuracy dataset threshold (`metadata.accuracy.datasets[]`, SPEC 10.2), typed so that
/// the accuracy gate reads it without going back to the tree.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccuracyDataset {
    /// Dataset / task name (`dataset_name` or `name`).
    pub name: String,
    /// Reference value (fraction or percent).
    pub expected_value: f64,
    /// How the value is judged.
    pub threshold_type: ThresholdType,
    /// The allowed drop for `absolute` (fraction) and `relative` (share of expected); always set
    /// for those two (a missing one is a load error), unused by the hypothesis test.
    pub threshold: Option<f64>,
    /// lm_eval filter (`filter_type` or `filter`: `flexible-extract`, `strict-match`, ...).
    pub filter_type: String,
    /// Significance level (hypothesis test; per-dataset default when absent).
    pub alpha: Option<f64>,
    /// Type II error rate (hypothesis test).
    pub beta: Option<f64>,
    /// Standard deviation of the metric (hypothesis test).
    pub sigma: Option<f64>,
    /// Number of samples (hypothesis test).
    pub num_samples: Option<u64>,
    /// Whether higher is better.
    pub higher_is_better: Option<bool>,
}

/// An lm_eval task to run (`accuracy.tasks`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccuracyTask {
    /// Task name.
    pub name: String,
    /// lm_eval model type (`local-completions`, `local-chat-completions`).
    pub model: String,
    /// Extra `--model_args`.
    pub model_args_extra: String,
    /// Extra keyword flags, verbatim.
    #[serde(skip)]
    pub extra_kwargs: Option<Node>,
}

/// `metadata`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metadata {
    /// Model id.
    pub model_name: String,
    /// Precision (`fp4`, `fp8`, ...).
    pub precision: String,
    /// Model directory name under MODEL_DIR.
    pub model_dir_name: String,
    /// GPU types the config runs on.
    pub supported_gpus: Vec<String>,
    /// Free-form tags, usable as `-m` markers.
    pub tags: Vec<String>,
    /// Accuracy thresholds.
    pub accuracy: Vec<AccuracyDataset>,
    /// Legacy ctx server count from the first concurrency (SPEC 5.3).
    pub use_legacy_ctx_calculation: bool,
    /// Capacity per ctx server for the legacy calculation.
    pub ctx_capacity: u64,
}

/// `slurm`.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Slurm {
    /// Batch script (upstream; servebench renders its own).
    pub script_file: Option<String>,
    /// `--partition`.
    pub partition: Option<String>,
    /// `--account`.
    pub account: Option<String>,
    /// `--time`.
    pub job_time: Option<String>,
    /// `--job-name`.
    pub job_name: Option<String>,
    /// Extra sbatch arguments (shell words).
    pub extra_args: Option<String>,
    /// Whether to add `--segment`.
    pub set_segment: Option<bool>,
    /// numactl binding of workers.
    pub numa_bind: bool,
    /// Whole-test timeout in seconds.
    pub timeout: Option<u64>,
}

/// `benchmark` (aggregated configs: from the client config).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Benchmark {
    /// Mode.
    pub mode: Mode,
    /// Random dataset through the SA client.
    pub use_nv_sa_benchmark: bool,
    /// num_prompts = concurrency x multi_round.
    pub multi_round: u64,
    /// `--random-range-ratio`.
    pub benchmark_ratio: f64,
    /// Streaming requests.
    pub streaming: bool,
    /// Concurrency sweep, as written (see `concurrency_scope`).
    pub concurrency_list: Vec<u64>,
    /// Input sequence length.
    pub input_length: u64,
    /// Output sequence length.
    pub output_length: u64,
    /// trtllm_custom dataset file.
    pub dataset_file: Option<String>,
    /// Whether the perf client runs at all.
    pub enable_benchmark: bool,
    /// Only accuracy, no perf client.
    pub only_run_accuracy: bool,
    /// Client environment (`K=V` pairs).
    pub env_var: Vec<(String, String)>,
    /// Repeats per concurrency point.
    pub repeats: u64,
    /// How the concurrency values are meant.
    pub concurrency_scope: ConcurrencyScope,
    /// Client adapter name, when set.
    pub client: Option<String>,
    /// Allowed oversubscription of the gen capacity before it is an error.
    pub oversubscription_tolerance: f64,
    /// Explicit number of prompts (aggregated example format).
    pub num_prompts: Option<u64>,
    /// Percentage of failed requests (0-100) a run may have and still be valid (SPEC 10.1).
    pub max_failed_pct: f64,
}

/// `hardware`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hardware {
    /// GPUs per node; `None` when the file's value is missing or invalid (its error is among
    /// the load diagnostics), so nothing plans with a made-up value.
    pub gpus_per_node: Option<u64>,
    /// Context servers.
    pub num_ctx_servers: u64,
    /// Generation servers.
    pub num_gen_servers: u64,
    /// Placement policy.
    pub placement: Placement,
}

/// `environment` (paths and environment variable strings).
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Environment {
    /// Every string field, by key, as resolved.
    pub values: BTreeMap<String, String>,
    /// Seconds to wait for servers to become healthy.
    pub server_health_timeout: u64,
}

/// `profiling`.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Profiling {
    /// Run workers under nsys.
    pub nsys_on: bool,
    /// Iteration range profiled on ctx.
    pub ctx_profile_range: Option<String>,
    /// Iteration range profiled on gen.
    pub gen_profile_range: Option<String>,
}

/// `accuracy` (lm_eval runs).
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Accuracy {
    /// Whether accuracy evaluation runs.
    pub enable_accuracy_test: bool,
    /// Environment for lm_eval.
    pub env_var: Vec<(String, String)>,
    /// Tasks to run.
    pub tasks: Vec<AccuracyTask>,
}

/// A role's engine options as a tree, shared rather than copied: a disaggregated role points
/// into the resolved document, an aggregated server's options (its framework keys removed) are
/// built once and shared by all its clients. Dereferences to the options [`Node`].
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    tree: Arc<Node>,
    path: Option<String>,
}

/// Stands in for options whose path is gone (never the case for a decoded worker).
static NO_OPTIONS: Node = Node {
    value: Value::Map(Vec::new()),
    span: Span { line: 0, col: 0 },
};

impl WorkerOptions {
    /// The mapping at `path` inside `tree` (no copy).
    pub fn shared(tree: Arc<Node>, path: impl Into<String>) -> Self {
        WorkerOptions {
            tree,
            path: Some(path.into()),
        }
    }

    /// Options of their own.
    pub fn owned(options: Arc<Node>) -> Self {
        WorkerOptions {
            tree: options,
            path: None,
        }
    }

    /// The options.
    pub fn node(&self) -> &Node {
        match &self.path {
            None => &self.tree,
            Some(path) => self.tree.at(path).unwrap_or(&NO_OPTIONS),
        }
    }
}

impl std::ops::Deref for WorkerOptions {
    type Target = Node;
    fn deref(&self) -> &Node {
        self.node()
    }
}

impl PartialEq for WorkerOptions {
    fn eq(&self, other: &Self) -> bool {
        self.node() == other.node()
    }
}

/// A serving role's engine options, verbatim, plus the fields servebench reasons about.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Worker {
    /// Dotted path of the options in the file (`worker_config.gen`, `server_configs.0`).
    pub path: String,
    /// The options as written (key order and unknown keys preserved); for aggregated servers the
    /// framework keys (`name`, `client_configs`, ...) are removed.
    #[serde(skip)]
    pub options: WorkerOptions,
    /// `tensor_parallel_size`.
    pub tp: u64,
    /// `pipeline_parallel_size`.
    pub pp: u64,
    /// `context_parallel_size`.
    pub cp: u64,
    /// `moe_expert_parallel_size`.
    pub ep: Option<u64>,
    /// `enable_attention_dp`.
    pub attention_dp: bool,
    /// `max_batch_size`.
    pub max_batch_size: Option<u64>,
    /// `max_num_tokens`.
    pub max_num_tokens: Option<u64>,
    /// `max_seq_len`.
    pub max_seq_len: Option<u64>,
    /// MTP draft length k (`speculative_config.num_nextn_predict_layers` or `max_draft_len`).
    pub mtp: u64,
    /// EPLB slots (`moe_config.load_balancer.num_slots`).
    pub eplb_slots: u64,
    /// `cache_transceiver_config.backend`.
    pub cache_backend: Option<String>,
    /// `cache_transceiver_config.max_tokens_in_buffer`.
    pub max_tokens_in_buffer: Option<u64>,
    /// `cuda_graph_config.batch_sizes`.
    pub cuda_graph_batch_sizes: Vec<u64>,
    /// `cuda_graph_config.max_batch_size`.
    pub cuda_graph_max_batch_size: Option<u64>,
    /// `cuda_graph_config.enable_padding`.
    pub cuda_graph_padding: bool,
}

impl Worker {
    /// GPUs per server: TP x PP x CP.
    pub fn world_size(&self) -> u64 {
        self.tp.saturating_mul(self.pp).saturating_mul(self.cp)
    }

    /// Concurrent requests one server can batch: `max_batch_size x TP` with attention DP.
    pub fn capacity(&self) -> Option<u64> {
        let bs = self.max_batch_size?;
        Some(if self.attention_dp {
            bs.saturating_mul(self.tp)
        } else {
            bs
        })
    }

    /// `dep{tp}` with attention DP, else `tep{tp}`.
    pub fn parallel_tag(&self) -> String {
        format!(
            "{}{}",
            if self.attention_dp { "dep" } else { "tep" },
            self.tp
        )
    }
}

/// The serving deployment of a test case.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Deployment {
    /// Context and generation servers behind a router.
    Disagg {
        /// Context server options (absent with `gen_only_no_context`).
        ctx: Option<Worker>,
        /// Generation server options.
        generation: Worker,
    },
    /// One aggregated server.
    Agg {
        /// Server options.
        server: Worker,
        /// `server_configs[].name` (aggregated perf-sanity format).
        server_name: Option<String>,
        /// `client_configs[].name`.
        client_name: Option<String>,
    },
}

impl Deployment {
    /// The role whose capacity bounds concurrency: gen servers, or the aggregated server.
    pub fn gen_role(&self) -> &Worker {
        match self {
            Deployment::Disagg { generation, .. } => generation,
            Deployment::Agg { server, .. } => server,
        }
    }
    /// The role that runs prefill: ctx servers, or the aggregated server.
    pub fn ctx_role(&self) -> Option<&Worker> {
        match self {
            Deployment::Disagg { ctx, .. } => ctx.as_ref(),
            Deployment::Agg { server, .. } => Some(server),
        }
    }
}

/// Which engine adapter runs the servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Engine {
    /// TensorRT-LLM (`trtllm-serve`).
    Trtllm,
    /// vLLM.
    Vllm,
    /// SGLang.
    Sglang,
    /// The built-in simulator.
    Sim,
}

impl Engine {
    /// The YAML spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Trtllm => "trtllm",
            Engine::Vllm => "vllm",
            Engine::Sglang => "sglang",
            Engine::Sim => "sim",
        }
    }
    /// Every engine.
    pub const ALL: [Engine; 4] = [Engine::Trtllm, Engine::Vllm, Engine::Sglang, Engine::Sim];
}

/// A resolved test config: all layers applied, typed, with provenance.
#[derive(Debug, Clone, Serialize)]
pub struct TestConfig {
    /// File shape.
    pub format: Format,
    /// `metadata`.
    pub metadata: Metadata,
    /// `slurm`.
    pub slurm: Slurm,
    /// `benchmark`.
    pub benchmark: Benchmark,
    /// `hardware`.
    pub hardware: Hardware,
    /// `environment`.
    pub environment: Environment,
    /// `profiling`.
    pub profiling: Profiling,
    /// `accuracy`.
    pub accuracy: Accuracy,
    /// Servers.
    pub deployment: Deployment,
    /// Engine adapter.
    pub engine: Engine,
    /// Perf metrics to extract.
    pub metrics: Metrics,
    /// The `sim:` section, verbatim.
    #[serde(skip)]
    pub sim: Option<Node>,
    /// The resolved document (file + every layer).
    #[serde(skip)]
    pub tree: Arc<Node>,
    /// Values not from the file, by dotted path.
    pub provenance: Arc<BTreeMap<String, Origin>>,
    /// Logical field path -> where it really lives (legacy spellings, aggregated clients).
    #[serde(skip)]
    pub aliases: BTreeMap<String, String>,
}

impl TestConfig {
    /// Where a logical field (e.g. `benchmark.concurrency_list`) is in the file, if it is.
    pub fn locate(&self, field: &str) -> Option<Span> {
        let physical = self.physical(field);
        // Fall back to the nearest enclosing value that exists.
        let mut path = physical.as_str();
        loop {
            if let Some(node) = self.tree.at(path) {
                // Scalars point at their value; sections and lists (or a parent standing in for
                // a missing field) at their key.
                let exact =
                    path == physical && !matches!(node.value, Value::Map(_) | Value::Seq(_));
                let span = if exact {
                    Some(node.span)
                } else {
                    self.tree.key_span(path)
                };
                return span.or(Some(node.span)).filter(|s| s.line > 0);
            }
            path = path.rsplit_once('.')?.0;
        }
    }

    /// The path a logical field really has in the file.
    pub fn physical(&self, field: &str) -> String {
        if let Some(p) = self.aliases.get(field) {
            return p.clone();
        }
        // Prefix aliases: `gen.max_batch_size` -> `worker_config.gen.max_batch_size`.
        for (logical, physical) in &self.aliases {
            if let Some(rest) = field.strip_prefix(logical.as_str())
                && rest.starts_with('.')
            {
                return format!("{physical}{rest}");
            }
        }
        field.to_string()
    }

    /// Concurrency per generation server for a list entry (SPEC 7.3).
    pub fn per_gen_server(&self, c: u64) -> u64 {
        match self.benchmark.concurrency_scope {
            ConcurrencyScope::PerGenServer => c,
            ConcurrencyScope::Total => c.div_ceil(self.hardware.num_gen_servers.max(1)),
        }
    }

    /// Concurrency the client runs for a list entry (SPEC 7.3).
    pub fn client_concurrency(&self, c: u64) -> u64 {
        match self.benchmark.concurrency_scope {
            ConcurrencyScope::PerGenServer => {
                c.saturating_mul(self.hardware.num_gen_servers.max(1))
            }
            ConcurrencyScope::Total => c,
        }
    }
}

/// One runnable test: a config file (and, for aggregated files, one server/client pair).
#[derive(Debug, Clone, Serialize)]
pub struct TestCase {
    /// `{test_type}_{category}_{stem}` (aggregated: `..._{stem}-{server}-{client}`).
    pub test_id: String,
    /// `{test_type}/{category}/{stem}`.
    pub display_name: String,
    /// `disagg`, `wideep`, `agg` or a custom directory name.
    pub test_type: String,
    /// `perf`, `accuracy`, `stress`, `perf-sanity`.
    pub category: String,
    /// The config file.
    pub path: PathBuf,
    /// File name without extension.
    pub file_stem: String,
    /// `1k1k`, `8k1k`, `128k8k`, or exact lengths such as `1000-200`.
    pub benchmark_type: String,
    /// Stable hash of the resolved config without volatile fields.
    pub fingerprint: String,
    /// The resolved config.
    pub config: TestConfig,
}

impl TestCase {
    /// The key the selection layer works on.
    pub fn select_key(&self) -> crate::select::SelectKey {
        let (server_name, client_name) = match &self.config.deployment {
            Deployment::Agg {
                server_name,
                client_name,
                ..
            } => (server_name.clone(), client_name.clone()),
            Deployment::Disagg { .. } => (None, None),
        };
        let mut markers = vec![self.category.clone(), self.test_type.clone()];
        markers.extend(self.config.metadata.tags.iter().cloned());
        crate::select::SelectKey {
            test_id: self.test_id.clone(),
            display_name: self.display_name.clone(),
            test_type: self.test_type.clone(),
            category: self.category.clone(),
            model: self.config.metadata.model_name.clone(),
            file_stem: self.file_stem.clone(),
            server_name,
            client_name,
            markers,
        }
    }
}
