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

mod chaos;
mod gates;
mod hostile;
mod local;
mod slurm;

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

fn run_cmd(dir: &Path, concurrency: &str, output_len: u32, scale: &str) -> Command {
    let mut c = servebench(dir);
    c.arg("run");
    small(&mut c, concurrency, output_len);
    c.args(["--sim-time-scale", scale, "--output"])
        .arg(dir.join("out"));
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

fn submitted_ids(run: &Path) -> Vec<String> {
    journal(run)
        .iter()
        .filter(|r| r["type"] == "submitted")
        .map(|r| r["job_id"].as_str().unwrap().to_string())
        .collect()
}

fn summary_of(run: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap()
}
