//! A closed-loop driver over several engines in virtual time: the same flows the servers run
//! (aggregated, or context-first disaggregated with KV transfer), without sockets. Used by the
//! behavioural tests and for quick what-if numbers.

use super::engine::{Engine, Phase, SimRequest};
use super::shape::ServerShape;

/// How the servers are arranged.
#[derive(Debug, Clone)]
#[expect(clippy::large_enum_variant, reason = "built once per simulation")]
pub enum Topology {
    /// `servers` aggregated servers of one shape.
    Agg {
        /// The server shape.
        shape: ServerShape,
        /// How many.
        servers: usize,
    },
    /// Context-first disaggregated serving.
    Disagg {
        /// The ctx server shape.
        ctx: ServerShape,
        /// How many ctx servers.
        ctx_servers: usize,
        /// The gen server shape.
        gen_shape: ServerShape,
        /// How many gen servers.
        gen_servers: usize,
    },
}

/// A closed-loop workload: `concurrency` users, each sending its next request as soon as the
/// previous one finishes, until `requests` have been sent.
#[derive(Debug, Clone, Copy)]
pub struct Workload {
    /// Concurrent users.
    pub concurrency: usize,
    /// Requests in total.
    pub requests: usize,
    /// Prompt tokens per request.
    pub input_tokens: u32,
    /// Output tokens per request.
    pub output_tokens: u32,
}

/// Client-side figures of a run (vLLM semantics).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Mean time to first token, seconds.
    pub mean_ttft_s: f64,
    /// Mean time per output token after the first, seconds.
    pub mean_tpot_s: f64,
    /// Output tokens per second over the whole run.
    pub output_tok_per_s: f64,
    /// Virtual duration of the run, seconds.
    pub duration_s: f64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Record {
    arrival: f64,
    first: Option<f64>,
    finish: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Entry,
    Gen,
}

/// Runs a workload to completion and summarises it.
pub fn simulate(topology: &Topology, w: Workload, seed: u64) -> Summary {
    let mut engines: Vec<(Kind, Engine)> = Vec::new();
    let disagg = matches!(topology, Topology::Disagg { .. });
    match topology {
        Topology::Agg { shape, servers } => {
            for i in 0..(*servers).max(1) {
                engines.push((Kind::Entry, Engine::new(shape.clone(), seed ^ i as u64)));
            }
        }
        Topology::Disagg {
            ctx,
            ctx_servers,
            gen_shape,
            gen_servers,
        } => {
            for i in 0..(*ctx_servers).max(1) {
                engines.push((Kind::Entry, Engine::new(ctx.clone(), seed ^ i as u64)));
            }
            for i in 0..(*gen_servers).max(1) {
                engines.push((
                    Kind::Gen,
                    Engine::new(gen_shape.clone(), seed ^ (1000 + i) as u64),
                ));
            }
        }
    }
    let entries: Vec<usize> = (0..engines.len())
        .filter(|&i| engines[i].0 == Kind::Entry)
        .collect();
    let gens: Vec<usize> = (0..engines.len())
        .filter(|&i| engines[i].0 == Kind::Gen)
        .collect();
    let mut outstanding = vec![0usize; engines.len()];
    let mut records = vec![Record::default(); w.requests];
    let mut sent = 0usize;
    let mut completed = 0usize;
    let out = w.output_tokens.max(1);

    let new_request = |id: usize, phase: Phase| SimRequest {
        id: id as u64,
        input_tokens: w.input_tokens,
        output_tokens: out,
        reserve_tokens: out,
        phase,
        seed,
        prefix_blocks: Vec::new(),
    };
    let entry_phase = if disagg {
        Phase::PrefillOnly
    } else {
        Phase::Full
    };
    let least_loaded = |pool: &[usize], outstanding: &[usize]| -> usize {
        pool.iter()
            .copied()
            .min_by_key(|&i| outstanding[i])
            .unwrap_or(0)
    };

    while sent < w.concurrency.min(w.requests) {
        let e = least_loaded(&entries, &outstanding);
        records[sent].arrival = 0.0;
        engines[e].1.submit_at(new_request(sent, entry_phase), 0.0);
        outstanding[e] += 1;
        sent += 1;
    }
    while completed < w.requests {
        let next = engines
            .iter()
            .enumerate()
            .filter_map(|(i, (_, e))| e.next_event_time().map(|t| (i, t)))
            .min_by(|a, b| a.1.total_cmp(&b.1));
        let Some((i, _)) = next else { break };
        let Some(it) = engines[i].1.step() else {
            continue;
        };
        let t_end = it.start + it.duration;
        let kind = engines[i].0;
        for emit in it.emits {
            let id = emit.id as usize;
            if disagg && kind == Kind::Entry {
                if emit.finished {
                    outstanding[i] -= 1;
                    let g = least_loaded(&gens, &outstanding);
                    let ctx_world = engines[i].1.shape().world;
                    let transfer_s = engines[g]
                        .1
                        .shape()
                        .kv_transfer_time(w.input_tokens, ctx_world);
                    engines[g]
                        .1
                        .submit_at(new_request(id, Phase::DecodeOnly { transfer_s }), t_end);
                    outstanding[g] += 1;
                }
                continue;
            }
            let Some(r) = records.get_mut(id) else {
                continue;
            };
            if emit.first {
                r.first = Some(t_end);
            }
            if emit.finished {
                r.finish = Some(t_end);
                outstanding[i] -= 1;
                completed += 1;
                if sent < w.requests {
                    let e = least_loaded(&entries, &outstanding);
                    records[sent].arrival = t_end;
                    engines[e]
                        .1
                        .submit_at(new_request(sent, entry_phase), t_end);
                    outstanding[e] += 1;
                    sent += 1;
                }
            }
        }
    }
    summarise(&records, out)
}

