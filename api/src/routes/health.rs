use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::error::ApiError;

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz)).route("/metrics", get(metrics))
}

/// Health or readiness.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `ready`.
    pub status: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// The database is reachable with every migration applied, and the workflow sidecar
/// (the embedded engine, or daprd) answers.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, body = Health),
    (status = 503, description = "database unreachable, migrations pending, or workflow sidecar unreachable", body = crate::error::ErrorBody),
))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    match state.store.ready().await {
        Ok(true) => {}
        Ok(false) => return Err(ApiError::Unavailable("migrations are not applied".into())),
        Err(e) => return Err(ApiError::Unavailable(e.to_string())),
    }
    let runtime = state
        .workflow_runtime
        .get()
        .ok_or_else(|| ApiError::Unavailable("the workflow sidecar has not been reached yet".into()))?;
    runtime.probe(std::time::Duration::from_secs(2)).await.map_err(ApiError::Unavailable)?;
    Ok(Json(Health { status: "ready" }))
}

/// Prometheus metrics: HTTP requests, and the event bus (published, delivered,
/// failed, dead-lettered per consumer; consumer lag; delivery latency).
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics(
    State(state): State<AppState>,
) -> Result<([(axum::http::HeaderName, &'static str); 1], String), ApiError> {
    let handle = state
        .metrics
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable("metrics are not recorded in this process".into()))?;
    Ok(([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle.render()))
}
