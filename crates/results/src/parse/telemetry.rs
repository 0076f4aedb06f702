//! GPU telemetry that clients print or save, per GPU: power usage and limit, the cumulative
//! energy counter, utilisation and memory.
//!
//! Sources:
//! - AIPerf's console (`NVIDIA AIPerf | GPU Telemetry Summary`): one table per GPU titled
//!   `endpoint | GPU <index> | <name>`, one row per metric (`GPU Power Usage (W)`, `Energy
//!   Consumption (MJ)`, ...), one column per statistic.
//! - GenAI-Perf's console (`NVIDIA GenAI-Perf | Power Metrics`, `Memory Metrics`, `Utilization
//!   Metrics`, printed with `--verbose`): one nested table per metric, titled with the metric,
//!   one row per `GPU Index`.
//! - AIPerf's `profile_export_aiperf.json`: `telemetry_data.endpoints.<endpoint>.gpus.<gpu>`
//!   with `gpu_index`, `gpu_name` and `metrics.<tag>` = `{unit, avg, min, max, ...}`.
//!
//! Both tools sample DCGM's `DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION`, the driver's cumulative
//! counter, so the energy a GPU used during the run is the counter's `max - min`, not its `avg`.
//! Values are converted to W, J, % and GB.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::Parsed;
use super::tables::{Table, parse_number};
use crate::energy;
use crate::metrics;

/// A GPU metric servebench reads from telemetry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GpuMetric {
    /// Power draw, W.
    PowerW,
    /// Enforced power limit, W.
    PowerLimitW,
    /// Cumulative energy counter, J.
    EnergyJ,
    /// GPU utilisation, %.
    UtilizationPct,
    /// Memory used, GB.
    MemoryUsedGb,
    /// Memory in all, GB.
    MemoryTotalGb,
}

impl GpuMetric {
    /// The name used in extras (`gpu0_power_w_avg`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            GpuMetric::PowerW => "power_w",
            GpuMetric::PowerLimitW => "power_limit_w",
            GpuMetric::EnergyJ => "energy_counter_j",
            GpuMetric::UtilizationPct => "utilization_pct",
            GpuMetric::MemoryUsedGb => "memory_used_gb",
            GpuMetric::MemoryTotalGb => "memory_total_gb",
        }
    }

    /// The metric a label or tag names (`GPU Power Usage (W)`, `gpu_power_usage`, ...), and the
    /// factor from the unit given (label parentheses or `unit` member) to servebench's unit.
    fn from_name(name: &str, unit: Option<&str>) -> Option<(GpuMetric, f64)> {
        let n = name.to_lowercase().replace('_', " ");
        let n = n.split('(').next().unwrap_or("").trim().to_string();
        let unit = unit
            .map(str::to_string)
            .or_else(|| {
                let open = name.rfind('(')?;
                Some(
                    name.get(open + 1..)?
                        .trim_end_matches(')')
                        .trim()
                        .to_string(),
                )
            })
            .unwrap_or_default();
        let metric = match n.as_str() {
            "gpu power usage" | "power usage" => GpuMetric::PowerW,
            "gpu power limit" | "power limit" => GpuMetric::PowerLimitW,
            "energy consumption" | "gpu energy consumption" | "total energy consumption" => {
                GpuMetric::EnergyJ
            }
            "gpu utilization" | "gpu util" => GpuMetric::UtilizationPct,
            "gpu memory used" | "memory used" => GpuMetric::MemoryUsedGb,
            "total gpu memory" | "gpu memory total" => GpuMetric::MemoryTotalGb,
            _ => return None,
        };
        let factor = match (metric, unit.as_str()) {
            (GpuMetric::EnergyJ, "MJ") => 1e6,
            (GpuMetric::EnergyJ, "kJ") => 1e3,
            (GpuMetric::EnergyJ, "mJ") => 1e-3,
            (GpuMetric::PowerW | GpuMetric::PowerLimitW, "mW") => 1e-3,
            (GpuMetric::PowerW | GpuMetric::PowerLimitW, "kW") => 1e3,
            (GpuMetric::MemoryUsedGb | GpuMetric::MemoryTotalGb, "MB") => 1e-3,
            (GpuMetric::MemoryUsedGb | GpuMetric::MemoryTotalGb, "bytes" | "B") => 1e-9,
            _ => 1.0,
        };
        Some((metric, factor))
    }
}

/// What one GPU reported: per metric, its statistics (`avg`, `min`, `max`, `p99`, ...) in
/// servebench's units.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GpuTelemetry {
    /// The DCGM endpoint (`host:port`), empty when the source does not say.
    pub endpoint: String,
    /// The GPU's index on its node.
    pub index: u32,
    /// The GPU model, when given.
    pub name: String,
    /// Statistics per metric.
    pub metrics: BTreeMap<GpuMetric, BTreeMap<String, f64>>,
}

impl GpuTelemetry {
    fn stat(&self, m: GpuMetric, s: &str) -> Option<f64> {
        self.metrics.get(&m)?.get(s).copied()
    }

