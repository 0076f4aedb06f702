//! `servebench list`: the selected test cases, grouped by test type, category and model.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::ExitCode;

use clap::Args;
use serde_json::json;
use servebench_config::diag::Severity;
use servebench_config::model::{Deployment, TestCase, Worker};

use crate::cmd::list_suite;
use crate::exit;
use crate::suite::{Format, Loaded, SuiteArgs, print, usage};

/// Arguments of `servebench list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    suite: SuiteArgs,
    /// Show TP, batch size, attention DP, nodes and GPUs per test.
    #[arg(short, long)]
    verbose: bool,
    /// Show the metrics each test extracts.
    #[arg(long)]
    show_metrics: bool,
    /// Print counts only: per mode, model and GPU type; resolved, missing and skipped list lines.
    /// Missing names are listed (and still fail the command unless --allow-missing).
    #[arg(long, conflicts_with_all = ["pretty", "show_groups"])]
    summary: bool,
    /// Print every test-list line with what became of it, under its test-db block.
    #[arg(long, conflicts_with = "show_groups")]
    pretty: bool,
    /// With --splits: print each group with its expected duration and its tests.
    #[arg(long, requires = "splits")]
    show_groups: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// Lists the selected tests. Exit 0; 2 on usage errors. Files that fail to load are counted
/// in the summary (see `servebench validate` for details) but do not fail `list`.
pub fn run(mut args: ListArgs) -> ExitCode {
    // A summary reports missing names instead of stopping at them; they still fail it below.
    let strict = !args.suite.allow_missing;
    if args.summary || args.pretty {
        args.suite.allow_missing = true;
        args.suite.missing_on_stdout = true;
    }
    let loaded = match args.suite.load() {
        Ok(l) => l,
        Err(e) => return usage(e),
    };
    let text = match (args.format, &loaded.shards) {
        (Format::Json, _) => json_output(&loaded, args.show_metrics),
        (Format::Table, _) if args.summary => list_suite::summary_text(&loaded),
        (Format::Table, _) if args.pretty => list_suite::pretty_text(&loaded),
        (Format::Table, Some(shards)) if args.show_groups => {
            list_suite::groups_text(&loaded, shards)
        }
        (Format::Table, _) => {
            table(&loaded, args.verbose, args.show_metrics) + &list_suite::blocks_text(&loaded)
        }
    };
    print(&text);
    let missing = strict
        && (args.summary || args.pretty)
        && loaded
            .reports
            .iter()
            .any(|r| list_suite::line_counts(&loaded, r).missing_here > 0);
    crate::suite::discard(loaded);
    if missing {
        say!(
            "error: test list line(s) name configs that are not in the tree (listed above); --allow-missing makes them warnings"
        );
        return ExitCode::from(exit::USAGE);
    }
    ExitCode::from(exit::OK)
}

fn role(w: &Worker, servers: u64) -> serde_json::Value {
    json!({
        "servers": servers,
        "tp": w.tp, "pp": w.pp, "cp": w.cp, "ep": w.ep,
        "attention_dp": w.attention_dp,
        "max_batch_size": w.max_batch_size,
        "max_num_tokens": w.max_num_tokens,
        "max_seq_len": w.max_seq_len,
        "gpus_per_server": w.world_size(),
        "mtp": w.mtp,
        "eplb_slots": w.eplb_slots,
        "cache_backend": w.cache_backend,
    })
}

/// Nodes (ctx, gen or aggregated) and GPUs the servers use, from the planner, so `list` and
/// `show` count exactly what `plan` and `run` would; `None` when the case cannot be planned.
pub(crate) fn counts(case: &TestCase) -> Option<(u64, u64, u64)> {
    let plan = servebench_plan::plan_case(case, &servebench_plan::PlanOptions::default()).ok()?;
    Some((
        plan.ctx.nodes,
        plan.total_nodes.saturating_sub(plan.ctx.nodes),
        plan.used_gpus,
    ))
}

