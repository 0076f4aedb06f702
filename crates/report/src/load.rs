//! Building a [`ReportInput`] from the `results.json` files that `servebench run` writes.
//!
//! Test metadata is not in `results.json`; it is read, in order of trust, from:
//! 1. the test config named by the bundle's `plan.json` (`<run>/bundles/<test_id>/plan.json`,
//!    its `path`): model, ISL/OSL, the single supported GPU type, servers, TP/EP, batch;
//! 2. the bundle's `config.resolved.yaml`, when the config moved or no longer has the test;
//! 3. the topology tokens of the test id (`ctx1_gen2_tep2_bs32`, `1k1k`) when neither loads.
//!
//! Repeats of a concurrency are folded into one point: each metric is the median over the
//! repeats that have it, and the point is valid only when every check of that concurrency held.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use servebench_config::identity::parse_name;
use servebench_config::load::{LoadOptions, load_file};
use servebench_config::model::{Deployment, TestCase};
use servebench_results::{CaseResult, RESULTS_SCHEMA_VERSION};

use crate::model::{
    LogExcerpt, PointMetrics, ReportInput, RunInfo, TestMeta, TestReport, Topology,
};

/// Why a report input could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A results file (or the run directory's `results.json`) could not be read.
    #[error("cannot read {}: {source}; pass a run directory or the results.json that `servebench run` wrote", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a `results.json` document.
    #[error("{} is not a servebench results.json: {detail}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What was wrong, with line and column.
        detail: String,
    },
    /// The file was written by a newer servebench.
    #[error("{} has schema_version {found}, this servebench reads up to {RESULTS_SCHEMA_VERSION}; use a newer servebench", path.display())]
    Version {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: u32,
    },
}

#[derive(Deserialize)]
struct ResultsDoc {
    schema_version: u32,
    cases: Vec<CaseResult>,
}

impl ReportInput {
    /// Reads each `results.json` (or run directory holding one) as one run, in the order
    /// given; the run id is the directory's name. See the module docs for where metadata comes
    /// from.
    pub fn from_results_files(paths: &[PathBuf]) -> Result<ReportInput, ReportError> {
        let mut input = ReportInput::default();
        for given in paths {
            let file = if given.is_dir() {
                given.join("results.json")
            } else {
                given.clone()
            };
            let text = std::fs::read_to_string(&file).map_err(|source| ReportError::Read {
                path: file.clone(),
                source,
            })?;
            let doc: ResultsDoc = serde_json::from_str(&text).map_err(|e| ReportError::Parse {
                path: file.clone(),
                detail: e.to_string(),
            })?;
            if doc.schema_version > RESULTS_SCHEMA_VERSION {
                return Err(ReportError::Version {
                    path: file,
                    found: doc.schema_version,
                });
            }
            let run_dir = file.parent().unwrap_or(Path::new("."));
            let id = run_dir
                .file_name()
                .map_or_else(|| "run".to_string(), |n| n.to_string_lossy().into_owned());
            let run = input.runs.len();
            input.runs.push(RunInfo {
                id,
                source: Some(run_dir.display().to_string()),
            });
            input.tests.extend(
                doc.cases
                    .iter()
                    .map(|case| test_report(case, run, &run_dir.join("bundles"))),
            );
        }
        Ok(input)
    }
}

impl ReportInput {
    /// Rewrites every test's log location that is a local path as a path relative to `dir`
    /// (where the report is written), so the links keep working when the report and the run
    /// directory are copied together (a CI artifact). URLs and paths that do not share a root
    /// with `dir` are left as they are.
    pub fn relative_logs(&mut self, dir: &Path) {
        let Ok(base) = std::path::absolute(dir) else {
            return;
        };
        for t in &mut self.tests {
            let Some(logs) = &t.logs else { continue };
            if logs.contains("://") {
                continue;
            }
            if let Some(rel) = std::path::absolute(logs)
                .ok()
                .and_then(|abs| relative_path(&base, &abs))
            {
                t.logs = Some(rel.display().to_string());
            }
        }
    }
}

