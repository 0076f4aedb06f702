//! A typed view of the worker config file (`ctx_config.yaml` / `gen_config.yaml`, the LLM API
//! options passed to `trtllm-serve --config`): only the fields the simulator uses, unknown keys
//! ignored.

use serde::Deserialize;

/// The fields of a worker config that shape the performance model.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct WorkerConfig {
    /// `tensor_parallel_size` (TP).
    #[serde(default)]
    pub tensor_parallel_size: Option<u32>,
    /// `pipeline_parallel_size` (PP).
    #[serde(default)]
    pub pipeline_parallel_size: Option<u32>,
    /// `context_parallel_size` (CP).
    #[serde(default)]
    pub context_parallel_size: Option<u32>,
    /// `moe_expert_parallel_size` (EP).
    #[serde(default)]
    pub moe_expert_parallel_size: Option<u32>,
    /// `enable_attention_dp`: attention runs data-parallel, each rank with its own batch.
    #[serde(default)]
    pub enable_attention_dp: Option<bool>,
    /// `max_batch_size` (per attention-DP rank when attention DP is on).
    #[serde(default)]
    pub max_batch_size: Option<u32>,
    /// `max_num_tokens`: the per-iteration token budget (per attention-DP rank).
    #[serde(default)]
    pub max_num_tokens: Option<u32>,
    /// `max_seq_len`.
    #[serde(default)]
    pub max_seq_len: Option<u32>,
    /// `stream_interval`: tokens per streamed chunk.
    #[serde(default)]
    pub stream_interval: Option<u32>,
    /// `speculative_config`.
    #[serde(default)]
    pub speculative_config: Option<SpeculativeConfig>,
    /// `kv_cache_config`.
    #[serde(default)]
    pub kv_cache_config: Option<KvCacheConfig>,
    /// `cache_transceiver_config`.
    #[serde(default)]
    pub cache_transceiver_config: Option<CacheTransceiverConfig>,
}

/// `speculative_config` (MTP).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct SpeculativeConfig {
    /// `decoding_type` (`MTP`, ...).
    #[serde(default)]
    pub decoding_type: Option<String>,
    /// Draft layers (older configs).
    #[serde(default)]
    pub num_nextn_predict_layers: Option<u32>,
    /// Draft length (newer configs).
    #[serde(default)]
    pub max_draft_len: Option<u32>,
}

/// `kv_cache_config`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct KvCacheConfig {
    /// Fraction of the GPU memory left after loading weights that goes to the KV cache.
    #[serde(default)]
    pub free_gpu_memory_fraction: Option<f64>,
    /// KV cache element type (`fp8`, `auto`, ...).
    #[serde(default)]
    pub dtype: Option<String>,
    /// `enable_block_reuse`: KV blocks of a prompt prefix already computed are reused
    /// (TensorRT-LLM's default: on).
    #[serde(default)]
    pub enable_block_reuse: Option<bool>,
    /// `tokens_per_block`: tokens per KV block, the unit of reuse (TensorRT-LLM's default: 32).
    #[serde(default)]
    pub tokens_per_block: Option<u32>,
}

/// `cache_transceiver_config`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct CacheTransceiverConfig {
    /// `NIXL`, `UCX`, `MPI` or `DEFAULT`.
    #[serde(default)]
    pub backend: Option<String>,
}

/// Errors reading a worker config.
#[derive(Debug, thiserror::Error)]
pub enum WorkerConfigError {
    /// The file could not be read.
    #[error("cannot read worker config {path}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The YAML is malformed or a field has the wrong type.
    #[error("invalid worker config {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What the parser said.
        message: String,
    },
}

impl WorkerConfig {
    /// Parses the YAML text of a worker config. An empty document is an empty config.
    pub fn parse(text: &str, path: &str) -> Result<Self, WorkerConfigError> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        serde_saphyr::from_str(text).map_err(|e| WorkerConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }

    /// Reads and parses a worker config file.
    pub fn read(path: &std::path::Path) -> Result<Self, WorkerConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| WorkerConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        Self::parse(&text, &shown)
    }

    /// MTP draft tokens per step: `max_draft_len`, else `num_nextn_predict_layers`, else 0.
    pub fn mtp_draft_tokens(&self) -> u32 {
        self.speculative_config
            .as_ref()
            .and_then(|s| s.max_draft_len.or(s.num_nextn_predict_layers))
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_fixture_worker_section() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(
            "../../../shared/fixtures/upstream/tests/integration/defs/perf/disagg/test_configs",
        );
        let mut seen = 0;
        let mut stack = vec![root];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                let text = std::fs::read_to_string(&p).unwrap();
                let doc: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
                for role in ["ctx", "gen"] {
                    let Some(section) = doc.get("worker_config").and_then(|w| w.get(role)) else {
                        continue;
                    };
                    let cfg: WorkerConfig = serde_json::from_value(section.clone())
                        .unwrap_or_else(|e| panic!("{}: {role}: {e}", p.display()));
                    assert!(cfg.max_batch_size.is_some(), "{}", p.display());
                    seen += 1;
                }
            }
        }
        // The fixtures are optional in a bare checkout; when present they must all parse.
        if seen > 0 {
            assert!(seen >= 40, "only {seen} worker sections found");
        }
    }

    #[test]
    fn draft_len_prefers_max_draft_len() {
        let c = WorkerConfig::parse(
            "speculative_config: {decoding_type: MTP, num_nextn_predict_layers: 3}\nfoo: 1\n",
            "x",
        )
        .unwrap();
        assert_eq!(c.mtp_draft_tokens(), 3);
        let c = WorkerConfig::parse("speculative_config: {max_draft_len: 2}\n", "x").unwrap();
        assert_eq!(c.mtp_draft_tokens(), 2);
        assert!(WorkerConfig::parse("max_batch_size: [1]\n", "x").is_err());
        assert_eq!(
            WorkerConfig::parse("", "x").unwrap(),
            WorkerConfig::default()
        );
    }
}
