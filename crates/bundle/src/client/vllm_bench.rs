//! vLLM's `vllm bench serve`.

use super::{
    ClientAdapter, Dataset, Run, all_percentile_metrics, load, push, random_lengths, save_result,
};
use crate::Ctx;
use servebench_launch::Client;

/// `vllm bench serve`.
pub struct VllmBench;

impl ClientAdapter for VllmBench {
    fn name(&self) -> Client {
        Client::VllmBenchServe
    }

    fn argv(&self, ctx: &Ctx<'_>, run: &Run<'_>) -> Vec<String> {
        let mut argv: Vec<String> = ["vllm", "bench", "serve"].map(String::from).to_vec();
        push(
            &mut argv,
            &[
                ("--backend", "openai".into()),
                ("--base-url", format!("http://{}:{}", run.host, run.port)),
                ("--endpoint", "/v1/completions".into()),
                ("--model", run.model.to_string()),
                ("--tokenizer", run.tokenizer.to_string()),
            ],
        );
        match run.dataset {
            Dataset::Random => {
                push(&mut argv, &[("--dataset-name", "random".into())]);
                push(&mut argv, &random_lengths(ctx));
            }
            Dataset::Custom(path) => push(
                &mut argv,
                &[
                    ("--dataset-name", "custom".into()),
                    ("--dataset-path", path.clone()),
                ],
            ),
        }
        push(&mut argv, &load(run));
        push(&mut argv, &all_percentile_metrics());
        argv.push("--ignore-eos".into());
        save_result(&mut argv, run, self.result_file());
        argv
    }
}
