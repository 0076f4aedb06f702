//! servebench job bundles (SPEC 6.1): a planned [`TestCase`] becomes a self-contained directory
//! that `servebench job exec` runs on a SLURM allocation or locally.
//!
//! A bundle holds the resolved config (`config.resolved.yaml`, with the origin of every value not
//! from the file as a comment), `plan.json`, the engine files (for TensorRT-LLM and the simulator
//! `ctx_config.yaml`/`gen_config.yaml` with the worker options verbatim and the router's
//! `server_config_base.yaml` with node placeholders), one environment file per process
//! (`env/<NAME>.env`), the launch spec `launch.json` ([`servebench_launch::LaunchSpec`]), a
//! readable `commands.sh`, and the batch script `job.sbatch`.
//!
//! What this crate owns: engine adapters ([`engine`], one file per engine behind
//! [`engine::EngineAdapter`]), client adapters ([`client`]), accuracy steps, shell quoting
//! ([`shell`]) and deterministic rendering: same input, byte-identical bundle (no timestamps, no
//! absolute paths, sorted maps). What it must not do: run anything, talk to the network, use
//! tokio. Rendering is pure ([`render_case`]); [`write_bundle`] is the only function touching the
//! file system, apart from the dataset-existence check the renderer can be told to skip.
//!
//! ```
//! # use servebench_config::load::{load_str, LoadOptions};
//! # use servebench_plan::{plan_case, PlanOptions};
//! # use servebench_bundle::{render_case, RenderOptions};
//! let text = "metadata: {model_name: m}\nhardware: {gpus_per_node: 4, num_ctx_servers: 1, num_gen_servers: 1}\n\
//! benchmark: {concurrency_list: '8', input_length: 64, output_length: 64}\n\
//! worker_config:\n  ctx: {tensor_parallel_size: 1, max_seq_len: 128}\n  gen: {tensor_parallel_size: 1, max_batch_size: 8, max_seq_len: 128}\n";
//! let file = load_str("disagg/perf/x.yaml".as_ref(), text, &LoadOptions::default());
//! let case = &file.cases[0];
//! let plan = plan_case(case, &PlanOptions::default()).unwrap();
//! let bundle = render_case(case, &plan, &RenderOptions::default()).unwrap();
//! assert!(bundle.file("launch.json").is_some());
//! assert!(bundle.file("gen_config.yaml").unwrap().contents.starts_with("tensor_parallel_size: 1"));
//! ```

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use servebench_config::model::{Deployment, Engine, Mode, TestCase};
use servebench_config::profile::{Profile, Scheduler, is_env_name, shell_words};
use servebench_launch::{ClientRun, Health, LaunchSpec, ProcPlacement, Process, Step, Teardown};
use servebench_plan::{Allocation, Plan, Role};

mod accuracy;
pub mod client;
pub mod engine;
mod sbatch;
pub mod shell;

/// The log directory inside a bundle.
pub const LOG_DIR: &str = "logs";
/// Default seconds to wait for a server to answer 200 on its health endpoint.
pub const HEALTH_TIMEOUT_S: u64 = 1800;

/// What rendering depends on besides the case and its plan.
#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    /// The cluster profile in force (scheduler, containers, MPI, env, servebench binary).
    pub profile: Option<Profile>,
    /// GPU type (the simulator's GPU profile).
    pub gpu_type: Option<String>,
    /// `--time-scale` for simulator servers.
    pub sim_time_scale: Option<f64>,
    /// Client adapter override (else `benchmark.client`, else the engine's default).
    pub client: Option<String>,
    /// Engine override (`--engine sim`).
    pub engine: Option<Engine>,
    /// Do not look at the file system for the dataset file (assume it exists).
    pub skip_dataset_check: bool,
}

/// One file of a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleFile {
    /// Path relative to the bundle directory.
    pub path: String,
    /// Contents.
    pub contents: String,
    /// Whether the file is executable.
    pub executable: bool,
}

