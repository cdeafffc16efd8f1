//! The admin HTTP listener (axum): `GET /metrics` (Prometheus text),
//! `GET /healthz` (200 while the process runs), `GET /readyz` (200 while
//! accepting clients, 503 while shutting down) and `GET /v1/stats` (the
//! [`StatsSnapshot`] as JSON). It binds to loopback by default; with
//! `auth.admin_token` set, `/v1/stats` (and with `auth.admin_token_metrics`
//! also `/metrics`) requires `Authorization: Bearer <token>`.

use std::future::Future;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tokio::net::TcpListener;

use super::metrics::Exporter;
use super::source::StatsSource;
use crate::stats::StatsSnapshot;

/// Content type of the Prometheus text exposition format.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Clone)]
struct AdminState {
    source: Arc<dyn StatsSource>,
    exporter: Arc<Exporter>,
}

/// The admin routes over `source`, rendering metrics with `exporter`.
pub fn router(source: Arc<dyn StatsSource>, exporter: Exporter) -> Router {
    let state = AdminState {
        source,
        exporter: Arc::new(exporter),
    };
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/v1/stats", get(stats))
        .fallback(not_found)
        .with_state(state)
}

/// Serves the admin routes on `listener` until `shutdown` completes, then
/// finishes the requests in flight and returns.
pub async fn serve(
    listener: TcpListener,
    source: Arc<dyn StatsSource>,
    exporter: Exporter,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(source, exporter))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Runs `f` on the blocking pool (with many topics or connections, a walk
/// over them is real work); a failure becomes a 500 response.
async fn off_workers<T: Send + 'static>(
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Response> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{what} failed: {e}\n"),
        )
            .into_response()
    })
}

/// `/metrics` reads the broker's running totals (no topic is locked) and
/// renders them, both off the async workers.
async fn metrics(State(st): State<AdminState>, headers: HeaderMap) -> Response {
    if !st.source.admin_allows(bearer(&headers), true) {
        return unauthorized();
    }
    let (source, exporter) = (Arc::clone(&st.source), Arc::clone(&st.exporter));
    match off_workers("render", move || exporter.render(&source.totals())).await {
        Ok(text) => ([(header::CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE)], text).into_response(),
        Err(r) => r,
    }
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(st): State<AdminState>) -> (StatusCode, &'static str) {
    if st.source.is_accepting() {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n")
    }
}

async fn stats(State(st): State<AdminState>, headers: HeaderMap) -> Response {
    if !st.source.admin_allows(bearer(&headers), false) {
        return unauthorized();
    }
    let source = Arc::clone(&st.source);
    match off_workers("stats", move || source.stats()).await {
        Ok(s) => Json::<StatsSnapshot>(s).into_response(),
        Err(r) => r,
    }
}

async fn not_found() -> (StatusCode, &'static str) {
    (
        StatusCode::NOT_FOUND,
        "not found; try /metrics, /healthz, /readyz or /v1/stats\n",
    )
}

/// The token of an `Authorization: Bearer <token>` header, if any.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// 401 with the challenge a bearer-token client expects.
fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        "a valid admin bearer token is required (Authorization: Bearer <token>)\n",
    )
        .into_response()
}
