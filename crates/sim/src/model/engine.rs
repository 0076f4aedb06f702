//! Continuous batching of one server in virtual time.

use std::collections::VecDeque;

use super::prefix::PrefixCache;
use super::shape::{Batch, Role, ServerShape};
use crate::rng::Rng;

/// Which part of the request this server runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Phase {
    /// Prefill then decode (aggregated serving).
    Full,
    /// Prefill only; finishes with the first token (ctx server).
    PrefillOnly,
    /// Decode only, after receiving the KV cache, which takes `transfer_s` once admitted
    /// (gen server). The first token (made by the ctx server) is sent after the transfer.
    DecodeOnly {
        /// Simulated KV transfer time, seconds.
        transfer_s: f64,
    },
}

/// A request as the model sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct SimRequest {
    /// Caller's id, echoed in [`Emit`]s.
    pub id: u64,
    /// Prompt tokens.
    pub input_tokens: u32,
    /// Output tokens to produce, at least 1 (the first token included).
    pub output_tokens: u32,
    /// Output tokens to reserve KV for (`max_tokens`; the scheduler guarantees no eviction).
    pub reserve_tokens: u32,
    /// Which part to run.
    pub phase: Phase,
    /// Seed of this request's draws (MTP acceptance).
    pub seed: u64,
    /// Chained hashes of the prompt's full KV blocks, for the prefix cache (empty: nothing to
    /// reuse).
    pub prefix_blocks: Vec<u64>,
}

/// Tokens a request produced at the end of an iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Emit {
    /// The request id.
    pub id: u64,
    /// Tokens produced (more than one with MTP).
    pub tokens: u32,
    /// This emit carries the request's first token.
    pub first: bool,
    /// The request is complete after this emit.
    pub finished: bool,
    /// Prompt tokens served from the prefix cache (set on the first emit, else 0).
    pub cached_tokens: u32,
}

/// The outcome of one iteration.
#[derive(Debug, Clone, PartialEq)]
pub struct Iteration {
    /// Virtual start time, seconds.
    pub start: f64,
    /// Duration, seconds.
    pub duration: f64,
    /// What each request produced; delivered at `start + duration`.
    pub emits: Vec<Emit>,
    /// Prompt tokens processed.
    pub prefill_tokens: u64,
    /// Output tokens produced.
    pub generated_tokens: u64,
}

#[derive(Debug)]
enum State {
    Transferring { ready_at: f64 },
    Prefill { done: u32 },
    Decode { generated: u32, first_sent: bool },
}

#[derive(Debug)]
struct Active {
    req: SimRequest,
    state: State,
    kv_reserved: u64,
    rng: Rng,
    done: bool,
    /// Prompt tokens found in the prefix cache at admission.
    cached: u32,
}

/// One server's scheduler and clock. Requests queue FIFO; each iteration admits requests while
/// the batch has room and their KV reservation fits, spends the token budget on decode steps
/// first and then on prompt chunks, and advances the clock by the roofline time.
#[derive(Debug)]
pub struct Engine {
    shape: ServerShape,
    now: f64,
    waiting: VecDeque<(f64, SimRequest)>,
    active: Vec<Active>,
    kv_reserved: u64,
    rng: Rng,
    /// Reused KV blocks (block reuse on, and a role that prefills).
    cache: Option<PrefixCache>,
    /// Prompt tokens looked up in the prefix cache, and those found.
    cache_queried: u64,
    cache_hits: u64,
}

impl Engine {
    /// An idle engine at time 0.
    pub fn new(shape: ServerShape, seed: u64) -> Self {
        let cache = match shape.role {
            Role::Gen => None,
            _ => shape.reuse_block_tokens.map(PrefixCache::new),
        };
        Self {
            cache,
            cache_queried: 0,
            cache_hits: 0,
            shape,
            now: 0.0,
            waiting: VecDeque::new(),
            active: Vec::new(),
            kv_reserved: 0,
            rng: Rng::new(seed),
        }
    }

    /// The server shape.
    pub fn shape(&self) -> &ServerShape {
        &self.shape
    }

