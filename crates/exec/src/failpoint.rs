//! Fault injection for the reliability campaign (`docs/reliability.md`).
//!
//! A named point in the pipeline (`before-sbatch`, `after-sbatch`, `before-store`, ...) calls
//! [`hit`]. When `SERVEBENCH_FAILPOINT=<name>[@<n>][:<action>]` names it, the `n`-th hit (1 by
//! default) of that point sends the process `action`: `kill` (SIGKILL, the default: the driver
//! dies on the spot, as when an OOM killer or a lost login node takes it), `term` (SIGTERM) or
//! `int` (SIGINT), both handled as a user's Ctrl-C would be. Without the variable a hit costs one
//! relaxed load. An unparsable value is reported once and otherwise ignored, so a typo cannot
//! change how a real run behaves.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// The variable that arms a point.
pub const ENV: &str = "SERVEBENCH_FAILPOINT";

/// Every point the pipeline has, in the order a run passes them.
pub const POINTS: &[&str] = &[
    "before-sbatch",
    "after-sbatch",
    "after-submitted",
    "poll",
    "after-finished",
    "collect",
    "before-store",
    "after-store",
    "after-csv",
    "before-results",
    "before-run-finished",
];

#[derive(Debug, PartialEq, Eq)]
struct Armed {
    name: String,
    nth: u64,
    signal: Signal,
}

fn parse(value: &str) -> Result<Armed, String> {
    let (point, action) = value.split_once(':').unwrap_or((value, "kill"));
    let (name, nth) = match point.split_once('@') {
        Some((name, n)) => (
            name,
            n.parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("`{n}` is not a hit count (1, 2, ...)"))?,
        ),
        None => (point, 1),
    };
    if !POINTS.contains(&name) {
        return Err(format!(
            "unknown point `{name}` (one of: {})",
            POINTS.join(", ")
        ));
    }
    let signal = match action {
        "kill" => Signal::SIGKILL,
        "term" => Signal::SIGTERM,
        "int" => Signal::SIGINT,
        other => return Err(format!("unknown action `{other}` (kill, term or int)")),
    };
    Ok(Armed {
        name: name.to_string(),
        nth,
        signal,
    })
}

fn armed() -> Option<&'static Armed> {
    static ARMED: OnceLock<Option<Armed>> = OnceLock::new();
    ARMED
        .get_or_init(|| {
            let value = std::env::var(ENV).ok()?;
            parse(&value)
                .map_err(|e| {
                    use std::io::Write as _;
                    let _ = writeln!(std::io::stderr(), "warning: {ENV}={value} ignored: {e}");
                })
                .ok()
        })
        .as_ref()
}

/// Passes the point `name`; fires when it is the armed one and this is its `n`-th pass.
pub fn hit(name: &str) {
    static HITS: AtomicU64 = AtomicU64::new(0);
    let Some(a) = armed() else { return };
    if a.name == name && HITS.fetch_add(1, Ordering::SeqCst) + 1 == a.nth {
        let _ = kill(Pid::this(), a.signal);
        if a.signal == Signal::SIGKILL {
            // The signal is delivered before `kill` returns; never run past the point.
            std::process::abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse() {
        assert_eq!(
            parse("after-sbatch@3:term"),
            Ok(Armed {
                name: "after-sbatch".into(),
                nth: 3,
                signal: Signal::SIGTERM
            })
        );
        assert_eq!(
            parse("poll").map(|a| (a.nth, a.signal)),
            Ok((1, Signal::SIGKILL))
        );
        assert!(parse("pol").unwrap_err().contains("unknown point `pol`"));
        assert!(parse("poll@0").unwrap_err().contains("hit count"));
        assert!(parse("poll:stop").unwrap_err().contains("unknown action"));
    }
}
