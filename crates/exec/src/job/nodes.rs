//! The allocation's hosts, through the command-runner seam.

use crate::backend::CommandRunner;

use super::JobFailure;

/// `scontrol show hostnames "$SLURM_JOB_NODELIST"`, sorted.
pub(super) async fn slurm_hosts(runner: &impl CommandRunner) -> Result<Vec<String>, JobFailure> {
    let list = std::env::var("SLURM_JOB_NODELIST")
        .or_else(|_| std::env::var("SLURM_NODELIST"))
        .map_err(|_| {
            JobFailure::Nodes(
                "SLURM_JOB_NODELIST is not set (not inside an allocation? use --launcher local)"
                    .into(),
            )
        })?;
    let argv: Vec<String> = ["scontrol", "show", "hostnames", &list]
        .map(String::from)
        .to_vec();
    let out = runner
        .run(&argv)
        .await
        .map_err(|e| JobFailure::Nodes(format!("scontrol: {e}")))?;
    if out.code != 0 {
        return Err(JobFailure::Nodes(format!(
            "scontrol show hostnames {list}: {}",
            out.stderr.trim()
        )));
    }
    let mut hosts: Vec<String> = out
        .stdout
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    hosts.sort();
    Ok(hosts)
}
