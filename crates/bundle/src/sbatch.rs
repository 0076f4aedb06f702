//! The SLURM batch script (`job.sbatch`) and the readable `commands.sh`.
//!
//! The batch script requests the plan's resources in `#SBATCH` lines and runs
//! `servebench job exec .` in the bundle directory (submit from the bundle directory, or with
//! `sbatch --chdir=<bundle>`). All paths in a bundle are relative, so bundles can be moved.

use std::fmt::Write as _;

use servebench_launch::{LaunchSpec, Step};

use crate::Ctx;
use crate::shell::{join, quote, sbatch_directive_value};

/// `job.sbatch`.
pub(crate) fn batch_script(ctx: &Ctx<'_>, spec: &LaunchSpec) -> String {
    let mut out = String::from("#!/bin/bash\n");
    for arg in &ctx.plan.sbatch_args {
        // A directive is one line: a newline in a value would end the comment and turn the rest
        // into a shell command, so line breaks become spaces.
        let _ = writeln!(out, "#SBATCH {}", sbatch_directive_value(&one_line(arg)));
    }
    let _ = writeln!(
        out,
        "# servebench job bundle of {}: {} node(s), {} GPU(s).\n\
         # Submit from this directory (`sbatch job.sbatch`) or with `sbatch --chdir=<bundle> <bundle>/job.sbatch`.\n\
         # `servebench job exec` runs launch.json: servers, router, benchmark, accuracy, teardown.",
        one_line(&spec.test_id),
        ctx.plan.total_nodes,
        ctx.plan.total_gpus
    );
    let bin = ctx.servebench_bin().join(" ");
    let _ = write!(
        out,
        "set -euo pipefail\nmkdir -p logs\nbin=${{SERVEBENCH_BIN:-}}\nif [ -z \"$bin\" ]; then bin={}; fi\nexec \"$bin\" job exec .\n",
        quote(&bin)
    );
    out
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

fn step_line(out: &mut String, step: &Step, background: bool) {
    let mut words = vec!["env".to_string()];
    words.extend(step.env.iter().map(|(k, v)| format!("{k}={v}")));
    words.extend(step.argv.iter().cloned());
    let _ = writeln!(
        out,
        "{} >>{} 2>&1{}",
        join(&words),
        quote(&format!("{}/{}", "logs", step.log)),
        if background { " &" } else { "" }
    );
}

/// `commands.sh`: every command of the launch spec as a quoted shell line, in execution order,
/// for reading and for running by hand on one machine (placeholders not substituted). The
/// orchestrator does not use it.
pub(crate) fn commands_script(spec: &LaunchSpec) -> String {
    let mut out = String::from(
        "#!/bin/bash\n# Every command of launch.json in order, quoted for bash (node placeholders not substituted).\n# `servebench job exec` runs launch.json itself; this file is for reading and debugging.\nset -euo pipefail\nmkdir -p logs\n",
    );
    for s in &spec.setup {
        let _ = writeln!(out, "# setup: {}", one_line(&s.name));
        step_line(&mut out, s, false);
    }
    for p in spec.servers.iter().chain(spec.router.iter()) {
        let _ = writeln!(
            out,
            "# {} ({}), health {}",
            p.name,
            p.role,
            one_line(&p.health.url)
        );
        let step = Step {
            name: p.name.clone(),
            argv: p.argv.clone(),
            env: p.env.clone(),
            log: p.log.clone(),
            output_dir: None,
            srun_prefix: Vec::new(),
        };
        step_line(&mut out, &step, true);
    }
    for run in &spec.benchmark {
        let _ = writeln!(
            out,
            "mkdir -p {}",
            quote(run.result_file.rsplit_once('/').map_or("logs", |(d, _)| d))
        );
        step_line(&mut out, &run.step, false);
        let _ = writeln!(out, "echo {} >>logs/6_bench.log", quote(&run.done_line));
    }
    for s in &spec.accuracy {
        let _ = writeln!(out, "# accuracy: {}", one_line(&s.name));
        step_line(&mut out, s, false);
    }
    out
}
