//! Datasets: turn a [`DatasetSpec`] into prompts with lengths, before the clock starts.
//!
//! Accepted files (see `docs/loadgen.md`):
//! - `trtllm_custom` and `jsonl`: JSON lines, a JSON array, or an object with a `samples` or
//!   `data` array. Each record gives the prompt as `input_ids` (token ids), `prompt` (text or
//!   ids), `input.messages` (OpenAI chat form; contents joined) or `input.prompt`, and the output
//!   length as `output_tokens`, `output_len`, `max_tokens`, `input.max_tokens` or
//!   `input.max_completion_tokens`. File order is kept; a short file is repeated.
//! - `sharegpt`: a JSON array of `{conversations: [{from, value}, ...]}`; the first turn is the
//!   prompt, the second the reference answer. Entries are shuffled with the seed.

use std::path::Path;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::Value;
use tokenizers::Tokenizer;

use crate::config::DatasetSpec;
use crate::error::BenchError;

/// A prompt as sent: text, or token ids for `/v1/completions`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Prompt {
    Text(String),
    Ids(Vec<u32>),
}

/// One request's input.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sample {
    pub(crate) prompt: Prompt,
    /// Prompt tokens when known on the client (ids, or text counted with the tokenizer).
    pub(crate) prompt_len: Option<u64>,
    /// `max_tokens` asked for.
    pub(crate) output_len: u64,
}

/// Loads `num` samples.
pub(crate) fn load(
    spec: &DatasetSpec,
    num: usize,
    seed: u64,
    tokenizer: Option<&Tokenizer>,
) -> Result<Vec<Sample>, BenchError> {
    let mut rng = StdRng::seed_from_u64(seed);
    let samples = match spec {
        DatasetSpec::Random {
            input_len,
            output_len,
            range_ratio,
            ids,
            vocab_size,
        } => {
            let vocab = tokenizer
                .map(|t| t.get_vocab_size(true) as u32)
                .unwrap_or(*vocab_size)
                .max(1);
            let mut out = Vec::with_capacity(num);
            for i in 0..num {
                let in_len = draw_len(&mut rng, *input_len, *range_ratio);
                let out_len = draw_len(&mut rng, *output_len, *range_ratio).max(1);
                let offset = rng.random_range(0..vocab);
                let token_ids: Vec<u32> = (0..in_len)
                    .map(|k| ((offset as u64 + i as u64 + k) % vocab as u64) as u32)
                    .collect();
                let prompt = match (ids, tokenizer) {
                    (true, _) | (false, None) => Prompt::Ids(token_ids),
                    (false, Some(t)) => Prompt::Text(t.decode(&token_ids, false).map_err(|e| {
                        BenchError::InvalidConfig(format!(
                            "tokenizer cannot decode random ids: {e}"
                        ))
                    })?),
                };
                out.push(Sample {
                    prompt,
                    prompt_len: Some(in_len),
                    output_len: out_len,
                });
            }
            out
        }
        DatasetSpec::TrtllmCustom { path } | DatasetSpec::Jsonl { path } => {
            let records = read_records(path)?;
            let mut out = Vec::with_capacity(records.len());
            for (n, rec) in records.iter().enumerate() {
                out.push(
                    custom_record(rec, tokenizer).map_err(|message| BenchError::Input {
                        path: path.clone(),
                        message: format!("record {}: {message}", n + 1),
                    })?,
                );
            }
            out
        }
        DatasetSpec::ShareGpt { path, output_len } => {
            sharegpt(path, *output_len, tokenizer, &mut rng)?
        }
    };
    let path_of = |spec: &DatasetSpec| match spec {
        DatasetSpec::TrtllmCustom { path }
        | DatasetSpec::Jsonl { path }
        | DatasetSpec::ShareGpt { path, .. } => path.clone(),
        DatasetSpec::Random { .. } => "random".into(),
    };
    if samples.is_empty() && num > 0 {
        return Err(BenchError::Input {
            path: path_of(spec),
            message: "no usable samples".into(),
        });
    }
    Ok(samples.iter().cycle().take(num).cloned().collect())
}