fn summarise(records: &[Record], out: u32) -> Summary {
    let mut ttft = 0.0;
    let mut tpot = 0.0;
    let mut n = 0.0;
    let mut end: f64 = 0.0;
    for r in records {
        let (Some(first), Some(finish)) = (r.first, r.finish) else {
            continue;
        };
        ttft += first - r.arrival;
        if out > 1 {
            tpot += (finish - first) / f64::from(out - 1);
        }
        end = end.max(finish);
        n += 1.0;
    }
    let n_safe = if n > 0.0 { n } else { 1.0 };
    Summary {
        mean_ttft_s: ttft / n_safe,
        mean_tpot_s: tpot / n_safe,
        output_tok_per_s: if end > 0.0 {
            n * f64::from(out) / end
        } else {
            0.0
        },
        duration_s: end,
    }
}

#[cfg(test)]
mod tests {
    //! Behavioural tests: with everything else fixed, each knob moves the figures the way a
    //! real deployment would.
    use super::*;
    use crate::model::Role;
    use crate::profile;
    use crate::worker::WorkerConfig;

    fn shape(role: Role, yaml: &str) -> ServerShape {
        shape_for(role, yaml, "deepseek-r1-fp4", "GB200")
    }

    fn shape_for(role: Role, yaml: &str, model: &str, gpu: &str) -> ServerShape {
        let cfg = WorkerConfig::parse(yaml, "t").unwrap();
        ServerShape::new(role, &cfg, profile::resolve(model, gpu, None).unwrap())
    }

    const CTX: &str = "tensor_parallel_size: 4\nenable_attention_dp: true\nmax_batch_size: 16\nmax_num_tokens: 16896\nkv_cache_config: {dtype: fp8, free_gpu_memory_fraction: 0.75}\ncache_transceiver_config: {backend: UCX}\n";
    const GEN: &str = "tensor_parallel_size: 8\nenable_attention_dp: true\nmax_batch_size: 64\nmax_num_tokens: 512\nkv_cache_config: {dtype: fp8, free_gpu_memory_fraction: 0.8}\ncache_transceiver_config: {backend: UCX}\n";

    fn disagg(ctx: &str, n_ctx: usize, gen_yaml: &str, n_gen: usize, w: Workload) -> Summary {
        let topo = Topology::Disagg {
            ctx: shape(Role::Ctx, ctx),
            ctx_servers: n_ctx,
            gen_shape: shape(Role::Gen, gen_yaml),
            gen_servers: n_gen,
        };
        simulate(&topo, w, 1)
    }

    fn agg(yaml: &str, w: Workload) -> Summary {
        let topo = Topology::Agg {
            shape: shape(Role::Agg, yaml),
            servers: 1,
        };
        simulate(&topo, w, 1)
    }

    fn wl(concurrency: usize, input: u32, output: u32) -> Workload {
        Workload {
            concurrency,
            requests: concurrency * 3,
            input_tokens: input,
            output_tokens: output,
        }
    }

    #[test]
    fn more_gen_servers_raise_saturated_throughput() {
        // Enough users to saturate one gen server (batch cap 64 x 8 ranks), decode-heavy so the
        // ctx servers are not the bottleneck.
        let w = wl(2048, 128, 256);
        let one = disagg(CTX, 4, GEN, 1, w);
        let two = disagg(CTX, 4, GEN, 2, w);
        assert!(
            two.output_tok_per_s > one.output_tok_per_s * 1.3,
            "{one:?} vs {two:?}"
        );
    }

    #[test]
    fn higher_concurrency_raises_tpot() {
        let low = disagg(CTX, 2, GEN, 1, wl(8, 1024, 64));
        let high = disagg(CTX, 2, GEN, 1, wl(256, 1024, 64));
        assert!(
            high.mean_tpot_s > low.mean_tpot_s * 1.1,
            "{low:?} vs {high:?}"
        );
    }

