//! The HTTP edge. Each module exports `router()`; this root only merges them and
//! adds the layers every request passes through.

mod audit;
mod auth;
mod chat;
mod filters;
mod health;
mod notifications;
mod openapi;
mod ops;
mod ops_workflows;
mod tasks;
mod workflows;

use std::time::Duration;

use chrono::{DateTime, Utc};

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{header, HeaderName, HeaderValue, Method, Response};
use axum::response::IntoResponse;
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use tracing::{field, Span};

use crate::app::AppState;
use crate::config::HttpSettings;
use crate::error::ApiError;
use crate::extract::BODY_LIMIT;

pub use openapi::ApiDoc;

/// Default and largest page sizes of the paged lists.
const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 200;

/// The page size of a list request: `limit` when given (1 to 200), else 50.
fn page_limit(limit: Option<u32>) -> Result<u32, ApiError> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::bad_parameter("limit", format!("limit must be between 1 and {MAX_PAGE}")));
    }
    Ok(limit)
}

/// The cursor of a list kept newest first: the last item's time and id.
fn encode_keyset((at, id): &(DateTime<Utc>, String)) -> String {
    format!("{}~{id}", at.timestamp_millis())
}

fn decode_keyset(text: &str) -> Result<(DateTime<Utc>, String), ApiError> {
    let bad = || ApiError::bad_parameter("cursor", "cursor is malformed");
    if text.len() > 200 {
        return Err(ApiError::invalid_parameter("cursor", "cursor: at most 200 characters"));
    }
    let (ms, id) = text.split_once('~').ok_or_else(bad)?;
    let at = DateTime::<Utc>::from_timestamp_millis(ms.parse().map_err(|_| bad())?).ok_or_else(bad)?;
    Ok((at, id.to_string()))
}

/// What every response tells a browser: load nothing from elsewhere, never be framed,
/// never sniff content types, send no referrer.
const SECURITY_HEADERS: [(&str, &str); 5] = [
    (
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
];

/// CORS for the configured origins; none configured: no cross-origin access at all.
fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let origins: Vec<HeaderValue> = origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::IF_MATCH,
                HeaderName::from_static("idempotency-key"),
                HeaderName::from_static("last-event-id"),
            ])
            .expose_headers([header::ETAG, header::LOCATION, header::RETRY_AFTER])
            .max_age(Duration::from_secs(600)),
    )
}

/// Requests by route, method and status, and their latency by route and method.
async fn request_metrics(request: Request, next: axum::middleware::Next) -> axum::response::Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_owned();
    let method = request.method().as_str().to_owned();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::histogram!("errand_http_request_duration_seconds", "route" => route.clone(), "method" => method.clone())
        .record(started.elapsed().as_secs_f64());
    metrics::counter!("errand_http_requests_total", "route" => route, "method" => method, "status" => status)
        .increment(1);
    response
}

/// The whole HTTP API, with the browser-facing headers and CORS of `http`.
pub fn router(state: AppState, http: &HttpSettings) -> Router {
    let ui = http.ui.clone();
    let api = Router::new()
        .merge(auth::router())
        .merge(tasks::router())
        .merge(audit::router())
        .merge(notifications::router())
        .merge(ops::router())
        .merge(ops_workflows::router())
        .merge(workflows::router())
        .merge(chat::router())
        .merge(filters::router())
        .merge(openapi::router());
    let router = Router::new()
        .nest("/api/v1", api)
        .merge(health::router())
        .fallback(move |method: Method, uri: axum::http::Uri| {
            let ui = ui.clone();
            async move {
                if uri.path() == "/api" || uri.path().starts_with("/api/") {
                    ApiError::NotFound("route").into_response()
                } else {
                    ui.serve(&method, &uri).await
                }
            }
        })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        // A bug must cost one request a 500, never the connection or the process.
        .layer(CatchPanicLayer::custom(|panic: Box<dyn std::any::Any + Send>| {
            let detail = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            ApiError::Internal(format!("handler panicked: {detail}")).into_response()
        }))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str());
                    let span = tracing::info_span!(
                        "request",
                        otel.name = format!("{} {route}", req.method()),
                        otel.kind = "server",
                        otel.status_code = field::Empty,
                        method = %req.method(),
                        route,
                        status = field::Empty,
                        latency_ms = field::Empty,
                    );
                    // A caller's trace (a browser's, another service's, daprd's) continues here.
                    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
                    errand_telemetry::continue_from(&span, header("traceparent"), header("tracestate"));
                    span
                })
                .on_request(())
                .on_response(|res: &Response<_>, latency: Duration, span: &Span| {
                    span.record("status", res.status().as_u16());
                    span.record("latency_ms", latency.as_secs_f64() * 1000.0);
                    if res.status().is_server_error() {
                        span.record("otel.status_code", "ERROR");
                    }
                    tracing::info!("request done");
                })
                .on_failure(()),
        )
        .layer(axum::middleware::from_fn(request_metrics))
        .with_state(state);
    let mut router = router;
    for (name, value) in SECURITY_HEADERS {
        router = router.layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        ));
    }
    match cors(&http.cors_origins) {
        Some(cors) => router.layer(cors),
        None => router,
    }
}
