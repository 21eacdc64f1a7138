//! Which workflow instances belong to whom (the sidecar holds their state), and the
//! confirmations that guard destructive actions.

use chrono::{DateTime, Utc};

use crate::{from_ms, on_read, on_write, to_ms, Store, StoreResult};

/// A workflow instance started for a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowRecord {
    /// The instance id (deterministic per kind, e.g. `reminder:<task>:<reminder>:<at>`).
    pub instance_id: String,
    /// Whose it is.
    pub user_id: String,
    /// `reminder`, `recurring` or `confirmation`.
    pub kind: String,
    /// The task it concerns, if any.
    pub task_id: Option<String>,
    /// When it was started.
    pub created_at: DateTime<Utc>,
}

/// A confirmation of a destructive action.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfirmationRecord {
    /// Confirmation id (its workflow is `confirmation:<id>`).
    pub id: String,
    /// Whose it is.
    pub user_id: String,
    /// `pending`, `approved`, `rejected` or `expired`.
    pub status: String,
    /// `approve` or `reject` once a person decided.
    pub decision: Option<String>,
    /// What will be done on approval (JSON).
    pub action: serde_json::Value,
    /// A sentence saying what will be done.
    pub summary: String,
    /// When it was requested.
    pub created_at: DateTime<Utc>,
    /// When it expires unanswered.
    pub expires_at: DateTime<Utc>,
    /// When it was decided or expired.
    pub decided_at: Option<DateTime<Utc>>,
    /// What the action did (JSON), once settled.
    pub result: Option<serde_json::Value>,
}

/// The outcome of recording a person's decision.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Recorded; the workflow may now act on it.
    Recorded(ConfirmationRecord),
    /// Someone decided already, or it expired.
    AlreadySettled(ConfirmationRecord),
    /// No such confirmation of this user.
    NotFound,
}

#[derive(sqlx::FromRow)]
struct WorkflowRow {
    instance_id: String,
    user_id: String,
    kind: String,
    task_id: Option<String>,
    created_at: i64,
}

