//! End-to-end tests of the history commands: `import`, `history`, `export opensearch`.
#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::mpsc;

fn fixture_csv() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "../../../shared/fixtures/upstream/tests/integration/defs/perf/disagg/perf_script_test_results.FIRST24ROWS.csv",
    )
}

/// Runs `servebench` in `dir` with a clean history environment plus `env`.
fn servebench(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_servebench"));
    c.args(args)
        .current_dir(dir)
        .env_remove("SERVEBENCH_DB")
        .env_remove("OUTPUT_PATH")
        .env_remove("OPEN_SEARCH_DB_BASE_URL")
        .env_remove("OPEN_SEARCH_DB_USERNAME")
        .env_remove("OPEN_SEARCH_DB_PASSWORD");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn imported_fixture_renders_back_as_the_same_csv() {
    let dir = tempfile::tempdir().unwrap();
    let csv = fixture_csv().display().to_string();
    let o = servebench(dir.path(), &["import", &csv, "--label", "main"], &[]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("24 measurements of 2 tests in 2 runs, 24 new"),
        "{err}"
    );
    // The default database is <output>/servebench.db.
    assert!(dir.path().join("servebench-out/servebench.db").is_file());
    let again = servebench(dir.path(), &["import", &csv], &[]);
    assert!(text(&again).1.contains(", 0 new"), "{}", text(&again).1);

    let o = servebench(dir.path(), &["history", "--format", "csv"], &[]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(o.stdout, std::fs::read(fixture_csv()).unwrap());

    // -k and --metric (upstream names accepted) narrow it; JSON for tools.
    let o = servebench(
        dir.path(),
        &[
            "history",
            "-k",
            "mtp:3",
            "--metric",
            "DISAGG_SERVER_E2EL",
            "--concurrency",
            "144",
            "--format",
            "json",
        ],
        &[],
    );
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = doc["measurements"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["metric"], "median_e2el_ms");
    assert_eq!(rows[0]["label"], "main");
    assert!(rows[0]["test_id"].as_str().unwrap().contains("mtp:3"));
}

#[test]
fn history_database_comes_from_db_or_env_and_bad_input_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let csv = fixture_csv().display().to_string();
    let db = dir.path().join("elsewhere.db").display().to_string();
    let o = servebench(dir.path(), &["import", &csv], &[("SERVEBENCH_DB", &db)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    assert!(Path::new(&db).is_file());
    let o = servebench(
        dir.path(),
        &[
            "history",
            "--db",
            &format!("sqlite:{db}"),
            "--metric",
            "median_ttft_ms",
        ],
        &[],
    );
    assert_eq!(text(&o).0.lines().count(), 1 + 12, "{}", text(&o).0);

    // Reading a history that does not exist says so (and creates nothing).
    let o = servebench(dir.path(), &["history"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o)
            .1
            .contains("no history database at servebench-out/servebench.db"),
        "{}",
        text(&o).1
    );
    assert!(!dir.path().join("servebench-out").exists());
    let o = servebench(
        dir.path(),
        &["history", "--since", "last week"],
        &[("SERVEBENCH_DB", &db)],
    );
    assert_eq!(o.status.code(), Some(2));
    let o = servebench(
        dir.path(),
        &["history", "-k", "nixl and"],
        &[("SERVEBENCH_DB", &db)],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("expected a word"), "{}", text(&o).1);
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "network_name,perf_metric\nx,1\n").unwrap();
    let o = servebench(dir.path(), &["import", bad.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o)
            .1
            .contains("bad.csv:1: the header has no `network_hash` column"),
        "{}",
        text(&o).1
    );
}

#[test]
fn database_credentials_are_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 1: the connection fails, and the message must not carry the password.
    let o = servebench(
        dir.path(),
        &[
            "history",
            "--db",
            "postgres://bob:s3cr3t-pw@127.0.0.1:1/hist",
        ],
        &[],
    );
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains("postgres://***@127.0.0.1:1/hist"), "{err}");
    assert!(!out.contains("s3cr3t") && !err.contains("s3cr3t"), "{err}");
}

