//! `servebench list` over test-db YAML lists, unified suites, waives and CI shards, against every
//! upstream list in the fixtures (golden `--summary` output per list).
#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use std::path::{Path, PathBuf};
use std::process::Command;

fn upstream() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/upstream")
}

const TEST_DB: &str = "tests/integration/test_lists/test-db";

/// Runs `servebench list` in the fixtures' root (so list names in the output are relative) over
/// all fixture configs; returns (exit code, stdout, stderr).
fn list(args: &[&str]) -> (i32, String, String) {
    list_in(".", args)
}

/// [`list`] over the configs under `root` only.
fn list_in(root: &str, args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_servebench"))
        .current_dir(upstream())
        .arg("list")
        .arg(root)
        .args(args)
        .env_remove("GPU_TYPE")
        .env_remove("SERVEBENCH_CLUSTER")
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The system each upstream test-db file's post-merge block is written for (its GPU, total GPU
/// count, CPU and OS), as a CI stage would describe it.
fn post_merge_system(file: &str) -> Vec<String> {
    let gpu_count = [
        ("l0_b200_multi_gpus_perf_sanity", 8),
        (
            "l0_b200_multi_nodes_perf_sanity_ctx1_node1_gpu4_gen1_node1_gpu8",
            16,
        ),
        ("l0_gb200_multi_gpus_perf_sanity", 4),
        ("l0_gb200_multi_nodes_disagg_perf_sanity_2ctx_4gen", 24),
        (
            "l0_gb200_multi_nodes_perf_sanity_ctx1_node1_gpu1_gen1_node1_gpu2",
            8,
        ),
        (
            "l0_gb200_multi_nodes_perf_sanity_ctx1_node1_gpu1_gen1_node1_gpu4",
            8,
        ),
        (
            "l0_gb200_multi_nodes_perf_sanity_ctx1_node2_gpu8_gen1_node8_gpu32",
            40,
        ),
        (
            "l0_gb200_multi_nodes_perf_sanity_ctx2_node1_gpu4_gen1_node4_gpu16",
            24,
        ),
        ("l0_gb200_multi_nodes_perf_sanity_gen1_node2_gpu8", 8),
        ("l0_gb200_multi_nodes_perf_sanity_node2_gpu8", 8),
    ];
    let count = gpu_count
        .iter()
        .find(|(f, _)| *f == file)
        .map(|(_, n)| *n)
        .unwrap();
    let (gpu, cpu) = if file.starts_with("l0_gb200") {
        ("GB200", "aarch64")
    } else {
        ("B200", "x86_64")
    };
    [
        format!("gpu={gpu}"),
        format!("cpu={cpu}"),
        format!("system_gpu_count={count}"),
        "stage=post_merge".into(),
        "backend=pytorch".into(),
        "linux_distribution_name=ubuntu24.04".into(),
        "orchestrator=mpi".into(),
    ]
    .into_iter()
    .flat_map(|p| ["--system".to_owned(), p])
    .collect()
}

fn fixture_lists() -> Vec<String> {
    let mut out = Vec::new();
    for dir in [
        "tests/integration/defs/perf/disagg/testlist",
        "tests/integration/test_lists/qa",
        TEST_DB,
    ] {
        let mut names: Vec<String> = std::fs::read_dir(upstream().join(dir))
            .unwrap()
            .map(|e| format!("{dir}/{}", e.unwrap().file_name().to_str().unwrap()))
            .collect();
        names.sort();
        out.extend(names);
    }
    out
}

#[test]
fn summary_of_every_fixture_list_is_golden() {
    let lists = fixture_lists();
    assert_eq!(lists.len(), 17, "{lists:?}");
    for rel in &lists {
        let stem = Path::new(rel).file_stem().unwrap().to_str().unwrap();
        let mut args = vec!["--testlist".to_owned(), rel.clone(), "--summary".to_owned()];
        if rel.starts_with(TEST_DB) {
            args.extend(post_merge_system(stem));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, out, _) = list(&args);
        // A line naming a config not in the tree fails the summary unless --allow-missing.
        let missing = out
            .lines()
            .any(|l| l.starts_with("  line ") && !l.contains("[block does not apply]"));
        assert_eq!(code, if missing { 2 } else { 0 }, "{rel}\n{out}");
        if rel.ends_with("llm_perf_multinode.txt") {
            let mut allowed = args.clone();
            allowed.push("--allow-missing");
            let (code, allowed_out, _) = list(&allowed);
            assert_eq!((code, &allowed_out), (0, &out), "{rel}");
        }
        insta::assert_snapshot!(
            format!("summary_{stem}"),
            format!("$ servebench list . {}\nexit {code}\n{out}", args.join(" "))
        );
    }
}

#[test]
fn the_issue_example_shows_which_blocks_apply_and_why_not() {
    let file = format!("{TEST_DB}/l0_gb200_multi_gpus_perf_sanity.yml");
    let (code, out, err) = list(&[
        "--testlist",
        &file,
        "--system",
        "gpu=GB200",
        "--system",
        "stage=post_merge",
    ]);
    // Neither block applies (the pre-merge one is for another stage; both need more keys), so
    // nothing is selected and nothing fails: no "`ranges:` matches no test" errors.
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("error"), "{err}");
    assert!(out.contains("system: gpu=GB200 stage=post_merge"), "{out}");
    assert!(
        out.contains("  block 1 (line 3): does not apply: stage is `post_merge`, the block wants `pre_merge`; `backend` is not in the system description (set it with --system backend=...)"),
        "{out}"
    );
    assert!(
        out.contains(
            "  block 2 (line 31): does not apply: `backend` is not in the system description"
        ),
        "{out}"
    );
}

