//! Workloads that look like real traffic: shared prefixes with a chosen prefix-cache hit rate,
//! multi-turn sessions, and trace replay (`docs/loadgen.md`, "Workloads").
//!
//! A [`Workload`] is what a user writes under `benchmark.workload:` of a test config, or in the
//! file given to `servebench bench --workload FILE` (YAML or JSON): exactly one of
//! `shared_prefix`, `multi_turn` or `trace`. Every prompt is a list of token ids built from the
//! seed before the clock starts, so two runs with the same seed send the same bytes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::Deserialize;
use serde_json::Value;

use crate::dataset::{Prompt, Sample};
use crate::error::BenchError;

/// One workload: the section `benchmark.workload:` of a test config.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Workload {
    /// Groups of prompts sharing a prefix, mixed with uncacheable prompts to hit a target rate.
    SharedPrefix(SharedPrefix),
    /// Conversations: each turn sends the whole conversation so far.
    MultiTurn(MultiTurn),
    /// Requests replayed from a trace file at their recorded times.
    Trace(TraceReplay),
}

/// `shared_prefix:` prompts `prefix + suffix`, where the prefix is one of `groups` shared
/// prefixes or, for the share of requests that must miss the cache, a prefix of their own.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharedPrefix {
    /// Distinct shared prefixes (system prompts, documents).
    pub groups: usize,
    /// Prefix tokens; a multiple of the server's KV block size (32 on TensorRT-LLM, 16 on vLLM)
    /// makes all of it reusable.
    pub prefix_len: u64,
    /// Tokens after the prefix, unique to each request.
    pub suffix_len: u64,
    /// Output tokens per request.
    pub output_len: u64,
    /// Target share of prompt tokens served from the prefix cache, in
    /// `[0, prefix_len / (prefix_len + suffix_len)]`; 0 makes every prefix unique.
    pub hit_rate: f64,
    /// Send one request per group before the clock starts so that the measured requests find
    /// their prefix cached (default true); false measures the cold misses too.
    #[serde(default = "yes")]
    pub prime: bool,
    /// Token ids are drawn from `0..vocab_size` (default 32000).
    #[serde(default = "default_vocab")]
    pub vocab_size: u32,
}

/// `multi_turn:` `sessions` conversations of `turns` turns each.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultiTurn {
    /// Conversations; the run sends `sessions x turns` requests.
    pub sessions: usize,
    /// Turns per conversation.
    pub turns: usize,
    /// New user tokens per turn: one number, or one per turn.
    pub user_len: Lengths,
    /// Assistant tokens per turn (the `max_tokens` of that turn): one number, or one per turn.
    pub assistant_len: Lengths,
    /// Pause between an answer and the next turn, ms (default 0).
    #[serde(default)]
    pub think_time_ms: f64,
    /// Token ids are drawn from `0..vocab_size` (default 32000).
    #[serde(default = "default_vocab")]
    pub vocab_size: u32,
}

/// A length for every turn, or one per turn.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Lengths {
    /// The same for every turn.
    Same(u64),
    /// Turn `k` (from 1) uses entry `k - 1`.
    PerTurn(Vec<u64>),
}

impl Lengths {
    fn at(&self, turn: usize) -> Option<u64> {
        match self {
            Self::Same(n) => Some(*n),
            Self::PerTurn(v) => v.get(turn).copied(),
        }
    }
}

/// `trace:` a trace file replayed on its own schedule.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceReplay {
    /// JSON lines (servebench, Mooncake or BurstGPT keys) or a BurstGPT CSV file.
    pub path: PathBuf,
    /// Multiplies the recorded gaps: 0.5 replays twice as fast (default 1).
    #[serde(default = "one")]
    pub time_scale: f64,
    /// Tokens per `hash_ids` entry (Mooncake's block size, default 512).
    #[serde(default = "default_block")]
    pub block_size: u64,
    /// Replay only the first N requests (default all).
    #[serde(default)]
    pub max_requests: Option<usize>,
    /// Token ids are drawn from `0..vocab_size` (default 32000).
    #[serde(default = "default_vocab")]
    pub vocab_size: u32,
}

