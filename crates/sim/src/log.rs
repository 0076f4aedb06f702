//! The role's log, written the way TensorRT-LLM writes its own (`[date] [TRT-LLM] [I] ...`), so
//! that log-watching (fatal patterns, readiness lines) can be tested against the simulator.
//!
//! This is the engine's own output stream, not diagnostics of servebench, so it does not go
//! through `tracing`: a real engine's log is what the orchestrator captures and scans.

use std::io::Write;
use std::sync::{Arc, Mutex};

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
    stamp(jiff::Timestamp::now())
}

fn stamp(t: jiff::Timestamp) -> String {
    t.strftime("%m/%d/%Y-%H:%M:%S").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        let at = |s: i64| stamp(jiff::Timestamp::from_second(s).unwrap());
        assert_eq!(at(0), "01/01/1970-00:00:00");
        assert_eq!(at(20_454 * 86_400 + 3_723), "01/01/2026-01:02:03");
        assert_eq!(at(11_016 * 86_400 + 86_399), "02/29/2000-23:59:59");
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
