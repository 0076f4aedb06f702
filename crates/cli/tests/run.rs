//! End-to-end tests of `servebench job exec`, `run`, `status`, `cancel` and `resume` with the
//! local executor on real simulator bundles. Every test checks that no process is left behind:
//! every process a job starts runs with its bundle as working directory, so `/proc/*/cwd` finds
//! leftovers.
#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_servebench");

fn configs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test_configs")
}

/// A small, fast variant of the repository's 1-ctx/1-gen simulator config.
fn small(cmd: &mut Command, concurrency: &str, output_len: u32) {
    cmd.arg(configs())
        .args(["-k", "mtp0"])
        .args([
            "--set",
            &format!("benchmark.concurrency_list={concurrency}"),
        ])
        .args(["--set", "benchmark.multi_round=1"])
        .args(["--set", "benchmark.input_length=64"])
        .args(["--set", &format!("benchmark.output_length={output_len}")]);
}

fn servebench(cwd: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(cwd)
        .env_remove("OUTPUT_PATH")
        .env_remove("DISAGG_BATCH_SIZE")
        .env_remove("SERVEBENCH_CLUSTER")
        .env_remove("GPU_TYPE")
        .env_remove("DEBUG_MODE")
        .env("CI", "1");
    c
}

/// Renders the small config into `dir/bundles` and returns the bundle.
fn render(dir: &Path, concurrency: &str, output_len: u32, scale: &str) -> PathBuf {
    let mut c = servebench(dir);
    c.arg("render");
    small(&mut c, concurrency, output_len);
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
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir.join("bundles"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(found.len(), 1);
    found.pop().unwrap()
}

fn edit_launch(bundle: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let p = bundle.join("launch.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(&p, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

fn add_server_args(bundle: &Path, name: &str, args: &[&str]) {
    edit_launch(bundle, |v| {
        let servers = v["servers"].as_array_mut().unwrap();
        let s = servers.iter_mut().find(|s| s["name"] == name).unwrap();
        let argv = s["argv"].as_array_mut().unwrap();
        for a in args {
            argv.push((*a).into());
        }
    });
}

/// Pids of processes whose working directory is under `dir`.
fn procs_under(dir: &Path) -> Vec<u32> {
    let dir = dir.canonicalize().unwrap();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(cwd) = std::fs::read_link(e.path().join("cwd"))
            && cwd.starts_with(&dir)
        {
            // Zombies keep no cwd link, so anything found here is alive.
            out.push(pid);
        }
    }
    out
}

fn assert_no_leftovers(dir: &Path) {
    // Teardown has finished when the command returned; allow a moment for reaping.
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let left = procs_under(dir);
        if left.is_empty() {
            return;
        }
        if Instant::now() > until {
            for p in &left {
                let _ = Command::new("kill").args(["-9", &p.to_string()]).status();
            }
            panic!("processes left behind under {}: {left:?}", dir.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn status_events(bundle: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(bundle.join("logs/status.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn finished(bundle: &Path) -> serde_json::Value {
    status_events(bundle)
        .into_iter()
        .rev()
        .find(|e| e["event"] == "finished")
        .unwrap_or_else(|| panic!("no finished event in {}", bundle.display()))
}

fn wait_output(child: Child, limit: Duration) -> Output {
    let pid = child.id();
    let start = Instant::now();
    let waiter = std::thread::spawn(move || child.wait_with_output().unwrap());
    while !waiter.is_finished() {
        if start.elapsed() > limit {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("command did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    waiter.join().unwrap()
}

/// Asserts that `out` exited with one of `codes`, showing its stderr otherwise.
fn exits(out: &Output, codes: &[i32]) {
    assert!(
        out.status.code().is_some_and(|c| codes.contains(&c)),
        "exit {:?}, expected one of {codes:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `servebench job exec [EXTRA] BUNDLE` from `dir`, stopped if it runs over a minute.
fn job_exec(dir: &Path, bundle: &Path, extra: &[&str]) -> Output {
    wait_output(
        servebench(dir)
            .args(["job", "exec"])
            .args(extra)
            .arg(bundle)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
        Duration::from_secs(60),
    )
}

fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn journal(run_dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run_dir.join("journal.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn only_run(out: &Path) -> PathBuf {
    let mut runs: Vec<PathBuf> = std::fs::read_dir(out.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1);
    runs.pop().unwrap()
}

fn signal(pid: u32, sig: &str) {
    assert!(
        Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
}

#[test]
fn job_exec_runs_a_sim_bundle_and_reports_progress() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = render(dir.path(), "2 4", 32, "0.05");
    edit_launch(&bundle, |v| {
        let step = |name: &str, log: &str, script: &str| {
            serde_json::json!({
                "name": name, "argv": ["sh", "-c", script], "env": {"STEP": name}, "log": log,
                "output_dir": null, "srun_prefix": []
            })
        };
        v["setup"] = serde_json::json!([step("install", "2_install.log", "echo installed $STEP")]);
        v["accuracy"] = serde_json::json!([step(
            "gsm8k",
            "7_accuracy_eval_gsm8k.log",
            "echo accuracy $STEP"
        )]);
    });
    let out = job_exec(dir.path(), &bundle, &[]);
    exits(&out, &[0]);
    let events = status_events(&bundle);
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"stage"));
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "readiness" && e["text"] == "ctx 1/1 gen 1/1"),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "concurrency" && e["k"] == 2 && e["n"] == 2)
    );
    assert_eq!(finished(&bundle)["ok"], true);
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "stage" && e["stage"] == "setup")
    );
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "accuracy" && e["task"] == "gsm8k")
    );
    let logs = bundle.join("logs");
    assert_eq!(
        std::fs::read_to_string(logs.join("2_install.log")).unwrap(),
        "installed install\n"
    );
    assert_eq!(
        std::fs::read_to_string(logs.join("7_accuracy_eval_gsm8k.log")).unwrap(),
        "accuracy gsm8k\n"
    );
    for f in [
        "3_output_GEN_0.log",
        "3_output_CTX_0.log",
        "4_output_server.log",
        "6_bench.log",
        "8_done_local.txt",
    ] {
        assert!(logs.join(f).is_file(), "{f} missing");
    }
    let bench = std::fs::read_to_string(logs.join("6_bench.log")).unwrap();
    assert!(bench.contains("Benchmark with concurrency 4 done"));
    assert!(logs.join("concurrency_4/result.json").is_file());
    // Planned ports were remapped consistently: the router config points at real servers.
    let router = std::fs::read_to_string(bundle.join("server_config.yaml")).unwrap();
    assert!(
        router.contains("127.0.0.1:") && !router.contains("placeholder"),
        "{router}"
    );
    assert_no_leftovers(dir.path());
}

#[test]
fn never_healthy_server_fails_with_the_health_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = render(dir.path(), "2", 32, "0.05");
    add_server_args(&bundle, "GEN_0", &["--fault", "never-healthy"]);
    let start = Instant::now();
    let out = job_exec(dir.path(), &bundle, &["--health-timeout", "2"]);
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("health timeout: GEN_0 not healthy after 2s")
            && stderr.contains("last answer: 503"),
        "{stderr}"
    );
    let f = finished(&bundle);
    assert_eq!(f["kind"], "health_timeout");
    assert!(start.elapsed() < Duration::from_secs(30));
    // The healthy CTX server was torn down too.
    assert_no_leftovers(dir.path());
}

#[test]
fn crash_mid_benchmark_fails_fast_naming_the_role() {
    let dir = tempfile::tempdir().unwrap();
    // The crash comes at the end of the first client run (2 requests answered).
    let bundle = render(dir.path(), "2 4 8", 256, "0.2");
    add_server_args(&bundle, "GEN_0", &["--fault", "crash-after=2"]);
    let start = Instant::now();
    let out = job_exec(dir.path(), &bundle, &[]);
    exits(&out, &[3]);
    let f = finished(&bundle);
    // The simulated engine logs a traceback as it dies: the fatal pattern or the exit, whichever
    // is seen first, names the role.
    let reason = f["reason"].as_str().unwrap();
    match f["kind"].as_str().unwrap() {
        "role_exited" => assert!(reason.starts_with("GEN_0 (gen) exited"), "{reason}"),
        "fatal_pattern" => assert!(reason.contains("in GEN_0 log"), "{reason}"),
        other => panic!("unexpected failure kind {other}: {reason}"),
    }
    assert!(
        status_events(&bundle)
            .iter()
            .any(|e| e["event"] == "concurrency"),
        "crashed before the benchmark"
    );
    let bench = std::fs::read_to_string(bundle.join("logs/6_bench.log")).unwrap_or_default();
    assert!(
        !bench.contains("Benchmark with concurrency 8 done"),
        "the job went on after the crash"
    );
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "took {:?}",
        start.elapsed()
    );
    assert_no_leftovers(dir.path());
}

#[test]
fn sigterm_tears_the_job_down() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = render(dir.path(), "4", 1024, "0.2");
    let child = servebench(dir.path())
        .args(["job", "exec"])
        .arg(&bundle)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    wait_for("the benchmark", Duration::from_secs(30), || {
        status_events(&bundle)
            .iter()
            .any(|e| e["event"] == "concurrency")
    });
    signal(pid, "-TERM");
    let out = wait_output(child, Duration::from_secs(40));
    assert_eq!(out.status.code(), Some(143));
    assert_eq!(finished(&bundle)["reason"], "interrupted by SIGTERM");
    assert_no_leftovers(dir.path());
}

