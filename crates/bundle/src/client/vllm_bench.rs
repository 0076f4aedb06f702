//! vLLM's `vllm bench serve`.

use super::{ClientAdapter, Dataset, Run, load, push, random_lengths};
use crate::Ctx;

/// `vllm bench serve`.
pub struct VllmBench;

impl ClientAdapter for VllmBench {
    fn name(&self) -> &'static str {
        "vllm-bench-serve"
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
        push(
            &mut argv,
            &[("--percentile-metrics", "ttft,tpot,itl,e2el".into())],
        );
        argv.push("--ignore-eos".into());
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
