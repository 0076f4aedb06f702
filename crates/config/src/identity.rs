//! Test identity: test type and category from the path, benchmark type, GPU types, file-name
//! topology tokens and the configuration fingerprint (SPEC 3.5, 3.6).

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::yaml::{Node, Value, scalar_text};

/// Known test categories.
pub const CATEGORIES: [&str; 4] = ["perf", "accuracy", "stress", "perf-sanity"];

/// Known GPU types.
pub const GPU_TYPES: [&str; 6] = ["GB200", "GB300", "B200", "B300", "H100", "H200"];

/// Folds a GPU type name onto a known type: `GB200_LYRIS` -> `GB200`, `gb300` -> `GB300`.
/// Unknown names are returned upper-cased.
pub fn fold_gpu(name: &str) -> String {
    let upper = name.trim().to_ascii_uppercase();
    for known in GPU_TYPES {
        if upper == known
            || upper
                .strip_prefix(known)
                .is_some_and(|rest| rest.starts_with(['_', '-']))
        {
            return known.to_string();
        }
    }
    upper
}

/// Test type and category of a file (SPEC 3.5): `<type>/<category>/file.yaml` when the parent
/// directory is a known category; otherwise the nearest ancestor named like a category (else
/// `perf`) and a type from the content (`agg` or `disagg`, `wideep` when an ancestor says so).
pub fn classify(path: &Path, aggregated: bool) -> (String, String) {
    let ancestors: Vec<String> = path
        .parent()
        .map(|p| {
            p.components()
                .rev()
                .filter_map(|c| c.as_os_str().to_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if let (Some(parent), Some(grand)) = (ancestors.first(), ancestors.get(1))
        && CATEGORIES.contains(&parent.as_str())
        && grand != "/"
        && !grand.is_empty()
    {
        return (grand.clone(), parent.clone());
    }
    let category = ancestors
        .iter()
        .find(|a| CATEGORIES.contains(&a.as_str()))
        .cloned()
        .unwrap_or_else(|| "perf".to_string());
    let test_type = if aggregated {
        "agg"
    } else if ancestors.iter().any(|a| a == "wideep") {
        "wideep"
    } else {
        "disagg"
    };
    (test_type.to_string(), category)
}

/// `1024/1024 -> 1k1k`, `131072/8192 -> 128k8k`; other lengths print exactly (`1000-200`).
pub fn benchmark_type(isl: u64, osl: u64) -> String {
    if isl > 0 && osl > 0 && isl.is_multiple_of(1024) && osl.is_multiple_of(1024) {
        format!("{}k{}k", isl / 1024, osl / 1024)
    } else {
        format!("{isl}-{osl}")
    }
}

/// Topology facts encoded in a file name (`ctx2_gen1_dep16_bs64_eplb288_mtp3_ccb-NIXL`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameTopology {
    /// `ctx{N}`.
    pub ctx_servers: Option<u64>,
    /// `_pp{P}` right after `ctx{N}`.
    pub ctx_pp: Option<u64>,
    /// `dep{T}`/`tep{T}`/`tp{T}` right after `ctx{N}` (perf-sanity names).
    pub ctx_tp: Option<(bool, u64)>,
    /// `gen{M}`.
    pub gen_servers: Option<u64>,
    /// `dep{T}` (attention DP) or `tep{T}`/`tp{T}` after `gen{M}`: (attention_dp, tp).
    pub gen_tp: Option<(bool, u64)>,
    /// `bs{B}`.
    pub batch: Option<u64>,
    /// `eplb{E}`.
    pub eplb: Option<u64>,
    /// `mtp{K}`.
    pub mtp: Option<u64>,
    /// `ccb-{BACKEND}`.
    pub cache_backend: Option<String>,
    /// `con{C}`.
    pub concurrency: Option<u64>,
    /// `{I}k{O}k` (e.g. `8k1k`).
    pub benchmark_type: Option<String>,
}

fn num_after(token: &str, prefix: &str) -> Option<u64> {
    token.strip_prefix(prefix)?.parse().ok()
}

/// `1k1k`, `128k8k`: digits, `k`, digits, `k`.
fn is_benchmark_type(token: &str) -> bool {
    let Some(body) = token.strip_suffix('k') else {
        return false;
    };
    let Some((a, b)) = body.split_once('k') else {
        return false;
    };
    !a.is_empty() && !b.is_empty() && a.bytes().chain(b.bytes()).all(|c| c.is_ascii_digit())
}

/// Parses the topology tokens of a file stem. Unknown tokens are ignored.
pub fn parse_name(stem: &str) -> NameTopology {
    let mut t = NameTopology::default();
    // Which role a parallelism token belongs to: the last `ctx`/`gen` seen.
    let mut role: Option<&str> = None;
    for raw in stem.split('_') {
        let token = raw.to_ascii_lowercase();
        // `mtp0-Default`, `con256-Default`: a dash suffix after the number.
        let (token, dash_suffix) = match token.split_once('-') {
            Some((head, tail)) if !head.starts_with("ccb") => {
                (head.to_string(), Some(tail.to_string()))
            }
            _ => (token, None),
        };
        if let Some(b) = token.strip_prefix("ccb-") {
            t.cache_backend = Some(b.to_ascii_uppercase());
        } else if let Some(v) = num_after(&token, "ctx") {
            t.ctx_servers = Some(v);
            role = Some("ctx");
        } else if let Some(v) = num_after(&token, "gen") {
            t.gen_servers = Some(v);
            role = Some("gen");
        } else if let Some(v) = num_after(&token, "pp") {
            if role == Some("ctx") {
                t.ctx_pp = Some(v);
            }
        } else if let Some((dp, v)) = num_after(&token, "dep")
            .map(|v| (true, v))
            .or_else(|| num_after(&token, "tep").map(|v| (false, v)))
            .or_else(|| num_after(&token, "tp").map(|v| (false, v)))
        {
            match role {
                Some("ctx") => t.ctx_tp = Some((dp, v)),
                _ => t.gen_tp = Some((dp, v)),
            }
        } else if let Some(v) = num_after(&token, "bs") {
            t.batch = Some(v);
        } else if let Some(v) = num_after(&token, "eplb") {
            t.eplb = Some(v);
        } else if let Some(v) = num_after(&token, "mtp") {
            t.mtp = Some(v);
        } else if let Some(v) = num_after(&token, "con") {
            t.concurrency = Some(v);
        } else if is_benchmark_type(&token) {
            t.benchmark_type = Some(token.clone());
        }
        if let Some(tail) = dash_suffix
            && tail.eq_ignore_ascii_case("default")
        {
            t.cache_backend = Some("DEFAULT".into());
        }
    }
    t
}

/// Dotted paths left out of the fingerprint: where things live, not what is measured.
pub const VOLATILE_PATHS: &[&str] = &[
    "slurm.partition",
    "slurm.account",
    "slurm.job_name",
    "slurm.job_time",
    "slurm.script_file",
    "slurm.extra_args",
    "slurm.set_segment",
    "environment.container_mount",
    "environment.container_image",
    "environment.model_path",
    "environment.trtllm_repo",
    "environment.trtllm_wheel_path",
    "environment.work_dir",
    "environment.log_dir",
    "environment.dataset_file",
    "benchmark.dataset_file",
    "metadata.script_file",
    "metadata.benchmark_type",
    "metadata.config_index",
    "metadata.tags",
    "metadata.owner",
    "accuracy.env_var",
    "server.model_path",
];

/// A stable hash of a resolved tree without volatile fields. Mapping keys are sorted, so the
/// order of keys in the file does not change it. The canonical text is built in one buffer and
/// hashed once (many tiny hasher updates cost more than the hashing).
pub fn fingerprint(tree: &Node) -> String {
    let mut text = Vec::with_capacity(8 * 1024);
    encode(tree, &mut String::new(), &mut text);
    let digest = Sha256::digest(&text);
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Whether a dotted path is volatile: every entry of [`VOLATILE_PATHS`] is `section.key`, so
/// only paths with exactly one dot are looked up.
fn is_volatile(path: &str) -> bool {
    path.bytes().filter(|b| *b == b'.').count() == 1 && VOLATILE_PATHS.contains(&path)
}

/// Whether a value says nothing once volatile fields are left out: null, or a mapping of only
/// volatile or blank values. `slurm:` with nothing but a partition hashes like no `slurm:`.
/// (Not for the root: `path` must name a key.)
fn is_blank(node: &Node, path: &mut String) -> bool {
    match &node.value {
        Value::Null => true,
        Value::Map(entries) => entries.iter().all(|(k, v)| {
            let Some(k) = k.as_key() else {
                return false;
            };
            let len = path.len();
            path.push('.');
            path.push_str(k);
            let blank = is_volatile(path) || is_blank(v, path);
            path.truncate(len);
            blank
        }),
        _ => false,
    }
}

/// Appends the canonical text of `node` (sorted keys, volatile fields and blank sections left
/// out, scalars tagged by type) to `out`.
fn encode(node: &Node, path: &mut String, out: &mut Vec<u8>) {
    match &node.value {
        Value::Map(entries) => {
            let mut keyed: Vec<(&str, &Node)> = entries
                .iter()
                .filter_map(|(k, v)| Some((k.as_key()?, v)))
                .collect();
            keyed.sort_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (k, v) in keyed {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                // A top-level section left blank says nothing (engine options below it may: an
                // empty `cuda_graph_config: {}` turns CUDA graphs on, so only sections count).
                let blank_section = len == 0 && is_blank(v, path);
                if !is_volatile(path) && !blank_section {
                    out.extend_from_slice(k.as_bytes());
                    out.push(b':');
                    encode(v, path, out);
                    out.push(b',');
                }
                path.truncate(len);
            }
            out.push(b'}');
        }
        Value::Seq(items) => {
            out.push(b'[');
            for item in items {
                encode(item, path, out);
                out.push(b',');
            }
            out.push(b']');
        }
        Value::Str(s) => {
            out.push(b's');
            out.extend_from_slice(s.as_bytes());
        }
        Value::Int(i) => {
            out.push(b'i');
            out.extend_from_slice(&i.to_le_bytes());
        }
        other => out.extend_from_slice(scalar_text(other).as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse;

    #[test]
    fn gpu_names_fold() {
        assert_eq!(fold_gpu("GB200_LYRIS"), "GB200");
        assert_eq!(fold_gpu("gb300"), "GB300");
        assert_eq!(fold_gpu("B200"), "B200");
        assert_eq!(fold_gpu("GB2000"), "GB2000");
    }

    #[test]
    fn benchmark_types() {
        assert_eq!(benchmark_type(1024, 1024), "1k1k");
        assert_eq!(benchmark_type(8192, 1024), "8k1k");
        assert_eq!(benchmark_type(131072, 8192), "128k8k");
        assert_eq!(benchmark_type(1000, 200), "1000-200");
        assert_eq!(benchmark_type(0, 0), "0-0");
    }

    #[test]
    fn classify_layout_and_outside_paths() {
        let c = |p: &str, agg| classify(Path::new(p), agg);
        assert_eq!(
            c("test_configs/disagg/perf/x.yaml", false),
            ("disagg".into(), "perf".into())
        );
        assert_eq!(
            c("root/custom/stress/x.yaml", false),
            ("custom".into(), "stress".into())
        );
        assert_eq!(
            c("tests/scripts/perf-sanity/disaggregated/x.yaml", false),
            ("disagg".into(), "perf-sanity".into())
        );
        assert_eq!(
            c("tests/scripts/perf-sanity/aggregated/x.yaml", true),
            ("agg".into(), "perf-sanity".into())
        );
        assert_eq!(
            c("examples/disaggregated/slurm/config.yaml", false),
            ("disagg".into(), "perf".into())
        );
    }

    #[test]
    fn names_parse() {
        let t = parse_name("deepseek-r1-fp4_128k8k_ctx1_pp8_gen11_tep4_bs2_eplb0_mtp0-Default");
        assert_eq!(t.ctx_servers, Some(1));
        assert_eq!(t.ctx_pp, Some(8));
        assert_eq!(t.gen_servers, Some(11));
        assert_eq!(t.gen_tp, Some((false, 4)));
        assert_eq!(t.batch, Some(2));
        assert_eq!(t.mtp, Some(0));
        assert_eq!(t.cache_backend.as_deref(), Some("DEFAULT"));
        assert_eq!(t.benchmark_type.as_deref(), Some("128k8k"));
        let t =
            parse_name("gb200_glm-5-fp4_1k1k_con4096_ctx1_dep4_gen1_dep8_eplb256_mtp1_ccb-NIXL");
        assert_eq!(t.ctx_tp, Some((true, 4)));
        assert_eq!(t.gen_tp, Some((true, 8)));
        assert_eq!(t.concurrency, Some(4096));
        assert_eq!(t.cache_backend.as_deref(), Some("NIXL"));
    }

    #[test]
    fn fingerprint_ignores_key_order_and_volatile_fields() {
        let a = parse("slurm:\n  partition: a\nbenchmark:\n  x: 1\n  y: 2\n").unwrap();
        let b = parse("benchmark:\n  y: 2\n  x: 1\nslurm:\n  partition: b\n").unwrap();
        let c = parse("benchmark:\n  y: 3\n  x: 1\n").unwrap();
        assert_eq!(fingerprint(&a), fingerprint(&b));
        assert_ne!(fingerprint(&a), fingerprint(&c));
        // Strings and numbers with the same text differ.
        let d = parse("benchmark:\n  y: '2'\n  x: 1\n").unwrap();
        assert_ne!(fingerprint(&b), fingerprint(&d));
    }
}
