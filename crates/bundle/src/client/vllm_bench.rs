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
            // Only the built-in client reads workloads; the renderer warns and sends random prompts.
            Dataset::Random | Dataset::Workload(_) => {
                push(&mut argv, &[("--dataset-name", "random".into())]);
                // vLLM draws symmetrically, `[len * (1 - r), len * (1 + r)]`: `1 - ratio` keeps
                // upstream's width and keeps 1.0 (fixed lengths) fixed.
                let mut lengths = random_lengths(ctx);
                if let Some(r) = lengths
                    .iter_mut()
                    .find(|(f, _)| *f == "--random-range-ratio")
                {
                    r.1 = (1.0 - ctx.case.config.benchmark.benchmark_ratio).to_string();
                }
                push(&mut argv, &lengths);
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
