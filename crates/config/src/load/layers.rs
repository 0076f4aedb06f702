//! The layers above and below the file: cluster profile, `--set` overrides and built-in
//! defaults, each recorded in the provenance map.

use std::collections::BTreeMap;

use super::env::{ENV_VARS, apply_env};
use crate::defaults;
use crate::identity::GPU_TYPES;
use crate::model::{Format, Origin};
use crate::yaml::{self, Node, Value};

/// One `--set path=value` override.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetOverride {
    /// Dotted path (`benchmark.concurrency_list`).
    pub path: String,
    /// The value, read as a YAML scalar or flow collection.
    pub value: String,
}

impl std::str::FromStr for SetOverride {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once('=') {
            Some((path, value))
                if !path.is_empty()
                    && path
                        .split('.')
                        .all(|seg| !seg.is_empty() && !seg.contains(char::is_whitespace)) =>
            {
                Ok(SetOverride {
                    path: path.to_string(),
                    value: value.to_string(),
                })
            }
            _ => Err(format!(
                "expected `section.key=value` (e.g. `benchmark.concurrency_list=1 2 4`), got `{s}`"
            )),
        }
    }
}

/// A cluster profile's contribution to a config: values by dotted path.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfileLayer {
    /// Profile name, for provenance.
    pub name: String,
    /// Values to set.
    pub values: Vec<(String, Node)>,
}

/// Everything above the file: profile, environment, command line.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Cluster profile layer.
    pub profile: Option<ProfileLayer>,
    /// Environment variables (only [`ENV_VARS`] are used).
    pub env: BTreeMap<String, String>,
    /// `--set` overrides, applied in order.
    pub sets: Vec<SetOverride>,
}

impl LoadOptions {
    /// Options with the process environment's upstream variables.
    pub fn from_process_env() -> Self {
        let env = ENV_VARS
            .iter()
            .filter_map(|k| {
                let v = std::env::var(k).ok()?;
                (!v.is_empty()).then(|| (k.to_string(), v))
            })
            .collect();
        LoadOptions {
            env,
            ..Default::default()
        }
    }
}

/// Records where a value that is not from the file came from.
pub(super) fn record(provenance: &mut BTreeMap<String, Origin>, path: &str, origin: Origin) {
    provenance.insert(path.to_string(), origin);
}

pub(super) fn str_node(s: impl Into<String>) -> Node {
    Node::synthetic(Value::Str(s.into()))
}

/// Applies the layers above the file: cluster profile, environment, `--set`.
pub(super) fn apply_layers(
    root: &mut Node,
    opts: &LoadOptions,
    prov: &mut BTreeMap<String, Origin>,
) {
    if let Some(profile) = &opts.profile {
        for (path, value) in &profile.values {
            root.set_path(path, value.clone());
            record(prov, path, Origin::Profile(profile.name.clone()));
        }
    }
    apply_env(root, &opts.env, prov);
    for set in &opts.sets {
        let value = yaml::parse(&set.value).unwrap_or_else(|_| str_node(set.value.clone()));
        let value = Node::synthetic(value.value);
        root.set_path(&set.path, value);
        record(prov, &set.path, Origin::Cli(format!("--set {}", set.path)));
    }
}

fn insert_default(root: &mut Node, path: &str, value: Value, prov: &mut BTreeMap<String, Origin>) {
    if root.at(path).is_some() {
        return;
    }
    // Only fill in where the parent is a mapping or absent (never replace a mistyped parent:
    // the type error is reported instead).
    if let Some((parent, _)) = path.rsplit_once('.')
        && root
            .at(parent)
            .is_some_and(|p| !matches!(p.value, Value::Map(_)))
    {
        return;
    }
    root.set_path(path, Node::synthetic(value));
    record(prov, path, Origin::Default);
}

/// Fills in the built-in defaults ([`crate::defaults`]) the layers and the file left out.
pub(super) fn apply_defaults(
    root: &mut Node,
    format: Format,
    test_type: &str,
    category: &str,
    prov: &mut BTreeMap<String, Origin>,
) {
    let gpus = Value::Seq(GPU_TYPES.iter().map(|g| str_node(*g)).collect());
    insert_default(root, "metadata.supported_gpus", gpus, prov);
    insert_default(
        root,
        "engine",
        Value::Str(defaults::ENGINE.as_str().into()),
        prov,
    );
    if format == Format::Disagg {
        for (path, value) in defaults::disagg_tree(category) {
            insert_default(root, path, value, prov);
        }
    }
    if format == Format::Aggregated {
        let len = |root: &Node, path: &str| match root.at(path).map(|n| &n.value) {
            Some(Value::Seq(items)) => items.len(),
            _ => 0,
        };
        let mut bases: Vec<String> = (0..len(root, "client_configs"))
            .map(|j| format!("client_configs.{j}"))
            .collect();
        for i in 0..len(root, "server_configs") {
            let list = format!("server_configs.{i}.client_configs");
            bases.extend((0..len(root, &list)).map(|j| format!("{list}.{j}")));
        }
        for base in bases {
            if root
                .at(&base)
                .is_some_and(|c| !matches!(c.value, Value::Map(_)))
            {
                continue;
            }
            for (key, alt, value) in defaults::AGG_CLIENT_TREE {
                if root.at(&format!("{base}.{alt}")).is_none() {
                    insert_default(root, &format!("{base}.{key}"), value.value(), prov);
                }
            }
        }
    }
    // Metrics: fill missing keys of whichever override block exists (metadata.metrics if none).
    let base = if root.at("benchmark.metrics").is_some() && root.at("metadata.metrics").is_none() {
        "benchmark.metrics"
    } else {
        "metadata.metrics"
    };
    let m = defaults::metrics_for(test_type, category);
    let names = Value::Seq(m.metric_names.iter().map(|n| str_node(n.clone())).collect());
    // A partial override of the pattern without names (or the reverse) keeps the default of the
    // other field only when the group count still fits; the decoder checks that.
    insert_default(
        root,
        &format!("{base}.log_file"),
        Value::Str(m.log_file),
        prov,
    );
    insert_default(
        root,
        &format!("{base}.extractor_pattern"),
        Value::Str(m.extractor_pattern),
        prov,
    );
    insert_default(root, &format!("{base}.metric_names"), names, prov);
}