fn run_cmd(dir: &Path, concurrency: &str, output_len: u32, scale: &str) -> Command {
    let mut c = servebench(dir);
    c.arg("run");
    small(&mut c, concurrency, output_len);
    c.args(["--sim-time-scale", scale, "--output"])
        .arg(dir.join("out"));
    c
}

#[test]
fn run_executes_the_suite_and_writes_results() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let out = wait_output(
        run_cmd(dir.path(), "2", 32, "0.1")
            .arg("--junit")
            .arg(&junit)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
        Duration::from_secs(60),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Pass or invalid (the client-bound check depends on machine load), never an error.
    assert!(matches!(out.status.code(), Some(0 | 1)), "{stderr}");
    assert!(stdout.contains("test case(s)"), "{stdout}");
    assert!(stderr.contains("submitted as local-"), "{stderr}");
    let run = only_run(&dir.path().join("out"));
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("results.json")).unwrap()).unwrap();
    assert!(results.to_string().contains("mtp0"));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["jobs"][0]["verdict"], "succeeded", "{summary}");
    assert!(
        std::fs::read_to_string(&junit)
            .unwrap()
            .contains("<testsuite")
    );
    let j = journal(&run);
    let types: Vec<&str> = j.iter().map(|r| r["type"].as_str().unwrap()).collect();
    assert_eq!(types.first(), Some(&"run_started"));
    assert_eq!(types.last(), Some(&"run_finished"));
    let at = |t: &str| types.iter().position(|x| *x == t).unwrap();
    assert!(at("submitting") < at("submitted") && at("submitted") < at("finished"));

    // status reads it back from the journal.
    let st = servebench(dir.path())
        .args(["status", "--format", "json", "--output"])
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    let st: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
    assert_eq!(st["finished"], true);
    assert_eq!(st["tests"][0]["state"], "succeeded");

    // resume of a finished run submits nothing.
    let out = servebench(dir.path())
        .args(["resume", "--output"])
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert!(matches!(out.status.code(), Some(0 | 1)));
    let submitted = journal(&run)
        .iter()
        .filter(|r| r["type"] == "submitted")
        .count();
    assert_eq!(submitted, 1);

    // --format json: events as JSON lines on stderr, the results document on stdout.
    let out = servebench(dir.path())
        .args(["resume", "--format", "json", "--output"])
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["summary"]["cases"], 1, "{doc}");
    assert_eq!(doc["cases"][0]["test_id"], results["cases"][0]["test_id"]);
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events[0]["event"], "started", "{events:?}");
    assert_eq!(events[0]["resumed"], true);
    assert_no_leftovers(dir.path());
}

