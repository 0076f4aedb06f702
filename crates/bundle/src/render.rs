//! [`render_case`]: one planned case -> a [`Bundle`] in memory. Each part of the launch spec
//! comes from its own module (servers, clients, accuracy, gates); this file assembles them and
//! the bundle's files.

use std::cell::RefCell;

use servebench_config::model::TestCase;
use servebench_launch::{Client, GpuUse, LaunchSpec};
use servebench_plan::Plan;

use crate::clients::{Target, WORKLOAD_FILE, client_runs, workload_file};
use crate::gates::gates;
use crate::servers::{EnvFiles, router, servers, setup_steps, teardown};
use crate::write::resolved_config;
use crate::{
    Bundle, BundleFile, Ctx, LOG_DIR, RenderError, RenderOptions, accuracy, client, engine, sbatch,
    shell, wire_engine,
};

/// Log patterns that fail a job at once (matched per line of every server log).
const FATAL_PATTERNS: [&str; 6] = [
    r"CUDA out of memory",
    r"torch\.OutOfMemoryError",
    r"NCCL (error|WARN.*failed)",
    r"MPI_ABORT",
    r"\[E\].*Traceback",
    r"^Traceback \(most recent call last\):",
];

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
    let client_kind = match opts.client {
        Some(c) => c,
        None => match case.config.benchmark.client.as_deref() {
            Some(name) => Client::parse(name).ok_or_else(|| RenderError::UnknownClient {
                name: name.to_string(),
            })?,
            None => eng.default_client(),
        },
    };
    let cl = client::adapter(client_kind);
    let mut files = eng.files(&ctx)?;
    let mut spec = LaunchSpec::empty(&case.test_id);
    spec.engine = wire_engine(engine_kind);
    spec.client = client_kind;
    spec.scheduler = ctx.wire_scheduler();
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
    spec.setup = setup_steps(&ctx, &spec.nodes);
    let mut env_files: EnvFiles = Vec::new();
    spec.servers = servers(&ctx, eng, &mut env_files);
    spec.router = router(&ctx, eng, &mut env_files);
    spec.teardown = teardown(&spec.servers, spec.router.as_ref());

    // Clients talk to the router, or to the aggregated server.
    let (host, port) = match (&plan.router, plan.allocations.first()) {
        (Some(r), _) => (r.node.clone(), r.port),
        (None, Some(a)) => (a.host().to_string(), a.port),
        (None, None) => (
            servebench_plan::node_placeholder(0),
            servebench_plan::BASE_PORT,
        ),
    };
    let client_srun = ctx.srun(std::slice::from_ref(&host), 1, 1, None);
    let target = Target {
        model: eng.served_model(&ctx),
        host,
        port,
    };
    spec.benchmark = client_runs(&ctx, cl, &target, &client_srun, &mut env_files);
    if case.config.accuracy.enable_accuracy_test {
        let mut env = ctx.profile_env();
        env.extend(case.config.accuracy.env_var.iter().cloned());
        env_files.push(("ACCURACY".into(), env.clone()));
        spec.accuracy = accuracy::steps(&ctx, &target.host, target.port, &env, &client_srun);
    }
    spec.fatal_patterns = FATAL_PATTERNS.map(String::from).to_vec();
    spec.gates = gates(&ctx);
    spec.gpus = gpu_use(plan);
    spec.meta = servebench_launch::TestMeta {
        display_name: case.display_name.clone(),
        fingerprint: case.fingerprint.clone(),
        model: case.config.metadata.model_name.clone(),
        precision: case.config.metadata.precision.clone(),
        gpu_type: opts.gpu_type.clone(),
    };
    warn_unresolved(&ctx, &spec);
    let warnings = ctx.warnings.borrow().clone();
    spec.warnings = warnings.clone();

    files.push(BundleFile::text(
        "config.resolved.yaml".into(),
        resolved_config(case),
    ));
    if spec
        .benchmark
        .iter()
        .any(|r| r.step.argv.iter().any(|a| a == "--workload"))
        && let Some(text) = workload_file(&ctx)
    {
        files.push(BundleFile::text(WORKLOAD_FILE.into(), text));
    }
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

/// GPUs by role, from the plan.
fn gpu_use(plan: &Plan) -> GpuUse {
    let role = |r: &servebench_plan::RolePlan| r.servers * r.gpus_per_server;
    GpuUse {
        total: plan.used_gpus,
        ctx: role(&plan.ctx),
        generation: plan
            .agg
            .as_ref()
            .map_or_else(|| role(&plan.generation), role),
    }
}

/// Warns about placeholders left in the SLURM request of a SLURM bundle.
fn warn_unresolved(ctx: &Ctx<'_>, spec: &LaunchSpec) {
    let unresolved: Vec<&str> = ctx
        .plan
        .sbatch_args
        .iter()
        .filter(|a| !servebench_config::load::placeholders(a).is_empty())
        .map(String::as_str)
        .collect();
    if !unresolved.is_empty() && spec.scheduler == servebench_launch::Scheduler::Slurm {
        ctx.warn(format!(
            "unresolved placeholder(s) in the SLURM request: {}; set them (--set, environment, cluster profile) before submitting",
            unresolved.join(" ")
        ));
    }
}
