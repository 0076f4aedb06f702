//! Process exit codes, defined once. Documented in `docs/exit-codes.md`; keep both in sync.

/// Success: the command did what was asked and every check passed.
pub const OK: u8 = 0;
/// The command's own check failed: invalid configs (`validate`), failed, invalid or regressed
/// tests (`run`), failed requests (`bench`).
pub const FAILED: u8 = 1;
/// Usage error: bad command line, unreadable input path, unknown test list entry.
pub const USAGE: u8 = 2;
/// Infrastructure error: scheduler unavailable, server unreachable, internal error.
pub const INFRA: u8 = 3;
/// Interrupted by Ctrl-C or SIGTERM (128 + SIGINT).
pub const INTERRUPTED: u8 = 130;
