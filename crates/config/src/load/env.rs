//! The environment layer: the upstream loader's variables (reference/upstream.md 2.10) written
//! into the tree with the variable that set each value as its origin.

use std::collections::BTreeMap;
use std::path::Path;

use super::layers::{record, str_node};
use crate::decode::join;
use crate::model::Origin;
use crate::yaml::{Node, Value};

/// Environment variables the loader reads (upstream names, SPEC 3.4).
pub const ENV_VARS: &[&str] = &[
    "SLURM_PARTITION",
    "SLURM_ACCOUNT",
    "SLURM_JOB_NAME",
    "CONTAINER_IMAGE",
    "MODEL_DIR",
    "DATASET_DIR",
    "REPO_DIR",
    "TRTLLM_WHEEL_PATH",
    "HF_HOME_DIR",
    "OUTPUT_PATH",
    "WORK_DIR",
    "SCRIPT_DIR",
    "INSTALL_MODE",
];

/// Applies the environment variables that are set.
pub(super) fn apply_env(
    root: &mut Node,
    env: &BTreeMap<String, String>,
    prov: &mut BTreeMap<String, Origin>,
) {
    let get = |k: &str| env_value(env, k);
    let set = |root: &mut Node,
               prov: &mut BTreeMap<String, Origin>,
               path: &str,
               value: String,
               var: &str| {
        root.set_path(path, str_node(value));
        record(prov, path, Origin::Env(var.to_string()));
    };
    for (var, path) in [
        ("SLURM_PARTITION", "slurm.partition"),
        ("SLURM_ACCOUNT", "slurm.account"),
        ("SLURM_JOB_NAME", "slurm.job_name"),
        ("CONTAINER_IMAGE", "environment.container_image"),
        ("TRTLLM_WHEEL_PATH", "environment.trtllm_wheel_path"),
        ("HF_HOME_DIR", "accuracy.env_var.HF_HOME"),
        ("SCRIPT_DIR", "environment.work_dir"),
    ] {
        if let Some(v) = get(var) {
            set(root, prov, path, v.clone(), var);
        }
    }
    let meta = |root: &Node, key: &str| {
        root.at(&format!("metadata.{key}"))
            .and_then(Node::as_str)
            .map(str::to_string)
    };
    if let (Some(dir), Some(name)) = (
        get("MODEL_DIR"),
        meta(root, "model_dir_name").filter(|n| !n.is_empty()),
    ) {
        set(
            root,
            prov,
            "environment.model_path",
            format!("{}/{name}", dir.trim_end_matches('/')),
            "MODEL_DIR",
        );
    }
    if let (Some(dir), Some(file)) = (
        get("DATASET_DIR"),
        meta(root, "dataset_file").filter(|n| !n.is_empty()),
    ) {
        set(
            root,
            prov,
            "benchmark.dataset_file",
            format!("{}/{file}", dir.trim_end_matches('/')),
            "DATASET_DIR",
        );
    }
    if let Some(dir) = get("SCRIPT_DIR") {
        let script = meta(root, "script_file").unwrap_or_else(|| "disaggr_torch.slurm".into());
        set(
            root,
            prov,
            "slurm.script_file",
            format!("{}/{script}", dir.trim_end_matches('/')),
            "SCRIPT_DIR",
        );
    }
    if let Some(repo) = get("REPO_DIR") {
        if env.get("INSTALL_MODE").map(String::as_str) == Some("source") {
            set(
                root,
                prov,
                "environment.trtllm_repo",
                repo.clone(),
                "REPO_DIR",
            );
        }
        substitute_repo_path(root, repo, prov);
    }
    merge_mounts(root, env, prov);
}

/// Every set directory variable is mounted at the same path in the container. The mounts are
/// added to those the file or the cluster profile already lists (never replacing them, nor
/// repeating one), and the origin names exactly the layers and variables that contributed.
fn merge_mounts(
    root: &mut Node,
    env: &BTreeMap<String, String>,
    prov: &mut BTreeMap<String, Origin>,
) {
    const PATH: &str = "environment.container_mount";
    let get = |k: &str| env_value(env, k);
    let mut vars = Vec::new();
    let mut added = Vec::new();
    for var in [
        "WORK_DIR",
        "SCRIPT_DIR",
        "MODEL_DIR",
        "OUTPUT_PATH",
        "DATASET_DIR",
        "REPO_DIR",
    ] {
        if let Some(p) = get(var) {
            added.push(format!("{p}:{p}"));
            vars.push(var);
        }
    }
    let wheel_dir = get("TRTLLM_WHEEL_PATH")
        .and_then(|w| Path::new(w).parent()?.to_str())
        .filter(|d| !d.is_empty());
    if let Some(dir) = wheel_dir {
        added.push(format!("{dir}:{dir}"));
        vars.push("TRTLLM_WHEEL_PATH");
    }
    if added.is_empty() {
        return;
    }
    let kimi = root
        .at("metadata.model_name")
        .and_then(Node::as_str)
        .is_some_and(|m| m.to_ascii_lowercase().contains("kimi-k2"));
    if kimi {
        added.push("tmpfs:/dev/shm:size=640G".into());
    }
    // An unresolved `<container_mount>` placeholder is replaced, not kept.
    let existing: Vec<String> = root
        .at(PATH)
        .and_then(Node::as_str)
        .filter(|m| !m.trim_start().starts_with('<'))
        .map(|m| {
            m.split(',')
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let env_origin = Origin::Env(vars.join(", "));
    let origin = if existing.is_empty() {
        env_origin
    } else {
        let before = prov.get(PATH).cloned().unwrap_or(Origin::File);
        Origin::Merged(vec![before, env_origin])
    };
    let mut all = existing;
    for m in added {
        if !all.contains(&m) {
            all.push(m);
        }
    }
    root.set_path(PATH, str_node(all.join(",")));
    record(prov, PATH, origin);
}

/// A variable's value when it is set to a usable value (not empty, not itself a placeholder).
fn env_value<'e>(env: &'e BTreeMap<String, String>, key: &str) -> Option<&'e String> {
    env.get(key)
        .filter(|v| !v.is_empty() && !v.starts_with('<'))
}

/// `<repo_path>` inside accuracy task options becomes REPO_DIR (upstream substituted only there;
/// we substitute it in every string of the `accuracy` section).
fn substitute_repo_path(root: &mut Node, repo: &str, prov: &mut BTreeMap<String, Origin>) {
    fn walk(node: &mut Node, path: String, repo: &str, hits: &mut Vec<String>) {
        match &mut node.value {
            Value::Str(s) if s.contains("<repo_path>") => {
                *s = s.replace("<repo_path>", repo);
                hits.push(path);
            }
            Value::Map(entries) => {
                for (k, v) in entries.iter_mut() {
                    let key = k.as_key().unwrap_or_default().to_string();
                    walk(v, join(&path, &key), repo, hits);
                }
            }
            Value::Seq(items) => {
                for (i, v) in items.iter_mut().enumerate() {
                    walk(v, join(&path, &i.to_string()), repo, hits);
                }
            }
            _ => {}
        }
    }
    let Value::Map(entries) = &mut root.value else {
        return;
    };
    let mut hits = Vec::new();
    for (k, v) in entries.iter_mut() {
        if k.as_key() == Some("accuracy") {
            walk(v, "accuracy".into(), repo, &mut hits);
        }
    }
    for h in hits {
        record(prov, &h, Origin::Env("REPO_DIR".into()));
    }
}
