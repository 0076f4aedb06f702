//! lm-evaluation-harness steps (reference/upstream.md 9), for both accuracy shapes: the task map
//! (`tasks: {gsm8k: {model, model_args_extra, extra_kwargs}}`) and the legacy string shape, which
//! the config layer already turned into the same task list.

use std::collections::BTreeMap;

use servebench_config::yaml::Value;
use servebench_launch::Step;

use crate::{Ctx, LOG_DIR};

/// A task name made safe for a file name.
pub(crate) fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// One `lm_eval` step per task.
pub(crate) fn steps(
    ctx: &Ctx<'_>,
    host: &str,
    port: u16,
    env: &BTreeMap<String, String>,
    srun: &[String],
) -> Vec<Step> {
    let acc = &ctx.case.config.accuracy;
    acc.tasks
        .iter()
        .map(|task| {
            let endpoint = if task.model.contains("chat") {
                "v1/chat/completions"
            } else {
                "v1/completions"
            };
            let mut model_args = format!(
                "model={},base_url=http://{host}:{port}/{endpoint}",
                ctx.model_path()
            );
            if !task.model_args_extra.is_empty() {
                model_args.push(',');
                model_args.push_str(&task.model_args_extra);
            }
            let safe = file_safe(&task.name);
            let output_dir = format!("{LOG_DIR}/accuracy_eval_{safe}");
            let mut argv = vec![
                "lm_eval".to_string(),
                "--model".into(),
                task.model.clone(),
                "--tasks".into(),
                task.name.clone(),
                "--model_args".into(),
                model_args,
                "--log_samples".into(),
                "--output_path".into(),
                output_dir.clone(),
            ];
            for (k, v) in task
                .extra_kwargs
                .as_ref()
                .and_then(|n| n.as_map())
                .unwrap_or_default()
            {
                let Some(key) = k.as_key() else { continue };
                match (&v.value, key) {
                    (Value::Bool(true), _) => argv.push(format!("--{key}")),
                    (Value::Bool(false) | Value::Null, _) => {}
                    (Value::Str(path), "custom_config") => {
                        let dir = std::path::Path::new(path)
                            .parent()
                            .map(|p| p.display().to_string())
                            .unwrap_or_default();
                        argv.push(format!("--include_path={dir}"));
                    }
                    (other, _) => argv.push(format!(
                        "--{key}={}",
                        servebench_config::yaml::scalar_text(other)
                    )),
                }
            }
            Step {
                name: format!("accuracy_{safe}"),
                argv,
                env: env.clone(),
                log: format!("7_accuracy_eval_{safe}.log"),
                output_dir: Some(output_dir),
                srun_prefix: srun.to_vec(),
            }
        })
        .collect()
}
