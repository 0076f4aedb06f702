//! The role's log, written the way TensorRT-LLM writes its own (`[date] [TRT-LLM] [I] ...`), so
//! that log-watching (fatal patterns, readiness lines) can be tested against the simulator.
//!
//! This is the engine's own output stream, not diagnostics of servebench, so it does not go
//! through `tracing`: a real engine's log is what the orchestrator captures and scans.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// Where log lines go.
#[derive(Debug, Clone, Default)]
pub enum EngineLog {
    /// Standard error (the role's log file when launched by the orchestrator).
    #[default]
    Stderr,
    /// Kept in memory (for tests).
    Memory(Arc<Mutex<Vec<String>>>),
    /// Discarded.
    Off,
}

/// Severity letters as TensorRT-LLM prints them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// `[I]`.
    Info,
    /// `[W]`.
    Warning,
    /// `[E]`.
    Error,
}

impl EngineLog {
    /// A log kept in memory, and the handle to read it.
    pub fn memory() -> (Self, Arc<Mutex<Vec<String>>>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        (EngineLog::Memory(lines.clone()), lines)
    }

    /// Writes one line with a timestamp and level.
    pub fn line(&self, level: Level, msg: &str) {
        let l = match level {
            Level::Info => 'I',
            Level::Warning => 'W',
            Level::Error => 'E',
        };
        self.raw(&format!("[{}] [TRT-LLM] [{l}] {msg}", timestamp()));
    }

    /// Writes a line the way uvicorn (the HTTP server under `trtllm-serve`) does:
    /// `INFO:     message`.
    pub fn uvicorn(&self, msg: &str) {
        self.raw(&format!("INFO:     {msg}"));
    }

    /// Writes a Python-style traceback for an injected fault, as an engine logs an unhandled
    /// exception: an error line, the frames, then `ExceptionType: message`.
    pub fn traceback(&self, exception: &str, msg: &str) {
        self.line(Level::Error, "Traceback (most recent call last):");
        self.raw("  File \"/usr/local/lib/python3.12/dist-packages/tensorrt_llm/serve/openai_server.py\", line 512, in openai_completion");
        self.raw("    response = await self.llm.generate_async(prompt, sampling_params)");
        self.raw("  File \"/usr/local/lib/python3.12/dist-packages/tensorrt_llm/executor/result.py\", line 338, in _handle_response");
        self.raw("    raise RequestError(response.error_msg)");
        self.raw(&format!("{exception}: {msg}"));
    }

    fn raw(&self, line: &str) {
        match self {
            EngineLog::Stderr => {
                let mut err = std::io::stderr().lock();
                let _ = writeln!(err, "{line}");
            }
            EngineLog::Memory(lines) => {
                if let Ok(mut l) = lines.lock() {
                    l.push(line.to_owned());
                }
            }
            EngineLog::Off => {}
        }
    }
}

/// `MM/DD/YYYY-HH:MM:SS` in UTC, the TensorRT-LLM logger's format.
fn timestamp() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{m:02}/{d:02}/{y:04}-{:02}:{:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_454), (2026, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn traceback_shape() {
        let (log, lines) = EngineLog::memory();
        log.traceback("RuntimeError", "boom");
        let lines = lines.lock().unwrap();
        assert!(lines[0].contains("[TRT-LLM] [E] Traceback (most recent call last):"));
        assert_eq!(lines.last().unwrap(), "RuntimeError: boom");
    }
}