    /// Changes the slow factor (the `slow-factor` fault).
    pub fn set_slow_factor(&mut self, f: f64) {
        self.shape.slow_factor = f.max(0.0);
    }

    /// The virtual clock, seconds.
    pub fn now(&self) -> f64 {
        self.now
    }

    /// Moves an idle engine's clock forward to `t` (no effect if `t` is in the past).
    pub fn advance_to(&mut self, t: f64) {
        if t > self.now {
            self.now = t;
        }
    }

    /// Queues a request arriving at the current time.
    pub fn submit(&mut self, req: SimRequest) {
        self.waiting.push_back((self.now, req));
    }

    /// Queues a request arriving at virtual time `at` (it is not admitted before then).
    pub fn submit_at(&mut self, req: SimRequest, at: f64) {
        self.waiting.push_back((at, req));
    }

    /// When the engine can next do something: now if a request is runnable or admissible,
    /// else the earliest pending arrival or transfer completion; `None` when idle.
    pub fn next_event_time(&self) -> Option<f64> {
        let mut t = f64::INFINITY;
        for a in &self.active {
            match a.state {
                State::Transferring { ready_at } => t = t.min(ready_at),
                _ => return Some(self.now),
            }
        }
        if let Some((at, _)) = self.waiting.front() {
            t = t.min(*at);
        }
        t.is_finite().then_some(t.max(self.now))
    }

    /// Drops a request whose client went away, releasing its KV reservation. Returns whether
    /// the request was known.
    pub fn cancel(&mut self, id: u64) -> bool {
        if let Some(pos) = self.waiting.iter().position(|(_, r)| r.id == id) {
            self.waiting.remove(pos);
            return true;
        }
        if let Some(pos) = self.active.iter().position(|a| a.req.id == id) {
            let a = self.active.remove(pos);
            self.kv_reserved -= a.kv_reserved;
            return true;
        }
        false
    }

    /// Whether anything is queued or in flight.
    pub fn has_work(&self) -> bool {
        !self.waiting.is_empty() || !self.active.is_empty()
    }

    /// Prompt tokens looked up in the prefix cache so far, and how many of them were found
    /// (both 0 with block reuse off).
    pub fn prefix_cache_tokens(&self) -> (u64, u64) {
        (self.cache_queried, self.cache_hits)
    }

    /// Requests admitted to the batch.
    pub fn running(&self) -> usize {
        self.active.len()
    }

    /// Requests waiting for admission.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// KV cache in use (tokens held by admitted requests) as a fraction of capacity.
    pub fn kv_usage(&self) -> f64 {
        let used: u64 = self
            .active
            .iter()
            .map(|a| match a.state {
                State::Transferring { .. } => u64::from(a.req.input_tokens),
                State::Prefill { done } => u64::from(done),
                State::Decode { generated, .. } => {
                    u64::from(a.req.input_tokens) + u64::from(generated)
                }
            })
            .sum();
        used as f64 / self.shape.kv_capacity_tokens.max(1) as f64
    }

    fn reservation(&self, r: &SimRequest) -> u64 {
        let out = match r.phase {
            Phase::PrefillOnly => 1,
            Phase::Full | Phase::DecodeOnly { .. } => r.reserve_tokens.max(r.output_tokens),
        };
        u64::from(
            r.input_tokens
                .saturating_add(out)
                .min(self.shape.max_seq_len),
        )
    }

