//! Consumer bookkeeping: cursors into the outbox, the events each consumer has
//! applied (dedup), and dead letters.

use chrono::{DateTime, Utc};

use crate::{from_ms, on_read, on_write, to_ms, OutboxPosition, Store, StoreResult};

/// An event a consumer gave up on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Dead-letter id.
    pub id: String,
    /// The consumer that failed.
    pub consumer: String,
    /// The CloudEvent id.
    pub event_id: String,
    /// The topic it came from.
    pub topic: String,
    /// The CloudEvents JSON envelope.
    pub payload: String,
    /// The last error.
    pub error: String,
    /// Delivery attempts made.
    pub attempts: i64,
    /// When it was given up on.
    pub created_at: DateTime<Utc>,
    /// When a replay succeeded.
    pub replayed_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct DeadLetterRow {
    id: String,
    consumer: String,
    event_id: String,
    topic: String,
    payload: String,
    error: String,
    attempts: i64,
    created_at: i64,
    replayed_at: Option<i64>,
}

impl DeadLetterRow {
    fn into_letter(self) -> StoreResult<DeadLetter> {
        Ok(DeadLetter {
            created_at: from_ms(self.created_at)?,
            replayed_at: self.replayed_at.map(from_ms).transpose()?,
            id: self.id,
            consumer: self.consumer,
            event_id: self.event_id,
            topic: self.topic,
            payload: self.payload,
            error: self.error,
            attempts: self.attempts,
        })
    }
}

const DEAD_LETTER_COLUMNS: &str = "id, consumer, event_id, topic, payload, error, attempts, created_at, replayed_at";

/// Upserts a consumer cursor inside the transaction `$tx`.
macro_rules! save_cursor {
    ($tx:expr, $consumer:expr, $position:expr, $now:expr) => {
        sqlx::query(
            "INSERT INTO consumer_cursors (consumer, tx, seq, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (consumer) DO UPDATE SET tx = excluded.tx, seq = excluded.seq, updated_at = excluded.updated_at",
        )
        .bind($consumer)
        .bind($position.tx)
        .bind($position.seq)
        .bind(to_ms($now))
        .execute(&mut *$tx)
        .await?;
    };
}

/// Records an applied event inside the transaction `$tx`; evaluates to whether it was new.
macro_rules! mark_applied {
    ($tx:expr, $consumer:expr, $event_id:expr, $now:expr) => {
        sqlx::query(
            "INSERT INTO consumer_events (consumer, event_id, processed_at) VALUES ($1, $2, $3) \
             ON CONFLICT (consumer, event_id) DO NOTHING",
        )
        .bind($consumer)
        .bind($event_id)
        .bind(to_ms($now))
        .execute(&mut *$tx)
        .await?
        .rows_affected()
            == 1
    };
}

impl Store {
    /// How far `consumer` has got; the start of the outbox when it has no cursor yet.
    pub async fn consumer_position(&self, consumer: &str) -> StoreResult<OutboxPosition> {
        let row: Option<(i64, i64)> = on_read!(self, |pool| {
            sqlx::query_as("SELECT tx, seq FROM consumer_cursors WHERE consumer = $1")
                .bind(consumer)
                .fetch_optional(pool)
                .await
        })?;
        Ok(row.map(|(tx, seq)| OutboxPosition { tx, seq }).unwrap_or_default())
    }

    /// Moves `consumer` to `position`, recording the `applied` event ids as applied
    /// in the same transaction.
    pub async fn advance_consumer(
        &self,
        consumer: &str,
        position: OutboxPosition,
        applied: &[String],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        on_write!(self, |pool| async {
            let mut tx = pool.begin().await?;
            // One multi-row insert (in chunks well inside parameter limits).
            for chunk in applied.chunks(500) {
                let mut insert =
                    sqlx::QueryBuilder::new("INSERT INTO consumer_events (consumer, event_id, processed_at) ");
                insert.push_values(chunk, |mut row, event_id| {
                    row.push_bind(consumer).push_bind(event_id).push_bind(to_ms(now));
                });
                insert.push(" ON CONFLICT (consumer, event_id) DO NOTHING");
                insert.build().execute(&mut *tx).await?;
            }
            save_cursor!(tx, consumer, position, now);
            tx.commit().await
        }
        .await)?;
        Ok(())
    }

    /// Which of `event_ids` `consumer` has already applied.
    pub async fn applied_events(
        &self,
        consumer: &str,
        event_ids: &[&str],
    ) -> StoreResult<std::collections::HashSet<String>> {
        let mut applied = std::collections::HashSet::new();
        for chunk in event_ids.chunks(500) {
            let found: Vec<String> = on_read!(self, |pool| {
                let mut query = sqlx::QueryBuilder::new("SELECT event_id FROM consumer_events WHERE consumer = ");
                query.push_bind(consumer).push(" AND event_id IN (");
                let mut ids = query.separated(", ");
                for id in chunk {
                    ids.push_bind(*id);
                }
                query.push(")");
                query.build_query_scalar().fetch_all(pool).await
            })?;
            applied.extend(found);
        }
        Ok(applied)
    }

