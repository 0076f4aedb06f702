//! The disaggregated router: context-first flow over ctx and gen servers, configured by the
//! same `server_config.yaml` the TensorRT-LLM adapter writes.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::{Client, connect::HttpConnector};
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::Exit;
use super::http::{BoxError, RespBody, error, full, read_body, serve};
use crate::log::{EngineLog, Level};
use crate::metrics::Metrics;

/// How the router picks a server within a pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RoutingPolicy {
    /// In turn.
    #[default]
    RoundRobin,
    /// The server with the fewest requests in flight from this router.
    LeastLoaded,
}

/// The router's configuration: the `server_config.yaml` fields it uses.
#[derive(Debug, Clone)]
pub struct RouterConfig {
    /// `hostname` (the listen address when `--host` is not given).
    pub hostname: Option<String>,
    /// `port` (when `--port` is not given).
    pub port: Option<u16>,
    /// `context_servers.urls` (`host:port` or `http://host:port`).
    pub ctx_urls: Vec<String>,
    /// `generation_servers.urls`.
    pub gen_urls: Vec<String>,
    /// Server choice within a pool.
    pub policy: RoutingPolicy,
    /// Where the router's log goes.
    pub log: EngineLog,
}

/// Errors reading `server_config.yaml`.
#[derive(Debug, thiserror::Error)]
pub enum RouterConfigError {
    /// The file could not be read.
    #[error("cannot read router config {path}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Malformed YAML or wrong types.
    #[error("invalid router config {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

#[derive(Debug, Deserialize)]
struct RawConfig {
    #[serde(default)]
    hostname: Option<String>,
    #[serde(default)]
    port: Option<u16>,
    #[serde(default)]
    context_servers: Option<RawPool>,
    #[serde(default)]
    generation_servers: Option<RawPool>,
}

#[derive(Debug, Deserialize)]
struct RawPool {
    #[serde(default)]
    urls: Vec<String>,
}

impl RouterConfig {
    /// Parses the YAML text of a `server_config.yaml`; both pools need at least one URL.
    pub fn parse(text: &str, path: &str) -> Result<Self, RouterConfigError> {
        let err = |message: String| RouterConfigError::Parse {
            path: path.to_owned(),
            message,
        };
        let raw: RawConfig = serde_saphyr::from_str(text).map_err(|e| err(e.to_string()))?;
        let ctx_urls = raw.context_servers.map(|p| p.urls).unwrap_or_default();
        let gen_urls = raw.generation_servers.map(|p| p.urls).unwrap_or_default();
        if ctx_urls.is_empty() || gen_urls.is_empty() {
            return Err(err("`context_servers.urls` and `generation_servers.urls` must both list at least one server".to_owned()));
        }
        Ok(Self {
            hostname: raw.hostname,
            port: raw.port,
            ctx_urls,
            gen_urls,
            policy: RoutingPolicy::default(),
            log: EngineLog::default(),
        })
    }

    /// Reads and parses a `server_config.yaml`.
    pub fn read(path: &std::path::Path) -> Result<Self, RouterConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| RouterConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        Self::parse(&text, &shown)
    }
}

#[derive(Debug)]
struct Upstream {
    base: String,
    load: AtomicUsize,
}

#[derive(Debug)]
struct Pool {
    servers: Vec<Arc<Upstream>>,
    next: AtomicUsize,
}

impl Pool {
    fn new(urls: &[String]) -> Self {
        let servers = urls
            .iter()
            .map(|u| {
                let u = u.trim().trim_end_matches('/');
                let base = if u.starts_with("http://") {
                    u.to_owned()
                } else {
                    format!("http://{u}")
                };
                Arc::new(Upstream {
                    base,
                    load: AtomicUsize::new(0),
                })
            })
            .collect();
        Self {
            servers,
            next: AtomicUsize::new(0),
        }
    }

