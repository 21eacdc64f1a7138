//! The audit trail: who did what to which task, and when.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{corrupt, from_ms, on_read, on_write, to_ms, Store, StoreResult};

/// One audit record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Record id.
    pub id: String,
    /// The event it was made from (unique: an event is recorded once).
    pub event_id: String,
    /// Whose task.
    pub user_id: String,
    /// The task.
    pub task_id: Option<String>,
    /// `user`, `assistant`, `workflow:<id>` or `system`.
    pub actor: String,
    /// What happened, e.g. `task.updated`.
    pub action: String,
    /// Changed fields: name -> `{before, after}`.
    pub changes: Option<serde_json::Value>,
    /// When it happened.
    pub at: DateTime<Utc>,
}

/// A page of the audit trail, newest first.
#[derive(Debug, Clone)]
pub struct AuditPage {
    /// Records.
    pub items: Vec<AuditEntry>,
    /// Cursor of the next (older) page.
    pub next_cursor: Option<String>,
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: String,
    event_id: String,
    user_id: String,
    task_id: Option<String>,
    actor: String,
    action: String,
    changes: Option<String>,
    at: i64,
}

#[derive(Serialize, Deserialize)]
struct AuditCursor {
    at: i64,
    id: String,
}

/// Parses an audit cursor; `None` when malformed.
fn decode_cursor(text: &str) -> Option<AuditCursor> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(text).ok()?).ok()
}

impl Store {
    /// Records an entry; false when its event was already recorded.
    pub async fn record_audit(&self, entry: &AuditEntry) -> StoreResult<bool> {
        let changes = entry.changes.as_ref().map(|c| c.to_string());
        let inserted = on_write!(self, |pool| {
            sqlx::query(
                "INSERT INTO audit_log (id, event_id, user_id, task_id, actor, action, changes, at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (event_id) DO NOTHING",
            )
            .bind(&entry.id)
            .bind(&entry.event_id)
            .bind(&entry.user_id)
            .bind(&entry.task_id)
            .bind(&entry.actor)
            .bind(&entry.action)
            .bind(&changes)
            .bind(to_ms(entry.at))
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?;
        Ok(inserted == 1)
    }

    /// Records several entries in one statement, each once (by event id); returns
    /// how many were new.
    pub async fn record_audits(&self, entries: &[AuditEntry]) -> StoreResult<u64> {
        let mut inserted = 0;
        for chunk in entries.chunks(500) {
            inserted += on_write!(self, |pool| {
                let mut insert = sqlx::QueryBuilder::new(
                    "INSERT INTO audit_log (id, event_id, user_id, task_id, actor, action, changes, at) ",
                );
                insert.push_values(chunk, |mut row, entry| {
                    row.push_bind(&entry.id)
                        .push_bind(&entry.event_id)
                        .push_bind(&entry.user_id)
                        .push_bind(&entry.task_id)
                        .push_bind(&entry.actor)
                        .push_bind(&entry.action)
                        .push_bind(entry.changes.as_ref().map(|c| c.to_string()))
                        .push_bind(to_ms(entry.at));
                });
                insert.push(" ON CONFLICT (event_id) DO NOTHING");
                insert.build().execute(pool).await.map(|done| done.rows_affected())
            })?;
        }
        Ok(inserted)
    }

    /// A user's audit trail (optionally of one task), newest first. `cursor` is the
    /// `next_cursor` of the previous page; `None` when it is malformed.
    pub async fn audit_trail(
        &self,
        user_id: &str,
        task_id: Option<&str>,
        limit: i64,
        cursor: Option<&str>,
    ) -> StoreResult<Option<AuditPage>> {
        let after = match cursor {
            Some(text) => match decode_cursor(text) {
                Some(c) => Some(c),
                None => return Ok(None),
            },
            None => None,
        };
        let mut sql = String::from(
            "SELECT id, event_id, user_id, task_id, actor, action, changes, at FROM audit_log WHERE user_id = $1",
        );
        let mut next = 2;
        if task_id.is_some() {
            sql += &format!(" AND task_id = ${next}");
            next += 1;
        }
        if after.is_some() {
            sql += &format!(" AND (at < ${0} OR (at = ${0} AND id < ${1}))", next, next + 1);
            next += 2;
        }
        sql += &format!(" ORDER BY at DESC, id DESC LIMIT ${next}");
        let rows: Vec<AuditRow> = on_read!(self, |pool| {
            let mut query = sqlx::query_as(&sql).bind(user_id);
            if let Some(task_id) = task_id {
                query = query.bind(task_id);
            }
            if let Some(after) = &after {
                query = query.bind(after.at).bind(&after.id);
            }
            query.bind(limit + 1).fetch_all(pool).await
        })?;
        let mut items = rows
            .into_iter()
            .map(|row| {
                Ok(AuditEntry {
                    changes: row
                        .changes
                        .as_deref()
                        .map(serde_json::from_str)
                        .transpose()
                        .map_err(|e| corrupt("changes", e))?,
                    at: from_ms(row.at)?,
                    id: row.id,
                    event_id: row.event_id,
                    user_id: row.user_id,
                    task_id: row.task_id,
                    actor: row.actor,
                    action: row.action,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let limit = usize::try_from(limit).unwrap_or(0);
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|last| {
                let cursor = AuditCursor { at: to_ms(last.at), id: last.id.clone() };
                URL_SAFE_NO_PAD.encode(serde_json::to_vec(&cursor).unwrap_or_default())
            })
        } else {
            None
        };
        Ok(Some(AuditPage { items, next_cursor }))
    }
}