impl BundleFile {
    /// A plain text file.
    pub fn text(path: String, contents: String) -> Self {
        BundleFile {
            path,
            contents,
            executable: false,
        }
    }
}

/// A rendered bundle, not yet written.
#[derive(Debug, Clone, PartialEq)]
pub struct Bundle {
    /// Test id (the bundle's directory name).
    pub test_id: String,
    /// Files, sorted by path.
    pub files: Vec<BundleFile>,
    /// Empty directories to create (`logs`).
    pub dirs: Vec<String>,
    /// The launch spec (also in `launch.json`).
    pub launch: LaunchSpec,
    /// Warnings found while rendering (dataset fallback, unmapped options).
    pub warnings: Vec<String>,
}

impl Bundle {
    /// A file by relative path.
    pub fn file(&self, path: &str) -> Option<&BundleFile> {
        self.files.iter().find(|f| f.path == path)
    }
}

/// Why a bundle cannot be rendered or written.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The client named in the config or on the command line is unknown.
    #[error("unknown client `{name}` (known: {})", client::NAMES.join(", "))]
    UnknownClient {
        /// Name given.
        name: String,
    },
    /// Writing a file failed.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// File.
        path: PathBuf,
        /// OS error.
        #[source]
        source: std::io::Error,
    },
    /// The bundle directory exists and is not a servebench bundle.
    #[error("{} exists and is not a servebench bundle (no launch.json); refusing to overwrite it", path.display())]
    NotABundle {
        /// Directory.
        path: PathBuf,
    },
}

/// Everything adapters read while rendering one case.
pub struct Ctx<'a> {
    /// The test case.
    pub case: &'a TestCase,
    /// Its plan.
    pub plan: &'a Plan,
    /// Options.
    pub opts: &'a RenderOptions,
    warnings: RefCell<Vec<String>>,
}

