//! Planning and rendering throughput: every upstream fixture config, copied up to 10,000 test
//! cases, planned ([`servebench_plan::plan_case`]) and rendered ([`servebench_bundle::render_case`])
//! in memory. Loading is not measured here (see `benches/config_suite.sh`); writing bundles to
//! disk is measured end to end by `benches/plan_render.sh`.
//!
//! `cargo bench -p servebench-bundle --bench plan_render [-- N]`
#![allow(clippy::unwrap_used, reason = "a benchmark fails loudly")]

use std::path::{Path, PathBuf};
use std::time::Instant;

use servebench_bundle::{RenderOptions, render_case};
use servebench_config::load::{LoadOptions, load_str};
use servebench_plan::{PlanOptions, plan_case};

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "yaml") {
            out.push(p);
        }
    }
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/upstream");
    let mut files = Vec::new();
    yaml_files(&root, &mut files);
    files.sort();
    let mut seed = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(&root).unwrap();
        let text = std::fs::read_to_string(f).unwrap();
        seed.extend(load_str(rel, &text, &LoadOptions::default()).cases);
    }
    let cases: Vec<_> = seed.iter().cycle().take(n).cloned().collect();
    let plan_opts = PlanOptions::default();
    let render_opts = RenderOptions {
        skip_dataset_check: true,
        ..Default::default()
    };
    for round in 0..3 {
        let t0 = Instant::now();
        let plans: Vec<_> = cases
            .iter()
            .map(|c| plan_case(c, &plan_opts).unwrap())
            .collect();
        let t1 = Instant::now();
        let mut bytes = 0usize;
        for (c, p) in cases.iter().zip(&plans) {
            let b = render_case(c, p, &render_opts).unwrap();
            bytes += b.files.iter().map(|f| f.contents.len()).sum::<usize>();
        }
        let t2 = Instant::now();
        println!(
            "round {round}: {n} cases ({} distinct): plan {:.1} ms ({:.2} us/case), render {:.1} ms ({:.1} us/case, {:.1} MB)",
            seed.len(),
            (t1 - t0).as_secs_f64() * 1e3,
            (t1 - t0).as_secs_f64() * 1e6 / n as f64,
            (t2 - t1).as_secs_f64() * 1e3,
            (t2 - t1).as_secs_f64() * 1e6 / n as f64,
            bytes as f64 / 1e6
        );
    }
}