fn yes() -> bool {
    true
}
fn one() -> f64 {
    1.0
}
fn default_vocab() -> u32 {
    32000
}
fn default_block() -> u64 {
    512
}

impl Workload {
    /// Reads a workload file: YAML (JSON is YAML too) holding exactly what goes under
    /// `benchmark.workload:`.
    pub fn read(path: &Path) -> Result<Self, BenchError> {
        let input = |message: String| BenchError::Input {
            path: path.to_path_buf(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| input(format!("cannot read: {e}")))?;
        Self::parse(&text).map_err(input)
    }

    /// Parses the YAML or JSON text of a workload.
    pub fn parse(text: &str) -> Result<Self, String> {
        let w: Self = serde_saphyr::from_str(text).map_err(|e| {
            format!(
                "{e}; expected exactly one of `shared_prefix`, `multi_turn` or `trace` with its fields (docs/loadgen.md, \"Workloads\")"
            )
        })?;
        w.check()?;
        Ok(w)
    }

    /// The name printed in reports.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::SharedPrefix(_) => "shared_prefix",
            Self::MultiTurn(_) => "multi_turn",
            Self::Trace(_) => "trace",
        }
    }

    /// The target prefix-cache hit rate, for a shared-prefix workload.
    pub fn target_hit_rate(&self) -> Option<f64> {
        match self {
            Self::SharedPrefix(s) => Some(s.hit_rate),
            _ => None,
        }
    }

    /// Range checks that need no file.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Self::SharedPrefix(s) => {
                if s.groups == 0 || s.prefix_len == 0 || s.output_len == 0 {
                    return Err(
                        "shared_prefix: `groups`, `prefix_len` and `output_len` must be at least 1"
                            .into(),
                    );
                }
                let most = s.prefix_len as f64 / (s.prefix_len + s.suffix_len) as f64;
                if !(0.0..=most).contains(&s.hit_rate) {
                    return Err(format!(
                        "shared_prefix: `hit_rate` {} is outside [0, {most:.4}]: at most the prefix share of each prompt can be cached; lengthen `prefix_len` or shorten `suffix_len`",
                        s.hit_rate
                    ));
                }
            }
            Self::MultiTurn(m) => {
                if m.sessions == 0 || m.turns == 0 {
                    return Err("multi_turn: `sessions` and `turns` must be at least 1".into());
                }
                for (name, l) in [
                    ("user_len", &m.user_len),
                    ("assistant_len", &m.assistant_len),
                ] {
                    if let Lengths::PerTurn(v) = l
                        && v.len() != m.turns
                    {
                        return Err(format!(
                            "multi_turn: `{name}` lists {} lengths for {} turns; give one per turn or a single number",
                            v.len(),
                            m.turns
                        ));
                    }
                    if (0..m.turns).any(|t| l.at(t) == Some(0)) {
                        return Err(format!("multi_turn: `{name}` must be at least 1"));
                    }
                }
                if !(m.think_time_ms.is_finite() && m.think_time_ms >= 0.0) {
                    return Err("multi_turn: `think_time_ms` must be 0 or more".into());
                }
            }
            Self::Trace(t) => {
                if !(t.time_scale.is_finite() && t.time_scale >= 0.0) {
                    return Err("trace: `time_scale` must be 0 or more".into());
                }
                if t.block_size == 0 {
                    return Err("trace: `block_size` must be at least 1".into());
                }
            }
        }
        Ok(())
    }
}

/// A workload turned into requests.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) samples: Vec<Sample>,
    /// Requests per session (1 unless multi-turn).
    pub(crate) turns: usize,
    pub(crate) think: Duration,
    /// Send offsets per request (trace replay); `None` uses the configured arrival process.
    pub(crate) schedule: Option<Vec<Duration>>,
    /// Requests sent before the clock starts to fill the prefix cache.
    pub(crate) priming: Vec<Sample>,
}

