//! The async HTTP shell around the performance model: one tokio task runs the [`Engine`] in
//! virtual time and hands tokens to per-request stream states; hyper serves the API.
//!
//! [`SimServer::bind`] starts a worker (agg, ctx or gen) on the current tokio runtime;
//! [`SimServer::bind_router`] starts a disaggregated router. Both return once the socket is
//! bound, so tests and the orchestrator can bind `127.0.0.1:0` and read the address.

mod engine_task;
mod http;
mod router;
mod stream;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use crate::fault::{Fault, FaultSet};
use crate::log::{EngineLog, Level};
use crate::metrics::Metrics;
use crate::model::{Engine, Role, ServerShape};
use crate::profile::Profiles;
use crate::worker::WorkerConfig;

pub use router::{RouterConfig, RouterConfigError, RoutingPolicy};

/// Everything a worker server needs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The role.
    pub role: Role,
    /// The worker config (`--config`).
    pub worker: WorkerConfig,
    /// The served model name (`--model`), also used to pick the model profile.
    pub model: String,
    /// The resolved profiles.
    pub profiles: Profiles,
    /// Wall seconds per simulated second; 0 runs as fast as possible.
    pub time_scale: f64,
    /// Seed of every random draw.
    pub seed: u64,
    /// Injected faults.
    pub faults: Vec<Fault>,
    /// Where the role's log goes.
    pub log: EngineLog,
}

/// How a server stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// [`SimServer::shutdown`] was called.
    Stopped,
    /// The `crash-after` fault fired.
    Crashed,
    /// The model does not fit in GPU memory (simulated CUDA out of memory at load).
    OutOfMemory,
}

/// Errors starting a server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// A running simulated server (worker or router).
#[derive(Debug)]
pub struct SimServer {
    addr: SocketAddr,
    exit_tx: Arc<watch::Sender<Option<Exit>>>,
    exit_rx: watch::Receiver<Option<Exit>>,
}

impl SimServer {
    /// Binds `addr` and starts a worker server on the current tokio runtime.
    pub async fn bind(addr: SocketAddr, cfg: ServeConfig) -> Result<Self, ServeError> {
        let listener = listen(addr)?;
        let local = listener
            .local_addr()
            .map_err(|source| ServeError::Bind { addr, source })?;
        let (exit_tx, exit_rx) = watch::channel(None);
        let exit_tx = Arc::new(exit_tx);
        let faults = FaultSet::new(&cfg.faults);
        let mut shape = ServerShape::new(cfg.role, &cfg.worker, cfg.profiles.clone());
        shape.slow_factor = faults.slow_factor;
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let created = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let app = Arc::new(App {
            addr: local,
            model: cfg.model.clone(),
            shape: shape.clone(),
            faults: faults.clone(),
            log: cfg.log.clone(),
            metrics: Metrics::default(),
            ready: AtomicBool::new(false),
            hung: AtomicBool::new(false),
            received: AtomicU64::new(0),
            answered: AtomicU64::new(0),
            next_id: AtomicU64::new(1),
            seed: cfg.seed,
            created,
            cmd_tx,
            exit: exit_tx.clone(),
        });
        log_startup(&app, &cfg, local);
        for f in &cfg.faults {
            app.log.line(
                Level::Warning,
                &format!("servebench-sim fault injection enabled: {f:?}"),
            );
        }
        let engine = Engine::new(shape, cfg.seed);
        tokio::spawn(engine_task::run(
            app.clone(),
            engine,
            cmd_rx,
            cfg.time_scale.max(0.0),
            exit_rx.clone(),
        ));
        tokio::spawn(load_model(app.clone(), cfg.time_scale.max(0.0)));
        tokio::spawn(http::accept_loop(listener, app, exit_rx.clone()));
        Ok(Self {
            addr: local,
            exit_tx,
            exit_rx,
        })
    }

