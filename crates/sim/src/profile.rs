//! Built-in GPU and model profiles, the tuning constants of the performance model, and the
//! `--model-profile` override file.
//!
//! Every number here is documented with its source in `docs/simulator.md`.

use std::path::Path;

use serde::Deserialize;

/// Numeric precision of weights (and of the GEMMs that use them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// NVFP4/MXFP4 weights: 4 bits plus one 8-bit scale per 16 values (4.5 bits).
    Fp4,
    /// FP8 weights.
    Fp8,
    /// BF16/FP16 weights.
    Bf16,
}

impl Precision {
    /// Bytes per weight, scales included.
    pub fn bytes_per_param(self) -> f64 {
        match self {
            Precision::Fp4 => 0.5625,
            Precision::Fp8 => 1.0,
            Precision::Bf16 => 2.0,
        }
    }

    /// Guesses the precision from a model name (`...-FP4`, `nvfp4`, `fp8`; gpt-oss ships MXFP4).
    pub fn from_model_name(name: &str) -> Self {
        let n = name.to_ascii_lowercase();
        if n.contains("fp4") || n.contains("gpt-oss") || n.contains("gpt_oss") {
            Precision::Fp4
        } else if n.contains("fp8") {
            Precision::Fp8
        } else {
            Precision::Bf16
        }
    }
}

/// A GPU profile: public dense peak throughput and memory/interconnect figures, per GPU.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpuProfile {
    /// Name as used in test configs (`GB200`, `H100`, ...).
    pub name: String,
    /// Dense BF16 tensor throughput, TFLOP/s.
    pub bf16_tflops: f64,
    /// Dense FP8 tensor throughput, TFLOP/s.
    pub fp8_tflops: f64,
    /// Dense FP4 tensor throughput, TFLOP/s (equal to FP8 on GPUs without FP4 units).
    pub fp4_tflops: f64,
    /// HBM capacity, GB (10^9 bytes).
    pub hbm_gb: f64,
    /// HBM bandwidth, TB/s.
    pub hbm_tbps: f64,
    /// NVLink bandwidth per GPU and direction, GB/s.
    pub nvlink_gbps: f64,
    /// GPUs in one NVLink domain (8 on HGX boards, 72 on NVL72 racks).
    pub nvlink_domain: u32,
    /// Scale-out network bandwidth per GPU and direction, GB/s.
    pub net_gbps: f64,
}

impl GpuProfile {
    /// Dense tensor throughput for a precision, FLOP/s.
    pub fn flops(&self, p: Precision) -> f64 {
        let t = match p {
            Precision::Fp4 => self.fp4_tflops,
            Precision::Fp8 => self.fp8_tflops,
            Precision::Bf16 => self.bf16_tflops,
        };
        t * 1e12
    }

    /// Bandwidth of the link a GPU uses for collectives spanning `world` GPUs, bytes/s.
    pub fn collective_bw(&self, world: u32) -> f64 {
        if world <= self.nvlink_domain {
            self.nvlink_gbps * 1e9
        } else {
            self.net_gbps * 1e9
        }
    }

    /// Bandwidth one GPU uses to send KV cache to another server, bytes/s: NVLink on
    /// multi-node NVLink racks (NVL72), the scale-out network otherwise.
    pub fn kv_link_bw(&self) -> f64 {
        if self.nvlink_domain > 8 {
            self.nvlink_gbps * 1e9
        } else {
            self.net_gbps * 1e9
        }
    }
}

/// Names of the built-in GPU profiles.
pub const GPU_NAMES: &[&str] = &["GB200", "GB300", "B200", "B300", "H100", "H200"];

