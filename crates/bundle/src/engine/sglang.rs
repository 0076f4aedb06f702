//! SGLang: `python -m sglang.launch_server` per server with `--disaggregation-mode
//! prefill|decode` and the parallelism flags read from the worker options, and the
//! `sglang_router` in `--pd-disaggregation` mode. SGLang has no options file, so only the keys
//! mapped below reach it; the rest are reported as render warnings.

use servebench_plan::{Allocation, Role};

use super::{EngineAdapter, pd_router_args, worker, worker_files};
use crate::{BundleFile, Ctx, RenderError};

/// The SGLang adapter.
pub struct Sglang;

/// Worker option -> SGLang flag.
const MAPPED: &[(&str, &str)] = &[
    ("tensor_parallel_size", "--tp-size"),
    ("pipeline_parallel_size", "--pp-size"),
    ("moe_expert_parallel_size", "--ep-size"),
    ("max_batch_size", "--max-running-requests"),
    ("max_num_tokens", "--chunked-prefill-size"),
    ("max_seq_len", "--context-length"),
    ("trust_remote_code", "--trust-remote-code"),
    ("enable_attention_dp", "--enable-dp-attention"),
];

impl EngineAdapter for Sglang {
    fn name(&self) -> &'static str {
        "sglang"
    }

    fn files(&self, ctx: &Ctx<'_>) -> Result<Vec<BundleFile>, RenderError> {
        for role in [Role::Ctx, Role::Gen, Role::Agg] {
            let Some(w) = worker(ctx, role) else { continue };
            let unmapped: Vec<&str> = w
                .options
                .as_map()
                .unwrap_or_default()
                .iter()
                .filter_map(|(k, _)| k.as_key())
                .filter(|k| !MAPPED.iter().any(|(m, _)| m == k))
                .collect();
            if !unmapped.is_empty() {
                ctx.warn(format!(
                    "sglang: {} options not passed to the server: {}",
                    role.as_str(),
                    unmapped.join(", ")
                ));
            }
        }
        Ok(worker_files(ctx))
    }

    fn server_argv(&self, ctx: &Ctx<'_>, alloc: &Allocation) -> Vec<String> {
        let mut argv = vec![
            "python3".to_string(),
            "-m".into(),
            "sglang.launch_server".into(),
            "--model-path".into(),
            ctx.model_path(),
            "--host".into(),
            alloc.host().to_string(),
            "--port".into(),
            alloc.port.to_string(),
        ];
        match alloc.role {
            _ if ctx.standalone(alloc) => {}
            Role::Ctx => argv.extend(["--disaggregation-mode".to_string(), "prefill".into()]),
            Role::Gen => argv.extend(["--disaggregation-mode".to_string(), "decode".into()]),
            Role::Agg => {}
        }
        if !ctx.standalone(alloc) {
            argv.extend([
                "--disaggregation-transfer-backend".to_string(),
                "nixl".into(),
            ]);
        }
        if let Some(w) = worker(ctx, alloc.role) {
            for (key, flag) in MAPPED {
                let Some(v) = w.options.get(key) else {
                    continue;
                };
                match &v.value {
                    servebench_config::yaml::Value::Bool(true) => argv.push((*flag).into()),
                    servebench_config::yaml::Value::Int(i) => {
                        argv.extend([(*flag).to_string(), i.to_string()]);
                    }
                    _ => {}
                }
            }
        }
        argv
    }

    fn router_argv(&self, ctx: &Ctx<'_>) -> Vec<String> {
        let mut argv = vec![
            "python3".to_string(),
            "-m".into(),
            "sglang_router.launch_router".into(),
            "--pd-disaggregation".into(),
        ];
        argv.extend(pd_router_args(ctx));
        argv
    }

    fn default_client(&self) -> servebench_launch::Client {
        servebench_launch::Client::SglangBenchServing
    }
}