fn case_json(case: &TestCase, metrics: bool) -> serde_json::Value {
    let c = &case.config;
    let counts = counts(case);
    let (ctx, generation) = match &c.deployment {
        Deployment::Disagg { ctx, generation } => (
            ctx.as_ref().map(|w| role(w, c.hardware.num_ctx_servers)),
            role(generation, c.hardware.num_gen_servers),
        ),
        Deployment::Agg { server, .. } => (None, role(server, 1)),
    };
    let mut v = json!({
        "test_id": case.test_id,
        "display_name": case.display_name,
        "test_type": case.test_type,
        "category": case.category,
        "model": c.metadata.model_name,
        "path": case.path,
        "format": c.format,
        "engine": c.engine,
        "benchmark_type": case.benchmark_type,
        "fingerprint": case.fingerprint,
        "supported_gpus": c.metadata.supported_gpus,
        "mode": c.benchmark.mode,
        "input_length": c.benchmark.input_length,
        "output_length": c.benchmark.output_length,
        "concurrency_list": c.benchmark.concurrency_list,
        "concurrency_scope": c.benchmark.concurrency_scope,
        "gpus_per_node": c.hardware.gpus_per_node,
        "ctx": ctx,
        "gen": generation,
        "nodes": counts.map(|(cn, gn, _)| cn + gn),
        "gpus": counts.map(|(_, _, gpus)| gpus),
    });
    if metrics {
        v["metrics"] = json!(c.metrics);
    }
    v
}

fn summary(loaded: &Loaded) -> serde_json::Value {
    let mut models: BTreeMap<&str, usize> = BTreeMap::new();
    let mut types: BTreeMap<String, usize> = BTreeMap::new();
    for case in loaded.cases() {
        *models
            .entry(case.config.metadata.model_name.as_str())
            .or_default() += 1;
        *types
            .entry(format!("{}/{}", case.test_type, case.category))
            .or_default() += 1;
    }
    let broken = loaded.suite.files.iter().filter(|f| f.has_errors()).count();
    json!({
        "tests": loaded.selected.len(),
        "files": loaded.suite.files.len(),
        "files_with_errors": broken,
        "gpu_type": loaded.gpu,
        "filtered_by_gpu": loaded.gpu_filtered,
        "models": models,
        "test_types": types,
    })
}