    fn pick(&self, policy: RoutingPolicy) -> Option<Arc<Upstream>> {
        let s = match policy {
            RoutingPolicy::RoundRobin => {
                let n = self.servers.len().max(1);
                self.servers.get(self.next.fetch_add(1, Relaxed) % n)
            }
            RoutingPolicy::LeastLoaded => self.servers.iter().min_by_key(|s| s.load.load(Relaxed)),
        };
        s.cloned()
    }
}

/// Decrements a server's in-flight count when dropped.
#[derive(Debug)]
struct LoadGuard(Arc<Upstream>);

impl LoadGuard {
    fn new(u: Arc<Upstream>) -> Self {
        u.load.fetch_add(1, Relaxed);
        Self(u)
    }
}

impl Drop for LoadGuard {
    fn drop(&mut self) {
        self.0.load.fetch_sub(1, Relaxed);
    }
}

/// A relayed body that keeps its gen server counted as busy until it ends.
struct Tracked {
    inner: RespBody,
    _guard: LoadGuard,
}

impl Body for Tracked {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
}

struct Router {
    ctx: Pool,
    gens: Pool,
    policy: RoutingPolicy,
    client: Client<HttpConnector, Full<Bytes>>,
    log: EngineLog,
    metrics: Metrics,
}

pub(crate) fn start(
    listener: TcpListener,
    cfg: RouterConfig,
    addr: SocketAddr,
    exit: watch::Receiver<Option<Exit>>,
) {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client = Client::builder(TokioExecutor::new()).build(connector);
    let router = Arc::new(Router {
        ctx: Pool::new(&cfg.ctx_urls),
        gens: Pool::new(&cfg.gen_urls),
        policy: cfg.policy,
        client,
        log: cfg.log.clone(),
        metrics: Metrics::default(),
    });
    router.log.line(
        Level::Info,
        &format!(
            "servebench-sim disaggregated router on http://{addr}: {} ctx, {} gen servers, context-first, {:?}",
            cfg.ctx_urls.len(),
            cfg.gen_urls.len(),
            cfg.policy
        ),
    );
    tokio::spawn(serve(listener, exit, move |req| {
        handle(router.clone(), req)
    }));
}

async fn handle(router: Arc<Router>, req: Request<Incoming>) -> Response<RespBody> {
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/health") => health(&router).await,
        (&Method::GET, "/v1/models") => match router.gens.pick(RoutingPolicy::RoundRobin) {
            Some(g) => match get(&router, &format!("{}/v1/models", g.base)).await {
                Ok((status, body)) => full(status, "application/json", body),
                Err(e) => error(StatusCode::BAD_GATEWAY, "BadGatewayError", &e, None),
            },
            None => error(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailableError",
                "no gen server",
                None,
            ),
        },
        (&Method::GET, "/metrics") => full(
            StatusCode::OK,
            "text/plain; version=0.0.4",
            router.metrics.render("router"),
        ),
        (&Method::POST, path @ ("/v1/completions" | "/v1/chat/completions")) => {
            let path = path.to_owned();
            let resp = disaggregated(&router, req, &path).await;
            if resp.status().is_success() {
                router.metrics.requests_ok.fetch_add(1, Relaxed);
            } else {
                router.metrics.requests_error.fetch_add(1, Relaxed);
            }
            resp
        }
        (_, path) => error(
            StatusCode::NOT_FOUND,
            "NotFoundError",
            &format!("no route for {path}"),
            None,
        ),
    }
}

async fn get(router: &Router, url: &str) -> Result<(StatusCode, Bytes), String> {
    let req = Request::get(url)
        .body(Full::new(Bytes::new()))
        .map_err(|e| e.to_string())?;
    let resp = router
        .client
        .request(req)
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("{url}: {e}"))?
        .to_bytes();
    Ok((status, body))
}

