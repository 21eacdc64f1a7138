use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, Utc};
use errand_domain::{event::OutboundEvent, Priority, Status, Task};
use serde::{Deserialize, Serialize};

use crate::outbox::{append_outbox, event_payloads, OUTBOX_CHANNEL};
use crate::{corrupt, from_ms, on_read, on_write, to_ms, Store, StoreError, StoreResult};

/// What lists can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// Due date; tasks without one come last in both directions.
    Due,
    /// Priority rank, `none` lowest.
    Priority,
    /// Creation time.
    Created,
    /// Last change.
    Updated,
    /// Title, ignoring case.
    Title,
}

impl SortKey {
    /// Parses `due`, `-priority`, ...: the key and whether it is descending.
    pub fn parse(text: &str) -> Option<(SortKey, bool)> {
        let (name, descending) = match text.strip_prefix('-') {
            Some(name) => (name, true),
            None => (text, false),
        };
        let key = match name {
            "due" => SortKey::Due,
            "priority" => SortKey::Priority,
            "created" => SortKey::Created,
            "updated" => SortKey::Updated,
            "title" => SortKey::Title,
            _ => return None,
        };
        Some((key, descending))
    }

    /// The SQL expression ordered by. Undated tasks get a sentinel that puts them
    /// last whichever the direction.
    fn expression(self, descending: bool) -> &'static str {
        match (self, descending) {
            (SortKey::Due, false) => "COALESCE(due_at, 9223372036854775807)",
            (SortKey::Due, true) => "COALESCE(due_at, -9223372036854775807)",
            (SortKey::Priority, _) => "priority",
            (SortKey::Created, _) => "created_at",
            (SortKey::Updated, _) => "updated_at",
            (SortKey::Title, _) => "title_key",
        }
    }

    /// The value of [`Self::expression`] for a task, for the next page's cursor.
    fn value_of(self, task: &Task, descending: bool) -> CursorValue {
        match self {
            SortKey::Due => {
                CursorValue::Int(task.due_at.map(to_ms).unwrap_or(if descending { -i64::MAX } else { i64::MAX }))
            }
            SortKey::Priority => CursorValue::Int(task.priority.rank()),
            SortKey::Created => CursorValue::Int(to_ms(task.created_at)),
            SortKey::Updated => CursorValue::Int(to_ms(task.updated_at)),
            SortKey::Title => CursorValue::Text(title_key(&task.title)),
        }
    }
}

fn title_key(title: &str) -> String {
    title.to_lowercase()
}

/// A position in a sorted list: the sort key and id of the last item returned.
/// Opaque to clients (base64 of JSON); bound to the sort it was made for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(rename = "s")]
    sort: String,
    #[serde(rename = "k")]
    key: CursorValue,
    #[serde(rename = "i")]
    id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
enum CursorValue {
    Int(i64),
    Text(String),
}

impl Cursor {
    /// The opaque text form.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Parses a cursor made for `sort`; `None` when it is malformed or for another sort.
    pub fn decode(text: &str, sort: &str) -> Option<Cursor> {
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        let cursor: Cursor = serde_json::from_slice(&bytes).ok()?;
        (cursor.sort == sort).then_some(cursor)
    }
}

/// The filters, order and page of a task list.
#[derive(Debug, Clone)]
pub struct TaskListQuery {
    /// Only tasks with this status; `None` for all.
    pub status: Option<Status>,
    /// Any of these priorities; empty for all.
    pub priorities: Vec<Priority>,
    /// Every one of these tags.
    pub tags: Vec<String>,
    /// Due strictly before.
    pub due_before: Option<DateTime<Utc>>,
    /// Due at or after.
    pub due_after: Option<DateTime<Utc>>,
    /// Sort key and direction.
    pub sort: (SortKey, bool),
    /// The sort as the client wrote it, e.g. `-priority`; cursors are bound to it.
    pub sort_name: String,
    /// Page size.
    pub limit: u32,
    /// Continue after this position.
    pub after: Option<Cursor>,
}

/// One page of a task list.
#[derive(Debug, Clone)]
pub struct TaskPage {
    /// Tasks in order.
    pub items: Vec<Task>,
    /// Cursor of the next page, when there is one.
    pub next_cursor: Option<String>,
    /// Tasks matching the filters, across all pages.
    pub total: i64,
}

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