#[test]
fn dry_run_prints_commands_and_submits_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_cmd(dir.path(), "2", 32, "0.1")
        .args(["--executor", "slurm", "--dry-run"])
        .output()
        .unwrap();
    exits(&out, &[0]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("sbatch --parsable --chdir="), "{stdout}");
    assert!(stdout.contains("/job.sbatch"));
    let run = only_run(&dir.path().join("out"));
    assert!(!run.join("journal.jsonl").exists());
}

#[test]
fn sigint_on_run_cancels_every_job() {
    let dir = tempfile::tempdir().unwrap();
    let child = run_cmd(dir.path(), "4", 1024, "0.5")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out_dir = dir.path().join("out");
    wait_for("a running job", Duration::from_secs(30), || {
        std::fs::read_dir(out_dir.join("runs")).is_ok_and(|mut r| {
            r.next().is_some_and(|e| {
                let run = e.unwrap().path();
                std::fs::read_to_string(run.join("journal.jsonl"))
                    .is_ok_and(|j| j.contains("\"RUNNING\""))
            })
        })
    });
    signal(pid, "-INT");
    let out = wait_output(child, Duration::from_secs(60));
    exits(&out, &[130]);
    let run = only_run(&out_dir);
    let j = journal(&run);
    assert!(
        j.iter()
            .any(|r| r["type"] == "cancel_requested" && r["by"] == "SIGINT")
    );
    let fin = j.iter().find(|r| r["type"] == "finished").unwrap();
    assert_eq!(fin["verdict"], "cancelled", "{fin}");
    assert_no_leftovers(dir.path());
}