impl Ctx<'_> {
    /// The model path given to servers (`environment.model_path`, else the model name).
    pub fn model_path(&self) -> String {
        self.case
            .config
            .environment
            .values
            .get("model_path")
            .filter(|p| !p.is_empty())
            .cloned()
            .unwrap_or_else(|| self.case.config.metadata.model_name.clone())
    }

    /// The servebench binary on the compute nodes, as the start of an argv.
    pub fn servebench_bin(&self) -> Vec<String> {
        vec![
            self.opts
                .profile
                .as_ref()
                .and_then(|p| p.servebench_bin.clone())
                .unwrap_or_else(|| "servebench".into()),
        ]
    }

    /// The log directory (relative to the bundle).
    pub fn log_dir(&self) -> &'static str {
        LOG_DIR
    }

    /// Whether workers run under nsys.
    pub fn profiling(&self) -> bool {
        self.case.config.profiling.nsys_on
    }

    /// Output length the clients ask for (1 under `ctx_only`, SPEC 4 rule 8).
    pub fn output_length(&self) -> u64 {
        if self.case.config.benchmark.mode == Mode::CtxOnly {
            1
        } else {
            self.case.config.benchmark.output_length
        }
    }

    /// Whether a server runs on its own, without the disaggregated flow: aggregated servers,
    /// and the context server under `ctx_only`.
    pub fn standalone(&self, alloc: &Allocation) -> bool {
        alloc.role == Role::Agg || self.case.config.benchmark.mode == Mode::CtxOnly
    }

    /// Records a render warning.
    pub fn warn(&self, message: String) {
        let mut w = self.warnings.borrow_mut();
        if !w.contains(&message) {
            w.push(message);
        }
    }

    fn env_string(&self, key: &str) -> BTreeMap<String, String> {
        let text = self
            .case
            .config
            .environment
            .values
            .get(key)
            .cloned()
            .unwrap_or_default();
        self.parse_env(key, &text)
    }

    fn parse_env(&self, what: &str, text: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let words = shell_words(text).unwrap_or_else(|| {
            self.warn(format!(
                "environment.{what}: unbalanced quotes; split on spaces"
            ));
            text.split_whitespace().map(str::to_string).collect()
        });
        for word in words {
            match word.split_once('=') {
                Some((k, v)) if is_env_name(k) => {
                    out.insert(k.to_string(), v.to_string());
                }
                _ => self.warn(format!(
                    "environment.{what}: `{word}` is not NAME=VALUE; ignored"
                )),
            }
        }
        out
    }

    fn profile_env(&self) -> BTreeMap<String, String> {
        self.opts
            .profile
            .as_ref()
            .map(|p| p.env.clone())
            .unwrap_or_default()
    }

    fn scheduler(&self) -> Scheduler {
        self.opts
            .profile
            .as_ref()
            .map_or(Scheduler::Slurm, |p| p.scheduler)
    }

    /// srun flags of the container, when the profile uses one.
    fn container_flags(&self) -> Vec<String> {
        let Some(c) = self
            .opts
            .profile
            .as_ref()
            .and_then(|p| p.container.as_ref())
        else {
            return Vec::new();
        };
        let env = &self.case.config.environment.values;
        let mut out = Vec::new();
        if let Some(img) = env
            .get("container_image")
            .filter(|i| !i.is_empty())
            .or(c.image.as_ref())
        {
            out.push(format!("--container-image={img}"));
        }
        out.push(format!(
            "--container-name={}",
            c.name.as_deref().unwrap_or("servebench")
        ));
        if let Some(m) = env.get("container_mount").filter(|m| !m.is_empty()) {
            out.push(format!("--container-mounts={m}"));
        }
        out.push("--no-container-mount-home".into());
        out.extend(c.flags.iter().cloned());
        out
    }

    fn srun(&self, nodes: &[String], ntasks: u64, per_node: u64, mpi: Option<&str>) -> Vec<String> {
        let mut argv = vec![
            "srun".to_string(),
            "-l".into(),
            format!("--nodelist={}", nodes.join(",")),
            format!("--nodes={}", nodes.len()),
            format!("--ntasks={ntasks}"),
            format!("--ntasks-per-node={per_node}"),
            "--overlap".into(),
        ];
        if let Some(m) = mpi {
            argv.push(format!("--mpi={m}"));
        }
        argv.extend(self.container_flags());
        argv
    }
}

