use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use errand_domain::{parse_timezone, validate_email, validate_password, Invalid, UserProfile};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::auth::{hash_password, verify_password};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{AuthUser, Caller, ClientAddress, Json, SESSION_COOKIE};
use crate::tasks::now;
use errand_store::NewUser;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/signup", post(signup))
        .route("/auth/login", post(login))
        .route("/auth/logout", post(logout))
        .route("/auth/password", post(change_password))
        .route("/auth/me", get(me).patch(update_me))
}

/// The header a browser sends to get its session as an `HttpOnly` cookie instead of
/// a token it could read.
const COOKIE_MODE: &str = "x-errand-session";

/// A session for the client: a bearer token in the body, or (asked for with
/// `X-Errand-Session: cookie`) an `HttpOnly; SameSite=Strict` cookie and no token.
fn session_response(
    headers: &HeaderMap,
    trust_forwarded: bool,
    token: String,
    expires_at: DateTime<Utc>,
    user: UserProfile,
) -> Response {
    let wants_cookie = headers.get(COOKIE_MODE).and_then(|v| v.to_str().ok()) == Some("cookie");
    if !wants_cookie {
        return axum::Json(AuthResponse { token: Some(token), expires_at, user }).into_response();
    }
    // Behind a TLS-terminating proxy that says so, the cookie never travels in clear.
    let tls = trust_forwarded && headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()) == Some("https");
    let max_age = (expires_at - now()).num_seconds().max(0);
    let secure = if tls { "; Secure" } else { "" };
    let cookie = format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}");
    let mut response = axum::Json(AuthResponse { token: None, expires_at, user }).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// Changes to the caller's account.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileChange {
    /// Display name, up to 100 characters; empty clears it.
    #[serde(default)]
    #[schema(max_length = 100)]
    pub name: Option<String>,
    /// IANA timezone, e.g. `Europe/Berlin`: natural-language dates and recurrence are
    /// read in it from now on.
    #[serde(default)]
    pub timezone: Option<String>,
}

/// A password change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The password now.
    pub current_password: String,
    /// The new one, 8 to 1024 characters.
    #[schema(min_length = 8, max_length = 1024)]
    pub new_password: String,
}

/// The key the per-account limit counts attempts under: the email as the store
/// compares it, cut to the longest valid email so keys stay small.
fn account_key(email: &str) -> String {
    email.trim().to_lowercase().chars().take(254).collect()
}

/// A new account.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    /// Email; unique regardless of case.
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// 8 to 1024 characters.
    #[schema(min_length = 8, max_length = 1024)]
    pub password: String,
    /// Display name, up to 100 characters.
    #[serde(default)]
    #[schema(max_length = 100)]
    pub name: Option<String>,
    /// IANA timezone (default `UTC`), e.g. `Europe/Berlin`.
    #[serde(default)]
    #[schema(example = "Europe/Berlin")]
    pub timezone: Option<String>,
}

/// Credentials.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Email, any letter case.
    pub email: String,
    /// Password.
    pub password: String,
}

/// A session.
#[derive(Serialize, ToSchema)]
pub struct AuthResponse {
    /// Bearer token for `Authorization`; null when the session is a browser cookie.
    pub token: Option<String>,
    /// When the token stops working.
    pub expires_at: DateTime<Utc>,
    /// The account.
    pub user: UserProfile,
}

/// Create an account. The first account of an instance is an admin. Sign-ups are
/// limited per client address.
#[utoipa::path(post, path = "/api/v1/auth/signup", tag = "auth", request_body = SignupRequest, responses(
    (status = 201, body = AuthResponse),
    (status = 400, body = ErrorBody), (status = 409, description = "email taken", body = ErrorBody),
    (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
    (status = 429, description = "too many attempts from this address", body = ErrorBody),
))]
pub async fn signup(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    Json(req): Json<SignupRequest>,
) -> Result<(StatusCode, Response), ApiError> {
    state.limits.auth_per_address.admit(&address)?;
    let email = validate_email(&req.email)?;
    validate_password(&req.password)?;
    let timezone = match req.timezone.as_deref() {
        Some(tz) => parse_timezone(tz)?.name().to_string(),
        None => "UTC".to_string(),
    };
    let name = req.name.map(|n| n.trim().to_string()).filter(|n| !n.is_empty());
    if name.as_ref().is_some_and(|n| n.chars().count() > 100) {
        return Err(Invalid::new("name", "must be at most 100 characters").into());
    }
    let now = now();
    let user = NewUser {
        id: errand_domain::new_id(),
        email,
        name,
        password_hash: hash_password(&state.limits.hashing, req.password).await?,
        timezone,
        created_at: now,
    };
    let created = state.store.create_user(&user).await?.ok_or_else(|| ApiError::Conflict {
        code: "email_taken",
        message: "an account with this email already exists".into(),
    })?;
    let (token, expires_at) = state.sessions.start(&created.profile.id, now).await?;
    let trust = state.limits.trust_forwarded_for;
    Ok((StatusCode::CREATED, session_response(&headers, trust, token, expires_at, created.profile)))
}

