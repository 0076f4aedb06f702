//! Render time and size of a large report: 1,000 tests x 8 concurrencies x 30 runs of history
//! of 3 gated metrics (240,000 history points per metric). Targets: HTML under 2 s and under
//! 20 MB; Markdown under 65,000 characters.
//!
//! `cargo bench -p servebench-report --bench render [-- TESTS CONCURRENCIES RUNS]`; with
//! `SERVEBENCH_BENCH_HTML=FILE` the page is also written there, to look at.
#![allow(clippy::unwrap_used, reason = "a benchmark fails loudly")]

#[path = "../tests/support/sample.rs"]
#[allow(
    dead_code,
    reason = "shared with the tests and the example; each uses a part"
)]
mod sample;

use std::time::{Duration, Instant};

fn main() {
    // `cargo bench` passes `--bench`; the numbers are ours.
    let nums: Vec<usize> = std::env::args().filter_map(|a| a.parse().ok()).collect();
    let tests = nums.first().copied().unwrap_or(1_000);
    let concurrencies = nums.get(1).copied().unwrap_or(8);
    let runs = nums.get(2).copied().unwrap_or(30);
    let input = sample::synthetic(tests, concurrencies, runs);
    let history: usize = input
        .tests
        .iter()
        .flat_map(|t| &t.history)
        .map(|s| s.points.len())
        .sum();
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..5 {
        let start = Instant::now();
        let html = servebench_report::render_html(&input);
        times.push(start.elapsed());
        size = html.len();
        if let Ok(p) = std::env::var("SERVEBENCH_BENCH_HTML") {
            std::fs::write(p, &html).unwrap();
        }
    }
    times.sort();
    let start = Instant::now();
    let md = servebench_report::render_markdown(&input);
    let md_time = start.elapsed();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{tests} tests x {concurrencies} concurrencies x {runs} runs ({history} history points): \
         HTML {:.1} MB, render min {:.0} ms, median {:.0} ms, max {:.0} ms (target < 2000 ms, < 20 MB)",
        size as f64 / 1e6,
        ms(times[0]),
        ms(times[2]),
        ms(times[4]),
    );
    println!(
        "Markdown {} bytes in {:.1} ms (limit {})",
        md.len(),
        ms(md_time),
        servebench_report::MARKDOWN_LIMIT
    );
    assert!(size < 20_000_000, "HTML over 20 MB");
    assert!(times[2] < Duration::from_secs(2), "render over 2 s");
}
