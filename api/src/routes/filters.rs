//! Saved filters (named queries in the filter language, with a colour and an order)
//! and the user's tags with their counts, for the UI's sidebar and autocompletion.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, patch, post};
use axum::Router;
use chrono::{DateTime, Utc};
use errand_domain::Invalid;
use errand_search::Filter;
use errand_store::SavedFilter;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{AuthUser, Json};
use crate::tasks::now;

/// Saved filters a user may have.
const MAX_FILTERS: usize = 100;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/filters", get(list_filters).post(create_filter))
        .route("/filters/check", post(check_filter))
        .route("/filters/{id}", patch(update_filter).delete(delete_filter))
        .route("/tags", get(list_tags))
}

/// A saved filter.
#[derive(Debug, Serialize, ToSchema)]
pub struct FilterView {
    /// Id.
    pub id: String,
    /// Name shown in the UI.
    pub name: String,
    /// A query in the filter language.
    pub query: String,
    /// A colour, `#rrggbb`.
    pub color: Option<String>,
    /// Place in the list, lowest first.
    pub position: i64,
    /// When it was saved.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<SavedFilter> for FilterView {
    fn from(f: SavedFilter) -> Self {
        FilterView {
            id: f.id,
            name: f.name,
            query: f.query,
            color: f.color,
            position: f.position,
            created_at: f.created_at,
            updated_at: f.updated_at,
        }
    }
}

/// The user's saved filters.
#[derive(Debug, Serialize, ToSchema)]
pub struct FilterList {
    /// In order.
    pub items: Vec<FilterView>,
}

/// A filter to save.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFilter {
    /// 1 to 100 characters.
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub name: String,
    /// A query in the filter language, e.g. `(today | overdue) & @work`.
    #[schema(min_length = 1, max_length = 2000)]
    pub query: String,
    /// `#rrggbb`.
    #[serde(default)]
    #[schema(pattern = "^#[0-9a-fA-F]{6}$")]
    pub color: Option<String>,
}

/// Changes to a saved filter.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FilterChange {
    /// New name.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub name: Option<String>,
    /// New query.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 2000)]
    pub query: Option<String>,
    /// New colour; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, pattern = "^#[0-9a-fA-F]{6}$")]
    pub color: Option<Option<String>>,
    /// New place in the list.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1000000)]
    pub position: Option<i64>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// A query to check.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FilterCheck {
    /// A query in the filter language.
    #[schema(max_length = 2000)]
    pub query: String,
}

/// Where a query stops making sense.
#[derive(Debug, Serialize, ToSchema)]
pub struct FilterProblem {
    /// What is wrong, in words.
    pub message: String,
    /// Character offset of the problem.
    pub position: usize,
    /// What would have made sense there.
    pub expected: String,
    /// What was there instead.
    pub found: String,
}

/// Whether a query parses.
#[derive(Debug, Serialize, ToSchema)]
pub struct FilterCheckResult {
    /// True when it parses (an empty query matches everything).
    pub ok: bool,
    /// Why not; null when it does.
    pub error: Option<FilterProblem>,
}

/// A tag and how many open tasks carry it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TagCount {
    /// The tag.
    pub name: String,
    /// Open tasks with it (0 when only done ones have it).
    pub count: i64,
}

/// The user's tags.
#[derive(Debug, Serialize, ToSchema)]
pub struct TagList {
    /// By name.
    pub items: Vec<TagCount>,
}

fn valid_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Invalid::new("name", "must be 1 to 100 characters").into());
    }
    Ok(name.to_string())
}

fn valid_color(color: Option<&str>) -> Result<(), ApiError> {
    match color {
        Some(c) if !(c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|h| h.is_ascii_hexdigit())) => {
            Err(Invalid::new("color", "must be a colour such as #3b82f6").into())
        }
        _ => Ok(()),
    }
}

/// A query must parse, as a list's `filter` does (the 422 gives the position).
fn valid_query(query: &str, user: &errand_store::UserRecord) -> Result<String, ApiError> {
    let query = query.trim();
    if query.is_empty() {
        return Err(Invalid::new("query", "must not be empty").into());
    }
    Filter::parse(query, user.tz, now()).map_err(|e| ApiError::Unprocessable {
        code: "invalid_filter",
        message: format!("query: {e}"),
        details: serde_json::json!({ "field": "query", "position": e.position, "expected": e.expected, "found": e.found }),
    })?;
    Ok(query.to_string())
}