fn node2(extra: &[&str]) -> (i32, String, String) {
    let file = format!("{TEST_DB}/l0_gb200_multi_nodes_perf_sanity_node2_gpu8.yml");
    let mut args = vec![
        "--testlist",
        &file,
        "--testlist",
        "tests/integration/test_lists/qa/llm_perf_multinode.txt",
        "--allow-missing",
        "--system",
        "gpu=GB200",
        "--system",
        "stage=post_merge",
        "--system",
        "backend=pytorch",
        "--system",
        "system_gpu_count=8",
    ];
    args.extend(extra);
    // The configs these lists resolve to are all under tests/scripts.
    list_in("tests/scripts", &args)
}

fn test_ids(out: &str) -> Vec<String> {
    out.lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

#[test]
fn mode_filters_the_unified_suite() {
    let (_, all, _) = node2(&["--summary"]);
    assert!(
        all.contains("by mode: single-agg (0), multi-agg (3), disagg (3)"),
        "{all}"
    );
    let (code, out, _) = node2(&["--summary", "--mode", "multi-agg"]);
    assert_eq!(code, 0);
    assert!(out.contains("3 test(s) selected"), "{out}");
    assert!(
        out.contains("by mode: single-agg (0), multi-agg (3), disagg (0)"),
        "{out}"
    );
    assert!(
        out.contains("3 test(s) of other modes hidden (--mode)"),
        "{out}"
    );
    let (code, _, err) = node2(&["--mode", "agg"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn groups_are_disjoint_and_cover_the_selection_for_any_n() {
    let (_, whole, _) = node2(&["--splits", "1", "--show-groups"]);
    let mut everything = test_ids(&whole);
    everything.sort();
    assert_eq!(everything.len(), 6, "{whole}");
    // Fewer groups than tests, and more (the extra groups are empty).
    for n in [2usize, 9] {
        let ns = n.to_string();
        let (code, shown, _) = node2(&["--splits", &ns, "--show-groups"]);
        assert_eq!(code, 0);
        assert_eq!(
            shown.matches("\ngroup ").count() + usize::from(shown.starts_with("group ")),
            n,
            "{shown}"
        );
        let mut union = Vec::new();
        for g in 1..=n {
            let gs = g.to_string();
            let (code, out, err) = node2(&["--splits", &ns, "--group", &gs, "--pretty"]);
            assert_eq!(code, 0, "{err}");
            union.extend(
                out.lines()
                    .filter_map(|l| l.split("run      ").nth(1))
                    .filter_map(|l| l.split_whitespace().nth(1).map(str::to_owned)),
            );
        }
        union.sort();
        assert_eq!(union, everything, "--splits {n}: disjoint and complete");
    }
    let (code, _, err) = node2(&["--splits", "2", "--group", "3"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--group 3 is out of range: --splits 2 has groups 1 to 2"),
        "{err}"
    );
    let (code, _, _) = node2(&["--group", "1"]);
    assert_eq!(code, 2, "--group needs --splits");
}

#[test]
fn waives_show_as_skipped_with_their_reason() {
    let dir = std::env::temp_dir().join(format!("sb-waives-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let waives = dir.join("waives.txt");
    std::fs::write(
        &waives,
        "accuracy/test_llm_api.py::TestX::test_y SKIP (https://nvbugs/1)\n\
         perf/test_perf_sanity.py::test_e2e[aggr_upload-deepseek_r1_fp4_v2_2_nodes_grace_blackwell-r1_fp4_v2_dep8_mtp1_8k1k] SKIP (https://nvbugs/5555555)\n",
    )
    .unwrap();
    let w = waives.to_str().unwrap();
    let (code, out, err) = node2(&["--waives", w, "--pretty"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("skip     multi-agg  agg_perf-sanity_deepseek_r1_fp4_v2_2_nodes_grace_blackwell-r1_fp4_v2_dep8_mtp1_8k1k-con1024_iter10_8k1k  SKIP (https://nvbugs/5555555) [waived]"),
        "{out}"
    );
    let (_, out, _) = node2(&["--waives", w, "--summary"]);
    assert!(
        out.contains("markers: SKIP (waived) (1), TIMEOUT (2)"),
        "{out}"
    );
    assert!(
        out.contains("1 skipped (0 in blocks that do not apply, 0 SKIP, 1 waived)"),
        "{out}"
    );
    std::fs::write(&waives, "disagg_perf_x\n").unwrap();
    let (code, _, err) = node2(&["--waives", w]);
    assert_eq!(code, 2);
    assert!(err.contains("a waive needs `SKIP (reason)`"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn json_carries_modes_markers_blocks_and_groups() {
    let (code, out, err) = node2(&["--format", "json", "--splits", "4"]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let tests = doc["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 6);
    let agg = &tests[0];
    assert_eq!(agg["suite_mode"], "multi-agg");
    assert_eq!(agg["listed"]["marker"], "TIMEOUT");
    assert_eq!(agg["listed"]["timeout_s"], 5400);
    assert_eq!(doc["lists"][0]["blocks"][0]["applies"], true);
    assert_eq!(doc["lists"][0]["resolved"], 3);
    assert_eq!(doc["lists"][0]["missing"], 4);
    assert_eq!(doc["groups"]["basis"], "planned_gpu_hours");
    let mut grouped: Vec<String> = doc["groups"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["tests"].as_array().unwrap().clone())
        .map(|t| t.as_str().unwrap().split(' ').next().unwrap().to_owned())
        .collect();
    grouped.sort();
    let mut ids: Vec<String> = tests
        .iter()
        .map(|t| t["test_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    assert_eq!(grouped, ids);
}