/// Inserts the tag rows of `$task` inside the transaction `$tx`, in one statement.
macro_rules! insert_tags {
    ($tx:expr, $task:expr) => {
        if !$task.tags.is_empty() {
            let rows: Vec<String> = (0..$task.tags.len()).map(|i| format!("($1, $2, ${})", i + 3)).collect();
            let sql = format!("INSERT INTO task_tags (task_id, user_id, tag) VALUES {}", rows.join(", "));
            let mut insert = sqlx::query(&sql).bind(&$task.id).bind(&$task.user_id);
            for tag in &$task.tags {
                insert = insert.bind(tag);
            }
            insert.execute(&mut *$tx).await?;
        }
    };
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

/// How long an idempotency key is remembered.
pub const IDEMPOTENCY_TTL: chrono::Duration = chrono::Duration::hours(24);

enum Arg {
    Int(i64),
    Text(String),
}

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
            sqlx::query(
                "INSERT INTO tasks (id, user_id, title, title_key, description, status, priority, tags, due_at, \
                 all_day, reminders, recurrence, series_id, completed_at, created_at, updated_at, version) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
            )
            .bind(&task.id)
            .bind(&task.user_id)
            .bind(&task.title)
            .bind(title_key(&task.title))
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
            .bind(to_ms(task.created_at))
            .bind(to_ms(task.updated_at))
            .bind(task.version)
            .execute(&mut *tx)
            .await?;
            insert_tags!(tx, task);
            let written = append_outbox!(tx, &payloads, notify);
            tx.commit().await?;
            self.outbox_committed(&written);
            Ok(InsertOutcome::Inserted)
        });
        Ok(outcome?)
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
                        "UPDATE tasks SET title = $3, title_key = $4, description = $5, status = $6, priority = $7, \
                         tags = $8, due_at = $9, all_day = $10, reminders = $11, recurrence = $12, series_id = $13, \
                         completed_at = $14, updated_at = $15, version = $16 WHERE id = $1 AND user_id = $2",
                    )
                    .bind(&task.id)
                    .bind(&task.user_id)
                    .bind(&task.title)
                    .bind(title_key(&task.title))
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
                    if task.tags != current.tags {
                        sqlx::query("DELETE FROM task_tags WHERE task_id = $1")
                            .bind(&task.id)
                            .execute(&mut *tx)
                            .await?;
                        insert_tags!(tx, task);
                    }
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

    /// One page of a user's tasks.
    pub async fn list_tasks(&self, user_id: &str, query: &TaskListQuery) -> StoreResult<TaskPage> {
        let mut args = vec![Arg::Text(user_id.to_string())];
        let next = |args: &mut Vec<Arg>, arg: Arg| {
            args.push(arg);
            format!("${}", args.len())
        };
        let mut filters = String::from("user_id = $1");
        if let Some(status) = query.status {
            filters += &format!(" AND status = {}", next(&mut args, Arg::Text(status.as_str().into())));
        }
        if !query.priorities.is_empty() {
            let slots: Vec<String> = query.priorities.iter().map(|p| next(&mut args, Arg::Int(p.rank()))).collect();
            filters += &format!(" AND priority IN ({})", slots.join(", "));
        }
        for tag in &query.tags {
            let slot = next(&mut args, Arg::Text(tag.clone()));
            filters += &format!(
                " AND EXISTS (SELECT 1 FROM task_tags tt WHERE tt.task_id = tasks.id AND tt.user_id = $1 AND tt.tag = {slot})"
            );
        }
        if let Some(before) = query.due_before {
            filters += &format!(" AND due_at < {}", next(&mut args, Arg::Int(to_ms(before))));
        }
        if let Some(after) = query.due_after {
            filters += &format!(" AND due_at >= {}", next(&mut args, Arg::Int(to_ms(after))));
        }
        let filter_args = args.len();

        let (key, descending) = query.sort;
        let expr = key.expression(descending);
        let mut page_filters = filters.clone();
        if let Some(cursor) = &query.after {
            let value = match &cursor.key {
                CursorValue::Int(v) => Arg::Int(*v),
                CursorValue::Text(v) => Arg::Text(v.clone()),
            };
            let k = next(&mut args, value);
            let id = next(&mut args, Arg::Text(cursor.id.clone()));
            // Ties break by id in the direction of the sort, so a descending list is
            // exactly the ascending one reversed (undated tasks aside).
            let cmp = if descending { "<" } else { ">" };
            page_filters += &format!(" AND ({expr} {cmp} {k} OR ({expr} = {k} AND id {cmp} {id}))");
        }
        let direction = if descending { "DESC" } else { "ASC" };
        let limit = next(&mut args, Arg::Int(i64::from(query.limit) + 1));
        let page_sql =
            format!("SELECT {TASK_COLUMNS} FROM tasks WHERE {page_filters} ORDER BY {expr} {direction}, id {direction} LIMIT {limit}");
        let count_sql = format!("SELECT COUNT(*) FROM tasks WHERE {filters}");

        let (rows, total): (Vec<TaskRow>, i64) = on_read!(self, |pool| {
            let mut page = sqlx::query_as::<_, TaskRow>(&page_sql);
            for arg in &args {
                page = match arg {
                    Arg::Int(v) => page.bind(*v),
                    Arg::Text(v) => page.bind(v.as_str()),
                };
            }
            let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
            for arg in &args[..filter_args] {
                count = match arg {
                    Arg::Int(v) => count.bind(*v),
                    Arg::Text(v) => count.bind(v.as_str()),
                };
            }
            (page.fetch_all(pool).await?, count.fetch_one(pool).await?)
        });
        let mut items = rows.into_iter().map(TaskRow::into_task).collect::<StoreResult<Vec<_>>>()?;
        let next_cursor = if items.len() > query.limit as usize {
            items.truncate(query.limit as usize);
            items.last().map(|last| {
                Cursor { sort: query.sort_name.clone(), key: key.value_of(last, descending), id: last.id.clone() }
                    .encode()
            })
        } else {
            None
        };
        Ok(TaskPage { items, next_cursor, total })
    }
}