/// A length drawn uniformly in `[max(floor(len * ratio), 1), len]`, as upstream's random
/// dataset (the SGLang `bench_serving` family): 1.0 is fixed, 0.8 is `[0.8 len, len]`.
fn draw_len(rng: &mut StdRng, len: u64, ratio: f64) -> u64 {
    let lo = ((len as f64) * ratio).floor().max(1.0) as u64;
    if lo >= len {
        len
    } else {
        rng.random_range(lo..=len)
    }
}

fn read_records(path: &Path) -> Result<Vec<Value>, BenchError> {
    let text = std::fs::read_to_string(path).map_err(|e| BenchError::Input {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let bad = |message: String| BenchError::Input {
        path: path.to_path_buf(),
        message,
    };
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') {
        return match serde_json::from_str::<Value>(&text) {
            Ok(Value::Array(a)) => Ok(a),
            Ok(_) => Err(bad("expected a JSON array".into())),
            Err(e) => Err(bad(format!("invalid JSON: {e}"))),
        };
    }
    // A single object holding the records, else JSON lines.
    if let Ok(Value::Object(mut obj)) = serde_json::from_str::<Value>(&text) {
        for key in ["samples", "data"] {
            if let Some(Value::Array(a)) = obj.remove(key) {
                return Ok(a);
            }
        }
        if text.lines().filter(|l| !l.trim().is_empty()).count() > 1 {
            return Err(bad(
                "a JSON object without a `samples` or `data` array".into()
            ));
        }
        return Ok(vec![Value::Object(obj)]);
    }
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        out.push(
            serde_json::from_str(line)
                .map_err(|e| bad(format!("line {}: invalid JSON: {e}", n + 1)))?,
        );
    }
    Ok(out)
}

fn ids_of(v: &Value) -> Option<Vec<u32>> {
    v.as_array()?
        .iter()
        .map(|x| x.as_u64().and_then(|x| u32::try_from(x).ok()))
        .collect()
}

fn custom_record(rec: &Value, tokenizer: Option<&Tokenizer>) -> Result<Sample, String> {
    let input = rec.get("input");
    let prompt = if let Some(ids) = rec.get("input_ids") {
        Prompt::Ids(ids_of(ids).ok_or("`input_ids` must be a list of token ids")?)
    } else if let Some(p) = rec
        .get("prompt")
        .or_else(|| input.and_then(|i| i.get("prompt")))
    {
        match p {
            Value::String(s) => Prompt::Text(s.clone()),
            other => Prompt::Ids(ids_of(other).ok_or("`prompt` must be text or token ids")?),
        }
    } else if let Some(msgs) = input
        .and_then(|i| i.get("messages"))
        .and_then(Value::as_array)
    {
        let parts: Vec<&str> = msgs
            .iter()
            .filter_map(|m| m.get("content").and_then(Value::as_str))
            .collect();
        if parts.is_empty() {
            return Err("`input.messages` has no text content".into());
        }
        Prompt::Text(parts.join("\n"))
    } else {
        return Err("no prompt (`input_ids`, `prompt`, `input.messages` or `input.prompt`)".into());
    };
    let out_keys = [
        rec.get("output_tokens"),
        rec.get("output_len"),
        rec.get("max_tokens"),
        input.and_then(|i| i.get("max_tokens")),
        input.and_then(|i| i.get("max_completion_tokens")),
    ];
    let output_len = out_keys
        .into_iter()
        .flatten()
        .find_map(Value::as_u64)
        .ok_or("no output length (`output_tokens`, `output_len` or `max_tokens`)")?;
    if output_len == 0 {
        return Err("output length must be at least 1".into());
    }
    let prompt_len = match &prompt {
        Prompt::Ids(ids) => Some(ids.len() as u64),
        Prompt::Text(t) => match tokenizer {
            Some(tok) => Some(count_tokens(tok, t).map_err(|e| e.to_string())?),
            None => None,
        },
    };
    Ok(Sample {
        prompt,
        prompt_len,
        output_len,
    })
}

