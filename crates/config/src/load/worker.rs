//! The engine options of one serving role: kept verbatim, with the fields servebench reasons
//! about read into a [`Worker`].

use crate::decode::{Decoder, display_path, join};
use crate::diag::{Diagnostic, Rule};
use crate::model::{Worker, WorkerOptions};
use crate::yaml::{Node, Value};

/// Reads the engine options the tool reasons about.
pub(super) fn decode_worker(
    dec: &mut Decoder<'_>,
    node: &Node,
    path: &str,
    options: WorkerOptions,
    legacy_eplb: Option<u64>,
) -> Worker {
    let pick = |d: &mut Decoder<'_>, keys: &[&str]| keys.iter().find_map(|k| d.uint(node, path, k));
    let positive = |d: &mut Decoder<'_>, keys: &[&str]| {
        let v = pick(d, keys);
        if v == Some(0) {
            d.push(
                Diagnostic::new(
                    Rule::InvalidValue,
                    d.file,
                    display_path(&join(path, keys[0])),
                    format!("`{}` must be at least 1", keys[0]),
                )
                .at(keys.iter().find_map(|k| node.get(k)).map(|n| n.span))
                .actual("0")
                .expected(">= 1")
                .hint("parallel sizes start at 1"),
            );
        }
        v.filter(|v| *v > 0)
    };
    let tp = positive(dec, &["tensor_parallel_size", "tp_size"]).unwrap_or(1);
    let pp = positive(dec, &["pipeline_parallel_size", "pp_size"]).unwrap_or(1);
    let cp = positive(dec, &["context_parallel_size", "cp_size"]).unwrap_or(1);
    let ep = positive(dec, &["moe_expert_parallel_size", "ep_size"]);
    let spec_path = join(path, "speculative_config");
    let mtp = match dec.map(node, path, "speculative_config") {
        Some(spec) => dec
            .uint(spec, &spec_path, "num_nextn_predict_layers")
            .or_else(|| dec.uint(spec, &spec_path, "max_draft_len"))
            .unwrap_or(0),
        None => 0,
    };
    let moe_path = join(path, "moe_config");
    let eplb = dec
        .map(node, path, "moe_config")
        .and_then(|moe| {
            moe.get("load_balancer")
                .filter(|lb| matches!(lb.value, Value::Map(_)))
        })
        .and_then(|lb| dec.uint(lb, &join(&moe_path, "load_balancer"), "num_slots"))
        .or(legacy_eplb)
        .unwrap_or(0);
    let ct_path = join(path, "cache_transceiver_config");
    let (cache_backend, max_tokens_in_buffer) =
        match dec.map(node, path, "cache_transceiver_config") {
            Some(ct) => (
                dec.string(ct, &ct_path, "backend"),
                dec.uint(ct, &ct_path, "max_tokens_in_buffer"),
            ),
            None => (None, None),
        };
    let cg_path = join(path, "cuda_graph_config");
    let (batch_sizes, cg_max, padding) = match dec.map(node, path, "cuda_graph_config") {
        Some(cg) => {
            let sizes = match cg.get("batch_sizes").map(|n| &n.value) {
                Some(Value::Seq(items)) => items
                    .iter()
                    .filter_map(|i| match i.value {
                        Value::Int(v) if v >= 0 => Some(v as u64),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            (
                sizes,
                dec.uint(cg, &cg_path, "max_batch_size"),
                dec.boolean(cg, &cg_path, "enable_padding").unwrap_or(false),
            )
        }
        None => (Vec::new(), None, false),
    };
    Worker {
        path: path.to_string(),
        options,
        tp,
        pp,
        cp,
        ep,
        attention_dp: dec
            .boolean(node, path, "enable_attention_dp")
            .unwrap_or(false),
        max_batch_size: dec.uint(node, path, "max_batch_size"),
        max_num_tokens: dec.uint(node, path, "max_num_tokens"),
        max_seq_len: dec.uint(node, path, "max_seq_len"),
        mtp,
        eplb_slots: eplb,
        cache_backend,
        max_tokens_in_buffer,
        cuda_graph_batch_sizes: batch_sizes,
        cuda_graph_max_batch_size: cg_max,
        cuda_graph_padding: padding,
    }
}
