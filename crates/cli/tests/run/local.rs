//! The local executor: `job exec`, `run`, `status`, `cancel`, `resume` on this machine.

use super::*;

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

    // The run went into the history as it ran; resuming and collecting it again adds nothing.
    let rows = || {
        let out = servebench(dir.path())
            .args(["history", "--format", "csv", "--output"])
            .arg(dir.path().join("out"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).lines().count()
    };
    let stored = rows();
    assert!(stored > 10, "{stored} history rows");
    let csv = std::fs::read_to_string(dir.path().join("out/perf_script_test_results.csv")).unwrap();
    assert!(csv.starts_with("network_name,"), "{csv}");
    let out = servebench(dir.path())
        .args(["collect", "--output"])
        .arg(dir.path().join("out"))
        .arg(&run)
        .output()
        .unwrap();
    assert!(matches!(out.status.code(), Some(0 | 1)));
    assert_eq!(rows(), stored);

    // Shards balance on the durations the history recorded.
    let mut list = servebench(dir.path());
    list.arg("list");
    small(&mut list, "2", 32);
    let out = list
        .args(["--splits", "2", "--show-groups", "--durations-db"])
        .arg(dir.path().join("out/servebench.db"))
        .output()
        .unwrap();
    let groups = String::from_utf8_lossy(&out.stdout);
    assert!(groups.contains("over recorded durations"), "{groups}");

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
