//! `servebench plan`: nodes, GPUs, ports and the SLURM request of every selected test.

use std::fmt::Write as _;
use std::process::ExitCode;

use clap::Args;
use servebench_plan::{
    Plan, PlanErrorEntry, check_node_count, plan_case, plans_json, render_table,
};

use crate::exit;
use crate::suite::{Format, PlanningArgs, SuiteArgs, print, usage};

/// Arguments of `servebench plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    suite: SuiteArgs,
    #[command(flatten)]
    planning: PlanningArgs,
    /// Also print each server's allocation (nodes, GPU ids, port) and the router.
    #[arg(short, long)]
    verbose: bool,
    /// Output format (`json` is the stable schema of docs/planning.md).
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// Plans the selected tests. Exit 0; 1 when a test cannot be planned or `--node-count`
/// disagrees with a plan; 2 on usage errors.
pub fn run(args: PlanArgs) -> ExitCode {
    let loaded = match args.suite.load() {
        Ok(l) => l,
        Err(e) => return usage(e),
    };
    let opts = args.planning.options(&loaded);
    let mut plans: Vec<Plan> = Vec::new();
    let mut errors = Vec::new();
    for sel in loaded.selected_cases() {
        let case = sel.case;
        let load_errors: Vec<String> = sel
            .file_diagnostics
            .iter()
            .filter(|d| d.severity == servebench_config::diag::Severity::Error)
            .map(|d| format!("{}: {}", d.location(), d.message))
            .collect();
        if !load_errors.is_empty() {
            errors.push(PlanErrorEntry {
                test_id: case.test_id.clone(),
                error: format!(
                    "{}: not planned: its file has {} error(s): {}",
                    case.test_id,
                    load_errors.len(),
                    load_errors.join("; ")
                ),
            });
            continue;
        }
        match plan_case(case, &opts) {
            Ok(plan) => {
                if let Some(n) = args.planning.node_count
                    && let Err(e) = check_node_count(&plan, n)
                {
                    errors.push(PlanErrorEntry {
                        test_id: case.test_id.clone(),
                        error: e.to_string(),
                    });
                }
                plans.push(plan);
            }
            Err(e) => errors.push(PlanErrorEntry {
                test_id: case.test_id.clone(),
                error: e.to_string(),
            }),
        }
    }
    for b in loaded.broken_files() {
        errors.push(PlanErrorEntry {
            test_id: b.path.display().to_string(),
            error: format!(
                "{}: cannot be loaded: {}",
                b.path.display(),
                b.errors.join("; ")
            ),
        });
    }
    let broken = loaded.suite.files.iter().filter(|f| f.has_errors()).count();
    match args.format {
        Format::Json => {
            print(&(serde_json::to_string_pretty(&plans_json(&plans)).unwrap_or_default() + "\n"));
        }
        Format::Table => {
            let mut out = render_table(&plans, args.verbose);
            let nodes: u64 = plans.iter().map(|p| p.total_nodes).sum();
            let gpus: u64 = plans.iter().map(|p| p.total_gpus).sum();
            let _ = writeln!(
                out,
                "{} test(s) planned: {nodes} node(s), {gpus} GPU(s) in total{}",
                plans.len(),
                if broken > 0 {
                    format!("; {broken} file(s) failed to load (see `servebench validate`)")
                } else {
                    String::new()
                }
            );
            print(&out);
        }
    }
    for e in &errors {
        say!("error: {}", e.error);
    }
    ExitCode::from(if errors.is_empty() {
        exit::OK
    } else {
        exit::FAILED
    })
}
