//! Benchmark client runs of a bundle: one per concurrency point and repeat, each with what its
//! result must show ([`Expectations`]), and the dataset choice of SPEC 7.2.

use std::path::Path;

use servebench_config::model::Mode;
use servebench_launch::{ClientRun, Expectations, Step};

use crate::client::{self, ClientAdapter};
use crate::servers::EnvFiles;
use crate::{Ctx, LOG_DIR};

/// The bundle file holding `benchmark.workload:`.
pub(crate) const WORKLOAD_FILE: &str = "workload.yaml";

/// `benchmark.workload:` as YAML for `servebench bench --workload`, when the config has one.
pub(crate) fn workload_file(ctx: &Ctx<'_>) -> Option<String> {
    let node = ctx.case.config.tree.at("benchmark.workload")?;
    (!node.is_null()).then(|| servebench_config::yaml::emit(node))
}

/// Where clients send their requests: the router, or the aggregated server.
pub(crate) struct Target {
    /// Host (placeholder).
    pub host: String,
    /// Port.
    pub port: u16,
    /// The model name servers answer to.
    pub model: String,
}

/// The client runs, in order; empty when the config runs no benchmark.
pub(crate) fn client_runs(
    ctx: &Ctx<'_>,
    cl: &dyn ClientAdapter,
    target: &Target,
    srun: &[String],
    env_files: &mut EnvFiles,
) -> Vec<ClientRun> {
    let cfg = &ctx.case.config;
    let mut env = ctx.profile_env();
    env.extend(cfg.benchmark.env_var.iter().cloned());
    env.extend(ctx.env_string("client_env_var"));
    env_files.push(("CLIENT".into(), env.clone()));
    if !cfg.benchmark.enable_benchmark || cfg.benchmark.only_run_accuracy {
        return Vec::new();
    }
    let dataset = match workload_file(ctx) {
        Some(_) if cl.name() == servebench_launch::Client::Builtin => {
            client::Dataset::Workload(WORKLOAD_FILE.into())
        }
        Some(_) => {
            ctx.warn(format!(
                "benchmark.workload is read by the built-in client only; {} gets the random dataset",
                cl.name()
            ));
            dataset_choice(ctx)
        }
        None => dataset_choice(ctx),
    };
    let tokenizer = ctx.model_path();
    let repeats = cfg.benchmark.repeats.max(1);
    let mut runs = Vec::new();
    for point in &ctx.plan.concurrency {
        for repeat in 0..repeats {
            let result_dir = if repeats > 1 {
                format!("{LOG_DIR}/concurrency_{}/repeat_{repeat}", point.client)
            } else {
                format!("{LOG_DIR}/concurrency_{}", point.client)
            };
            let run = client::Run {
                host: &target.host,
                port: target.port,
                model: &target.model,
                tokenizer: &tokenizer,
                concurrency: point.client,
                num_prompts: point.num_prompts,
                result_dir: &result_dir,
                dataset: &dataset,
            };
            runs.push(ClientRun {
                listed: point.listed,
                concurrency: point.client,
                num_prompts: point.num_prompts,
                repeat,
                result_file: format!("{result_dir}/{}", cl.result_file()),
                done_line: format!("Benchmark with concurrency {} done", point.client),
                expect: Expectations {
                    num_prompts: point.num_prompts,
                    expected_output_tokens: cl.expected_output_tokens(ctx, &run),
                    max_failed_pct: cfg.benchmark.max_failed_pct,
                },
                step: Step {
                    name: format!("bench_c{}_r{repeat}", point.client),
                    argv: cl.argv(ctx, &run),
                    env: env.clone(),
                    log: "6_bench.log".into(),
                    output_dir: Some(result_dir.clone()),
                    srun_prefix: srun.to_vec(),
                },
            });
        }
    }
    runs
}

/// SPEC 7.2: random with `use_nv_sa_benchmark` or without a dataset; the trtllm_custom file
/// otherwise, falling back to random with a warning when the file is missing.
pub(crate) fn dataset_choice(ctx: &Ctx<'_>) -> client::Dataset {
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
