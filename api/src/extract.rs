//! Extractors whose rejections are [`ApiError`]s, so a bad request always gets the
//! JSON error body.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts, Method, StatusCode};
use errand_domain::event::Actor;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::auth::Sessions;
use crate::error::ApiError;
use crate::limits::{client_address, Limits};
use crate::server::ClientTimeout;
use errand_store::UserRecord;

/// Largest accepted request body.
pub const BODY_LIMIT: usize = 256 * 1024;

/// How long a client may take to send a whole body, unless the server sets another
/// [`ClientTimeout`].
pub const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A JSON object body: 415 without a JSON content type, 413 over the limit, 408 when
/// it trickles in, 400 when it is not JSON, 422 when it is not an object or does not
/// fit the schema (the details name the field).
pub struct Json<T>(pub T);

/// Any JSON value as a body (an event's payload), under the same rules otherwise.
pub struct JsonPayload(pub serde_json::Value);

/// The raw body bytes alongside, for request hashing (idempotency keys).
pub struct JsonWithBytes<T>(pub T, pub Bytes);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonWithBytes<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = json_bytes(req, state).await?;
        // serde would also read a struct from an array of its fields, in order.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()).is_some_and(|b| *b != b'{') {
            let value: serde_json::Value = parse_json(&bytes)?;
            return Err(ApiError::Unprocessable {
                code: "validation_failed",
                message: format!("the body must be a JSON object, not {}", json_kind(&value)),
                details: json!({ "field": "" }),
            });
        }
        let value = parse_json(&bytes)?;
        Ok(JsonWithBytes(value, bytes))
    }
}

impl<S: Send + Sync> FromRequest<S> for JsonPayload {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = json_bytes(req, state).await?;
        parse_json(&bytes).map(JsonPayload)
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// The body of a JSON request, read within its deadline and the size limit.
async fn json_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
        .unwrap_or(false);
    if !is_json {
        return Err(ApiError::UnsupportedMediaType);
    }
    // A client trickling its body must not hold a connection (and a handler) for long.
    let limit = req.extensions().get::<ClientTimeout>().map_or(BODY_TIMEOUT, |t| t.0);
    let read = tokio::time::timeout(limit, Bytes::from_request(req, state));
    read.await.map_err(|_| ApiError::RequestTimeout)?.map_err(|rejection: BytesRejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge { limit: BODY_LIMIT }
        } else {
            ApiError::BadRequest { code: "unreadable_body", message: rejection.body_text(), details: json!({}) }
        }
    })
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        JsonWithBytes::from_request(req, state).await.map(|JsonWithBytes(value, _)| Json(value))
    }
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let field = error.path().to_string();
        let inner = error.into_inner();
        if inner.classify() != serde_json::error::Category::Data {
            return malformed(&inner);
        }
        // serde says "at line 1 column 9"; the field path says more.
        let message = inner.to_string();
        let message = message.split(" at line ").next().unwrap_or(&message).to_string();
        let field = if field == "." { String::new() } else { field };
        ApiError::Unprocessable {
            code: "validation_failed",
            message: if field.is_empty() { message } else { format!("{field}: {message}") },
            details: json!({ "field": field }),
        }
    })?;
    deserializer.end().map_err(|e| malformed(&e))?;
    Ok(value)
}

fn malformed(error: &serde_json::Error) -> ApiError {
    ApiError::BadRequest {
        code: "malformed_json",
        message: format!("request body is not valid JSON: {error}"),
        details: json!({ "line": error.line(), "column": error.column() }),
    }
}

/// Query parameters; a malformed or unknown one is a 400 naming it.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer).map(Query).map_err(|error| {
            let parameter = error.path().to_string();
            ApiError::BadRequest {
                code: "invalid_parameter",
                message: format!("invalid query string: {}", error.into_inner()),
                details: json!({ "parameter": if parameter == "." { String::new() } else { parameter } }),
            }
        })
    }
}

/// `?access_token=` of an event stream: browsers' EventSource cannot set headers.
/// Other routes take the header only, keeping tokens out of URLs.
fn query_token(parts: &Parts) -> Option<String> {
    if !parts.uri.path().ends_with("/stream") {
        return None;
    }
    form_urlencoded::parse(parts.uri.query()?.as_bytes())
        .find(|(name, _)| name == "access_token")
        .map(|(_, value)| value.into_owned())
        .filter(|t| !t.is_empty())
}

/// The authenticated user, from `Authorization: Bearer <token>`.
pub struct AuthUser(pub UserRecord);

/// The authenticated user and who acts for them: the user, or a workflow presenting a
/// service token (recorded as the actor of what it changes).
pub struct Caller {
    /// The user.
    pub user: UserRecord,
    /// Who acts.
    pub actor: Actor,
    /// The session of the presented token (none for a service token).
    pub session_id: Option<String>,
}

impl<S> FromRequestParts<S> for Caller
where
    S: Send + Sync,
    Sessions: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let (user, actor, session_id) = authenticate(parts, state).await?;
        Ok(Caller { user, actor, session_id })
    }
}

impl<S> FromRequestParts<S> for AuthUser
where
    S: Send + Sync,
    Sessions: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        authenticate(parts, state).await.map(|(user, _, _)| AuthUser(user))
    }
}

/// The name of the browser session cookie.
pub const SESSION_COOKIE: &str = "errand_session";

/// The session cookie's token, if the request carries one.
fn cookie_token(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_string())
        .filter(|t| !t.is_empty())
}

/// A write authenticated by cookie must come from a page of this origin: browsers
/// send `Origin` on such requests, and a cross-site form or script cannot forge it.
fn same_origin(parts: &Parts) -> bool {
    let host = parts.headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin = parts.headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    match (origin, host) {
        (Some(origin), Some(host)) => {
            origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://")) == Some(host)
        }
        _ => false,
    }
}

async fn authenticate<S>(parts: &mut Parts, state: &S) -> Result<(UserRecord, Actor, Option<String>), ApiError>
where
    Sessions: FromRef<S>,
{
    let token = match parts.headers.get(header::AUTHORIZATION) {
        Some(header) => header
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .ok_or_else(|| ApiError::Unauthorized("the Authorization header must be Bearer <token>".into()))?,
        None => match (query_token(parts), cookie_token(parts)) {
            (Some(token), _) => token,
            (None, Some(token)) => {
                let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
                if !safe && !same_origin(parts) {
                    return Err(ApiError::Forbidden(
                        "a write authenticated by the session cookie must come from this site (Origin)".into(),
                    ));
                }
                token
            }
            (None, None) => return Err(ApiError::Unauthorized("missing Authorization: Bearer <token> header".into())),
        },
    };
    Sessions::from_ref(state).caller(&token).await
}

/// The client's address: the TCP peer, or `X-Forwarded-For` behind a trusted proxy.
pub struct ClientAddress(pub std::net::IpAddr);

impl<S> FromRequestParts<S> for ClientAddress
where
    S: Send + Sync,
    Limits: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Ok(ClientAddress(client_address(parts, Limits::from_ref(state).trust_forwarded_for)))
    }
}
