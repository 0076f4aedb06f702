//! Builders shared by the integration tests.

use servebench_verdict::{Observation, Series};

/// A passing `main` run of configuration `cfg-1`.
pub fn run(i: usize, value: f64) -> Observation {
    Observation {
        run_id: format!("run-{i}"),
        timestamp: 1_700_000_000 + i as i64 * 86_400,
        label: "main".into(),
        value,
        spread: None,
        passing: true,
        fingerprint: "cfg-1".into(),
        tags: vec![],
    }
}

/// A fixed ±2.5% noise pattern (sample SD about 1.6%), so tests need no random numbers.
pub const WIGGLE: [f64; 10] = [0.0, 1.5, -2.0, 0.5, 2.5, -1.0, -0.5, 1.0, -2.5, 2.0];

/// `n` runs around `level` with [`WIGGLE`] noise, then runs with the given values.
pub fn series(n: usize, level: f64, then: &[f64]) -> Series {
    let mut observations: Vec<Observation> = (0..n)
        .map(|i| run(i, level * (1.0 + WIGGLE[i % WIGGLE.len()] / 100.0)))
        .collect();
    observations.extend(then.iter().enumerate().map(|(k, v)| run(n + k, *v)));
    Series {
        observations,
        ..Series::default()
    }
}