/// A stand-in for OpenSearch's `_bulk` endpoint on loopback (no real OpenSearch runs in
/// tests): answers each request with the next scripted (status, body) and reports what it
/// received.
fn stand_in(replies: Vec<(u16, String)>) -> (String, mpsc::Receiver<(String, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for (status, body) in replies {
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            let mut reader = BufReader::new(stream);
            let mut head = String::new();
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                head.push_str(&line);
            }
            let mut req_body = vec![0; length];
            let _ = reader.read_exact(&mut req_body);
            let _ = tx.send((head, String::from_utf8_lossy(&req_body).into_owned()));
            let mut stream = reader.into_inner();
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (format!("127.0.0.1:{port}"), rx)
}

#[test]
fn opensearch_export_writes_ndjson_and_posts_with_retries_without_leaking_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let csv = fixture_csv().display().to_string();
    assert_eq!(
        servebench(dir.path(), &["import", &csv, "--label", "main"], &[])
            .status
            .code(),
        Some(0)
    );

    // NDJSON to a file: two runs of six concurrencies -> 12 documents, action + document lines.
    let out = dir.path().join("docs.ndjson");
    let o = servebench(
        dir.path(),
        &[
            "export",
            "opensearch",
            "--since",
            "2025-01-01",
            "-o",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    let ndjson = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<serde_json::Value> = ndjson
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 24);
    assert_eq!(lines[0]["index"]["_index"], "servebench-perf-sanity");
    let doc = &lines[1];
    assert_eq!(doc["l_concurrency"], 4);
    assert_eq!(doc["d_median_ttft"], 236.92);
    assert_eq!(doc["d_median_e2el"], 5894.81);
    assert_eq!(doc["s_branch"], "main");
    assert_eq!(doc["l_sm_clk"], 2062);
    assert_eq!(doc["b_is_valid"], true);

    // Posting: the stand-in fails once (503), then rejects one document of the batch.
    let ok_items: Vec<String> = (0..11)
        .map(|i| format!(r#"{{"index":{{"_id":"d{i}","status":201}}}}"#))
        .collect();
    let reply = format!(
        r#"{{"errors":true,"items":[{},{{"index":{{"_id":"bad-doc","status":400,"error":{{"type":"mapper_parsing_exception","reason":"failed to parse field [d_median_ttft]"}}}}}}]}}"#,
        ok_items.join(",")
    );
    let (addr, received) = stand_in(vec![(503, "{}".into()), (200, reply)]);
    let url = format!("http://os-user:hunter2-secret@{addr}/");
    let o = servebench(
        dir.path(),
        &["export", "opensearch", "--since", "2025-01-01"],
        &[("OPEN_SEARCH_DB_BASE_URL", &url)],
    );
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("1 of 12 documents rejected"), "{stderr}");
    assert!(
        stderr.contains("document bad-doc: HTTP 400: failed to parse field [d_median_ttft]"),
        "{stderr}"
    );
    assert!(stderr.contains("http://***@127.0.0.1"), "{stderr}");
    assert!(
        !stdout.contains("hunter2") && !stderr.contains("hunter2"),
        "{stdout}{stderr}"
    );
    let first = received.recv().unwrap();
    let (head, body) = received.recv().unwrap();
    assert!(first.0.starts_with("POST /_bulk "), "{}", first.0);
    assert_eq!(body, ndjson, "the retry sends the same body");
    // The credentials travel as Basic auth ("os-user:hunter2-secret"), not in the URL.
    assert!(
        head.contains("authorization: Basic b3MtdXNlcjpodW50ZXIyLXNlY3JldA=="),
        "{head}"
    );
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/x-ndjson"),
        "{head}"
    );

    // All accepted, in batches of 5 documents: three requests (5, 5, 2), with the
    // credentials from the environment this time.
    let accepted = |n: usize| {
        let items: Vec<String> = (0..n)
            .map(|i| format!(r#"{{"index":{{"_id":"d{i}","status":201}}}}"#))
            .collect();
        (
            200,
            format!(r#"{{"errors":false,"items":[{}]}}"#, items.join(",")),
        )
    };
    let (addr, rx) = stand_in(vec![accepted(5), accepted(5), accepted(2)]);
    let o = servebench(
        dir.path(),
        &[
            "export",
            "opensearch",
            "--since",
            "2025-01-01",
            "--batch-size",
            "5",
        ],
        &[
            ("OPEN_SEARCH_DB_BASE_URL", &format!("http://{addr}")),
            ("OPEN_SEARCH_DB_PASSWORD", "env-pass-xyz"),
            ("OPEN_SEARCH_DB_USERNAME", "u"),
        ],
    );
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("12 documents posted"), "{stderr}");
    assert!(stderr.contains("(3 requests)"), "{stderr}");
    let received: Vec<(String, String)> = rx.try_iter().collect();
    let lines: Vec<usize> = received.iter().map(|(_, b)| b.lines().count()).collect();
    assert_eq!(lines, [10, 10, 4]);
    let bodies: String = received.iter().map(|(_, b)| b.as_str()).collect();
    assert_eq!(bodies, ndjson, "the batches together are the whole export");
    // "u:env-pass-xyz"
    assert!(
        received[0].0.contains("Basic dTplbnYtcGFzcy14eXo="),
        "{}",
        received[0].0
    );
    assert!(!stdout.contains("env-pass-xyz") && !stderr.contains("env-pass-xyz"));
}
