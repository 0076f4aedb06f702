//! Sizing roles (SPEC 5.1, 5.2) and the allocator that walks `(node, local GPU)` handing out GPUs
//! and ports.

use std::collections::{BTreeMap, BTreeSet};

use servebench_config::model::{Placement, Worker};

use crate::model::*;

/// Largest node count servebench plans (guards against overflowing allocations).
pub const MAX_NODES: u64 = 100_000;
/// Largest GPU count servebench allocates (each GPU id is listed in the plan).
pub const MAX_GPUS: u64 = 1_000_000;

/// SPEC 5.3: `ceil(first concurrency / ctx_capacity)`.
pub fn legacy_ctx_servers(concurrency: &[u64], ctx_capacity: u64) -> Option<u64> {
    let first = *concurrency.first()?;
    (ctx_capacity > 0).then(|| first.div_ceil(ctx_capacity))
}

/// Nodes for `servers` servers of `world` GPUs under a placement policy (SPEC 5.2).
pub fn role_nodes(placement: Placement, world: u64, servers: u64, gpus_per_node: u64) -> u64 {
    let gpn = gpus_per_node.max(1);
    match placement {
        Placement::Packed => world.saturating_mul(servers).div_ceil(gpn),
        Placement::Exclusive => world.div_ceil(gpn).saturating_mul(servers),
    }
}

pub(crate) fn role_plan(w: &Worker, servers: u64, placement: Placement, gpn: u64) -> RolePlan {
    RolePlan {
        servers,
        gpus_per_server: w.world_size(),
        nodes: role_nodes(placement, w.world_size(), servers, gpn),
        tp: w.tp,
        pp: w.pp,
        cp: w.cp,
        ep: w.ep,
        attention_dp: w.attention_dp,
    }
}

/// Walks `(node, gpu)` and hands out GPUs and ports.
pub(crate) struct Allocator {
    pub(crate) gpn: u64,
    pub(crate) node: u64,
    pub(crate) gpu: u64,
    pub(crate) single_host: bool,
    pub(crate) used_ports: BTreeMap<u64, BTreeSet<u16>>,
}

impl Allocator {
    pub(crate) fn fresh_node(&mut self) {
        if self.gpu > 0 {
            self.node += 1;
            self.gpu = 0;
        }
    }

    pub(crate) fn take(&mut self, world: u64) -> Vec<NodeGpus> {
        let mut out: Vec<NodeGpus> = Vec::new();
        for _ in 0..world {
            if self.gpu >= self.gpn {
                self.node += 1;
                self.gpu = 0;
            }
            let node_index = usize::try_from(self.node).unwrap_or(usize::MAX);
            match out.last_mut() {
                Some(last) if last.node_index == node_index => last.gpus.push(self.gpu),
                _ => out.push(NodeGpus {
                    node: node_placeholder(node_index),
                    node_index,
                    gpus: vec![self.gpu],
                }),
            }
            self.gpu += 1;
        }
        out
    }

    pub(crate) fn port_key(&self, node: usize) -> u64 {
        if self.single_host {
            0
        } else {
            u64::try_from(node).unwrap_or(u64::MAX)
        }
    }

    /// The first port >= `preferred` free on every node of `nodes`; marks it used.
    pub(crate) fn port(
        &mut self,
        preferred: u16,
        nodes: &[usize],
        name: &str,
    ) -> Result<u16, PlanError> {
        let keys: Vec<u64> = nodes.iter().map(|n| self.port_key(*n)).collect();
        let mut port = preferred;
        loop {
            let free = keys
                .iter()
                .all(|k| !self.used_ports.get(k).is_some_and(|s| s.contains(&port)));
            if free {
                for k in keys {
                    self.used_ports.entry(k).or_default().insert(port);
                }
                return Ok(port);
            }
            port = port.checked_add(1).ok_or_else(|| PlanError::NoPort {
                server: name.to_string(),
                node: nodes
                    .first()
                    .map(|n| node_placeholder(*n))
                    .unwrap_or_default(),
            })?;
        }
    }

    pub(crate) fn server(
        &mut self,
        role: Role,
        index: usize,
        world: u64,
        exclusive: bool,
    ) -> Result<Allocation, PlanError> {
        if exclusive {
            self.fresh_node();
        }
        let nodes = self.take(world);
        let name = format!("{}_{index}", role.upper());
        let offset = u16::try_from(index).unwrap_or(u16::MAX);
        let idx: Vec<usize> = nodes.iter().map(|n| n.node_index).collect();
        let port = self.port(BASE_PORT.saturating_add(offset), &idx, &name)?;
        Ok(Allocation {
            role,
            index,
            name,
            nodes,
            port,
        })
    }
}