/// The built-in GPU profile called `name` (case-insensitive), if any.
pub fn builtin_gpu(name: &str) -> Option<GpuProfile> {
    // (name, bf16, fp8, fp4 dense TFLOP/s, HBM GB, HBM TB/s, NVLink GB/s per direction,
    //  NVLink domain, network GB/s per GPU)
    let row = match name.to_ascii_uppercase().as_str() {
        "H100" => ("H100", 989.0, 1979.0, 1979.0, 80.0, 3.35, 450.0, 8, 50.0),
        "H200" => ("H200", 989.0, 1979.0, 1979.0, 141.0, 4.8, 450.0, 8, 50.0),
        "B200" => ("B200", 2250.0, 4500.0, 9000.0, 180.0, 8.0, 900.0, 8, 50.0),
        "B300" => ("B300", 2250.0, 4500.0, 13500.0, 270.0, 8.0, 900.0, 8, 100.0),
        "GB200" => (
            "GB200", 2500.0, 5000.0, 10000.0, 186.0, 8.0, 900.0, 72, 50.0,
        ),
        "GB300" => (
            "GB300", 2500.0, 5000.0, 15000.0, 279.0, 8.0, 900.0, 72, 100.0,
        ),
        _ => return None,
    };
    Some(GpuProfile {
        name: row.0.to_owned(),
        bf16_tflops: row.1,
        fp8_tflops: row.2,
        fp4_tflops: row.3,
        hbm_gb: row.4,
        hbm_tbps: row.5,
        nvlink_gbps: row.6,
        nvlink_domain: row.7,
        net_gbps: row.8,
    })
}

/// A model profile: the architecture figures the roofline needs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelProfile {
    /// Profile name (`deepseek-v3`, `llama-3-70b`, ...).
    pub name: String,
    /// Total parameters, billions.
    pub total_params_b: f64,
    /// Parameters active per token, billions (equal to the total for dense models).
    pub active_params_b: f64,
    /// Transformer layers.
    pub layers: u32,
    /// Hidden size (activation width exchanged by collectives).
    pub hidden: u32,
    /// KV heads; 1 for multi-head latent attention (MLA), whose latent cannot be split by TP.
    pub kv_heads: u32,
    /// KV cache elements per token per layer (2 x kv_heads x head_dim, or the MLA latent
    /// width 512 + 64).
    pub kv_elems_per_token_layer: u32,
    /// Attention FLOPs per token per context position per layer: 2 x heads x (qk_dim + v_dim).
    pub attn_flops_per_ctx_layer: u32,
    /// Weight precision; guessed from the model name when absent.
    #[serde(default)]
    pub precision: Option<Precision>,
}

/// Names of the built-in model profiles.
pub const MODEL_NAMES: &[&str] = &[
    "deepseek-v3",
    "kimi-k2",
    "qwen3-235b-a22b",
    "llama-3-70b",
    "llama-3-8b",
    "gpt-oss-120b",
    "generic",
];

/// The built-in model profile called `name` (a profile name from [`MODEL_NAMES`]).
pub fn builtin_model(name: &str) -> Option<ModelProfile> {
    // (name, total B, active B, layers, hidden, kv heads, kv elems/token/layer, attn flops/ctx/layer)
    let row = match name {
        "deepseek-v3" => ("deepseek-v3", 671.0, 37.0, 61, 7168, 1, 576, 81_920),
        "kimi-k2" => ("kimi-k2", 1040.0, 32.0, 61, 7168, 1, 576, 40_960),
        "qwen3-235b-a22b" => ("qwen3-235b-a22b", 235.0, 22.0, 94, 4096, 4, 1024, 32_768),
        "llama-3-70b" => ("llama-3-70b", 70.6, 70.6, 80, 8192, 8, 2048, 32_768),
        "llama-3-8b" => ("llama-3-8b", 8.0, 8.0, 32, 4096, 8, 2048, 16_384),
        "gpt-oss-120b" => ("gpt-oss-120b", 116.8, 5.1, 36, 2880, 8, 1024, 16_384),
        "generic" => ("generic", 8.0, 8.0, 32, 4096, 8, 2048, 16_384),
        _ => return None,
    };
    Some(ModelProfile {
        name: row.0.to_owned(),
        total_params_b: row.1,
        active_params_b: row.2,
        layers: row.3,
        hidden: row.4,
        kv_heads: row.5,
        kv_elems_per_token_layer: row.6,
        attn_flops_per_ctx_layer: row.7,
        precision: None,
    })
}

/// Picks a built-in model profile from a model name such as `metadata.model_name`
/// (`deepseek-r1-fp4`, `Qwen3-235B-A22B-FP4`, `kimi-k2-thinking-fp4`); `generic` when nothing
/// matches. Also accepts the profile names themselves.
pub fn match_model(model_name: &str) -> ModelProfile {
    let n: String = model_name
        .to_ascii_lowercase()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let name = if n.contains("deepseek") {
        "deepseek-v3"
    } else if n.contains("kimi") {
        "kimi-k2"
    } else if n.contains("qwen3235b") {
        "qwen3-235b-a22b"
    } else if n.contains("gptoss") {
        "gpt-oss-120b"
    } else if n.contains("llama") && n.contains("70b") {
        "llama-3-70b"
    } else if n.contains("llama") && n.contains("8b") {
        "llama-3-8b"
    } else {
        "generic"
    };
    let mut profile = builtin_model(name).unwrap_or_else(generic_model);
    profile.precision = Some(Precision::from_model_name(model_name));
    profile
}