#[test]
fn sigkill_then_resume_completes_without_resubmitting() {
    let dir = tempfile::tempdir().unwrap();
    let child = run_cmd(dir.path(), "4", 256, "0.2")
        .arg("-q")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out_dir = dir.path().join("out");
    wait_for("a submitted job", Duration::from_secs(30), || {
        std::fs::read_dir(out_dir.join("runs")).is_ok_and(|mut r| {
            r.next().is_some_and(|e| {
                std::fs::read_to_string(e.unwrap().path().join("journal.jsonl"))
                    .is_ok_and(|j| j.contains("\"submitted\""))
            })
        })
    });
    let mut child = child;
    child.kill().unwrap();
    child.wait().unwrap();
    let run = only_run(&out_dir);
    let out = wait_output(
        servebench(dir.path())
            .args(["resume"])
            .arg(&run)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
        Duration::from_secs(60),
    );
    exits(&out, &[0, 1]);
    let j = journal(&run);
    assert_eq!(
        j.iter().filter(|r| r["type"] == "submitted").count(),
        1,
        "{j:?}"
    );
    assert!(j.iter().any(|r| r["type"] == "resumed"));
    let fin = j.iter().find(|r| r["type"] == "finished").unwrap();
    assert_eq!(fin["verdict"], "succeeded", "{fin}");
    assert_no_leftovers(dir.path());
}

#[test]
fn resume_after_sigkill_keeps_the_original_job_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = render(dir.path(), "2", 32, "0.05");
    // A server that never becomes healthy: only the job timeout can end this job quickly (its
    // own health timeout is 30 minutes).
    add_server_args(&bundle, "GEN_0", &["--fault", "never-healthy"]);
    let out_dir = dir.path().join("out");
    let mut child = servebench(dir.path())
        .args(["run", "-q", "--job-timeout", "3", "--bundles"])
        .arg(&bundle)
        .arg("--output")
        .arg(&out_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("a submitted job", Duration::from_secs(30), || {
        std::fs::read_dir(out_dir.join("runs")).is_ok_and(|mut r| {
            r.next().is_some_and(|e| {
                std::fs::read_to_string(e.unwrap().path().join("journal.jsonl"))
                    .is_ok_and(|j| j.contains("\"submitted\""))
            })
        })
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let run = only_run(&out_dir);
    let started = Instant::now();
    let out = wait_output(
        servebench(dir.path())
            .args(["resume", "-q"])
            .arg(&run)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
        Duration::from_secs(120),
    );
    exits(&out, &[1]);
    assert!(started.elapsed() < Duration::from_secs(90));
    let j = journal(&run);
    assert_eq!(j.first().unwrap()["job_timeout_s"], 3);
    let fin = j.iter().find(|r| r["type"] == "finished").unwrap();
    assert_eq!(fin["verdict"], "timed_out", "{fin}");
    assert!(
        j.iter()
            .any(|r| r["type"] == "cancel_requested" && r["by"] == "timeout")
    );
    assert_no_leftovers(dir.path());
}

// ---------------------------------------------------------------------------------------------
// SLURM: the same binary through the real local cluster (`../shared/slurm/cluster.sh up 4`).
// They are `#[ignore]`d so a plain `cargo test` on a machine without the cluster reports them
// as ignored instead of passing vacuously; `.ci/run` starts the cluster and runs them with
// `cargo test -p servebench-cli --test run -- --ignored --test-threads=1 slurm_`.

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// A work directory for SLURM tests: jobs run in the node namespaces, which share the file
/// system; the cluster profile comes from the repository's `servebench.yaml`.
fn slurm_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo().join("servebench.yaml"),
        dir.path().join("servebench.yaml"),
    )
    .unwrap();
    dir
}

