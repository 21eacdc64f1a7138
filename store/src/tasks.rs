use chrono::{DateTime, Utc};
use errand_domain::{event::OutboundEvent, Priority, Status, Task};
use serde::Serialize;

use crate::group_commit::{OutboxRow, TaskRowValues};
use crate::outbox::{append_outbox, event_payloads, OUTBOX_CHANNEL};
use crate::{corrupt, from_ms, on_read, on_write, to_ms, Store, StoreError, StoreResult};

/// A response stored under an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotentResponse {
    /// Hash of the request that used the key first.
    pub request_hash: String,
    /// Its status code.
    pub status: u16,
    /// Its JSON body.
    pub body: String,
}

/// What inserting a task under an idempotency key did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InsertOutcome {
    /// The task and its events were committed.
    Inserted,
    /// A concurrent request committed the same key first; nothing was written.
    KeyTaken,
}

#[derive(sqlx::FromRow)]
struct TaskRow {
    id: String,
    user_id: String,
    title: String,
    description: String,
    status: String,
    priority: i64,
    tags: String,
    due_at: Option<i64>,
    all_day: bool,
    reminders: String,
    recurrence: Option<String>,
    series_id: Option<String>,
    completed_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
    version: i64,
}

const TASK_COLUMNS: &str = "id, user_id, title, description, status, priority, tags, due_at, all_day, \
     reminders, recurrence, series_id, completed_at, created_at, updated_at, version";

impl TaskRow {
    fn into_task(self) -> StoreResult<Task> {
        Ok(Task {
            status: Status::parse(&self.status).ok_or_else(|| corrupt("status", &self.status))?,
            priority: Priority::from_rank(self.priority).ok_or_else(|| corrupt("priority", self.priority))?,
            tags: serde_json::from_str(&self.tags).map_err(|e| corrupt("tags", e))?,
            due_at: self.due_at.map(from_ms).transpose()?,
            reminders: serde_json::from_str(&self.reminders).map_err(|e| corrupt("reminders", e))?,
            recurrence: self
                .recurrence
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|e| corrupt("recurrence", e))?,
            completed_at: self.completed_at.map(from_ms).transpose()?,
            created_at: from_ms(self.created_at)?,
            updated_at: from_ms(self.updated_at)?,
            id: self.id,
            user_id: self.user_id,
            title: self.title,
            description: self.description,
            all_day: self.all_day,
            series_id: self.series_id,
            version: self.version,
        })
    }
}

/// The JSON-encoded columns of a task.
struct Encoded {
    tags: String,
    reminders: String,
    recurrence: Option<String>,
}

fn encode(task: &Task) -> StoreResult<Encoded> {
    fn json<T: Serialize>(value: &T) -> StoreResult<String> {
        serde_json::to_string(value).map_err(|e| corrupt("encode", e))
    }
    Ok(Encoded {
        tags: json(&task.tags)?,
        reminders: json(&task.reminders)?,
        recurrence: task.recurrence.as_ref().map(json).transpose()?,
    })
}

fn row_values(task: &Task, enc: Encoded) -> TaskRowValues {
    TaskRowValues {
        id: task.id.clone(),
        user_id: task.user_id.clone(),
        title: task.title.clone(),
        description: task.description.clone(),
        status: task.status.as_str(),
        priority: task.priority.rank(),
        tags: enc.tags,
        due_at: task.due_at.map(to_ms),
        all_day: task.all_day,
        reminders: enc.reminders,
        recurrence: enc.recurrence,
        series_id: task.series_id.clone(),
        completed_at: task.completed_at.map(to_ms),
        created_at: to_ms(task.created_at),
        updated_at: to_ms(task.updated_at),
        version: task.version,
    }
}

/// What [`Store::modify_task`] should do with the task it read.
// One short-lived value per write: boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Modification {
    /// Nothing to write.
    Unchanged,
    /// Store this next version, with its events.
    Update {
        /// The new version of the task.
        task: Task,
        /// Events committed with it.
        events: Vec<OutboundEvent>,
    },
    /// Delete the task, committing these events.
    Delete {
        /// Events committed with the deletion.
        events: Vec<OutboundEvent>,
    },
}

/// What [`Store::modify_task`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modified {
    /// Nothing was written; the current task.
    Unchanged(Task),
    /// The task as stored now.
    Updated(Task),
    /// The task as it was before deletion.
    Deleted(Task),
}

