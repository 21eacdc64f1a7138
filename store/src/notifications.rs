//! Notifications for people, ordered per user by `seq` (also the SSE event id).

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::outbox::NOTIFICATIONS_CHANNEL;
use crate::{from_ms, on_read, on_write, to_ms, Db, Store, StoreResult};

/// A notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// Position in its user's stream; increases with every notification.
    pub seq: i64,
    /// Notification id.
    pub id: String,
    /// Recipient.
    pub user_id: String,
    /// `reminder`, `confirmation`, `recurring` or `workflow_failed`.
    pub kind: String,
    /// The task it is about.
    pub task_id: Option<String>,
    /// Short headline.
    pub title: String,
    /// Longer text.
    pub body: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When the user marked it read.
    pub read_at: Option<DateTime<Utc>>,
}

/// A notification to create, from the event `event_id`.
#[derive(Debug, Clone)]
pub struct NewNotification {
    /// Notification id.
    pub id: String,
    /// The event it comes from (a notification per event, at most).
    pub event_id: String,
    /// Recipient.
    pub user_id: String,
    /// Kind.
    pub kind: String,
    /// The task it is about.
    pub task_id: Option<String>,
    /// Headline.
    pub title: String,
    /// Text.
    pub body: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct NotificationRow {
    seq: i64,
    id: String,
    user_id: String,
    kind: String,
    task_id: Option<String>,
    title: String,
    body: String,
    created_at: i64,
    read_at: Option<i64>,
}

impl NotificationRow {
    fn into_notification(self) -> StoreResult<Notification> {
        Ok(Notification {
            created_at: from_ms(self.created_at)?,
            read_at: self.read_at.map(from_ms).transpose()?,
            seq: self.seq,
            id: self.id,
            user_id: self.user_id,
            kind: self.kind,
            task_id: self.task_id,
            title: self.title,
            body: self.body,
        })
    }
}

const COLUMNS: &str = "seq, id, user_id, kind, task_id, title, body, created_at, read_at";

impl Store {
    pub(crate) fn notifications_committed(&self) {
        self.signals.notifications.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Changes whenever a notification is created (by this process, or by another one
    /// on PostgreSQL while [`Store::listen_for_commits`] runs).
    pub fn notification_signal(&self) -> watch::Receiver<u64> {
        self.signals.notifications.subscribe()
    }

    /// Creates a notification; `None` when its event already made one.
    pub async fn insert_notification(&self, n: &NewNotification) -> StoreResult<Option<Notification>> {
        // Readers page by seq; on PostgreSQL seq is assigned at insert, so inserts
        // take turns (a transaction-scoped lock) to make seq order commit order.
        let serialize = match self.db {
            Db::Postgres(_) => Some("SELECT pg_advisory_xact_lock(7301)"),
            Db::Sqlite { .. } => None,
        };
        let notify = self.notify_sql(NOTIFICATIONS_CHANNEL);
        let inserted = on_write!(self, |pool| async {
            let mut tx = pool.begin().await?;
            if let Some(lock) = serialize {
                sqlx::query(lock).execute(&mut *tx).await?;
            }
            let rows = sqlx::query(
                "INSERT INTO notifications (id, event_id, user_id, kind, task_id, title, body, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (event_id) DO NOTHING",
            )
            .bind(&n.id)
            .bind(&n.event_id)
            .bind(&n.user_id)
            .bind(&n.kind)
            .bind(&n.task_id)
            .bind(&n.title)
            .bind(&n.body)
            .bind(to_ms(n.created_at))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if rows == 1 {
                if let Some(notify) = notify {
                    sqlx::query(notify).execute(&mut *tx).await?;
                }
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(rows == 1)
        }
        .await)?;
        if !inserted {
            return Ok(None);
        }
        self.notifications_committed();
        self.notification(&n.user_id, &n.id).await
    }

    /// One of a user's notifications.
    pub async fn notification(&self, user_id: &str, id: &str) -> StoreResult<Option<Notification>> {
        let sql = format!("SELECT {COLUMNS} FROM notifications WHERE user_id = $1 AND id = $2");
        let row: Option<NotificationRow> =
            on_read!(self, |pool| sqlx::query_as(&sql).bind(user_id).bind(id).fetch_optional(pool).await)?;
        row.map(NotificationRow::into_notification).transpose()
    }

    /// A user's notifications, newest first, before `before_seq` when given.
    pub async fn notifications(
        &self,
        user_id: &str,
        unread_only: bool,
        limit: i64,
        before_seq: Option<i64>,
    ) -> StoreResult<Vec<Notification>> {
        let unread = if unread_only { " AND read_at IS NULL" } else { "" };
        let sql = format!(
            "SELECT {COLUMNS} FROM notifications WHERE user_id = $1 AND seq < $2{unread} ORDER BY seq DESC LIMIT $3"
        );
        let rows: Vec<NotificationRow> = on_read!(self, |pool| {
            sqlx::query_as(&sql).bind(user_id).bind(before_seq.unwrap_or(i64::MAX)).bind(limit).fetch_all(pool).await
        })?;
        rows.into_iter().map(NotificationRow::into_notification).collect()
    }

    /// A user's notifications after `after_seq`, oldest first (for streaming).
    pub async fn notifications_after(
        &self,
        user_id: &str,
        after_seq: i64,
        limit: i64,
    ) -> StoreResult<Vec<Notification>> {
        let sql = format!("SELECT {COLUMNS} FROM notifications WHERE user_id = $1 AND seq > $2 ORDER BY seq LIMIT $3");
        let rows: Vec<NotificationRow> = on_read!(self, |pool| sqlx::query_as(&sql)
            .bind(user_id)
            .bind(after_seq)
            .bind(limit)
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(NotificationRow::into_notification).collect()
    }

    /// The `seq` of a user's newest notification (0 when none).
    pub async fn latest_notification_seq(&self, user_id: &str) -> StoreResult<i64> {
        let seq: Option<i64> = on_read!(self, |pool| {
            sqlx::query_scalar("SELECT MAX(seq) FROM notifications WHERE user_id = $1")
                .bind(user_id)
                .fetch_one(pool)
                .await
        })?;
        Ok(seq.unwrap_or(0))
    }

    /// Marks one of a user's notifications read (keeping the first read time);
    /// `None` when the user has no such notification.
    pub async fn mark_notification_read(
        &self,
        user_id: &str,
        id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Notification>> {
        on_write!(self, |pool| {
            sqlx::query("UPDATE notifications SET read_at = COALESCE(read_at, $3) WHERE user_id = $1 AND id = $2")
                .bind(user_id)
                .bind(id)
                .bind(to_ms(now))
                .execute(pool)
                .await
                .map(|_| ())
        })?;
        self.notification(user_id, id).await
    }
}