/// `target` relative to the directory `base` (both absolute); `None` without a common root.
fn relative_path(base: &Path, target: &Path) -> Option<PathBuf> {
    let (b, t): (Vec<_>, Vec<_>) = (base.components().collect(), target.components().collect());
    let common = b.iter().zip(&t).take_while(|(x, y)| x == y).count();
    if common == 0 {
        return None;
    }
    let mut rel: PathBuf = b.iter().skip(common).map(|_| "..").collect();
    rel.extend(t.iter().skip(common));
    Some(if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    })
}

/// One case of a run: metadata, folded points, reasons and excerpts.
pub(crate) fn test_report(case: &CaseResult, run: usize, bundles: &Path) -> TestReport {
    let bundle = bundles.join(&case.test_id);
    TestReport {
        test_id: case.test_id.clone(),
        run,
        meta: config_meta(&bundle, &case.test_id).unwrap_or_else(|| name_meta(&case.test_id)),
        points: fold_points(case),
        verdict: case.verdict.into(),
        reasons: case
            .reason
            .as_deref()
            .map(|r| r.split("; ").map(str::to_string).collect())
            .unwrap_or_default(),
        excerpts: case
            .excerpts
            .iter()
            .map(|e| LogExcerpt {
                concurrency: e.concurrency,
                source: e.source.display().to_string(),
                text: e.text.clone(),
            })
            .collect(),
        changes: Vec::new(),
        history: Vec::new(),
        logs: bundle.is_dir().then(|| bundle.display().to_string()),
    }
}

/// Median per metric over the repeats of each concurrency, ascending by concurrency.
fn fold_points(case: &CaseResult) -> Vec<PointMetrics> {
    let mut by_c: BTreeMap<u64, BTreeMap<&str, Vec<f64>>> = BTreeMap::new();
    for p in &case.points {
        let slot = by_c.entry(p.concurrency).or_default();
        for (k, v) in &p.metrics {
            if v.is_finite() {
                slot.entry(k.as_str()).or_default().push(*v);
            }
        }
    }
    by_c.into_iter()
        .map(|(c, metrics)| PointMetrics {
            concurrency: c,
            metrics: metrics
                .into_iter()
                .filter_map(|(k, mut vs)| Some((k.to_string(), median(&mut vs)?)))
                .collect(),
            valid: case.checks_for(c).all(|ch| ch.passed)
                && case.points.iter().any(|p| p.concurrency == c && p.complete),
        })
        .collect()
}

/// Median of finite values (mean of the middle two for an even count).
pub(crate) fn median(values: &mut [f64]) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => values.get(n / 2).copied(),
        _ => Some((values.get(n / 2 - 1)? + values.get(n / 2)?) / 2.0),
    }
}

/// Metadata from the config that the bundle's `plan.json` names, else from the bundle's own
/// `config.resolved.yaml` (which survives the config moving or changing).
fn config_meta(bundle: &Path, test_id: &str) -> Option<TestMeta> {
    let opts = LoadOptions::from_process_env();
    let planned = || {
        let plan: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(bundle.join("plan.json")).ok()?).ok()?;
        let path = PathBuf::from(plan.get("path")?.as_str()?);
        let loaded = load_file(&path, &opts);
        loaded.cases.into_iter().find(|c| c.test_id == test_id)
    };
    let resolved = || {
        let loaded = load_file(&bundle.join(RESOLVED_CONFIG), &opts);
        // The resolved file's ids carry its own stem; an aggregated file's cases differ only
        // in their `-{server}-{client}` suffix, which the test id ends with.
        let mut cases = loaded.cases.into_iter();
        match (cases.next(), cases.next()) {
            (Some(only), None) => Some(only),
            (Some(first), Some(second)) => [first, second].into_iter().chain(cases).find(|c| {
                c.test_id
                    .split_once(RESOLVED_STEM)
                    .is_some_and(|(_, suffix)| !suffix.is_empty() && test_id.ends_with(suffix))
            }),
            _ => None,
        }
    };
    planned().or_else(resolved).map(|case| case_meta(&case))
}

/// The resolved config a bundle carries.
const RESOLVED_CONFIG: &str = "config.resolved.yaml";
/// Its file stem, as it appears in the ids of its cases.
const RESOLVED_STEM: &str = "config.resolved";

