//! vLLM: `vllm serve` per server with the worker options as a `--config` YAML (vLLM reads its
//! CLI options from it), KV transfer over the NIXL connector for P/D, and the `vllm-router`
//! proxy in `--vllm-pd-disaggregation` mode.

use servebench_plan::Allocation;

use super::{EngineAdapter, pd_router_args, worker_file, worker_files};
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
        argv.extend(pd_router_args(ctx));
        argv
    }

    fn default_client(&self) -> servebench_launch::Client {
        servebench_launch::Client::VllmBenchServe
    }
}
