//! Reading a config file: size and encoding checks before any parsing.

use std::path::Path;

use crate::diag::{Diagnostic, Rule};

/// Files larger than this are rejected unread (no config is anywhere near it).
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Reads a file with the size and encoding checks.
pub fn read_source(path: &Path) -> Result<String, Box<Diagnostic>> {
    let fail = |msg: String, hint: &str| {
        Err(Box::new(
            Diagnostic::new(Rule::FileUnreadable, path, "", msg).hint(hint.to_string()),
        ))
    };
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            return fail(
                format!("cannot read file: {e}"),
                "check the path and permissions",
            );
        }
    };
    if !meta.is_file() {
        return fail(
            "not a regular file".into(),
            "pass a YAML file or a directory of them",
        );
    }
    if meta.len() > MAX_FILE_BYTES {
        return fail(
            format!(
                "file is {} bytes, more than the {MAX_FILE_BYTES}-byte limit",
                meta.len()
            ),
            "a test config is a few kilobytes; is this the right file?",
        );
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            return fail(
                format!("cannot read file: {e}"),
                "check the path and permissions",
            );
        }
    };
    match String::from_utf8(bytes) {
        Ok(s) => Ok(s),
        Err(e) => fail(
            format!(
                "file is not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
            "save the file as UTF-8",
        ),
    }
}
