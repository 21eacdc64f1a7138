//! Chat with the assistant: one message at a time, or streamed as Server-Sent Events;
//! conversations are kept per user.

use std::convert::Infallible;

use axum::extract::{Path, State};
use axum::response::sse::{Event, Sse};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use errand_assistant::offline::Clock;
use errand_assistant::{Action, Memory, Reply};
use errand_store::{ChatMessage, ConversationRecord, UserRecord};
use futures_util::stream::Stream;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::chat::ChatHost;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{AuthUser, Json, Query};
use crate::tasks::now;

/// Longest message, in characters.
const MAX_MESSAGE_CHARS: usize = 4000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/chat", post(chat))
        .route("/chat/stream", post(chat_stream))
        .route("/chat/conversations", get(list_conversations))
        .route("/chat/conversations/{id}", get(get_conversation))
}

/// A message to the assistant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatRequest {
    /// Continue this conversation; a new one starts without it.
    #[serde(default)]
    pub conversation_id: Option<String>,
    /// What the user says (1 to 4000 characters).
    #[schema(min_length = 1, max_length = 4000, pattern = "\\S")]
    pub message: String,
}

/// The assistant's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChatResponse {
    /// The conversation (pass it back to continue).
    pub conversation_id: String,
    /// What the assistant says.
    pub reply: String,
    /// The tools it ran: `{tool, arguments, result, tasks}`, `tasks` naming each task
    /// the tool touched or found (`{id, title}`, most relevant first).
    #[schema(value_type = Vec<Object>)]
    pub actions: Vec<Action>,
    /// Confirmations waiting for the user (`POST /confirmations/{id}`).
    #[schema(value_type = Vec<Object>)]
    pub confirmations: Vec<Value>,
}

/// A conversation in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationSummary {
    /// Conversation id.
    pub id: String,
    /// Its first message, shortened.
    pub title: String,
    /// When it began.
    pub created_at: DateTime<Utc>,
    /// Its last message.
    pub updated_at: DateTime<Utc>,
}

/// A conversation with its messages.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationView {
    /// Conversation id.
    pub id: String,
    /// Its first message, shortened.
    pub title: String,
    /// When it began.
    pub created_at: DateTime<Utc>,
    /// Its last message.
    pub updated_at: DateTime<Utc>,
    /// `{role, content, actions, confirmations, created_at}`, in order.
    #[schema(value_type = Vec<Object>)]
    pub messages: Vec<Value>,
}

/// A turn prepared: the conversation, its memory and the tools of the user.
struct Turn {
    conversation: ConversationRecord,
    memory: Memory,
    host: ChatHost,
    message: String,
}

async fn begin(state: &AppState, user: UserRecord, request: ChatRequest) -> Result<Turn, ApiError> {
    state.limits.chat_per_user.admit(&user.profile.id)?;
    let message = request.message.trim().to_string();
    let chars = message.chars().count();
    if chars == 0 || chars > MAX_MESSAGE_CHARS {
        return Err(ApiError::Unprocessable {
            code: "validation_failed",
            message: format!("a message has 1 to {MAX_MESSAGE_CHARS} characters"),
            details: json!({ "field": "message" }),
        });
    }
    let now = now();
    let conversation = match &request.conversation_id {
        Some(id) => state.conversations.get(&user.profile.id, id).await?.ok_or(ApiError::NotFound("conversation"))?,
        None => ConversationRecord {
            id: errand_domain::new_id(),
            user_id: user.profile.id.clone(),
            title: message.chars().take(80).collect(),
            memory: "{}".into(),
            created_at: now,
            updated_at: now,
        },
    };
    let memory: Memory = serde_json::from_str(&conversation.memory).unwrap_or_default();
    let host = ChatHost {
        user,
        tasks: state.tasks.clone(),
        workflows: state.workflows.clone(),
        store: state.store.clone(),
        conversation_id: conversation.id.clone(),
    };
    Ok(Turn { conversation, memory, host, message })
}

async fn finish(state: &AppState, mut turn: Turn, reply: &Reply) -> Result<(), ApiError> {
    let now = now();
    turn.conversation.memory = serde_json::to_string(&turn.memory).map_err(|e| ApiError::Internal(e.to_string()))?;
    turn.conversation.updated_at = now;
    let messages = [
        ChatMessage {
            role: "user".into(),
            content: turn.message.clone(),
            actions: "[]".into(),
            confirmations: "[]".into(),
            created_at: now,
        },
        ChatMessage {
            role: "assistant".into(),
            content: reply.text.clone(),
            actions: serde_json::to_string(&reply.actions).unwrap_or_else(|_| "[]".into()),
            confirmations: serde_json::to_string(&reply.confirmations).unwrap_or_else(|_| "[]".into()),
            created_at: now,
        },
    ];
    state.conversations.save(&turn.conversation, &messages).await?;
    Ok(())
}

fn clock(user: &UserRecord) -> Clock {
    Clock { now: now(), tz: user.tz }
}

