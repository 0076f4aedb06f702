//! SLURM: the same binary through the real local cluster (`../shared/slurm/cluster.sh up 4`).
//! They are `#[ignore]`d so a plain `cargo test` on a machine without the cluster reports them
//! as ignored instead of passing vacuously; `.ci/run` starts the cluster and runs them with
//! `cargo test -p servebench-cli --test run -- --ignored --test-threads=1 slurm_`.

use super::*;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A work directory for SLURM tests: jobs run in the node namespaces, which share the file
/// system; the cluster profile comes from the repository's `servebench.yaml`.
pub(super) fn slurm_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo().join("servebench.yaml"),
        dir.path().join("servebench.yaml"),
    )
    .unwrap();
    dir
}

pub(super) fn slurm_cmd(dir: &Path, args: &[&str]) -> Command {
    let mut c = servebench(dir);
    c.args(args);
    c
}

pub(super) fn text(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Jobs of `ids` still known to squeue (pending or running).
pub(super) fn in_queue(ids: &[String]) -> Vec<String> {
    if ids.is_empty() {
        return Vec::new();
    }
    text("squeue", &["-h", "-j", &ids.join(","), "-o", "%i|%T"])
        .lines()
        .filter(|l| l.contains("PENDING") || l.contains("RUNNING") || l.contains("COMPLETING"))
        .map(|l| l.split('|').next().unwrap().to_string())
        .collect()
}

/// sacct `JobID|State|NNodes|NodeList` of one job.
fn sacct(id: &str) -> Vec<String> {
    text(
        "sacct",
        &[
            "-n",
            "-P",
            "-X",
            "-j",
            id,
            "-o",
            "JobID,State,NNodes,NodeList",
        ],
    )
    .lines()
    .next()
    .unwrap_or_default()
    .split('|')
    .map(str::to_string)
    .collect()
}

/// Renders the small config for the slurmlab profile, with extra `--set`s.
fn slurm_render(dir: &Path, sets: &[&str], output_len: u32, scale: &str) -> PathBuf {
    let mut c = servebench(dir);
    c.args(["render", "--cluster", "slurmlab"]);
    small(&mut c, "2 4", output_len);
    for s in sets {
        c.args(["--set", s]);
    }
    let out = c
        .args(["--sim-time-scale", scale, "-q", "-o"])
        .arg(dir.join("bundles"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let b = std::fs::read_dir(dir.join("bundles"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    b.canonicalize().unwrap()
}

fn run_slurm_bundles(dir: &Path, extra: &[&str], limit: Duration) -> (Output, PathBuf) {
    let out_dir = dir.join("out");
    let mut c = slurm_cmd(dir, &["run", "--executor", "slurm", "--bundles"]);
    c.arg(dir.join("bundles"))
        .arg("--output")
        .arg(&out_dir)
        .args(extra);
    let out = capture(&mut c, limit);
    assert!(
        out_dir.join("runs").is_dir(),
        "no run directory: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = only_run(&out_dir);
    (out, run)
}

fn node_ip(node: &str) -> String {
    let n: u32 = node.trim_start_matches("node").parse().unwrap();
    format!("10.200.0.{}", 10 + n)
}

#[test]
#[ignore = "needs the slurmlab cluster (.ci/run starts it)"]
fn slurm_multi_node_suite_passes_on_planned_nodes_and_ports() {
    let dir = slurm_dir();
    // 1 ctx server of TP4 + 2 gen servers of TP4 on 4-GPU nodes: 3 nodes.
    let mut c = slurm_cmd(dir.path(), &["run", "--cluster", "slurmlab"]);
    small(&mut c, "2 4", 32);
    c.args(["--set", "hardware.num_gen_servers=2"])
        .args(["--set", "worker_config.gen.tensor_parallel_size=4"])
        .args(["--set", "worker_config.ctx.tensor_parallel_size=4"])
        .args(["--sim-time-scale", "0.1", "--output"])
        .arg(dir.path().join("out"));
    let out = capture(&mut c, Duration::from_secs(180));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{stderr}");
    let run = only_run(&dir.path().join("out"));
    let ids = submitted_ids(&run);
    assert_eq!(ids.len(), 1);
    let acct = sacct(&ids[0]);
    assert_eq!(
        (acct[1].as_str(), acct[2].as_str()),
        ("COMPLETED", "3"),
        "{acct:?}"
    );
    let bundle = std::fs::read_dir(run.join("bundles"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    // Servers listen on the planned node and port (the router config lists them).
    let router = std::fs::read_to_string(bundle.join("server_config.yaml")).unwrap();
    let urls: Vec<&str> = router
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- "))
        .collect();
    assert_eq!(urls.len(), 3, "{router}");
    for (url, log) in urls.iter().zip([
        "3_output_CTX_0.log",
        "3_output_GEN_0.log",
        "3_output_GEN_1.log",
    ]) {
        let (node, port) = url.split_once(':').unwrap();
        let text = std::fs::read_to_string(bundle.join("logs").join(log)).unwrap();
        let want = format!("running on http://{}:{port}", node_ip(node));
        assert!(text.contains(&want), "{log} lacks `{want}`");
    }
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("results.json")).unwrap()).unwrap();
    let points = results.to_string();
    for c in ["\"concurrency\":4", "\"concurrency\":8"] {
        assert!(points.contains(c), "no result for {c}: {points}");
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["jobs"][0]["verdict"], "succeeded");
}

#[test]
#[ignore = "needs the slurmlab cluster (.ci/run starts it)"]
fn slurm_never_healthy_and_crash_fail_with_reasons() {
    let dir = slurm_dir();
    let healthy = slurm_render(dir.path(), &[], 256, "0.2");
    // A second bundle: never healthy, with a short health timeout.
    let sick = dir.path().join("bundles/sick");
    let crash = dir.path().join("bundles/crash");
    for (copy, fault) in [(&sick, "never-healthy"), (&crash, "crash-after=2")] {
        let status = Command::new("cp")
            .arg("-r")
            .arg(&healthy)
            .arg(copy)
            .status()
            .unwrap();
        assert!(status.success());
        add_server_args(copy, "GEN_0", &["--fault", fault]);
        let name = copy.file_name().unwrap().to_str().unwrap().to_string();
        edit_launch(copy, |v| {
            v["test_id"] = name.into();
            for s in v["servers"].as_array_mut().unwrap() {
                s["health"]["timeout_s"] = 8.into();
            }
        });
    }
    std::fs::remove_dir_all(&healthy).unwrap();
    let (out, run) = run_slurm_bundles(dir.path(), &[], Duration::from_secs(180));
    exits(&out, &[1]);
    let j = journal(&run);
    let fin = |id: &str| {
        j.iter()
            .find(|r| r["type"] == "finished" && r["test_id"] == id)
            .unwrap()
            .clone()
    };
    let s = fin("sick");
    assert_eq!(s["verdict"], "infra_failed");
    assert!(
        s["reason"]
            .as_str()
            .unwrap()
            .contains("health timeout: GEN_0"),
        "{s}"
    );
    assert_eq!(s["scheduler_state"], "FAILED");
    let c = fin("crash");
    assert!(c["reason"].as_str().unwrap().contains("GEN_0"), "{c}");
    assert!(in_queue(&submitted_ids(&run)).is_empty());
    assert_no_leftovers(dir.path());
}

/// Waits until the run's journal shows `n` RUNNING jobs.
pub(super) fn wait_running(out_dir: &Path, n: usize, limit: Duration) -> PathBuf {
    let mut run = PathBuf::new();
    wait_for("running jobs", limit, || {
        let Ok(mut rd) = std::fs::read_dir(out_dir.join("runs")) else {
            return false;
        };
        let Some(Ok(e)) = rd.next() else { return false };
        run = e.path();
        std::fs::read_to_string(run.join("journal.jsonl"))
            .is_ok_and(|j| j.matches("\"state\":\"RUNNING\"").count() >= n)
    });
    run
}

#[test]
#[ignore = "needs the slurmlab cluster (.ci/run starts it)"]
fn slurm_sigint_and_sigterm_on_run_leave_no_job() {
    for sig in ["-INT", "-TERM"] {
        let dir = slurm_dir();
        let mut c = slurm_cmd(dir.path(), &["run", "--cluster", "slurmlab"]);
        small(&mut c, "4", 1024);
        c.args(["--sim-time-scale", "1", "--output"])
            .arg(dir.path().join("out"));
        let child = c
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let run = wait_running(&dir.path().join("out"), 1, Duration::from_secs(60));
        signal(child.id(), sig);
        let out = wait_output(child, Duration::from_secs(120));
        exits(&out, &[130]);
        let ids = submitted_ids(&run);
        assert!(in_queue(&ids).is_empty(), "jobs left in squeue: {ids:?}");
        let j = journal(&run);
        assert!(j.iter().any(|r| r["type"] == "cancel_requested"));
        assert_eq!(
            j.iter().find(|r| r["type"] == "finished").unwrap()["verdict"],
            "cancelled"
        );
        assert!(sacct(&ids[0])[1].starts_with("CANCELLED"));
        assert_no_leftovers(dir.path());
    }
}

#[test]
#[ignore = "needs the slurmlab cluster (.ci/run starts it)"]
fn slurm_sigkill_then_resume_submits_nothing_twice() {
    let dir = slurm_dir();
    let first = slurm_render(dir.path(), &[], 128, "0.2");
    for i in 1..3 {
        let copy = dir.path().join(format!("bundles/copy{i}"));
        assert!(
            Command::new("cp")
                .arg("-r")
                .arg(&first)
                .arg(&copy)
                .status()
                .unwrap()
                .success()
        );
        edit_launch(&copy, |v| v["test_id"] = format!("copy{i}").into());
    }
    let out_dir = dir.path().join("out");
    let mut c = slurm_cmd(
        dir.path(),
        &[
            "run",
            "--executor",
            "slurm",
            "--max-parallel",
            "2",
            "--bundles",
        ],
    );
    c.arg(dir.path().join("bundles"))
        .arg("--output")
        .arg(&out_dir);
    let mut child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let run = wait_running(&out_dir, 1, Duration::from_secs(60));
    child.kill().unwrap();
    child.wait().unwrap();
    let out = capture(
        slurm_cmd(dir.path(), &["resume"]).arg(&run),
        Duration::from_secs(240),
    );
    exits(&out, &[0, 1]);
    let ids = submitted_ids(&run);
    assert_eq!(ids.len(), 3, "{ids:?}");
    let j = journal(&run);
    for t in ["copy1", "copy2"] {
        assert_eq!(
            j.iter()
                .filter(|r| r["type"] == "submitted" && r["test_id"] == t)
                .count(),
            1
        );
    }
    // sacct agrees: three jobs, each COMPLETED.
    for id in &ids {
        assert_eq!(sacct(id)[1], "COMPLETED", "{id}");
    }
    assert!(in_queue(&ids).is_empty());
}

/// A one-node, one-task simulator job (an aggregated server and the client): many fit on the
/// cluster at once. `port` must differ between jobs that may share a node.
pub(super) fn tiny_bundle(
    root: &Path,
    name: &str,
    port: u16,
    output_len: u32,
    scale: &str,
) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    let node = "<node0_placeholder>";
    let srun = serde_json::json!([
        "srun",
        "-l",
        format!("--nodelist={node}"),
        "--nodes=1",
        "--ntasks=1",
        "--ntasks-per-node=1",
        "--overlap"
    ]);
    let p = port.to_string();
    let spec = serde_json::json!({
        "schema_version": 2, "test_id": name, "engine": "sim", "client": "builtin",
        "scheduler": "slurm", "log_dir": "logs", "status_file": "logs/status.jsonl",
        "nodes": [node], "templates": {}, "setup": [],
        "servers": [{
            "name": "AGG_0", "role": "agg",
            "argv": ["servebench", "sim", "serve", "--role", "agg", "--host", node, "--port", p,
                     "--model", "m", "--time-scale", scale],
            "env": {}, "log": "3_output_AGG_0.log",
            "placement": {"nodes": [node], "ntasks": 1, "ntasks_per_node": 1, "gpus": [[]],
                          "mpi": null, "container": false, "srun_prefix": srun},
            "host": node, "port": port,
            "health": {"url": format!("http://{node}:{port}/health"), "expect_status": 200,
                       "timeout_s": 120, "interval_s": 1}
        }],
        "router": null,
        "benchmark": [{
            "listed": 1, "concurrency": 1, "num_prompts": 2, "repeat": 0,
            "step": {
                "name": "bench_c1_r0",
                "argv": ["servebench", "bench", "--host", node, "--port", p,
                         "--endpoint", "/v1/completions", "--backend", "openai", "--model", "m",
                         "--dataset-name", "random", "--random-input-len", "8",
                         "--random-output-len", output_len.to_string(), "--random-range-ratio", "0",
                         "--random-ids", "--num-prompts", "2", "--max-concurrency", "1",
                         "--ignore-eos", "--save-result", "--result-dir", "logs/concurrency_1",
                         "--result-filename", "result.json"],
                "env": {}, "log": "6_bench.log", "output_dir": "logs/concurrency_1",
                "srun_prefix": srun
            },
            "result_file": "logs/concurrency_1/result.json",
            "done_line": "Benchmark with concurrency 1 done",
            "expect": {"num_prompts": 2, "expected_output_tokens": 2 * output_len,
                       "max_failed_pct": 0.0}
        }],
        "accuracy": [], "fatal_patterns": [],
        "teardown": {"signal": "TERM", "grace_s": 10, "order": ["AGG_0"]},
        "done_marker": "8_done_{jobid}.txt", "warnings": [],
        "gates": {"metrics": [], "accuracy": []},
        "gpus": {"total": 0, "ctx": 0, "gen": 0}
    });
    std::fs::write(
        dir.join("launch.json"),
        serde_json::to_string_pretty(&spec).unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.join("job.sbatch"),
        format!(
            "#!/bin/bash\n#SBATCH --job-name={name}\n#SBATCH --nodes=1\n#SBATCH --ntasks=1\n\
             #SBATCH --output=logs/slurm-%j.out\n#SBATCH --error=logs/slurm-%j.err\n\
             set -euo pipefail\nexec \"${{SERVEBENCH_BIN:-servebench}}\" job exec .\n"
        ),
    )
    .unwrap();
    dir
}

/// Wall time of a run of tiny jobs (`long` marks the slow ones) with a window of `window`.
fn timed_run(
    jobs: &[bool],
    window: usize,
    lazy: bool,
    scale: &str,
) -> (Duration, serde_json::Value) {
    let dir = slurm_dir();
    let root = dir.path().join("bundles");
    for (i, long) in jobs.iter().enumerate() {
        let out_len = if *long { 20_000 } else { 8 };
        tiny_bundle(
            &root,
            &format!("t{i:03}"),
            21000 + u16::try_from(i).unwrap(),
            out_len,
            scale,
        );
    }
    let w = window.to_string();
    let mut extra = vec!["--max-parallel", w.as_str(), "-q"];
    if lazy {
        extra.push("--lazy-batches");
    }
    let start = Instant::now();
    let (out, run) = run_slurm_bundles(dir.path(), &extra, Duration::from_secs(500));
    let took = start.elapsed();
    exits(&out, &[0, 1]);
    let summary = summary_of(&run);
    let ok = summary["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j["verdict"] == "succeeded")
        .count();
    assert_eq!(ok, jobs.len(), "{summary}");
    assert!(in_queue(&submitted_ids(&run)).is_empty());
    (took, summary)
}

#[test]
#[ignore = "needs the slurmlab cluster (.ci/run starts it)"]
fn slurm_scale_200_jobs_with_bounded_scheduler_calls() {
    let n: usize = std::env::var("SERVEBENCH_SCALE_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let (took, summary) = timed_run(&vec![false; n], 20, false, "0");
    let calls = &summary["scheduler_calls"];
    let cycles = summary["poll_cycles"].as_u64().unwrap();
    let squeue = calls["squeue"].as_u64().unwrap();
    let sacct = calls["sacct"].as_u64().unwrap_or(0);
    eprintln!(
        "scale: {n} jobs, window 20: {:.1} s, {cycles} poll cycles, squeue {squeue}, sacct {sacct}, sbatch {}",
        took.as_secs_f64(),
        calls["sbatch"]
    );
    // One submission per job plus the `sbatch --version` preflight.
    assert_eq!(calls["sbatch"].as_u64().unwrap(), n as u64 + 1);
    // One squeue per poll cycle whatever the number of jobs, at most one sacct.
    assert_eq!(squeue, cycles);
    assert!(sacct <= cycles);
}

#[test]
#[ignore = "needs the slurmlab cluster (.ci/run starts it)"]
fn slurm_windowed_submission_beats_lazy_batches() {
    // Uneven durations: one slow job at the head of each batch of 4.
    let jobs = [true, false, false, false, true, false, false, false];
    let (windowed, _) = timed_run(&jobs, 4, false, "0.1");
    let (lazy, _) = timed_run(&jobs, 4, true, "0.1");
    let ratio = lazy.as_secs_f64() / windowed.as_secs_f64();
    eprintln!(
        "lazy batches {:.1} s vs windowed {:.1} s: ratio {ratio:.2}",
        lazy.as_secs_f64(),
        windowed.as_secs_f64()
    );
    assert!(ratio > 1.3, "ratio {ratio:.2}");
}

#[test]
#[ignore = "needs the slurmlab cluster (.ci/run starts it)"]
fn slurm_time_limit_ends_timeout() {
    let dir = slurm_dir();
    let b = tiny_bundle(&dir.path().join("bundles"), "slow", 22000, 200_000, "1");
    let script = std::fs::read_to_string(b.join("job.sbatch")).unwrap();
    std::fs::write(
        b.join("job.sbatch"),
        script.replace(
            "#SBATCH --nodes=1\n",
            "#SBATCH --nodes=1\n#SBATCH --time=00:01:00\n",
        ),
    )
    .unwrap();
    let (out, run) = run_slurm_bundles(dir.path(), &["-q"], Duration::from_secs(240));
    exits(&out, &[1]);
    let j = journal(&run);
    let fin = j.iter().find(|r| r["type"] == "finished").unwrap();
    assert_eq!(fin["verdict"], "timed_out", "{fin}");
    assert_eq!(fin["scheduler_state"], "TIMEOUT");
    let summary = summary_of(&run);
    assert_eq!(summary["jobs"][0]["verdict"], "timed_out");
    assert!(
        summary["jobs"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("TIMEOUT")
    );
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["cases"][0]["verdict"], "error");
    assert_no_leftovers(dir.path());
}

pub(super) fn cluster_sh(args: &[&str]) {
    let status = Command::new(repo().join("../shared/slurm/cluster.sh"))
        .args(args)
        .status()
        .unwrap();
    assert!(status.success(), "cluster.sh {args:?}");
}

/// A node killed under a running job: NODE_FAIL, explained, retried once with `--retries 1`
/// and never without.
#[test]
#[ignore = "needs the slurmlab cluster (.ci/run starts it)"]
fn slurm_node_failure_is_retried_once_and_only_with_retries() {
    for retries in ["1", "0"] {
        node_failure(retries);
    }
}

fn node_failure(retries: &str) {
    let dir = slurm_dir();
    tiny_bundle(&dir.path().join("bundles"), "victim", 22001, 3000, "1");
    let out_dir = dir.path().join("out");
    let mut c = slurm_cmd(
        dir.path(),
        &[
            "run",
            "--executor",
            "slurm",
            "--retries",
            retries,
            "-q",
            "--bundles",
        ],
    );
    c.arg(dir.path().join("bundles"))
        .arg("--output")
        .arg(&out_dir);
    let child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let run = wait_running(&out_dir, 1, Duration::from_secs(60));
    let id = submitted_ids(&run).remove(0);
    let node = text("squeue", &["-h", "-j", &id, "-o", "%N"])
        .trim()
        .to_string();
    let index = node.trim_start_matches("node").to_string();
    assert!(!index.is_empty(), "no node for job {id}");
    cluster_sh(&["node-kill", &index, "all"]);
    let out = wait_output(child, Duration::from_secs(400));
    cluster_sh(&["node-start", &index]);
    let j = journal(&run);
    let ends: Vec<&serde_json::Value> = j.iter().filter(|r| r["type"] == "finished").collect();
    assert_eq!(ends[0]["scheduler_state"], "NODE_FAIL", "{j:?}");
    if retries == "1" {
        exits(&out, &[0, 1]);
        assert_eq!(ends.len(), 2, "{j:?}");
        assert_eq!(ends[0]["will_retry"], true);
        assert_eq!(ends[1]["verdict"], "succeeded", "{}", ends[1]);
        assert_eq!(submitted_ids(&run).len(), 2);
    } else {
        exits(&out, &[1]);
        assert_eq!(ends.len(), 1, "{j:?}");
        assert_eq!(ends[0]["will_retry"], false);
        assert_eq!(submitted_ids(&run).len(), 1);
        let reason = summary_of(&run)["jobs"][0]["reason"].to_string();
        assert!(
            reason.to_lowercase().contains("node"),
            "explained: {reason}"
        );
    }
}

#[test]
#[ignore = "needs the slurmlab cluster (.ci/run starts it)"]
fn slurm_resume_adopts_a_job_whose_id_was_never_recorded() {
    // Found by squeue while it runs, by sacct once it has ended.
    for ended in [false, true] {
        adopt_case(ended);
    }
}

fn adopt_case(ended: bool) {
    let dir = slurm_dir();
    tiny_bundle(&dir.path().join("bundles"), "orphan", 22002, 8, "0.1");
    let out_dir = dir.path().join("out");
    let (out, run) = run_slurm_bundles(dir.path(), &["--detach"], Duration::from_secs(60));
    exits(&out, &[0]);
    let id = submitted_ids(&run).remove(0);
    // As if `servebench run` died between `submitting` and `submitted`.
    let journal_path = run.join("journal.jsonl");
    let kept: Vec<String> = std::fs::read_to_string(&journal_path)
        .unwrap()
        .lines()
        .filter(|l| !l.contains("\"type\":\"submitted\"") && !l.contains("\"type\":\"detached\""))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&journal_path, kept.concat()).unwrap();
    if ended {
        wait_for("the job to end", Duration::from_secs(60), || {
            in_queue(std::slice::from_ref(&id)).is_empty()
        });
    }
    let out = capture(
        slurm_cmd(dir.path(), &["resume", "--output"])
            .arg(&out_dir)
            .arg(run.file_name().unwrap()),
        Duration::from_secs(120),
    );
    exits(&out, &[0, 1]);
    assert_eq!(submitted_ids(&run), vec![id.clone()]);
    let summary = summary_of(&run);
    assert!(
        summary["scheduler_calls"].get("sbatch").is_none(),
        "{summary}"
    );
    assert_eq!(summary["jobs"][0]["job_id"], id.as_str());
    assert_eq!(summary["jobs"][0]["verdict"], "succeeded");
}
