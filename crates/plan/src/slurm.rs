//! The SLURM request of a plan (SPEC 5.4) and the `--node-count` check (SPEC 4 rule 13).

use servebench_config::model::{Placement, TestCase};
use servebench_config::profile::GpuRequest;

use crate::model::*;

/// The sbatch arguments of SPEC 5.4, in upstream's order: partition, account, time, job name,
/// nodes, tasks, tasks per node, the profile's GPU request, `--segment`, output and error files,
/// then the profile's and the config's extra arguments (duplicates of earlier arguments dropped).
pub(crate) fn sbatch_args(
    case: &TestCase,
    nodes: u64,
    gpn: u64,
    opts: &PlanOptions,
) -> (Vec<String>, Option<u64>) {
    let s = &case.config.slurm;
    let profile = opts.profile.as_ref();
    let mut args = Vec::new();
    let partition = s
        .partition
        .clone()
        .or_else(|| profile.and_then(|p| p.partition.clone()));
    if let Some(p) = partition.filter(|p| !p.is_empty()) {
        args.push(format!("--partition={p}"));
    }
    let account = s
        .account
        .clone()
        .or_else(|| profile.and_then(|p| p.account.clone()));
    if let Some(a) = account.filter(|a| !a.is_empty()) {
        args.push(format!("--account={a}"));
    }
    let time = s
        .job_time
        .clone()
        .or_else(|| profile.and_then(|p| p.job_time.clone()));
    if let Some(t) = time.filter(|t| !t.is_empty()) {
        args.push(format!("--time={t}"));
    }
    let name = s.job_name.clone().unwrap_or_else(|| case.test_id.clone());
    args.push(format!("--job-name={name}"));
    args.push(format!("--nodes={nodes}"));
    args.push(format!("--ntasks={}", nodes.saturating_mul(gpn)));
    args.push(format!("--ntasks-per-node={gpn}"));
    match profile.map_or(GpuRequest::None, |p| p.gpu_request) {
        GpuRequest::GpusPerNode => args.push(format!("--gpus-per-node={gpn}")),
        GpuRequest::Gres => args.push(format!("--gres=gpu:{gpn}")),
        GpuRequest::None => {}
    }
    // Without a profile, follow upstream (segment unless the config says no); with one, only
    // where the cluster supports it.
    let supported = profile.is_none_or(|p| p.segment);
    let segment = (supported && s.set_segment != Some(false)).then_some(nodes);
    if let Some(n) = segment {
        args.push(format!("--segment={n}"));
    }
    let log_dir = opts.log_dir.as_deref().unwrap_or("logs");
    args.push(format!("--output={log_dir}/slurm-%j.out"));
    args.push(format!("--error={log_dir}/slurm-%j.err"));
    let extra_cfg = s
        .extra_args
        .as_deref()
        .map(|e| {
            servebench_config::profile::shell_words(e)
                .unwrap_or_else(|| e.split_whitespace().map(str::to_string).collect())
        })
        .unwrap_or_default();
    let gpu_flag = |a: &str| a.starts_with("--gres=gpu") || a.starts_with("--gpus-per-node");
    let has_gpu_flag = args.iter().any(|a| gpu_flag(a));
    for extra in profile
        .map(|p| p.sbatch_args.clone())
        .unwrap_or_default()
        .into_iter()
        .chain(extra_cfg)
    {
        // The profile's GPU request wins over a config's hard-coded one (upstream configs carry
        // `--gres=gpu:4` for GB200 in `extra_args`).
        if args.contains(&extra) || (has_gpu_flag && gpu_flag(&extra)) {
            continue;
        }
        args.push(extra);
    }
    (args, segment)
}

/// Checks `--node-count` against the plan (SPEC 4 rule 13).
pub fn check_node_count(plan: &Plan, requested: u64) -> Result<(), NodeCountMismatch> {
    if plan.total_nodes == requested {
        return Ok(());
    }
    Err(NodeCountMismatch {
        test_id: plan.test_id.clone(),
        planned: plan.total_nodes,
        requested,
        ctx_nodes: plan.ctx.nodes,
        gen_nodes: plan.generation.nodes + plan.agg.as_ref().map_or(0, |a| a.nodes),
        placement: match plan.placement {
            Placement::Packed => "packed",
            Placement::Exclusive => "exclusive",
        },
    })
}
