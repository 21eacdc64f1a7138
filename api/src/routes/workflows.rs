//! Workflow status (user-scoped), confirmations, snoozes, and the internal endpoints
//! workflow activities call in the Dapr runtime.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use errand_domain::event::Actor;
use errand_domain::WorkflowEvent;
use errand_workflows::HistoryEntry;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{AuthUser, Caller, Json, JsonPayload, Query};
use crate::workflows::{ConfirmationView, WorkflowView};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/workflows", get(list_workflows))
        .route("/workflows/{id}", get(get_workflow))
        .route("/workflows/{id}/history", get(workflow_history))
        .route("/workflows/{id}/events/{name}", post(raise_event))
        .route("/series/{series_id}/{action}", post(control_series))
        .route("/confirmations", get(list_confirmations))
        .route("/confirmations/{id}", get(get_confirmation).post(decide))
        .route("/notifications/{id}/snooze", post(snooze))
        .route("/internal/events", post(publish_event))
        .route("/internal/confirmations/{id}", post(settle_confirmation))
        .route("/internal/workflows/{id}/{action}", post(control_workflow))
}

/// `GET /workflows` filters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WorkflowQuery {
    /// `reminder`, `recurring` or `confirmation`.
    #[param(pattern = "^(reminder|recurring|confirmation)$")]
    pub kind: Option<String>,
    /// `pending`, `running`, `suspended`, `completed`, `failed`, `terminated` or `unknown`.
    #[param(pattern = "^(pending|running|suspended|completed|failed|terminated|unknown)$")]
    pub status: Option<String>,
    /// Only those about this task.
    pub task_id: Option<String>,
    /// Page size, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A page of workflows.
