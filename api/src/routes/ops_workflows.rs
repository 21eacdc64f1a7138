//! Ops inspection of workflows over HTTP (admin only; everyone else gets 403): the query
//! over every instance, detail and history, actions, batches through a confirmation,
//! stats, and a live change feed. The work is `errand-ops`'; this is its HTTP edge, and
//! it writes every action to the audit trail with the admin who did it.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post};
use axum::Router;
use errand_activities::ConfirmAction;
use errand_ops::batch::BatchSpec;
use errand_ops::{DetailView, Histogram, HistoryView, InstanceView, Ops, OpsError, Page, StatsView};
use errand_store::{AuditEntry, UserRecord};
use futures_util::stream::Stream;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{AuthUser, Caller, JsonPayload, Query};
use crate::tasks::now;
use crate::workflows::ConfirmationView;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ops/workflows", get(list))
        .route("/ops/workflows/histogram", get(histogram))
        .route("/ops/workflows/stats", get(stats))
        .route("/ops/workflows/stream", get(stream))
        .route("/ops/workflows/batch", post(batch))
        .route("/ops/workflows/{id}", get(detail))
        .route("/ops/workflows/{id}/history", get(history))
        .route("/ops/workflows/{id}/{action}", post(act))
}

fn require_admin(user: &UserRecord) -> Result<(), ApiError> {
    if user.profile.role == errand_domain::Role::Admin {
        Ok(())
    } else {
        Err(ApiError::Forbidden("this needs the admin role".into()))
    }
}

fn ops(state: &AppState) -> Result<&Ops, ApiError> {
    state.ops.get().ok_or_else(|| ApiError::Unavailable("the workflow sidecar is not connected yet".into()))
}

impl From<OpsError> for ApiError {
    fn from(e: OpsError) -> Self {
        match e {
            OpsError::Query(q) => ApiError::Unprocessable {
                code: "invalid_query",
                message: q.to_string(),
                details: json!({ "parameter": "q", "position": q.position }),
            },
            OpsError::Invalid(field, message) => ApiError::bad_parameter(field, message),
            OpsError::NotFound(_) => ApiError::NotFound("workflow instance"),
            OpsError::Conflict(message) => ApiError::Conflict { code: "workflow_state", message },
            OpsError::Unavailable(message) => ApiError::NotImplemented(message),
            OpsError::Backend(message) => ApiError::Unavailable(message),
        }
    }
}

/// Records an ops action with the admin who did it.
async fn audit(state: &AppState, admin: &UserRecord, action: &str, instance: &str, details: Value) {
    let owner = state.store.workflow_records(&[instance.to_string()]).await.ok().and_then(|r| r.into_iter().next());
    let id = errand_domain::new_id();
    let entry = AuditEntry {
        id: id.clone(),
        event_id: id,
        user_id: owner.as_ref().map(|o| o.user_id.clone()).unwrap_or_else(|| admin.profile.id.clone()),
        task_id: owner.and_then(|o| o.task_id),
        actor: format!("admin:{}", admin.profile.id),
        action: format!("ops.workflow.{action}"),
        changes: Some(json!({ "instance": instance, "admin_email": admin.profile.email, "details": details })),
        at: now(),
    };
    if let Err(e) = state.store.record_audit(&entry).await {
        tracing::warn!(error = %e, "could not record an ops action in the audit trail");
    }
    tracing::info!(admin = %admin.profile.id, %instance, action, "ops action");
}

/// Query parameters of the instance list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// The ops query, e.g. `kind:reminder & status:running & waiting:timer & created after: 2026-11-01`.
    #[serde(default)]
    pub q: String,
    /// `created`, `-created` (default), `updated` or `-updated`.
    #[serde(default)]
    pub sort: String,
    /// From `next_cursor`.
    pub cursor: Option<String>,
    /// 1 to 500 (default 50).
    pub limit: Option<usize>,
}

