//! The API's one error type and its mapping to HTTP: every failure becomes
//! `{"error":{"code","message","details"}}` with the status of DESIGN §3.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use errand_domain::Invalid;
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use errand_store::StoreError;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: a malformed body or parameter.
    #[error("{message}")]
    BadRequest { code: &'static str, message: String, details: Value },
    /// 401: no token, or one that is invalid or expired.
    #[error("{0}")]
    Unauthorized(String),
    /// 401: wrong email or password (never says which).
    #[error("invalid email or password")]
    BadCredentials,
    /// 403: authenticated but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// 404: missing, or not the caller's.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 405: the route exists, the method does not.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 408: the client did not send its request in time.
    #[error("the request body did not arrive in time")]
    RequestTimeout,
    /// 409: conflicts with existing state.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// 412: the client's version is stale.
    #[error("the task changed since version {expected}; it is now at version {current}")]
    StaleVersion { expected: i64, current: i64 },
    /// 413: body over the limit.
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// 415: body is not JSON.
    #[error("expected a body with content type application/json")]
    UnsupportedMediaType,
    /// 422: a field breaks a rule.
    #[error("{0}")]
    Invalid(#[from] Invalid),
    /// 422: any other semantic error, with a code of its own.
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String, details: Value },
    /// 501: the runtime offers no way to do this (e.g. daprd 1.16 has no history RPC).
    #[error("{0}")]
    NotImplemented(String),
    /// 503: a dependency (the database) is unavailable.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// 429: too many requests; retry after this many seconds.
    #[error("too many requests; try again in {retry_after_secs} s")]
    RateLimited {
        /// Seconds until a request would be admitted.
        retry_after_secs: u64,
    },
    /// 500: a bug or an unexpected failure; details are logged, never returned.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The JSON error body.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable snake_case code, e.g. `validation_failed`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// Structured context, e.g. `{"field":"title"}`.
    #[schema(value_type = Object)]
    pub details: Value,
}

impl ApiError {
    /// A 400 for a malformed parameter, naming it.
    pub fn bad_parameter(name: &str, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code: "invalid_parameter",
            message: message.into(),
            details: json!({ "parameter": name }),
        }
    }

    /// A 422 for a parameter (or header) whose value breaks a rule or a limit, naming it.
    pub fn invalid_parameter(name: &str, message: impl Into<String>) -> Self {
        ApiError::Unprocessable {
            code: "validation_failed",
            message: message.into(),
            details: json!({ "parameter": name }),
        }
    }

    fn parts(&self) -> (StatusCode, &'static str, Value) {
        match self {
            ApiError::BadRequest { code, details, .. } => (StatusCode::BAD_REQUEST, code, details.clone()),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized", json!({})),
            ApiError::BadCredentials => (StatusCode::UNAUTHORIZED, "invalid_credentials", json!({})),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", json!({})),
            ApiError::NotFound(what) => (StatusCode::NOT_FOUND, "not_found", json!({ "resource": what })),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", json!({})),
            ApiError::RequestTimeout => (StatusCode::REQUEST_TIMEOUT, "request_timeout", json!({})),
            ApiError::Conflict { code, .. } => (StatusCode::CONFLICT, code, json!({})),
            ApiError::StaleVersion { expected, current } => (
                StatusCode::PRECONDITION_FAILED,
                "stale_version",
                json!({ "expected_version": expected, "current_version": current }),
            ),
            ApiError::PayloadTooLarge { limit } => {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", json!({ "limit_bytes": limit }))
            }
            ApiError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                json!({ "expected": "application/json" }),
            ),
            ApiError::Invalid(invalid) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", json!({ "field": invalid.field }))
            }
            ApiError::Unprocessable { code, details, .. } => (StatusCode::UNPROCESSABLE_ENTITY, code, details.clone()),
            ApiError::NotImplemented(_) => (StatusCode::NOT_IMPLEMENTED, "not_implemented", json!({})),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", json!({})),
            ApiError::RateLimited { retry_after_secs } => {
                (StatusCode::TOO_MANY_REQUESTS, "rate_limited", json!({ "retry_after_seconds": retry_after_secs }))
            }
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", json!({})),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, details) = self.parts();
        let message = match &self {
            ApiError::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                "something went wrong on our side".to_string()
            }
            ApiError::Unavailable(detail) => {
                tracing::warn!(error = %detail, "dependency unavailable");
                "a dependency is unavailable; try again shortly".to_string()
            }
            other => other.to_string(),
        };
        let body = ErrorBody { error: ErrorDetail { code: code.to_string(), message, details } };
        let mut response = (status, axum::Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let ApiError::RateLimited { retry_after_secs } = &self {
            if let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        if error.is_unavailable() {
            ApiError::Unavailable(error.to_string())
        } else {
            ApiError::Internal(error.to_string())
        }
    }
}
