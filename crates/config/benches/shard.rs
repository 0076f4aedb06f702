//! CI shard splitting: every upstream fixture list (plain and test-db) parsed, its test names
//! extended to 1,000 tests with synthetic recorded durations, and split into 8 groups with
//! least_duration. Target (issue 14): under 100 ms.
//!
//! `cargo bench -p servebench-config --bench shard [-- ITERATIONS]`
#![allow(clippy::unwrap_used, reason = "a benchmark fails loudly")]

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use servebench_config::select::{ShardTest, TestList, TestRef, split};

const TESTS: usize = 1000;
const GROUPS: usize = 8;

fn fixture_lists() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/upstream");
    let mut out = Vec::new();
    for dir in [
        "tests/integration/defs/perf/disagg/testlist",
        "tests/integration/test_lists/qa",
        "tests/integration/test_lists/test-db",
    ] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            out.push(e.unwrap().path());
        }
    }
    out.sort();
    out
}

fn name(r: &TestRef) -> String {
    match r {
        TestRef::Name(n) => n.clone(),
        TestRef::DisaggNode { test_id, .. } => test_id.clone(),
        TestRef::PerfSanity(c) => c.rest.clone(),
    }
}

/// Parses the lists, names 1,000 tests after their lines, looks their durations up and splits.
fn run(paths: &[PathBuf], durations: &HashMap<String, Duration>) -> usize {
    let mut names = Vec::new();
    for p in paths {
        let list = TestList::read(p).unwrap();
        names.extend(list.entries.iter().map(|e| name(&e.reference)));
    }
    let base = names.len();
    let tests: Vec<ShardTest> = (0..TESTS)
        .map(|i| {
            let id = format!("{}#{}", names[i % base], i / base);
            ShardTest {
                recorded: durations.get(&id).copied(),
                planned_gpu_hours: None,
            }
        })
        .collect();
    let shards = split(&tests, NonZeroUsize::new(GROUPS).unwrap());
    shards.groups.iter().map(|g| g.tests.len()).sum()
}

fn main() {
    let iterations: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(50);
    let paths = fixture_lists();
    let mut names = Vec::new();
    for p in &paths {
        let list = TestList::read(p).unwrap();
        names.extend(list.entries.iter().map(|e| name(&e.reference)));
    }
    // Synthetic durations, 1 to 120 minutes, from a fixed linear congruential sequence.
    let mut seed: u64 = 42;
    let durations: HashMap<String, Duration> = (0..TESTS)
        .map(|i| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let id = format!("{}#{}", names[i % names.len()], i / names.len());
            (id, Duration::from_secs(60 + (seed >> 33) % 7140))
        })
        .collect();
    assert_eq!(run(&paths, &durations), TESTS);
    let mut times: Vec<Duration> = (0..iterations)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(run(&paths, &durations));
            start.elapsed()
        })
        .collect();
    times.sort();
    let median = times[times.len() / 2];
    let worst = times[times.len() - 1];
    println!(
        "{} lists ({} lines) -> {TESTS} tests -> {GROUPS} groups: median {:.2} ms, max {:.2} ms over {iterations} runs (target < 100 ms)",
        paths.len(),
        names.len(),
        median.as_secs_f64() * 1e3,
        worst.as_secs_f64() * 1e3,
    );
}
