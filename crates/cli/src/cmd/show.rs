//! `servebench show CONFIG`: one config's test cases, or its fully resolved document.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde_json::json;
use servebench_config::diag::Severity;
use servebench_config::load::{LoadOptions, SetOverride, load_file};
use servebench_config::model::{Deployment, TestCase, Worker};
use servebench_config::yaml::emit_annotated;

use crate::exit;
use crate::suite::{Format, print};

/// Arguments of `servebench show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The config file.
    config: PathBuf,
    /// Print the resolved document (defaults, profile, environment and `--set` applied), each
    /// value that is not from the file annotated with where it came from.
    #[arg(long)]
    resolved: bool,
    /// Override a config value: `section.key=value` (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    sets: Vec<SetOverride>,
    /// Cluster profile whose values join the override layer (as for `plan` and `run`).
    #[arg(long = "cluster", env = "SERVEBENCH_CLUSTER", value_name = "NAME")]
    cluster: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// Shows a config. Exit 0; 1 when the file has errors (they are printed to stderr); 2 when it
/// cannot be read.
pub fn run(args: ShowArgs) -> ExitCode {
    let mut opts = LoadOptions::from_process_env();
    opts.sets = args.sets.clone();
    match crate::suite::select_profile(args.cluster.as_deref()) {
        Ok(Some(profile)) => profile.apply(&mut opts),
        Ok(None) => {}
        Err(e) => return crate::suite::usage(e),
    }
    let file = load_file(&args.config, &opts);
    let errors: Vec<_> = file
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    for d in &errors {
        let _ = std::io::Write::write_all(
            &mut std::io::stderr().lock(),
            d.render(file.source.as_deref()).as_bytes(),
        );
    }
    if file.cases.is_empty() {
        if let Some(why) = &file.skipped {
            say!(
                "error: {} holds no test config ({why})",
                args.config.display()
            );
        }
        return ExitCode::from(if file.source.is_none() || file.skipped.is_some() {
            exit::USAGE
        } else {
            exit::FAILED
        });
    }
    let text = match (args.format, args.resolved) {
        (Format::Json, _) => {
            let cases: Vec<_> = file.cases.iter().map(|c| json!(c)).collect();
            serde_json::to_string_pretty(&json!({"schema_version": 1, "cases": cases}))
                .unwrap_or_default()
                + "\n"
        }
        (Format::Table, true) => resolved(&file.cases),
        (Format::Table, false) => file
            .cases
            .iter()
            .map(summary)
            .collect::<Vec<_>>()
            .join("\n"),
    };
    print(&text);
    ExitCode::from(if errors.is_empty() {
        exit::OK
    } else {
        exit::FAILED
    })
}

fn resolved(cases: &[TestCase]) -> String {
    // All cases of a file share one resolved document.
    let Some(case) = cases.first() else {
        return String::new();
    };
    let prov = &case.config.provenance;
    let mut out = format!("# {} (resolved)\n", case.path.display());
    out.push_str(&emit_annotated(&case.config.tree, &|path| {
        prov.get(path).map(|o| format!("<- {o}"))
    }));
    if !prov.is_empty() {
        out.push_str("\n# Values not from the file:\n");
        for (path, origin) in prov.iter() {
            let _ = writeln!(out, "#   {path}: {origin}");
        }
    }
    out
}

fn worker_line(w: &Worker) -> String {
    format!(
        "{} (TP {} PP {} CP {} EP {}) batch {} tokens {} seq {} mtp {} eplb {} kv {}",
        w.parallel_tag(),
        w.tp,
        w.pp,
        w.cp,
        w.ep.map_or("-".into(), |e| e.to_string()),
        w.max_batch_size.map_or("-".into(), |v| v.to_string()),
        w.max_num_tokens.map_or("-".into(), |v| v.to_string()),
        w.max_seq_len.map_or("-".into(), |v| v.to_string()),
        w.mtp,
        w.eplb_slots,
        w.cache_backend.as_deref().unwrap_or("-"),
    )
}

fn summary(case: &TestCase) -> String {
    let c = &case.config;
    let b = &c.benchmark;
    let mut out = String::new();
    let _ = writeln!(out, "test id:        {}", case.test_id);
    let _ = writeln!(out, "display name:   {}", case.display_name);
    let _ = writeln!(out, "file:           {}", case.path.display());
    let _ = writeln!(
        out,
        "model:          {} ({})",
        c.metadata.model_name, c.metadata.precision
    );
    let _ = writeln!(out, "engine:         {}", c.engine.as_str());
    let _ = writeln!(
        out,
        "benchmark type: {} (isl {} osl {})",
        case.benchmark_type, b.input_length, b.output_length
    );
    let _ = writeln!(out, "mode:           {}", b.mode.as_str());
    let conc: Vec<String> = b.concurrency_list.iter().map(|c| c.to_string()).collect();
    let _ = writeln!(
        out,
        "concurrency:    {} ({})",
        conc.join(" "),
        b.concurrency_scope.as_str()
    );
    let _ = writeln!(
        out,
        "supported gpus: {}",
        c.metadata.supported_gpus.join(", ")
    );
    match &c.deployment {
        Deployment::Disagg { ctx, generation } => {
            if let Some(w) = ctx {
                let _ = writeln!(
                    out,
                    "ctx:            {} x {}",
                    c.hardware.num_ctx_servers,
                    worker_line(w)
                );
            }
            let _ = writeln!(
                out,
                "gen:            {} x {}",
                c.hardware.num_gen_servers,
                worker_line(generation)
            );
        }
        Deployment::Agg { server, .. } => {
            let _ = writeln!(out, "server:         {}", worker_line(server));
        }
    }
    match super::list::counts(case) {
        Some((cn, gn, gpus)) => {
            let _ = writeln!(
                out,
                "nodes:          {} ({cn} ctx + {gn} gen, {} placement, {} GPUs/node), {gpus} GPUs",
                cn + gn,
                c.hardware.placement.as_str(),
                c.hardware
                    .gpus_per_node
                    .map_or_else(|| "?".to_string(), |g| g.to_string()),
            );
        }
        None => {
            let _ = writeln!(
                out,
                "nodes:          cannot be planned (see `servebench plan`)"
            );
        }
    }
    let _ = writeln!(
        out,
        "metrics:        {} from {}",
        c.metrics.metric_names.join(", "),
        c.metrics.log_file
    );
    let _ = writeln!(out, "fingerprint:    {}", case.fingerprint);
    out
}