/// Renders the bundle of one planned case. Pure apart from the dataset-existence check.
pub fn render_case(
    case: &TestCase,
    plan: &Plan,
    opts: &RenderOptions,
) -> Result<Bundle, RenderError> {
    let ctx = Ctx {
        case,
        plan,
        opts,
        warnings: RefCell::new(Vec::new()),
    };
    let engine_kind = opts.engine.unwrap_or(case.config.engine);
    let eng = engine::adapter(engine_kind);
    let client_name = opts
        .client
        .clone()
        .or_else(|| case.config.benchmark.client.clone())
        .unwrap_or_else(|| eng.default_client().to_string());
    let cl = client::adapter(&client_name).ok_or_else(|| RenderError::UnknownClient {
        name: client_name.clone(),
    })?;
    let cfg = &case.config;
    let mut files = eng.files(&ctx)?;
    let mut spec = LaunchSpec::empty(&case.test_id);
    spec.engine = eng.name().to_string();
    spec.client = cl.name().to_string();
    spec.scheduler = match ctx.scheduler() {
        Scheduler::Slurm => "slurm".into(),
        Scheduler::Local => "local".into(),
    };
    spec.log_dir = LOG_DIR.into();
    spec.status_file = format!("{LOG_DIR}/status.jsonl");
    spec.nodes = (0..usize::try_from(plan.total_nodes).unwrap_or(0))
        .map(servebench_plan::node_placeholder)
        .collect();
    if files.iter().any(|f| f.path == "server_config_base.yaml") {
        spec.templates.insert(
            "server_config.yaml".into(),
            "server_config_base.yaml".into(),
        );
    }
    let health_timeout = match cfg.environment.server_health_timeout {
        0 => HEALTH_TIMEOUT_S,
        t => t,
    };
    let health = |host: &str, port: u16| Health {
        url: format!("http://{host}:{port}{}", eng.health_path()),
        expect_status: 200,
        timeout_s: health_timeout,
        interval_s: 10,
    };
    let all_nodes = spec.nodes.clone();
    spec.setup = setup_steps(&ctx, &all_nodes);

    // Servers: GEN, then CTX (the plan's order), or the aggregated server.
    let worker_env = ctx.env_string("worker_env_var");
    let mut env_files = Vec::new();
    for a in &plan.allocations {
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
            let own = engine::worker(&ctx, Role::Agg)
                .and_then(|w| cfg.tree.at(&format!("{}.server_env_var", w.path)))
                .and_then(|n| n.as_str().map(str::to_string));
            if let Some(text) = own {
                env.extend(ctx.parse_env("server_env_var", &text));
            }
        }
        env.extend(eng.server_env(&ctx, a));
        let placement = server_placement(&ctx, a, eng.uses_mpi());
        env_files.push((a.name.clone(), env.clone()));
        spec.servers.push(Process {
            name: a.name.clone(),
            role: a.role.as_str().into(),
            argv: eng.server_argv(&ctx, a),
            env,
            log: format!("3_output_{}.log", a.name),
            placement,
            host: a.host().to_string(),
            port: a.port,
            health: health(a.host(), a.port),
        });
    }
    let mut order: Vec<String> = Vec::new();
    if let Some(r) = &plan.router {
        let mut env = ctx.profile_env();
        env.extend(ctx.env_string("server_env_var"));
        env_files.push(("ROUTER".into(), env.clone()));
        let nodes = vec![r.node.clone()];
        spec.router = Some(Process {
            name: "ROUTER".into(),
            role: "router".into(),
            argv: eng.router_argv(&ctx),
            env,
            log: "4_output_server.log".into(),
            placement: ProcPlacement {
                srun_prefix: ctx.srun(&nodes, 1, 1, None),
                nodes,
                ntasks: 1,
                ntasks_per_node: 1,
                gpus: vec![Vec::new()],
                mpi: None,
                container: ctx
                    .opts
                    .profile
                    .as_ref()
                    .is_some_and(|p| p.container.is_some()),
            },
            host: r.node.clone(),
            port: r.port,
            health: health(&r.node, r.port),
        });
        order.push("ROUTER".into());
    }
    order.extend(spec.servers.iter().rev().map(|s| s.name.clone()));
    spec.teardown = Teardown {
        signal: "TERM".into(),
        grace_s: 30,
        order,
    };

    // Clients talk to the router, or to the aggregated server.
    let (target_host, target_port) = match (&plan.router, plan.allocations.first()) {
        (Some(r), _) => (r.node.clone(), r.port),
        (None, Some(a)) => (a.host().to_string(), a.port),
        (None, None) => (
            servebench_plan::node_placeholder(0),
            servebench_plan::BASE_PORT,
        ),
    };
    let client_nodes = vec![target_host.clone()];
    let client_srun = ctx.srun(&client_nodes, 1, 1, None);
    let mut client_env = ctx.profile_env();
    client_env.extend(cfg.benchmark.env_var.iter().cloned());
    client_env.extend(ctx.env_string("client_env_var"));
    env_files.push(("CLIENT".into(), client_env.clone()));
    let dataset = dataset_choice(&ctx);
    let model = eng.served_model(&ctx);
    let tokenizer = ctx.model_path();
    if cfg.benchmark.enable_benchmark && !cfg.benchmark.only_run_accuracy {
        let repeats = cfg.benchmark.repeats.max(1);
        for point in &plan.concurrency {
            for repeat in 0..repeats {
                let result_dir = if repeats > 1 {
                    format!("{LOG_DIR}/concurrency_{}/repeat_{repeat}", point.client)
                } else {
                    format!("{LOG_DIR}/concurrency_{}", point.client)
                };
                let run = client::Run {
                    host: &target_host,
                    port: target_port,
                    model: &model,
                    tokenizer: &tokenizer,
                    concurrency: point.client,
                    num_prompts: point.num_prompts,
                    result_dir: &result_dir,
                    dataset: &dataset,
                };
                spec.benchmark.push(ClientRun {
                    listed: point.listed,
                    concurrency: point.client,
                    num_prompts: point.num_prompts,
                    repeat,
                    result_file: format!("{result_dir}/{}", cl.result_file()),
                    done_line: format!("Benchmark with concurrency {} done", point.client),
                    step: Step {
                        name: format!("bench_c{}_r{repeat}", point.client),
                        argv: cl.argv(&ctx, &run),
                        env: client_env.clone(),
                        log: "6_bench.log".into(),
                        output_dir: Some(result_dir.clone()),
                        srun_prefix: client_srun.clone(),
                    },
                });
            }
        }
    }
    if cfg.accuracy.enable_accuracy_test {
        let mut env = ctx.profile_env();
        env.extend(cfg.accuracy.env_var.iter().cloned());
        env_files.push(("ACCURACY".into(), env.clone()));
        spec.accuracy = accuracy::steps(&ctx, &target_host, target_port, &env, &client_srun);
    }
    spec.fatal_patterns = [
        r"CUDA out of memory",
        r"torch\.OutOfMemoryError",
        r"NCCL (error|WARN.*failed)",
        r"MPI_ABORT",
        r"\[E\].*Traceback",
        r"^Traceback \(most recent call last\):",
    ]
    .map(String::from)
    .to_vec();

    let unresolved: Vec<&str> = plan
        .sbatch_args
        .iter()
        .filter(|a| !servebench_config::load::placeholders(a).is_empty())
        .map(String::as_str)
        .collect();
    if !unresolved.is_empty() && spec.scheduler == "slurm" {
        ctx.warn(format!(
            "unresolved placeholder(s) in the SLURM request: {}; set them (--set, environment, cluster profile) before submitting",
            unresolved.join(" ")
        ));
    }
    let warnings = ctx.warnings.borrow().clone();
    spec.warnings = warnings.clone();
    files.push(BundleFile::text(
        "config.resolved.yaml".into(),
        resolved_config(case),
    ));
    files.push(BundleFile::text(
        "plan.json".into(),
        serde_json::to_string_pretty(plan).unwrap_or_default() + "\n",
    ));
    files.push(BundleFile::text("launch.json".into(), spec.to_json()));
    for (name, env) in &env_files {
        files.push(BundleFile::text(
            format!("env/{name}.env"),
            shell::env_file(env),
        ));
    }
    files.push(BundleFile {
        path: "commands.sh".into(),
        contents: sbatch::commands_script(&spec),
        executable: true,
    });
    files.push(BundleFile {
        path: "job.sbatch".into(),
        contents: sbatch::batch_script(&ctx, &spec),
        executable: true,
    });
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Bundle {
        test_id: case.test_id.clone(),
        files,
        dirs: vec![LOG_DIR.into()],
        launch: spec,
        warnings,
    })
}