fn slurm_cmd(dir: &Path, args: &[&str]) -> Command {
    let mut c = servebench(dir);
    c.args(args);
    c
}

fn capture(cmd: &mut Command, limit: Duration) -> Output {
    wait_output(
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
        limit,
    )
}

fn text(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn submitted_ids(run: &Path) -> Vec<String> {
    journal(run)
        .iter()
        .filter(|r| r["type"] == "submitted")
        .map(|r| r["job_id"].as_str().unwrap().to_string())
        .collect()
}

/// Jobs of `ids` still known to squeue (pending or running).
fn in_queue(ids: &[String]) -> Vec<String> {
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
fn wait_running(out_dir: &Path, n: usize, limit: Duration) -> PathBuf {
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
fn tiny_bundle(root: &Path, name: &str, port: u16, output_len: u32, scale: &str) -> PathBuf {
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
        "schema_version": 1, "test_id": name, "engine": "sim", "client": "builtin",
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
            "done_line": "Benchmark with concurrency 1 done"
        }],
        "accuracy": [], "fatal_patterns": [],
        "teardown": {"signal": "TERM", "grace_s": 10, "order": ["AGG_0"]},
        "done_marker": "8_done_{jobid}.txt", "warnings": []
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

fn summary_of(run: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap()
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
    assert_eq!(calls["sbatch"].as_u64().unwrap(), n as u64);
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

fn cluster_sh(args: &[&str]) {
    let status = Command::new(repo().join("../shared/slurm/cluster.sh"))
        .args(args)
        .status()
        .unwrap();
    assert!(status.success(), "cluster.sh {args:?}");
}

#[test]
#[ignore = "needs the slurmlab cluster (.ci/run starts it)"]
fn slurm_node_failure_is_retried_once() {
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
            "1",
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
    exits(&out, &[0, 1]);
    let j = journal(&run);
    let ends: Vec<&serde_json::Value> = j.iter().filter(|r| r["type"] == "finished").collect();
    assert_eq!(ends.len(), 2, "{j:?}");
    assert_eq!(ends[0]["scheduler_state"], "NODE_FAIL");
    assert_eq!(ends[0]["will_retry"], true);
    assert_eq!(ends[1]["verdict"], "succeeded", "{}", ends[1]);
    assert_eq!(submitted_ids(&run).len(), 2);
}

/// Two local bundles `a` (first) and `b` under `dir/bundles`; `a` never becomes healthy.
fn two_bundles_first_sick(dir: &Path) -> PathBuf {
    let first = render(dir, "2", 32, "0.05");
    let root = dir.join("bundles");
    for (name, sick) in [("a", true), ("b", false)] {
        let copy = root.join(name);
        assert!(
            Command::new("cp")
                .arg("-r")
                .arg(&first)
                .arg(&copy)
                .status()
                .unwrap()
                .success()
        );
        edit_launch(&copy, |v| {
            v["test_id"] = name.into();
            for s in v["servers"].as_array_mut().unwrap() {
                s["health"]["timeout_s"] = 1.into();
            }
        });
        if sick {
            add_server_args(&copy, "GEN_0", &["--fault", "never-healthy"]);
        }
    }
    std::fs::remove_dir_all(&first).unwrap();
    root
}

#[test]
fn window_of_one_stop_on_error_and_retries() {
    let dir = tempfile::tempdir().unwrap();
    let root = two_bundles_first_sick(dir.path());
    let out_dir = dir.path().join("out");
    // --retries 1: the health timeout is an infrastructure failure, retried once; then
    // --stop-on-error keeps `b` from being submitted.
    let out = capture(
        servebench(dir.path())
            .args([
                "run",
                "--max-parallel",
                "1",
                "--retries",
                "1",
                "--stop-on-error",
                "--bundles",
            ])
            .arg(&root)
            .arg("--output")
            .arg(&out_dir),
        Duration::from_secs(60),
    );
    exits(&out, &[1]);
    let run = only_run(&out_dir);
    let j = journal(&run);
    let kinds: Vec<String> = j
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["type"].as_str().unwrap(),
                r["test_id"].as_str().unwrap_or("")
            )
        })
        .filter(|k| !k.starts_with("state"))
        .collect();
    assert_eq!(
        kinds,
        [
            "run_started ",
            "submitting a",
            "submitted a",
            "finished a",
            "submitting a",
            "submitted a",
            "finished a",
            "skipped b",
            "run_finished "
        ],
        "{j:?}"
    );
    let ends: Vec<&serde_json::Value> = j.iter().filter(|r| r["type"] == "finished").collect();
    assert_eq!(ends[0]["will_retry"], true);
    assert_eq!(ends[1]["will_retry"], false);
    assert!(
        ends[1]["reason"]
            .as_str()
            .unwrap()
            .contains("health timeout")
    );
    assert_no_leftovers(dir.path());

    // Without stop-on-error and a window of 1, `b` starts only after `a` ended.
    let out_dir = dir.path().join("out2");
    let out = capture(
        servebench(dir.path())
            .args(["run", "--batch-size", "1", "--bundles"])
            .arg(&root)
            .arg("--output")
            .arg(&out_dir),
        Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(1));
    let j = journal(&only_run(&out_dir));
    let pos = |t: &str, id: &str| {
        j.iter()
            .position(|r| r["type"] == t && r["test_id"] == id)
            .unwrap()
    };
    assert!(pos("finished", "a") < pos("submitting", "b"));
    assert_no_leftovers(dir.path());
}

