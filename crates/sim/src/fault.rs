//! Fault injection (`--fault SPEC`, repeatable).

use std::time::Duration;

/// One injected fault.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// `start-delay=DURATION`: stay unhealthy this much longer (wall clock, not scaled).
    StartDelay(Duration),
    /// `never-healthy`: `/health` and the API answer 503 forever.
    NeverHealthy,
    /// `crash-after=N`: exit with [`crate::cli::EXIT_CRASH`] once N requests have been answered.
    CrashAfter(u64),
    /// `hang-after=N`: after N requests have arrived, stop answering anything (sockets stay
    /// open).
    HangAfter(u64),
    /// `error-rate=P`: answer this fraction of API requests with HTTP 500.
    ErrorRate(f64),
    /// `cut-stream-rate=P`: close this fraction of streams half-way, without the final chunk.
    CutStreamRate(f64),
    /// `slow-factor=X`: multiply every iteration time by X.
    SlowFactor(f64),
}

/// A fault spec that does not parse.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("invalid fault `{spec}`: {reason}")]
pub struct FaultParseError {
    spec: String,
    reason: String,
}

impl std::str::FromStr for Fault {
    type Err = FaultParseError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| FaultParseError {
            spec: spec.to_owned(),
            reason: reason.to_owned(),
        };
        let (key, value) = match spec.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim())),
            None => (spec.trim(), None),
        };
        let need = || value.ok_or_else(|| err("expected KEY=VALUE"));
        let count = || -> Result<u64, FaultParseError> {
            need()?.parse().map_err(|_| err("expected a whole number"))
        };
        let rate = || -> Result<f64, FaultParseError> {
            let p: f64 = need()?.parse().map_err(|_| err("expected a number"))?;
            if (0.0..=1.0).contains(&p) {
                Ok(p)
            } else {
                Err(err("expected a probability between 0 and 1"))
            }
        };
        match key {
            "start-delay" => parse_duration(need()?)
                .map(Fault::StartDelay)
                .ok_or_else(|| err("expected a duration such as 500ms, 2s or 1m")),
            "never-healthy" if value.is_none() => Ok(Fault::NeverHealthy),
            "crash-after" => count().map(Fault::CrashAfter),
            "hang-after" => count().map(Fault::HangAfter),
            "error-rate" => rate().map(Fault::ErrorRate),
            "cut-stream-rate" => rate().map(Fault::CutStreamRate),
            "slow-factor" => {
                let x: f64 = need()?.parse().map_err(|_| err("expected a number"))?;
                if x.is_finite() && x > 0.0 {
                    Ok(Fault::SlowFactor(x))
                } else {
                    Err(err("expected a positive number"))
                }
            }
            _ => Err(err(
                "known faults: start-delay=DURATION, never-healthy, crash-after=N, hang-after=N, error-rate=P, cut-stream-rate=P, slow-factor=X",
            )),
        }
    }
}

/// Parses `500ms`, `2s`, `1.5s`, `3m`, `1h` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, mult) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = s.strip_suffix('h') {
        (n, 3600.0)
    } else {
        (s, 1.0)
    };
    let v: f64 = num.trim().parse().ok()?;
    (v.is_finite() && v >= 0.0).then(|| Duration::from_secs_f64(v * mult))
}

/// The faults of one server, folded into settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultSet {
    /// Extra unhealthy time.
    pub start_delay: Duration,
    /// Never healthy.
    pub never_healthy: bool,
    /// Crash once this many requests are answered.
    pub crash_after: Option<u64>,
    /// Hang once this many requests have arrived.
    pub hang_after: Option<u64>,
    /// HTTP 500 probability.
    pub error_rate: f64,
    /// Stream cut probability.
    pub cut_stream_rate: f64,
    /// Iteration time multiplier.
    pub slow_factor: f64,
}

impl FaultSet {
    /// Folds a list of faults (later ones win).
    pub fn new(faults: &[Fault]) -> Self {
        let mut s = FaultSet {
            slow_factor: 1.0,
            ..FaultSet::default()
        };
        for f in faults {
            match f {
                Fault::StartDelay(d) => s.start_delay = *d,
                Fault::NeverHealthy => s.never_healthy = true,
                Fault::CrashAfter(n) => s.crash_after = Some(*n),
                Fault::HangAfter(n) => s.hang_after = Some(*n),
                Fault::ErrorRate(p) => s.error_rate = *p,
                Fault::CutStreamRate(p) => s.cut_stream_rate = *p,
                Fault::SlowFactor(x) => s.slow_factor = *x,
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_fault() {
        let ok = [
            ("start-delay=2s", Fault::StartDelay(Duration::from_secs(2))),
            (
                "start-delay=250ms",
                Fault::StartDelay(Duration::from_millis(250)),
            ),
            ("never-healthy", Fault::NeverHealthy),
            ("crash-after=3", Fault::CrashAfter(3)),
            ("hang-after=0", Fault::HangAfter(0)),
            ("error-rate=0.5", Fault::ErrorRate(0.5)),
            ("cut-stream-rate=1", Fault::CutStreamRate(1.0)),
            ("slow-factor=2.5", Fault::SlowFactor(2.5)),
        ];
        for (s, f) in ok {
            assert_eq!(s.parse::<Fault>(), Ok(f), "{s}");
        }
        for bad in [
            "crash-after",
            "crash-after=x",
            "error-rate=2",
            "slow-factor=0",
            "boom",
            "never-healthy=1",
            "start-delay=soon",
        ] {
            assert!(bad.parse::<Fault>().is_err(), "{bad}");
        }
    }
}