    /// Whether `consumer` has already applied `event_id`.
    pub async fn event_applied(&self, consumer: &str, event_id: &str) -> StoreResult<bool> {
        let found: i64 = on_read!(self, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM consumer_events WHERE consumer = $1 AND event_id = $2")
                .bind(consumer)
                .bind(event_id)
                .fetch_one(pool)
                .await
        })?;
        Ok(found > 0)
    }

    /// Records that `consumer` applied `event_id`; false when it already had.
    pub async fn record_applied(&self, consumer: &str, event_id: &str, now: DateTime<Utc>) -> StoreResult<bool> {
        let new = on_write!(self, |pool| async {
            let mut tx = pool.begin().await?;
            let new = mark_applied!(tx, consumer, event_id, now);
            tx.commit().await?;
            Ok::<_, sqlx::Error>(new)
        }
        .await)?;
        Ok(new)
    }

    /// Stores a dead letter and, for an outbox consumer, moves its cursor past the
    /// event in the same transaction. A second dead letter for the same consumer and
    /// event replaces the first.
    pub async fn dead_letter(&self, letter: &DeadLetter, advance_to: Option<OutboxPosition>) -> StoreResult<()> {
        on_write!(self, |pool| {
            async {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO dead_letters (id, consumer, event_id, topic, payload, error, attempts, created_at, replayed_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL) \
                 ON CONFLICT (consumer, event_id) DO UPDATE SET error = excluded.error, attempts = excluded.attempts, \
                 created_at = excluded.created_at, replayed_at = NULL",
            )
            .bind(&letter.id)
            .bind(&letter.consumer)
            .bind(&letter.event_id)
            .bind(&letter.topic)
            .bind(&letter.payload)
            .bind(&letter.error)
            .bind(letter.attempts)
            .bind(to_ms(letter.created_at))
            .execute(&mut *tx)
            .await?;
            if let Some(position) = advance_to {
                save_cursor!(tx, &letter.consumer, position, letter.created_at);
            }
            tx.commit().await
        }
        .await
        })?;
        Ok(())
    }

    /// Dead letters, newest first; only those not yet replayed when `pending_only`.
    pub async fn dead_letters(&self, pending_only: bool, limit: i64) -> StoreResult<Vec<DeadLetter>> {
        self.dead_letters_before(pending_only, None, limit).await
    }

    /// How many dead letters are not yet replayed.
    pub async fn dead_letter_count(&self) -> StoreResult<i64> {
        Ok(on_read!(self, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM dead_letters WHERE replayed_at IS NULL").fetch_one(pool).await
        })?)
    }

    /// Dead letters older than `(created_at, id)` of the previous page's last one.
    pub async fn dead_letters_before(
        &self,
        pending_only: bool,
        before: Option<(DateTime<Utc>, String)>,
        limit: i64,
    ) -> StoreResult<Vec<DeadLetter>> {
        let filter = if pending_only { "AND replayed_at IS NULL" } else { "" };
        let (before_ms, before_id) = before.map(|(at, id)| (to_ms(at), id)).unwrap_or((i64::MAX, String::new()));
        let sql = format!(
            "SELECT {DEAD_LETTER_COLUMNS} FROM dead_letters \
             WHERE (created_at < $1 OR (created_at = $1 AND id < $2)) {filter} \
             ORDER BY created_at DESC, id DESC LIMIT $3"
        );
        let rows: Vec<DeadLetterRow> = on_read!(self, |pool| {
            sqlx::query_as(&sql).bind(before_ms).bind(&before_id).bind(limit).fetch_all(pool).await
        })?;
        rows.into_iter().map(DeadLetterRow::into_letter).collect()
    }

    /// One dead letter.
    pub async fn dead_letter_by_id(&self, id: &str) -> StoreResult<Option<DeadLetter>> {
        let sql = format!("SELECT {DEAD_LETTER_COLUMNS} FROM dead_letters WHERE id = $1");
        let row: Option<DeadLetterRow> =
            on_read!(self, |pool| sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)?;
        row.map(DeadLetterRow::into_letter).transpose()
    }

    /// Marks a dead letter replayed, and its event applied by its consumer.
    pub async fn mark_replayed(&self, letter: &DeadLetter, now: DateTime<Utc>) -> StoreResult<()> {
        on_write!(self, |pool| async {
            let mut tx = pool.begin().await?;
            sqlx::query("UPDATE dead_letters SET replayed_at = $2 WHERE id = $1")
                .bind(&letter.id)
                .bind(to_ms(now))
                .execute(&mut *tx)
                .await?;
            let _new = mark_applied!(tx, &letter.consumer, &letter.event_id, now);
            tx.commit().await
        }
        .await)?;
        Ok(())
    }

    /// Forgets applied-event records older than `before`; by then the cursors are
    /// long past those events.
    pub async fn prune_applied_events(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let removed = on_write!(self, |pool| {
            sqlx::query("DELETE FROM consumer_events WHERE processed_at < $1")
                .bind(to_ms(before))
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(removed)
    }
}