/// Metadata of a loaded test case.
pub fn case_meta(case: &TestCase) -> TestMeta {
    let cfg = &case.config;
    let (ctx, generation, ctx_servers) = match &cfg.deployment {
        Deployment::Disagg { ctx, generation } => {
            (ctx.as_ref(), generation, Some(cfg.hardware.num_ctx_servers))
        }
        Deployment::Agg { server, .. } => (None, server, None),
    };
    let gen_servers = cfg.hardware.num_gen_servers.max(1);
    let ctx_gpus = ctx.map_or(0, |w| w.world_size()) * ctx_servers.unwrap_or(0);
    let gpu_type = match cfg.metadata.supported_gpus.as_slice() {
        [one] => one.clone(),
        _ => String::new(),
    };
    TestMeta {
        model: cfg.metadata.model_name.clone(),
        isl: Some(cfg.benchmark.input_length).filter(|&v| v > 0),
        osl: Some(cfg.benchmark.output_length).filter(|&v| v > 0),
        gpu_type,
        gpus: Some(ctx_gpus + generation.world_size() * gen_servers).filter(|&g| g > 0),
        topology: Topology {
            ctx_servers,
            gen_servers: Some(gen_servers),
            ctx_tp: ctx.map(|w| w.tp),
            gen_tp: Some(generation.tp),
            gen_ep: generation.ep,
            attention_dp: generation.attention_dp,
            batch: generation.max_batch_size,
        },
    }
}

/// Metadata from the test id's tokens alone (`..._1k1k_ctx1_gen2_tep2_bs32_...`).
fn name_meta(test_id: &str) -> TestMeta {
    let t = parse_name(test_id);
    let lengths = t.benchmark_type.as_deref().and_then(|b| {
        let (i, o) = b.strip_suffix('k')?.split_once('k')?;
        Some((i.parse::<u64>().ok()? * 1024, o.parse::<u64>().ok()? * 1024))
    });
    TestMeta {
        model: String::new(),
        isl: lengths.map(|l| l.0),
        osl: lengths.map(|l| l.1),
        gpu_type: String::new(),
        gpus: None,
        topology: Topology {
            ctx_servers: t.ctx_servers,
            gen_servers: t.gen_servers,
            ctx_tp: t.ctx_tp.map(|(_, tp)| tp),
            gen_tp: t.gen_tp.map(|(_, tp)| tp),
            gen_ep: t.gen_tp.and_then(|(dp, tp)| dp.then_some(tp)),
            attention_dp: t.gen_tp.is_some_and(|(dp, _)| dp),
            batch: t.batch,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_links_become_relative_to_the_report() {
        let rel = |b: &str, t: &str| {
            relative_path(Path::new(b), Path::new(t)).map(|p| p.display().to_string())
        };
        assert_eq!(
            rel("/o/runs/r1", "/o/runs/r1/bundles/t").as_deref(),
            Some("bundles/t")
        );
        assert_eq!(
            rel("/o/site", "/o/runs/r1/bundles/t").as_deref(),
            Some("../runs/r1/bundles/t")
        );
        assert_eq!(rel("/o/runs/r1", "/o/runs/r1").as_deref(), Some("."));
        let mut input = ReportInput::default();
        input.tests.push(TestReport {
            logs: Some("/o/runs/r1/bundles/t".into()),
            ..TestReport::default()
        });
        input.tests.push(TestReport {
            logs: Some("https://ci/logs/t".into()),
            ..TestReport::default()
        });
        input.relative_logs(Path::new("/o/runs/r1"));
        assert_eq!(input.tests[0].logs.as_deref(), Some("bundles/t"));
        assert_eq!(input.tests[1].logs.as_deref(), Some("https://ci/logs/t"));
    }

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&mut []), None);
    }

    #[test]
    fn name_tokens_give_topology_and_lengths() {
        let m = name_meta("disagg_perf_ds-r1_8k1k_ctx2_gen1_dep16_bs64_eplb288_mtp3");
        assert_eq!((m.isl, m.osl), (Some(8192), Some(1024)));
        assert_eq!(m.topology.label(), "ctx2 gen1(dep16) bs64");
    }
}
