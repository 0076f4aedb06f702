//! NVIDIA AIPerf (`aiperf profile`): synthetic prompts of the configured lengths.

use super::{ClientAdapter, Dataset, Run, fixed_output, push};
use crate::Ctx;
use servebench_launch::Client;

/// `aiperf profile`.
pub struct Aiperf;

impl ClientAdapter for Aiperf {
    fn name(&self) -> Client {
        Client::Aiperf
    }

    fn argv(&self, ctx: &Ctx<'_>, run: &Run<'_>) -> Vec<String> {
        let b = &ctx.case.config.benchmark;
        let mut argv: Vec<String> = ["aiperf", "profile"].map(String::from).to_vec();
        push(
            &mut argv,
            &[
                ("--model", run.model.to_string()),
                ("--tokenizer", run.tokenizer.to_string()),
                ("--url", format!("http://{}:{}", run.host, run.port)),
                ("--endpoint-type", "completions".into()),
            ],
        );
        if b.streaming {
            argv.push("--streaming".into());
        }
        match run.dataset {
            // Only the built-in client reads workloads; the renderer warns and sends random prompts.
            Dataset::Random | Dataset::Workload(_) => push(
                &mut argv,
                &[
                    ("--synthetic-input-tokens-mean", b.input_length.to_string()),
                    ("--synthetic-input-tokens-stddev", "0".into()),
                    ("--output-tokens-mean", ctx.output_length().to_string()),
                ],
            ),
            Dataset::Custom(path) => push(
                &mut argv,
                &[
                    ("--input-file", path.clone()),
                    ("--custom-dataset-type", "single_turn".into()),
                ],
            ),
        }
        push(
            &mut argv,
            &[
                ("--extra-inputs", "ignore_eos:true".into()),
                ("--concurrency", run.concurrency.to_string()),
                ("--request-count", run.num_prompts.to_string()),
                ("--artifact-dir", run.result_dir.to_string()),
            ],
        );
        argv
    }

    fn result_file(&self) -> &'static str {
        "profile_export_aiperf.json"
    }

    /// Synthetic AIPerf prompts ask for the mean output length with no spread, EOS ignored.
    fn expected_output_tokens(&self, ctx: &Ctx<'_>, run: &Run<'_>) -> Option<u64> {
        fixed_output(ctx, run, None)
    }
}
