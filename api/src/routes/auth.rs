use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use errand_domain::{parse_timezone, validate_email, validate_password, Invalid, UserProfile};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::auth::{hash_password, verify_password};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{AuthUser, Json};
use crate::tasks::now;
use errand_store::NewUser;

pub fn router() -> Router<AppState> {
    Router::new().route("/auth/signup", post(signup)).route("/auth/login", post(login)).route("/auth/me", get(me))
}

/// A new account.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    /// Email; unique regardless of case.
    pub email: String,
    /// At least 8 characters.
    pub password: String,
    /// Display name, up to 100 characters.
    #[serde(default)]
    pub name: Option<String>,
    /// IANA timezone (default `UTC`).
    #[serde(default)]
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
    /// Bearer token for `Authorization`.
    pub token: String,
    /// When the token stops working.
    pub expires_at: DateTime<Utc>,
    /// The account.
    pub user: UserProfile,
}

/// Create an account. The first account of an instance is an admin.
#[utoipa::path(post, path = "/api/v1/auth/signup", tag = "auth", request_body = SignupRequest, responses(
    (status = 201, body = AuthResponse),
    (status = 400, body = ErrorBody), (status = 409, description = "email taken", body = ErrorBody),
    (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
))]
pub async fn signup(
    State(state): State<AppState>,
    Json(req): Json<SignupRequest>,
) -> Result<(StatusCode, axum::Json<AuthResponse>), ApiError> {
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
        password_hash: hash_password(req.password).await?,
        timezone,
        created_at: now,
    };
    let created = state.store.create_user(&user).await?.ok_or_else(|| ApiError::Conflict {
        code: "email_taken",
        message: "an account with this email already exists".into(),
    })?;
    let (token, expires_at) = state.tokens.issue(&created.profile.id, now)?;
    Ok((StatusCode::CREATED, axum::Json(AuthResponse { token, expires_at, user: created.profile })))
}

/// Exchange email and password for a token.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest, responses(
    (status = 200, body = AuthResponse),
    (status = 400, body = ErrorBody), (status = 401, description = "wrong email or password", body = ErrorBody),
    (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
))]
pub async fn login(
    State(state): State<AppState>,
    Json(req): Json<LoginRequest>,
) -> Result<axum::Json<AuthResponse>, ApiError> {
    let user = state.store.user_by_email(&req.email).await?;
    let stored_hash = user.as_ref().map(|u| u.password_hash.clone());
    if !verify_password(req.password, stored_hash).await? {
        return Err(ApiError::BadCredentials);
    }
    let user = user.ok_or(ApiError::BadCredentials)?;
    let (token, expires_at) = state.tokens.issue(&user.profile.id, now())?;
    Ok(axum::Json(AuthResponse { token, expires_at, user: user.profile }))
}

/// The caller's account.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", security(("bearer" = [])), responses(
    (status = 200, body = UserProfile), (status = 401, body = ErrorBody),
))]
pub async fn me(AuthUser(user): AuthUser) -> axum::Json<UserProfile> {
    axum::Json(user.profile)
}