impl WorkflowRow {
    fn into_record(self) -> StoreResult<WorkflowRecord> {
        Ok(WorkflowRecord {
            instance_id: self.instance_id,
            user_id: self.user_id,
            kind: self.kind,
            task_id: self.task_id,
            created_at: from_ms(self.created_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct ConfirmationRow {
    id: String,
    user_id: String,
    status: String,
    decision: Option<String>,
    action: String,
    summary: String,
    created_at: i64,
    expires_at: i64,
    decided_at: Option<i64>,
    result: Option<String>,
}

impl ConfirmationRow {
    fn into_record(self) -> StoreResult<ConfirmationRecord> {
        let json = |text: &str| {
            serde_json::from_str(text).map_err(|e| crate::StoreError::Corrupt(format!("confirmation json: {e}")))
        };
        Ok(ConfirmationRecord {
            id: self.id,
            user_id: self.user_id,
            status: self.status,
            decision: self.decision,
            action: json(&self.action)?,
            summary: self.summary,
            created_at: from_ms(self.created_at)?,
            expires_at: from_ms(self.expires_at)?,
            decided_at: self.decided_at.map(from_ms).transpose()?,
            result: self.result.as_deref().map(json).transpose()?,
        })
    }
}

const WORKFLOW_COLUMNS: &str = "instance_id, user_id, kind, task_id, created_at";
const CONFIRMATION_COLUMNS: &str =
    "id, user_id, status, decision, action, summary, created_at, expires_at, decided_at, result";

impl Store {
    /// Records an instance started for a user; recording it again changes nothing.
    pub async fn record_workflow(&self, record: &WorkflowRecord) -> StoreResult<()> {
        on_write!(self, |pool| {
            sqlx::query(
                "INSERT INTO workflows (instance_id, user_id, kind, task_id, created_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (instance_id) DO NOTHING",
            )
            .bind(&record.instance_id)
            .bind(&record.user_id)
            .bind(&record.kind)
            .bind(&record.task_id)
            .bind(to_ms(record.created_at))
            .execute(pool)
            .await
            .map(|_| ())
        })?;
        Ok(())
    }

    /// Notes that an instance was ended on purpose (replaced or cancelled).
    pub async fn end_workflow(&self, instance_id: &str) -> StoreResult<()> {
        on_write!(self, |pool| {
            sqlx::query("UPDATE workflows SET ended = $2 WHERE instance_id = $1")
                .bind(instance_id)
                .bind(true)
                .execute(pool)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    /// The instances of `kind` for a task that were not ended on purpose.
    pub async fn live_workflows_of_task(&self, task_id: &str, kind: &str) -> StoreResult<Vec<String>> {
        Ok(on_read!(self, |pool| {
            sqlx::query_scalar(
                "SELECT instance_id FROM workflows WHERE task_id = $1 AND kind = $2 AND ended = $3 ORDER BY instance_id",
            )
            .bind(task_id)
            .bind(kind)
            .bind(false)
            .fetch_all(pool)
            .await
        })?)
    }

    /// Ids of the instances of a user, of a task, or both, newest first.
    pub async fn workflow_ids_of(
        &self,
        user_id: Option<&str>,
        task_id: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<String>> {
        Ok(on_read!(self, |pool| {
            sqlx::query_scalar(
                "SELECT instance_id FROM workflows WHERE ($1 = '' OR user_id = $1) AND ($2 = '' OR task_id = $2) \
                 ORDER BY created_at DESC, instance_id DESC LIMIT $3",
            )
            .bind(user_id.unwrap_or(""))
            .bind(task_id.unwrap_or(""))
            .bind(limit)
            .fetch_all(pool)
            .await
        })?)
    }

    /// The records of these instances (those Errand recorded), in no order.
    pub async fn workflow_records(&self, ids: &[String]) -> StoreResult<Vec<WorkflowRecord>> {
        let mut records = Vec::new();
        // Bounded lists of parameters: both backends take a few hundred at once easily.
        for chunk in ids.chunks(500) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!("SELECT {WORKFLOW_COLUMNS} FROM workflows WHERE instance_id IN ({})", marks.join(", "));
            let rows: Vec<WorkflowRow> = on_read!(self, |pool| {
                let mut query = sqlx::query_as(&sql);
                for id in chunk {
                    query = query.bind(id);
                }
                query.fetch_all(pool).await
            })?;
            for row in rows {
                records.push(row.into_record()?);
            }
        }
        Ok(records)
    }

    /// One of a user's instances.
    pub async fn workflow_of_user(&self, user_id: &str, instance_id: &str) -> StoreResult<Option<WorkflowRecord>> {
        let sql = format!("SELECT {WORKFLOW_COLUMNS} FROM workflows WHERE user_id = $1 AND instance_id = $2");
        let row: Option<WorkflowRow> =
            on_read!(self, |pool| sqlx::query_as(&sql).bind(user_id).bind(instance_id).fetch_optional(pool).await)?;
        row.map(WorkflowRow::into_record).transpose()
    }

    /// A user's instances, newest first, optionally of one kind or task, after the
    /// `(created_at, instance_id)` key of the previous page.
    pub async fn workflows_of_user(
        &self,
        user_id: &str,
        kind: Option<&str>,
        task_id: Option<&str>,
        before: Option<(DateTime<Utc>, String)>,
        limit: i64,
    ) -> StoreResult<Vec<WorkflowRecord>> {
        let (before_ms, before_id) = before.map(|(at, id)| (to_ms(at), id)).unwrap_or((i64::MAX, String::new()));
        let sql = format!(
            "SELECT {WORKFLOW_COLUMNS} FROM workflows WHERE user_id = $1 \
             AND ($2 = '' OR kind = $2) AND ($3 = '' OR task_id = $3) \
             AND (created_at < $4 OR (created_at = $4 AND instance_id < $5)) \
             ORDER BY created_at DESC, instance_id DESC LIMIT $6"
        );
        let rows: Vec<WorkflowRow> = on_read!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(user_id)
                .bind(kind.unwrap_or(""))
                .bind(task_id.unwrap_or(""))
                .bind(before_ms)
                .bind(&before_id)
                .bind(limit)
                .fetch_all(pool)
                .await
        })?;
        rows.into_iter().map(WorkflowRow::into_record).collect()
    }

    /// Stores a new, pending confirmation.
    pub async fn insert_confirmation(&self, c: &ConfirmationRecord) -> StoreResult<()> {
        on_write!(self, |pool| {
            sqlx::query(
                "INSERT INTO confirmations (id, user_id, status, action, summary, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&c.id)
            .bind(&c.user_id)
            .bind(&c.status)
            .bind(c.action.to_string())
            .bind(&c.summary)
            .bind(to_ms(c.created_at))
            .bind(to_ms(c.expires_at))
            .execute(pool)
            .await
            .map(|_| ())
        })?;
        Ok(())
    }

    /// One of a user's confirmations.
    pub async fn confirmation(&self, user_id: &str, id: &str) -> StoreResult<Option<ConfirmationRecord>> {
        let sql = format!("SELECT {CONFIRMATION_COLUMNS} FROM confirmations WHERE user_id = $1 AND id = $2");
        let row: Option<ConfirmationRow> =
            on_read!(self, |pool| sqlx::query_as(&sql).bind(user_id).bind(id).fetch_optional(pool).await)?;
        row.map(ConfirmationRow::into_record).transpose()
    }

    /// A user's confirmations, newest first, optionally only those with `status`.
    pub async fn confirmations(
        &self,
        user_id: &str,
        status: Option<&str>,
        before: Option<(DateTime<Utc>, String)>,
        limit: i64,
    ) -> StoreResult<Vec<ConfirmationRecord>> {
        let (before_ms, before_id) = before.map(|(at, id)| (to_ms(at), id)).unwrap_or((i64::MAX, String::new()));
        let sql = format!(
            "SELECT {CONFIRMATION_COLUMNS} FROM confirmations WHERE user_id = $1 AND ($2 = '' OR status = $2) \
             AND (created_at < $3 OR (created_at = $3 AND id < $4)) \
             ORDER BY created_at DESC, id DESC LIMIT $5"
        );
        let rows: Vec<ConfirmationRow> = on_read!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(user_id)
                .bind(status.unwrap_or(""))
                .bind(before_ms)
                .bind(&before_id)
                .bind(limit)
                .fetch_all(pool)
                .await
        })?;
        rows.into_iter().map(ConfirmationRow::into_record).collect()
    }

    /// Records a person's decision, if the confirmation is still pending and undecided:
    /// of two racing decisions exactly one is recorded.
    pub async fn decide_confirmation(
        &self,
        user_id: &str,
        id: &str,
        decision: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Decision> {
        let recorded = on_write!(self, |pool| {
            sqlx::query(
                "UPDATE confirmations SET decision = $3, decided_at = $4 \
                 WHERE user_id = $1 AND id = $2 AND status = 'pending' AND decision IS NULL AND expires_at > $4",
            )
            .bind(user_id)
            .bind(id)
            .bind(decision)
            .bind(to_ms(now))
            .execute(pool)
            .await
            .map(|done| done.rows_affected() == 1)
        })?;
        Ok(match self.confirmation(user_id, id).await? {
            None => Decision::NotFound,
            Some(c) if recorded => Decision::Recorded(c),
            Some(c) => Decision::AlreadySettled(c),
        })
    }

    /// Settles a confirmation (the workflow's last step): its final status and result.
    pub async fn settle_confirmation(
        &self,
        user_id: &str,
        id: &str,
        status: &str,
        result: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        on_write!(self, |pool| {
            sqlx::query(
                "UPDATE confirmations SET status = $3, result = $4, decided_at = COALESCE(decided_at, $5) \
                 WHERE user_id = $1 AND id = $2 AND status = 'pending'",
            )
            .bind(user_id)
            .bind(id)
            .bind(status)
            .bind(result.to_string())
            .bind(to_ms(now))
            .execute(pool)
            .await
            .map(|done| done.rows_affected() == 1)
        })
        .map_err(Into::into)
    }

    /// Ids of a user's done tasks (what "clear completed" removes).
    pub async fn done_task_ids(&self, user_id: &str) -> StoreResult<Vec<String>> {
        Ok(on_read!(self, |pool| {
            sqlx::query_scalar("SELECT id FROM tasks WHERE user_id = $1 AND status = 'done' ORDER BY id")
                .bind(user_id)
                .fetch_all(pool)
                .await
        })?)
    }
}