fn json_output(loaded: &Loaded, metrics: bool) -> String {
    let tests: Vec<_> = loaded
        .cases()
        .enumerate()
        .map(|(i, c)| {
            let mut v = case_json(c, metrics);
            list_suite::add_selection_json(loaded, i, &mut v);
            v
        })
        .collect();
    let problems: Vec<_> = loaded
        .suite
        .diagnostics()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    let doc = json!({
        "schema_version": 1,
        "tests": tests,
        "summary": summary(loaded),
        "errors": problems,
        "lists": list_suite::lists_json(loaded),
        "groups": loaded.shards.as_ref().map(|s| list_suite::groups_json(loaded, s)),
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

fn topology(case: &TestCase) -> String {
    let c = &case.config;
    let w = |w: &Worker| {
        format!(
            "{}{}{}",
            w.parallel_tag(),
            if w.pp > 1 {
                format!("pp{}", w.pp)
            } else {
                String::new()
            },
            if w.mtp > 0 {
                format!(" mtp{}", w.mtp)
            } else {
                String::new()
            }
        )
    };
    match &c.deployment {
        Deployment::Disagg { ctx, generation } => {
            let ctx_text = match ctx {
                Some(cw) if c.hardware.num_ctx_servers > 0 => {
                    format!("ctx {}x{}", c.hardware.num_ctx_servers, w(cw))
                }
                _ => "ctx 0".into(),
            };
            format!(
                "{ctx_text}  gen {}x{}",
                c.hardware.num_gen_servers,
                w(generation)
            )
        }
        Deployment::Agg { server, .. } => format!("agg 1x{}", w(server)),
    }
}

fn table(loaded: &Loaded, verbose: bool, metrics: bool) -> String {
    let mut groups: BTreeMap<(String, String), BTreeMap<String, Vec<&TestCase>>> = BTreeMap::new();
    let mut load_errors: BTreeMap<&str, usize> = BTreeMap::new();
    for sel in loaded.selected_cases() {
        let case = sel.case;
        let n = sel
            .file_diagnostics
            .iter()
            .filter(|d| d.severity == servebench_config::diag::Severity::Error)
            .count();
        if n > 0 {
            load_errors.insert(case.test_id.as_str(), n);
        }
        groups
            .entry((case.test_type.clone(), case.category.clone()))
            .or_default()
            .entry(case.config.metadata.model_name.clone())
            .or_default()
            .push(case);
    }
    let mut out = String::new();
    for ((ty, cat), models) in &groups {
        let n: usize = models.values().map(Vec::len).sum();
        let _ = writeln!(out, "{ty}/{cat} ({n})");
        for (model, cases) in models {
            let _ = writeln!(out, "  {model} ({})", cases.len());
            let width = cases.iter().map(|c| c.test_id.len()).max().unwrap_or(0);
            for case in cases {
                let conc = case
                    .config
                    .benchmark
                    .concurrency_list
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(",");
                let _ = write!(
                    out,
                    "    {:<width$}  {:<7} c={conc}",
                    case.test_id, case.benchmark_type
                );
                if verbose {
                    let g = case.config.deployment.gen_role();
                    let (nodes, gpus) = counts(case)
                        .map_or(("-".into(), "-".into()), |(cn, gn, gpus)| {
                            ((cn + gn).to_string(), gpus.to_string())
                        });
                    let _ = write!(
                        out,
                        "  {}  bs={} adp={} nodes={nodes} gpus={gpus}",
                        topology(case),
                        g.max_batch_size.map_or("-".into(), |b| b.to_string()),
                        if g.attention_dp { "on" } else { "off" },
                    );
                }
                if let Some(n) = load_errors.get(case.test_id.as_str()) {
                    let _ = write!(
                        out,
                        "  INVALID: {n} load error(s), not runnable (`servebench validate`)"
                    );
                }
                out.push('\n');
                if verbose {
                    let _ = writeln!(
                        out,
                        "      supported gpus: {}",
                        case.config.metadata.supported_gpus.join(", ")
                    );
                }
                if metrics {
                    let m = &case.config.metrics;
                    let _ = writeln!(
                        out,
                        "      metrics: {} from {}",
                        m.metric_names.join(", "),
                        m.log_file
                    );
                }
            }
        }
    }
    let s = summary(loaded);
    let _ = writeln!(
        out,
        "\n{} test(s) in {} file(s)",
        loaded.selected.len(),
        loaded.suite.files.len()
    );
    if let Some(models) = s["models"].as_object() {
        let list: Vec<String> = models.iter().map(|(k, v)| format!("{k} ({v})")).collect();
        let _ = writeln!(
            out,
            "models: {}",
            if list.is_empty() {
                "none".into()
            } else {
                list.join(", ")
            }
        );
    }
    if let Some(types) = s["test_types"].as_object() {
        let list: Vec<String> = types.iter().map(|(k, v)| format!("{k} ({v})")).collect();
        let _ = writeln!(
            out,
            "test types: {}",
            if list.is_empty() {
                "none".into()
            } else {
                list.join(", ")
            }
        );
    }
    if let Some(gpu) = &loaded.gpu {
        let _ = writeln!(
            out,
            "gpu type: {gpu} ({} test(s) for other GPUs hidden; --show-all-gpus shows them)",
            loaded.gpu_filtered
        );
    }
    let broken = loaded.broken_files().len();
    if broken > 0 {
        let _ = writeln!(
            out,
            "{broken} file(s) with errors and no test case: run `servebench validate` for details"
        );
    }
    if !load_errors.is_empty() {
        let _ = writeln!(
            out,
            "{} test(s) marked INVALID: their file has load errors",
            load_errors.len()
        );
    }
    out
}
