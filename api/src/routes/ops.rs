use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use errand_consumers::ReplayError;
use errand_domain::{Role, UserProfile};
use errand_store::{DeadLetter, UserRecord};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{AuthUser, Query};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ops/dead-letters", get(list_dead_letters))
        .route("/ops/dead-letters/{id}/replay", post(replay_dead_letter))
        .route("/ops/users", get(list_accounts))
        .route("/ops/users/{id}/disable", post(disable_account))
        .route("/ops/users/{id}/enable", post(enable_account))
}

fn require_admin(user: &errand_store::UserRecord) -> Result<(), ApiError> {
    if user.profile.role == Role::Admin {
        Ok(())
    } else {
        Err(ApiError::Forbidden("this needs the admin role".into()))
    }
}

/// An event a consumer gave up on.
#[derive(Serialize, ToSchema)]
pub struct DeadLetterView {
    /// Dead-letter id.
    pub id: String,
    /// The consumer that failed.
    pub consumer: String,
    /// The event id.
    pub event_id: String,
    /// Its topic.
    pub topic: String,
    /// The CloudEvent.
    #[schema(value_type = Object)]
    pub event: serde_json::Value,
    /// The last error.
    pub error: String,
    /// Attempts made.
    pub attempts: i64,
    /// When it was given up on.
    pub created_at: DateTime<Utc>,
    /// When a replay succeeded.
    pub replayed_at: Option<DateTime<Utc>>,
}

impl From<DeadLetter> for DeadLetterView {
    fn from(l: DeadLetter) -> Self {
        DeadLetterView {
            event: serde_json::from_str(&l.payload).unwrap_or(serde_json::Value::String(l.payload)),
            id: l.id,
            consumer: l.consumer,
            event_id: l.event_id,
            topic: l.topic,
            error: l.error,
            attempts: l.attempts,
            created_at: l.created_at,
            replayed_at: l.replayed_at,
        }
    }
}

/// Dead-letter list parameters.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeadLetterParams {
    /// Include replayed ones (default false).
    pub all: Option<bool>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A page of dead letters.
