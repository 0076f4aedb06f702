//! Server limits and the roofline iteration time.

use crate::profile::{Precision, Profiles};
use crate::worker::WorkerConfig;

/// The role a server plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Aggregated: prefill and decode on the same server.
    Agg,
    /// Context (prefill) server of a disaggregated deployment.
    Ctx,
    /// Generation (decode) server of a disaggregated deployment.
    Gen,
}

impl Role {
    /// The name used on the command line and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agg => "agg",
            Role::Ctx => "ctx",
            Role::Gen => "gen",
        }
    }
}

/// The KV cache transfer backend (`cache_transceiver_config.backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvBackend {
    /// NIXL.
    Nixl,
    /// UCX.
    Ucx,
    /// MPI.
    Mpi,
    /// `DEFAULT` or absent.
    Default,
}

impl KvBackend {
    /// Parses the config value (case-insensitive); unknown values count as `DEFAULT`.
    pub fn parse(s: Option<&str>) -> Self {
        match s.map(str::to_ascii_uppercase).as_deref() {
            Some("NIXL") => KvBackend::Nixl,
            Some("UCX") => KvBackend::Ucx,
            Some("MPI") => KvBackend::Mpi,
            _ => KvBackend::Default,
        }
    }

    /// Fraction of the link bandwidth the backend achieves (assumed; see the docs).
    pub fn efficiency(self) -> f64 {
        match self {
            KvBackend::Nixl => 0.9,
            KvBackend::Ucx | KvBackend::Default => 0.8,
            KvBackend::Mpi => 0.5,
        }
    }
}

/// What one iteration processes, summed over the batch.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Batch {
    /// Prompt tokens processed (chunked prefill).
    pub prefill_tokens: u64,
    /// Sum over those prompt tokens of the number of positions each attends to.
    pub prefill_attn_ctx: f64,
    /// Sequences in the decode phase.
    pub decode_seqs: u64,
    /// Sum over decoding sequences of their current length (KV tokens read).
    pub decode_kv_tokens: f64,
}

/// A server's limits and cost model, derived from its worker config and the profiles.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerShape {
    /// The role.
    pub role: Role,
    /// Tensor parallelism.
    pub tp: u32,
    /// Pipeline parallelism.
    pub pp: u32,
    /// Context parallelism.
    pub cp: u32,
    /// Expert parallelism.
    pub ep: u32,
    /// Attention data parallelism.
    pub attention_dp: bool,
    /// GPUs of the server: TP x PP x CP.
    pub world: u32,
    /// Most requests in flight (`max_batch_size`, times TP ranks under attention DP).
    pub batch_cap: u32,
    /// Tokens per iteration (`max_num_tokens`, times TP ranks under attention DP).
    pub token_budget: u32,
    /// Longest sequence (prompt + output).
    pub max_seq_len: u32,
    /// MTP draft tokens per decode step.
    pub mtp: u32,
    /// Tokens per streamed chunk.
    pub stream_interval: u32,
    /// KV cache bytes per token, all layers.
    pub kv_bytes_per_token: f64,
    /// KV cache capacity of the server, tokens.
    pub kv_capacity_tokens: u64,
    /// Tokens per KV block when prefix blocks are reused (`kv_cache_config.enable_block_reuse`,
    /// on unless set to false); `None` when reuse is off.
    pub reuse_block_tokens: Option<u32>,
    /// Weight bytes per GPU.
    pub weight_bytes_per_gpu: f64,
    /// KV transfer backend.
    pub backend: KvBackend,
    /// Multiplier applied to every iteration time (the `slow-factor` fault).
    pub slow_factor: f64,
    /// The profiles.
    pub profiles: Profiles,
}