/// Inserts the row of `$task` (with its JSON columns `$enc`) inside the transaction `$tx`.
macro_rules! insert_task_row {
    ($tx:expr, $task:expr, $enc:expr) => {
        sqlx::query(
            "INSERT INTO tasks (id, user_id, title, description, status, priority, tags, due_at, \
             all_day, reminders, recurrence, series_id, completed_at, created_at, updated_at, version) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(&$task.id)
        .bind(&$task.user_id)
        .bind(&$task.title)
        .bind(&$task.description)
        .bind($task.status.as_str())
        .bind($task.priority.rank())
        .bind(&$enc.tags)
        .bind($task.due_at.map(to_ms))
        .bind($task.all_day)
        .bind(&$enc.reminders)
        .bind(&$enc.recurrence)
        .bind(&$task.series_id)
        .bind($task.completed_at.map(to_ms))
        .bind(to_ms($task.created_at))
        .bind(to_ms($task.updated_at))
        .bind($task.version)
        .execute(&mut *$tx)
        .await?;
    };
}

/// How long an idempotency key is remembered.
pub const IDEMPOTENCY_TTL: chrono::Duration = chrono::Duration::hours(24);

impl Store {
    /// Inserts a new task with its events, and, when given, the response to replay
    /// for its idempotency key — all in one transaction.
    pub async fn insert_task(
        &self,
        task: &Task,
        events: &[OutboundEvent],
        idempotency: Option<(&str, &IdempotentResponse)>,
    ) -> StoreResult<InsertOutcome> {
        let enc = encode(task)?;
        let payloads = event_payloads(events)?;
        if let (Some(creations), None) = (&self.creations, idempotency) {
            let rows = payloads
                .into_iter()
                .map(|(event, payload)| OutboxRow {
                    event_id: event.event.id.clone(),
                    topic: event.topic,
                    event_type: event.event.event_type.clone(),
                    subject: event.event.subject.clone(),
                    user_id: event.user_id.clone(),
                    payload,
                    created_at: to_ms(event.event.time),
                })
                .collect();
            let written = creations.commit(row_values(task, enc), rows).await?;
            self.outbox_committed(&written);
            return Ok(InsertOutcome::Inserted);
        }
        let notify = self.notify_sql(OUTBOX_CHANNEL);
        let now = to_ms(task.created_at);
        let outcome: Result<InsertOutcome, sqlx::Error> = on_write!(self, |pool| {
            let mut tx = pool.begin().await?;
            if let Some((key, response)) = idempotency {
                sqlx::query("DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND created_at < $3")
                    .bind(&task.user_id)
                    .bind(key)
                    .bind(now - IDEMPOTENCY_TTL.num_milliseconds())
                    .execute(&mut *tx)
                    .await?;
                let claimed = sqlx::query(
                    "INSERT INTO idempotency_keys (user_id, key, request_hash, status_code, response_body, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (user_id, key) DO NOTHING",
                )
                .bind(&task.user_id)
                .bind(key)
                .bind(&response.request_hash)
                .bind(i64::from(response.status))
                .bind(&response.body)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if claimed == 0 {
                    tx.rollback().await?;
                    return Ok(InsertOutcome::KeyTaken);
                }
            }
            insert_task_row!(tx, task, enc);
            let written = append_outbox!(tx, &payloads, notify);
            tx.commit().await?;
            self.outbox_committed(&written);
            Ok(InsertOutcome::Inserted)
        });
        Ok(outcome?)
    }

    /// Inserts many tasks in one transaction, without events: for imports and
    /// benchmarks that build derived data (the search index) afterwards.
    pub async fn insert_tasks_bulk(&self, tasks: &[Task]) -> StoreResult<()> {
        let encoded = tasks.iter().map(|t| encode(t).map(|e| (t, e))).collect::<StoreResult<Vec<_>>>()?;
        on_write!(self, |pool| async {
            let mut tx = pool.begin().await?;
            for (task, enc) in &encoded {
                insert_task_row!(tx, task, enc);
            }
            tx.commit().await
        }
        .await)?;
        Ok(())
    }

    /// The response remembered for `key`, if it is younger than a day.
    pub async fn idempotent_response(
        &self,
        user_id: &str,
        key: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<IdempotentResponse>> {
        let row: Option<(String, i64, String)> = on_read!(self, |pool| {
            sqlx::query_as(
                "SELECT request_hash, status_code, response_body FROM idempotency_keys \
                 WHERE user_id = $1 AND key = $2 AND created_at >= $3",
            )
            .bind(user_id)
            .bind(key)
            .bind(to_ms(now - IDEMPOTENCY_TTL))
            .fetch_optional(pool)
            .await
        })?;
        row.map(|(request_hash, status, body)| {
            Ok(IdempotentResponse {
                request_hash,
                status: u16::try_from(status).map_err(|e| corrupt("status_code", e))?,
                body,
            })
        })
        .transpose()
    }

    /// Forgets idempotency keys older than a day. Returns how many were removed.
    pub async fn prune_idempotency_keys(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let cutoff = to_ms(now - IDEMPOTENCY_TTL);
        let removed = on_write!(self, |pool| {
            sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
                .bind(cutoff)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(removed)
    }

    /// Every user's tasks in id order, after `after_id`: for rebuilding indexes.
    pub async fn tasks_after(&self, after_id: Option<&str>, limit: i64) -> StoreResult<Vec<Task>> {
        let sql = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id > $1 ORDER BY id LIMIT $2");
        let rows: Vec<TaskRow> =
            on_read!(self, |pool| sqlx::query_as(&sql).bind(after_id.unwrap_or("")).bind(limit).fetch_all(pool).await)?;
        rows.into_iter().map(TaskRow::into_task).collect()
    }

    /// One task of one user.
    pub async fn get_task(&self, user_id: &str, id: &str) -> StoreResult<Option<Task>> {
        let sql = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = $1 AND user_id = $2");
        let row: Option<TaskRow> =
            on_read!(self, |pool| sqlx::query_as(&sql).bind(id).bind(user_id).fetch_optional(pool).await)?;
        row.map(TaskRow::into_task).transpose()
    }

    /// Reads a task of `user_id` and applies `change` to it in one write
    /// transaction: the row is locked (PostgreSQL `FOR UPDATE`; SQLite has a single
    /// writer), so concurrent changes to one task queue instead of racing. `change`
    /// decides from the current task; its error aborts the transaction.
    /// `Ok(None)` when the task does not exist (or belongs to someone else).
    pub async fn modify_task<E, F>(&self, user_id: &str, id: &str, change: F) -> Result<Option<Modified>, E>
    where
        E: From<StoreError>,
        F: FnOnce(Task) -> Result<Modification, E>,
    {
        let lock = match self.db {
            crate::Db::Postgres(_) => " FOR UPDATE",
            crate::Db::Sqlite { .. } => "",
        };
        let select = format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = $1 AND user_id = $2{lock}");
        let notify = self.notify_sql(OUTBOX_CHANNEL);
        // The async block scopes `?` and `return` to this transaction.
        let result: Result<Result<Option<Modified>, E>, sqlx::Error> = on_write!(self, |pool| async {
            let mut tx = pool.begin().await?;
            let row: Option<TaskRow> = sqlx::query_as(&select).bind(id).bind(user_id).fetch_optional(&mut *tx).await?;
            let Some(row) = row else { return Ok(Ok(None)) };
            let mut written = Vec::new();
            let current = match row.into_task() {
                Ok(task) => task,
                Err(e) => return Ok(Err(E::from(e))),
            };
            let modification = match change(current.clone()) {
                Ok(m) => m,
                Err(e) => return Ok(Err(e)),
            };
            let outcome = match modification {
                Modification::Unchanged => Modified::Unchanged(current),
                Modification::Update { task, events } => {
                    let (enc, payloads) = match encode(&task).and_then(|enc| Ok((enc, event_payloads(&events)?))) {
                        Ok(encoded) => encoded,
                        Err(e) => return Ok(Err(E::from(e))),
                    };
                    sqlx::query(
                        "UPDATE tasks SET title = $3, description = $4, status = $5, priority = $6, tags = $7, \
                         due_at = $8, all_day = $9, reminders = $10, recurrence = $11, series_id = $12, \
                         completed_at = $13, updated_at = $14, version = $15 WHERE id = $1 AND user_id = $2",
                    )
                    .bind(&task.id)
                    .bind(&task.user_id)
                    .bind(&task.title)
                    .bind(&task.description)
                    .bind(task.status.as_str())
                    .bind(task.priority.rank())
                    .bind(&enc.tags)
                    .bind(task.due_at.map(to_ms))
                    .bind(task.all_day)
                    .bind(&enc.reminders)
                    .bind(&enc.recurrence)
                    .bind(&task.series_id)
                    .bind(task.completed_at.map(to_ms))
                    .bind(to_ms(task.updated_at))
                    .bind(task.version)
                    .execute(&mut *tx)
                    .await?;
                    written = append_outbox!(tx, &payloads, notify);
                    Modified::Updated(task)
                }
                Modification::Delete { events } => {
                    let payloads = match event_payloads(&events) {
                        Ok(p) => p,
                        Err(e) => return Ok(Err(E::from(e))),
                    };
                    sqlx::query("DELETE FROM tasks WHERE id = $1 AND user_id = $2")
                        .bind(id)
                        .bind(user_id)
                        .execute(&mut *tx)
                        .await?;
                    written = append_outbox!(tx, &payloads, notify);
                    Modified::Deleted(current)
                }
            };
            tx.commit().await?;
            self.outbox_committed(&written);
            Ok(Ok(Some(outcome)))
        }
        .await);
        result.map_err(|e| E::from(StoreError::from(e)))?
    }
}
