//! Properties: plans never over-allocate GPUs or ports, whatever the topology.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use servebench_plan::{PlanOptions, Role, plan_case};

use crate::case;

fn config(
    gpn: u64,
    ctx: (u64, u64, u64, u64),
    generation: (u64, u64, u64, u64),
    placement: &str,
) -> String {
    format!(
        "metadata: {{model_name: m}}\nhardware: {{gpus_per_node: {gpn}, num_ctx_servers: {}, num_gen_servers: {}, placement: {placement}}}\n\
benchmark: {{concurrency_list: '1', input_length: 8, output_length: 8}}\nworker_config:\n  \
ctx: {{tensor_parallel_size: {}, pipeline_parallel_size: {}, context_parallel_size: {}, max_seq_len: 64}}\n  \
gen: {{tensor_parallel_size: {}, pipeline_parallel_size: {}, context_parallel_size: {}, max_batch_size: 4, max_seq_len: 64}}\n",
        ctx.0, generation.0, ctx.1, ctx.2, ctx.3, generation.1, generation.2, generation.3
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn never_over_allocates(
        gpn in 1u64..=8,
        ctx in (0u64..=5, 1u64..=8, 1u64..=2, 1u64..=2),
        generation in (1u64..=5, 1u64..=8, 1u64..=2, 1u64..=2),
        exclusive in any::<bool>(),
        single_host in any::<bool>(),
    ) {
        let placement = if exclusive { "exclusive" } else { "packed" };
        let c = case("p", &config(gpn, ctx, generation, placement));
        let plan = plan_case(&c, &PlanOptions { single_host, ..Default::default() }).unwrap();
        let mut gpus = BTreeSet::new();
        let mut ports: BTreeMap<usize, BTreeSet<u16>> = BTreeMap::new();
        let mut role_of_node: BTreeMap<usize, Role> = BTreeMap::new();
        let mut used = 0u64;
        for a in &plan.allocations {
            let mut keys = BTreeSet::new();
            let world = match a.role { Role::Ctx => plan.ctx.gpus_per_server, _ => plan.generation.gpus_per_server };
            prop_assert_eq!(a.gpu_count() as u64, world);
            for n in &a.nodes {
                prop_assert!((n.node_index as u64) < plan.total_nodes, "node {} of {}", n.node_index, plan.total_nodes);
                let prev = role_of_node.insert(n.node_index, a.role);
                prop_assert!(prev.is_none_or(|r| r == a.role), "roles share node {}", n.node_index);
                for g in &n.gpus {
                    prop_assert!(*g < gpn);
                    prop_assert!(gpus.insert((n.node_index, *g)), "GPU {g} on node {} twice", n.node_index);
                    used += 1;
                }
                keys.insert(if single_host { 0 } else { n.node_index });
            }
            for key in keys {
                prop_assert!(ports.entry(key).or_default().insert(a.port), "port {} twice on node {}", a.port, key);
            }
        }
        let router = plan.router.as_ref().unwrap();
        let first = plan.allocations[0].nodes[0].node_index;
        prop_assert_eq!(&router.node, &plan.allocations[0].nodes[0].node);
        let key = if single_host { 0 } else { first };
        prop_assert!(ports.entry(key).or_default().insert(router.port));
        prop_assert_eq!(used, plan.used_gpus);
        prop_assert!(plan.used_gpus <= plan.total_gpus);
        prop_assert_eq!(plan.total_nodes, plan.ctx.nodes + plan.generation.nodes);
        prop_assert_eq!(plan.ntasks, plan.total_nodes * gpn);
    }
}
