//! End-to-end tests of the `servebench` binary: output, JSON shape and exit codes.
#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

fn upstream(rel: &str) -> PathBuf {
    shared().join("fixtures/upstream").join(rel)
}

const PERF: &str = "tests/integration/defs/perf/disagg/test_configs/disagg/perf";

fn servebench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_servebench"))
        .args(args)
        .env_remove("GPU_TYPE")
        .env_remove("SLURM_PARTITION")
        .output()
        .unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sb-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("disagg/perf")).unwrap();
    dir
}

#[test]
fn validate_exit_codes() {
    let all = upstream("").display().to_string();
    // Three upstream configs are genuinely invalid.
    let o = servebench(&["validate", &all, "-q"]);
    let (out, _) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.starts_with("FAILED: 46 file(s), 53 test(s): 3 error(s)"),
        "{out}"
    );
    // A clean one passes, and fails under --strict only if it has warnings.
    let clean = upstream(
        "tests/integration/defs/perf/disagg/test_configs/disagg/perf-sanity/gb200-deepseek-r1-fp4_1k1k_ctx1_dep4_gen1_dep8_eplb0_mtp0_ccb-UCX.yaml",
    );
    assert_eq!(
        servebench(&["validate", clean.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        servebench(&["validate", "--strict", clean.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    let warned = upstream(&format!(
        "{PERF}/deepseek-r1-fp4_1k1k_ctx1_gen1_dep32_bs32_eplb0_mtp0_ccb-NIXL.yaml"
    ));
    assert_eq!(
        servebench(&["validate", warned.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        servebench(&["validate", "--strict", warned.to_str().unwrap()])
            .status
            .code(),
        Some(1)
    );
    // Placeholders are errors right before submission.
    assert_eq!(
        servebench(&["validate", "--submission", clean.to_str().unwrap()])
            .status
            .code(),
        Some(1)
    );
    // Usage errors.
    assert_eq!(
        servebench(&["validate", "/nonexistent/dir"]).status.code(),
        Some(2)
    );
    let o = servebench(&["validate", &all, "-k", "deepseek and ("]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("expected a word"), "{}", text(&o).1);
    assert_eq!(servebench(&["validate", "--bogus"]).status.code(), Some(2));
    assert_eq!(servebench(&["--help"]).status.code(), Some(0));
}

#[test]
fn typo_diagnostic_is_exact() {
    let dir = tempdir("typo");
    let src = std::fs::read_to_string(upstream(&format!(
        "{PERF}/deepseek-r1-fp4_1k1k_ctx1_gen1_dep32_bs32_eplb0_mtp0_ccb-NIXL.yaml"
    )))
    .unwrap();
    std::fs::write(
        dir.join("disagg/perf/typo.yaml"),
        src.replace("concurrency_list", "concurency_list")
            .replace("max_batch_size: 32\n", "max_batch_size: many\n"),
    )
    .unwrap();
    let o = servebench(&["validate", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let (out, _) = text(&o);
    let out = out.replace(&dir.display().to_string(), "<dir>");
    insta::assert_snapshot!(out);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn validate_json_is_machine_readable() {
    let o = servebench(&[
        "validate",
        upstream("tests/scripts/perf-sanity").to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["ok"], false);
    let bad: Vec<_> = doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "error")
        .collect();
    assert_eq!(bad.len(), 1);
    let d = &bad[0]["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["severity"] == "error")
        .unwrap();
    assert_eq!(d["rule"], "mtp-token-budget");
    assert_eq!(d["line"], 51);
    assert_eq!(d["field"], "worker_config.gen.max_num_tokens");
}

#[test]
fn list_groups_filters_and_summarises() {
    let root = upstream("tests/integration/defs/perf/disagg/test_configs");
    let o = servebench(&["list", root.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let (out, _) = text(&o);
    assert!(out.starts_with("disagg/perf (14)\n"), "{out}");
    assert!(
        out.contains("wideep/accuracy (2)\n  kimi-k2-thinking-fp4 (2)\n"),
        "{out}"
    );
    assert!(out.contains("\n25 test(s) in 25 file(s)\n"), "{out}");
    assert!(out.contains("test types: disagg/perf (14), disagg/perf-sanity (1), disagg/stress (1), wideep/accuracy (2), wideep/perf (7)"), "{out}");
    // -v shows the topology; --show-metrics the metrics.
    let (out, _) = text(&servebench(&[
        "list",
        root.to_str().unwrap(),
        "-v",
        "--show-metrics",
        "-k",
        "kimi and UCX",
    ]));
    assert!(
        out.contains("ctx 3xdep4  gen 1xdep16  bs=1024 adp=on nodes=7 gpus=28"),
        "{out}"
    );
    assert!(
        out.contains("metrics: flexible-extract, strict-match from 7_accuracy_eval_*.log"),
        "{out}"
    );
    assert!(out.contains("1 test(s) in 25 file(s)"), "{out}");
    // GPU filtering folds GB200_* and hides configs for other GPUs unless asked.
    let (out, _) = text(&servebench(&[
        "list",
        root.to_str().unwrap(),
        "--gpu-type",
        "H100",
    ]));
    assert!(out.contains("0 test(s)"), "{out}");
    let (out, _) = text(&servebench(&[
        "list",
        root.to_str().unwrap(),
        "--gpu-type",
        "GB200_LYRIS",
        "--category",
        "accuracy",
    ]));
    assert!(out.contains("2 test(s)"), "{out}");
    let (out, _) = text(&servebench(&[
        "list",
        root.to_str().unwrap(),
        "--gpu-type",
        "H100",
        "--show-all-gpus",
    ]));
    assert!(out.contains("25 test(s)"), "{out}");
}

#[test]
fn list_json_has_a_stable_shape() {
    let root = upstream("tests/scripts/perf-sanity/aggregated");
    let o = servebench(&["list", root.to_str().unwrap(), "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["schema_version"], 1);
    let tests = doc["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 10);
    let t = &tests[0];
    for key in [
        "test_id",
        "display_name",
        "test_type",
        "category",
        "model",
        "benchmark_type",
        "fingerprint",
        "concurrency_list",
        "gen",
        "nodes",
        "gpus",
    ] {
        assert!(t.get(key).is_some(), "missing {key}");
    }
    assert_eq!(t["test_type"], "agg");
    assert_eq!(doc["summary"]["tests"], 10);
}

#[test]
fn testlists_select_and_unknown_lines_are_usage_errors() {
    let root = upstream("");
    let list = upstream("tests/integration/defs/perf/disagg/testlist/wideep.txt");
    let o = servebench(&[
        "list",
        root.to_str().unwrap(),
        "--testlist",
        list.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let (_, err) = text(&o);
    assert!(err.contains("wideep.txt:1:"), "{err}");
    assert!(err.contains("did you mean"), "{err}");
    let dir = tempdir("list");
    let good = dir.join("good.txt");
    std::fs::write(&good, "# comment\ntest_disagg.py::TestDisaggBenchmark::test_benchmark[wideep_perf_deepseek-r1-fp4_1k1k_ctx2_gen1_dep48_bs16_eplb288_mtp3_ccb-DEFAULT] TIMEOUT (90)\ndisagg/stress/deepseek-r1-fp4_1k1k_ctx2_gen1_dep48_bs16_eplb288_mtp3_ccb-DEFAULT\n").unwrap();
    let o = servebench(&[
        "list",
        root.to_str().unwrap(),
        "--testlist",
        good.to_str().unwrap(),
    ]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(out.contains("2 test(s)"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn show_resolved_explains_every_value_not_from_the_file() {
    let cfg = upstream(&format!(
        "{PERF}/deepseek-r1-fp4_1k1k_ctx1_gen1_dep32_bs32_eplb0_mtp0_ccb-NIXL.yaml"
    ));
    let o = Command::new(env!("CARGO_BIN_EXE_servebench"))
        .args([
            "show",
            cfg.to_str().unwrap(),
            "--resolved",
            "--set",
            "benchmark.concurrency_list=512 1024",
        ])
        .env("SLURM_PARTITION", "batch")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let (out, _) = text(&o);
    assert!(
        out.contains("  partition: batch  # <- env SLURM_PARTITION\n"),
        "{out}"
    );
    assert!(
        out.contains(
            "  concurrency_list: 512 1024  # <- command line --set benchmark.concurrency_list\n"
        ),
        "{out}"
    );
    assert!(out.contains("  repeats: 1  # <- default\n"), "{out}");
    assert!(
        out.contains("#   benchmark.concurrency_scope: default"),
        "{out}"
    );
    // The plain view summarises the case.
    let (out, _) = text(&servebench(&["show", cfg.to_str().unwrap()]));
    assert!(out.contains("test id:        disagg_perf_deepseek-r1-fp4_1k1k_ctx1_gen1_dep32_bs32_eplb0_mtp0_ccb-NIXL"), "{out}");
    assert!(out.contains("benchmark type: 1k1k"), "{out}");
    // JSON carries provenance.
    let o = servebench(&["show", cfg.to_str().unwrap(), "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        doc["cases"][0]["config"]["provenance"]["benchmark.concurrency_scope"]["kind"],
        "default"
    );
    assert_eq!(
        servebench(&["show", "/nonexistent.yaml"]).status.code(),
        Some(2)
    );
}

#[test]
fn show_takes_the_cluster_profile_layer() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cfg =
        repo.join("test_configs/disagg/perf/llama8b_1k1k_ctx1_gen1_tep1_bs64_eplb0_mtp0-sim.yaml");
    let run = |cluster: &str| {
        Command::new(env!("CARGO_BIN_EXE_servebench"))
            .current_dir(&repo)
            .args([
                "show",
                cfg.to_str().unwrap(),
                "--resolved",
                "--cluster",
                cluster,
            ])
            .env_remove("SERVEBENCH_CLUSTER")
            .output()
            .unwrap()
    };
    let o = run("slurmlab");
    assert_eq!(o.status.code(), Some(0));
    let (out, _) = text(&o);
    assert!(
        out.contains("gpus_per_node: 4  # <- cluster profile slurmlab\n"),
        "{out}"
    );
    let o = run("nope");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).1.contains("no cluster profile `nope`"),
        "{}",
        text(&o).1
    );
}
