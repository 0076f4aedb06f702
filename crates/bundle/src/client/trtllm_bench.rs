//! TensorRT-LLM's `benchmark_serving` (upstream's `run_benchmark.sh` / `_nv_sa.sh` commands).

use super::{
    ClientAdapter, Dataset, Run, all_percentile_metrics, load, push, random_lengths, save_result,
};
use crate::Ctx;
use servebench_launch::Client;

/// `python -m tensorrt_llm.serve.scripts.benchmark_serving`.
pub struct TrtllmBench;

impl ClientAdapter for TrtllmBench {
    fn name(&self) -> Client {
        Client::TrtllmBenchServing
    }

    fn argv(&self, ctx: &Ctx<'_>, run: &Run<'_>) -> Vec<String> {
        let b = &ctx.case.config.benchmark;
        let mut argv: Vec<String> = [
            "python3",
            "-m",
            "tensorrt_llm.serve.scripts.benchmark_serving",
        ]
        .map(String::from)
        .to_vec();
        push(
            &mut argv,
            &[
                ("--model", run.model.to_string()),
                ("--backend", "openai".into()),
                ("--host", run.host.to_string()),
                ("--port", run.port.to_string()),
            ],
        );
        match run.dataset {
            // Only the built-in client reads workloads; the renderer warns and sends random prompts.
            Dataset::Random | Dataset::Workload(_) => {
                push(&mut argv, &[("--dataset-name", "random".into())]);
                argv.push("--random-ids".into());
                push(&mut argv, &random_lengths(ctx));
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
        argv.push("--trust-remote-code".into());
        argv.push("--no-test-input".into());
        push(&mut argv, &all_percentile_metrics());
        if b.use_nv_sa_benchmark {
            argv.push("--use-chat-template".into());
        }
        if !b.streaming {
            argv.push("--non-streaming".into());
        }
        save_result(&mut argv, run, self.result_file());
        argv
    }
}
