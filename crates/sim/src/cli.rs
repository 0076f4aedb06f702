//! Command-line arguments and entry point: `servebench sim serve|router`.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

use crate::fault::Fault;
use crate::log::{EngineLog, Level};
use crate::model::Role;
use crate::profile;
use crate::server::{Exit, RouterConfig, RoutingPolicy, ServeConfig, SimServer};
use crate::worker::WorkerConfig;

/// Exit code: stopped normally (SIGTERM/SIGINT).
pub const EXIT_OK: u8 = 0;
/// Exit code: bad options or an unreadable config.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: infrastructure error (cannot bind, no runtime).
pub const EXIT_INFRA: u8 = 3;
/// Exit code: the `crash-after` fault fired (a simulated engine crash).
pub const EXIT_CRASH: u8 = 10;
/// Exit code: the model does not fit in GPU memory (simulated CUDA out of memory at load).
pub const EXIT_OOM: u8 = 11;

/// `servebench sim`: a GPU-free serving engine.
#[derive(Debug, clap::Args)]
pub struct SimArgs {
    /// What to run.
    #[command(subcommand)]
    pub command: SimCommand,
}

/// The simulator's roles.
#[derive(Debug, clap::Subcommand)]
pub enum SimCommand {
    /// Serve the OpenAI-compatible API as an aggregated, context or generation server.
    Serve(ServeArgs),
    /// Route requests context-first over ctx and gen servers (disaggregated serving).
    Router(RouterArgs),
}

/// Server role on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RoleArg {
    /// Prefill and decode.
    Agg,
    /// Prefill only (context server).
    Ctx,
    /// Decode only (generation server).
    Gen,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Agg => Role::Agg,
            RoleArg::Ctx => Role::Ctx,
            RoleArg::Gen => Role::Gen,
        }
    }
}

/// `servebench sim serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Server role.
    #[arg(long, value_enum, default_value = "agg")]
    pub role: RoleArg,
    /// Worker config (`ctx_config.yaml` / `gen_config.yaml`: the LLM API options); defaults
    /// when absent.
    #[arg(long, value_name = "WORKER.yaml")]
    pub config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0 picks a free one; the log says which).
    #[arg(long, default_value_t = 8000)]
    pub port: u16,
    /// Served model name; also picks the built-in model profile.
    #[arg(long, default_value = "sim-model")]
    pub model: String,
    /// Model/GPU profile override: a built-in model profile name or a YAML file (the `sim:`
    /// section of a test config).
    #[arg(long, value_name = "NAME|FILE")]
    pub model_profile: Option<String>,
    /// GPU profile: GB200, GB300, B200, B300, H100 or H200.
    #[arg(long, default_value = "GB200")]
    pub gpu_type: String,
    /// Wall seconds per simulated second (0 = as fast as possible).
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
    /// Seed of every random draw.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Inject a fault (repeatable): start-delay=DURATION, never-healthy, crash-after=N,
    /// hang-after=N, error-rate=P, cut-stream-rate=P, slow-factor=X.
    #[arg(long, value_name = "SPEC")]
    pub fault: Vec<Fault>,
}

/// Routing policy on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PolicyArg {
    /// In turn.
    RoundRobin,
    /// Fewest requests in flight.
    LeastLoaded,
}

/// `servebench sim router`.
#[derive(Debug, clap::Args)]
pub struct RouterArgs {
    /// Router config (`server_config.yaml`: `context_servers.urls`, `generation_servers.urls`).
    #[arg(long, value_name = "server_config.yaml")]
    pub config: PathBuf,
    /// Address to listen on (default: the config's `hostname`, else 127.0.0.1).
    #[arg(long)]
    pub host: Option<String>,
    /// Port to listen on (default: the config's `port`, else 8000).
    #[arg(long)]
    pub port: Option<u16>,
    /// How a server is picked within each pool.
    #[arg(long, value_enum, default_value = "round-robin")]
    pub policy: PolicyArg,
}

/// Runs the command and returns the process exit code.
pub fn run(args: SimArgs) -> u8 {
    let log = EngineLog::Stderr;
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return EXIT_INFRA;
        }
    };
    match args.command {
        SimCommand::Serve(a) => {
            let cfg = match serve_config(&a, log.clone()) {
                Ok(c) => c,
                Err(msg) => {
                    eprintln!("error: {msg}");
                    return EXIT_USAGE;
                }
            };
            let Some(addr) = resolve(&a.host, a.port) else {
                eprintln!("error: cannot resolve listen address {}:{}", a.host, a.port);
                return EXIT_USAGE;
            };
            runtime.block_on(async move {
                match SimServer::bind(addr, cfg).await {
                    Ok(s) => until_exit(s, &log).await,
                    Err(e) => {
                        log.line(Level::Error, &format!("{e}: {}", source_text(&e)));
                        EXIT_INFRA
                    }
                }
            })
        }
        SimCommand::Router(a) => {
            let mut cfg = match RouterConfig::read(&a.config) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("error: {e}{}", source_suffix(&e));
                    return EXIT_USAGE;
                }
            };
            cfg.policy = match a.policy {
                PolicyArg::RoundRobin => RoutingPolicy::RoundRobin,
                PolicyArg::LeastLoaded => RoutingPolicy::LeastLoaded,
            };
            cfg.log = log.clone();
            let host = a
                .host
                .clone()
                .or(cfg.hostname.clone())
                .unwrap_or_else(|| "127.0.0.1".to_owned());
            let port = a.port.or(cfg.port).unwrap_or(8000);
            let Some(addr) = resolve(&host, port) else {
                eprintln!("error: cannot resolve listen address {host}:{port}");
                return EXIT_USAGE;
            };
            runtime.block_on(async move {
                match SimServer::bind_router(addr, cfg).await {
                    Ok(s) => until_exit(s, &log).await,
                    Err(e) => {
                        log.line(Level::Error, &format!("{e}: {}", source_text(&e)));
                        EXIT_INFRA
                    }
                }
            })
        }
    }
}

