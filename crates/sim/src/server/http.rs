//! Connections and the worker's request handlers.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::engine_task::Cmd;
use super::stream::{CancelGuard, Shared, StreamSpec, TokenStream, log_error};
use super::{App, Exit};
use crate::api::{self, ApiRequest, DisaggStage, Endpoint};
use crate::log::Level;
use crate::model::{Phase, SimRequest};
use crate::rng::Rng;

/// Errors of response bodies.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// The response body type of every handler.
pub(crate) type RespBody = BoxBody<Bytes, BoxError>;

/// Longest "natural" answer (ending at EOS) when a request sets neither `max_tokens` nor
/// `ignore_eos`: a chat request's default `max_tokens` is all of `max_seq_len`, and real models
/// stop long before that.
const NATURAL_LENGTH_CAP: u32 = 1024;

/// Largest request body accepted.
const MAX_BODY: usize = 64 << 20;
/// Time left to open connections to flush after a crash or shutdown.
const CLOSE_GRACE: Duration = Duration::from_millis(50);

/// Accepts connections until the server exits, serving each with `handler`.
pub(crate) async fn serve<H, F>(
    listener: TcpListener,
    exit: watch::Receiver<Option<Exit>>,
    handler: H,
) where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<RespBody>> + Send + 'static,
{
    let mut stop = exit.clone();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let handler = handler.clone();
                    let mut exit = exit.clone();
                    tokio::spawn(async move {
                        let svc = service_fn(move |req| {
                            let fut = handler(req);
                            async move { Ok::<_, Infallible>(fut.await) }
                        });
                        let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), svc);
                        tokio::select! {
                            _ = conn => {}
                            _ = async {
                                let _ = exit.wait_for(Option::is_some).await;
                                tokio::time::sleep(CLOSE_GRACE).await;
                            } => {}
                        }
                    });
                }
                // Out of file descriptors and the like: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            _ = async { let _ = stop.wait_for(Option::is_some).await; } => return,
        }
    }
}

pub(crate) async fn accept_loop(
    listener: TcpListener,
    app: Arc<App>,
    exit: watch::Receiver<Option<Exit>>,
) {
    serve(listener, exit, move |req| handle(app.clone(), req)).await;
}

/// A complete response with a body.
pub(crate) fn full(
    status: StatusCode,
    content_type: &str,
    body: impl Into<Bytes>,
) -> Response<RespBody> {
    let mut r = Response::new(Full::new(body.into()).map_err(|e| match e {}).boxed());
    *r.status_mut() = status;
    if let Ok(v) = header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

/// An OpenAI-style error response.
pub(crate) fn error(
    status: StatusCode,
    kind: &str,
    msg: &str,
    param: Option<&str>,
) -> Response<RespBody> {
    full(
        status,
        "application/json",
        api::error_body(msg, kind, param, status.as_u16()),
    )
}

async fn handle(app: Arc<App>, req: Request<Incoming>) -> Response<RespBody> {
    if app.hung.load(Relaxed) {
        std::future::pending::<()>().await;
    }
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/health") => {
            if app.ready.load(Relaxed) {
                full(StatusCode::OK, "text/plain", "")
            } else {
                error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "ServiceUnavailableError",
                    "model is loading",
                    None,
                )
            }
        }
        (&Method::GET, "/v1/models") => {
            let body = json!({"object": "list", "data": [{"id": app.model, "object": "model", "created": app.created, "owned_by": "servebench-sim", "max_model_len": app.shape.max_seq_len}]});
            full(StatusCode::OK, "application/json", body.to_string())
        }
        (&Method::GET, "/metrics") => full(
            StatusCode::OK,
            "text/plain; version=0.0.4",
            app.metrics.render(&app.model),
        ),
        (&Method::POST, "/v1/completions") => completion(app, req, Endpoint::Completions).await,
        (&Method::POST, "/v1/chat/completions") => completion(app, req, Endpoint::Chat).await,
        (_, "/health" | "/v1/models" | "/metrics" | "/v1/completions" | "/v1/chat/completions") => {
            error(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                "method not allowed",
                None,
            )
        }
        (_, path) => error(
            StatusCode::NOT_FOUND,
            "NotFoundError",
            &format!("no route for {path}"),
            None,
        ),
    }
}

/// Reads a request body up to [`MAX_BODY`].
pub(crate) async fn read_body(req: Request<Incoming>) -> Result<Bytes, Response<RespBody>> {
    match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "BadRequestError",
            &format!("request body exceeds {MAX_BODY} bytes"),
            None,
        )),
        Err(e) => Err(error(
            StatusCode::BAD_REQUEST,
            "BadRequestError",
            &format!("cannot read request body: {e}"),
            None,
        )),
    }
}

