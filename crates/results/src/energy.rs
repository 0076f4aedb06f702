//! Energy and cost per token: pure arithmetic, no I/O.
//!
//! Energy of a benchmark point comes, in order of preference, from:
//! 1. the GPU's cumulative energy counter read at the start and end of the point
//!    ([`counter_energy_j`]; NVML's `nvmlDeviceGetTotalEnergyConsumption`, in millijoules since
//!    the driver loaded, which `nvidia-smi --query-gpu=total_energy_consumption` also reads), or
//!    the client's telemetry built on the same counter (DCGM);
//! 2. power samples integrated over time ([`integrate_power`]) only as a fallback: on A100/H100
//!    the instantaneous power reading covers about a quarter of the runtime (arXiv 2312.02741),
//!    so an integral of samples is an estimate.
//!
//! Per point, energies are summed per role ([`RoleEnergy`]); the canonical figures
//! ([`ENERGY_J`], [`JOULES_PER_OUTPUT_TOKEN`], [`OUTPUT_TOKENS_PER_JOULE`], and for disaggregated
//! deployments [`CTX_ENERGY_J`], [`GEN_ENERGY_J`], [`CTX_JOULES_PER_INPUT_TOKEN`],
//! [`GEN_JOULES_PER_OUTPUT_TOKEN`]) follow from them and the token counts ([`energy_metrics`]).
//!
//! Cost ([`cost_metrics`]): a price per GPU-hour times the GPU-seconds each role held its GPUs.
//! [`USD_PER_MILLION_OUTPUT_TOKENS`] charges every GPU of the deployment to the output tokens,
//! so aggregated and disaggregated deployments compare on one axis; for disaggregated
//! deployments the ctx GPUs' cost is also attributed to input tokens
//! ([`USD_PER_MILLION_INPUT_TOKENS`]) and the gen GPUs' cost to output tokens
//! ([`GEN_USD_PER_MILLION_OUTPUT_TOKENS`]). Amounts are in the price's currency (USD unless the
//! profile says otherwise; the name keeps `usd` so that history and gates stay comparable, and
//! renderers show [`Price::currency`]).

use std::collections::BTreeMap;

use crate::metrics;

/// GPU energy of the point, all roles, joules.
pub const ENERGY_J: &str = "energy_j";
/// [`ENERGY_J`] divided by the output tokens of successful requests.
pub const JOULES_PER_OUTPUT_TOKEN: &str = "joules_per_output_token";
/// Output tokens per joule (the inverse of [`JOULES_PER_OUTPUT_TOKEN`]).
pub const OUTPUT_TOKENS_PER_JOULE: &str = "output_tokens_per_joule";
/// Energy of the ctx (prefill) GPUs, joules (disaggregated deployments).
pub const CTX_ENERGY_J: &str = "ctx_energy_j";
/// Energy of the gen (decode) GPUs, joules (disaggregated deployments).
pub const GEN_ENERGY_J: &str = "gen_energy_j";
/// [`CTX_ENERGY_J`] per input token: the prefill stage's energy per prompt token.
pub const CTX_JOULES_PER_INPUT_TOKEN: &str = "ctx_joules_per_input_token";
/// [`GEN_ENERGY_J`] per output token: the decode stage's energy per generated token.
pub const GEN_JOULES_PER_OUTPUT_TOKEN: &str = "gen_joules_per_output_token";
/// What the point cost: every GPU's GPU-seconds at the GPU-hour price.
pub const COST_USD: &str = "cost_usd";
/// [`COST_USD`] per million output tokens.
pub const USD_PER_MILLION_OUTPUT_TOKENS: &str = "usd_per_million_output_tokens";
/// The ctx GPUs' cost per million input tokens (disaggregated deployments).
pub const USD_PER_MILLION_INPUT_TOKENS: &str = "usd_per_million_input_tokens";
/// The gen GPUs' cost per million output tokens (disaggregated deployments).
pub const GEN_USD_PER_MILLION_OUTPUT_TOKENS: &str = "gen_usd_per_million_output_tokens";