/// Exchange email and password for a token (a new session). Attempts are limited per
/// client address and per account; a disabled account is refused after its password.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest, responses(
    (status = 200, body = AuthResponse),
    (status = 400, body = ErrorBody), (status = 401, description = "wrong email or password", body = ErrorBody),
    (status = 403, description = "the account is disabled", body = ErrorBody),
    (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
    (status = 429, description = "too many attempts", body = ErrorBody),
))]
pub async fn login(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    Json(req): Json<LoginRequest>,
) -> Result<Response, ApiError> {
    state.limits.auth_per_address.admit(&address)?;
    state.limits.auth_per_account.admit(&account_key(&req.email))?;
    let user = state.store.user_by_email(&req.email).await?;
    let stored_hash = user.as_ref().map(|u| u.password_hash.clone());
    if !verify_password(&state.limits.hashing, req.password, stored_hash).await? {
        metrics::counter!("errand_auth_login_failures_total").increment(1);
        return Err(ApiError::BadCredentials);
    }
    let user = user.ok_or(ApiError::BadCredentials)?;
    if user.disabled_at.is_some() {
        return Err(ApiError::Forbidden("this account is disabled; ask an administrator".into()));
    }
    let (token, expires_at) = state.sessions.start(&user.profile.id, now()).await?;
    Ok(session_response(&headers, state.limits.trust_forwarded_for, token, expires_at, user.profile))
}

/// End the session of the presented token: it stops working at once.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])), responses(
    (status = 204, description = "the session has ended"), (status = 401, body = ErrorBody),
))]
pub async fn logout(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    if let Some(session) = &caller.session_id {
        state.sessions.end(session, now()).await?;
    }
    let clear = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(value) = HeaderValue::from_str(&clear) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// Change the caller's name or timezone.
#[utoipa::path(patch, path = "/api/v1/auth/me", tag = "auth", security(("bearer" = [])), request_body = ProfileChange,
    responses((status = 200, body = UserProfile), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_me(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Json(change): Json<ProfileChange>,
) -> Result<axum::Json<UserProfile>, ApiError> {
    let timezone = change.timezone.as_deref().map(parse_timezone).transpose()?.map(|tz| tz.name().to_string());
    let name = change.name.map(|n| n.trim().to_string());
    if name.as_ref().is_some_and(|n| n.chars().count() > 100) {
        return Err(Invalid::new("name", "must be at most 100 characters").into());
    }
    let name = name.map(|n| Some(n).filter(|n| !n.is_empty()));
    let updated = state
        .store
        .update_profile(&user.profile.id, name, timezone.as_deref())
        .await?
        .ok_or(ApiError::NotFound("account"))?;
    state.sessions.forget_user(&user.profile.id);
    Ok(axum::Json(updated.profile))
}

/// Change the password. Every other session of the account ends; this one goes on.
#[utoipa::path(post, path = "/api/v1/auth/password", tag = "auth", security(("bearer" = [])),
    request_body = PasswordChange, responses(
    (status = 204, description = "changed; other sessions have ended"),
    (status = 400, body = ErrorBody), (status = 401, description = "not signed in, or the current password is wrong", body = ErrorBody),
    (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
    (status = 429, description = "too many attempts", body = ErrorBody),
))]
pub async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    let user = caller.user;
    state.limits.auth_per_account.admit(&account_key(&user.profile.email))?;
    validate_password(&req.new_password).map_err(|e| Invalid::new("new_password", e.message))?;
    let current = Some(user.password_hash.clone());
    if !verify_password(&state.limits.hashing, req.current_password, current).await? {
        return Err(ApiError::Unauthorized("the current password is wrong".into()));
    }
    let hash = hash_password(&state.limits.hashing, req.new_password).await?;
    state.store.set_password_hash(&user.profile.id, &hash).await?;
    let ended = state.sessions.end_others(&user.profile.id, caller.session_id.as_deref(), now()).await?;
    tracing::info!(user_id = %user.profile.id, ended, "password changed; other sessions ended");
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's account.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", security(("bearer" = [])), responses(
    (status = 200, body = UserProfile), (status = 401, body = ErrorBody),
))]
pub async fn me(AuthUser(user): AuthUser) -> axum::Json<UserProfile> {
    axum::Json(user.profile)
}