fn generic_model() -> ModelProfile {
    ModelProfile {
        name: "generic".to_owned(),
        total_params_b: 8.0,
        active_params_b: 8.0,
        layers: 32,
        hidden: 4096,
        kv_heads: 8,
        kv_elems_per_token_layer: 2048,
        attn_flops_per_ctx_layer: 16_384,
        precision: None,
    }
}

/// Tuning constants of the performance model (efficiencies, overheads, acceptance rates).
#[derive(Debug, Clone, PartialEq)]
pub struct Tuning {
    /// Fraction of peak tensor FLOP/s that GEMMs achieve.
    pub compute_efficiency: f64,
    /// Fraction of peak HBM bandwidth that kernels achieve.
    pub memory_efficiency: f64,
    /// Fixed host/launch overhead per iteration, seconds.
    pub iteration_overhead_s: f64,
    /// Latency of one collective inside an NVLink domain, seconds.
    pub collective_latency_s: f64,
    /// Memory per GPU reserved for activations, CUDA graphs and the runtime, GB.
    pub reserved_gb: f64,
    /// Acceptance probability of each MTP draft token, given the previous one was accepted.
    pub mtp_acceptance: f64,
    /// Relative jitter of each iteration time (uniform in +/- this fraction).
    pub jitter: f64,
    /// Fixed part of the simulated model load time, seconds.
    pub load_fixed_s: f64,
    /// Weight loading bandwidth per GPU, GB/s.
    pub load_gbps: f64,
    /// Fixed latency of one KV cache transfer (handshake), seconds.
    pub kv_transfer_latency_s: f64,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            compute_efficiency: 0.5,
            memory_efficiency: 0.8,
            iteration_overhead_s: 0.001,
            collective_latency_s: 8e-6,
            reserved_gb: 6.0,
            mtp_acceptance: 0.85,
            jitter: 0.02,
            load_fixed_s: 20.0,
            load_gbps: 2.0,
            kv_transfer_latency_s: 0.001,
        }
    }
}

/// The resolved profiles a server runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct Profiles {
    /// The GPU.
    pub gpu: GpuProfile,
    /// The model.
    pub model: ModelProfile,
    /// Weight precision.
    pub precision: Precision,
    /// Tuning constants.
    pub tuning: Tuning,
}

/// Errors reading a profile override.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The file could not be read.
    #[error("cannot read model profile {path}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The YAML does not have the documented shape.
    #[error("invalid model profile {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What the parser said.
        message: String,
    },
    /// A name is neither a built-in profile nor a file.
    #[error("unknown {what} profile `{name}` (built-in: {known})")]
    Unknown {
        /// `model` or `GPU`.
        what: &'static str,
        /// The name given.
        name: String,
        /// The built-in names.
        known: String,
    },
}

/// A GPU or model given by built-in name, or as a mapping with `base:` plus overridden fields.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpuOverride {
    /// Built-in profile to start from (default: the `--gpu-type`).
    #[serde(default)]
    pub base: Option<String>,
    /// Overrides [`GpuProfile::bf16_tflops`].
    #[serde(default)]
    pub bf16_tflops: Option<f64>,
    /// Overrides [`GpuProfile::fp8_tflops`].
    #[serde(default)]
    pub fp8_tflops: Option<f64>,
    /// Overrides [`GpuProfile::fp4_tflops`].
    #[serde(default)]
    pub fp4_tflops: Option<f64>,
    /// Overrides [`GpuProfile::hbm_gb`].
    #[serde(default)]
    pub hbm_gb: Option<f64>,
    /// Overrides [`GpuProfile::hbm_tbps`].
    #[serde(default)]
    pub hbm_tbps: Option<f64>,
    /// Overrides [`GpuProfile::nvlink_gbps`].
    #[serde(default)]
    pub nvlink_gbps: Option<f64>,
    /// Overrides [`GpuProfile::nvlink_domain`].
    #[serde(default)]
    pub nvlink_domain: Option<u32>,
    /// Overrides [`GpuProfile::net_gbps`].
    #[serde(default)]
    pub net_gbps: Option<f64>,
}