    #[test]
    fn longer_input_raises_ttft() {
        let short = agg(GEN, wl(16, 1024, 16));
        let long = agg(GEN, wl(16, 8192, 16));
        assert!(
            long.mean_ttft_s > short.mean_ttft_s * 2.0,
            "{short:?} vs {long:?}"
        );
        let short = disagg(CTX, 1, GEN, 1, wl(16, 1024, 16));
        let long = disagg(CTX, 1, GEN, 1, wl(16, 8192, 16));
        assert!(
            long.mean_ttft_s > short.mean_ttft_s * 2.0,
            "{short:?} vs {long:?}"
        );
    }

    #[test]
    fn bigger_batch_raises_throughput_until_kv_binds() {
        // Llama-3-70B FP8 on one H200 with a small KV share: about 30k tokens of KV.
        let cfg = |bs: u32| {
            format!(
                "max_batch_size: {bs}\nmax_num_tokens: 8192\nkv_cache_config: {{free_gpu_memory_fraction: 0.05, dtype: fp8}}\n"
            )
        };
        let run = |bs: u32| {
            let s = shape_for(Role::Agg, &cfg(bs), "llama-3-70b-fp8", "H200");
            let topo = Topology::Agg {
                shape: s,
                servers: 1,
            };
            simulate(
                &topo,
                Workload {
                    concurrency: 256,
                    requests: 512,
                    input_tokens: 512,
                    output_tokens: 256,
                },
                1,
            )
        };
        let kv_tokens = shape_for(Role::Agg, &cfg(1), "llama-3-70b-fp8", "H200").kv_capacity_tokens;
        // Each request reserves 768 tokens: KV binds at kv_tokens / 768 requests.
        let kv_bound = (kv_tokens / 768) as u32;
        assert!(
            (16..64).contains(&kv_bound),
            "test assumes a KV bound of 16..64, got {kv_bound}"
        );
        let (t4, t16, t64, t256) = (run(4), run(16), run(64), run(256));
        assert!(
            t16.output_tok_per_s > t4.output_tok_per_s * 1.5,
            "{t4:?} {t16:?}"
        );
        assert!(
            t64.output_tok_per_s > t16.output_tok_per_s * 1.05,
            "{t16:?} {t64:?}"
        );
        // Past the KV bound, a bigger max_batch_size changes nothing.
        let ratio = t256.output_tok_per_s / t64.output_tok_per_s;
        assert!((0.97..1.03).contains(&ratio), "{t64:?} {t256:?}");
    }

    #[test]
    fn mtp_lowers_tpot() {
        let plain = disagg(CTX, 1, GEN, 1, wl(64, 1024, 128));
        let mtp_gen = format!(
            "{GEN}speculative_config: {{decoding_type: MTP, num_nextn_predict_layers: 3}}\n"
        );
        let mtp = disagg(CTX, 1, &mtp_gen, 1, wl(64, 1024, 128));
        assert!(
            mtp.mean_tpot_s < plain.mean_tpot_s * 0.7,
            "{plain:?} vs {mtp:?}"
        );
    }

    #[test]
    fn small_ctx_token_budget_raises_ttft_under_load() {
        let small_ctx = CTX.replace("max_num_tokens: 16896", "max_num_tokens: 256");
        let w = wl(128, 4096, 16);
        let big = disagg(CTX, 1, GEN, 1, w);
        let small = disagg(&small_ctx, 1, GEN, 1, w);
        assert!(
            small.mean_ttft_s > big.mean_ttft_s * 1.2,
            "{big:?} vs {small:?}"
        );
    }

    #[test]
    fn kv_transfer_shows_in_disaggregated_ttft() {
        let w = wl(1, 8192, 8);
        let fast = disagg(CTX, 1, GEN, 1, w);
        let slow_gen = GEN.replace("backend: UCX", "backend: MPI");
        let slow = disagg(CTX, 1, &slow_gen, 1, w);
        let gen_s = shape(Role::Gen, GEN);
        let slow_shape = shape(Role::Gen, &slow_gen);
        let expected = slow_shape.kv_transfer_time(8192, 4) - gen_s.kv_transfer_time(8192, 4);
        assert!(expected > 0.0);
        let got = slow.mean_ttft_s - fast.mean_ttft_s;
        assert!(
            (got - expected).abs() < expected * 0.2 + 1e-3,
            "expected +{expected}s, got +{got}s"
        );
        // And the transfer is part of TTFT at all: an agg server of the same shape has none.
        let agg_ttft = agg(CTX, w).mean_ttft_s;
        assert!(fast.mean_ttft_s > agg_ttft);
    }

    #[test]
    fn runs_are_reproducible() {
        let a = disagg(CTX, 1, GEN, 1, wl(32, 512, 32));
        let b = disagg(CTX, 1, GEN, 1, wl(32, 512, 32));
        assert_eq!(a, b);
    }
}
