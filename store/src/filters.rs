//! Saved filters: per user, in the order the user gave them.

use chrono::{DateTime, Utc};

use crate::{from_ms, on_read, on_write, to_ms, Store, StoreResult};

/// A saved filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedFilter {
    /// Id.
    pub id: String,
    /// Owner.
    pub user_id: String,
    /// Name shown in the UI.
    pub name: String,
    /// A query in the filter language.
    pub query: String,
    /// A colour, `#rrggbb`.
    pub color: Option<String>,
    /// Place in the user's list, lowest first.
    pub position: i64,
    /// When it was saved.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct FilterRow {
    id: String,
    user_id: String,
    name: String,
    query: String,
    color: Option<String>,
    position: i64,
    created_at: i64,
    updated_at: i64,
}

impl FilterRow {
    fn into_record(self) -> StoreResult<SavedFilter> {
        Ok(SavedFilter {
            created_at: from_ms(self.created_at)?,
            updated_at: from_ms(self.updated_at)?,
            id: self.id,
            user_id: self.user_id,
            name: self.name,
            query: self.query,
            color: self.color,
            position: self.position,
        })
    }
}

const COLUMNS: &str = "id, user_id, name, query, color, position, created_at, updated_at";

impl Store {
    /// A user's saved filters, in order.
    pub async fn saved_filters(&self, user_id: &str) -> StoreResult<Vec<SavedFilter>> {
        let sql = format!("SELECT {COLUMNS} FROM saved_filters WHERE user_id = $1 ORDER BY position, id");
        let rows: Vec<FilterRow> = on_read!(self, |pool| sqlx::query_as(&sql).bind(user_id).fetch_all(pool).await)?;
        rows.into_iter().map(FilterRow::into_record).collect()
    }

    /// One of a user's saved filters.
    pub async fn saved_filter(&self, user_id: &str, id: &str) -> StoreResult<Option<SavedFilter>> {
        let sql = format!("SELECT {COLUMNS} FROM saved_filters WHERE user_id = $1 AND id = $2");
        let row: Option<FilterRow> =
            on_read!(self, |pool| sqlx::query_as(&sql).bind(user_id).bind(id).fetch_optional(pool).await)?;
        row.map(FilterRow::into_record).transpose()
    }

    /// Saves a new filter or replaces one of the same id (and owner).
    pub async fn put_saved_filter(&self, f: &SavedFilter) -> StoreResult<()> {
        on_write!(self, |pool| {
            sqlx::query(
                "INSERT INTO saved_filters (id, user_id, name, query, color, position, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
                 query = excluded.query, color = excluded.color, position = excluded.position, \
                 updated_at = excluded.updated_at WHERE saved_filters.user_id = excluded.user_id",
            )
            .bind(&f.id)
            .bind(&f.user_id)
            .bind(&f.name)
            .bind(&f.query)
            .bind(&f.color)
            .bind(f.position)
            .bind(to_ms(f.created_at))
            .bind(to_ms(f.updated_at))
            .execute(pool)
            .await
            .map(|_| ())
        })?;
        Ok(())
    }

    /// Deletes one of a user's saved filters; false when there was none.
    pub async fn delete_saved_filter(&self, user_id: &str, id: &str) -> StoreResult<bool> {
        let rows = on_write!(self, |pool| {
            sqlx::query("DELETE FROM saved_filters WHERE user_id = $1 AND id = $2")
                .bind(user_id)
                .bind(id)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(rows == 1)
    }

    /// A user's tags, each with how many of their open tasks carry it (0 for a tag
    /// only done tasks have).
    pub async fn tag_counts(&self, user_id: &str) -> StoreResult<Vec<(String, i64)>> {
        let rows: Vec<(String, String)> = on_read!(self, |pool| {
            sqlx::query_as("SELECT tags, status FROM tasks WHERE user_id = $1 AND tags <> '[]'")
                .bind(user_id)
                .fetch_all(pool)
                .await
        })?;
        let mut counts = std::collections::BTreeMap::<String, i64>::new();
        for (tags, status) in rows {
            let tags: Vec<String> = serde_json::from_str(&tags).map_err(|e| crate::corrupt("tags", e))?;
            for tag in tags {
                *counts.entry(tag).or_default() += i64::from(status == "open");
            }
        }
        Ok(counts.into_iter().collect())
    }
}
