//! Where chat conversations live: the database (embedded runtime) or the Dapr state
//! store (Dapr runtime, `ERRAND_DAPR_STATESTORE`), one key per conversation plus an
//! index per user.

use std::time::Duration;

use chrono::{DateTime, Utc};

use errand_store::{ChatMessage, ConversationRecord, Store};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// Messages a conversation keeps in the state store (older ones are dropped; the
/// assistant's memory keeps its own summary).
const KEPT_MESSAGES: usize = 200;
/// Conversations listed per user.
const LISTED: usize = 100;

/// Conversation storage; cheap to clone.
#[derive(Clone)]
pub enum Conversations {
    /// Tables `conversations` and `chat_messages`.
    Database(Store),
    /// Dapr's state API at `base` (`{dapr}/v1.0/state/{store}`).
    Dapr {
        /// HTTP client.
        client: reqwest::Client,
        /// `{DAPR_HTTP_ENDPOINT}/v1.0/state/{store}`.
        base: String,
    },
}

#[derive(Serialize, Deserialize)]
struct StoredMessage {
    role: String,
    content: String,
    actions: String,
    confirmations: String,
    created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Serialize, Deserialize)]
struct StoredConversation {
    id: String,
    user_id: String,
    title: String,
    memory: String,
    created_at: chrono::DateTime<chrono::Utc>,
    updated_at: chrono::DateTime<chrono::Utc>,
    messages: Vec<StoredMessage>,
}

fn unavailable(e: impl std::fmt::Display) -> ApiError {
    ApiError::Unavailable(format!("state store: {e}"))
}

impl Conversations {
    /// Conversations in Dapr's state store `store` through daprd at `dapr_http_endpoint`.
    pub fn dapr(dapr_http_endpoint: &str, store: &str) -> Conversations {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap_or_default();
        Conversations::Dapr { client, base: format!("{}/v1.0/state/{store}", dapr_http_endpoint.trim_end_matches('/')) }
    }

    async fn get_key<T: serde::de::DeserializeOwned>(
        client: &reqwest::Client,
        base: &str,
        key: &str,
    ) -> Result<Option<T>, ApiError> {
        let response = client.get(format!("{base}/{key}")).send().await.map_err(unavailable)?;
        if response.status() == reqwest::StatusCode::NO_CONTENT || response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !response.status().is_success() {
            return Err(unavailable(response.status()));
        }
        let text = response.text().await.map_err(unavailable)?;
        if text.trim().is_empty() {
            return Ok(None);
        }
        serde_json::from_str(&text).map(Some).map_err(unavailable)
    }

    async fn stored(&self, user_id: &str, id: &str) -> Result<Option<StoredConversation>, ApiError> {
        let Conversations::Dapr { client, base } = self else { return Ok(None) };
        let found: Option<StoredConversation> = Self::get_key(client, base, &format!("conversation:{id}")).await?;
        Ok(found.filter(|c| c.user_id == user_id))
    }

    /// One of a user's conversations.
    pub async fn get(&self, user_id: &str, id: &str) -> Result<Option<ConversationRecord>, ApiError> {
        match self {
            Conversations::Database(store) => Ok(store.conversation(user_id, id).await?),
            Conversations::Dapr { .. } => Ok(self.stored(user_id, id).await?.map(|c| ConversationRecord {
                id: c.id,
                user_id: c.user_id,
                title: c.title,
                memory: c.memory,
                created_at: c.created_at,
                updated_at: c.updated_at,
            })),
        }
    }

    /// A conversation's messages, in order.
    pub async fn messages(&self, user_id: &str, id: &str) -> Result<Vec<ChatMessage>, ApiError> {
        match self {
            Conversations::Database(store) => Ok(store.chat_messages(id).await?),
            Conversations::Dapr { .. } => Ok(self
                .stored(user_id, id)
                .await?
                .map(|c| c.messages)
                .unwrap_or_default()
                .into_iter()
                .map(|m| ChatMessage {
                    role: m.role,
                    content: m.content,
                    actions: m.actions,
                    confirmations: m.confirmations,
                    created_at: m.created_at,
                })
                .collect()),
        }
    }

    /// A user's conversations, most recent first: up to `limit` after the
    /// `(updated_at, id)` of the previous page's last one.
    pub async fn list(
        &self,
        user_id: &str,
        before: Option<(DateTime<Utc>, String)>,
        limit: usize,
    ) -> Result<Vec<ConversationRecord>, ApiError> {
        match self {
            Conversations::Database(store) => Ok(store.conversations(user_id, before, limit as i64).await?),
            Conversations::Dapr { client, base } => {
                // The state store keeps an index of the newest LISTED: page through it here.
                let ids: Vec<String> =
                    Self::get_key(client, base, &format!("conversations:{user_id}")).await?.unwrap_or_default();
                let mut list = Vec::new();
                for id in ids.iter().rev().take(LISTED) {
                    if let Some(c) = self.get(user_id, id).await? {
                        list.push(c);
                    }
                }
                list.sort_by(|a, b| (&b.updated_at, &b.id).cmp(&(&a.updated_at, &a.id)));
                list.retain(|c| before.as_ref().is_none_or(|(at, id)| (c.updated_at, &c.id) < (*at, id)));
                list.truncate(limit);
                Ok(list)
            }
        }
    }

    /// Saves the conversation (memory included) and appends `messages`.
    pub async fn save(&self, c: &ConversationRecord, messages: &[ChatMessage]) -> Result<(), ApiError> {
        match self {
            Conversations::Database(store) => Ok(store.save_conversation(c, messages).await?),
            Conversations::Dapr { client, base } => {
                let mut stored = self.stored(&c.user_id, &c.id).await?.map(|s| s.messages).unwrap_or_default();
                let is_new = stored.is_empty();
                stored.extend(messages.iter().map(|m| StoredMessage {
                    role: m.role.clone(),
                    content: m.content.clone(),
                    actions: m.actions.clone(),
                    confirmations: m.confirmations.clone(),
                    created_at: m.created_at,
                }));
                let excess = stored.len().saturating_sub(KEPT_MESSAGES);
                stored.drain(..excess);
                let value = StoredConversation {
                    id: c.id.clone(),
                    user_id: c.user_id.clone(),
                    title: c.title.clone(),
                    memory: c.memory.clone(),
                    created_at: c.created_at,
                    updated_at: c.updated_at,
                    messages: stored,
                };
                let mut entries = vec![serde_json::json!({ "key": format!("conversation:{}", c.id), "value": value })];
                if is_new {
                    let index = format!("conversations:{}", c.user_id);
                    let mut ids: Vec<String> = Self::get_key(client, base, &index).await?.unwrap_or_default();
                    ids.push(c.id.clone());
                    let excess = ids.len().saturating_sub(LISTED);
                    ids.drain(..excess);
                    entries.push(serde_json::json!({ "key": index, "value": ids }));
                }
                let response = client.post(base.as_str()).json(&entries).send().await.map_err(unavailable)?;
                if !response.status().is_success() {
                    return Err(unavailable(response.status()));
                }
                Ok(())
            }
        }
    }
}
