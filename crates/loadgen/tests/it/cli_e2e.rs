//! `servebench bench` end to end through `cli::run`: exit codes and output files.

use std::io::Write;

use clap::Parser;
use servebench_loadgen::cli::{BenchArgs, run};

use super::{TestServer, dataset};

#[derive(Debug, clap::Parser)]
struct Wrap {
    #[command(flatten)]
    args: BenchArgs,
}

fn bench(argv: &[&str]) -> u8 {
    let w = Wrap::try_parse_from(std::iter::once("bench").chain(argv.iter().copied())).unwrap();
    run(w.args)
}

#[test]
fn exit_codes_and_files() {
    let _serial = super::serial();
    let srv = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let url = srv.url();
    let rows: Vec<_> = (0..6).map(|i| (format!("req-{i};itl=1"), 3)).collect();
    let good = dataset(&rows);
    // A directory that does not exist yet is created for the per-request file.
    let per_req = format!("{d}/new/dir/requests.jsonl");
    let code = bench(&[
        "--base-url",
        &url,
        "--model",
        "m",
        "--dataset-name",
        "jsonl",
        "--dataset-path",
        good.path().to_str().unwrap(),
        "--num-prompts",
        "6",
        "--max-concurrency",
        "1,3",
        "--save-result",
        "--result-dir",
        d,
        "--result-filename",
        "result.json",
        "--per-request",
        &per_req,
        "--threads",
        "2",
    ]);
    assert_eq!(code, 0);
    for c in [1, 3] {
        let text = std::fs::read_to_string(format!("{d}/concurrency_{c}/result.json")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["max_concurrency"], c);
        assert_eq!(v["completed"], 6);
        assert_eq!(v["backend"], "openai");
        for key in [
            "duration",
            "total_output_tokens",
            "request_throughput",
            "output_throughput",
            "mean_ttft_ms",
            "median_tpot_ms",
            "p99_itl_ms",
            "ttfts",
            "itls",
            "e2els",
            "errors",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        assert_eq!(v["total_output_tokens"], 18);
        assert!(
            v["servebench"]["client_health"]["achieved_concurrency_peak"]
                .as_u64()
                .unwrap()
                <= c
        );
    }
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&per_req)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 12, "one line per request of each sweep step");
    assert!(
        lines
            .iter()
            .all(|l| l["success"] == true && l["output_tokens"] == 3)
    );

    // Failed requests: exit 1.
    let bad = dataset(&[("req-0;status=500".into(), 3), ("req-1".into(), 3)]);
    let code = bench(&[
        "--base-url",
        &url,
        "--model",
        "m",
        "--dataset-name",
        "jsonl",
        "--dataset-path",
        bad.path().to_str().unwrap(),
        "--num-prompts",
        "2",
    ]);
    assert_eq!(code, 1);

    // Unreadable dataset: exit 2. Contradictory options: exit 2.
    let code = bench(&[
        "--base-url",
        &url,
        "--dataset-name",
        "jsonl",
        "--dataset-path",
        "/nonexistent/x.jsonl",
    ]);
    assert_eq!(code, 2);
    let code = bench(&["--base-url", &url, "--dataset-name", "jsonl"]);
    assert_eq!(code, 2);

    // Unreachable server: exit 3.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let code = bench(&[
        "--port",
        &port.to_string(),
        "--model",
        "m",
        "--dataset-name",
        "jsonl",
        "--dataset-path",
        good.path().to_str().unwrap(),
        "--num-prompts",
        "1",
        "--max-concurrency",
        "1",
    ]);
    assert_eq!(code, 3);
    let _ = std::io::stdout().flush();
}