/// Talk to the assistant. It acts only as you; deletions return pending confirmations.
#[utoipa::path(post, path = "/api/v1/chat", tag = "chat", security(("bearer" = [])), request_body = ChatRequest,
    responses((status = 200, body = ChatResponse), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn chat(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Json(request): Json<ChatRequest>,
) -> Result<axum::Json<ChatResponse>, ApiError> {
    let mut turn = begin(&state, user, request).await?;
    let clock = clock(&turn.host.user);
    let reply = state.assistant.respond(&turn.host, &mut turn.memory, clock, &turn.message, &mut |_| {}).await;
    let conversation_id = turn.conversation.id.clone();
    finish(&state, turn, &reply).await?;
    Ok(axum::Json(ChatResponse {
        conversation_id,
        reply: reply.text,
        actions: reply.actions,
        confirmations: reply.confirmations,
    }))
}

/// The same as `POST /chat`, as Server-Sent Events: one `action` event per tool run as
/// it happens, then `reply` (the whole `ChatResponse`), then `done`.
#[utoipa::path(post, path = "/api/v1/chat/stream", tag = "chat", security(("bearer" = [])), request_body = ChatRequest,
    responses((status = 200, description = "text/event-stream of action, reply and done events", content_type = "text/event-stream"),
        (status = 401, body = ErrorBody), (status = 404, description = "no such conversation", body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn chat_stream(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Json(request): Json<ChatRequest>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let mut turn = begin(&state, user, request).await?;
    let (events, receiver) = tokio::sync::mpsc::unbounded_channel::<Event>();
    tokio::spawn(async move {
        let clock = clock(&turn.host.user);
        let sender = events.clone();
        let mut on_action = move |action: &Action| {
            let data = serde_json::to_string(action).unwrap_or_default();
            let _ = sender.send(Event::default().event("action").data(data));
        };
        let reply = state.assistant.respond(&turn.host, &mut turn.memory, clock, &turn.message, &mut on_action).await;
        let response = ChatResponse {
            conversation_id: turn.conversation.id.clone(),
            reply: reply.text.clone(),
            actions: reply.actions.clone(),
            confirmations: reply.confirmations.clone(),
        };
        if let Err(e) = finish(&state, turn, &reply).await {
            tracing::error!(error = %e, "could not save the conversation");
        }
        let _ = events.send(Event::default().event("reply").data(serde_json::to_string(&response).unwrap_or_default()));
        let _ = events.send(Event::default().event("done").data("{}"));
    });
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|event| (Ok(event), receiver))
    });
    Ok(Sse::new(stream))
}

/// `GET /chat/conversations` paging.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ConversationQuery {
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A page of conversations.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationList {
    /// Most recent first.
    pub items: Vec<ConversationSummary>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// The caller's conversations, most recent first.
#[utoipa::path(get, path = "/api/v1/chat/conversations", tag = "chat", security(("bearer" = [])),
    params(ConversationQuery),
    responses((status = 200, body = ConversationList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn list_conversations(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Query(query): Query<ConversationQuery>,
) -> Result<axum::Json<ConversationList>, ApiError> {
    let limit = super::page_limit(query.limit)? as usize;
    let cursor = query.cursor.as_deref().map(super::decode_keyset).transpose()?;
    let mut list = state.conversations.list(&user.profile.id, cursor, limit + 1).await?;
    let more = list.len() > limit;
    list.truncate(limit);
    let next_cursor =
        if more { list.last().map(|c| super::encode_keyset(&(c.updated_at, c.id.clone()))) } else { None };
    let items = list
        .into_iter()
        .map(|c| ConversationSummary { id: c.id, title: c.title, created_at: c.created_at, updated_at: c.updated_at })
        .collect();
    Ok(axum::Json(ConversationList { items, next_cursor }))
}

/// One of the caller's conversations with its messages.
#[utoipa::path(get, path = "/api/v1/chat/conversations/{id}", tag = "chat", security(("bearer" = [])),
    params(("id" = String, Path, description = "conversation id")),
    responses((status = 200, body = ConversationView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_conversation(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
) -> Result<axum::Json<ConversationView>, ApiError> {
    let c = state.conversations.get(&user.profile.id, &id).await?.ok_or(ApiError::NotFound("conversation"))?;
    let messages = state.conversations.messages(&user.profile.id, &c.id).await?;
    let parse = |text: &str| serde_json::from_str::<Value>(text).unwrap_or(Value::Array(Vec::new()));
    Ok(axum::Json(ConversationView {
        id: c.id,
        title: c.title,
        created_at: c.created_at,
        updated_at: c.updated_at,
        messages: messages
            .iter()
            .map(|m| {
                json!({
                    "role": m.role,
                    "content": m.content,
                    "actions": parse(&m.actions),
                    "confirmations": parse(&m.confirmations),
                    "created_at": m.created_at,
                })
            })
            .collect(),
    }))
}
