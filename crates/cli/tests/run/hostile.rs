//! Hostile strings and planted secrets through a whole run (SPEC 16; `docs/reliability.md`): a
//! test named with quotes, `$(...)`, backticks, unicode and HTML, and a model name that adds a
//! newline and 4 KiB, go through render, the orchestrator, the client, the store and the report
//! without any shell interpreting them, and come out intact (HTML-escaped in the report). API
//! keys and credentials in the environment appear in no artifact of the run.

use super::*;

const NAME: &str = "q'uo\"te $(touch PWNED) `touch PWNED` ü—<img src=x onerror=alert(1)>";
const SECRETS: [(&str, &str); 4] = [
    ("OPENAI_API_KEY", "sk-PLANTED-openai-7f3a"),
    ("OPEN_SEARCH_DB_USERNAME", "PLANTED-os-user-19c2"),
    ("OPEN_SEARCH_DB_PASSWORD", "PLANTED-os-pass-55d0"),
    ("HF_TOKEN", "hf_PLANTED-token-a1b2"),
];

/// Every file under `dir` (recursively) with its bytes.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                out.push((p, bytes));
            }
        }
    }
    out
}

#[test]
fn hostile_names_come_out_intact_and_planted_secrets_nowhere() {
    hostile_run(&tempfile::tempdir().unwrap(), &[]);
}

/// The same through `sbatch` and the nodes of the real local cluster.
#[test]
#[ignore = "needs the slurmlab cluster (.ci/run starts it)"]
fn slurm_hostile_names_come_out_intact_and_planted_secrets_nowhere() {
    hostile_run(&super::slurm::slurm_dir(), &["--cluster", "slurmlab"]);
}

fn hostile_run(dir: &tempfile::TempDir, extra: &[&str]) {
    let root = dir.path().join("configs/disagg/perf");
    std::fs::create_dir_all(&root).unwrap();
    let base = std::fs::read_to_string(
        configs().join("disagg/perf/llama8b_1k1k_ctx1_gen1_tep1_bs64_eplb0_mtp0-sim.yaml"),
    )
    .unwrap()
    .replace("concurrency_list: '1 8 32'", "concurrency_list: '2'")
    .replace("multi_round: 2", "multi_round: 1")
    .replace("input_length: 1024", "input_length: 64")
    .replace("output_length: 1024", "output_length: 16");
    // A JSON string is a YAML double-quoted scalar: the newline stays a newline.
    let model = format!("m $(touch PWNED) `id` 'q' \"d\" ü\n{}", "x".repeat(4096));
    let base = base.replace(
        "model_name: llama-3.1-8b",
        &format!("model_name: {}", serde_json::to_string(&model).unwrap()),
    );
    std::fs::write(root.join(format!("{NAME}.yaml")), base).unwrap();
    let mut c = servebench(dir.path());
    c.arg("run")
        .arg(dir.path().join("configs"))
        .args(extra)
        .args(["--sim-time-scale", "0.1", "-q", "--output"])
        .arg(dir.path().join("out"));
    for (k, v) in SECRETS {
        c.env(k, v);
    }
    let out = capture(&mut c, Duration::from_secs(240));
    exits(&out, &[0]);
    let test_id = format!("disagg_perf_{NAME}");

    // Nothing was run by a shell: no PWNED file anywhere the run could write.
    let all = files(dir.path());
    assert!(
        !all.iter()
            .any(|(p, _)| p.file_name().is_some_and(|n| n == "PWNED")),
        "a shell ran a planted command"
    );
    // Intact in the results, the store and the report.
    let run = only_run(&dir.path().join("out"));
    let executor = journal(&run)[0]["executor"].clone();
    assert_eq!(executor, if extra.is_empty() { "local" } else { "slurm" });
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["cases"][0]["test_id"], test_id.as_str());
    assert_eq!(results["cases"][0]["verdict"], "pass");
    let history = servebench(dir.path())
        .args(["history", "--format", "json", "--output"])
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    let rows: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
    let rows = rows["measurements"].as_array().unwrap();
    assert!(!rows.is_empty());
    assert!(
        rows.iter().all(|r| r["test_id"] == test_id.as_str()),
        "{rows:?}"
    );
    assert!(
        rows.iter().all(|r| r["model"] == model.as_str()),
        "{:?}",
        rows[0]["model"]
    );
    // The servers and the client were handed the model name as one argument.
    let spec: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run.join("bundles").join(&test_id).join("launch.json")).unwrap(),
    )
    .unwrap();
    let argv = spec["servers"][0]["argv"].as_array().unwrap();
    assert!(argv.iter().any(|a| a == model.as_str()), "{argv:?}");
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(!html.contains("<img src=x"), "unescaped HTML in the report");
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
    // The planted secrets are in no file and no output.
    for (k, v) in SECRETS {
        for (p, bytes) in &all {
            assert!(
                !bytes.windows(v.len()).any(|w| w == v.as_bytes()),
                "{k} leaked into {}",
                p.display()
            );
        }
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains(v)
                && !String::from_utf8_lossy(&out.stderr).contains(v),
            "{k} leaked into the run's output"
        );
    }
}
