use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use errand_domain::{
    normalize_tags, parse_due, parse_quick_add, NewTask, Priority, Span, Status, Task, TaskPatch, TaskView,
    MAX_QUICK_ADD_CHARS,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{AuthUser, Caller, Json, JsonWithBytes, Query};
use crate::tasks::now;
use errand_search::{check_query, Filter, SearchRequest, Sort};

/// Longest cursor accepted; the ones we issue are far shorter.
const MAX_CURSOR_LEN: usize = 1024;
use errand_store::UserRecord;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tasks", post(create_task).get(list_tasks))
        .route("/tasks/{id}", get(get_task).patch(update_task).delete(delete_task))
        .route("/tasks/{id}/complete", post(complete_task))
        .route("/tasks/{id}/reopen", post(reopen_task))
        .route("/tasks/bulk-delete", post(bulk_delete))
        .route("/parse", post(parse))
}

/// Text to read as a task.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ParseRequest {
    /// One line, up to 1,000 characters: "buy milk tomorrow 5pm #shopping p1".
    #[schema(max_length = 1000)]
    pub text: String,
}

/// What a line of text means as a task.
#[derive(Debug, Serialize, ToSchema)]
pub struct ParseResult {
    /// The words not understood as anything else.
    pub title: String,
    /// The parts understood, in text order (offsets in UTF-16 code units).
    pub spans: Vec<Span>,
    /// The body to send to `POST /tasks`; null when it would be refused (see `error`).
    pub task: Option<NewTask>,
    /// The task it would create (with the next occurrences of a recurrence and
    /// resolved reminders); null when it would be refused.
    pub preview: Option<TaskView>,
    /// Why it would be refused (`field`, `message`); null when it would not.
    #[schema(value_type = Option<Object>)]
    pub error: Option<errand_domain::Invalid>,
}

/// Read a line of text as a task, the way Quick Add shows it: dates, `#tags`,
/// priorities (`p1`..`p4`, `!!1`..`!!4`), recurrence and reminders, each as a span of
/// the text; text in double quotes is never read. Nothing is created.
#[utoipa::path(post, path = "/api/v1/parse", tag = "tasks", security(("bearer" = [])), request_body = ParseRequest,
    responses((status = 200, body = ParseResult), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn parse(
    AuthUser(user): AuthUser,
    Json(request): Json<ParseRequest>,
) -> Result<axum::Json<ParseResult>, ApiError> {
    if request.text.chars().count() > MAX_QUICK_ADD_CHARS {
        return Err(
            errand_domain::Invalid::new("text", format!("must be at most {MAX_QUICK_ADD_CHARS} characters")).into()
        );
    }
    let now = now();
    let read = parse_quick_add(&request.text, user.tz, now);
    let (task, preview, error) =
        match Task::create(errand_domain::new_id(), user.profile.id.clone(), &read.task, user.tz, now) {
            Ok(task) => (Some(read.task), Some(task.view(user.tz, now)), None),
            Err(invalid) => (None, None, Some(invalid)),
        };
    Ok(axum::Json(ParseResult { title: read.title, spans: read.spans, task, preview, error }))
}

/// What `POST /tasks/bulk-delete` deletes: given tasks, or every done one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1, max_properties = 1)]
pub struct BulkDelete {
    /// Task ids (1 to 1000).
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false, min_items = 1, max_items = 1000)]
    pub ids: Option<Vec<String>>,
    /// `done`: every completed task, as of the approval.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(nullable = false, pattern = "^done$")]
    pub filter: Option<String>,
}

/// An optional field that, when present, is not `null`.
fn not_null<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// Ask to delete several tasks: nothing is deleted until the returned confirmation is
/// approved (`POST /confirmations/{id}`); it expires unanswered.
#[utoipa::path(post, path = "/api/v1/tasks/bulk-delete", tag = "tasks", security(("bearer" = [])),
    request_body = BulkDelete,
    responses((status = 202, body = crate::workflows::ConfirmationView), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn bulk_delete(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Json(body): Json<BulkDelete>,
) -> Result<(StatusCode, axum::Json<crate::workflows::ConfirmationView>), ApiError> {
    let invalid = |message: &str| ApiError::Unprocessable {
        code: "validation_failed",
        message: message.into(),
        details: serde_json::json!({ "field": "ids" }),
    };
    let (action, summary) = match (body.ids, body.filter.as_deref()) {
        (Some(ids), None) => {
            if ids.is_empty() || ids.len() > 1000 {
                return Err(invalid("give 1 to 1000 task ids"));
            }
            let mut titles = Vec::new();
            for id in &ids {
                // Another user's task is simply not found.
                titles.push(state.tasks.get(&user, id).await?.title);
            }
            let summary = match titles.as_slice() {
                [one] => format!("Delete the task \"{one}\"."),
                many => format!("Delete {} tasks: {}.", many.len(), quoted(many)),
            };
            (errand_activities::ConfirmAction::DeleteTasks { ids }, summary)
        }
        (None, Some("done")) => {
            let count = state.store.done_task_ids(&user.profile.id).await?.len();
            (errand_activities::ConfirmAction::ClearCompleted, format!("Delete all {count} completed tasks."))
        }
        _ => return Err(invalid("give either ids or \"filter\": \"done\"")),
    };
    let confirmation = state.workflows.request_confirmation(&user, action, summary).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(confirmation)))
}