    fn admit(&mut self) {
        while let Some((at, next)) = self.waiting.front() {
            if *at > self.now || self.active.len() >= self.shape.batch_cap as usize {
                break;
            }
            let need = self.reservation(next);
            // A request larger than the whole cache runs alone rather than never.
            let fits = self.kv_reserved + need <= self.shape.kv_capacity_tokens;
            if !fits && !self.active.is_empty() {
                break;
            }
            let Some((_, req)) = self.waiting.pop_front() else {
                break;
            };
            let mut cached = 0;
            let state = match req.phase {
                Phase::DecodeOnly { transfer_s } => State::Transferring {
                    ready_at: self.now + transfer_s.max(0.0),
                },
                Phase::Full | Phase::PrefillOnly => {
                    if let Some(cache) = &mut self.cache {
                        // The last prompt token is always computed: it makes the first token.
                        let hit = cache.lookup(&req.prefix_blocks);
                        cached = u32::try_from(hit)
                            .unwrap_or(u32::MAX)
                            .min(req.input_tokens.saturating_sub(1));
                        self.cache_queried += u64::from(req.input_tokens);
                        self.cache_hits += u64::from(cached);
                    }
                    State::Prefill { done: cached }
                }
            };
            self.kv_reserved += need;
            if let Some(cache) = &mut self.cache {
                cache.fit(
                    self.shape
                        .kv_capacity_tokens
                        .saturating_sub(self.kv_reserved),
                );
            }
            let rng = Rng::derive(req.seed, req.id);
            self.active.push(Active {
                req,
                state,
                kv_reserved: need,
                rng,
                done: false,
                cached,
            });
        }
    }

    /// Runs one iteration from the current time and returns what it produced, or `None` when
    /// there is nothing to do. When only KV transfers are pending, the clock first jumps to
    /// the earliest transfer completion.
    pub fn step(&mut self) -> Option<Iteration> {
        loop {
            self.admit();
            let mut earliest = f64::INFINITY;
            for a in &mut self.active {
                if let State::Transferring { ready_at } = a.state {
                    if ready_at <= self.now {
                        a.state = State::Decode {
                            generated: 0,
                            first_sent: false,
                        };
                    } else {
                        earliest = earliest.min(ready_at);
                    }
                }
            }
            let runnable = self
                .active
                .iter()
                .any(|a| !matches!(a.state, State::Transferring { .. }));
            if runnable {
                return Some(self.run_iteration());
            }
            if let Some((at, _)) = self.waiting.front() {
                earliest = earliest.min(*at);
            }
            if earliest.is_finite() && earliest > self.now {
                self.now = earliest;
                continue;
            }
            return None;
        }
    }

