//! Sessions: the server side of access tokens. A token names its session, and a
//! session can end before the token expires.

use chrono::{DateTime, Utc};

use crate::{from_ms, on_read, on_write, to_ms, Store, StoreResult};

/// One signed-in session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// Session id (the token's `sid`).
    pub id: String,
    /// Whose.
    pub user_id: String,
    /// When it began (sign-up or log-in).
    pub created_at: DateTime<Utc>,
    /// When its token expires.
    pub expires_at: DateTime<Utc>,
    /// When it was ended early (log-out, password change).
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: String,
    user_id: String,
    created_at: i64,
    expires_at: i64,
    revoked_at: Option<i64>,
}

impl SessionRow {
    fn into_record(self) -> StoreResult<SessionRecord> {
        Ok(SessionRecord {
            id: self.id,
            user_id: self.user_id,
            created_at: from_ms(self.created_at)?,
            expires_at: from_ms(self.expires_at)?,
            revoked_at: self.revoked_at.map(from_ms).transpose()?,
        })
    }
}

impl Store {
    /// Records a new session.
    pub async fn create_session(&self, session: &SessionRecord) -> StoreResult<()> {
        on_write!(self, |pool| {
            sqlx::query(
                "INSERT INTO sessions (id, user_id, created_at, expires_at, revoked_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&session.id)
            .bind(&session.user_id)
            .bind(to_ms(session.created_at))
            .bind(to_ms(session.expires_at))
            .bind(session.revoked_at.map(to_ms))
            .execute(pool)
            .await
            .map(|_| ())
        })?;
        Ok(())
    }

    /// A session by id, live or not.
    pub async fn session(&self, id: &str) -> StoreResult<Option<SessionRecord>> {
        let row: Option<SessionRow> = on_read!(self, |pool| {
            sqlx::query_as("SELECT id, user_id, created_at, expires_at, revoked_at FROM sessions WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await
        })?;
        row.map(SessionRow::into_record).transpose()
    }

    /// Ends one session. False when it was unknown or had already ended.
    pub async fn revoke_session(&self, id: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let rows = on_write!(self, |pool| {
            sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
                .bind(id)
                .bind(to_ms(at))
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(rows == 1)
    }

    /// Ends every live session of a user but `keep`; returns how many ended.
    pub async fn revoke_sessions(&self, user_id: &str, keep: Option<&str>, at: DateTime<Utc>) -> StoreResult<u64> {
        on_write!(self, |pool| {
            sqlx::query("UPDATE sessions SET revoked_at = $3 WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL")
                .bind(user_id)
                .bind(keep.unwrap_or(""))
                .bind(to_ms(at))
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })
        .map_err(Into::into)
    }

    /// Forgets sessions that expired or were ended before `before`; returns how many.
    pub async fn prune_sessions(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        on_write!(self, |pool| {
            sqlx::query("DELETE FROM sessions WHERE expires_at < $1 OR revoked_at < $1")
                .bind(to_ms(before))
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })
        .map_err(Into::into)
    }
}