/// Tokens per KV block when block reuse is on: `kv_cache_config.tokens_per_block`, else
/// TensorRT-LLM's default of 32; `None` with `enable_block_reuse: false`.
fn reuse_block_tokens(cfg: &WorkerConfig) -> Option<u32> {
    let kv = cfg.kv_cache_config.as_ref();
    let on = kv.and_then(|k| k.enable_block_reuse).unwrap_or(true);
    on.then(|| {
        kv.and_then(|k| k.tokens_per_block)
            .unwrap_or(DEFAULT_TOKENS_PER_BLOCK)
            .max(1)
    })
}

/// TensorRT-LLM's `tokens_per_block` default.
const DEFAULT_TOKENS_PER_BLOCK: u32 = 32;

/// TensorRT-LLM defaults for absent fields.
const DEFAULT_MAX_BATCH_SIZE: u32 = 2048;
const DEFAULT_MAX_NUM_TOKENS: u32 = 8192;
const DEFAULT_MAX_SEQ_LEN: u32 = 32_768;
const DEFAULT_FREE_GPU_MEMORY_FRACTION: f64 = 0.9;
/// Bytes per activation element exchanged by collectives (BF16).
const ACT_BYTES: f64 = 2.0;
/// Experts each token is routed to, bounding the all-to-all fan-out under attention DP.
const ROUTED_FANOUT: f64 = 8.0;

