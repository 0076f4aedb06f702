//! SGLang's `python -m sglang.bench_serving` (ignores EOS unless `--disable-ignore-eos`).

use super::{ClientAdapter, Dataset, Run, fixed_output, load, push, random_lengths};
use crate::Ctx;
use servebench_launch::Client;

/// `python -m sglang.bench_serving`.
pub struct SglangBench;

impl ClientAdapter for SglangBench {
    fn name(&self) -> Client {
        Client::SglangBenchServing
    }

    fn argv(&self, ctx: &Ctx<'_>, run: &Run<'_>) -> Vec<String> {
        let mut argv: Vec<String> = ["python3", "-m", "sglang.bench_serving"]
            .map(String::from)
            .to_vec();
        push(
            &mut argv,
            &[
                ("--backend", "sglang-oai".into()),
                ("--host", run.host.to_string()),
                ("--port", run.port.to_string()),
                ("--model", run.model.to_string()),
            ],
        );
        match run.dataset {
            // Only the built-in client reads workloads; the renderer warns and sends random prompts.
            Dataset::Random | Dataset::Workload(_) => {
                push(&mut argv, &[("--dataset-name", "random-ids".into())]);
                push(&mut argv, &random_lengths(ctx));
            }
            Dataset::Custom(path) => push(
                &mut argv,
                &[
                    ("--dataset-name", "sharegpt".into()),
                    ("--dataset-path", path.clone()),
                ],
            ),
        }
        push(&mut argv, &load(run));
        push(
            &mut argv,
            &[(
                "--output-file",
                format!("{}/{}", run.result_dir, self.result_file()),
            )],
        );
        argv
    }

    fn result_file(&self) -> &'static str {
        "result.jsonl"
    }

    /// SGLang draws `[len * r, len]` and ignores EOS unless told: equal lengths at `r = 1`.
    fn expected_output_tokens(&self, ctx: &Ctx<'_>, run: &Run<'_>) -> Option<u64> {
        fixed_output(ctx, run, 1.0)
    }
}