/// Check a query in the filter language as the user types it: a query that does not
/// parse is an answer here (200 with the position), not a failed request.
#[utoipa::path(post, path = "/api/v1/filters/check", tag = "filters", security(("bearer" = [])), request_body = FilterCheck,
    responses((status = 200, body = FilterCheckResult), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn check_filter(
    AuthUser(user): AuthUser,
    Json(input): Json<FilterCheck>,
) -> Result<axum::Json<FilterCheckResult>, ApiError> {
    if input.query.chars().count() > errand_search::MAX_FILTER_CHARS {
        let message = format!("must be at most {} characters", errand_search::MAX_FILTER_CHARS);
        return Err(Invalid::new("query", message).into());
    }
    // Positions count in the text as sent, so it is not trimmed.
    let error = if input.query.trim().is_empty() {
        None
    } else {
        Filter::parse(&input.query, user.tz, now()).err().map(|e| FilterProblem {
            message: e.to_string(),
            position: e.position,
            expected: e.expected,
            found: e.found,
        })
    };
    Ok(axum::Json(FilterCheckResult { ok: error.is_none(), error }))
}

/// The caller's saved filters, in order.
#[utoipa::path(get, path = "/api/v1/filters", tag = "filters", security(("bearer" = [])),
    responses((status = 200, body = FilterList), (status = 401, body = ErrorBody)))]
pub async fn list_filters(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
) -> Result<axum::Json<FilterList>, ApiError> {
    let items = state.store.saved_filters(&user.profile.id).await?.into_iter().map(Into::into).collect();
    Ok(axum::Json(FilterList { items }))
}

/// Save a filter (at the end of the list). A query that does not parse is a 422 with
/// its position; at most 100 filters.
#[utoipa::path(post, path = "/api/v1/filters", tag = "filters", security(("bearer" = [])), request_body = NewFilter,
    responses((status = 201, body = FilterView), (status = 401, body = ErrorBody), (status = 409, description = "100 filters already", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn create_filter(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Json(input): Json<NewFilter>,
) -> Result<(StatusCode, axum::Json<FilterView>), ApiError> {
    let name = valid_name(&input.name)?;
    let query = valid_query(&input.query, &user)?;
    valid_color(input.color.as_deref())?;
    let existing = state.store.saved_filters(&user.profile.id).await?;
    if existing.len() >= MAX_FILTERS {
        return Err(ApiError::Conflict {
            code: "too_many_filters",
            message: format!("at most {MAX_FILTERS} saved filters"),
        });
    }
    let now = now();
    let filter = SavedFilter {
        id: errand_domain::new_id(),
        user_id: user.profile.id.clone(),
        name,
        query,
        color: input.color,
        position: existing.iter().map(|f| f.position + 1).max().unwrap_or(0),
        created_at: now,
        updated_at: now,
    };
    state.store.put_saved_filter(&filter).await?;
    Ok((StatusCode::CREATED, axum::Json(filter.into())))
}

/// Change a saved filter's name, query, colour or place.
#[utoipa::path(patch, path = "/api/v1/filters/{id}", tag = "filters", security(("bearer" = [])), request_body = FilterChange,
    params(("id" = String, Path, description = "filter id")),
    responses((status = 200, body = FilterView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn update_filter(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    Json(change): Json<FilterChange>,
) -> Result<axum::Json<FilterView>, ApiError> {
    let mut filter = state.store.saved_filter(&user.profile.id, &id).await?.ok_or(ApiError::NotFound("filter"))?;
    if let Some(name) = &change.name {
        filter.name = valid_name(name)?;
    }
    if let Some(query) = &change.query {
        filter.query = valid_query(query, &user)?;
    }
    if let Some(color) = change.color {
        valid_color(color.as_deref())?;
        filter.color = color;
    }
    if let Some(position) = change.position {
        if !(0..=1_000_000).contains(&position) {
            return Err(Invalid::new("position", "must be between 0 and 1000000").into());
        }
        filter.position = position;
    }
    filter.updated_at = now();
    state.store.put_saved_filter(&filter).await?;
    Ok(axum::Json(filter.into()))
}

/// Delete a saved filter.
#[utoipa::path(delete, path = "/api/v1/filters/{id}", tag = "filters", security(("bearer" = [])),
    params(("id" = String, Path, description = "filter id")),
    responses((status = 204, description = "deleted"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_filter(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if state.store.delete_saved_filter(&user.profile.id, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("filter"))
    }
}

/// The caller's tags, by name, each with its count of open tasks.
#[utoipa::path(get, path = "/api/v1/tags", tag = "tasks", security(("bearer" = [])),
    responses((status = 200, body = TagList), (status = 401, body = ErrorBody)))]
pub async fn list_tags(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
) -> Result<axum::Json<TagList>, ApiError> {
    let items = state
        .store
        .tag_counts(&user.profile.id)
        .await?
        .into_iter()
        .map(|(name, count)| TagCount { name, count })
        .collect();
    Ok(axum::Json(TagList { items }))
}