#[derive(Serialize, ToSchema)]
pub struct WorkflowList {
    /// Newest first.
    pub items: Vec<WorkflowView>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

const KINDS: [&str; 3] = ["reminder", "recurring", "confirmation"];
const STATUSES: [&str; 6] = ["pending", "running", "suspended", "completed", "failed", "terminated"];

fn one_of(name: &'static str, value: &Option<String>, allowed: &[&str]) -> Result<(), ApiError> {
    match value {
        Some(v) if !allowed.contains(&v.as_str()) => {
            Err(ApiError::bad_parameter(name, format!("{name} must be one of {}", allowed.join(", "))))
        }
        _ => Ok(()),
    }
}

/// The caller's workflows (reminders, recurring series, confirmations), newest first.
#[utoipa::path(get, path = "/api/v1/workflows", tag = "workflows", security(("bearer" = [])), params(WorkflowQuery),
    responses((status = 200, body = WorkflowList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn list_workflows(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Query(query): Query<WorkflowQuery>,
) -> Result<axum::Json<WorkflowList>, ApiError> {
    one_of("kind", &query.kind, &KINDS)?;
    one_of("status", &query.status, &STATUSES)?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::bad_parameter("limit", "limit must be between 1 and 100"));
    }
    let cursor = query.cursor.as_deref().map(super::decode_keyset).transpose()?;
    let (items, next) = state
        .workflows
        .workflows(&user, query.kind.as_deref(), query.status.as_deref(), query.task_id.as_deref(), cursor, limit)
        .await?;
    Ok(axum::Json(WorkflowList { items, next_cursor: next.as_ref().map(super::encode_keyset) }))
}

/// One of the caller's workflows: kind, status, task, input, output, custom status, failure.
#[utoipa::path(get, path = "/api/v1/workflows/{id}", tag = "workflows", security(("bearer" = [])),
    params(("id" = String, Path, description = "instance id")),
    responses((status = 200, body = WorkflowView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_workflow(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
) -> Result<axum::Json<WorkflowView>, ApiError> {
    Ok(axum::Json(state.workflows.workflow(&user, &id).await?))
}

/// A workflow's history.
#[derive(Serialize, ToSchema)]
pub struct HistoryView {
    /// In order: `{seq, type, timestamp, name?, data?}`.
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<HistoryEntry>,
}

/// The history of one of the caller's workflows (its current execution).
#[utoipa::path(get, path = "/api/v1/workflows/{id}/history", tag = "workflows", security(("bearer" = [])),
    params(("id" = String, Path, description = "instance id")),
    responses((status = 200, body = HistoryView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 501, description = "the workflow runtime keeps no history it can give (daprd 1.16)", body = ErrorBody)))]
pub async fn workflow_history(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
) -> Result<axum::Json<HistoryView>, ApiError> {
    Ok(axum::Json(HistoryView { events: state.workflows.history(&user, &id).await? }))
}

/// Raise an event on one of the caller's workflows; the body is its payload.
#[utoipa::path(post, path = "/api/v1/workflows/{id}/events/{name}", tag = "workflows", security(("bearer" = [])),
    params(("id" = String, Path, description = "instance id"),
        ("name" = String, Path, description = "event name", pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]{1,100}$")),
    request_body = Object,
    responses((status = 202, description = "raised"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn raise_event(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path((id, name)): Path<(String, String)>,
    JsonPayload(payload): JsonPayload,
) -> Result<StatusCode, ApiError> {
    if name.is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
        return Err(ApiError::bad_parameter(
            "name",
            "an event name has 1 to 100 characters, none of them control characters",
        ));
    }
    state.workflows.raise(&user, &id, &name, payload).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Pause or resume one of the caller's recurring series, or skip its current
/// occurrence to the next date. Carried out by the series' workflow: a paused series
/// creates no next occurrence when one is completed (until it is resumed, which then
/// creates it), and this holds across restarts. Answers with the workflow once it has
/// acted (`input.paused` tells the state), or as it is after a few seconds.
#[utoipa::path(post, path = "/api/v1/series/{series_id}/{action}", tag = "workflows", security(("bearer" = [])),
    params(("series_id" = String, Path, description = "the series (a recurring task's `series_id`)"),
        ("action" = String, Path, description = "`pause`, `resume` or `skip`", pattern = "^(pause|resume|skip)$")),
    responses((status = 202, body = WorkflowView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, description = "no such series, or its workflow has not started yet", body = ErrorBody),
        (status = 503, body = ErrorBody)))]
pub async fn control_series(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path((series_id, action)): Path<(String, String)>,
) -> Result<(StatusCode, axum::Json<WorkflowView>), ApiError> {
    let control = match action.as_str() {
        "pause" => errand_workflows::SeriesControl::Pause,
        "resume" => errand_workflows::SeriesControl::Resume,
        "skip" => errand_workflows::SeriesControl::Skip,
        _ => return Err(ApiError::bad_parameter("action", "the action is pause, resume or skip")),
    };
    Ok((StatusCode::ACCEPTED, axum::Json(state.workflows.control_series(&user, &series_id, control).await?)))
}

/// `GET /confirmations` filters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ConfirmationQuery {
    /// `pending`, `approved`, `rejected` or `expired`.
    #[param(pattern = "^(pending|approved|rejected|expired)$")]
    pub status: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A page of confirmations.
#[derive(Serialize, ToSchema)]
pub struct ConfirmationList {
    /// Newest first.
    pub items: Vec<ConfirmationView>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// The caller's confirmations, newest first.
#[utoipa::path(get, path = "/api/v1/confirmations", tag = "confirmations", security(("bearer" = [])),
    params(ConfirmationQuery),
    responses((status = 200, body = ConfirmationList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn list_confirmations(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Query(query): Query<ConfirmationQuery>,
) -> Result<axum::Json<ConfirmationList>, ApiError> {
    one_of("status", &query.status, &["pending", "approved", "rejected", "expired"])?;
    let limit = super::page_limit(query.limit)? as usize;
    let cursor = query.cursor.as_deref().map(super::decode_keyset).transpose()?;
    let (items, next) = state.workflows.confirmations(&user, query.status.as_deref(), cursor, limit).await?;
    Ok(axum::Json(ConfirmationList { items, next_cursor: next.as_ref().map(super::encode_keyset) }))
}

/// A decision on a confirmation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// `approve` or `reject`.
    #[schema(pattern = "^(approve|reject)$")]
    pub decision: String,
}

/// One of the caller's confirmations.
#[utoipa::path(get, path = "/api/v1/confirmations/{id}", tag = "confirmations", security(("bearer" = [])),
    params(("id" = String, Path, description = "confirmation id")),
    responses((status = 200, body = ConfirmationView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_confirmation(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
) -> Result<axum::Json<ConfirmationView>, ApiError> {
    Ok(axum::Json(state.workflows.confirmation(&user, &id).await?))
}

/// Approve or reject one of the caller's pending confirmations; answers with the
/// outcome (for an approval, what was done). A second decision is a 409.
#[utoipa::path(post, path = "/api/v1/confirmations/{id}", tag = "confirmations", security(("bearer" = [])),
    params(("id" = String, Path, description = "confirmation id")), request_body = DecisionBody,
    responses((status = 200, body = ConfirmationView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn decide(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    Json(body): Json<DecisionBody>,
) -> Result<axum::Json<ConfirmationView>, ApiError> {
    let approve = match body.decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => {
            return Err(ApiError::Unprocessable {
                code: "validation_failed",
                message: "decision must be approve or reject".into(),
                details: json!({ "field": "decision" }),
            })
        }
    };
    Ok(axum::Json(state.workflows.decide(&user, &id, approve).await?))
}

/// A snooze.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SnoozeBody {
    /// Minutes from now, 1 to 10080 (a week).
    #[schema(minimum = 1, maximum = 10080)]
    pub minutes: u32,
}

/// Remind again about a notification's task in `minutes`; answers with the reminder workflow.
#[utoipa::path(post, path = "/api/v1/notifications/{id}/snooze", tag = "notifications", security(("bearer" = [])),
    params(("id" = String, Path, description = "notification id")), request_body = SnoozeBody,
    responses((status = 202, body = WorkflowView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn snooze(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    Json(body): Json<SnoozeBody>,
) -> Result<(StatusCode, axum::Json<WorkflowView>), ApiError> {
    if !(1..=10_080).contains(&body.minutes) {
        return Err(ApiError::Unprocessable {
            code: "validation_failed",
            message: "minutes must be between 1 and 10080".into(),
            details: json!({ "field": "minutes" }),
        });
    }
    Ok((StatusCode::ACCEPTED, axum::Json(state.workflows.snooze(&user, &id, body.minutes).await?)))
}

/// Only a workflow's service token may use the internal endpoints.
fn workflow_actor(actor: &Actor) -> Result<(), ApiError> {
    match actor {
        Actor::Workflow(_) => Ok(()),
        _ => Err(ApiError::Forbidden("only workflows acting for a user may call this".into())),
    }
}

/// Internal (workflow service tokens only): publish an event for the user.
pub async fn publish_event(
    State(state): State<AppState>,
    Caller { user, actor, .. }: Caller,
    Json(event): Json<WorkflowEvent>,
) -> Result<(StatusCode, axum::Json<Value>), ApiError> {
    workflow_actor(&actor)?;
    let outbound = crate::task_api::outbound(&user.profile.id, &actor, &event)?;
    match state.store.append_events(&[outbound]).await {
        Err(e) if e.is_duplicate() => {}
        other => other?,
    }
    Ok((StatusCode::ACCEPTED, axum::Json(json!({ "accepted": true }))))
}

/// What the workflow trigger asks of one instance (`start`, `raise` or `terminate`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowControlBody {
    /// `start`: the workflow's name.
    name: Option<String>,
    /// `start`: its input.
    input: Option<Value>,
    /// `raise`: the event's name.
    event: Option<String>,
    /// `raise`: the event's payload.
    payload: Option<Value>,
}

/// Internal (the Dapr runtime's workflow trigger, with a service token naming this very
/// instance): start, raise an event on or terminate an instance on this app's sidecar,
/// which hosts the workflows.
pub async fn control_workflow(
    State(state): State<AppState>,
    Caller { user, actor, .. }: Caller,
    Path((id, action)): Path<(String, String)>,
    Json(body): Json<WorkflowControlBody>,
) -> Result<StatusCode, ApiError> {
    if actor != Actor::Workflow(id.clone()) {
        return Err(ApiError::Forbidden("only a service token for this instance may control it".into()));
    }
    let missing = |field: &'static str| ApiError::Unprocessable {
        code: "validation_failed",
        message: format!("{action} needs {field}"),
        details: json!({ "field": field }),
    };
    match action.as_str() {
        "start" => {
            let name = body.name.ok_or_else(|| missing("name"))?;
            let input = body.input.ok_or_else(|| missing("input"))?;
            state.workflows.start_triggered(&id, &name, input).await?;
        }
        "raise" => {
            let event = body.event.ok_or_else(|| missing("event"))?;
            state.workflows.raise(&user, &id, &event, body.payload.unwrap_or(Value::Null)).await?;
        }
        "terminate" => state.workflows.terminate(&user, &id).await?,
        _ => return Err(ApiError::NotFound("route")),
    }
    Ok(StatusCode::NO_CONTENT)
}

/// How a confirmation ended.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settlement {
    status: String,
    #[serde(default)]
    result: Value,
}

/// Internal (workflow service tokens only): settle a confirmation.
pub async fn settle_confirmation(
    State(state): State<AppState>,
    Caller { user, actor, .. }: Caller,
    Path(id): Path<String>,
    Json(body): Json<Settlement>,
) -> Result<axum::Json<Value>, ApiError> {
    workflow_actor(&actor)?;
    if !["approved", "rejected", "expired"].contains(&body.status.as_str()) {
        return Err(ApiError::bad_parameter("status", "status must be approved, rejected or expired"));
    }
    let settled =
        state.store.settle_confirmation(&user.profile.id, &id, &body.status, &body.result, crate::tasks::now()).await?;
    Ok(axum::Json(json!({ "settled": settled })))
}
