//! The OpenAI-compatible wire format: request parsing and response formatting.

use bytes::{BufMut, BytesMut};
use serde_json::{Value, json};

/// Which endpoint a request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// `/v1/completions`.
    Completions,
    /// `/v1/chat/completions`.
    Chat,
}

/// The disaggregation stage a request asks for (`disaggregated_params.request_type`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum DisaggStage {
    /// Prefill only, answer with the first token and a KV handle.
    ContextOnly,
    /// Decode only, from a KV handle made by a ctx server of `ctx_world` GPUs.
    GenerationOnly { ctx_world: u32 },
}

/// A parsed API request: what the simulator needs from it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiRequest {
    pub endpoint: Endpoint,
    pub model: Option<String>,
    pub prompt_tokens: u32,
    /// Hash of the prompt, for the output draws and the token text.
    pub prompt_hash: u64,
    /// Chained hashes of the prompt's full KV blocks (block `k`'s hash covers blocks `0..=k`),
    /// so two prompts share a cached prefix exactly as far as their hashes agree; empty when
    /// block reuse is off.
    pub prefix_blocks: Vec<u64>,
    pub max_tokens: Option<u32>,
    pub stream: bool,
    pub include_usage: bool,
    pub ignore_eos: bool,
    pub stage: Option<DisaggStage>,
}

/// Why a request was rejected with 400.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub(crate) struct BadRequest {
    pub message: String,
    pub param: Option<&'static str>,
}

fn bad(message: impl Into<String>, param: Option<&'static str>) -> BadRequest {
    BadRequest {
        message: message.into(),
        param,
    }
}

/// Tokens of a text prompt: one per 4 bytes, rounded up, at least 1 (OpenAI's rule of thumb;
/// the simulator has no tokenizer).
pub(crate) fn text_tokens(s: &str) -> u32 {
    u32::try_from(s.len().div_ceil(4))
        .unwrap_or(u32::MAX)
        .max(1)
}

/// Per-message overhead of the chat template, tokens.
const CHAT_TOKENS_PER_MESSAGE: u32 = 4;
/// Tokens that prime the assistant reply.
const CHAT_REPLY_PRIMER: u32 = 3;

/// Bytes of prompt material per token: token ids are 4 little-endian bytes each and text counts
/// one token per 4 bytes ([`text_tokens`]), so a KV block of `B` tokens is `4 B` bytes of either.
const BYTES_PER_TOKEN: usize = 4;

/// Chained hashes of the full `block_tokens`-token blocks of a prompt's material.
fn block_hashes(material: &[u8], block_tokens: u32) -> Vec<u64> {
    let size = (block_tokens as usize).max(1) * BYTES_PER_TOKEN;
    let mut h = 0u64;
    material
        .chunks_exact(size)
        .map(|chunk| {
            h = crate::rng::mix(h.rotate_left(17) ^ crate::rng::hash_bytes(chunk));
            h
        })
        .collect()
}