async fn completion(
    app: Arc<App>,
    req: Request<Incoming>,
    endpoint: Endpoint,
) -> Response<RespBody> {
    if !app.ready.load(Relaxed) {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailableError",
            "model is loading",
            None,
        );
    }
    let seq = app.received.fetch_add(1, Relaxed) + 1;
    if let Some(n) = app.faults.hang_after
        && seq > n
    {
        if !app.hung.swap(true, Relaxed) {
            app.log.line(
                Level::Error,
                &format!("Executor stopped responding after {n} requests (servebench-sim fault hang-after={n})"),
            );
        }
        std::future::pending::<()>().await;
    }
    let body = match read_body(req).await {
        Ok(b) => b,
        Err(resp) => {
            log_error(&app, resp.status().as_u16(), "unreadable body");
            return resp;
        }
    };
    let r = match api::parse(endpoint, &body, app.shape.reuse_block_tokens) {
        Ok(r) => r,
        Err(e) => {
            log_error(&app, 400, &e.message);
            return error(
                StatusCode::BAD_REQUEST,
                "BadRequestError",
                &e.message,
                e.param,
            );
        }
    };
    if let Some(m) = &r.model
        && *m != app.model
    {
        let msg = format!("The model `{m}` does not exist.");
        log_error(&app, 404, &msg);
        return error(StatusCode::NOT_FOUND, "NotFoundError", &msg, Some("model"));
    }
    let mut fault_rng = Rng::derive(app.seed ^ 0xFA17_FA17, seq);
    if app.faults.error_rate > 0.0 && fault_rng.chance(app.faults.error_rate) {
        let msg = format!(
            "Request {seq} failed in the executor (servebench-sim fault error-rate={})",
            app.faults.error_rate
        );
        app.log.traceback("RuntimeError", &msg);
        app.metrics.requests_error.fetch_add(1, Relaxed);
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            &msg,
            None,
        );
    }
    let cut = r.stream
        && app.faults.cut_stream_rate > 0.0
        && fault_rng.chance(app.faults.cut_stream_rate);
    run_request(app, r, cut).await
}

async fn run_request(app: Arc<App>, r: ApiRequest, cut: bool) -> Response<RespBody> {
    let shape = &app.shape;
    let input = r.prompt_tokens;
    if input >= shape.max_seq_len {
        let msg = format!(
            "the prompt has {input} tokens; max_seq_len is {}",
            shape.max_seq_len
        );
        log_error(&app, 400, &msg);
        return error(
            StatusCode::BAD_REQUEST,
            "BadRequestError",
            &msg,
            Some("prompt"),
        );
    }
    let room = shape.max_seq_len - input;
    let default_max = match r.endpoint {
        Endpoint::Completions => 16,
        Endpoint::Chat => room,
    };
    let max_tokens = r.max_tokens.unwrap_or(default_max).min(room).max(1);
    let (out, phase) = match r.stage {
        Some(DisaggStage::ContextOnly) => (1, Phase::PrefillOnly),
        stage => {
            let out = if r.ignore_eos {
                max_tokens
            } else {
                // Without ignore_eos, "EOS" comes uniformly between half and all of max_tokens
                // (of NATURAL_LENGTH_CAP when the client set no max_tokens).
                let cap = if r.max_tokens.is_some() {
                    max_tokens
                } else {
                    max_tokens.min(NATURAL_LENGTH_CAP)
                };
                let lo = cap.div_ceil(2);
                let mut rng = Rng::derive(app.seed, r.prompt_hash);
                lo + (rng.next_u64() % u64::from(cap - lo + 1)) as u32
            };
            let phase = match stage {
                Some(DisaggStage::GenerationOnly { ctx_world }) => Phase::DecodeOnly {
                    transfer_s: shape.kv_transfer_time(input, ctx_world),
                },
                _ => Phase::Full,
            };
            (out, phase)
        }
    };
    let id = app.next_id.fetch_add(1, Relaxed);
    let shared = Arc::new(Shared::default());
    let sim = SimRequest {
        id,
        input_tokens: input,
        output_tokens: out,
        reserve_tokens: max_tokens,
        phase,
        seed: app.seed ^ r.prompt_hash,
        prefix_blocks: r.prefix_blocks,
    };
    if app.cmd_tx.send(Cmd::Submit(sim, shared.clone())).is_err() {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailableError",
            "engine stopped",
            None,
        );
    }
    let finish = |n: u32| if n >= max_tokens { "length" } else { "stop" };
    if r.stream && r.stage != Some(DisaggStage::ContextOnly) {
        let spec = StreamSpec {
            id,
            endpoint: r.endpoint,
            format: api::ChunkFormat::new(r.endpoint, id, app.created, &app.model),
            hash: r.prompt_hash,
            prompt_tokens: input,
            max_tokens,
            include_usage: r.include_usage,
            cut_at: cut.then_some(out / 2),
        };
        let body = TokenStream::new(app.clone(), shared, spec).boxed();
        let mut resp = Response::new(body);
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("text/event-stream"),
        );
        h.insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-cache"),
        );
        return resp;
    }
    let mut guard = CancelGuard::new(app.clone(), id);
    let produced = shared.finished().await;
    guard.disarm();
    let disagg = (r.stage == Some(DisaggStage::ContextOnly)).then(|| {
        json!({
            "request_type": "context_only",
            "first_gen_tokens": [api::token_id(r.prompt_hash, 0)],
            "ctx_request_id": id,
            "kv_handle": {"ctx_world": shape.world, "input_tokens": input, "kv_bytes": (f64::from(input) * shape.kv_bytes_per_token) as u64},
        })
    });
    let body = api::full_response(
        r.endpoint,
        id,
        app.created,
        &app.model,
        r.prompt_hash,
        api::Usage {
            prompt: input,
            completion: produced,
            cached: shared.cached(),
        },
        finish(produced),
        disagg,
    );
    app.request_answered();
    full(StatusCode::OK, "application/json", body)
}