    fn run_iteration(&mut self) -> Iteration {
        let per_decode = 1 + self.shape.mtp;
        let mut budget = self.shape.token_budget;
        let mut batch = Batch::default();
        // Plan: decode steps first, then prompt chunks, within the token budget.
        let mut plan: Vec<(usize, u32)> = Vec::with_capacity(self.active.len());
        for (i, a) in self.active.iter().enumerate() {
            if let State::Decode { generated, .. } = a.state {
                if budget < per_decode {
                    continue;
                }
                budget -= per_decode;
                batch.decode_seqs += 1;
                batch.decode_kv_tokens += f64::from(a.req.input_tokens + generated);
                plan.push((i, 0));
            }
        }
        for (i, a) in self.active.iter().enumerate() {
            if let State::Prefill { done } = a.state {
                if budget == 0 {
                    break;
                }
                let chunk = a.req.input_tokens.saturating_sub(done).min(budget);
                budget -= chunk;
                batch.prefill_tokens += u64::from(chunk);
                let (c, d) = (f64::from(chunk), f64::from(done));
                batch.prefill_attn_ctx += c * d + c * (c + 1.0) / 2.0;
                plan.push((i, chunk));
            }
        }
        let base = self.shape.iteration_time(&batch);
        let jitter = self.shape.profiles.tuning.jitter;
        let noise = 1.0 + jitter * (2.0 * self.rng.next_f64() - 1.0);
        let duration = base * noise * self.shape.slow_factor;
        let start = self.now;
        self.now += duration;

        let mut emits = Vec::with_capacity(plan.len());
        let mut generated_tokens = 0u64;
        let acceptance = self.shape.profiles.tuning.mtp_acceptance;
        let mtp = self.shape.mtp;
        for (i, chunk) in plan {
            let Some(a) = self.active.get_mut(i) else {
                continue;
            };
            let out = a.req.output_tokens.max(1);
            match a.state {
                State::Prefill { done } => {
                    let done = done + chunk;
                    if done < a.req.input_tokens {
                        a.state = State::Prefill { done };
                        continue;
                    }
                    let finished = a.req.phase == Phase::PrefillOnly || out == 1;
                    a.done = finished;
                    if let Some(cache) = &mut self.cache {
                        cache.insert(&a.req.prefix_blocks);
                        cache.fit(
                            self.shape
                                .kv_capacity_tokens
                                .saturating_sub(self.kv_reserved),
                        );
                    }
                    emits.push(Emit {
                        id: a.req.id,
                        tokens: 1,
                        first: true,
                        finished,
                        cached_tokens: a.cached,
                    });
                    generated_tokens += 1;
                    a.state = State::Decode {
                        generated: 1,
                        first_sent: true,
                    };
                }
                State::Decode {
                    generated,
                    first_sent,
                } => {
                    let mut generated = generated;
                    if !first_sent {
                        // Gen server: the ctx server's first token goes out with the first step.
                        generated = 1;
                        a.done = out == 1;
                        emits.push(Emit {
                            id: a.req.id,
                            tokens: 1,
                            first: true,
                            finished: a.done,
                            cached_tokens: 0,
                        });
                        generated_tokens += 1;
                    }
                    if generated < out {
                        let mut n = 1;
                        while n <= mtp && a.rng.chance(acceptance) {
                            n += 1;
                        }
                        let n = n.min(out - generated);
                        generated += n;
                        generated_tokens += u64::from(n);
                        a.done = generated >= out;
                        emits.push(Emit {
                            id: a.req.id,
                            tokens: n,
                            first: false,
                            finished: a.done,
                            cached_tokens: 0,
                        });
                    }
                    a.state = State::Decode {
                        generated,
                        first_sent: true,
                    };
                }
                State::Transferring { .. } => {}
            }
        }
        // Retire finished requests and release their KV reservation.
        if emits.iter().any(|e| e.finished) {
            let mut released = 0;
            self.active.retain(|a| {
                if a.done {
                    released += a.kv_reserved;
                }
                !a.done
            });
            self.kv_reserved -= released;
        }
        Iteration {
            start,
            duration,
            emits,
            prefill_tokens: batch.prefill_tokens,
            generated_tokens,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Role;
    use crate::profile;
    use crate::worker::WorkerConfig;

    fn engine(yaml: &str) -> Engine {
        let cfg = WorkerConfig::parse(yaml, "t").unwrap();
        let shape = ServerShape::new(
            Role::Agg,
            &cfg,
            profile::resolve("llama-3-8b", "H100", None).unwrap(),
        );
        Engine::new(shape, 1)
    }

    fn req(id: u64, input: u32, output: u32) -> SimRequest {
        SimRequest {
            id,
            input_tokens: input,
            output_tokens: output,
            reserve_tokens: output,
            phase: Phase::Full,
            seed: 0,
            prefix_blocks: Vec::new(),
        }
    }

    #[test]
    fn long_prompts_are_prefilled_in_chunks() {
        let mut e = engine("max_num_tokens: 1000\n");
        e.submit(req(1, 2500, 2));
        let its: Vec<Iteration> = std::iter::from_fn(|| e.step()).collect();
        let prefill: Vec<u64> = its.iter().map(|i| i.prefill_tokens).collect();
        assert_eq!(prefill, vec![1000, 1000, 500, 0]);
        assert_eq!(
            its[2].emits,
            vec![Emit {
                id: 1,
                tokens: 1,
                first: true,
                finished: false,
                cached_tokens: 0
            }]
        );
        assert_eq!(
            its[3].emits,
            vec![Emit {
                id: 1,
                tokens: 1,
                first: false,
                finished: true,
                cached_tokens: 0
            }]
        );
        assert!(!e.has_work());
    }

    #[test]
    fn batch_cap_and_kv_capacity_queue_requests() {
        let mut e = engine("max_batch_size: 2\n");
        for id in 0..3 {
            e.submit(req(id, 10, 5));
        }
        e.step();
        assert_eq!((e.running(), e.waiting()), (2, 1));
        // KV: a cache of 4000 tokens holds one 3000-token reservation at a time.
        let mut e = engine("max_seq_len: 4000\n");
        e.shape.kv_capacity_tokens = 4000;
        e.submit(req(1, 1000, 2000));
        e.submit(req(2, 1000, 2000));
        e.step();
        assert_eq!((e.running(), e.waiting()), (1, 1));
        assert!(e.cancel(1));
        e.step();
        assert_eq!(
            (e.running(), e.waiting()),
            (1, 0),
            "cancel released the reservation"
        );
        assert!(!e.cancel(99));
    }

    #[test]
    fn decode_only_waits_for_the_transfer_then_sends_the_first_token() {
        let mut e = engine("");
        e.submit(SimRequest {
            phase: Phase::DecodeOnly { transfer_s: 0.5 },
            ..req(7, 100, 3)
        });
        let it = e.step().unwrap();
        assert!(
            it.start >= 0.5,
            "the clock jumped to the end of the transfer"
        );
        assert_eq!(
            it.emits[0],
            Emit {
                id: 7,
                tokens: 1,
                first: true,
                finished: false,
                cached_tokens: 0
            }
        );
        assert_eq!(it.prefill_tokens, 0, "no prefill on the gen side");
        let total: u32 = std::iter::once(it)
            .chain(std::iter::from_fn(|| e.step()))
            .flat_map(|i| i.emits)
            .map(|e| e.tokens)
            .sum();
        assert_eq!(total, 3);
    }

    #[test]
    fn reused_prefix_blocks_skip_their_prefill() {
        let with_blocks = |id, blocks: Vec<u64>| SimRequest {
            prefix_blocks: blocks,
            ..req(id, 100, 2)
        };
        let run = |e: &mut Engine, r: SimRequest| {
            e.submit(r);
            let its: Vec<Iteration> = std::iter::from_fn(|| e.step()).collect();
            let first = its.iter().flat_map(|i| &i.emits).find(|x| x.first).copied();
            let prefill: u64 = its.iter().map(|i| i.prefill_tokens).sum();
            let ttft: f64 = its
                .iter()
                .take_while(|i| !i.emits.iter().any(|x| x.first))
                .chain(its.iter().find(|i| i.emits.iter().any(|x| x.first)))
                .map(|i| i.duration)
                .sum();
            (first.map_or(0, |f| f.cached_tokens), prefill, ttft)
        };
        // 32-token blocks (the default): 3 full blocks of a 100-token prompt.
        let mut e = engine("max_num_tokens: 40\n");
        let cold = run(&mut e, with_blocks(1, vec![11, 12, 13]));
        assert_eq!((cold.0, cold.1), (0, 100));
        let warm = run(&mut e, with_blocks(2, vec![11, 12, 99]));
        assert_eq!((warm.0, warm.1), (64, 36), "two blocks reused");
        assert!(
            warm.2 < cold.2,
            "fewer prefill iterations: {warm:?} vs {cold:?}"
        );
        assert_eq!(e.prefix_cache_tokens(), (200, 64));
        let mut off = engine("kv_cache_config: {enable_block_reuse: false}\n");
        run(&mut off, with_blocks(1, vec![11, 12, 13]));
        assert_eq!(run(&mut off, with_blocks(2, vec![11, 12, 13])).1, 100);
    }

    #[test]
    fn mtp_emits_several_tokens_per_step() {
        let mut e = engine("speculative_config: {num_nextn_predict_layers: 3}\n");
        e.submit(req(1, 10, 200));
        let its: Vec<Iteration> = std::iter::from_fn(|| e.step()).collect();
        let total: u32 = its.iter().flat_map(|i| &i.emits).map(|e| e.tokens).sum();
        assert_eq!(total, 200);
        // Expected 1 + 0.85 + 0.85^2 + 0.85^3 = 3.2 tokens per step.
        let steps = its.len() as f64 - 1.0;
        assert!(
            (50.0..80.0).contains(&steps),
            "{steps} decode steps for 199 tokens"
        );
    }
}