/// Parses a request body. With `reuse_block_tokens`, the prompt's KV block hashes are computed
/// for the prefix cache.
pub(crate) fn parse(
    endpoint: Endpoint,
    body: &[u8],
    reuse_block_tokens: Option<u32>,
) -> Result<ApiRequest, BadRequest> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| bad(format!("request body is not valid JSON: {e}"), None))?;
    let Value::Object(o) = &v else {
        return Err(bad("request body must be a JSON object", None));
    };
    let model = match o.get("model") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(bad("`model` must be a string", Some("model"))),
    };
    let (prompt_tokens, material) = match endpoint {
        Endpoint::Completions => prompt(o.get("prompt"))?,
        Endpoint::Chat => messages(o.get("messages"))?,
    };
    let prompt_hash = crate::rng::hash_bytes(&material);
    let prefix_blocks = reuse_block_tokens
        .map(|b| block_hashes(&material, b))
        .unwrap_or_default();
    let uint = |key: &'static str| -> Result<Option<u32>, BadRequest> {
        match o.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(x) => x
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| *n >= 1)
                .map(Some)
                .ok_or_else(|| bad(format!("`{key}` must be a positive integer"), Some(key))),
        }
    };
    let max_tokens = match endpoint {
        Endpoint::Chat => uint("max_completion_tokens")?.or(uint("max_tokens")?),
        Endpoint::Completions => uint("max_tokens")?,
    };
    let flag = |key: &'static str| -> Result<bool, BadRequest> {
        match o.get(key) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(bad(format!("`{key}` must be a boolean"), Some(key))),
        }
    };
    let stream = flag("stream")?;
    let ignore_eos = flag("ignore_eos")?;
    if let Some(n) = o.get("n").filter(|n| !n.is_null())
        && n.as_u64() != Some(1)
    {
        return Err(bad("only `n` = 1 is supported", Some("n")));
    }
    let include_usage = match o.get("stream_options") {
        None | Some(Value::Null) => false,
        Some(Value::Object(so)) => match so.get("include_usage") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                return Err(bad(
                    "`stream_options.include_usage` must be a boolean",
                    Some("stream_options"),
                ));
            }
        },
        Some(_) => {
            return Err(bad(
                "`stream_options` must be an object",
                Some("stream_options"),
            ));
        }
    };
    let stage = match o.get("disaggregated_params") {
        None | Some(Value::Null) => None,
        Some(p) => Some(stage(p)?),
    };
    Ok(ApiRequest {
        endpoint,
        model,
        prompt_tokens,
        prompt_hash,
        prefix_blocks,
        max_tokens,
        stream,
        include_usage,
        ignore_eos,
        stage,
    })
}

/// A completion prompt's token count and its material (the bytes that identify it).
fn prompt(p: Option<&Value>) -> Result<(u32, Vec<u8>), BadRequest> {
    let missing = || {
        bad(
            "`prompt` must be a string, a list of token ids, or a one-element list of either",
            Some("prompt"),
        )
    };
    match p {
        Some(Value::String(s)) => Ok((text_tokens(s), s.as_bytes().to_vec())),
        Some(Value::Array(items)) if items.is_empty() => {
            Err(bad("`prompt` is empty", Some("prompt")))
        }
        Some(Value::Array(items)) => {
            if items.iter().all(Value::is_number) {
                let mut h = Vec::with_capacity(items.len() * 4);
                for t in items {
                    let id = t
                        .as_u64()
                        .and_then(|n| u32::try_from(n).ok())
                        .ok_or_else(|| {
                            bad("token ids must be non-negative integers", Some("prompt"))
                        })?;
                    h.extend_from_slice(&id.to_le_bytes());
                }
                let n = u32::try_from(items.len()).unwrap_or(u32::MAX);
                Ok((n, h))
            } else if items.len() == 1 {
                prompt(items.first())
            } else {
                Err(bad(
                    "batched prompts are not supported; send one prompt per request",
                    Some("prompt"),
                ))
            }
        }
        _ => Err(missing()),
    }
}

/// A chat prompt's token count (with the template's overhead) and its material.
fn messages(m: Option<&Value>) -> Result<(u32, Vec<u8>), BadRequest> {
    let err = |msg: &str| bad(msg, Some("messages"));
    let Some(Value::Array(items)) = m else {
        return Err(err("`messages` must be a non-empty list"));
    };
    if items.is_empty() {
        return Err(err("`messages` must be a non-empty list"));
    }
    let mut tokens = CHAT_REPLY_PRIMER;
    let mut all = String::new();
    for msg in items {
        let Some(role) = msg.get("role").and_then(Value::as_str) else {
            return Err(err("each message needs a string `role`"));
        };
        let text = match msg.get("content") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(Value::Array(parts)) => {
                let mut t = String::new();
                for part in parts {
                    match part.get("text").and_then(Value::as_str) {
                        Some(s) => t.push_str(s),
                        None => {
                            return Err(err(
                                "content parts must be `{\"type\": \"text\", \"text\": ...}`",
                            ));
                        }
                    }
                }
                t
            }
            Some(_) => return Err(err("message `content` must be a string or a list of parts")),
        };
        tokens = tokens
            .saturating_add(CHAT_TOKENS_PER_MESSAGE)
            .saturating_add(if text.is_empty() {
                0
            } else {
                text_tokens(&text)
            });
        all.push_str(role);
        all.push('\0');
        all.push_str(&text);
        all.push('\0');
    }
    Ok((tokens, all.into_bytes()))
}

