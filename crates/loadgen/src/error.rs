//! Errors of a benchmark run.

use std::path::PathBuf;

/// Why a benchmark could not run (failed requests are not errors: they are counted in the report).
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The configuration is contradictory or out of range.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// A dataset or tokenizer file could not be read or parsed.
    #[error("cannot use {path}: {message}")]
    Input {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// The server could not be reached before the clock started.
    #[error("server {url} unreachable")]
    Unreachable {
        /// The base URL.
        url: String,
        /// The connection error.
        #[source]
        source: std::io::Error,
    },
    /// The server answered the set-up query (`/v1/models`) wrongly.
    #[error("server {url} answered the model query badly: {message}")]
    BadServer {
        /// The URL asked.
        url: String,
        /// What was wrong.
        message: String,
    },
    /// A bug or an operating-system failure inside the client.
    #[error("internal error: {0}")]
    Internal(String),
}