/// Model fields of an override; see [`ModelProfile`] for their meaning.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelOverride {
    /// Built-in profile or model name to start from (default: matched from `--model`).
    #[serde(default)]
    pub base: Option<String>,
    /// Overrides [`ModelProfile::total_params_b`].
    #[serde(default)]
    pub total_params_b: Option<f64>,
    /// Overrides [`ModelProfile::active_params_b`].
    #[serde(default)]
    pub active_params_b: Option<f64>,
    /// Overrides [`ModelProfile::layers`].
    #[serde(default)]
    pub layers: Option<u32>,
    /// Overrides [`ModelProfile::hidden`].
    #[serde(default)]
    pub hidden: Option<u32>,
    /// Overrides [`ModelProfile::kv_heads`].
    #[serde(default)]
    pub kv_heads: Option<u32>,
    /// Overrides [`ModelProfile::kv_elems_per_token_layer`].
    #[serde(default)]
    pub kv_elems_per_token_layer: Option<u32>,
    /// Overrides [`ModelProfile::attn_flops_per_ctx_layer`].
    #[serde(default)]
    pub attn_flops_per_ctx_layer: Option<u32>,
    /// Overrides the weight precision.
    #[serde(default)]
    pub precision: Option<Precision>,
}

/// The `--model-profile` file: the `sim:` section of a test config (or a file holding just that
/// section's contents). Every key is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimSection {
    /// Model: a built-in profile or model name, or a mapping (see [`ModelOverride`]).
    #[serde(default)]
    pub model: Option<NameOr<ModelOverride>>,
    /// GPU: a built-in name, or a mapping (see [`GpuOverride`]).
    #[serde(default)]
    pub gpu: Option<NameOr<GpuOverride>>,
    /// Overrides [`Tuning::compute_efficiency`].
    #[serde(default)]
    pub compute_efficiency: Option<f64>,
    /// Overrides [`Tuning::memory_efficiency`].
    #[serde(default)]
    pub memory_efficiency: Option<f64>,
    /// Overrides [`Tuning::iteration_overhead_s`], in milliseconds.
    #[serde(default)]
    pub iteration_overhead_ms: Option<f64>,
    /// Overrides [`Tuning::mtp_acceptance`].
    #[serde(default)]
    pub mtp_acceptance: Option<f64>,
    /// Overrides [`Tuning::jitter`].
    #[serde(default)]
    pub jitter: Option<f64>,
    /// Overrides [`Tuning::reserved_gb`].
    #[serde(default)]
    pub reserved_gb: Option<f64>,
    /// Overrides the whole simulated load time, seconds.
    #[serde(default)]
    pub load_time_s: Option<f64>,
}

/// A value given either as a plain name or as a mapping.
#[derive(Debug, Clone)]
pub enum NameOr<T> {
    /// A built-in name.
    Name(String),
    /// A mapping.
    Map(T),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for NameOr<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A string is a name; anything else must be the mapping. Buffering through
        // serde_json::Value keeps the mapping's own error messages.
        let v = serde_json::Value::deserialize(d)?;
        match v {
            serde_json::Value::String(s) => Ok(NameOr::Name(s)),
            other => T::deserialize(other)
                .map(NameOr::Map)
                .map_err(serde::de::Error::custom),
        }
    }
}

#[derive(Debug, Deserialize)]
struct Wrapped {
    sim: SimSection,
}