fn ids(rng: &mut StdRng, n: u64, vocab: u32) -> Vec<u32> {
    (0..n).map(|_| rng.random_range(0..vocab.max(1))).collect()
}

fn sample(prompt: Vec<u32>, output_len: u64) -> Sample {
    Sample {
        prompt_len: Some(prompt.len() as u64),
        prompt: Prompt::Ids(prompt),
        output_len: output_len.max(1),
    }
}

/// Builds the requests of `w`; `num_prompts` sizes a shared-prefix run.
pub(crate) fn prepare(w: &Workload, num_prompts: usize, seed: u64) -> Result<Prepared, BenchError> {
    w.check().map_err(BenchError::InvalidConfig)?;
    let mut rng = StdRng::seed_from_u64(seed ^ 0x3014_10ad);
    match w {
        Workload::SharedPrefix(s) => Ok(shared_prefix(s, num_prompts, &mut rng)),
        Workload::MultiTurn(m) => Ok(multi_turn(m, &mut rng)),
        Workload::Trace(t) => trace(t, &mut rng),
    }
}

/// Requests that use a shared prefix, for `n` requests: with every group primed, each of them
/// hits `prefix_len` tokens, so `m` of them give a hit rate of `m P / (n (P + S))`.
fn shared_requests(s: &SharedPrefix, n: usize) -> usize {
    let total = (s.prefix_len + s.suffix_len) as f64;
    let cold = if s.prime { 0.0 } else { s.groups as f64 };
    let m = if s.hit_rate == 0.0 {
        0.0
    } else {
        (s.hit_rate * n as f64 * total / s.prefix_len as f64 + cold).round()
    };
    (m as usize).min(n)
}

fn shared_prefix(s: &SharedPrefix, n: usize, rng: &mut StdRng) -> Prepared {
    let shared = shared_requests(s, n);
    // Groups no request uses are neither built nor primed.
    let prefixes: Vec<Vec<u32>> = (0..s.groups.min(shared))
        .map(|_| ids(rng, s.prefix_len, s.vocab_size))
        .collect();
    // Spread the shared-prefix requests evenly over the run (Bresenham), groups round robin.
    let mut samples = Vec::with_capacity(n);
    let mut used = 0usize;
    for i in 0..n {
        let uses_shared = (i + 1) * shared / n.max(1) > used;
        let mut prompt = if uses_shared {
            let g = used % prefixes.len().max(1);
            used += 1;
            prefixes.get(g).cloned().unwrap_or_default()
        } else {
            ids(rng, s.prefix_len, s.vocab_size)
        };
        prompt.extend(ids(rng, s.suffix_len, s.vocab_size));
        samples.push(sample(prompt, s.output_len));
    }
    let priming = if s.prime && shared > 0 {
        prefixes
            .into_iter()
            .map(|mut p| {
                p.extend(ids(rng, s.suffix_len, s.vocab_size));
                sample(p, 1)
            })
            .collect()
    } else {
        Vec::new()
    };
    Prepared {
        samples,
        turns: 1,
        think: Duration::ZERO,
        schedule: None,
        priming,
    }
}

/// Turn `k` of a session sends user 1, assistant 1, ..., user `k`. The assistant parts of the
/// history are seeded ids of the assistant lengths, not the text the server generated, so every
/// request is built before the clock starts and a rerun sends the same bytes; a server's prefix
/// cache still holds turn `k`'s prompt when turn `k + 1` arrives.
fn multi_turn(m: &MultiTurn, rng: &mut StdRng) -> Prepared {
    let mut samples = Vec::with_capacity(m.sessions * m.turns);
    for _ in 0..m.sessions {
        let mut history: Vec<u32> = Vec::new();
        for t in 0..m.turns {
            history.extend(ids(rng, m.user_len.at(t).unwrap_or(1), m.vocab_size));
            let answer = m.assistant_len.at(t).unwrap_or(1);
            samples.push(sample(history.clone(), answer));
            history.extend(ids(rng, answer, m.vocab_size));
        }
    }
    Prepared {
        samples,
        turns: m.turns,
        think: Duration::from_secs_f64(m.think_time_ms / 1000.0),
        schedule: None,
        priming: Vec::new(),
    }
}