/// `"a", "b", "c" and 4 more`.
fn quoted(titles: &[String]) -> String {
    let shown: Vec<String> = titles.iter().take(3).map(|t| format!("\"{t}\"")).collect();
    match titles.len() {
        n if n > 3 => format!("{} and {} more", shown.join(", "), n - 3),
        _ => shown.join(", "),
    }
}

/// A page of tasks.
#[derive(Serialize, ToSchema)]
pub struct TaskList {
    /// Tasks in the requested order.
    pub items: Vec<TaskView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
    /// Tasks matching the filters across all pages.
    pub total: i64,
}

/// List parameters.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Words that must all appear in the title, description or tags (the last one
    /// also as a prefix; small typos tolerated on longer words). At most 500
    /// characters and 20 words.
    #[param(max_length = 500)]
    pub q: Option<String>,
    /// A filter expression, e.g. `(today | overdue) & @work & !p4`; at most 2000
    /// characters, 64 conditions and 32 levels of `(` and `!`.
    #[param(max_length = 2000)]
    pub filter: Option<String>,
    /// `open`, `done` or `all`; by default open, unless the filter names `done` or `open`.
    #[param(pattern = "^(open|done|all)?$")]
    pub status: Option<String>,
    /// Priorities, comma-separated (any of): `none,low,medium,high,urgent`.
    #[param(pattern = "^((none|low|medium|high|urgent)(,(none|low|medium|high|urgent))*)?$")]
    pub priority: Option<String>,
    /// Tags, comma-separated (all of).
    pub tag: Option<String>,
    /// Due strictly before this date (RFC 3339, a date, or words like `tomorrow`).
    pub due_before: Option<String>,
    /// Due at or after this date.
    pub due_after: Option<String>,
    /// `due`, `priority`, `created`, `updated`, `title`, `relevance` (best first); `-`
    /// prefix for descending; a second key after a comma breaks ties
    /// (`-priority,due`). Default: `relevance` with `q`, else `due`.
    #[param(
        pattern = "^(-?(due|priority|created|updated|title|relevance)(,-?(due|priority|created|updated|title|relevance))?)?$"
    )]
    pub sort: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[param(max_length = 1024)]
    pub cursor: Option<String>,
}