fn stage(p: &Value) -> Result<DisaggStage, BadRequest> {
    let err = |m: &str| bad(m, Some("disaggregated_params"));
    match p.get("request_type").and_then(Value::as_str) {
        Some("context_only") => Ok(DisaggStage::ContextOnly),
        Some("generation_only") => {
            let ctx_world = p
                .get("kv_handle")
                .and_then(|h| h.get("ctx_world"))
                .and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(1);
            Ok(DisaggStage::GenerationOnly { ctx_world })
        }
        _ => Err(err(
            "`disaggregated_params.request_type` must be `context_only` or `generation_only`",
        )),
    }
}

/// An OpenAI-style error body.
pub(crate) fn error_body(message: &str, kind: &str, param: Option<&str>, code: u16) -> String {
    json!({"error": {"message": message, "type": kind, "param": param, "code": code}}).to_string()
}

/// The synthetic vocabulary: short common words, each one token.
const WORDS: [&str; 32] = [
    " the", " of", " and", " to", " in", " a", " is", " that", " for", " it", " as", " was",
    " with", " be", " by", " on", " not", " he", " this", " are", " or", " his", " from", " at",
    " which", " but", " have", " an", " had", " they", " you", " were",
];

/// The text of output token `index` of a request.
pub(crate) fn word(hash: u64, index: u32) -> &'static str {
    let i = (hash as usize).wrapping_add(index as usize) % WORDS.len();
    WORDS.get(i).copied().unwrap_or(" the")
}

/// A synthetic token id for output token `index` (as `first_gen_tokens` carries ids).
pub(crate) fn token_id(hash: u64, index: u32) -> u32 {
    1000 + ((hash as u32).wrapping_add(index) % WORDS.len() as u32)
}

/// Pre-rendered pieces of one request's SSE chunks.
#[derive(Debug)]
pub(crate) struct ChunkFormat {
    /// Everything up to the text (or content) value.
    head: String,
    /// Same, for the first chat chunk (which carries the role).
    first_head: String,
    /// The usage chunk's head (`... "choices":[],"usage":`).
    usage_head: String,
}

impl ChunkFormat {
    pub(crate) fn new(endpoint: Endpoint, id: u64, created: u64, model: &str) -> Self {
        let model = serde_json::to_string(model).unwrap_or_else(|_| "\"\"".to_owned());
        match endpoint {
            Endpoint::Completions => {
                let base = format!(
                    "{{\"id\":\"cmpl-{id}\",\"object\":\"text_completion\",\"created\":{created},\"model\":{model},\"choices\":"
                );
                let head = format!("data: {base}[{{\"index\":0,\"text\":\"");
                Self {
                    first_head: head.clone(),
                    head,
                    usage_head: format!("data: {base}[],\"usage\":"),
                }
            }
            Endpoint::Chat => {
                let base = format!(
                    "{{\"id\":\"chatcmpl-{id}\",\"object\":\"chat.completion.chunk\",\"created\":{created},\"model\":{model},\"choices\":"
                );
                Self {
                    first_head: format!(
                        "data: {base}[{{\"index\":0,\"delta\":{{\"role\":\"assistant\",\"content\":\""
                    ),
                    head: format!("data: {base}[{{\"index\":0,\"delta\":{{\"content\":\""),
                    usage_head: format!("data: {base}[],\"usage\":"),
                }
            }
        }
    }

    /// Appends one SSE event carrying output tokens `from..to`; `finish` is set on the last.
    pub(crate) fn push_chunk(
        &self,
        out: &mut BytesMut,
        endpoint: Endpoint,
        hash: u64,
        from: u32,
        to: u32,
        finish: Option<&str>,
    ) {
        out.put_slice(if from == 0 {
            self.first_head.as_bytes()
        } else {
            self.head.as_bytes()
        });
        for i in from..to {
            out.put_slice(word(hash, i).as_bytes());
        }
        let tail = match endpoint {
            Endpoint::Completions => "\",\"logprobs\":null,\"finish_reason\":",
            Endpoint::Chat => "\"},\"logprobs\":null,\"finish_reason\":",
        };
        out.put_slice(tail.as_bytes());
        match finish {
            Some(f) => {
                out.put_u8(b'"');
                out.put_slice(f.as_bytes());
                out.put_u8(b'"');
            }
            None => out.put_slice(b"null"),
        }
        out.put_slice(b"}]}\n\n");
    }

