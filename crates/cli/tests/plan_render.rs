//! End-to-end tests of `servebench plan` and `servebench render`: JSON schema, `--node-count`,
//! `--cluster` selection, bundles on disk and exit codes.
#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const CONFIG: &str = "examples/disaggregated/slurm/benchmark/config.yaml";

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/upstream")
        .join(rel)
}

/// A scratch directory with a profiles file, used as the working directory.
fn workdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sb-plan-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("servebench.yaml"),
        "default: local\nprofiles:\n  local: {scheduler: local}\n  lab: {scheduler: slurm, partition: main, gpu_request: gres, segment: false}\n",
    )
    .unwrap();
    dir
}

fn servebench(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_servebench"))
        .args(args)
        .current_dir(dir)
        .env_remove("GPU_TYPE")
        .env_remove("SERVEBENCH_CLUSTER")
        .env_remove("SLURM_PARTITION")
        .env("XDG_CONFIG_HOME", dir.join("no-user-config"))
        .output()
        .unwrap()
}

#[test]
fn plan_json_schema_and_profile() {
    let dir = workdir("json");
    let cfg = fixture(CONFIG);
    let out = servebench(
        &dir,
        &[
            "plan",
            "--cluster",
            "lab",
            "--format",
            "json",
            cfg.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let p = &doc[0];
    assert_eq!(p["schema_version"], 1);
    assert_eq!(p["total_nodes"], 3);
    assert_eq!(
        (p["ctx"]["nodes"].as_u64(), p["gen"]["nodes"].as_u64()),
        (Some(1), Some(2))
    );
    let args: Vec<&str> = p["sbatch_args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        args.contains(&"--gres=gpu:4") && !args.iter().any(|a| a.starts_with("--segment")),
        "{args:?}"
    );
    // The default (local) profile makes ports unique on the one host.
    let out = servebench(&dir, &["plan", "--format", "json", cfg.to_str().unwrap()]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ports: Vec<u64> = doc[0]["allocations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["port"].as_u64().unwrap())
        .collect();
    assert_eq!(ports, [8000, 8001]);
}

#[test]
fn node_count_and_unknown_cluster() {
    let dir = workdir("nodes");
    let cfg = fixture(CONFIG);
    let cfg = cfg.to_str().unwrap();
    assert!(
        servebench(&dir, &["plan", "--node-count", "3", cfg])
            .status
            .success()
    );
    let out = servebench(&dir, &["plan", "--node-count", "4", cfg]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("planned 3 node(s) (ctx 1 + gen 2, packed placement), but --node-count is 4"),
        "{err}"
    );
    let out = servebench(&dir, &["plan", "--cluster", "lba", cfg]);
    assert_eq!(out.status.code(), Some(2));
    let out = servebench(&dir, &["plan", "-v", cfg]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("GEN_0    port 8000  node0[0,1,2,3] node1[0,1,2,3]"),
        "{table}"
    );
    assert!(table.contains("ROUTER   port 8333  node0"), "{table}");
}

#[test]
fn render_writes_bundles_and_refuses_invalid_configs() {
    let dir = workdir("render");
    let out_dir = dir.join("bundles");
    let root = fixture("tests/scripts/perf-sanity/disaggregated");
    let out = servebench(
        &dir,
        &[
            "render",
            "--cluster",
            "lab",
            "-o",
            out_dir.to_str().unwrap(),
            root.to_str().unwrap(),
        ],
    );
    // One upstream config breaks the MTP token budget (SPEC 4 rule 2): not rendered, exit 1.
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not rendered") && err.contains("bundle(s) written"),
        "{err}"
    );
    let bundles: Vec<PathBuf> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(bundles.len() >= 9, "{bundles:?}");
    for b in &bundles {
        for f in [
            "launch.json",
            "plan.json",
            "job.sbatch",
            "commands.sh",
            "config.resolved.yaml",
        ] {
            assert!(b.join(f).is_file(), "{} lacks {f}", b.display());
        }
        let sbatch = std::fs::read_to_string(b.join("job.sbatch")).unwrap();
        assert!(
            sbatch.contains("#SBATCH --partition=main\n") && sbatch.contains("#SBATCH --gres=gpu:")
        );
    }
    // Re-rendering gives the same bytes.
    let first = std::fs::read(bundles[0].join("launch.json")).unwrap();
    servebench(
        &dir,
        &[
            "render",
            "--cluster",
            "lab",
            "-q",
            "-o",
            out_dir.to_str().unwrap(),
            root.to_str().unwrap(),
        ],
    );
    assert_eq!(
        std::fs::read(bundles[0].join("launch.json")).unwrap(),
        first
    );
    let _ = std::fs::remove_dir_all(&dir);
}