/// One request of a trace, in any accepted layout.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TraceRecord {
    /// Seconds from the trace's own origin.
    pub(crate) at_s: f64,
    pub(crate) input_len: u64,
    pub(crate) output_len: u64,
    pub(crate) session: Option<String>,
    pub(crate) prefix: Option<(String, u64)>,
    pub(crate) hash_ids: Vec<u64>,
}

/// Reads one JSON record. Layouts, told apart by their keys:
/// - servebench: `timestamp` (s), `input_len`, `output_len`, optional `session_id`, `prefix_id`
///   with `prefix_len`, `hash_ids`;
/// - Mooncake: `timestamp` (ms), `input_length`, `output_length`, `hash_ids`;
/// - BurstGPT: `Timestamp` (s), `Request tokens`, `Response tokens`.
pub(crate) fn trace_record(v: &Value) -> Result<TraceRecord, String> {
    let num = |k: &str| v.get(k).and_then(Value::as_f64);
    let uint = |k: &str| -> Result<u64, String> {
        v.get(k)
            .and_then(Value::as_u64)
            .ok_or_else(|| format!("`{k}` must be a non-negative integer"))
    };
    let text = |k: &str| {
        v.get(k).and_then(|x| match x {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    };
    let (at_s, input_len, output_len) = if v.get("input_length").is_some() {
        let ms = num("timestamp").ok_or("`timestamp` (ms) must be a number")?;
        (ms / 1000.0, uint("input_length")?, uint("output_length")?)
    } else if v.get("Request tokens").is_some() {
        let s = num("Timestamp").ok_or("`Timestamp` (s) must be a number")?;
        (s, uint("Request tokens")?, uint("Response tokens")?)
    } else if v.get("input_len").is_some() {
        let s = num("timestamp").ok_or("`timestamp` (s) must be a number")?;
        (s, uint("input_len")?, uint("output_len")?)
    } else {
        return Err(
            "no input length: expected `input_len` (servebench), `input_length` (Mooncake) or `Request tokens` (BurstGPT)"
                .into(),
        );
    };
    if !(at_s.is_finite() && at_s >= 0.0) {
        return Err("the timestamp must be a non-negative number".into());
    }
    let hash_ids = match v.get("hash_ids") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|h| h.as_u64().ok_or("`hash_ids` must be non-negative integers"))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("`hash_ids` must be a list".into()),
    };
    let prefix = match text("prefix_id") {
        Some(id) => Some((id, uint("prefix_len")?)),
        None => None,
    };
    Ok(TraceRecord {
        at_s,
        input_len,
        output_len,
        session: text("session_id"),
        prefix,
        hash_ids,
    })
}

/// Reads a BurstGPT CSV file (`Timestamp,Model,Request tokens,Response tokens,...`).
fn burstgpt_csv(text: &str) -> Result<Vec<TraceRecord>, String> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else {
        return Ok(Vec::new());
    };
    let cols: Vec<&str> = header.split(',').map(str::trim).collect();
    let col = |name: &str| {
        cols.iter()
            .position(|c| *c == name)
            .ok_or_else(|| format!("the CSV header has no `{name}` column"))
    };
    let (t, req, resp) = (
        col("Timestamp")?,
        col("Request tokens")?,
        col("Response tokens")?,
    );
    lines
        .map(|(n, l)| {
            let f: Vec<&str> = l.split(',').map(str::trim).collect();
            let get = |i: usize| f.get(i).copied().unwrap_or("");
            let bad = |what: &str| format!("line {}: {what}", n + 1);
            let at_s: f64 = get(t)
                .parse()
                .map_err(|_| bad("`Timestamp` is not a number"))?;
            if !(at_s.is_finite() && at_s >= 0.0) {
                return Err(bad("`Timestamp` must be non-negative"));
            }
            Ok(TraceRecord {
                at_s,
                input_len: get(req)
                    .parse()
                    .map_err(|_| bad("`Request tokens` is not an integer"))?,
                output_len: get(resp)
                    .parse()
                    .map_err(|_| bad("`Response tokens` is not an integer"))?,
                session: None,
                prefix: None,
                hash_ids: Vec::new(),
            })
        })
        .collect()
}