/// Every canonical energy and cost name (registered in [`metrics::is_canonical`]).
pub const NAMES: [&str; 11] = [
    ENERGY_J,
    JOULES_PER_OUTPUT_TOKEN,
    OUTPUT_TOKENS_PER_JOULE,
    CTX_ENERGY_J,
    GEN_ENERGY_J,
    CTX_JOULES_PER_INPUT_TOKEN,
    GEN_JOULES_PER_OUTPUT_TOKEN,
    COST_USD,
    USD_PER_MILLION_OUTPUT_TOKENS,
    USD_PER_MILLION_INPUT_TOKENS,
    GEN_USD_PER_MILLION_OUTPUT_TOKENS,
];

/// One power reading: seconds on any monotonic clock, watts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PowerSample {
    /// Time of the reading, seconds.
    pub t_s: f64,
    /// Power draw, watts.
    pub watts: f64,
}

/// The integral of a power trace.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Integrated {
    /// Energy over the covered intervals, joules.
    pub joules: f64,
    /// Seconds covered by intervals no longer than the gap limit.
    pub covered_s: f64,
    /// Seconds from the first to the last usable sample.
    pub span_s: f64,
    /// Intervals left out because they were longer than the gap limit.
    pub gaps: usize,
    /// Samples left out: non-finite or negative power, non-finite time, or time not after the
    /// previous sample.
    pub dropped: usize,
}

impl Integrated {
    /// `covered_s / span_s` (1 for a trace without gaps, 0 when nothing was covered).
    pub fn coverage(&self) -> f64 {
        if self.span_s > 0.0 {
            self.covered_s / self.span_s
        } else {
            0.0
        }
    }
}

/// Integrates a power trace into joules with the trapezoid rule. An interval longer than
/// `max_gap_s` (a sampler that stalled, a lost connection) is not bridged: it counts in
/// [`Integrated::gaps`] and lowers [`Integrated::coverage`], so the caller decides whether the
/// estimate is usable. Unusable samples are skipped and counted, never a panic.
pub fn integrate_power(samples: &[PowerSample], max_gap_s: f64) -> Integrated {
    let mut out = Integrated::default();
    let mut prev: Option<PowerSample> = None;
    let mut first_t: Option<f64> = None;
    for s in samples {
        let usable = s.t_s.is_finite() && s.watts.is_finite() && s.watts >= 0.0;
        if !usable || prev.is_some_and(|p| s.t_s <= p.t_s) {
            out.dropped += 1;
            continue;
        }
        if let Some(p) = prev {
            let dt = s.t_s - p.t_s;
            if dt <= max_gap_s {
                out.joules += 0.5 * (p.watts + s.watts) * dt;
                out.covered_s += dt;
            } else {
                out.gaps += 1;
            }
        }
        first_t.get_or_insert(s.t_s);
        out.span_s = s.t_s - first_t.unwrap_or(s.t_s);
        prev = Some(*s);
    }
    out
}

/// Why a counter pair gives no energy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CounterError {
    /// The end reading is below the start and not a 32-bit wrap: the driver reloaded or the GPU
    /// was reset during the point.
    #[error(
        "energy counter went backwards ({start_mj} mJ -> {end_mj} mJ): the driver reloaded or the GPU was reset during the point; use the power samples for this point"
    )]
    Reset {
        /// Start reading, mJ.
        start_mj: u64,
        /// End reading, mJ.
        end_mj: u64,
    },
}

