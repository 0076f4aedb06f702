//! The built-in load generator (`servebench bench`, SPEC 13).

use super::{ClientAdapter, Dataset, Run, load, push, random_lengths};
use crate::Ctx;

/// `servebench bench`.
pub struct Builtin;

impl ClientAdapter for Builtin {
    fn name(&self) -> &'static str {
        "builtin"
    }

    fn argv(&self, ctx: &Ctx<'_>, run: &Run<'_>) -> Vec<String> {
        let b = &ctx.case.config.benchmark;
        let mut argv = ctx.servebench_bin();
        argv.push("bench".into());
        push(
            &mut argv,
            &[
                ("--host", run.host.to_string()),
                ("--port", run.port.to_string()),
                ("--endpoint", "/v1/completions".into()),
                ("--backend", "openai".into()),
                ("--model", run.model.to_string()),
            ],
        );
        match run.dataset {
            Dataset::Random => {
                push(&mut argv, &[("--dataset-name", "random".into())]);
                push(&mut argv, &random_lengths(ctx));
                argv.push("--random-ids".into());
            }
            Dataset::Custom(path) => push(
                &mut argv,
                &[
                    ("--dataset-name", "trtllm_custom".into()),
                    ("--dataset-path", path.clone()),
                ],
            ),
        }
        push(&mut argv, &load(run));
        argv.push("--ignore-eos".into());
        push(
            &mut argv,
            &[("--percentile-metrics", "ttft,tpot,itl,e2el".into())],
        );
        if !b.streaming {
            argv.push("--non-streaming".into());
        }
        argv.push("--save-result".into());
        push(
            &mut argv,
            &[
                ("--result-dir", run.result_dir.to_string()),
                ("--result-filename", self.result_file().into()),
            ],
        );
        argv
    }
}