    /// Appends the usage event and the `[DONE]` terminator.
    pub(crate) fn push_end(&self, out: &mut BytesMut, usage: Option<Usage>) {
        if let Some(u) = usage {
            out.put_slice(self.usage_head.as_bytes());
            out.put_slice(u.json().as_bytes());
            out.put_slice(b"}\n\n");
        }
        out.put_slice(b"data: [DONE]\n\n");
    }
}

/// A response's token counts, as OpenAI's `usage` object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Usage {
    pub(crate) prompt: u32,
    pub(crate) completion: u32,
    /// Prompt tokens served from the prefix cache (`prompt_tokens_details.cached_tokens`).
    pub(crate) cached: u32,
}

impl Usage {
    fn json(self) -> String {
        format!(
            "{{\"prompt_tokens\":{},\"completion_tokens\":{},\"total_tokens\":{},\"prompt_tokens_details\":{{\"cached_tokens\":{}}}}}",
            self.prompt,
            self.completion,
            u64::from(self.prompt) + u64::from(self.completion),
            self.cached
        )
    }
}

/// The full (non-streaming) response body.
#[expect(
    clippy::too_many_arguments,
    reason = "one flat call site; a struct would only rename the arguments"
)]
pub(crate) fn full_response(
    endpoint: Endpoint,
    id: u64,
    created: u64,
    model: &str,
    hash: u64,
    usage: Usage,
    finish: &str,
    disagg: Option<Value>,
) -> String {
    let text: String = (0..usage.completion).map(|i| word(hash, i)).collect();
    let usage: Value = serde_json::from_str(&usage.json()).unwrap_or(Value::Null);
    let mut v = match endpoint {
        Endpoint::Completions => json!({
            "id": format!("cmpl-{id}"), "object": "text_completion", "created": created, "model": model,
            "choices": [{"index": 0, "text": text, "logprobs": null, "finish_reason": finish}],
            "usage": usage,
        }),
        Endpoint::Chat => json!({
            "id": format!("chatcmpl-{id}"), "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": null, "finish_reason": finish}],
            "usage": usage,
        }),
    };
    if let (Some(d), Some(o)) = (disagg, v.as_object_mut()) {
        o.insert("disaggregated_params".to_owned(), d);
    }
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_shapes() {
        let p = |s: &str| parse(Endpoint::Completions, s.as_bytes(), None);
        assert_eq!(p(r#"{"prompt":"abcdefgh"}"#).unwrap().prompt_tokens, 2);
        assert_eq!(p(r#"{"prompt":[1,2,3]}"#).unwrap().prompt_tokens, 3);
        assert_eq!(p(r#"{"prompt":[[1,2,3,4]]}"#).unwrap().prompt_tokens, 4);
        assert_eq!(p(r#"{"prompt":["abcdefghi"]}"#).unwrap().prompt_tokens, 3);
        for bad in [
            "",
            "[]",
            "{}",
            r#"{"prompt":[]}"#,
            r#"{"prompt":[-1]}"#,
            r#"{"prompt":["a","b"]}"#,
            r#"{"prompt":"a","max_tokens":0}"#,
            r#"{"prompt":"a","max_tokens":"5"}"#,
            r#"{"prompt":"a","stream":"yes"}"#,
            r#"{"prompt":"a","n":2}"#,
            r#"{"prompt":"a","stream_options":{"include_usage":1}}"#,
            r#"{"prompt":"a","disaggregated_params":{"request_type":"x"}}"#,
        ] {
            assert!(p(bad).is_err(), "{bad}");
        }
        let r = p(r#"{"prompt":"a","max_tokens":5,"stream":true,"ignore_eos":true,"stream_options":{"include_usage":true}}"#).unwrap();
        assert_eq!(
            (r.max_tokens, r.stream, r.ignore_eos, r.include_usage),
            (Some(5), true, true, true)
        );
    }

    #[test]
    fn mangled_bodies_never_panic() {
        let valid = br#"{"model":"m","prompt":[1,2,3],"max_tokens":5,"stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],"disaggregated_params":{"request_type":"generation_only","kv_handle":{"ctx_world":4}}}"#;
        let mut rng = crate::rng::Rng::new(3);
        let alphabet = br#"{}[]",:0123456789-.eE truefalsnul\"#;
        for _ in 0..20_000 {
            let mut b = valid.to_vec();
            for _ in 0..1 + rng.next_u64() % 4 {
                let i = (rng.next_u64() % b.len() as u64) as usize;
                let c = alphabet[(rng.next_u64() % alphabet.len() as u64) as usize];
                match rng.next_u64() % 3 {
                    0 => b[i] = c,
                    1 => b.insert(i, c),
                    _ => {
                        b.remove(i);
                    }
                }
            }
            let _ = parse(Endpoint::Completions, &b, Some(2));
            let _ = parse(Endpoint::Chat, &b, Some(2));
        }
    }

    #[test]
    fn block_hashes_chain_over_full_blocks() {
        let ids = |v: &[u32]| {
            let body = json!({"prompt": v}).to_string();
            parse(Endpoint::Completions, body.as_bytes(), Some(2))
                .unwrap()
                .prefix_blocks
        };
        let a = ids(&[1, 2, 3, 4, 5]);
        assert_eq!(a.len(), 2, "the partial last block is not reusable");
        let b = ids(&[1, 2, 3, 4, 9, 9]);
        assert_eq!(a, b[..2], "same first four tokens, same two blocks");
        let c = ids(&[9, 9, 3, 4]);
        assert_eq!(c.len(), 2);
        assert_ne!(c[1], a[1], "block 1 differs when block 0 does");
        assert!(
            parse(Endpoint::Completions, br#"{"prompt":[1,2,3,4]}"#, None)
                .unwrap()
                .prefix_blocks
                .is_empty()
        );
    }

    #[test]
    fn chat_messages() {
        let r = parse(
            Endpoint::Chat,
            br#"{"messages":[{"role":"user","content":"abcd"}],"max_completion_tokens":7}"#,
            None,
        )
        .unwrap();
        assert_eq!(
            r.prompt_tokens,
            CHAT_REPLY_PRIMER + CHAT_TOKENS_PER_MESSAGE + 1
        );
        assert_eq!(r.max_tokens, Some(7));
        let parts = parse(
            Endpoint::Chat,
            br#"{"messages":[{"role":"user","content":[{"type":"text","text":"abcd"}]}]}"#,
            None,
        )
        .unwrap();
        assert_eq!(parts.prompt_tokens, r.prompt_tokens);
        assert!(parse(Endpoint::Chat, br#"{"messages":[]}"#, None).is_err());
        assert!(parse(Endpoint::Chat, br#"{"messages":[{"content":"x"}]}"#, None).is_err());
    }

    #[test]
    fn chunks_are_valid_json() {
        for ep in [Endpoint::Completions, Endpoint::Chat] {
            let f = ChunkFormat::new(ep, 7, 1, "m\"odel");
            let mut out = BytesMut::new();
            f.push_chunk(&mut out, ep, 3, 0, 1, None);
            f.push_chunk(&mut out, ep, 3, 1, 3, Some("length"));
            f.push_end(
                &mut out,
                Some(Usage {
                    prompt: 5,
                    completion: 3,
                    cached: 2,
                }),
            );
            let text = String::from_utf8(out.to_vec()).unwrap();
            let events: Vec<&str> = text.split("\n\n").filter(|e| !e.is_empty()).collect();
            assert_eq!(events.len(), 4);
            assert_eq!(*events.last().unwrap(), "data: [DONE]");
            for e in &events[..3] {
                let v: Value = serde_json::from_str(e.strip_prefix("data: ").unwrap()).unwrap();
                assert_eq!(v["model"], "m\"odel");
            }
            let usage: Value =
                serde_json::from_str(events[2].strip_prefix("data: ").unwrap()).unwrap();
            assert_eq!(usage["usage"]["total_tokens"], 8);
            assert_eq!(usage["usage"]["prompt_tokens_details"]["cached_tokens"], 2);
        }
    }
}
