//! The task that owns the [`Engine`]: it runs iterations, maps virtual time to wall time by
//! `--time-scale`, and hands each iteration's tokens to the requests' [`Shared`] states.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::{self, error::TryRecvError};
use tokio::sync::watch;

use super::stream::Shared;
use super::{App, Exit};
use crate::model::{Engine, Iteration, SimRequest};

/// Messages from the handlers to the engine task.
#[derive(Debug)]
pub(crate) enum Cmd {
    /// A new request and where its tokens go.
    Submit(SimRequest, Arc<Shared>),
    /// The client went away.
    Cancel(u64),
}

struct Meta {
    shared: Arc<Shared>,
    buffered: u32,
}

/// At `--time-scale 0`, the engine runs at least this many iterations (and at least
/// [`MIN_SLICE`]) before letting the connections write, so that each socket write carries
/// several chunks: one write per token would make system calls the bottleneck.
const ITERATIONS_PER_ROUND: u32 = 16;
/// Shortest engine turn at `--time-scale 0`.
const MIN_SLICE: Duration = Duration::from_millis(2);
/// Longest engine turn at `--time-scale 0`, bounding how long connections wait.
const MAX_SLICE: Duration = Duration::from_millis(50);

pub(crate) async fn run(
    app: Arc<App>,
    mut engine: Engine,
    mut rx: mpsc::UnboundedReceiver<Cmd>,
    time_scale: f64,
    mut exit: watch::Receiver<Option<Exit>>,
) {
    let mut metas: HashMap<u64, Meta> = HashMap::new();
    let anchor_wall = Instant::now();
    let anchor_virt = engine.now();
    let wall_to_virt = |engine: &mut Engine| {
        if time_scale > 0.0 {
            engine.advance_to(anchor_virt + anchor_wall.elapsed().as_secs_f64() / time_scale);
        }
    };
    let mut slice_start = Instant::now();
    let mut round_iterations = 0u32;
    let interval = app.shape.stream_interval.max(1);
    loop {
        if exit.borrow().is_some() {
            return;
        }
        if app.hung.load(Relaxed) {
            // hang-after: stop producing anything until the server stops.
            let _ = exit.wait_for(Option::is_some).await;
            return;
        }
        loop {
            match rx.try_recv() {
                Ok(cmd) => apply(&mut engine, &mut metas, cmd),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return,
            }
        }
        if !engine.has_work() {
            // Cancellations may have emptied the engine: keep the gauges truthful while idle.
            publish_gauges(&app, &engine);
            let cmd = tokio::select! {
                cmd = rx.recv() => cmd,
                _ = exit.changed() => None,
            };
            let Some(cmd) = cmd else { return };
            wall_to_virt(&mut engine);
            apply(&mut engine, &mut metas, cmd);
            slice_start = Instant::now();
            round_iterations = 0;
            continue;
        }
        let Some(it) = engine.step() else { continue };
        if time_scale > 0.0 {
            let end = (it.start + it.duration - anchor_virt) * time_scale;
            let deadline = anchor_wall + Duration::from_secs_f64(end.clamp(0.0, 1e9));
            tokio::time::sleep_until(deadline.into()).await;
        } else {
            round_iterations += 1;
            let spent = slice_start.elapsed();
            if (round_iterations >= ITERATIONS_PER_ROUND && spent >= MIN_SLICE)
                || spent >= MAX_SLICE
            {
                tokio::task::yield_now().await;
                slice_start = Instant::now();
                round_iterations = 0;
            }
        }
        if app.hung.load(Relaxed) {
            continue;
        }
        deliver(&app, &engine, &mut metas, it, interval);
    }
}

fn apply(engine: &mut Engine, metas: &mut HashMap<u64, Meta>, cmd: Cmd) {
    match cmd {
        Cmd::Submit(req, shared) => {
            metas.insert(
                req.id,
                Meta {
                    shared,
                    buffered: 0,
                },
            );
            engine.submit(req);
        }
        Cmd::Cancel(id) => {
            metas.remove(&id);
            engine.cancel(id);
        }
    }
}

fn deliver(
    app: &App,
    engine: &Engine,
    metas: &mut HashMap<u64, Meta>,
    it: Iteration,
    interval: u32,
) {
    for e in &it.emits {
        let Some(m) = metas.get_mut(&e.id) else {
            continue;
        };
        if e.first {
            // The first token always goes out alone and at once.
            m.shared.set_cached(e.cached_tokens);
            m.shared.push(e.tokens, e.finished);
        } else {
            m.buffered += e.tokens;
            if m.buffered >= interval || e.finished {
                m.shared.push(m.buffered, e.finished);
                m.buffered = 0;
            }
        }
        if e.finished {
            metas.remove(&e.id);
        }
    }
    publish_gauges(app, engine);
    let m = &app.metrics;
    // vLLM counts every prompt token, computed or reused.
    let reused: u64 = it.emits.iter().map(|e| u64::from(e.cached_tokens)).sum();
    m.prompt_tokens
        .fetch_add(it.prefill_tokens + reused, Relaxed);
    let (queried, hits) = engine.prefix_cache_tokens();
    m.prefix_cache_queries.store(queried, Relaxed);
    m.prefix_cache_hits.store(hits, Relaxed);
    m.generation_tokens.fetch_add(it.generated_tokens, Relaxed);
    m.observe_iteration(it.duration);
}

fn publish_gauges(app: &App, engine: &Engine) {
    let m = &app.metrics;
    m.running.store(engine.running() as u64, Relaxed);
    m.waiting.store(engine.waiting() as u64, Relaxed);
    m.kv_usage_bits.store(engine.kv_usage().to_bits(), Relaxed);
}
