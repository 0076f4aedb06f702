//! The built-in simulator (SPEC 12): `servebench sim serve --role ctx|gen|agg` per server and
//! `servebench sim router` over the same `server_config.yaml` as TensorRT-LLM's router.

use servebench_config::yaml::{Node, Value};
use servebench_plan::Allocation;

use super::{EngineAdapter, server_config, worker_file, worker_files};
use crate::{BundleFile, Ctx, RenderError};

/// The simulator adapter.
pub struct Sim;

/// The file holding the config's `sim:` section, passed as `--model-profile`.
const PROFILE_FILE: &str = "sim_profile.yaml";

impl EngineAdapter for Sim {
    fn name(&self) -> &'static str {
        "sim"
    }

    fn files(&self, ctx: &Ctx<'_>) -> Result<Vec<BundleFile>, RenderError> {
        let mut files = worker_files(ctx);
        if ctx.plan.router.is_some() {
            files.push(BundleFile::text(
                "server_config_base.yaml".into(),
                server_config(ctx),
            ));
        }
        if let Some(section) = &ctx.case.config.sim {
            let doc = Node::synthetic(Value::Map(vec![(
                Node::synthetic(Value::Str("sim".into())),
                section.clone(),
            )]));
            files.push(BundleFile::text(
                PROFILE_FILE.into(),
                servebench_config::yaml::emit(&doc),
            ));
        }
        Ok(files)
    }

    fn server_argv(&self, ctx: &Ctx<'_>, alloc: &Allocation) -> Vec<String> {
        let mut argv = ctx.servebench_bin();
        argv.extend([
            "sim".to_string(),
            "serve".into(),
            "--role".into(),
            if ctx.standalone(alloc) {
                "agg".into()
            } else {
                alloc.role.as_str().into()
            },
            "--config".into(),
            worker_file(alloc.role),
            "--host".into(),
            alloc.host().to_string(),
            "--port".into(),
            alloc.port.to_string(),
            "--model".into(),
            self.served_model(ctx),
        ]);
        if ctx.case.config.sim.is_some() {
            argv.extend(["--model-profile".to_string(), PROFILE_FILE.into()]);
        }
        if let Some(gpu) = &ctx.opts.gpu_type {
            argv.extend(["--gpu-type".to_string(), gpu.clone()]);
        }
        if let Some(scale) = ctx.opts.sim_time_scale {
            argv.extend(["--time-scale".to_string(), scale.to_string()]);
        }
        argv.extend(["--seed".to_string(), (alloc.index as u64).to_string()]);
        argv
    }

    fn router_argv(&self, ctx: &Ctx<'_>) -> Vec<String> {
        let mut argv = ctx.servebench_bin();
        argv.extend(["sim", "router", "--config", "server_config.yaml"].map(String::from));
        argv
    }

    fn default_client(&self) -> servebench_launch::Client {
        servebench_launch::Client::Builtin
    }

    fn served_model(&self, ctx: &Ctx<'_>) -> String {
        ctx.case.config.metadata.model_name.clone()
    }
}
