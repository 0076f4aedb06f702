//! Unresolved `<name>` placeholders: found anywhere in the resolved tree, reported with the
//! variable or field that would resolve them.

use crate::decode::{Decoder, display_path};
use crate::diag::{Diagnostic, Rule};
use crate::yaml::{Node, Value};

/// Reports every unresolved placeholder in the resolved tree.
pub(super) fn scan_placeholders(dec: &mut Decoder<'_>, node: &Node, path: &mut String) {
    // The path buffer is extended and truncated in place: this runs on every value of every
    // file, so it must not allocate per node.
    match &node.value {
        Value::Str(s) if s.contains('<') => {
            for ph in placeholders(s) {
                let (var, field_hint) = placeholder_source(ph);
                dec.push(
                    Diagnostic::new(
                        Rule::Placeholder,
                        dec.file,
                        display_path(path),
                        format!("placeholder `{ph}` is not resolved"),
                    )
                    .at(Some(node.span))
                    .actual(s.clone())
                    .expected("a real value at submission time")
                    .hint(format!(
                        "set {var}, or `--set {field_hint}=...`, or a cluster profile value"
                    )),
                );
            }
        }
        Value::Map(entries) => {
            for (k, v) in entries {
                if let Some(key) = k.as_key() {
                    let len = path.len();
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(key);
                    scan_placeholders(dec, v, path);
                    path.truncate(len);
                }
            }
        }
        Value::Seq(items) => {
            for (i, v) in items.iter().enumerate() {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                let _ = std::fmt::Write::write_fmt(path, format_args!("{i}"));
                scan_placeholders(dec, v, path);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// `<name>` tokens (lowercase letters, digits, `_`) in a string.
pub fn placeholders(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find('<') {
        let tail = &rest[start..];
        match tail.find('>') {
            Some(end) if end > 1 => {
                let inner = &tail[1..end];
                if inner
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                {
                    out.push(&tail[..=end]);
                }
                rest = &tail[end + 1..];
            }
            _ => break,
        }
    }
    out
}

fn placeholder_source(ph: &str) -> (&'static str, &'static str) {
    match ph {
        "<partition>" => ("SLURM_PARTITION", "slurm.partition"),
        "<account>" => ("SLURM_ACCOUNT", "slurm.account"),
        "<job_name>" => ("SLURM_JOB_NAME", "slurm.job_name"),
        "<container_image>" | "<enroot_file_path>" => {
            ("CONTAINER_IMAGE", "environment.container_image")
        }
        "<model_path>" | "<path_to_model>" => (
            "MODEL_DIR (with metadata.model_dir_name)",
            "environment.model_path",
        ),
        "<dataset_file>" => (
            "DATASET_DIR (with metadata.dataset_file)",
            "benchmark.dataset_file",
        ),
        "<container_mount>" => (
            "WORK_DIR/SCRIPT_DIR/MODEL_DIR/DATASET_DIR",
            "environment.container_mount",
        ),
        "<full_path_to_work_dir>" => ("SCRIPT_DIR", "environment.work_dir"),
        "<hf_home_path>" => ("HF_HOME_DIR", "accuracy.env_var.HF_HOME"),
        "<repo_path>" | "<trtllm_repo>" => ("REPO_DIR", "environment.trtllm_repo"),
        _ => ("the matching environment variable", "<field>"),
    }
}
