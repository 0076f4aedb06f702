//! TensorRT-LLM: `trtllm-serve` workers with `--config <role>_config.yaml`, the router
//! `trtllm-serve disaggregated -c server_config.yaml`, and upstream's role environment
//! (reference/upstream.md 4.6).

use std::collections::BTreeMap;

use servebench_config::model::Mode;
use servebench_plan::{Allocation, Role};

use super::{EngineAdapter, server_config, worker, worker_file, worker_files};
use crate::{BundleFile, Ctx, RenderError};

/// The TensorRT-LLM adapter.
pub struct Trtllm;

impl EngineAdapter for Trtllm {
    fn name(&self) -> &'static str {
        "trtllm"
    }

    fn files(&self, ctx: &Ctx<'_>) -> Result<Vec<BundleFile>, RenderError> {
        let mut files = worker_files(ctx);
        if ctx.plan.router.is_some() {
            files.push(BundleFile::text(
                "server_config_base.yaml".into(),
                server_config(ctx),
            ));
        }
        Ok(files)
    }

    fn server_argv(&self, ctx: &Ctx<'_>, alloc: &Allocation) -> Vec<String> {
        let mut argv = Vec::new();
        if ctx.profiling() {
            argv.extend(
                [
                    "nsys",
                    "profile",
                    "-t",
                    "cuda,nvtx,python-gil",
                    "-c",
                    "cudaProfilerApi",
                    "--cuda-graph-trace",
                    "node",
                    "--capture-range-end=stop",
                    "-f",
                    "true",
                    "-o",
                ]
                .map(String::from),
            );
            argv.push(format!("{}/nsys_{}", ctx.log_dir(), alloc.name));
        }
        if ctx.case.config.slurm.numa_bind {
            argv.extend(["numactl", "-m", "0,1"].map(String::from));
        }
        argv.extend([
            "trtllm-serve".to_string(),
            ctx.model_path(),
            "--host".into(),
            alloc.host().to_string(),
            "--port".into(),
            alloc.port.to_string(),
            "--config".into(),
            worker_file(alloc.role),
        ]);
        argv
    }

    fn server_env(&self, ctx: &Ctx<'_>, alloc: &Allocation) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        let cfg = &ctx.case.config;
        match cfg.benchmark.mode {
            Mode::GenOnlyNoContext => {
                env.insert("TRTLLM_DISAGG_BENCHMARK_GEN_ONLY".into(), "1".into());
            }
            Mode::GenOnly => {
                env.insert(
                    "TRTLLM_DISABLE_KV_CACHE_TRANSFER_OVERLAP".into(),
                    "1".into(),
                );
                if alloc.role == Role::Gen {
                    // Upstream filled the queue with the concurrency; capped to what one gen
                    // server can batch (upstream PR #16915), else gen_only hangs.
                    let first = cfg.benchmark.concurrency_list.first().copied().unwrap_or(1);
                    let per_server = cfg.per_gen_server(first);
                    let cap = worker(ctx, Role::Gen)
                        .and_then(servebench_config::model::Worker::capacity)
                        .unwrap_or(per_server);
                    env.insert(
                        "TLLM_BENCHMARK_REQ_QUEUES_SIZE".into(),
                        per_server.min(cap).to_string(),
                    );
                }
            }
            Mode::E2e | Mode::CtxOnly => {}
        }
        if ctx.profiling() {
            env.insert("TLLM_PROFILE_RECORD_GC".into(), "1".into());
            env.insert("TLLM_NVTX_DEBUG".into(), "1".into());
            env.insert("NSYS_MPI_STORE_TEAMS_PER_RANK".into(), "1".into());
            let range = match alloc.role {
                Role::Ctx => cfg.profiling.ctx_profile_range.clone(),
                Role::Gen | Role::Agg => cfg.profiling.gen_profile_range.clone(),
            };
            if let Some(r) = range {
                env.insert("TLLM_PROFILE_START_STOP".into(), r);
            }
        }
        env
    }

    fn router_argv(&self, _ctx: &Ctx<'_>) -> Vec<String> {
        ["trtllm-serve", "disaggregated", "-c", "server_config.yaml"]
            .map(String::from)
            .to_vec()
    }

    fn uses_mpi(&self) -> bool {
        true
    }

    fn default_client(&self) -> servebench_launch::Client {
        servebench_launch::Client::TrtllmBenchServing
    }
}