/// Every workflow instance matching a query, with counts per status for the whole match (admin).
#[utoipa::path(get, path = "/api/v1/ops/workflows", tag = "operations", security(("bearer" = [])), params(ListParams),
    responses((status = 200, body = Page), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Query(params): Query<ListParams>,
) -> Result<axum::Json<Page>, ApiError> {
    require_admin(&user)?;
    let page = ops(&state)?.list(&params.q, &params.sort, params.cursor.as_deref(), params.limit.unwrap_or(50)).await?;
    Ok(axum::Json(page))
}

/// Query parameters of the histogram.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HistogramParams {
    /// The ops query.
    #[serde(default)]
    pub q: String,
    /// How far back, in hours (default 24).
    pub hours: Option<i64>,
}

/// How many instances matching a query were created per time bucket (admin).
#[utoipa::path(get, path = "/api/v1/ops/workflows/histogram", tag = "operations", security(("bearer" = [])),
    params(HistogramParams), responses((status = 200, body = Histogram), (status = 403, body = ErrorBody)))]
pub async fn histogram(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Query(params): Query<HistogramParams>,
) -> Result<axum::Json<Histogram>, ApiError> {
    require_admin(&user)?;
    Ok(axum::Json(ops(&state)?.histogram(&params.q, params.hours.unwrap_or(24)).await?))
}

/// Query parameters of the stats.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StatsParams {
    /// Ready work untouched for this many seconds is stuck (default 300).
    pub stuck_after: Option<i64>,
}

/// Counts by kind and status, the oldest wait per reason, stuck instances, timer
/// lateness, activity queue delay and dead letters (admin).
#[utoipa::path(get, path = "/api/v1/ops/workflows/stats", tag = "operations", security(("bearer" = [])),
    params(StatsParams), responses((status = 200, body = StatsView), (status = 403, body = ErrorBody)))]
pub async fn stats(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Query(params): Query<StatsParams>,
) -> Result<axum::Json<StatsView>, ApiError> {
    require_admin(&user)?;
    let stuck_after = params.stuck_after.unwrap_or(300).clamp(1, 86_400 * 30);
    Ok(axum::Json(ops(&state)?.stats(chrono::Duration::seconds(stuck_after)).await?))
}