/// 200 once every ctx and gen server answers 200 on `/health`.
async fn health(router: &Router) -> Response<RespBody> {
    for s in router.ctx.servers.iter().chain(&router.gens.servers) {
        let url = format!("{}/health", s.base);
        let ok = matches!(
            tokio::time::timeout(Duration::from_secs(5), get(router, &url)).await,
            Ok(Ok((StatusCode::OK, _)))
        );
        if !ok {
            let msg = format!("worker {} is not ready", s.base);
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailableError",
                &msg,
                None,
            );
        }
    }
    full(StatusCode::OK, "text/plain", "")
}

async fn post(router: &Router, url: &str, body: Vec<u8>) -> Result<Response<Incoming>, String> {
    let req = Request::post(url)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    router
        .client
        .request(req)
        .await
        .map_err(|e| format!("{url}: {e}"))
}

fn relay(resp: Response<Incoming>) -> Response<RespBody> {
    resp.map(|b| b.map_err(|e| Box::new(e) as BoxError).boxed())
}

async fn disaggregated(router: &Router, req: Request<Incoming>, path: &str) -> Response<RespBody> {
    let body = match read_body(req).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let mut request: serde_json::Map<String, Value> = match serde_json::from_slice(&body) {
        Ok(Value::Object(o)) => o,
        Ok(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "BadRequestError",
                "request body must be a JSON object",
                None,
            );
        }
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "BadRequestError",
                &format!("request body is not valid JSON: {e}"),
                None,
            );
        }
    };
    let (Some(ctx), Some(gen_server)) = (
        router.ctx.pick(router.policy),
        router.gens.pick(router.policy),
    ) else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailableError",
            "no servers configured",
            None,
        );
    };
    // 1. Prefill on a ctx server: first token and KV handle.
    let mut ctx_req = request.clone();
    ctx_req.insert(
        "disaggregated_params".to_owned(),
        serde_json::json!({"request_type": "context_only"}),
    );
    ctx_req.insert("stream".to_owned(), Value::Bool(false));
    ctx_req.remove("stream_options");
    let ctx_resp = {
        let _busy = LoadGuard::new(ctx.clone());
        let url = format!("{}{path}", ctx.base);
        match post(
            router,
            &url,
            Value::Object(ctx_req).to_string().into_bytes(),
        )
        .await
        {
            Ok(r) => r,
            Err(e) => {
                router
                    .log
                    .line(Level::Error, &format!("context server request failed: {e}"));
                return error(StatusCode::BAD_GATEWAY, "BadGatewayError", &e, None);
            }
        }
    };
    let status = ctx_resp.status();
    let ctx_body = match ctx_resp.into_body().collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) => {
            return error(
                StatusCode::BAD_GATEWAY,
                "BadGatewayError",
                &format!("context server: {e}"),
                None,
            );
        }
    };
    if !status.is_success() {
        // Client errors and injected faults pass through unchanged.
        return full(status, "application/json", ctx_body);
    }
    let params = serde_json::from_slice::<Value>(&ctx_body)
        .ok()
        .and_then(|v| v.get("disaggregated_params").cloned());
    let Some(Value::Object(mut params)) = params else {
        return error(
            StatusCode::BAD_GATEWAY,
            "BadGatewayError",
            "context server answered without disaggregated_params",
            None,
        );
    };
    // 2. Decode on a gen server, which receives the KV handle.
    params.insert(
        "request_type".to_owned(),
        Value::String("generation_only".to_owned()),
    );
    request.insert("disaggregated_params".to_owned(), Value::Object(params));
    let guard = LoadGuard::new(gen_server.clone());
    let url = format!("{}{path}", gen_server.base);
    match post(
        router,
        &url,
        Value::Object(request).to_string().into_bytes(),
    )
    .await
    {
        Ok(r) => relay(r).map(|inner| {
            Tracked {
                inner,
                _guard: guard,
            }
            .boxed()
        }),
        Err(e) => {
            router.log.line(
                Level::Error,
                &format!("generation server request failed: {e}"),
            );
            error(StatusCode::BAD_GATEWAY, "BadGatewayError", &e, None)
        }
    }
}