    /// Energy used during the run: the counter's `max - min`, `None` without both.
    pub fn energy_j(&self) -> Option<f64> {
        let (lo, hi) = (
            self.stat(GpuMetric::EnergyJ, "min")?,
            self.stat(GpuMetric::EnergyJ, "max")?,
        );
        (hi >= lo).then_some(hi - lo)
    }
}

/// Merges `more` into `into`, by (endpoint, index).
pub(crate) fn merge(into: &mut Vec<GpuTelemetry>, more: Vec<GpuTelemetry>) {
    for g in more {
        match into
            .iter_mut()
            .find(|x| x.endpoint == g.endpoint && x.index == g.index)
        {
            Some(x) => {
                if x.name.is_empty() {
                    x.name = g.name;
                }
                for (m, stats) in g.metrics {
                    x.metrics.entry(m).or_default().extend(stats);
                }
            }
            None => into.push(g),
        }
    }
}

/// `localhost:9401 | GPU 0 | NVIDIA H100 80GB HBM3` -> (endpoint, index, name).
fn aiperf_gpu_title(title: &str) -> Option<(String, u32, String)> {
    let parts: Vec<&str> = title.split('|').map(str::trim).collect();
    let pos = parts.iter().position(|p| p.starts_with("GPU "))?;
    let index = parts.get(pos)?.strip_prefix("GPU ")?.trim().parse().ok()?;
    let endpoint = pos
        .checked_sub(1)
        .and_then(|i| parts.get(i))
        .map_or(String::new(), |s| s.to_string());
    let name = parts.get(pos + 1).map_or(String::new(), |s| s.to_string());
    Some((endpoint, index, name))
}

fn stats_of(header: &[String], values: &[String], factor: f64) -> BTreeMap<String, f64> {
    header
        .iter()
        .zip(values)
        .filter_map(|(h, c)| Some((h.to_lowercase(), parse_number(c)? * factor)))
        .collect()
}

/// The GPUs a console table reports, or `None` when it is not a telemetry table.
pub(crate) fn from_table(t: &Table) -> Option<Vec<GpuTelemetry>> {
    let first = t.header.first()?.to_lowercase();
    let stat_header = t.header.get(1..).unwrap_or(&[]);
    if first == "gpu index" {
        // GenAI-Perf: the metric is the title, one row per GPU.
        let (metric, factor) = GpuMetric::from_name(t.title(), None)?;
        let gpus = t
            .rows
            .iter()
            .filter_map(|row| {
                let (idx, values) = row.split_first()?;
                let index = idx.trim().parse().ok()?;
                let mut g = GpuTelemetry {
                    index,
                    ..GpuTelemetry::default()
                };
                g.metrics
                    .insert(metric, stats_of(stat_header, values, factor));
                Some(g)
            })
            .collect();
        return Some(gpus);
    }
    // AIPerf: one table per GPU, one row per metric.
    let (endpoint, index, name) = aiperf_gpu_title(t.title())?;
    let mut g = GpuTelemetry {
        endpoint,
        index,
        name,
        metrics: BTreeMap::new(),
    };
    for row in &t.rows {
        let Some((label, values)) = row.split_first() else {
            continue;
        };
        if let Some((metric, factor)) = GpuMetric::from_name(label, None) {
            g.metrics
                .insert(metric, stats_of(stat_header, values, factor));
        }
    }
    Some(vec![g])
}