    /// Binds `addr` and starts a disaggregated router on the current tokio runtime.
    pub async fn bind_router(addr: SocketAddr, cfg: RouterConfig) -> Result<Self, ServeError> {
        let listener = listen(addr)?;
        let local = listener
            .local_addr()
            .map_err(|source| ServeError::Bind { addr, source })?;
        let (exit_tx, exit_rx) = watch::channel(None);
        router::start(listener, cfg, local, exit_rx.clone());
        Ok(Self {
            addr: local,
            exit_tx: Arc::new(exit_tx),
            exit_rx,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the server: no new connections, open ones closed.
    pub fn shutdown(&self) {
        self.exit_tx.send_if_modified(|e| {
            if e.is_none() {
                *e = Some(Exit::Stopped);
                true
            } else {
                false
            }
        });
    }

    /// Waits until the server stops and says why.
    pub async fn wait(&mut self) -> Exit {
        match self.exit_rx.wait_for(Option::is_some).await {
            Ok(e) => e.unwrap_or(Exit::Stopped),
            Err(_) => Exit::Stopped,
        }
    }
}

/// Listen backlog: thousands of clients connect at once when a benchmark starts; the kernel
/// caps it at `net.core.somaxconn`.
const BACKLOG: u32 = 65_535;

fn listen(addr: SocketAddr) -> Result<TcpListener, ServeError> {
    let err = |source| ServeError::Bind { addr, source };
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    }
    .map_err(err)?;
    socket.set_reuseaddr(true).map_err(err)?;
    socket.bind(addr).map_err(err)?;
    socket.listen(BACKLOG).map_err(err)
}

/// State shared by the handlers and the engine task of one worker.
#[derive(Debug)]
pub(crate) struct App {
    pub addr: SocketAddr,
    pub model: String,
    pub shape: ServerShape,
    pub faults: FaultSet,
    pub log: EngineLog,
    pub metrics: Metrics,
    pub ready: AtomicBool,
    pub hung: AtomicBool,
    /// API requests received (for `hang-after`).
    pub received: AtomicU64,
    /// API requests answered in full (for `crash-after`).
    pub answered: AtomicU64,
    pub next_id: AtomicU64,
    pub seed: u64,
    pub created: u64,
    pub cmd_tx: mpsc::UnboundedSender<engine_task::Cmd>,
    pub exit: Arc<watch::Sender<Option<Exit>>>,
}

impl App {
    /// Counts a fully answered request and fires `crash-after` when due.
    pub(crate) fn request_answered(&self) {
        self.metrics.requests_ok.fetch_add(1, Relaxed);
        let n = self.answered.fetch_add(1, Relaxed) + 1;
        if self.faults.crash_after == Some(n) {
            self.log.traceback(
                "RuntimeError",
                &format!(
                    "Executor worker died unexpectedly (servebench-sim fault crash-after={n})"
                ),
            );
            self.log.line(
                Level::Error,
                "Engine process exited; shutting down the server",
            );
            self.exit.send_if_modified(|e| {
                if e.is_none() {
                    *e = Some(Exit::Crashed);
                    true
                } else {
                    false
                }
            });
        }
    }
}

fn log_startup(app: &App, cfg: &ServeConfig, addr: SocketAddr) {
    let s = &app.shape;
    let p = &cfg.profiles;
    app.log.line(
        Level::Info,
        &format!(
            "servebench-sim {} server: model {} (profile {}, {:?}) on {} x{} (TP {} PP {} CP {} EP {}, attention DP {})",
            cfg.role.as_str(), cfg.model, p.model.name, p.precision, p.gpu.name, s.world, s.tp, s.pp, s.cp, s.ep, s.attention_dp
        ),
    );
    app.log.line(
        Level::Info,
        &format!(
            "max_batch_size {} max_num_tokens {} max_seq_len {} mtp {} stream_interval {}; KV cache {} tokens ({:.1} KB/token)",
            s.batch_cap, s.token_budget, s.max_seq_len, s.mtp, s.stream_interval, s.kv_capacity_tokens, s.kv_bytes_per_token / 1e3
        ),
    );
    app.log
        .uvicorn(&format!("Started server process [{}]", std::process::id()));
    app.log.uvicorn("Waiting for application startup.");
    app.log.line(
        Level::Info,
        &format!("servebench-sim listening on http://{addr}"),
    );
}

/// Simulates the model load: `/health` answers 503 until it is done.
async fn load_model(app: Arc<App>, time_scale: f64) {
    let load = Duration::from_secs_f64((app.shape.load_time_s() * time_scale).clamp(0.0, 1e6));
    app.log.line(Level::Info, "Loading model weights ...");
    tokio::time::sleep(load + app.faults.start_delay).await;
    if !app.shape.fits() {
        app.log.traceback(
            "torch.OutOfMemoryError",
            &format!(
                "CUDA out of memory. Tried to allocate KV cache: weights take {:.1} GB per GPU of {:.1} GB (servebench-sim)",
                app.shape.weight_bytes_per_gpu / 1e9,
                app.shape.profiles.gpu.hbm_gb
            ),
        );
        app.exit.send_if_modified(|e| {
            if e.is_none() {
                *e = Some(Exit::OutOfMemory);
                true
            } else {
                false
            }
        });
        return;
    }
    if app.faults.never_healthy {
        app.log.line(
            Level::Error,
            "Model load did not complete (servebench-sim fault never-healthy)",
        );
        return;
    }
    app.ready.store(true, Relaxed);
    app.log.uvicorn("Application startup complete.");
    app.log.uvicorn(&format!(
        "Uvicorn running on http://{} (Press CTRL+C to quit)",
        app.addr
    ));
}
