use axum::extract::State;
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{AuthUser, Query};

pub fn router() -> Router<AppState> {
    Router::new().route("/audit", get(audit_trail))
}

/// Audit trail parameters.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Only this task's records.
    pub task_id: Option<String>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Who did what to which task, and when.
#[derive(Serialize, ToSchema)]
pub struct AuditRecord {
    /// Record id.
    pub id: String,
    /// The task.
    pub task_id: Option<String>,
    /// `user`, `assistant`, `workflow:<id>` or `system`.
    pub actor: String,
    /// What happened: `task.created`, `task.updated`, `task.completed`, `task.reopened`, `task.deleted`.
    pub action: String,
    /// Changed fields: name -> `{before, after}`.
    #[schema(value_type = Option<Object>)]
    pub changes: Option<serde_json::Value>,
    /// When it happened.
    pub at: DateTime<Utc>,
}

/// A page of the audit trail.
#[derive(Serialize, ToSchema)]
pub struct AuditList {
    /// Records, newest first.
    pub items: Vec<AuditRecord>,
    /// Cursor of the next (older) page.
    pub next_cursor: Option<String>,
}

/// The caller's own audit trail, newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "events", security(("bearer" = [])), params(AuditParams),
    responses((status = 200, body = AuditList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn audit_trail(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Query(params): Query<AuditParams>,
) -> Result<axum::Json<AuditList>, ApiError> {
    let limit = i64::from(super::page_limit(params.limit)?);
    let page = state
        .store
        .audit_trail(&user.profile.id, params.task_id.as_deref(), limit, params.cursor.as_deref())
        .await?
        .ok_or_else(|| ApiError::bad_parameter("cursor", "cursor is malformed"))?;
    let items = page
        .items
        .into_iter()
        .map(|e| AuditRecord {
            id: e.id,
            task_id: e.task_id,
            actor: e.actor,
            action: e.action,
            changes: e.changes,
            at: e.at,
        })
        .collect();
    Ok(axum::Json(AuditList { items, next_cursor: page.next_cursor }))
}
