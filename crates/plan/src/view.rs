//! Plans for people and tools: the `plan --format json` array, upstream's `allocations.json`
//! shape and the terminal table.

use servebench_config::model::Placement;

use crate::model::*;

/// The `plan --format json` document: an array with one object per planned test case, each
/// carrying `schema_version`, so tools can stream or filter it (`jq '.[] | .total_nodes'`)
/// and still check the version of every element. Cases that cannot be planned are reported on
/// stderr and in the exit code, not in this array.
pub fn plans_json(plans: &[Plan]) -> serde_json::Value {
    serde_json::Value::Array(
        plans
            .iter()
            .map(|plan| {
                let mut object = serde_json::Map::new();
                object.insert("schema_version".into(), SCHEMA_VERSION.into());
                if let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(plan) {
                    object.extend(fields);
                }
                serde_json::Value::Object(object)
            })
            .collect(),
    )
}

/// Upstream's `allocations.json` shape for a plan:
/// `{"GEN": {"0": {"port": P, "nodes": {"<node0_placeholder>": [0, 1]}}}, "CTX": {...}}`.
pub fn upstream_allocations(plan: &Plan) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for role in [Role::Gen, Role::Ctx, Role::Agg] {
        let mut servers = serde_json::Map::new();
        for a in plan.allocations.iter().filter(|a| a.role == role) {
            let mut nodes = serde_json::Map::new();
            for n in &a.nodes {
                nodes.insert(n.node.clone(), serde_json::json!(n.gpus));
            }
            servers.insert(
                a.index.to_string(),
                serde_json::json!({"port": a.port, "nodes": nodes}),
            );
        }
        if role != Role::Agg || !servers.is_empty() {
            out.insert(role.upper().to_string(), serde_json::Value::Object(servers));
        }
    }
    serde_json::Value::Object(out)
}

/// A one-line-per-test table of plans (for `servebench plan`); with `verbose`, each server's
/// allocation follows its test.
pub fn render_table(plans: &[Plan], verbose: bool) -> String {
    use std::fmt::Write as _;
    let header = [
        "TEST", "PLACE", "CTX", "CTX_GPU", "CTX_N", "GEN", "GEN_GPU", "GEN_N", "NODES", "GPUS",
    ];
    let rows: Vec<[String; 10]> = plans
        .iter()
        .map(|p| {
            let (gen_servers, gen_gpus, gen_nodes) = match &p.agg {
                Some(a) => (format!("agg:{}", a.servers), a.gpus_per_server, a.nodes),
                None => (
                    p.generation.servers.to_string(),
                    p.generation.gpus_per_server,
                    p.generation.nodes,
                ),
            };
            [
                p.test_id.clone(),
                match p.placement {
                    Placement::Packed => "packed".into(),
                    Placement::Exclusive => "exclusive".into(),
                },
                p.ctx.servers.to_string(),
                p.ctx.gpus_per_server.to_string(),
                p.ctx.nodes.to_string(),
                gen_servers,
                gen_gpus.to_string(),
                gen_nodes.to_string(),
                p.total_nodes.to_string(),
                p.total_gpus.to_string(),
            ]
        })
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &mut dyn Iterator<Item = &str>| {
        let mut s = String::new();
        for (i, (c, w)) in cells.zip(widths.iter()).enumerate() {
            if i == 0 {
                let _ = write!(s, "{c:<w$}");
            } else {
                let _ = write!(s, "  {c:>w$}");
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(&mut out, &mut header.iter().copied());
    for (r, p) in rows.iter().zip(plans) {
        line(&mut out, &mut r.iter().map(String::as_str));
        if verbose {
            for a in &p.allocations {
                let nodes: Vec<String> = a
                    .nodes
                    .iter()
                    .map(|n| {
                        let gpus: Vec<String> = n.gpus.iter().map(u64::to_string).collect();
                        format!("node{}[{}]", n.node_index, gpus.join(","))
                    })
                    .collect();
                let _ = writeln!(
                    out,
                    "    {:<8} port {:<5} {}",
                    a.name,
                    a.port,
                    nodes.join(" ")
                );
            }
            if let Some(r) = &p.router {
                let node = r
                    .node
                    .trim_start_matches("<node")
                    .trim_end_matches("_placeholder>");
                let _ = writeln!(out, "    {:<8} port {:<5} node{node}", "ROUTER", r.port);
            }
            for n in &p.notes {
                let _ = writeln!(out, "    note: {n}");
            }
        }
    }
    out
}
