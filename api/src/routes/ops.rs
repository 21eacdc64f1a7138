use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use errand_consumers::ReplayError;
use errand_domain::Role;
use errand_store::DeadLetter;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{AuthUser, Query};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ops/dead-letters", get(list_dead_letters))
        .route("/ops/dead-letters/{id}/replay", post(replay_dead_letter))
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
    /// At most this many, 1 to 200 (default 50).
    pub limit: Option<u32>,
}

/// Dead letters, newest first (admin).
#[utoipa::path(get, path = "/api/v1/ops/dead-letters", tag = "operations", security(("bearer" = [])), params(DeadLetterParams),
    responses((status = 200, body = [DeadLetterView]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list_dead_letters(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Query(params): Query<DeadLetterParams>,
) -> Result<axum::Json<Vec<DeadLetterView>>, ApiError> {
    require_admin(&user)?;
    let limit = i64::from(super::page_limit(params.limit)?);
    let letters = state.store.dead_letters(!params.all.unwrap_or(false), limit).await?;
    Ok(axum::Json(letters.into_iter().map(Into::into).collect()))
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