/// Parses a `--model-profile` YAML text: either a mapping with a `sim:` key (extra keys of a
/// test config are ignored) or the section itself.
pub fn parse_sim_section(text: &str, path: &str) -> Result<SimSection, ProfileError> {
    let err = |e: serde_saphyr::Error| ProfileError::Parse {
        path: path.to_owned(),
        message: e.to_string(),
    };
    let value: serde_json::Value = serde_saphyr::from_str(text).map_err(err)?;
    let section = match value.get("sim") {
        Some(_) => {
            let w: Wrapped = serde_json::from_value(value).map_err(|e| ProfileError::Parse {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
            w.sim
        }
        None if value.is_null() => SimSection::default(),
        None => serde_json::from_value(value).map_err(|e| ProfileError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?,
    };
    Ok(section)
}

/// Resolves the profiles for a server: `--model` picks the model, `--gpu-type` the GPU, and
/// `--model-profile` (a built-in model profile name or a YAML file) overrides either.
pub fn resolve(
    model_name: &str,
    gpu_type: &str,
    model_profile: Option<&str>,
) -> Result<Profiles, ProfileError> {
    let unknown_gpu = |name: &str| ProfileError::Unknown {
        what: "GPU",
        name: name.to_owned(),
        known: GPU_NAMES.join(", "),
    };
    let mut gpu = builtin_gpu(gpu_type).ok_or_else(|| unknown_gpu(gpu_type))?;
    let mut model = match_model(model_name);
    let mut tuning = Tuning::default();
    let mut load_override = None;
    if let Some(p) = model_profile {
        let section = if let Some(m) = builtin_model(p) {
            SimSection {
                model: Some(NameOr::Name(m.name)),
                ..SimSection::default()
            }
        } else if Path::new(p).exists()
            || p.contains('/')
            || p.ends_with(".yaml")
            || p.ends_with(".yml")
        {
            let text = std::fs::read_to_string(p).map_err(|source| ProfileError::Read {
                path: p.to_owned(),
                source,
            })?;
            parse_sim_section(&text, p)?
        } else {
            return Err(ProfileError::Unknown {
                what: "model",
                name: p.to_owned(),
                known: MODEL_NAMES.join(", "),
            });
        };
        match section.gpu {
            Some(NameOr::Name(n)) => gpu = builtin_gpu(&n).ok_or_else(|| unknown_gpu(&n))?,
            Some(NameOr::Map(o)) => {
                if let Some(b) = &o.base {
                    gpu = builtin_gpu(b).ok_or_else(|| unknown_gpu(b))?;
                }
                apply_gpu(&mut gpu, &o);
            }
            None => {}
        }
        match section.model {
            Some(NameOr::Name(n)) => model = model_by_name(&n),
            Some(NameOr::Map(o)) => {
                if let Some(b) = &o.base {
                    model = model_by_name(b);
                }
                apply_model(&mut model, &o);
            }
            None => {}
        }
        let t = &mut tuning;
        set(&mut t.compute_efficiency, section.compute_efficiency);
        set(&mut t.memory_efficiency, section.memory_efficiency);
        set(
            &mut t.iteration_overhead_s,
            section.iteration_overhead_ms.map(|ms| ms / 1e3),
        );
        set(&mut t.mtp_acceptance, section.mtp_acceptance);
        set(&mut t.jitter, section.jitter);
        set(&mut t.reserved_gb, section.reserved_gb);
        load_override = section.load_time_s;
    }
    if let Some(s) = load_override {
        tuning.load_fixed_s = s.max(0.0);
        tuning.load_gbps = f64::INFINITY;
    }
    let precision = model
        .precision
        .unwrap_or_else(|| Precision::from_model_name(model_name));
    Ok(Profiles {
        gpu,
        model,
        precision,
        tuning,
    })
}

fn model_by_name(n: &str) -> ModelProfile {
    builtin_model(n).unwrap_or_else(|| match_model(n))
}

fn set<T>(slot: &mut T, v: Option<T>) {
    if let Some(v) = v {
        *slot = v;
    }
}

fn apply_gpu(g: &mut GpuProfile, o: &GpuOverride) {
    set(&mut g.bf16_tflops, o.bf16_tflops);
    set(&mut g.fp8_tflops, o.fp8_tflops);
    set(&mut g.fp4_tflops, o.fp4_tflops);
    set(&mut g.hbm_gb, o.hbm_gb);
    set(&mut g.hbm_tbps, o.hbm_tbps);
    set(&mut g.nvlink_gbps, o.nvlink_gbps);
    set(&mut g.nvlink_domain, o.nvlink_domain);
    set(&mut g.net_gbps, o.net_gbps);
}

fn apply_model(m: &mut ModelProfile, o: &ModelOverride) {
    set(&mut m.total_params_b, o.total_params_b);
    set(&mut m.active_params_b, o.active_params_b);
    set(&mut m.layers, o.layers);
    set(&mut m.hidden, o.hidden);
    set(&mut m.kv_heads, o.kv_heads);
    set(&mut m.kv_elems_per_token_layer, o.kv_elems_per_token_layer);
    set(&mut m.attn_flops_per_ctx_layer, o.attn_flops_per_ctx_layer);
    if o.precision.is_some() {
        m.precision = o.precision;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_from_fixtures_match() {
        assert_eq!(match_model("deepseek-r1-fp4").name, "deepseek-v3");
        assert_eq!(match_model("deepseek_r1_0528_fp4_v2").name, "deepseek-v3");
        assert_eq!(match_model("deepseek-v32-fp4").name, "deepseek-v3");
        assert_eq!(match_model("Qwen3-235B-A22B-FP4").name, "qwen3-235b-a22b");
        assert_eq!(match_model("kimi-k2-thinking-fp4").name, "kimi-k2");
        assert_eq!(
            match_model("meta-llama/Llama-3.3-70B-Instruct").name,
            "llama-3-70b"
        );
        assert_eq!(match_model("Llama-3.1-8B").name, "llama-3-8b");
        assert_eq!(match_model("openai/gpt-oss-120b").name, "gpt-oss-120b");
        assert_eq!(match_model("something-else").name, "generic");
        assert_eq!(
            match_model("deepseek-r1-fp4").precision,
            Some(Precision::Fp4)
        );
    }

    #[test]
    fn every_gpu_name_resolves() {
        for n in GPU_NAMES {
            let g = builtin_gpu(n).unwrap();
            assert!(g.fp4_tflops >= g.fp8_tflops && g.fp8_tflops > g.bf16_tflops);
        }
        assert!(builtin_gpu("gb200").is_some());
        assert!(builtin_gpu("A100").is_none());
    }

    #[test]
    fn model_profile_file_overrides_gpu_model_and_tuning() {
        let dir = std::env::temp_dir().join(format!("sim-profile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("test_config.yaml");
        std::fs::write(
            &path,
            "metadata: {model_name: x}\nsim:\n  gpu: {base: H200, hbm_gb: 100}\n  model: {base: llama-3-70b, precision: fp8}\n  mtp_acceptance: 0.5\n  load_time_s: 3\n",
        )
        .unwrap();
        let p = resolve("deepseek-r1-fp4", "GB200", Some(path.to_str().unwrap())).unwrap();
        assert_eq!((p.gpu.name.as_str(), p.gpu.hbm_gb), ("H200", 100.0));
        assert_eq!(
            (p.model.name.as_str(), p.precision),
            ("llama-3-70b", Precision::Fp8)
        );
        assert_eq!(p.tuning.mtp_acceptance, 0.5);
        assert_eq!(p.tuning.load_fixed_s, 3.0);
        std::fs::write(&path, "sim: {gpu: A100}\n").unwrap();
        assert!(matches!(
            resolve("m", "GB200", Some(path.to_str().unwrap())),
            Err(ProfileError::Unknown { .. })
        ));
        std::fs::write(&path, "sim: {gpus: H100}\n").unwrap();
        assert!(matches!(
            resolve("m", "GB200", Some(path.to_str().unwrap())),
            Err(ProfileError::Parse { .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
        // A built-in profile name works too; anything else is unknown.
        assert_eq!(
            resolve("m", "H100", Some("kimi-k2")).unwrap().model.name,
            "kimi-k2"
        );
        assert!(resolve("m", "H100", Some("no-such-profile")).is_err());
    }

    #[test]
    fn sim_section_wrapped_or_bare() {
        let wrapped = "metadata: {model_name: x}\nsim:\n  gpu: H100\n  model: {base: llama-3-70b, layers: 10}\n  mtp_acceptance: 0.5\n";
        let s = parse_sim_section(wrapped, "t.yaml").unwrap();
        assert!(matches!(s.gpu, Some(NameOr::Name(ref n)) if n == "H100"));
        match s.model {
            Some(NameOr::Map(m)) => assert_eq!(m.layers, Some(10)),
            other => panic!("{other:?}"),
        }
        let bare = parse_sim_section("gpu: {base: B200, hbm_gb: 100}\n", "t.yaml").unwrap();
        assert!(matches!(bare.gpu, Some(NameOr::Map(ref g)) if g.hbm_gb == Some(100.0)));
        assert!(parse_sim_section("gpu: {hbm: 1}\n", "t.yaml").is_err());
    }
}