impl ServerShape {
    /// Derives the shape of a server.
    pub fn new(role: Role, cfg: &WorkerConfig, profiles: Profiles) -> Self {
        let tp = cfg.tensor_parallel_size.unwrap_or(1).max(1);
        let pp = cfg.pipeline_parallel_size.unwrap_or(1).max(1);
        let cp = cfg.context_parallel_size.unwrap_or(1).max(1);
        let ep = cfg.moe_expert_parallel_size.unwrap_or(tp).max(1);
        let attention_dp = cfg.enable_attention_dp.unwrap_or(false);
        let world = tp.saturating_mul(pp).saturating_mul(cp);
        let dp_ranks = if attention_dp { tp } else { 1 };
        let batch_cap = cfg
            .max_batch_size
            .unwrap_or(DEFAULT_MAX_BATCH_SIZE)
            .max(1)
            .saturating_mul(dp_ranks);
        let token_budget = cfg
            .max_num_tokens
            .unwrap_or(DEFAULT_MAX_NUM_TOKENS)
            .max(1)
            .saturating_mul(dp_ranks);
        let max_seq_len = cfg.max_seq_len.unwrap_or(DEFAULT_MAX_SEQ_LEN).max(2);
        let m = &profiles.model;
        let kv_dtype_bytes = match cfg
            .kv_cache_config
            .as_ref()
            .and_then(|k| k.dtype.as_deref())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("fp8") => 1.0,
            Some("nvfp4" | "fp4") => Precision::Fp4.bytes_per_param(),
            _ => 2.0,
        };
        let kv_bytes_per_token =
            f64::from(m.layers) * f64::from(m.kv_elems_per_token_layer) * kv_dtype_bytes;
        let weight_bytes = m.total_params_b * 1e9 * profiles.precision.bytes_per_param();
        let weight_bytes_per_gpu = weight_bytes / f64::from(world);
        let fraction = cfg
            .kv_cache_config
            .as_ref()
            .and_then(|k| k.free_gpu_memory_fraction)
            .unwrap_or(DEFAULT_FREE_GPU_MEMORY_FRACTION)
            .clamp(0.0, 1.0);
        let free =
            (profiles.gpu.hbm_gb * 1e9 - weight_bytes_per_gpu - profiles.tuning.reserved_gb * 1e9)
                .max(0.0);
        let mut shape = Self {
            role,
            tp,
            pp,
            cp,
            ep,
            attention_dp,
            world,
            batch_cap,
            token_budget,
            max_seq_len,
            mtp: cfg.mtp_draft_tokens(),
            stream_interval: cfg.stream_interval.unwrap_or(1).max(1),
            kv_bytes_per_token,
            kv_capacity_tokens: 0,
            reuse_block_tokens: reuse_block_tokens(cfg),
            weight_bytes_per_gpu,
            backend: KvBackend::parse(
                cfg.cache_transceiver_config
                    .as_ref()
                    .and_then(|c| c.backend.as_deref()),
            ),
            slow_factor: 1.0,
            profiles,
        };
        let kv_total = free * fraction * f64::from(shape.attn_shard());
        shape.kv_capacity_tokens = (kv_total / kv_bytes_per_token.max(1.0)) as u64;
        shape
    }

    /// GPUs that hold distinct KV (and split KV reads): PP x CP x (TP under attention DP, else
    /// min(TP, KV heads); MLA has one latent head, so plain TP replicates it).
    pub fn attn_shard(&self) -> u32 {
        let tp_part = if self.attention_dp {
            self.tp
        } else {
            self.tp.min(self.profiles.model.kv_heads.max(1))
        };
        self.pp * self.cp * tp_part
    }

    /// Whether the weights fit and at least one full-length sequence fits in the KV cache.
    pub fn fits(&self) -> bool {
        self.kv_capacity_tokens >= u64::from(self.max_seq_len)
    }

    /// Simulated model load time, seconds.
    pub fn load_time_s(&self) -> f64 {
        let t = &self.profiles.tuning;
        t.load_fixed_s + self.weight_bytes_per_gpu / (t.load_gbps * 1e9)
    }

    /// Roofline time of one iteration, seconds (before jitter and the slow factor).
    pub fn iteration_time(&self, b: &Batch) -> f64 {
        let p = &self.profiles;
        let m = &p.model;
        let t = &p.tuning;
        let world = f64::from(self.world);
        let layers = f64::from(m.layers);
        let mtp = f64::from(self.mtp);
        let decode_tokens = b.decode_seqs as f64 * (1.0 + mtp);
        let tokens = b.prefill_tokens as f64 + decode_tokens;
        if tokens <= 0.0 {
            return t.iteration_overhead_s;
        }
        let active = m.active_params_b * 1e9;
        let total = m.total_params_b * 1e9;
        // Compute: dense/expert GEMMs, attention, and the MTP draft module (one extra layer per
        // draft token per decoding sequence).
        let attn_flops = f64::from(m.attn_flops_per_ctx_layer)
            * layers
            * (b.prefill_attn_ctx + b.decode_kv_tokens * (1.0 + mtp));
        let draft_flops = 2.0 * (active / layers) * mtp * b.decode_seqs as f64;
        let flops = 2.0 * active * tokens + attn_flops + draft_flops;
        let t_compute = flops / (world * p.gpu.flops(p.precision) * t.compute_efficiency);
        // Memory: weights touched by this batch (all of them for dense models; for MoE the
        // expected share of experts hit by `tokens` tokens), plus KV reads.
        let share = (active / total).clamp(0.0, 1.0);
        let touched = (1.0 - (1.0 - share).powf(tokens)).max(share);
        let bpp = p.precision.bytes_per_param();
        let draft_weights = if self.mtp > 0 {
            active / layers * bpp
        } else {
            0.0
        };
        let weight_bytes = total * bpp * touched + draft_weights;
        let kv_bytes = b.decode_kv_tokens * self.kv_bytes_per_token;
        let hbm = p.gpu.hbm_tbps * 1e12 * t.memory_efficiency;
        let t_memory = weight_bytes / world / hbm + kv_bytes / f64::from(self.attn_shard()) / hbm;
        // Communication: two collectives per layer over the TP/EP group.
        let group = self.tp.max(self.ep).min(self.world).max(1);
        let mut t_comm = 0.0;
        if group > 1 {
            let g = f64::from(group);
            let per_gpu_tokens = if self.attention_dp {
                tokens / g * ROUTED_FANOUT.min(g)
            } else {
                tokens
            };
            let bytes =
                layers * 2.0 * per_gpu_tokens * f64::from(m.hidden) * ACT_BYTES * (g - 1.0) / g;
            let latency_mult = if group > p.gpu.nvlink_domain {
                3.0
            } else {
                1.0
            };
            t_comm = bytes / p.gpu.collective_bw(group)
                + layers * 2.0 * t.collective_latency_s * latency_mult;
        }
        let t_pp = f64::from(self.pp - 1) * t.collective_latency_s;
        t.iteration_overhead_s + t_compute.max(t_memory) + t_comm + t_pp
    }

    /// Time to move the KV cache of `input_tokens` tokens from a ctx server of `ctx_world` GPUs
    /// to this server, seconds.
    pub fn kv_transfer_time(&self, input_tokens: u32, ctx_world: u32) -> f64 {
        let bytes = f64::from(input_tokens) * self.kv_bytes_per_token;
        let lanes = f64::from(ctx_world.max(1).min(self.world));
        let bw = lanes * self.profiles.gpu.kv_link_bw() * self.backend.efficiency();
        self.profiles.tuning.kv_transfer_latency_s + bytes / bw
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile;

    fn shape(yaml: &str, model: &str, gpu: &str) -> ServerShape {
        let cfg = WorkerConfig::parse(yaml, "t").unwrap();
        ServerShape::new(Role::Agg, &cfg, profile::resolve(model, gpu, None).unwrap())
    }

    #[test]
    fn limits_follow_the_config() {
        let s = shape(
            "tensor_parallel_size: 8\nenable_attention_dp: true\nmax_batch_size: 16\nmax_num_tokens: 100\nkv_cache_config: {dtype: fp8, free_gpu_memory_fraction: 0.8}\n",
            "deepseek-r1-fp4",
            "GB200",
        );
        assert_eq!((s.world, s.batch_cap, s.token_budget), (8, 128, 800));
        assert_eq!(s.kv_bytes_per_token, 61.0 * 576.0);
        assert!(s.fits());
        let tep = shape("tensor_parallel_size: 8\n", "deepseek-r1-fp4", "GB200");
        assert_eq!(
            tep.attn_shard(),
            1,
            "MLA latent is replicated under plain TP"
        );
        // DeepSeek-R1 in BF16 does not fit on one H100.
        assert!(!shape("", "deepseek-r1", "H100").fits());
    }

    #[test]
    fn decode_is_memory_bound_and_prefill_compute_bound() {
        let s = shape("tensor_parallel_size: 8\n", "llama-3-70b", "H100");
        let one = s.iteration_time(&Batch {
            decode_seqs: 1,
            decode_kv_tokens: 1000.0,
            ..Batch::default()
        });
        let many = s.iteration_time(&Batch {
            decode_seqs: 64,
            decode_kv_tokens: 64_000.0,
            ..Batch::default()
        });
        assert!(
            many < one * 2.0,
            "small decode batches are nearly free: {one} vs {many}"
        );
        let p1 = s.iteration_time(&Batch {
            prefill_tokens: 4096,
            prefill_attn_ctx: 4096.0 * 2048.0,
            ..Batch::default()
        });
        let p2 = s.iteration_time(&Batch {
            prefill_tokens: 8192,
            prefill_attn_ctx: 8192.0 * 4096.0,
            ..Batch::default()
        });
        assert!(p2 > p1 * 1.8, "prefill scales with tokens: {p1} vs {p2}");
    }

    #[test]
    fn transfer_depends_on_backend_and_length() {
        let nixl = shape(
            "cache_transceiver_config: {backend: NIXL}\n",
            "llama-3-8b",
            "H100",
        );
        let mpi = shape(
            "cache_transceiver_config: {backend: mpi}\n",
            "llama-3-8b",
            "H100",
        );
        assert!(mpi.kv_transfer_time(8000, 1) > nixl.kv_transfer_time(8000, 1));
        assert!(nixl.kv_transfer_time(8000, 1) > nixl.kv_transfer_time(1000, 1));
    }
}