#[derive(Serialize, ToSchema)]
pub struct DeadLetterList {
    /// Newest first.
    pub items: Vec<DeadLetterView>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// Dead letters, newest first (admin).
#[utoipa::path(get, path = "/api/v1/ops/dead-letters", tag = "operations", security(("bearer" = [])), params(DeadLetterParams),
    responses((status = 200, body = DeadLetterList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub async fn list_dead_letters(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Query(params): Query<DeadLetterParams>,
) -> Result<axum::Json<DeadLetterList>, ApiError> {
    require_admin(&user)?;
    let limit = super::page_limit(params.limit)? as usize;
    let before = params.cursor.as_deref().map(super::decode_keyset).transpose()?;
    let mut letters = state.store.dead_letters_before(!params.all.unwrap_or(false), before, limit as i64 + 1).await?;
    let more = letters.len() > limit;
    letters.truncate(limit);
    let next_cursor =
        if more { letters.last().map(|l| super::encode_keyset(&(l.created_at, l.id.clone()))) } else { None };
    Ok(axum::Json(DeadLetterList { items: letters.into_iter().map(Into::into).collect(), next_cursor }))
}

/// An account, as an administrator sees it.
#[derive(Serialize, ToSchema)]
pub struct AccountView {
    /// The account.
    #[serde(flatten)]
    pub profile: UserProfile,
    /// When it was disabled; null while it is enabled.
    pub disabled_at: Option<DateTime<Utc>>,
}

impl From<UserRecord> for AccountView {
    fn from(user: UserRecord) -> Self {
        AccountView { profile: user.profile, disabled_at: user.disabled_at }
    }
}

/// Account list parameters.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AccountParams {
    /// Only accounts whose email starts with this (any letter case).
    pub email: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A page of accounts.
#[derive(Serialize, ToSchema)]
pub struct AccountList {
    /// In id order (oldest first).
    pub items: Vec<AccountView>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// Accounts, oldest first (admin).
#[utoipa::path(get, path = "/api/v1/ops/users", tag = "operations", security(("bearer" = [])), params(AccountParams),
    responses((status = 200, body = AccountList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub async fn list_accounts(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Query(params): Query<AccountParams>,
) -> Result<axum::Json<AccountList>, ApiError> {
    require_admin(&user)?;
    let limit = super::page_limit(params.limit)? as usize;
    if params.cursor.as_ref().is_some_and(|c| c.len() > 100) {
        return Err(ApiError::invalid_parameter("cursor", "cursor: at most 100 characters"));
    }
    let mut accounts = state.store.users(params.email.as_deref(), params.cursor.as_deref(), limit as i64 + 1).await?;
    let more = accounts.len() > limit;
    accounts.truncate(limit);
    let next_cursor = if more { accounts.last().map(|a| a.profile.id.clone()) } else { None };
    Ok(axum::Json(AccountList { items: accounts.into_iter().map(Into::into).collect(), next_cursor }))
}

/// Disable an account (admin): it can no longer log in, and every token it holds stops
/// working at once. An admin cannot disable their own account.
#[utoipa::path(post, path = "/api/v1/ops/users/{id}/disable", tag = "operations", security(("bearer" = [])),
    params(("id" = String, Path, description = "account id")),
    responses((status = 200, body = AccountView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "your own account", body = ErrorBody)))]
pub async fn disable_account(
    State(state): State<AppState>,
    AuthUser(admin): AuthUser,
    Path(id): Path<String>,
) -> Result<axum::Json<AccountView>, ApiError> {
    require_admin(&admin)?;
    if id == admin.profile.id {
        return Err(ApiError::Conflict { code: "own_account", message: "you cannot disable your own account".into() });
    }
    set_disabled(&state, &id, true).await
}

/// Enable a disabled account again (admin). Its old sessions stay ended.
#[utoipa::path(post, path = "/api/v1/ops/users/{id}/enable", tag = "operations", security(("bearer" = [])),
    params(("id" = String, Path, description = "account id")),
    responses((status = 200, body = AccountView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn enable_account(
    State(state): State<AppState>,
    AuthUser(admin): AuthUser,
    Path(id): Path<String>,
) -> Result<axum::Json<AccountView>, ApiError> {
    require_admin(&admin)?;
    set_disabled(&state, &id, false).await
}

async fn set_disabled(state: &AppState, id: &str, disabled: bool) -> Result<axum::Json<AccountView>, ApiError> {
    let now = crate::tasks::now();
    if !state.store.set_disabled(id, disabled.then_some(now)).await? {
        return Err(ApiError::NotFound("account"));
    }
    if disabled {
        state.sessions.end_others(id, None, now).await?;
    }
    state.sessions.forget_user(id);
    let account = state.store.user_by_id(id).await?.ok_or(ApiError::NotFound("account"))?;
    tracing::info!(user_id = %id, disabled, "account access changed by an admin");
    Ok(axum::Json(account.into()))
}

/// Deliver a dead letter to its consumer again (admin). 409 when it fails again.
#[utoipa::path(post, path = "/api/v1/ops/dead-letters/{id}/replay", tag = "operations", security(("bearer" = [])),
    params(("id" = String, Path, description = "dead-letter id")),
    responses((status = 200, body = DeadLetterView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "failed again, or already replayed", body = ErrorBody)))]
pub async fn replay_dead_letter(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
) -> Result<axum::Json<DeadLetterView>, ApiError> {
    require_admin(&user)?;
    let handlers = errand_consumers::handlers(&state.store, &state.workflow_clients);
    match errand_consumers::replay(&state.store, &handlers, &id).await {
        Ok(letter) => Ok(axum::Json(letter.into())),
        Err(ReplayError::NotFound(_)) => Err(ApiError::NotFound("dead letter")),
        Err(ReplayError::Store(e)) => Err(e.into()),
        Err(e @ ReplayError::AlreadyReplayed(_)) => {
            Err(ApiError::Conflict { code: "already_replayed", message: e.to_string() })
        }
        Err(e) => Err(ApiError::Conflict { code: "replay_failed", message: e.to_string() }),
    }
}