fn source_text(e: &dyn std::error::Error) -> String {
    e.source().map(ToString::to_string).unwrap_or_default()
}

fn source_suffix(e: &dyn std::error::Error) -> String {
    e.source().map(|s| format!(": {s}")).unwrap_or_default()
}

fn resolve(host: &str, port: u16) -> Option<SocketAddr> {
    (host, port).to_socket_addrs().ok()?.next()
}

/// Builds a worker's configuration from its options.
pub fn serve_config(a: &ServeArgs, log: EngineLog) -> Result<ServeConfig, String> {
    let worker = match &a.config {
        Some(p) => WorkerConfig::read(p).map_err(|e| format!("{e}{}", source_suffix(&e)))?,
        None => WorkerConfig::default(),
    };
    let profiles = profile::resolve(&a.model, &a.gpu_type, a.model_profile.as_deref())
        .map_err(|e| format!("{e}{}", source_suffix(&e)))?;
    if !a.time_scale.is_finite() || a.time_scale < 0.0 {
        return Err(format!(
            "--time-scale must be a number >= 0, got {}",
            a.time_scale
        ));
    }
    Ok(ServeConfig {
        role: a.role.into(),
        worker,
        model: a.model.clone(),
        profiles,
        time_scale: a.time_scale,
        seed: a.seed,
        faults: a.fault.clone(),
        log,
    })
}

async fn until_exit(mut server: SimServer, log: &EngineLog) -> u8 {
    let exit = tokio::select! {
        e = server.wait() => e,
        _ = shutdown_signal() => {
            log.line(Level::Info, "Shutting down (signal)");
            server.shutdown();
            Exit::Stopped
        }
    };
    match exit {
        Exit::Stopped => EXIT_OK,
        Exit::Crashed => {
            // Let open connections see the close before the process goes.
            tokio::time::sleep(std::time::Duration::from_millis(60)).await;
            EXIT_CRASH
        }
        Exit::OutOfMemory => EXIT_OOM,
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => std::future::pending::<()>().await,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, clap::Parser)]
    struct Wrapper {
        #[command(flatten)]
        sim: SimArgs,
    }

    #[test]
    fn command_line_as_documented() {
        use clap::CommandFactory;
        Wrapper::command().debug_assert();
        let w = Wrapper::try_parse_from([
            "sim",
            "serve",
            "--role",
            "gen",
            "--config",
            "gen_config.yaml",
            "--host",
            "0.0.0.0",
            "--port",
            "8001",
            "--model",
            "deepseek-r1-fp4",
            "--model-profile",
            "p.yaml",
            "--gpu-type",
            "GB300",
            "--time-scale",
            "0",
            "--seed",
            "7",
            "--fault",
            "crash-after=3",
            "--fault",
            "slow-factor=2",
        ])
        .unwrap();
        let SimCommand::Serve(a) = w.sim.command else {
            panic!()
        };
        assert_eq!(a.role, RoleArg::Gen);
        assert_eq!(a.fault, vec![Fault::CrashAfter(3), Fault::SlowFactor(2.0)]);
        assert!(Wrapper::try_parse_from(["sim", "serve", "--fault", "explode"]).is_err());
        let w = Wrapper::try_parse_from([
            "sim",
            "router",
            "--config",
            "server_config.yaml",
            "--port",
            "8333",
        ])
        .unwrap();
        assert!(matches!(
            w.sim.command,
            SimCommand::Router(RouterArgs {
                port: Some(8333),
                ..
            })
        ));
    }

    #[test]
    fn unreadable_config_is_a_usage_error() {
        let w =
            Wrapper::try_parse_from(["sim", "serve", "--config", "/nonexistent/gen.yaml"]).unwrap();
        assert_eq!(run(w.sim), EXIT_USAGE);
        let w = Wrapper::try_parse_from([
            "sim",
            "router",
            "--config",
            "/nonexistent/server_config.yaml",
        ])
        .unwrap();
        assert_eq!(run(w.sim), EXIT_USAGE);
    }
}
