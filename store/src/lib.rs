//! Errand's system of record on SQLite (default) or PostgreSQL: users and sessions, tasks,
//! idempotency keys, the outbox, consumer cursors and dead letters, the audit trail
//! and notifications, saved filters. Both backends run the same SQL text (`$n` parameters
//! work in both); [`on_read!`] and [`on_write!`] expand a block once per backend so
//! each is type-checked against its own driver.

mod audit;
mod chat;
mod consumers;
mod filters;
mod group_commit;
mod leadership;
mod notifications;
mod outbox;
mod sessions;
mod tasks;
mod users;
mod workflows;

#[cfg(feature = "testing")]
pub mod testing;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use tokio::sync::watch;

pub use audit::{AuditEntry, AuditPage};
pub use chat::{ChatMessage, ConversationRecord};
pub use consumers::DeadLetter;
pub use filters::SavedFilter;
pub use leadership::Leadership;
pub use notifications::{NewNotification, Notification};
pub use outbox::{OutboxPosition, OutboxRecord, READER_STALE_AFTER};
pub use sessions::SessionRecord;
pub use tasks::{IdempotentResponse, InsertOutcome, Modification, Modified};
pub use users::{NewUser, UserRecord};
pub use workflows::{ConfirmationRecord, Decision, WorkflowRecord};

/// Errors of the store. Expected outcomes (a taken email, a stale version) are
/// return values, not errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed or is unreachable.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored row cannot be decoded (never expected; data is only written by us).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The database URL names no supported backend.
    #[error("unsupported database url {0:?}: use sqlite://... or postgres://...")]
    UnsupportedUrl(String),
}

impl StoreError {
    /// True when a row with the same unique key exists (e.g. an event id already in the outbox).
    pub fn is_duplicate(&self) -> bool {
        matches!(self, StoreError::Database(sqlx::Error::Database(e)) if e.is_unique_violation())
    }

    /// True when the database could not be reached (rather than refusing a query).
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Database(
                sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_)
            )
        )
    }
}

/// Result of store operations.
pub type StoreResult<T> = Result<T, StoreError>;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// A handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: Db,
    signals: Arc<Signals>,
    /// SQLite: task creations committed in groups.
    creations: Option<group_commit::Creations>,
}

/// In-process wake-ups after commits, so waiters need not poll.
struct Signals {
    outbox: watch::Sender<u64>,
    notifications: watch::Sender<u64>,
    /// Each user's latest committed outbox position through this handle.
    last_writes: std::sync::Mutex<std::collections::HashMap<String, OutboxPosition>>,
}

impl Signals {
    fn new() -> Arc<Signals> {
        Arc::new(Signals {
            outbox: watch::Sender::new(0),
            notifications: watch::Sender::new(0),
            last_writes: Default::default(),
        })
    }
}

#[derive(Clone)]
enum Db {
    /// SQLite allows one writer at a time: writes go through a single connection so
    /// they queue in-process instead of failing with SQLITE_BUSY; reads run in parallel.
    Sqlite {
        read: SqlitePool,
        write: SqlitePool,
    },
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to a pool fit for reads.
macro_rules! on_read {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.db {
            $crate::Db::Sqlite { read: $pool, .. } => $body,
            $crate::Db::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` with `$pool` bound to a pool fit for writes.
macro_rules! on_write {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.db {
            $crate::Db::Sqlite { write: $pool, .. } => $body,
            $crate::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use {on_read, on_write};

impl Store {
    /// Connects to `url` (`sqlite://path`, `sqlite::memory:` or `postgres://...`).
    /// A SQLite file is created when missing.
    pub async fn connect(url: &str) -> StoreResult<Store> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5));
            let memory = url.contains(":memory:") || url.contains("mode=memory");
            // A local file does not drop connections: no ping before each use (on
            // SQLite each is a round trip to the connection's thread, and the one
            // writer's time is what every write queues for).
            let write = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .test_before_acquire(false)
                .connect_with(options.clone())
                .await?;
            // An in-memory database lives in its one connection: share it.
            let read = if memory {
                write.clone()
            } else {
                SqlitePoolOptions::new()
                    .max_connections(8)
                    .test_before_acquire(false)
                    .connect_with(options.read_only(true))
                    .await?
            };
            let creations = Some(group_commit::Creations::start(write.clone()));
            Ok(Store { db: Db::Sqlite { read, write }, signals: Signals::new(), creations })
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool =
                PgPoolOptions::new().max_connections(16).acquire_timeout(Duration::from_secs(5)).connect(url).await?;
            Ok(Store { db: Db::Postgres(pool), signals: Signals::new(), creations: None })
        } else {
            Err(StoreError::UnsupportedUrl(url.to_string()))
        }
    }

    /// Which backend this is: `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match self.db {
            Db::Sqlite { .. } => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// Applies the embedded migrations that have not run yet.
    pub async fn migrate(&self) -> StoreResult<()> {
        match &self.db {
            Db::Sqlite { write, .. } => SQLITE_MIGRATIONS.run(write).await?,
            Db::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// True when the database answers and every embedded migration has been applied.
    pub async fn ready(&self) -> StoreResult<bool> {
        let migrator = match self.db {
            Db::Sqlite { .. } => &SQLITE_MIGRATIONS,
            Db::Postgres(_) => &POSTGRES_MIGRATIONS,
        };
        let result = on_read!(self, |pool| {
            sqlx::query_scalar::<_, i64>("SELECT version FROM _sqlx_migrations WHERE success").fetch_all(pool).await
        });
        let applied = match result {
            Ok(versions) => versions,
            // No migrations table yet: reachable, but nothing applied.
            Err(sqlx::Error::Database(e)) if e.message().contains("_sqlx_migrations") => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        Ok(migrator.iter().all(|m| applied.contains(&m.version)))
    }

    /// Closes every connection, waiting for those in use to be returned.
    pub async fn close(&self) {
        match &self.db {
            Db::Sqlite { read, write } => {
                read.close().await;
                write.close().await;
            }
            Db::Postgres(pool) => pool.close().await,
        }
    }
}

pub(crate) fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

/// Instants are stored as milliseconds since the epoch in both backends.
pub(crate) fn to_ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

pub(crate) fn from_ms(ms: i64) -> StoreResult<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms).single().ok_or_else(|| StoreError::Corrupt(format!("instant {ms}")))
}