/// Energy between two readings of a cumulative millijoule counter, in joules.
///
/// NVML's counter is 64-bit and does not wrap in practice; counters exported through 32-bit
/// fields do (every 4.29 MJ, about 70 minutes of one H100 at 1 kW), so an end reading below the
/// start is read as one 32-bit wrap when the start lies in the top quarter of the 32-bit range
/// and the end in the bottom quarter. Any other decrease is a reset ([`CounterError::Reset`]).
pub fn counter_energy_j(start_mj: u64, end_mj: u64) -> Result<f64, CounterError> {
    if end_mj >= start_mj {
        return Ok((end_mj - start_mj) as f64 / 1000.0);
    }
    const WRAP: u64 = 1 << 32;
    let quarter = WRAP / 4;
    if start_mj < WRAP && start_mj >= WRAP - quarter && end_mj < quarter {
        return Ok((WRAP - start_mj + end_mj) as f64 / 1000.0);
    }
    Err(CounterError::Reset { start_mj, end_mj })
}

/// A deployment role, as energy and cost are attributed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Aggregated workers (prefill and decode on the same GPUs).
    Agg,
    /// Disaggregated context (prefill) workers.
    Ctx,
    /// Disaggregated generation (decode) workers.
    Gen,
}

impl Role {
    /// The role from its config name (`ctx`, `gen`, `agg`; also `prefill`, `decode`).
    pub fn from_name(name: &str) -> Option<Role> {
        match name.trim().to_ascii_lowercase().as_str() {
            "ctx" | "context" | "prefill" => Some(Role::Ctx),
            "gen" | "generation" | "decode" => Some(Role::Gen),
            "agg" | "aggregated" | "server" => Some(Role::Agg),
            _ => None,
        }
    }
}

/// Energy per role, joules: the per-GPU energies of a point summed by the role of each GPU's
/// worker.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoleEnergy {
    /// Joules per role.
    pub joules: BTreeMap<Role, f64>,
}

impl RoleEnergy {
    /// Sums `(role, joules)` readings (one per GPU or per node); non-finite or negative readings
    /// are left out and counted in the second value.
    pub fn sum(readings: impl IntoIterator<Item = (Role, f64)>) -> (RoleEnergy, usize) {
        let mut out = RoleEnergy::default();
        let mut skipped = 0;
        for (role, j) in readings {
            if j.is_finite() && j >= 0.0 {
                *out.joules.entry(role).or_insert(0.0) += j;
            } else {
                skipped += 1;
            }
        }
        (out, skipped)
    }

    /// All roles together.
    pub fn total(&self) -> f64 {
        self.joules.values().sum()
    }

    /// One role's energy, 0 when it had none.
    pub fn role(&self, r: Role) -> f64 {
        self.joules.get(&r).copied().unwrap_or(0.0)
    }

    /// Whether the point ran on ctx and gen workers.
    pub fn is_disaggregated(&self) -> bool {
        self.joules.contains_key(&Role::Ctx) || self.joules.contains_key(&Role::Gen)
    }
}

/// Token counts of a point (successful requests).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Tokens {
    /// Prompt tokens.
    pub input: f64,
    /// Generated tokens.
    pub output: f64,
}

fn ratio(num: f64, den: f64) -> Option<f64> {
    (den > 0.0 && num.is_finite() && den.is_finite()).then(|| num / den)
}

