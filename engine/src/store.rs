//! The engine's durable state on SQLite or PostgreSQL: instances, committed history,
//! inboxes (with visibility times for timers and scheduled starts) and activities, with
//! leases. Both backends run the same SQL text; [`with_db!`] expands a block once per
//! backend so each is type-checked against its own driver.

use std::str::FromStr;
use std::time::Duration;

use dapr_durabletask_proto::HistoryEvent;
use prost::Message as _;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::Connection;

use crate::status;
use crate::EngineError;

/// The PostgreSQL schema of the engine's tables.
const POSTGRES_SCHEMA: &str = "errand_engine";

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Clone)]
enum Db {
    /// One writer connection (SQLite allows one writer at a time) and a read pool.
    Sqlite {
        write: SqlitePool,
        read: SqlitePool,
    },
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the writer pool of whichever backend this is.
macro_rules! with_db {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.db {
            Db::Sqlite { write: $pool, .. } => $body,
            Db::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` with `$pool` bound to a pool fit for reads.
macro_rules! with_reader {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.db {
            Db::Sqlite { read: $pool, .. } => $body,
            Db::Postgres($pool) => $body,
        }
    };
}

/// A pool fit for reads, of whichever backend this is (for queries built at run time).
pub(crate) enum Reader {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// What an instance has besides its row: its inbox (visible µs, id, event) and queued
/// activities (queued µs, times handed out, event), and its children (id, name, status).
pub(crate) struct InspectParts {
    pub inbox: Vec<(i64, i64, Vec<u8>)>,
    pub activities: Vec<(i64, i64, Vec<u8>)>,
    pub children: Vec<(String, String, i64)>,
}

/// Handle to the engine database; cheap to clone.
#[derive(Clone)]
pub(crate) struct Store {
    db: Db,
}

/// An instance as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct InstanceRow {
    pub instance_id: String,
    pub name: String,
    pub version: Option<String>,
    pub execution_id: String,
    pub status: i64,
    pub suspended: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub started_at: Option<i64>,
    pub completed_at: Option<i64>,
    pub scheduled_start: Option<i64>,
    pub input: Option<String>,
    pub output: Option<String>,
    pub custom_status: Option<String>,
    pub failure: Option<Vec<u8>>,
    pub parent_instance_id: Option<String>,
    pub parent_app_id: Option<String>,
    pub tags: String,
    pub history_len: i64,
    pub lock_seq: i64,
}

const INSTANCE_COLUMNS: &str = "instance_id, name, version, execution_id, status, suspended, created_at, updated_at, \
     started_at, completed_at, scheduled_start, input, output, custom_status, failure, parent_instance_id, \
     parent_app_id, tags, history_len, lock_seq";

/// Condition on `wf_instances i` (or, renamed, `wf_activities`) that the row is not
/// held by a live engine; `$2` is now.
const FREE: &str =
    "(i.locked_by IS NULL OR i.locked_by NOT IN (SELECT engine_id FROM wf_engines WHERE expires_at >= $2))";

/// An inbox event.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct InboxRow {
    pub id: i64,
    pub execution_id: Option<String>,
    pub event: Vec<u8>,
}

/// An activity claimed for dispatch.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct ActivityRow {
    pub id: i64,
    pub instance_id: String,
    pub execution_id: String,
    pub task_id: i64,
    pub event: Vec<u8>,
    pub dequeue_count: i64,
    pub created_at: i64,
}

/// A new instance: its row and the `ExecutionStarted` event that starts it.
#[derive(Debug, Clone)]
pub(crate) struct NewInstance {
    pub instance_id: String,
    pub name: String,
    pub version: Option<String>,
    pub execution_id: String,
    pub input: Option<String>,
    pub scheduled_start: Option<i64>,
    pub parent_instance_id: Option<String>,
    pub parent_app_id: Option<String>,
    pub tags: String,
    pub started: HistoryEvent,
}

/// An event for some instance's inbox.
#[derive(Debug, Clone)]
pub(crate) struct Message {
    pub instance_id: String,
    /// Set for results that belong to one execution (timers, activities, children).
    pub execution_id: Option<String>,
    pub visible_at: i64,
    pub event: HistoryEvent,
}

/// Everything one workflow turn changes, committed atomically under the instance lock.
#[derive(Debug, Default)]
pub(crate) struct TurnCommit {
    pub instance_id: String,
    pub engine: String,
    pub lock_seq: i64,
    pub consumed: Vec<i64>,
    /// Continue-as-new: the current execution's history and pending work are dropped.
    pub reset_to_execution: Option<String>,
    pub old_execution: String,
    pub history_len: i64,
    pub append: Vec<HistoryEvent>,
    /// Events that go ahead of everything pending in this instance's inbox.
    pub front: Vec<HistoryEvent>,
    pub messages: Vec<Message>,
    pub activities: Vec<(i32, HistoryEvent)>,
    pub creates: Vec<NewInstance>,
    pub status: i32,
    pub suspended: bool,
    pub custom_status: Option<String>,
    pub input: Option<String>,
    pub output: Option<String>,
    pub failure: Option<Vec<u8>>,
    pub completed_at: Option<i64>,
    pub started_at: i64,
    pub now: i64,
}

/// An activity's result for its instance's inbox.
#[derive(Debug)]
pub(crate) struct ActivityResult {
    pub id: i64,
    pub dequeue_count: i64,
    pub instance_id: String,
    pub event: HistoryEvent,
    pub now: i64,
}

/// A write that the engine commits together with others.
#[derive(Debug)]
pub(crate) enum Write {
    Turn(TurnCommit),
    ActivityResult(ActivityResult),
}

/// Queue figures for metrics.
#[derive(Debug, Default)]
pub(crate) struct QueueStats {
    pub by_status: Vec<(i64, i64)>,
    pub ready_events: i64,
    pub oldest_ready_at: Option<i64>,
    pub pending_activities: i64,
    pub oldest_activity_at: Option<i64>,
}

pub(crate) fn encode(event: &HistoryEvent) -> Vec<u8> {
    event.encode_to_vec()
}

pub(crate) fn decode(bytes: &[u8]) -> Result<HistoryEvent, EngineError> {
    HistoryEvent::decode(bytes).map_err(|e| EngineError::Corrupt(e.to_string()))
}

/// Deletes the inbox rows with the given ids inside transaction `$tx`, in one statement.
macro_rules! delete_inbox {
    ($tx:expr, $ids:expr) => {{
        let ids: &[i64] = $ids;
        if !ids.is_empty() {
            let mut delete = sqlx::QueryBuilder::new("DELETE FROM wf_inbox WHERE id IN (");
            let mut list = delete.separated(", ");
            for id in ids {
                list.push_bind(*id);
            }
            delete.push(")");
            delete.build().execute(&mut *$tx).await?;
        }
    }};
}

/// Inserts a new instance (row + start event) inside transaction `$tx`.
macro_rules! insert_instance {
    ($tx:expr, $new:expr, $now:expr) => {{
        let new: &NewInstance = $new;
        sqlx::query(
            "INSERT INTO wf_instances (instance_id, name, version, execution_id, status, created_at, updated_at, \
             scheduled_start, input, parent_instance_id, parent_app_id, tags) \
             VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&new.instance_id)
        .bind(&new.name)
        .bind(&new.version)
        .bind(&new.execution_id)
        .bind(status::PENDING as i64)
        .bind($now)
        .bind(new.scheduled_start)
        .bind(&new.input)
        .bind(&new.parent_instance_id)
        .bind(&new.parent_app_id)
        .bind(&new.tags)
        .execute(&mut *$tx)
        .await?;
        let visible = new.scheduled_start.unwrap_or($now);
        sqlx::query("INSERT INTO wf_inbox (instance_id, lane, visible_at, event) VALUES ($1, 0, $2, $3)")
            .bind(&new.instance_id)
            .bind(visible)
            .bind(encode(&new.started))
            .execute(&mut *$tx)
            .await?;
    }};
}

/// Deletes every trace of one instance inside transaction `$tx`.
macro_rules! delete_instance {
    ($tx:expr, $id:expr) => {{
        for table in ["wf_history", "wf_inbox", "wf_activities", "wf_instances"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE instance_id = $1")).bind($id).execute(&mut *$tx).await?;
        }
    }};
}

/// Adds `$msg` to its instance's inbox inside `$tx`, if that instance exists. Events for
/// an instance whose start is still in the future become visible no earlier than it.
macro_rules! deliver {
    ($tx:expr, $msg:expr) => {{
        let msg: &Message = $msg;
        sqlx::query(
            "INSERT INTO wf_inbox (instance_id, execution_id, lane, visible_at, event) \
             SELECT instance_id, $2, 1, CASE WHEN status = $5 AND scheduled_start > $3 THEN scheduled_start ELSE $3 END, $4 \
             FROM wf_instances WHERE instance_id = $1",
        )
        .bind(&msg.instance_id)
        .bind(&msg.execution_id)
        .bind(msg.visible_at)
        .bind(encode(&msg.event))
        .bind(status::PENDING as i64)
        .execute(&mut *$tx)
        .await?
        .rows_affected()
            > 0
    }};
}

/// Applies one turn inside transaction `$tx`; evaluates to false (having written
/// nothing) when the lock was lost meanwhile.
macro_rules! apply_turn {
    ($tx:expr, $turn:expr) => {{
        let turn: &TurnCommit = $turn;
        'turn: {
            let execution_id = turn.reset_to_execution.as_deref().unwrap_or(&turn.old_execution);
            let history_len =
                if turn.reset_to_execution.is_some() { 0 } else { turn.history_len + turn.append.len() as i64 };
            let held = sqlx::query(
                "UPDATE wf_instances SET locked_by = NULL, execution_id = $4, status = $5, \
             suspended = $6, custom_status = COALESCE($7, custom_status), input = COALESCE($8, input), \
             output = $9, failure = $10, completed_at = $11, started_at = COALESCE(started_at, $12), \
             updated_at = $13, history_len = $14 \
             WHERE instance_id = $1 AND locked_by = $2 AND lock_seq = $3",
            )
            .bind(&turn.instance_id)
            .bind(&turn.engine)
            .bind(turn.lock_seq)
            .bind(execution_id)
            .bind(turn.status as i64)
            .bind(turn.suspended)
            .bind(&turn.custom_status)
            .bind(&turn.input)
            .bind(&turn.output)
            .bind(&turn.failure)
            .bind(turn.completed_at)
            .bind(turn.started_at)
            .bind(turn.now)
            .bind(history_len)
            .execute(&mut *$tx)
            .await?
            .rows_affected();
            if held == 0 {
                break 'turn false;
            }
            delete_inbox!($tx, &turn.consumed);
            if turn.reset_to_execution.is_some() {
                sqlx::query("DELETE FROM wf_history WHERE instance_id = $1")
                    .bind(&turn.instance_id)
                    .execute(&mut *$tx)
                    .await?;
                sqlx::query("DELETE FROM wf_inbox WHERE instance_id = $1 AND execution_id = $2")
                    .bind(&turn.instance_id)
                    .bind(&turn.old_execution)
                    .execute(&mut *$tx)
                    .await?;
                sqlx::query("DELETE FROM wf_activities WHERE instance_id = $1")
                    .bind(&turn.instance_id)
                    .execute(&mut *$tx)
                    .await?;
            }
            if !turn.append.is_empty() {
                let mut insert = sqlx::QueryBuilder::new("INSERT INTO wf_history (instance_id, seq, event) ");
                insert.push_values(turn.append.iter().enumerate(), |mut row, (offset, event)| {
                    row.push_bind(&turn.instance_id)
                        .push_bind(turn.history_len + offset as i64)
                        .push_bind(encode(event));
                });
                insert.build().execute(&mut *$tx).await?;
            }
            for event in &turn.front {
                sqlx::query("INSERT INTO wf_inbox (instance_id, lane, visible_at, event) VALUES ($1, 0, $2, $3)")
                    .bind(&turn.instance_id)
                    .bind(turn.now)
                    .bind(encode(event))
                    .execute(&mut *$tx)
                    .await?;
            }
            if !turn.activities.is_empty() {
                let mut insert = sqlx::QueryBuilder::new(
                    "INSERT INTO wf_activities (instance_id, execution_id, task_id, event, created_at) ",
                );
                insert.push_values(&turn.activities, |mut row, (task_id, event)| {
                    row.push_bind(&turn.instance_id)
                        .push_bind(execution_id)
                        .push_bind(*task_id as i64)
                        .push_bind(encode(event))
                        .push_bind(turn.now);
                });
                insert.build().execute(&mut *$tx).await?;
            }
            for new in &turn.creates {
                let existing: Option<i64> =
                    sqlx::query_scalar("SELECT status FROM wf_instances WHERE instance_id = $1")
                        .bind(&new.instance_id)
                        .fetch_optional(&mut *$tx)
                        .await?;
                match existing {
                    Some(status) if !status::is_terminal(status as i32) => continue,
                    Some(_) => delete_instance!($tx, &new.instance_id),
                    None => {}
                }
                insert_instance!($tx, new, turn.now);
            }
            for message in &turn.messages {
                let _delivered = deliver!($tx, message);
            }
            true
        }
    }};
}

/// Records an activity result inside transaction `$tx` if `(id, dequeue_count)` is still
/// the activity's current dispatch; evaluates to false for a stale or unknown completion.
/// A result for an execution that is over or replaced is dropped.
macro_rules! apply_activity_result {
    ($tx:expr, $result:expr) => {{
        let result: &ActivityResult = $result;
        let execution: Option<String> = sqlx::query_scalar(
            "DELETE FROM wf_activities WHERE id = $1 AND dequeue_count = $2 AND instance_id = $3 \
             RETURNING execution_id",
        )
        .bind(result.id)
        .bind(result.dequeue_count)
        .bind(&result.instance_id)
        .fetch_optional(&mut *$tx)
        .await?;
        match execution {
            None => false,
            Some(execution) => {
                sqlx::query(
                    "INSERT INTO wf_inbox (instance_id, execution_id, lane, visible_at, event) \
                     SELECT instance_id, execution_id, 1, $3, $4 FROM wf_instances \
                     WHERE instance_id = $1 AND execution_id = $2 AND completed_at IS NULL",
                )
                .bind(&result.instance_id)
                .bind(&execution)
                .bind(result.now)
                .bind(encode(&result.event))
                .execute(&mut *$tx)
                .await?;
                true
            }
        }
    }};
}

impl Store {
    /// Connects to `url` (`sqlite://path`, `sqlite::memory:` or `postgres://...`) and migrates.
    pub async fn open(url: &str) -> Result<Store, EngineError> {
        let store = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(5));
            let memory = url.contains(":memory:") || url.contains("mode=memory");
            let write = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options.clone())
                .await?;
            // An in-memory database lives in its one connection: share it.
            let read = if memory {
                write.clone()
            } else {
                SqlitePoolOptions::new().max_connections(4).connect_with(options.read_only(true)).await?
            };
            Store { db: Db::Sqlite { write, read } }
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            // The engine keeps its tables (and its migration history) in a schema of its
            // own, so it can share a database with Errand's task store.
            let options = PgConnectOptions::from_str(url)?;
            let mut admin = PgConnection::connect_with(&options).await?;
            sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {POSTGRES_SCHEMA}")).execute(&mut admin).await?;
            admin.close().await?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(5))
                .connect_with(options.options([("search_path", POSTGRES_SCHEMA)]))
                .await?;
            Store { db: Db::Postgres(pool) }
        } else {
            return Err(EngineError::UnsupportedUrl(url.to_string()));
        };
        match &store.db {
            Db::Sqlite { write, .. } => SQLITE_MIGRATIONS.run(write).await?,
            Db::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(store)
    }

    /// True on PostgreSQL, where several engines may share the database.
    pub fn is_shared(&self) -> bool {
        matches!(self.db, Db::Postgres(_))
    }

    pub async fn close(&self) {
        match &self.db {
            Db::Sqlite { write, read } => {
                read.close().await;
                write.close().await;
            }
            Db::Postgres(pool) => pool.close().await,
        }
    }

    /// Creates an instance; false when the id is taken (whatever that instance's status:
    /// the SDK's own suite expects any reuse by a client to be refused).
    pub async fn create_instance(&self, new: &NewInstance, now: i64) -> Result<bool, EngineError> {
        with_db!(self, |pool| {
            let mut tx = pool.begin().await?;
            let existing: Option<i64> = sqlx::query_scalar("SELECT status FROM wf_instances WHERE instance_id = $1")
                .bind(&new.instance_id)
                .fetch_optional(&mut *tx)
                .await?;
            if existing.is_some() {
                return Ok(false);
            }
            insert_instance!(tx, new, now);
            tx.commit().await?;
            Ok(true)
        })
    }

    pub async fn instance(&self, id: &str) -> Result<Option<InstanceRow>, EngineError> {
        let sql = format!("SELECT {INSTANCE_COLUMNS} FROM wf_instances WHERE instance_id = $1");
        Ok(with_reader!(self, |pool| sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)?)
    }

    /// The committed history of an instance's current execution.
    pub async fn history(&self, id: &str) -> Result<Vec<HistoryEvent>, EngineError> {
        let rows: Vec<Vec<u8>> = with_reader!(self, |pool| {
            sqlx::query_scalar("SELECT event FROM wf_history WHERE instance_id = $1 ORDER BY seq")
                .bind(id)
                .fetch_all(pool)
                .await
        })?;
        rows.iter().map(|bytes| decode(bytes)).collect()
    }

    /// Adds an event to an existing instance's inbox; false when the instance is unknown.
    pub async fn enqueue(&self, message: &Message) -> Result<bool, EngineError> {
        with_db!(self, |pool| {
            let mut tx = pool.begin().await?;
            let delivered = deliver!(tx, message);
            tx.commit().await?;
            Ok(delivered)
        })
    }

    /// Makes a pending instance's start due now, so that a terminate is processed at once.
    pub async fn start_now(&self, id: &str, now: i64) -> Result<(), EngineError> {
        with_db!(self, |pool| {
            let mut tx = pool.begin().await?;
            let pending = sqlx::query(
                "UPDATE wf_instances SET scheduled_start = NULL WHERE instance_id = $1 AND status = $2 \
                 AND scheduled_start > $3",
            )
            .bind(id)
            .bind(status::PENDING as i64)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if pending > 0 {
                sqlx::query("UPDATE wf_inbox SET visible_at = $2 WHERE instance_id = $1 AND visible_at > $2")
                    .bind(id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Locks up to `limit` unlocked instances that have visible inbox events, those
    /// waiting longest first, and returns their rows (with the new lock sequence).
    pub async fn claim_instances(&self, engine: &str, now: i64, limit: i64) -> Result<Vec<InstanceRow>, EngineError> {
        let lock = if self.is_shared() { " FOR UPDATE OF i SKIP LOCKED" } else { "" };
        let sql = format!(
            "UPDATE wf_instances SET locked_by = $1, lock_seq = lock_seq + 1 \
             WHERE instance_id IN (SELECT i.instance_id FROM wf_instances i \
               JOIN (SELECT instance_id, MIN(visible_at) AS due FROM wf_inbox WHERE visible_at <= $2 \
                     GROUP BY instance_id) e ON e.instance_id = i.instance_id \
               WHERE {FREE} ORDER BY e.due LIMIT $3{lock}) \
             RETURNING {INSTANCE_COLUMNS}"
        );
        Ok(with_db!(self, |pool| sqlx::query_as(&sql).bind(engine).bind(now).bind(limit).fetch_all(pool).await)?)
    }

    /// The inbox events of an instance visible at `now`, in arrival order.
    pub async fn visible_inbox(&self, id: &str, now: i64) -> Result<Vec<InboxRow>, EngineError> {
        Ok(with_reader!(self, |pool| {
            sqlx::query_as(
                "SELECT id, execution_id, event FROM wf_inbox WHERE instance_id = $1 AND visible_at <= $2 \
                 ORDER BY lane, visible_at, id",
            )
            .bind(id)
            .bind(now)
            .fetch_all(pool)
            .await
        })?)
    }

    /// Gives up a lock without changing anything else (the turn is re-run later).
    pub async fn release_instance(&self, id: &str, engine: &str, lock_seq: i64) -> Result<(), EngineError> {
        with_db!(self, |pool| {
            sqlx::query(
                "UPDATE wf_instances SET locked_by = NULL WHERE instance_id = $1 AND locked_by = $2 AND lock_seq = $3",
            )
            .bind(id)
            .bind(engine)
            .bind(lock_seq)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// Drops consumed inbox events of an instance that needs no turn (finished, or only
    /// duplicates arrived), delivers `messages` (terminate cascades) and releases the lock.
    pub async fn discard_inbox(
        &self,
        id: &str,
        engine: &str,
        lock_seq: i64,
        consumed: &[i64],
        messages: &[Message],
    ) -> Result<bool, EngineError> {
        with_db!(self, |pool| {
            let mut tx = pool.begin().await?;
            let held = sqlx::query(
                "UPDATE wf_instances SET locked_by = NULL WHERE instance_id = $1 AND locked_by = $2 AND lock_seq = $3",
            )
            .bind(id)
            .bind(engine)
            .bind(lock_seq)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if held == 0 {
                return Ok(false);
            }
            delete_inbox!(tx, consumed);
            for message in messages {
                let _delivered = deliver!(tx, message);
            }
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Applies `writes` in one transaction (group commit): evaluates, per write, whether
    /// it took effect. A write whose lock or dispatch is stale writes nothing; a
    /// database error fails them all.
    pub async fn write_batch(&self, writes: &[Write]) -> Result<Vec<bool>, EngineError> {
        // Rows are locked in one order (instances by id, then activities by id) so that
        // concurrent batches of several engines cannot deadlock.
        let mut order: Vec<usize> = (0..writes.len()).collect();
        order.sort_by(|a, b| match (&writes[*a], &writes[*b]) {
            (Write::Turn(x), Write::Turn(y)) => x.instance_id.cmp(&y.instance_id),
            (Write::ActivityResult(x), Write::ActivityResult(y)) => x.id.cmp(&y.id),
            (Write::Turn(_), Write::ActivityResult(_)) => std::cmp::Ordering::Less,
            (Write::ActivityResult(_), Write::Turn(_)) => std::cmp::Ordering::Greater,
        });
        with_db!(self, |pool| {
            let mut tx = pool.begin().await?;
            let mut applied = vec![false; writes.len()];
            for index in order {
                applied[index] = match &writes[index] {
                    Write::Turn(turn) => apply_turn!(tx, turn),
                    Write::ActivityResult(result) => apply_activity_result!(tx, result),
                };
            }
            tx.commit().await?;
            Ok(applied)
        })
    }

    /// Locks up to `limit` activities that nobody holds.
    pub async fn claim_activities(&self, engine: &str, now: i64, limit: i64) -> Result<Vec<ActivityRow>, EngineError> {
        let lock = if self.is_shared() { " FOR UPDATE SKIP LOCKED" } else { "" };
        let free = FREE.replace("i.locked_by", "locked_by");
        let sql = format!(
            "UPDATE wf_activities SET locked_by = $1, dequeue_count = dequeue_count + 1 \
             WHERE id IN (SELECT id FROM wf_activities WHERE {free} ORDER BY id LIMIT $3{lock}) \
             RETURNING id, instance_id, execution_id, task_id, event, dequeue_count, created_at"
        );
        Ok(with_db!(self, |pool| sqlx::query_as(&sql).bind(engine).bind(now).bind(limit).fetch_all(pool).await)?)
    }

    /// Gives up an activity's lock; its dispatch token stays valid until it is re-sent.
    pub async fn release_activity(&self, id: i64, dequeue_count: i64) -> Result<(), EngineError> {
        with_db!(self, |pool| {
            sqlx::query("UPDATE wf_activities SET locked_by = NULL WHERE id = $1 AND dequeue_count = $2")
                .bind(id)
                .bind(dequeue_count)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// Records that `engine` is alive until `until`; its locks stay valid until then.
    pub async fn heartbeat(&self, engine: &str, until: i64) -> Result<(), EngineError> {
        with_db!(self, |pool| {
            sqlx::query(
                "INSERT INTO wf_engines (engine_id, expires_at) VALUES ($1, $2) \
                 ON CONFLICT (engine_id) DO UPDATE SET expires_at = excluded.expires_at",
            )
            .bind(engine)
            .bind(until)
            .execute(pool)
            .await?;
            // Engines gone for a day are forgotten; their locks were free long before.
            sqlx::query("DELETE FROM wf_engines WHERE expires_at < $1")
                .bind(until - 86_400_000_000)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// Frees this engine's locks at once (at shutdown) by ending its heartbeat.
    pub async fn retire(&self, engine: &str) -> Result<(), EngineError> {
        with_db!(self, |pool| {
            sqlx::query("DELETE FROM wf_engines WHERE engine_id = $1").bind(engine).execute(pool).await?;
            Ok(())
        })
    }

    /// Frees every lock: on SQLite the database belongs to this one process, so any
    /// lock found at start-up was left by a crash.
    pub async fn release_all_locks(&self) -> Result<(), EngineError> {
        with_db!(self, |pool| {
            let mut tx = pool.begin().await?;
            for table in ["wf_instances", "wf_activities"] {
                sqlx::query(&format!("UPDATE {table} SET locked_by = NULL")).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// The earliest inbox visibility time after `now`: the next timer or scheduled start.
    pub async fn next_visible_after(&self, now: i64) -> Result<Option<i64>, EngineError> {
        Ok(with_reader!(self, |pool| {
            sqlx::query_scalar("SELECT MIN(visible_at) FROM wf_inbox WHERE visible_at > $1")
                .bind(now)
                .fetch_one(pool)
                .await
        })?)
    }

    /// Instance ids in id order after `after`.
    pub async fn list_ids(&self, after: &str, limit: i64) -> Result<Vec<String>, EngineError> {
        Ok(with_reader!(self, |pool| {
            sqlx::query_scalar(
                "SELECT instance_id FROM wf_instances WHERE instance_id > $1 ORDER BY instance_id LIMIT $2",
            )
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await
        })?)
    }

    /// Deletes the given instances in one transaction, provided each is still finished.
    /// Returns how many were deleted, or None (and nothing deleted) if one is not finished.
    pub async fn purge(&self, ids: &[String]) -> Result<Option<i64>, EngineError> {
        with_db!(self, |pool| {
            let mut tx = pool.begin().await?;
            let mut deleted = 0;
            for id in ids {
                let status: Option<i64> = sqlx::query_scalar("SELECT status FROM wf_instances WHERE instance_id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
                match status {
                    None => continue,
                    Some(s) if !status::is_terminal(s as i32) => return Ok(None),
                    Some(_) => {}
                }
                delete_instance!(tx, id);
                deleted += 1;
            }
            tx.commit().await?;
            Ok(Some(deleted))
        })
    }

    /// Finished instances created within `[from, to]` whose status is one of `statuses`
    /// (any finished status when empty).
    pub async fn finished_ids(&self, from: i64, to: i64, statuses: &[i32]) -> Result<Vec<String>, EngineError> {
        let rows: Vec<(String, i64)> = with_reader!(self, |pool| {
            sqlx::query_as(
                "SELECT instance_id, status FROM wf_instances \
                 WHERE completed_at IS NOT NULL AND created_at >= $1 AND created_at <= $2",
            )
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows
            .into_iter()
            .filter(|(_, status)| status::is_terminal(*status as i32))
            .filter(|(_, status)| statuses.is_empty() || statuses.contains(&(*status as i32)))
            .map(|(id, _)| id)
            .collect())
    }

    /// Up to `limit` instances that finished before `cutoff`, oldest first.
    pub async fn finished_before(&self, cutoff: i64, limit: i64) -> Result<Vec<String>, EngineError> {
        Ok(with_reader!(self, |pool| {
            sqlx::query_scalar(
                "SELECT instance_id FROM wf_instances WHERE completed_at < $1 ORDER BY completed_at LIMIT $2",
            )
            .bind(cutoff)
            .bind(limit)
            .fetch_all(pool)
            .await
        })?)
    }

    /// Runs a query built at run time on a read pool.
    pub async fn read<T, F, Fut>(&self, query: F) -> Result<T, EngineError>
    where
        F: FnOnce(Reader) -> Fut,
        Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
    {
        let reader = match &self.db {
            Db::Sqlite { read, .. } => Reader::Sqlite(read.clone()),
            Db::Postgres(pool) => Reader::Postgres(pool.clone()),
        };
        Ok(query(reader).await?)
    }

    pub async fn inspect_parts(&self, id: &str) -> Result<InspectParts, EngineError> {
        with_reader!(self, |pool| {
            let inbox = sqlx::query_as(
                "SELECT visible_at, id, event FROM wf_inbox WHERE instance_id = $1 ORDER BY visible_at, id",
            )
            .bind(id)
            .fetch_all(pool)
            .await?;
            let activities = sqlx::query_as(
                "SELECT created_at, dequeue_count, event FROM wf_activities WHERE instance_id = $1 ORDER BY id",
            )
            .bind(id)
            .fetch_all(pool)
            .await?;
            let children = sqlx::query_as(
                "SELECT instance_id, name, status FROM wf_instances WHERE parent_instance_id = $1 ORDER BY created_at",
            )
            .bind(id)
            .fetch_all(pool)
            .await?;
            Ok(InspectParts { inbox, activities, children })
        })
    }

    pub async fn counts_by_name_status(&self) -> Result<Vec<(String, i64, i64)>, EngineError> {
        Ok(with_reader!(self, |pool| {
            sqlx::query_as(
                "SELECT name, status, COUNT(*) FROM wf_instances GROUP BY name, status ORDER BY name, status",
            )
            .fetch_all(pool)
            .await
        })?)
    }

    pub async fn queue_stats(&self, now: i64) -> Result<QueueStats, EngineError> {
        with_reader!(self, |pool| {
            let by_status: Vec<(i64, i64)> =
                sqlx::query_as("SELECT status, COUNT(*) FROM wf_instances GROUP BY status").fetch_all(pool).await?;
            let (ready_events, oldest_ready_at): (i64, Option<i64>) =
                sqlx::query_as("SELECT COUNT(*), MIN(visible_at) FROM wf_inbox WHERE visible_at <= $1")
                    .bind(now)
                    .fetch_one(pool)
                    .await?;
            let (pending_activities, oldest_activity_at): (i64, Option<i64>) =
                sqlx::query_as("SELECT COUNT(*), MIN(created_at) FROM wf_activities").fetch_one(pool).await?;
            Ok(QueueStats { by_status, ready_events, oldest_ready_at, pending_activities, oldest_activity_at })
        })
    }
}
