//! Per-request token hand-off from the engine task to the response body, and the SSE body.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame};

use super::App;
use super::engine_task::Cmd;
use crate::api::{ChunkFormat, Endpoint, Usage};
use crate::log::Level;

/// Tokens produced for one request, waiting for its response body. The engine task pushes
/// chunk sizes (already grouped by `stream_interval`); the body drains them.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    chunks: VecDeque<u32>,
    produced: u32,
    /// Prompt tokens the engine found in its prefix cache.
    cached: u32,
    finished: bool,
    waker: Option<Waker>,
}

impl Shared {
    /// Adds a chunk of `tokens` tokens; `finished` marks the last one.
    pub(crate) fn push(&self, tokens: u32, finished: bool) {
        let waker = {
            let Ok(mut g) = self.inner.lock() else { return };
            g.chunks.push_back(tokens);
            g.produced += tokens;
            g.finished |= finished;
            g.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Records the prompt tokens served from the prefix cache.
    pub(crate) fn set_cached(&self, tokens: u32) {
        if let Ok(mut g) = self.inner.lock() {
            g.cached = tokens;
        }
    }

    /// Prompt tokens served from the prefix cache.
    pub(crate) fn cached(&self) -> u32 {
        self.inner.lock().map_or(0, |g| g.cached)
    }

    /// Moves pending chunk sizes into `out`; `Ready(finished)` when there was something (or the
    /// request is finished), else registers the waker.
    fn poll_take(&self, cx: &mut Context<'_>, out: &mut Vec<u32>) -> Poll<bool> {
        let Ok(mut g) = self.inner.lock() else {
            return Poll::Ready(true);
        };
        if g.chunks.is_empty() && !g.finished {
            g.waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        out.extend(g.chunks.drain(..));
        Poll::Ready(g.finished)
    }

    /// Waits until the request is finished and returns the tokens produced.
    pub(crate) async fn finished(&self) -> u32 {
        std::future::poll_fn(|cx| {
            let Ok(mut g) = self.inner.lock() else {
                return Poll::Ready(0);
            };
            if g.finished {
                Poll::Ready(g.produced)
            } else {
                g.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

/// Cancels the request in the engine when dropped before [`CancelGuard::disarm`]: the client
/// went away.
#[derive(Debug)]
pub(crate) struct CancelGuard {
    app: Arc<App>,
    id: u64,
    armed: bool,
}

impl CancelGuard {
    pub(crate) fn new(app: Arc<App>, id: u64) -> Self {
        Self {
            app,
            id,
            armed: true,
        }
    }

    pub(crate) fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        if self.armed {
            self.app.metrics.requests_aborted.fetch_add(1, Relaxed);
            let _ = self.app.cmd_tx.send(Cmd::Cancel(self.id));
        }
    }
}

/// The stream was cut by the `cut-stream-rate` fault.
#[derive(Debug, thiserror::Error)]
#[error("stream cut by servebench-sim fault cut-stream-rate")]
pub(crate) struct StreamCut;

/// What a streaming body needs to know about its request.
#[derive(Debug)]
pub(crate) struct StreamSpec {
    pub id: u64,
    pub endpoint: Endpoint,
    pub format: ChunkFormat,
    pub hash: u64,
    pub prompt_tokens: u32,
    pub max_tokens: u32,
    pub include_usage: bool,
    /// Cut the stream after this many tokens.
    pub cut_at: Option<u32>,
}

/// The SSE response body: one `data:` event per chunk, the usage event if asked, `[DONE]`.
/// Chunks that piled up since the last poll go out in one frame (still one event each).
#[derive(Debug)]
pub(crate) struct TokenStream {
    app: Arc<App>,
    shared: Arc<Shared>,
    spec: StreamSpec,
    sent: u32,
    done: bool,
    cut_flushed: bool,
    scratch: Vec<u32>,
    guard: CancelGuard,
}

impl TokenStream {
    pub(crate) fn new(app: Arc<App>, shared: Arc<Shared>, spec: StreamSpec) -> Self {
        let guard = CancelGuard::new(app.clone(), spec.id);
        Self {
            app,
            shared,
            spec,
            sent: 0,
            done: false,
            cut_flushed: false,
            scratch: Vec::new(),
            guard,
        }
    }
}

impl Body for TokenStream {
    type Data = Bytes;
    type Error = super::http::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        if let Some(cut) = this.spec.cut_at
            && this.sent >= cut
        {
            if !this.cut_flushed {
                // Return Pending once so hyper flushes the tokens sent so far; the cut
                // comes on the next poll, as a connection dropping mid-stream.
                this.cut_flushed = true;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            this.done = true;
            let msg = format!(
                "Response stream of request {} aborted after {} tokens (servebench-sim fault cut-stream-rate={})",
                this.spec.id, this.sent, this.app.faults.cut_stream_rate
            );
            this.app.log.traceback("RuntimeError", &msg);
            // The guard counts it as aborted and frees the engine's slot.
            return Poll::Ready(Some(Err(Box::new(StreamCut))));
        }
        this.scratch.clear();
        let finished = match this.shared.poll_take(cx, &mut this.scratch) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(f) => f,
        };
        let spec = &this.spec;
        let mut out = BytesMut::with_capacity(64 + this.scratch.len() * CHUNK_BYTES_GUESS);
        let n = this.scratch.len();
        for (k, tokens) in this.scratch.iter().enumerate() {
            let full_to = this.sent + tokens;
            let to = spec.cut_at.map_or(full_to, |c| full_to.min(c));
            if to > this.sent {
                let last = finished && k + 1 == n && to == full_to;
                let reason = last.then_some(if to >= spec.max_tokens {
                    "length"
                } else {
                    "stop"
                });
                spec.format
                    .push_chunk(&mut out, spec.endpoint, spec.hash, this.sent, to, reason);
                this.sent = to;
            }
            if spec.cut_at.is_some_and(|c| this.sent >= c) {
                // The error comes with the next poll, after these bytes are written.
                return Poll::Ready(Some(Ok(Frame::data(out.freeze()))));
            }
        }
        if finished {
            let usage = spec.include_usage.then(|| Usage {
                prompt: spec.prompt_tokens,
                completion: this.sent,
                cached: this.shared.cached(),
            });
            spec.format.push_end(&mut out, usage);
            this.done = true;
            this.guard.disarm();
            this.app.request_answered();
        }
        Poll::Ready(Some(Ok(Frame::data(out.freeze()))))
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }
}

/// Bytes of one SSE chunk, to size the frame buffer.
const CHUNK_BYTES_GUESS: usize = 176;

/// Logs and counts a request answered with an error status.
pub(crate) fn log_error(app: &App, status: u16, msg: &str) {
    app.metrics.requests_error.fetch_add(1, Relaxed);
    app.log.line(
        Level::Warning,
        &format!("request failed with HTTP {status}: {msg}"),
    );
}
