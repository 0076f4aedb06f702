//! vLLM: `vllm serve` per server with the worker options as a `--config` YAML (vLLM reads its
//! CLI options from it), KV transfer over the NIXL connector for P/D, and the `vllm-router`
//! proxy in `--vllm-pd-disaggregation` mode.

use servebench_plan::{Allocation, Role};

use super::{EngineAdapter, url, worker_file, worker_files};
use crate::{BundleFile, Ctx, RenderError};

/// The vLLM adapter.
pub struct Vllm;

impl EngineAdapter for Vllm {
    fn name(&self) -> &'static str {
        "vllm"
    }

    fn files(&self, ctx: &Ctx<'_>) -> Result<Vec<BundleFile>, RenderError> {
        Ok(worker_files(ctx))
    }

    fn server_argv(&self, ctx: &Ctx<'_>, alloc: &Allocation) -> Vec<String> {
        let mut argv = vec![
            "vllm".to_string(),
            "serve".into(),
            ctx.model_path(),
            "--host".into(),
            alloc.host().to_string(),
            "--port".into(),
            alloc.port.to_string(),
            "--config".into(),
            worker_file(alloc.role),
        ];
        if !ctx.standalone(alloc) {
            argv.extend([
                "--kv-transfer-config".to_string(),
                r#"{"kv_connector":"NixlConnector","kv_role":"kv_both"}"#.into(),
            ]);
        }
        argv
    }

    fn router_argv(&self, ctx: &Ctx<'_>) -> Vec<String> {
        let mut argv = vec!["vllm-router".to_string(), "--vllm-pd-disaggregation".into()];
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

    fn default_client(&self) -> &'static str {
        "vllm-bench-serve"
    }
}