/// The canonical energy figures of a point: [`ENERGY_J`], [`JOULES_PER_OUTPUT_TOKEN`],
/// [`OUTPUT_TOKENS_PER_JOULE`], and for a disaggregated point the ctx/gen split. A ratio with a
/// zero denominator is left out, and so is the tokens-per-joule of a point without output
/// tokens (nothing was measured, not zero efficiency).
pub fn energy_metrics(e: &RoleEnergy, tokens: Tokens) -> BTreeMap<String, f64> {
    let mut m = BTreeMap::new();
    let total = e.total();
    m.insert(ENERGY_J.to_string(), total);
    put(&mut m, JOULES_PER_OUTPUT_TOKEN, ratio(total, tokens.output));
    if tokens.output > 0.0 {
        put(&mut m, OUTPUT_TOKENS_PER_JOULE, ratio(tokens.output, total));
    }
    if e.is_disaggregated() {
        let (ctx, r#gen) = (e.role(Role::Ctx), e.role(Role::Gen));
        m.insert(CTX_ENERGY_J.to_string(), ctx);
        m.insert(GEN_ENERGY_J.to_string(), r#gen);
        put(&mut m, CTX_JOULES_PER_INPUT_TOKEN, ratio(ctx, tokens.input));
        put(
            &mut m,
            GEN_JOULES_PER_OUTPUT_TOKEN,
            ratio(r#gen, tokens.output),
        );
    }
    m
}

fn put(m: &mut BTreeMap<String, f64>, name: &str, v: Option<f64>) {
    if let Some(v) = v.filter(|v| v.is_finite()) {
        m.insert(name.to_string(), v);
    }
}

/// The output tokens of a point's metrics: `total_output_tokens`, else output throughput x
/// duration.
fn output_tokens(metrics: &BTreeMap<String, f64>) -> Option<f64> {
    metrics
        .get(metrics::TOTAL_OUTPUT_TOKENS)
        .copied()
        .or_else(|| {
            Some(
                metrics.get(metrics::OUTPUT_TOKEN_THROUGHPUT)?
                    * metrics.get(metrics::DURATION_S)?,
            )
        })
}

/// Adds [`JOULES_PER_OUTPUT_TOKEN`] and [`OUTPUT_TOKENS_PER_JOULE`] to metrics that hold
/// [`ENERGY_J`] and the output tokens (or output throughput and duration). Existing values are
/// kept.
pub fn derive(metrics: &mut BTreeMap<String, f64>) {
    let (Some(&e), Some(out)) = (metrics.get(ENERGY_J), output_tokens(metrics)) else {
        return;
    };
    if let Some(v) = ratio(e, out) {
        metrics
            .entry(JOULES_PER_OUTPUT_TOKEN.to_string())
            .or_insert(v);
    }
    if let Some(v) = ratio(out, e).filter(|_| out > 0.0) {
        metrics
            .entry(OUTPUT_TOKENS_PER_JOULE.to_string())
            .or_insert(v);
    }
}

/// A GPU-hour price.
#[derive(Debug, Clone, PartialEq)]
pub struct Price {
    /// Price of one GPU for one hour.
    pub per_gpu_hour: f64,
    /// ISO 4217 code of the price (`USD` by default).
    pub currency: String,
}

/// GPU-seconds per role of a point: GPUs of the role x seconds they were held.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GpuSeconds {
    /// GPU-seconds per role.
    pub per_role: BTreeMap<Role, f64>,
}

impl GpuSeconds {
    /// Every role held its GPUs for the same `duration_s` (one benchmark point on one
    /// deployment): `gpus x duration_s` per role.
    pub fn held_for(gpus: &BTreeMap<Role, u64>, duration_s: f64) -> GpuSeconds {
        GpuSeconds {
            per_role: gpus
                .iter()
                .map(|(r, n)| (*r, *n as f64 * duration_s))
                .collect(),
        }
    }

    fn role(&self, r: Role) -> f64 {
        self.per_role.get(&r).copied().unwrap_or(0.0)
    }

    fn total(&self) -> f64 {
        self.per_role.values().sum()
    }
}

/// The canonical cost figures of a point ([`COST_USD`], [`USD_PER_MILLION_OUTPUT_TOKENS`], and
/// for a disaggregated point [`USD_PER_MILLION_INPUT_TOKENS`] and
/// [`GEN_USD_PER_MILLION_OUTPUT_TOKENS`]); empty when the price is not a finite, non-negative
/// number.
pub fn cost_metrics(price: &Price, held: &GpuSeconds, tokens: Tokens) -> BTreeMap<String, f64> {
    let mut m = BTreeMap::new();
    if !(price.per_gpu_hour.is_finite() && price.per_gpu_hour >= 0.0) {
        return m;
    }
    let per_s = price.per_gpu_hour / 3600.0;
    let cost = held.total() * per_s;
    m.insert(COST_USD.to_string(), cost);
    put(
        &mut m,
        USD_PER_MILLION_OUTPUT_TOKENS,
        ratio(cost * 1e6, tokens.output),
    );
    let disagg = held.per_role.contains_key(&Role::Ctx) || held.per_role.contains_key(&Role::Gen);
    if disagg {
        let ctx = held.role(Role::Ctx) * per_s;
        let r#gen = held.role(Role::Gen) * per_s;
        put(
            &mut m,
            USD_PER_MILLION_INPUT_TOKENS,
            ratio(ctx * 1e6, tokens.input),
        );
        put(
            &mut m,
            GEN_USD_PER_MILLION_OUTPUT_TOKENS,
            ratio(r#gen * 1e6, tokens.output),
        );
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t_s: f64, watts: f64) -> PowerSample {
        PowerSample { t_s, watts }
    }

    #[test]
    fn trapezoid_of_a_known_trace() {
        // 100 W rising linearly to 300 W over 10 s, then flat for 5 s: 2000 J + 1500 J.
        let mut trace: Vec<PowerSample> = (0..=10)
            .map(|i| s(i as f64, 100.0 + 20.0 * i as f64))
            .collect();
        trace.push(s(15.0, 300.0));
        let r = integrate_power(&trace, 10.0);
        assert!((r.joules - 3500.0).abs() < 1e-9, "{r:?}");
        assert_eq!(
            (r.covered_s, r.span_s, r.gaps, r.dropped),
            (15.0, 15.0, 0, 0)
        );
        assert_eq!(r.coverage(), 1.0);
    }

    #[test]
    fn gaps_and_bad_samples_are_left_out() {
        let trace = [
            s(0.0, 200.0),
            s(1.0, 200.0),
            s(1.0, 900.0),    // same time: dropped
            s(2.0, f64::NAN), // dropped
            s(0.5, 200.0),    // goes back: dropped
            s(11.0, 200.0),   // 10 s gap over the 2 s limit: not bridged
            s(12.0, -5.0),    // negative: dropped
            s(13.0, 200.0),
        ];
        let r = integrate_power(&trace, 2.0);
        assert_eq!(r.joules, 200.0 + 400.0);
        assert_eq!((r.gaps, r.dropped), (1, 4));
        assert_eq!((r.covered_s, r.span_s), (3.0, 13.0));
        assert!((r.coverage() - 3.0 / 13.0).abs() < 1e-12);
        assert_eq!(integrate_power(&[], 1.0), Integrated::default());
        assert_eq!(integrate_power(&[s(0.0, 5.0)], 1.0).coverage(), 0.0);
    }

    #[test]
    fn counters() {
        assert_eq!(counter_energy_j(1_000, 251_000), Ok(250.0));
        assert_eq!(counter_energy_j(7, 7), Ok(0.0));
        // A 32-bit wrap: 1000 mJ before the wrap, 500 mJ after.
        let start = (1u64 << 32) - 1_000;
        assert_eq!(counter_energy_j(start, 500), Ok(1.5));
        // A 64-bit counter going back is a reset.
        let e = counter_energy_j(90_000_000_000, 12_000).unwrap_err();
        assert_eq!(
            e,
            CounterError::Reset {
                start_mj: 90_000_000_000,
                end_mj: 12_000
            }
        );
        assert!(e.to_string().contains("use the power samples"));
        // Mid-range decrease within 32 bits is a reset too, not a wrap.
        assert!(counter_energy_j(2_000_000_000, 1_000).is_err());
    }

    #[test]
    fn disaggregated_energy_split() {
        let (e, skipped) = RoleEnergy::sum([
            (Role::Ctx, 1_000.0),
            (Role::Ctx, 1_000.0),
            (Role::Gen, 3_000.0),
            (Role::Gen, 3_000.0),
            (Role::Gen, f64::NAN),
        ]);
        assert_eq!(skipped, 1);
        let m = energy_metrics(
            &e,
            Tokens {
                input: 400_000.0,
                output: 100_000.0,
            },
        );
        assert_eq!(m[ENERGY_J], 8_000.0);
        assert_eq!(m[JOULES_PER_OUTPUT_TOKEN], 0.08);
        assert_eq!(m[OUTPUT_TOKENS_PER_JOULE], 12.5);
        assert_eq!(m[CTX_ENERGY_J], 2_000.0);
        assert_eq!(m[GEN_ENERGY_J], 6_000.0);
        assert_eq!(m[CTX_JOULES_PER_INPUT_TOKEN], 0.005);
        assert_eq!(m[GEN_JOULES_PER_OUTPUT_TOKEN], 0.06);
        // Aggregated: no split; no tokens: no ratios.
        let (agg, _) = RoleEnergy::sum([(Role::Agg, 10.0)]);
        let m = energy_metrics(&agg, Tokens::default());
        assert_eq!(m.keys().collect::<Vec<_>>(), [ENERGY_J]);
    }

    #[test]
    fn derive_from_throughput_and_duration() {
        let mut m = BTreeMap::from([
            (ENERGY_J.to_string(), 6_000.0),
            (metrics::OUTPUT_TOKEN_THROUGHPUT.to_string(), 500.0),
            (metrics::DURATION_S.to_string(), 60.0),
        ]);
        derive(&mut m);
        assert_eq!(m[JOULES_PER_OUTPUT_TOKEN], 0.2);
        assert_eq!(m[OUTPUT_TOKENS_PER_JOULE], 5.0);
        let mut none = BTreeMap::from([(ENERGY_J.to_string(), 1.0)]);
        derive(&mut none);
        assert_eq!(none.len(), 1);
    }

    #[test]
    fn cost_attribution_by_gpu_seconds() {
        let price = Price {
            per_gpu_hour: 3.6,
            currency: "USD".into(),
        };
        // 4 ctx + 8 gen GPUs for 100 s: 400 + 800 GPU-seconds at $0.001/GPU-s.
        let held = GpuSeconds::held_for(&BTreeMap::from([(Role::Ctx, 4), (Role::Gen, 8)]), 100.0);
        let tokens = Tokens {
            input: 2_000_000.0,
            output: 400_000.0,
        };
        let m = cost_metrics(&price, &held, tokens);
        assert!((m[COST_USD] - 1.2).abs() < 1e-12);
        assert!((m[USD_PER_MILLION_OUTPUT_TOKENS] - 3.0).abs() < 1e-9);
        assert!((m[USD_PER_MILLION_INPUT_TOKENS] - 0.2).abs() < 1e-9);
        assert!((m[GEN_USD_PER_MILLION_OUTPUT_TOKENS] - 2.0).abs() < 1e-9);
        // Aggregated: no split.
        let agg = GpuSeconds::held_for(&BTreeMap::from([(Role::Agg, 8)]), 100.0);
        let m = cost_metrics(&price, &agg, tokens);
        assert!((m[USD_PER_MILLION_OUTPUT_TOKENS] - 2.0).abs() < 1e-9);
        assert!(!m.contains_key(USD_PER_MILLION_INPUT_TOKENS));
        // A price that is not a number yields nothing.
        let bad = Price {
            per_gpu_hour: f64::NAN,
            currency: "USD".into(),
        };
        assert!(cost_metrics(&bad, &agg, tokens).is_empty());
    }

    #[test]
    fn roles() {
        assert_eq!(Role::from_name("CTX"), Some(Role::Ctx));
        assert_eq!(Role::from_name("decode"), Some(Role::Gen));
        assert_eq!(Role::from_name("router"), None);
    }
}
