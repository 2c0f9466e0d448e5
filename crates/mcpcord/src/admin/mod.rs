//! The operator's HTTP endpoint on `admin.listen` (loopback unless configured otherwise):
//!
//! - `GET /healthz`: 200 while the process serves (never asks for the token);
//! - `GET /readyz`: 200 when the gateway is connected, the database answers and at least one
//!   backend is healthy; 503 otherwise, with the failing part in the JSON body;
//! - `GET /metrics`: every metric in Prometheus text format;
//! - `GET /status`: shards, backends, MCP servers (pid, uptime, restarts, memory, CPU), the
//!   process's memory and CPU, turns in flight and queued, as JSON ([`view::StatusView`]).
//!
//! With `admin.token_env` set, every request but `/healthz` must carry
//! `Authorization: Bearer TOKEN` (compared in constant time). The endpoint reads the engine and
//! the adapter's [`GatewayStatus`] only: it reaches nothing behind the engine.

mod auth;
pub mod metrics;
pub mod view;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use mcpcord_discord::status::GatewayStatus;
use mcpcord_engine::Engine;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, Secret};
use crate::resources::process_usage;

/// How long `/readyz` waits for the database.
pub const DATABASE_TIMEOUT: Duration = Duration::from_secs(2);

/// What the handlers share.
struct Shared {
    engine: Engine,
    gateway: GatewayStatus,
    metrics: PrometheusHandle,
    started: Instant,
}

/// The running endpoint and its helpers (the resource line, the recorder's upkeep).
pub struct Operations {
    stop: CancellationToken,
    server: Option<tokio::task::JoinHandle<()>>,
    /// Where the endpoint listens, when it does.
    pub local_addr: Option<SocketAddr>,
}

impl Operations {
    /// Starts what `config` asks for: the resource line every `logging.resource_interval`
    /// and, with `admin.listen`, the metrics recorder and the endpoint (bound before this
    /// returns, so a wrong address fails start-up). Their token is a child of `parent`:
    /// cancelling it stops them too.
    pub async fn start(
        config: &Config,
        engine: &Engine,
        gateway: GatewayStatus,
        parent: &CancellationToken,
    ) -> anyhow::Result<Operations> {
        let stop = parent.child_token();
        crate::resources::spawn_resource_line(
            engine.clone(),
            config.logging.resource_interval,
            stop.clone(),
        );
        let Some(listen) = config.admin.listen else {
            return Ok(Operations {
                stop,
                server: None,
                local_addr: None,
            });
        };
        let shards = config.discord.shard_ids.map(|range| range.to_string());
        let handle = metrics::install(shards).context("cannot install the metrics recorder")?;
        spawn_upkeep(handle.clone(), stop.clone());
        let shared = Arc::new(Shared {
            engine: engine.clone(),
            gateway,
            metrics: handle,
            started: Instant::now(),
        });
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on admin.listen {listen}"))?;
        let local_addr = listener.local_addr().ok();
        if !listen.ip().is_loopback() && config.admin.token.is_none() {
            tracing::warn!(%listen, "the admin endpoint listens beyond this machine without a token: set admin.token_env");
        }
        let app = router(shared, config.admin.token.clone());
        let shutdown = stop.clone().cancelled_owned();
        let server = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "the admin endpoint stopped");
            }
        });
        tracing::info!(listen = ?local_addr, "admin endpoint ready: /healthz /readyz /metrics /status");
        Ok(Operations {
            stop,
            server: Some(server),
            local_addr,
        })
    }

    /// Stops the endpoint and the resource line.
    pub async fn stop(self) {
        self.stop.cancel();
        if let Some(server) = self.server {
            let abort = server.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), server)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

/// Folds histograms now and then so the recorder's memory stays bounded.
fn spawn_upkeep(handle: PrometheusHandle, stop: CancellationToken) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(metrics::UPKEEP_EVERY);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = ticker.tick() => handle.run_upkeep(),
            }
        }
    });
}

/// The routes, behind the token check when there is a token.
fn router(shared: Arc<Shared>, token: Option<Secret>) -> Router {
    let guarded = Router::new()
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .route("/status", get(status))
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::new(token),
            auth::require_token,
        ));
    Router::new()
        .route("/healthz", get(healthz))
        .merge(guarded)
        .with_state(shared)
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// 200 when every part is ready, else 503; the body says which part is not, and why.
async fn readyz(State(shared): State<Arc<Shared>>) -> Response {
    let gateway = shared.gateway.connected();
    let database = shared.engine.database_reachable(DATABASE_TIMEOUT).await;
    let status = shared.engine.status();
    let backends = status.any_backend_healthy();
    let ready = gateway && database.is_ok() && backends;
    let body = serde_json::json!({
        "ready": ready,
        "gateway": { "ok": gateway, "shards": shared.gateway.shards().len() },
        "database": { "ok": database.is_ok(), "error": database.err().map(|e| e.to_string()) },
        "backends": {
            "ok": backends,
            "healthy": status.backends.iter().filter(|b| b.healthy).map(|b| b.name.clone()).collect::<Vec<_>>(),
        },
    });
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(body)).into_response()
}

/// Every metric, the snapshot gauges refreshed first.
async fn metrics_text(State(shared): State<Arc<Shared>>) -> Response {
    mcpcord_engine::telemetry::record_status(&shared.engine.status());
    metrics::record_process(process_usage(), shared.started.elapsed());
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        shared.metrics.render(),
    )
        .into_response()
}

async fn status(State(shared): State<Arc<Shared>>) -> axum::Json<view::StatusView> {
    axum::Json(view::StatusView::new(
        &shared.engine.status(),
        &shared.gateway.shards(),
        shared.started,
        process_usage(),
    ))
}