/// One instance: input, output, custom status, failure, children, pending timers,
/// activities and buffered events (admin).
#[utoipa::path(get, path = "/api/v1/ops/workflows/{id}", tag = "operations", security(("bearer" = [])),
    params(("id" = String, Path, description = "instance id")),
    responses((status = 200, body = DetailView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn detail(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
) -> Result<axum::Json<DetailView>, ApiError> {
    require_admin(&user)?;
    Ok(axum::Json(ops(&state)?.detail(&id).await?))
}

/// An instance's history: events with timestamps, each completion with the time since
/// what it answers (admin).
#[utoipa::path(get, path = "/api/v1/ops/workflows/{id}/history", tag = "operations", security(("bearer" = [])),
    params(("id" = String, Path, description = "instance id")),
    responses((status = 200, body = HistoryView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn history(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
) -> Result<axum::Json<HistoryView>, ApiError> {
    require_admin(&user)?;
    Ok(axum::Json(ops(&state)?.history(&id).await?))
}

/// The body of an action (each action reads what it needs).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    /// Why (terminate, suspend, resume).
    #[serde(default)]
    pub reason: Option<String>,
    /// Terminate its children too.
    #[serde(default)]
    pub recursive: bool,
    /// The event to raise.
    #[serde(default)]
    pub name: Option<String>,
    /// The event's payload.
    #[serde(default)]
    pub data: Value,
}

/// What can be done to one instance.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InstanceAction {
    /// Stop it (and, with `recursive`, its children).
    Terminate,
    /// Pause it until resumed.
    Suspend,
    /// Continue a suspended one.
    Resume,
    /// Raise the event `name` with `data`.
    Raise,
    /// Delete a finished one and its history.
    Purge,
    /// Start a new instance with the same input.
    Rerun,
}

/// What an action did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActionResult {
    /// The instance acted on.
    pub id: String,
    /// The action.
    pub action: String,
    /// For rerun: the new instance.
    pub new_id: Option<String>,
}

/// Terminate, suspend, resume, raise an event on, purge (finished only) or rerun an
/// instance (admin).
#[utoipa::path(post, path = "/api/v1/ops/workflows/{id}/{action}", tag = "operations", security(("bearer" = [])),
    params(("id" = String, Path, description = "instance id"),
           ("action" = InstanceAction, Path, description = "what to do")),
    request_body = ActionRequest,
    responses((status = 200, body = ActionResult), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn act(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path((id, action)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<axum::Json<ActionResult>, ApiError> {
    require_admin(&user)?;
    // The body is optional: an empty one is no arguments.
    let request: ActionRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ActionRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::Unprocessable {
            code: "validation_failed",
            message: e.to_string(),
            details: json!({}),
        })?
    };
    let chosen: InstanceAction = serde_json::from_value(Value::String(action.clone())).map_err(|_| {
        ApiError::bad_parameter(
            "action",
            format!("unknown action {action:?}; use terminate, suspend, resume, raise, purge or rerun"),
        )
    })?;
    let ops = ops(&state)?;
    let reason = request.reason.as_deref();
    let mut new_id = None;
    match chosen {
        InstanceAction::Terminate => ops.terminate(&id, reason, request.recursive).await?,
        InstanceAction::Suspend => ops.suspend(&id, reason).await?,
        InstanceAction::Resume => ops.resume(&id, reason).await?,
        InstanceAction::Raise => {
            let name =
                request.name.as_deref().ok_or_else(|| ApiError::bad_parameter("name", "name the event to raise"))?;
            ops.raise(&id, name, &request.data).await?
        }
        InstanceAction::Purge => ops.purge(&id).await?,
        InstanceAction::Rerun => new_id = Some(ops.rerun(&id).await?),
    }
    let details = json!({ "reason": reason, "recursive": request.recursive, "event": request.name, "new_id": new_id });
    audit(&state, &user, &action, &id, details).await;
    Ok(axum::Json(ActionResult { id, action, new_id }))
}

/// A batch request: the spec, and whether only to count.
#[derive(Debug, Deserialize, ToSchema)]
pub struct BatchRequest {
    /// The query, action and arguments.
    #[serde(flatten)]
    pub spec: BatchSpec,
    /// Only count the matches and show a sample.
    #[serde(default)]
    pub dry_run: bool,
}

/// What a batch request answers: the count and a sample, and for a real run the
/// confirmation to approve (`POST /confirmations/{id}`).
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchAnswer {
    /// Instances matching now.
    pub count: u64,
    /// The first of them.
    pub sample: Vec<InstanceView>,
    /// The confirmation that starts the batch once approved.
    pub confirmation: Option<ConfirmationView>,
}

/// Reads a batch request. serde does not refuse unknown fields through a flatten, so
/// `dry_run` is taken off first and the rest must be exactly a [`BatchSpec`].
fn parse_batch(body: Value) -> Result<BatchRequest, ApiError> {
    let invalid = |message: String| ApiError::Unprocessable { code: "validation_failed", message, details: json!({}) };
    let Value::Object(mut fields) = body else {
        return Err(invalid("a batch request is a JSON object".into()));
    };
    let dry_run = match fields.remove("dry_run") {
        None => false,
        Some(Value::Bool(b)) => b,
        Some(_) => return Err(invalid("dry_run is true or false".into())),
    };
    let spec = serde_json::from_value(Value::Object(fields)).map_err(|e| invalid(e.to_string()))?;
    Ok(BatchRequest { spec, dry_run })
}

/// A batch action by query (admin): `dry_run` counts; otherwise a confirmation that,
/// approved, runs the batch as a durable workflow (`confirmation:<id>`, its progress in
/// the custom status).
#[utoipa::path(post, path = "/api/v1/ops/workflows/batch", tag = "operations", security(("bearer" = [])),
    request_body = BatchRequest,
    responses((status = 200, body = BatchAnswer), (status = 403, body = ErrorBody),
              (status = 409, description = "the query matches nothing (a real run)", body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn batch(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    JsonPayload(body): JsonPayload,
) -> Result<axum::Json<BatchAnswer>, ApiError> {
    require_admin(&user)?;
    let request = parse_batch(body)?;
    let (count, sample) = ops(&state)?.batch_preview(&request.spec, 10).await?;
    if request.dry_run {
        return Ok(axum::Json(BatchAnswer { count, sample, confirmation: None }));
    }
    if count == 0 {
        return Err(ApiError::Conflict {
            code: "nothing_to_do",
            message: "the query matches no instances; there is nothing to confirm".into(),
        });
    }
    let summary = request.spec.describe(count);
    let spec = serde_json::to_value(&request.spec).map_err(|e| ApiError::Internal(e.to_string()))?;
    let action = ConfirmAction::OpsBatch { spec: spec.clone(), total: count };
    let confirmation = state.workflows.request_confirmation(&user, action, summary).await?;
    audit(&state, &user, "batch_requested", &format!("confirmation:{}", confirmation.id), spec).await;
    Ok(axum::Json(BatchAnswer { count, sample, confirmation: Some(confirmation) }))
}

/// How often the change feed looks for changes.
const FEED_INTERVAL: Duration = Duration::from_millis(250);

/// Live changes as Server-Sent Events (`event: instance`, `id` = cursor): each instance
/// as it is after it changed. Reconnect with `Last-Event-ID` to resume (admin).
#[utoipa::path(get, path = "/api/v1/ops/workflows/stream", tag = "operations", security(("bearer" = [])),
    params(("Last-Event-ID" = Option<String>, Header, description = "resume after this event id"),
           ("access_token" = Option<String>, Query, description = "token, for clients that cannot set headers")),
    responses((status = 200, description = "text/event-stream of InstanceView"), (status = 403, body = ErrorBody)))]
pub async fn stream(
    State(state): State<AppState>,
    Caller { user, .. }: Caller,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    require_admin(&user)?;
    let slot = state.limits.streams.take(&user.profile.id, "ops_workflows")?;
    let ops = ops(&state)?.clone();
    let cursor = headers.get("last-event-id").and_then(|v| v.to_str().ok()).map(String::from);
    if let Some(c) = &cursor {
        // A cursor this stream did not send is refused rather than silently restarted.
        ops.changes(Some(c), 1).await.map_err(|_| ApiError::BadRequest {
            code: "invalid_header",
            message: "Last-Event-ID must be an id this stream sent".into(),
            details: json!({ "header": "Last-Event-ID" }),
        })?;
    }
    let shutdown = state.shutdown.clone();
    let feed = (ops, cursor, std::collections::VecDeque::<errand_ops::Change>::new(), shutdown, slot);
    let stream = futures_util::stream::unfold(feed, |(ops, mut cursor, mut pending, mut shutdown, slot)| async move {
        loop {
            if let Some(change) = pending.pop_front() {
                cursor = Some(change.cursor.clone());
                let data = serde_json::to_string(&change.instance).unwrap_or_default();
                let event = Event::default().event("instance").id(change.cursor).data(data);
                return Some((Ok(event), (ops, cursor, pending, shutdown, slot)));
            }
            if *shutdown.borrow() {
                return None;
            }
            match ops.changes(cursor.as_deref(), 200).await {
                Ok(changes) if !changes.is_empty() => pending.extend(changes),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "ops change feed could not read instances"),
            }
            if pending.is_empty() {
                tokio::select! {
                    _ = tokio::time::sleep(FEED_INTERVAL) => {}
                    _ = shutdown.wait_for(|stop| *stop) => return None,
                }
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)).text("heartbeat")))
}