/// Reads every record of a trace file (JSON lines, or a BurstGPT CSV).
pub(crate) fn read_trace(path: &Path) -> Result<Vec<TraceRecord>, BenchError> {
    let input = |message: String| BenchError::Input {
        path: path.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| input(format!("cannot read: {e}")))?;
    if text.trim_start().starts_with("Timestamp,") {
        return burstgpt_csv(&text).map_err(input);
    }
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| {
            let v: Value = serde_json::from_str(l)
                .map_err(|e| input(format!("line {}: not JSON: {e}", n + 1)))?;
            trace_record(&v).map_err(|m| input(format!("line {}: {m}", n + 1)))
        })
        .collect()
}

/// Prompts of a trace: a record's `hash_ids` are blocks of `block_size` seeded tokens (the same
/// id, the same tokens, so records sharing ids share a cacheable prefix); a `prefix_id` starts
/// the prompt with that group's `prefix_len` tokens; a request of a session starts with the
/// session's previous prompt when it is at least as long. The rest is fresh random ids.
fn trace(t: &TraceReplay, rng: &mut StdRng) -> Result<Prepared, BenchError> {
    let mut records = read_trace(&t.path)?;
    if let Some(n) = t.max_requests {
        records.truncate(n);
    }
    if records.is_empty() {
        return Err(BenchError::Input {
            path: t.path.clone(),
            message: "the trace has no requests".into(),
        });
    }
    // Stable: requests recorded at the same time keep their file order.
    records.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
    let origin = records.first().map_or(0.0, |r| r.at_s);
    let mut blocks: HashMap<u64, Vec<u32>> = HashMap::new();
    let mut prefixes: HashMap<String, Vec<u32>> = HashMap::new();
    let mut sessions: HashMap<String, Vec<u32>> = HashMap::new();
    let mut samples = Vec::with_capacity(records.len());
    let mut schedule = Vec::with_capacity(records.len());
    for r in &records {
        let mut prompt: Vec<u32> = Vec::new();
        if let Some(prev) = r.session.as_ref().and_then(|s| sessions.get(s))
            && prev.len() as u64 <= r.input_len
        {
            prompt.extend_from_slice(prev);
        } else if let Some((id, len)) = &r.prefix {
            let p = prefixes
                .entry(id.clone())
                .or_insert_with(|| ids(rng, *len, t.vocab_size));
            prompt.extend_from_slice(p);
        } else {
            for h in &r.hash_ids {
                let b = blocks
                    .entry(*h)
                    .or_insert_with(|| ids(rng, t.block_size, t.vocab_size));
                prompt.extend_from_slice(b);
            }
        }
        let want = r.input_len.max(1) as usize;
        prompt.truncate(want);
        let rest = (want - prompt.len()) as u64;
        prompt.extend(ids(rng, rest, t.vocab_size));
        if let Some(s) = &r.session {
            sessions.insert(s.clone(), prompt.clone());
        }
        samples.push(sample(prompt, r.output_len));
        let offset = (r.at_s - origin) * t.time_scale;
        schedule.push(Duration::try_from_secs_f64(offset).unwrap_or(Duration::MAX));
    }
    Ok(Prepared {
        samples,
        turns: 1,
        think: Duration::ZERO,
        schedule: Some(schedule),
        priming: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ids_of(s: &Sample) -> &[u32] {
        match &s.prompt {
            Prompt::Ids(v) => v,
            Prompt::Text(_) => panic!("token ids expected"),
        }
    }

    #[test]
    fn workload_files_read_as_documented() {
        let w = Workload::parse(
            "shared_prefix: {groups: 4, prefix_len: 960, suffix_len: 64, output_len: 32, hit_rate: 0.9}\n",
        )
        .unwrap();
        assert_eq!(w.kind(), "shared_prefix");
        assert_eq!(w.target_hit_rate(), Some(0.9));
        let w = Workload::parse(
            r#"{"multi_turn": {"sessions": 2, "turns": 3, "user_len": [10, 20, 30], "assistant_len": 5, "think_time_ms": 100}}"#,
        )
        .unwrap();
        assert!(matches!(w, Workload::MultiTurn(ref m) if m.user_len.at(2) == Some(30)));
        for bad in [
            "shared_prefix: {groups: 4, prefix_len: 100, suffix_len: 100, output_len: 1, hit_rate: 0.6}\n",
            "multi_turn: {sessions: 1, turns: 3, user_len: [1, 2], assistant_len: 1}\n",
            "trace: {path: x, speed: 2}\n",
            "random: {}\n",
        ] {
            assert!(Workload::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn shared_prefix_mix_gives_the_target_hit_rate() {
        let s = SharedPrefix {
            groups: 4,
            prefix_len: 960,
            suffix_len: 64,
            output_len: 8,
            hit_rate: 0.9,
            prime: true,
            vocab_size: 32000,
        };
        let w = Workload::SharedPrefix(s.clone());
        let p = prepare(&w, 200, 7).unwrap();
        assert_eq!(p.samples.len(), 200);
        assert_eq!(p.priming.len(), 4);
        let primed: Vec<&[u32]> = p.priming.iter().map(|x| &ids_of(x)[..960]).collect();
        // A request hits when its prefix is one of the primed ones.
        let hits: usize = p
            .samples
            .iter()
            .filter(|x| primed.contains(&&ids_of(x)[..960]))
            .count();
        let rate = hits as f64 * 960.0 / (200.0 * 1024.0);
        assert!((rate - 0.9).abs() < 0.01, "{rate}");
        let cold = prepare(
            &Workload::SharedPrefix(SharedPrefix { hit_rate: 0.0, ..s }),
            50,
            7,
        )
        .unwrap();
        assert!(cold.priming.is_empty());
        let mut firsts: Vec<&[u32]> = cold.samples.iter().map(|x| &ids_of(x)[..32]).collect();
        firsts.sort();
        firsts.dedup();
        assert_eq!(firsts.len(), 50, "every prefix is unique at 0%");
    }

    #[test]
    fn each_turn_carries_the_conversation_so_far() {
        let w = Workload::parse(
            "multi_turn: {sessions: 2, turns: 3, user_len: [4, 5, 6], assistant_len: [2, 3, 4]}\n",
        )
        .unwrap();
        let p = prepare(&w, 0, 1).unwrap();
        assert_eq!((p.samples.len(), p.turns), (6, 3));
        let lens: Vec<usize> = p.samples.iter().map(|s| ids_of(s).len()).collect();
        assert_eq!(lens, [4, 4 + 2 + 5, 4 + 2 + 5 + 3 + 6].repeat(2));
        let (t1, t2, t3) = (
            ids_of(&p.samples[0]),
            ids_of(&p.samples[1]),
            ids_of(&p.samples[2]),
        );
        assert!(t2.starts_with(t1) && t3.starts_with(t2));
        assert_eq!(p.samples[2].output_len, 4);
        assert!(!ids_of(&p.samples[3]).starts_with(t1), "sessions differ");
    }

    #[test]
    fn trace_layouts_and_prefixes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.jsonl");
        std::fs::write(
            &path,
            concat!(
                r#"{"timestamp": 2000, "input_length": 1024, "output_length": 5, "hash_ids": [1, 2]}"#, "\n",
                r#"{"timestamp": 1000, "input_length": 700, "output_length": 4, "hash_ids": [1, 3]}"#, "\n",
                r#"{"Timestamp": 3.5, "Request tokens": 10, "Response tokens": 0}"#, "\n",
                r#"{"timestamp": 4, "input_len": 20, "output_len": 2, "session_id": "a"}"#, "\n",
                r#"{"timestamp": 5, "input_len": 30, "output_len": 2, "session_id": "a"}"#, "\n",
            ),
        )
        .unwrap();
        let t = TraceReplay {
            path: path.clone(),
            time_scale: 0.5,
            block_size: 512,
            max_requests: None,
            vocab_size: 32000,
        };
        let p = prepare(&Workload::Trace(t.clone()), 0, 3).unwrap();
        let ms: Vec<u128> = p
            .schedule
            .unwrap()
            .iter()
            .map(Duration::as_millis)
            .collect();
        assert_eq!(
            ms,
            [0, 500, 1250, 1500, 2000],
            "sorted, rebased, scaled by 0.5"
        );
        let lens: Vec<usize> = p.samples.iter().map(|s| ids_of(s).len()).collect();
        assert_eq!(lens, [700, 1024, 10, 20, 30]);
        assert_eq!(
            p.samples[2].output_len, 1,
            "a 0-token answer still asks for one"
        );
        let (a, b) = (ids_of(&p.samples[0]), ids_of(&p.samples[1]));
        assert_eq!(a[..512], b[..512], "hash id 1 is the same block");
        assert_ne!(a[512..700], b[512..700]);
        assert!(ids_of(&p.samples[4]).starts_with(ids_of(&p.samples[3])));
        std::fs::write(&path, "{\"timestamp\": 1, \"output_len\": 3}\n").unwrap();
        let e = prepare(&Workload::Trace(t), 0, 3).unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("input_len"), "{e}");
    }

    #[test]
    fn burstgpt_csv_reads_by_header() {
        let r = burstgpt_csv(
            "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n5,ChatGPT,472,18,490,Conversation log\n45,GPT-4,1087,251,1338,API log\n",
        )
        .unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(
            (r[1].at_s, r[1].input_len, r[1].output_len),
            (45.0, 1087, 251)
        );
        assert!(burstgpt_csv("Timestamp,Model\n1,x\n").is_err());
        assert!(burstgpt_csv("Timestamp,Request tokens,Response tokens\nx,1,2\n").is_err());
    }

    /// A JSON record with trace keys and values of any type.
    fn record() -> impl Strategy<Value = Value> {
        let key = prop::sample::select(vec![
            "timestamp",
            "input_len",
            "output_len",
            "input_length",
            "output_length",
            "Timestamp",
            "Request tokens",
            "Response tokens",
            "hash_ids",
            "session_id",
            "prefix_id",
            "prefix_len",
        ]);
        let value = prop_oneof![
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            "[a-z0-9]{0,4}".prop_map(Value::from),
            prop::collection::vec(any::<i32>(), 0..4).prop_map(Value::from),
            Just(Value::Null),
        ];
        prop::collection::vec((key, value), 0..8)
            .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
    }

    proptest! {
        #[test]
        fn trace_records_never_panic_and_stay_in_range(v in record()) {
            if let Ok(r) = trace_record(&v) {
                prop_assert!(r.at_s.is_finite() && r.at_s >= 0.0);
            }
        }

        #[test]
        fn burstgpt_rows_never_panic(rows in prop::collection::vec("[0-9a-z.,-]{0,30}", 0..6)) {
            let text = format!("Timestamp,Model,Request tokens,Response tokens\n{}", rows.join("\n"));
            let _ = burstgpt_csv(&text);
        }
    }
}