fn search_request(params: ListParams, user: &UserRecord) -> Result<SearchRequest, ApiError> {
    // An empty parameter (a form's blank field) is an absent one.
    let given = |value: Option<String>| value.filter(|v| !v.trim().is_empty());
    let params = ListParams {
        q: given(params.q),
        filter: given(params.filter),
        status: given(params.status),
        priority: given(params.priority),
        tag: given(params.tag),
        due_before: given(params.due_before),
        due_after: given(params.due_after),
        sort: given(params.sort),
        limit: params.limit,
        cursor: given(params.cursor),
    };
    let now = now();
    let filter = params
        .filter
        .as_deref()
        .filter(|f| !f.trim().is_empty())
        .map(|text| Filter::parse(text, user.tz, now))
        .transpose()
        .map_err(|e| ApiError::Unprocessable {
            code: "invalid_filter",
            message: format!("filter: {e}"),
            details: serde_json::json!({ "parameter": "filter", "position": e.position, "expected": e.expected, "found": e.found }),
        })?;
    let status = match params.status.as_deref() {
        None if filter.as_ref().is_some_and(Filter::mentions_status) => None,
        None | Some("open") => Some(Status::Open),
        Some("done") => Some(Status::Done),
        Some("all") => None,
        Some(other) => {
            return Err(ApiError::bad_parameter("status", format!("status {other:?} is not open, done or all")))
        }
    };
    let priorities = split_list(params.priority.as_deref())
        .map(|name| {
            Priority::parse(name).ok_or_else(|| {
                ApiError::bad_parameter(
                    "priority",
                    format!("priority {name:?} is not none, low, medium, high or urgent"),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let tags: Vec<&str> = split_list(params.tag.as_deref()).collect();
    let tags = normalize_tags(&tags).map_err(|e| ApiError::bad_parameter("tag", format!("tag {}", e.message)))?;
    let date = |name: &'static str, value: Option<String>| {
        value
            .map(|text| {
                parse_due(&text, user.tz, now)
                    .map(|due| due.at)
                    .map_err(|m| ApiError::bad_parameter(name, format!("{name}: {m}")))
            })
            .transpose()
    };
    let due_before = date("due_before", params.due_before)?;
    let due_after = date("due_after", params.due_after)?;
    let text = params.q.filter(|q| !q.trim().is_empty());
    if let Some(q) = &text {
        check_query(q).map_err(|limit| ApiError::invalid_parameter("q", format!("q: {limit}")))?;
    }
    if params.cursor.as_ref().is_some_and(|c| c.len() > MAX_CURSOR_LEN) {
        return Err(ApiError::invalid_parameter("cursor", format!("cursor: at most {MAX_CURSOR_LEN} characters")));
    }
    let default_sort = if text.is_some() { "relevance" } else { "due" };
    let sort_name = params.sort.unwrap_or_else(|| default_sort.to_string());
    let sort = Sort::parse(&sort_name).ok_or_else(|| {
        ApiError::bad_parameter(
            "sort",
            format!(
                "sort {sort_name:?} is not one or two (comma-separated, different) of due, priority, created, \
                 updated, title, relevance, each optionally with a - prefix"
            ),
        )
    })?;
    let limit = super::page_limit(params.limit)?;
    Ok(SearchRequest {
        user_id: user.profile.id.clone(),
        status,
        priorities,
        tags,
        due_before,
        due_after,
        text,
        filter,
        sort,
        limit: limit as usize,
        cursor: params.cursor,
    })
}

fn split_list(value: Option<&str>) -> impl Iterator<Item = &str> {
    value.unwrap_or("").split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// A task response with its version as the ETag.
fn task_response(status: StatusCode, task: &Task, user: &UserRecord) -> Response {
    let mut response = (status, axum::Json(task.view(user.tz, now()))).into_response();
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", task.version)) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

/// The version demanded by `If-Match` (`"3"`, `W/"3"` or `3`); `None` for `*` or absent.
fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or("").trim();
    if text == "*" {
        return Ok(None);
    }
    let bare = text.trim_start_matches("W/").trim_matches('"');
    bare.parse::<i64>().map(Some).map_err(|_| ApiError::BadRequest {
        code: "invalid_header",
        message: "If-Match must be a task version such as \"3\"".into(),
        details: serde_json::json!({ "header": "If-Match" }),
    })
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value.to_str().unwrap_or("");
    if key.len() > 255 {
        return Err(ApiError::invalid_parameter("Idempotency-Key", "Idempotency-Key: at most 255 characters"));
    }
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::BadRequest {
            code: "invalid_header",
            message: "Idempotency-Key must be 1 to 255 visible ASCII characters".into(),
            details: serde_json::json!({ "header": "Idempotency-Key" }),
        });
    }
    Ok(Some(key.to_string()))
}

/// Hash of the request body, insensitive to key order and whitespace.
fn request_hash(body: &[u8]) -> String {
    let canonical = serde_json::from_slice::<serde_json::Value>(body)
        .map(|v| v.to_string().into_bytes())
        .unwrap_or_else(|_| body.to_vec());
    let digest = Sha256::digest(&canonical);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Create a task. `due` takes natural language in the user's timezone. Honours
/// `Idempotency-Key`: a retry with the same key and body returns the first response.
#[utoipa::path(post, path = "/api/v1/tasks", tag = "tasks", security(("bearer" = [])), request_body = NewTask,
    params(("Idempotency-Key" = Option<String>, Header, description = "makes retries safe: 1 to 255 visible ASCII characters", pattern = "^[!-~]{1,255}$")),
    responses(
        (status = 201, body = TaskView, headers(("ETag" = String), ("Location" = String))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, description = "validation failed or key reused", body = ErrorBody),
    ))]
pub async fn create_task(
    State(state): State<AppState>,
    Caller { user, actor, .. }: Caller,
    headers: HeaderMap,
    JsonWithBytes(input, body): JsonWithBytes<NewTask>,
) -> Result<Response, ApiError> {
    let Some(key) = idempotency_key(&headers)? else {
        let task = state.tasks.create(&user, &input, &actor).await?;
        let mut response = task_response(StatusCode::CREATED, &task, &user);
        set_location(&mut response, &task.id);
        return Ok(response);
    };
    let stored = state.tasks.create_idempotent(&user, &input, &actor, &key, &request_hash(&body)).await?;
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::CREATED);
    let mut response = (status, [(header::CONTENT_TYPE, "application/json")], stored.body.clone()).into_response();
    if let Ok(view) = serde_json::from_str::<TaskView>(&stored.body) {
        set_location(&mut response, &view.id);
        if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", view.version)) {
            response.headers_mut().insert(header::ETAG, etag);
        }
    }
    if stored.replayed {
        response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

fn set_location(response: &mut Response, id: &str) {
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/tasks/{id}")) {
        response.headers_mut().insert(header::LOCATION, location);
    }
}

/// List the caller's tasks: full-text `q`, the filter language, structured filters,
/// any sort, and cursor paging — served from the search index, which reflects the
/// caller's own writes as soon as they return.
#[utoipa::path(get, path = "/api/v1/tasks", tag = "tasks", security(("bearer" = [])), params(ListParams),
    responses((status = 200, body = TaskList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 422, description = "the filter does not parse; details give position and expectation", body = ErrorBody)))]
