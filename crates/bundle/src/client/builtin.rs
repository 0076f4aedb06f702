//! The built-in load generator (`servebench bench`, SPEC 13).

use super::{
    ClientAdapter, Dataset, Run, all_percentile_metrics, load, push, random_lengths, save_result,
};
use crate::Ctx;
use servebench_launch::Client;

/// `servebench bench`.
pub struct Builtin;

impl ClientAdapter for Builtin {
    fn name(&self) -> Client {
        Client::Builtin
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
            Dataset::Workload(path) => push(&mut argv, &[("--workload", path.clone())]),
        }
        push(&mut argv, &load(run));
        argv.push("--ignore-eos".into());
        push(&mut argv, &all_percentile_metrics());
        if !b.streaming {
            argv.push("--non-streaming".into());
        }
        save_result(&mut argv, run, self.result_file());
        argv
    }
}
