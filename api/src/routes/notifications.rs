use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use errand_store::{Notification, Store};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::auth::Sessions;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{AuthUser, Caller, Query};
use crate::limits::StreamSlot;
use crate::tasks::now;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/notifications", get(list_notifications))
        .route("/notifications/stream", get(stream_notifications))
        .route("/notifications/{id}/read", post(mark_read))
}

/// Heartbeat interval of the notification stream.
const HEARTBEAT: Duration = Duration::from_secs(15);
/// Re-check interval when no commit signal arrives (another process wrote on SQLite).
const FALLBACK_POLL: Duration = Duration::from_secs(5);

/// A notification for the caller.
#[derive(Serialize, ToSchema)]
pub struct NotificationView {
    /// Notification id.
    pub id: String,
    /// `reminder`, `confirmation`, `recurring` or `workflow_failed`.
    pub kind: String,
    /// The task it is about.
    pub task_id: Option<String>,
    /// Headline.
    pub title: String,
    /// Text.
    pub body: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was marked read.
    pub read_at: Option<DateTime<Utc>>,
}

impl From<Notification> for NotificationView {
    fn from(n: Notification) -> Self {
        NotificationView {
            id: n.id,
            kind: n.kind,
            task_id: n.task_id,
            title: n.title,
            body: n.body,
            created_at: n.created_at,
            read_at: n.read_at,
        }
    }
}

/// A page of notifications.
#[derive(Serialize, ToSchema)]
pub struct NotificationList {
    /// Newest first.
    pub items: Vec<NotificationView>,
    /// Cursor of the next (older) page.
    pub next_cursor: Option<String>,
}

/// Notification list parameters.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NotificationParams {
    /// Only unread ones.
    pub unread: Option<bool>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The caller's notifications, newest first.
#[utoipa::path(get, path = "/api/v1/notifications", tag = "events", security(("bearer" = [])), params(NotificationParams),
    responses((status = 200, body = NotificationList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn list_notifications(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Query(params): Query<NotificationParams>,
) -> Result<axum::Json<NotificationList>, ApiError> {
    let limit = i64::from(super::page_limit(params.limit)?);
    let before = params
        .cursor
        .map(|c| c.parse::<i64>().map_err(|_| ApiError::bad_parameter("cursor", "cursor is malformed")))
        .transpose()?;
    let mut items =
        state.store.notifications(&user.profile.id, params.unread.unwrap_or(false), limit + 1, before).await?;
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(|n| n.seq.to_string())
    } else {
        None
    };
    Ok(axum::Json(NotificationList { items: items.into_iter().map(Into::into).collect(), next_cursor }))
}

/// Mark one of the caller's notifications read.
#[utoipa::path(post, path = "/api/v1/notifications/{id}/read", tag = "events", security(("bearer" = [])),
    params(("id" = String, Path, description = "notification id")),
    responses((status = 200, body = NotificationView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn mark_read(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
) -> Result<axum::Json<NotificationView>, ApiError> {
    let notification = state
        .store
        .mark_notification_read(&user.profile.id, &id, now())
        .await?
        .ok_or(ApiError::NotFound("notification"))?;
    Ok(axum::Json(notification.into()))
}

/// Live notifications as Server-Sent Events (`event: notification`, `id` = position).
/// Reconnect with `Last-Event-ID` to receive exactly the ones missed. Browsers'
/// EventSource cannot send headers: `?access_token=` authenticates too.
#[utoipa::path(get, path = "/api/v1/notifications/stream", tag = "events", security(("bearer" = [])),
    params(("Last-Event-ID" = Option<String>, Header, description = "resume after this event id"),
           ("access_token" = Option<String>, Query, description = "token, for clients that cannot set headers")),
    responses((status = 200, description = "text/event-stream of NotificationView"), (status = 401, body = ErrorBody)))]
pub async fn stream_notifications(
    State(state): State<AppState>,
    Caller { user, session_id, .. }: Caller,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let slot = state.limits.streams.take(&user.profile.id, "notifications")?;
    let resume = headers
        .get("last-event-id")
        .map(|v| {
            v.to_str().ok().and_then(|s| s.trim().parse::<i64>().ok()).ok_or_else(|| ApiError::BadRequest {
                code: "invalid_header",
                message: "Last-Event-ID must be an id this stream sent".into(),
                details: serde_json::json!({ "header": "Last-Event-ID" }),
            })
        })
        .transpose()?;
    let user_id = user.profile.id.clone();
    // A fresh connection starts now; a resumed one right after what it saw last.
    let after = match resume {
        Some(seq) => seq,
        None => state.store.latest_notification_seq(&user_id).await?,
    };
    let feed = Feed {
        store: state.store.clone(),
        signal: state.store.notification_signal(),
        shutdown: state.shutdown.clone(),
        sessions: state.sessions.clone(),
        session_id,
        user_id,
        after,
        pending: VecDeque::new(),
        _slot: slot,
    };
    let stream = futures_util::stream::unfold(feed, |mut feed| async move {
        let next = feed.next().await?;
        Some((Ok(next), feed))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(HEARTBEAT).text("heartbeat")))
}

/// One user's notifications after a position, woken by new notifications.
struct Feed {
    store: Store,
    signal: watch::Receiver<u64>,
    shutdown: watch::Receiver<bool>,
    /// The stream ends when its session does (log-out, password change, disabled account).
    sessions: Sessions,
    session_id: Option<String>,
    user_id: String,
    after: i64,
    pending: VecDeque<Notification>,
    /// This stream's place among the user's open streams.
    _slot: StreamSlot,
}

impl Feed {
    /// The next event; `None` when the server shuts down.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(n) = self.pending.pop_front() {
                let id = n.seq.to_string();
                let view = NotificationView::from(n);
                return Some(Event::default().id(id).event("notification").json_data(view).unwrap_or_default());
            }
            if *self.shutdown.borrow() {
                return None;
            }
            if let Some(session) = &self.session_id {
                if !self.sessions.is_live(session, &self.user_id).await {
                    return None;
                }
            }
            self.signal.borrow_and_update();
            match self.store.notifications_after(&self.user_id, self.after, 100).await {
                Ok(found) if !found.is_empty() => {
                    self.after = found.last().map(|n| n.seq).unwrap_or(self.after);
                    self.pending.extend(found);
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "reading notifications for a stream failed"),
            }
            tokio::select! {
                _ = self.signal.changed() => {}
                _ = tokio::time::sleep(FALLBACK_POLL) => {}
                _ = self.shutdown.wait_for(|stop| *stop) => return None,
            }
        }
    }
}
