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
    let out = wait_output(
        servebench(dir.path())
            .args(["job", "exec"])
            .arg(&bundle)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
        Duration::from_secs(60),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
    let logs = bundle.join("logs");
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
    let out = wait_output(
        servebench(dir.path())
            .args(["job", "exec", "--health-timeout", "2"])
            .arg(&bundle)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
        Duration::from_secs(60),
    );
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
    let out = wait_output(
        servebench(dir.path())
            .args(["job", "exec"])
            .arg(&bundle)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
        Duration::from_secs(60),
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
    assert_no_leftovers(dir.path());
}

#[test]
fn dry_run_prints_commands_and_submits_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_cmd(dir.path(), "2", 32, "0.1")
        .args(["--executor", "slurm", "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