/// Tokens in `text` without special tokens.
pub(crate) fn count_tokens(tok: &Tokenizer, text: &str) -> Result<u64, tokenizers::Error> {
    Ok(tok.encode_fast(text, false)?.len() as u64)
}

fn sharegpt(
    path: &Path,
    fixed_output: Option<u64>,
    tokenizer: Option<&Tokenizer>,
    rng: &mut StdRng,
) -> Result<Vec<Sample>, BenchError> {
    let records = read_records(path)?;
    let mut order: Vec<usize> = (0..records.len()).collect();
    // Fisher-Yates with the seeded generator.
    for i in (1..order.len()).rev() {
        let j = rng.random_range(0..=i);
        order.swap(i, j);
    }
    let mut out = Vec::new();
    for i in order {
        let Some(rec) = records.get(i) else { continue };
        let Some(turns) = rec
            .get("conversations")
            .or_else(|| rec.get("conversation"))
            .and_then(Value::as_array)
        else {
            continue;
        };
        let text = |k: usize| {
            turns
                .get(k)
                .and_then(|t| t.get("value").or_else(|| t.get("content")))
                .and_then(Value::as_str)
        };
        let (Some(prompt), Some(answer)) = (text(0), text(1)) else {
            continue;
        };
        let err = |e: tokenizers::Error| BenchError::Input {
            path: path.to_path_buf(),
            message: format!("tokenizer failed: {e}"),
        };
        let prompt_len = match tokenizer {
            Some(t) => Some(count_tokens(t, prompt).map_err(err)?),
            None => None,
        };
        let output_len = match (fixed_output, tokenizer) {
            (Some(n), _) => n,
            (None, Some(t)) => count_tokens(t, answer).map_err(err)?,
            (None, None) => {
                return Err(BenchError::InvalidConfig(
                    "sharegpt needs --tokenizer or --sharegpt-output-len".into(),
                ));
            }
        };
        // vLLM's filter of too short and too long pairs, when lengths come from the tokenizer.
        if fixed_output.is_none() {
            let p = prompt_len.unwrap_or(0);
            if p < 4 || output_len < 4 || p > 1024 || p + output_len > 2048 {
                continue;
            }
        }
        out.push(Sample {
            prompt: Prompt::Text(prompt.to_owned()),
            prompt_len,
            output_len: output_len.max(1),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn random(ratio: f64) -> DatasetSpec {
        DatasetSpec::Random {
            input_len: 100,
            output_len: 20,
            range_ratio: ratio,
            ids: true,
            vocab_size: 1000,
        }
    }

    #[test]
    fn random_is_seeded_and_in_range() {
        let a = load(&random(0.5), 50, 7, None).unwrap();
        assert_eq!(a, load(&random(0.5), 50, 7, None).unwrap());
        assert_ne!(a, load(&random(0.5), 50, 8, None).unwrap());
        for s in &a {
            let Prompt::Ids(ids) = &s.prompt else {
                panic!("ids expected")
            };
            assert_eq!(Some(ids.len() as u64), s.prompt_len);
            assert!((50..=100).contains(&ids.len()), "{}", ids.len());
            assert!((10..=20).contains(&s.output_len));
            assert!(ids.iter().all(|&t| t < 1000));
        }
        // Upstream's rule: 1.0 is fixed lengths; 0.8 is [0.8 len, len]; 0 is [1, len].
        let fixed = load(&random(1.0), 5, 0, None).unwrap();
        assert!(
            fixed
                .iter()
                .all(|s| s.prompt_len == Some(100) && s.output_len == 20)
        );
        let wide = load(&random(0.8), 200, 0, None).unwrap();
        assert!(wide.iter().all(|s| (16..=20).contains(&s.output_len)));
        assert!(
            wide.iter().any(|s| s.output_len < 20),
            "0.8 draws below len"
        );
        let any = load(&random(0.0), 200, 0, None).unwrap();
        assert!(any.iter().all(|s| (1..=20).contains(&s.output_len)));
    }

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn custom_formats() {
        let f = file(concat!(
            "{\"task_id\":0,\"input_ids\":[1,2,3],\"output_tokens\":5}\n",
            "\n",
            "{\"prompt\":\"hello\",\"output_len\":2}\n",
            "{\"input\":{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":9}}\n",
        ));
        let spec = DatasetSpec::TrtllmCustom {
            path: f.path().into(),
        };
        let s = load(&spec, 4, 0, None).unwrap();
        assert_eq!(s[0].prompt, Prompt::Ids(vec![1, 2, 3]));
        assert_eq!((s[0].prompt_len, s[0].output_len), (Some(3), 5));
        assert_eq!(s[1].prompt, Prompt::Text("hello".into()));
        assert_eq!((s[1].prompt_len, s[1].output_len), (None, 2));
        assert_eq!(s[2].prompt, Prompt::Text("hi".into()));
        assert_eq!(s[2].output_len, 9);
        assert_eq!(s[3], s[0], "a short file repeats");

        let f = file(r#"{"samples":[{"prompt":[4,5],"output_tokens":1}]}"#);
        let s = load(
            &DatasetSpec::Jsonl {
                path: f.path().into(),
            },
            1,
            0,
            None,
        )
        .unwrap();
        assert_eq!(s[0].prompt, Prompt::Ids(vec![4, 5]));
        let f = file(r#"[{"prompt":"a","max_tokens":3}]"#);
        let s = load(
            &DatasetSpec::Jsonl {
                path: f.path().into(),
            },
            1,
            0,
            None,
        )
        .unwrap();
        assert_eq!(s[0].output_len, 3);
    }

    #[test]
    fn custom_errors_name_the_record() {
        let f = file("{\"prompt\":\"a\",\"output_len\":1}\n{\"prompt\":\"b\"}\n");
        let err = load(
            &DatasetSpec::Jsonl {
                path: f.path().into(),
            },
            2,
            0,
            None,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("record 2: no output length"),
            "{err}"
        );
        let f = file("{\"prompt\":\"a\",\n");
        let err = load(
            &DatasetSpec::Jsonl {
                path: f.path().into(),
            },
            1,
            0,
            None,
        )
        .unwrap_err();
        assert!(err.to_string().contains("line 1: invalid JSON"), "{err}");
        let err = load(
            &DatasetSpec::Jsonl {
                path: "/nonexistent/x".into(),
            },
            1,
            0,
            None,
        )
        .unwrap_err();
        assert!(matches!(err, BenchError::Input { .. }));
    }

    #[test]
    fn sharegpt_with_fixed_output() {
        let f = file(
            r#"[{"conversations":[{"from":"human","value":"q1"},{"from":"gpt","value":"a1"}]},
                {"conversations":[{"from":"human","value":"only"}]},
                {"conversations":[{"from":"human","value":"q2"},{"from":"gpt","value":"a2"}]}]"#,
        );
        let spec = DatasetSpec::ShareGpt {
            path: f.path().into(),
            output_len: Some(8),
        };
        let s = load(&spec, 2, 3, None).unwrap();
        let mut prompts: Vec<_> = s.iter().map(|x| x.prompt.clone()).collect();
        prompts.sort_by_key(|p| format!("{p:?}"));
        assert_eq!(
            prompts,
            vec![Prompt::Text("q1".into()), Prompt::Text("q2".into())]
        );
        assert!(s.iter().all(|x| x.output_len == 8));
        let spec = DatasetSpec::ShareGpt {
            path: f.path().into(),
            output_len: None,
        };
        assert!(matches!(
            load(&spec, 2, 3, None),
            Err(BenchError::InvalidConfig(_))
        ));
    }
}
