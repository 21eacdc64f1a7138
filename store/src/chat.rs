//! Chat conversations and their messages.

use chrono::{DateTime, Utc};

use crate::{from_ms, on_read, on_write, to_ms, Store, StoreResult};

/// A conversation: its memory is the assistant's (JSON), opaque here.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationRecord {
    /// Conversation id.
    pub id: String,
    /// Whose it is.
    pub user_id: String,
    /// Its first message, shortened.
    pub title: String,
    /// What the assistant remembers (JSON).
    pub memory: String,
    /// When it began.
    pub created_at: DateTime<Utc>,
    /// Its last message.
    pub updated_at: DateTime<Utc>,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatMessage {
    /// `user` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
    /// Tool invocations (JSON array).
    pub actions: String,
    /// Confirmations started (JSON array).
    pub confirmations: String,
    /// When it was said.
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct ConversationRow {
    id: String,
    user_id: String,
    title: String,
    memory: String,
    created_at: i64,
    updated_at: i64,
}

impl ConversationRow {
    fn into_record(self) -> StoreResult<ConversationRecord> {
        Ok(ConversationRecord {
            id: self.id,
            user_id: self.user_id,
            title: self.title,
            memory: self.memory,
            created_at: from_ms(self.created_at)?,
            updated_at: from_ms(self.updated_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct MessageRow {
    role: String,
    content: String,
    actions: String,
    confirmations: String,
    created_at: i64,
}

impl Store {
    /// One of a user's conversations.
    pub async fn conversation(&self, user_id: &str, id: &str) -> StoreResult<Option<ConversationRecord>> {
        let row: Option<ConversationRow> = on_read!(self, |pool| {
            sqlx::query_as(
                "SELECT id, user_id, title, memory, created_at, updated_at FROM conversations WHERE user_id = $1 AND id = $2",
            )
            .bind(user_id)
            .bind(id)
            .fetch_optional(pool)
            .await
        })?;
        row.map(ConversationRow::into_record).transpose()
    }

    /// A user's conversations, most recent first, after the `(updated_at, id)` of the
    /// previous page's last one.
    pub async fn conversations(
        &self,
        user_id: &str,
        before: Option<(DateTime<Utc>, String)>,
        limit: i64,
    ) -> StoreResult<Vec<ConversationRecord>> {
        let (before_ms, before_id) = before.map(|(at, id)| (to_ms(at), id)).unwrap_or((i64::MAX, String::new()));
        let rows: Vec<ConversationRow> = on_read!(self, |pool| {
            sqlx::query_as(
                "SELECT id, user_id, title, memory, created_at, updated_at FROM conversations WHERE user_id = $1 \
                 AND (updated_at < $2 OR (updated_at = $2 AND id < $3)) \
                 ORDER BY updated_at DESC, id DESC LIMIT $4",
            )
            .bind(user_id)
            .bind(before_ms)
            .bind(&before_id)
            .bind(limit)
            .fetch_all(pool)
            .await
        })?;
        rows.into_iter().map(ConversationRow::into_record).collect()
    }

    /// Saves a conversation's memory and appends `messages`, in one transaction.
    pub async fn save_conversation(&self, c: &ConversationRecord, messages: &[ChatMessage]) -> StoreResult<()> {
        on_write!(self, |pool| {
            async {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO conversations (id, user_id, title, memory, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (id) DO UPDATE SET memory = excluded.memory, updated_at = excluded.updated_at",
            )
            .bind(&c.id)
            .bind(&c.user_id)
            .bind(&c.title)
            .bind(&c.memory)
            .bind(to_ms(c.created_at))
            .bind(to_ms(c.updated_at))
            .execute(&mut *tx)
            .await?;
            let next: Option<i64> =
                sqlx::query_scalar("SELECT MAX(seq) FROM chat_messages WHERE conversation_id = $1")
                    .bind(&c.id)
                    .fetch_one(&mut *tx)
                    .await?;
            let mut seq = next.unwrap_or(0);
            for m in messages {
                seq += 1;
                sqlx::query(
                    "INSERT INTO chat_messages (conversation_id, seq, role, content, actions, confirmations, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&c.id)
                .bind(seq)
                .bind(&m.role)
                .bind(&m.content)
                .bind(&m.actions)
                .bind(&m.confirmations)
                .bind(to_ms(m.created_at))
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(())
        }
        .await
        })?;
        Ok(())
    }

    /// A conversation's messages, in order.
    pub async fn chat_messages(&self, conversation_id: &str) -> StoreResult<Vec<ChatMessage>> {
        let rows: Vec<MessageRow> = on_read!(self, |pool| {
            sqlx::query_as(
                "SELECT role, content, actions, confirmations, created_at FROM chat_messages \
                 WHERE conversation_id = $1 ORDER BY seq",
            )
            .bind(conversation_id)
            .fetch_all(pool)
            .await
        })?;
        rows.into_iter()
            .map(|r| {
                Ok(ChatMessage {
                    role: r.role,
                    content: r.content,
                    actions: r.actions,
                    confirmations: r.confirmations,
                    created_at: from_ms(r.created_at)?,
                })
            })
            .collect()
    }
}