pub async fn list_tasks(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Query(params): Query<ListParams>,
) -> Result<axum::Json<TaskList>, ApiError> {
    let request = search_request(params, &user)?;
    let page = state.tasks.search(&user, request).await?;
    let now = now();
    Ok(axum::Json(TaskList {
        items: page.items.iter().map(|t| t.view(user.tz, now)).collect(),
        next_cursor: page.next_cursor,
        total: page.total as i64,
    }))
}

/// One task.
#[utoipa::path(get, path = "/api/v1/tasks/{id}", tag = "tasks", security(("bearer" = [])),
    params(("id" = String, Path, description = "task id")),
    responses((status = 200, body = TaskView, headers(("ETag" = String))), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_task(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let task = state.tasks.get(&user, &id).await?;
    Ok(task_response(StatusCode::OK, &task, &user))
}

/// Change some fields. Send `version` (or `If-Match`) to fail with 412 if the task
/// changed since you read it.
#[utoipa::path(patch, path = "/api/v1/tasks/{id}", tag = "tasks", security(("bearer" = [])), request_body = TaskPatch,
    params(("id" = String, Path, description = "task id"), ("If-Match" = Option<String>, Header, description = "expected version", pattern = r#"^(\*|(W/)?"?[0-9]{1,18}"?)$"#)),
    responses(
        (status = 200, body = TaskView, headers(("ETag" = String))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "too many concurrent writes", body = ErrorBody),
        (status = 412, description = "stale version", body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
    ))]
pub async fn update_task(
    State(state): State<AppState>,
    Caller { user, actor, .. }: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(patch): Json<TaskPatch>,
) -> Result<Response, ApiError> {
    if patch.version.is_some_and(|v| v < 1) {
        return Err(errand_domain::Invalid::new("version", "must be a version the task had (1 or more)").into());
    }
    let expected = match (patch.version, if_match(&headers)?) {
        (Some(body), Some(header)) if body != header => {
            return Err(ApiError::BadRequest {
                code: "version_mismatch",
                message: format!("body version {body} and If-Match {header} disagree"),
                details: serde_json::json!({ "field": "version" }),
            })
        }
        (body, header) => body.or(header),
    };
    let task = state.tasks.update(&user, &id, &patch, expected, &actor).await?;
    Ok(task_response(StatusCode::OK, &task, &user))
}

/// `DELETE /tasks/{id}` options.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeleteOptions {
    /// `true`: the task's recurring series ends too (no further occurrences).
    #[serde(default)]
    pub series: bool,
}

/// Delete a task (`If-Match` optional); with `?series=true` its recurring series ends too.
#[utoipa::path(delete, path = "/api/v1/tasks/{id}", tag = "tasks", security(("bearer" = [])),
    params(("id" = String, Path, description = "task id"), ("If-Match" = Option<String>, Header, description = "expected version", pattern = r#"^(\*|(W/)?"?[0-9]{1,18}"?)$"#), DeleteOptions),
    responses((status = 204, description = "deleted"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 412, body = ErrorBody)))]
pub async fn delete_task(
    State(state): State<AppState>,
    Caller { user, actor, .. }: Caller,
    Path(id): Path<String>,
    Query(series): Query<DeleteOptions>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    state.tasks.delete(&user, &id, if_match(&headers)?, series.series, &actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Mark a task done. Completing a done task changes nothing.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/complete", tag = "tasks", security(("bearer" = [])),
    params(("id" = String, Path, description = "task id")),
    responses((status = 200, body = TaskView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn complete_task(
    State(state): State<AppState>,
    Caller { user, actor, .. }: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let task = state.tasks.complete(&user, &id, &actor).await?;
    Ok(task_response(StatusCode::OK, &task, &user))
}

/// Reopen a done task. Reopening an open task changes nothing.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/reopen", tag = "tasks", security(("bearer" = [])),
    params(("id" = String, Path, description = "task id")),
    responses((status = 200, body = TaskView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn reopen_task(
    State(state): State<AppState>,
    Caller { user, actor, .. }: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let task = state.tasks.reopen(&user, &id, &actor).await?;
    Ok(task_response(StatusCode::OK, &task, &user))
}