/// The GPUs of AIPerf's `telemetry_data` object (in `profile_export_aiperf.json`).
pub(crate) fn from_aiperf_json(telemetry: &Map<String, Value>) -> Vec<GpuTelemetry> {
    let mut out = Vec::new();
    let Some(endpoints) = telemetry.get("endpoints").and_then(Value::as_object) else {
        return out;
    };
    for (endpoint, e) in endpoints {
        let Some(gpus) = e.get("gpus").and_then(Value::as_object) else {
            continue;
        };
        for (key, gpu) in gpus {
            let index = gpu
                .get("gpu_index")
                .and_then(Value::as_u64)
                .and_then(|i| u32::try_from(i).ok())
                .or_else(|| key.strip_prefix("gpu_")?.parse().ok());
            let Some(index) = index else { continue };
            let mut g = GpuTelemetry {
                endpoint: endpoint.clone(),
                index,
                name: gpu
                    .get("gpu_name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                metrics: BTreeMap::new(),
            };
            let Some(ms) = gpu.get("metrics").and_then(Value::as_object) else {
                continue;
            };
            for (tag, m) in ms {
                let unit = m.get("unit").and_then(Value::as_str);
                let Some((metric, factor)) = GpuMetric::from_name(tag, unit) else {
                    continue;
                };
                let Some(stats) = m.as_object() else { continue };
                let stats = stats
                    .iter()
                    .filter_map(|(s, v)| Some((s.clone(), v.as_f64()? * factor)))
                    .collect();
                g.metrics.insert(metric, stats);
            }
            out.push(g);
        }
    }
    out
}

/// Records what `gpus` reported on `p`: per GPU extras `gpu<k>_<metric>_<stat>` (`k` the GPU
/// index, or the GPU's position over all endpoints when several endpoints report), aggregates
/// `gpu_count`, `gpu_power_w` (sum of mean power), `gpu_power_limit_w` (sum),
/// `gpu_utilization_pct` (mean), `gpu_memory_used_gb` (sum of means), and canonical `energy_j`:
/// the energy counters' deltas summed, or, when a counter is missing or did not move at the
/// printed resolution, mean power x `duration_s` (noted). Then derives the per-token figures
/// ([`energy::derive`]), or, with neither energy nor a token total, takes them from mean power
/// and output token throughput (noted).
pub(crate) fn apply(gpus: &[GpuTelemetry], p: &mut Parsed) {
    let Some(first) = gpus.first() else {
        return;
    };
    let several_endpoints = gpus.iter().any(|g| g.endpoint != first.endpoint);
    for (pos, g) in gpus.iter().enumerate() {
        let k = if several_endpoints {
            pos as u64
        } else {
            u64::from(g.index)
        };
        for (m, stats) in &g.metrics {
            for (s, v) in stats {
                p.set_extra(&format!("gpu{k}_{}_{s}", m.as_str()), *v);
            }
        }
        if let Some(e) = g.energy_j() {
            p.set_extra(&format!("gpu{k}_energy_j"), e);
        }
    }
    let sum = |m: GpuMetric| -> Option<f64> {
        gpus.iter().map(|g| g.stat(m, "avg")).sum::<Option<f64>>()
    };
    p.set_extra("gpu_count", gpus.len() as f64);
    let power = sum(GpuMetric::PowerW);
    if let Some(w) = power {
        p.set_extra("gpu_power_w", w);
    }
    if let Some(w) = sum(GpuMetric::PowerLimitW) {
        p.set_extra("gpu_power_limit_w", w);
    }
    if let Some(u) = sum(GpuMetric::UtilizationPct) {
        p.set_extra("gpu_utilization_pct", u / gpus.len() as f64);
    }
    if let Some(m) = sum(GpuMetric::MemoryUsedGb) {
        p.set_extra("gpu_memory_used_gb", m);
    }
    let counter: Option<f64> = gpus.iter().map(GpuTelemetry::energy_j).sum();
    let duration = p.metrics.get(metrics::DURATION_S).copied();
    match (counter, power, duration) {
        (Some(e), _, _) if e > 0.0 => p.set(energy::ENERGY_J, e),
        (_, Some(w), Some(d)) if d > 0.0 => {
            p.set(energy::ENERGY_J, w * d);
            p.notes.push(
                "energy_j: mean GPU power x duration (the energy counter was missing or did not move at the printed resolution)"
                    .into(),
            );
        }
        (Some(_), _, _) => p.notes.push(
            "energy_j: the energy counter did not move at the printed resolution; no duration to integrate the power over"
                .into(),
        ),
        _ => {}
    }
    energy::derive(&mut p.metrics);
    // No energy or token count to divide: mean power over the token rate is the energy per
    // token all the same (W / (tokens/s) = J/token).
    let rate = p.metrics.get(metrics::OUTPUT_TOKEN_THROUGHPUT).copied();
    if !p.metrics.contains_key(energy::JOULES_PER_OUTPUT_TOKEN)
        && let (Some(w), Some(r)) = (power, rate)
        && w > 0.0
        && r > 0.0
    {
        p.set(energy::JOULES_PER_OUTPUT_TOKEN, w / r);
        p.set(energy::OUTPUT_TOKENS_PER_JOULE, r / w);
        p.notes.push(
            "joules_per_output_token: mean GPU power / output token throughput (no energy or token total)"
                .into(),
        );
    }
}

/// Removes the energy figures from a result whose telemetry was cut short: a sum over the
/// GPUs before the cut would be too low, and look whole.
pub(crate) fn drop_energy(p: &mut Parsed) {
    let before = p.metrics.len();
    p.metrics
        .retain(|k, _| !energy::NAMES.contains(&k.as_str()));
    if p.metrics.len() != before {
        p.notes
            .push("energy: the GPU telemetry was cut short; not summed over the GPUs read".into());
    }
    p.complete = false;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_units() {
        assert_eq!(
            GpuMetric::from_name("Energy Consumption (MJ)", None),
            Some((GpuMetric::EnergyJ, 1e6))
        );
        assert_eq!(
            GpuMetric::from_name("energy_consumption", Some("MJ")),
            Some((GpuMetric::EnergyJ, 1e6))
        );
        assert_eq!(
            GpuMetric::from_name("GPU Power Usage (W)", None),
            Some((GpuMetric::PowerW, 1.0))
        );
        assert_eq!(
            GpuMetric::from_name("gpu_memory_used", Some("MB")),
            Some((GpuMetric::MemoryUsedGb, 1e-3))
        );
        assert_eq!(GpuMetric::from_name("XID Errors (count)", None), None);
        assert_eq!(
            aiperf_gpu_title("localhost:9401 | GPU 3 | NVIDIA H100 PCIe"),
            Some(("localhost:9401".into(), 3, "NVIDIA H100 PCIe".into()))
        );
        assert_eq!(aiperf_gpu_title("NVIDIA AIPerf | LLM Metrics"), None);
    }
}
