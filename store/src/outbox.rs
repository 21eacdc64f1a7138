use crate::{on_read, Store, StoreResult};

/// One committed event waiting in the outbox, in commit order of `seq`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OutboxRecord {
    /// Position in the outbox.
    pub seq: i64,
    /// The CloudEvent id.
    pub event_id: String,
    /// Destination topic.
    pub topic: String,
    /// CloudEvent type, e.g. `task.created`.
    pub event_type: String,
    /// The task id.
    pub subject: Option<String>,
    /// The owner the event concerns.
    pub user_id: String,
    /// The CloudEvents JSON envelope.
    pub payload: String,
}

impl Store {
    /// Up to `limit` outbox events after position `after_seq`, oldest first.
    pub async fn outbox_after(&self, after_seq: i64, limit: i64) -> StoreResult<Vec<OutboxRecord>> {
        let rows = on_read!(self, |pool| {
            sqlx::query_as(
                "SELECT seq, event_id, topic, event_type, subject, user_id, payload FROM outbox \
                 WHERE seq > $1 ORDER BY seq LIMIT $2",
            )
            .bind(after_seq)
            .bind(limit)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows)
    }
}
