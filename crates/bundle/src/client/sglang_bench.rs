//! SGLang's `python -m sglang.bench_serving` (ignores EOS unless `--disable-ignore-eos`).

use super::{ClientAdapter, Dataset, Run, push};
use crate::Ctx;

/// `python -m sglang.bench_serving`.
pub struct SglangBench;

impl ClientAdapter for SglangBench {
    fn name(&self) -> &'static str {
        "sglang-bench-serving"
    }

    fn argv(&self, ctx: &Ctx<'_>, run: &Run<'_>) -> Vec<String> {
        let b = &ctx.case.config.benchmark;
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
            Dataset::Random => push(
                &mut argv,
                &[
                    ("--dataset-name", "random-ids".into()),
                    ("--random-input-len", b.input_length.to_string()),
                    ("--random-output-len", ctx.output_length().to_string()),
                    ("--random-range-ratio", b.benchmark_ratio.to_string()),
                ],
            ),
            Dataset::Custom(path) => push(
                &mut argv,
                &[
                    ("--dataset-name", "sharegpt".into()),
                    ("--dataset-path", path.clone()),
                ],
            ),
        }
        push(
            &mut argv,
            &[
                ("--num-prompts", run.num_prompts.to_string()),
                ("--max-concurrency", run.concurrency.to_string()),
                (
                    "--output-file",
                    format!("{}/{}", run.result_dir, self.result_file()),
                ),
            ],
        );
        argv
    }

    fn result_file(&self) -> &'static str {
        "result.jsonl"
    }
}