#[test]
fn cancel_from_another_shell_stops_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let child = run_cmd(dir.path(), "4", 1024, "0.5")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out_dir = dir.path().join("out");
    wait_for("a running job", Duration::from_secs(30), || {
        std::fs::read_dir(out_dir.join("runs")).is_ok_and(|mut r| {
            r.next().is_some_and(|e| {
                std::fs::read_to_string(e.unwrap().path().join("journal.jsonl"))
                    .is_ok_and(|j| j.contains("\"RUNNING\""))
            })
        })
    });
    let run = only_run(&out_dir);
    let c = capture(
        servebench(dir.path())
            .args(["cancel"])
            .arg(run.file_name().unwrap())
            .arg("--output")
            .arg(&out_dir),
        Duration::from_secs(100),
    );
    assert_eq!(
        c.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&c.stderr)
    );
    let out = wait_output(child, Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(130));
    let j = journal(&run);
    assert!(
        j.iter()
            .any(|r| r["type"] == "cancel_requested" && r["by"] == "servebench cancel")
    );
    assert_eq!(
        j.iter().find(|r| r["type"] == "finished").unwrap()["verdict"],
        "cancelled"
    );
    let st = servebench(dir.path())
        .args(["status", "--output"])
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&st.stdout).contains("cancelled"));
    assert_no_leftovers(dir.path());
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

#[test]
fn resume_adopts_a_local_job_whose_id_was_never_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    let mut child = run_cmd(dir.path(), "4", 256, "0.3")
        .arg("-q")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("a submitted job", Duration::from_secs(30), || {
        std::fs::read_dir(out_dir.join("runs")).is_ok_and(|mut r| {
            r.next().is_some_and(|e| {
                std::fs::read_to_string(e.unwrap().path().join("journal.jsonl"))
                    .is_ok_and(|j| j.contains("\"submitted\""))
            })
        })
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let run = only_run(&out_dir);
    let id = submitted_ids(&run).remove(0);
    let path = run.join("journal.jsonl");
    let kept: String = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .filter(|l| !l.contains("\"type\":\"submitted\""))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&path, kept).unwrap();
    let out = capture(
        servebench(dir.path()).arg("resume").arg(&run),
        Duration::from_secs(60),
    );
    exits(&out, &[0, 1]);
    assert_eq!(submitted_ids(&run), vec![id]);
    assert_eq!(summary_of(&run)["jobs"][0]["verdict"], "succeeded");
    assert_no_leftovers(dir.path());
}