fn server_placement(ctx: &Ctx<'_>, a: &Allocation, mpi: bool) -> ProcPlacement {
    let container = ctx
        .opts
        .profile
        .as_ref()
        .is_some_and(|p| p.container.is_some());
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

fn setup_steps(ctx: &Ctx<'_>, nodes: &[String]) -> Vec<Step> {
    let env = &ctx.case.config.environment.values;
    let usable = |k: &str| {
        env.get(k)
            .filter(|v| !v.is_empty() && !v.contains('<'))
            .cloned()
    };
    let n = nodes.len() as u64;
    let srun_all = ctx.srun(nodes, n, 1, None);
    let mut steps = Vec::new();
    if ctx
        .opts
        .profile
        .as_ref()
        .is_some_and(|p| p.container.is_some())
    {
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

/// SPEC 7.2: random with `use_nv_sa_benchmark` or without a dataset; the trtllm_custom file
/// otherwise, falling back to random with a warning when the file is missing.
fn dataset_choice(ctx: &Ctx<'_>) -> client::Dataset {
    let b = &ctx.case.config.benchmark;
    if b.use_nv_sa_benchmark || b.mode == Mode::CtxOnly {
        return client::Dataset::Random;
    }
    let Some(file) = b.dataset_file.as_deref().filter(|f| !f.is_empty()) else {
        return client::Dataset::Random;
    };
    let missing = if file.contains('<') {
        Some("is an unresolved placeholder")
    } else if !ctx.opts.skip_dataset_check && !Path::new(file).exists() {
        Some("does not exist")
    } else {
        None
    };
    match missing {
        Some(why) => {
            ctx.warn(format!(
                "dataset file `{file}` {why}: falling back to the random dataset (input {} / output {} tokens)",
                b.input_length,
                ctx.output_length()
            ));
            client::Dataset::Random
        }
        None => client::Dataset::Custom(file.to_string()),
    }
}

fn resolved_config(case: &TestCase) -> String {
    let prov = &case.config.provenance;
    let mut out = format!(
        "# servebench resolved config of {} ({})\n# values not from the file carry their origin\n",
        case.test_id,
        case.display_name.replace(['\n', '\r'], " ")
    );
    out.push_str(&servebench_config::yaml::emit_annotated(
        &case.config.tree,
        &|path| prov.get(path).map(ToString::to_string),
    ));
    out
}

/// Writes a bundle into `dir/<test_id>/`. An existing bundle there is replaced (its `logs/` is
/// kept); a directory that is not a bundle is never touched. Files replacing an existing bundle's
/// are written atomically (temporary file, then rename).
pub fn write_bundle(dir: &Path, bundle: &Bundle) -> Result<PathBuf, RenderError> {
    let root = dir.join(&bundle.test_id);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RenderError::Write { path, source }
    };
    let fresh = !root.exists();
    if !fresh {
        if !root.join("launch.json").is_file() {
            return Err(RenderError::NotABundle { path: root });
        }
        for entry in std::fs::read_dir(&root).map_err(io(&root))? {
            let entry = entry.map_err(io(&root))?;
            if entry.file_name() == LOG_DIR {
                continue;
            }
            let p = entry.path();
            let r = if entry.file_type().map_err(io(&p))?.is_dir() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
            r.map_err(io(&p))?;
        }
    }
    let mut dirs: std::collections::BTreeSet<PathBuf> =
        bundle.dirs.iter().map(|d| root.join(d)).collect();
    dirs.insert(root.clone());
    for f in &bundle.files {
        if let Some(parent) = root.join(&f.path).parent() {
            dirs.insert(parent.to_path_buf());
        }
    }
    for d in &dirs {
        std::fs::create_dir_all(d).map_err(io(d))?;
    }
    for f in &bundle.files {
        let p = root.join(&f.path);
        // A fresh bundle directory has no reader yet: write in place. Replacing a bundle goes
        // through a temporary file and a rename, so no reader sees a half-written file.
        let target = if fresh {
            p.clone()
        } else {
            p.with_extension("servebench-tmp")
        };
        std::fs::write(&target, &f.contents).map_err(io(&target))?;
        #[cfg(unix)]
        if f.executable {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755))
                .map_err(io(&target))?;
        }
        if !fresh {
            std::fs::rename(&target, &p).map_err(io(&p))?;
        }
    }
    Ok(root)
}

/// Whether a deployment is aggregated.
pub fn is_aggregated(case: &TestCase) -> bool {
    matches!(case.config.deployment, Deployment::Agg { .. })
}
