//! Group commit of task creations on SQLite. SQLite has one writer, and every
//! statement is a round trip to its connection's thread; under load a creation spent
//! far longer queued for that connection than writing. Creations that wait at the
//! same time are committed together: one transaction, one multi-row insert per
//! table. PostgreSQL, with its many connections, writes each one directly.

use sqlx::sqlite::SqlitePool;
use sqlx::{QueryBuilder, Sqlite};
use tokio::sync::{mpsc, oneshot};

use crate::{OutboxPosition, StoreError, StoreResult};

/// Most creations in one transaction (16 parameters a task row stay far below
/// SQLite's limit of 32,766).
const MAX_BATCH: usize = 64;

/// One outbox row, encoded.
pub(crate) struct OutboxRow {
    pub event_id: String,
    pub topic: &'static str,
    pub event_type: String,
    pub subject: Option<String>,
    pub user_id: String,
    pub payload: String,
    pub created_at: i64,
}

/// One task row, encoded.
pub(crate) struct TaskRowValues {
    pub id: String,
    pub user_id: String,
    pub title: String,
    pub description: String,
    pub status: &'static str,
    pub priority: i64,
    pub tags: String,
    pub due_at: Option<i64>,
    pub all_day: bool,
    pub reminders: String,
    pub recurrence: Option<String>,
    pub series_id: Option<String>,
    pub completed_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
}

/// A task with its events, to commit; `done` receives each event owner's position.
pub(crate) struct Creation {
    pub task: TaskRowValues,
    pub events: Vec<OutboxRow>,
    pub done: oneshot::Sender<StoreResult<Vec<(String, OutboxPosition)>>>,
}

/// Where creations are queued; cheap to clone.
#[derive(Clone)]
pub(crate) struct Creations {
    queue: mpsc::UnboundedSender<Creation>,
}

impl Creations {
    /// Starts the committer on `pool` (the single writer connection), on a thread of
    /// its own: under load the async workers' run queues are long, and a committer
    /// waiting in them at each of its round trips held every creation back.
    pub fn start(pool: SqlitePool) -> Creations {
        let (queue, waiting) = mpsc::unbounded_channel();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
        match runtime {
            Ok(runtime) => {
                let spawned = std::thread::Builder::new()
                    .name("errand-sqlite-commit".into())
                    .spawn(move || runtime.block_on(run(pool, waiting)));
                if let Err(e) = spawned {
                    tracing::error!(error = %e, "cannot start the SQLite committer thread");
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot start the SQLite committer runtime"),
        }
        Creations { queue }
    }

    /// Commits a task and its events, with whatever else is waiting.
    pub async fn commit(
        &self,
        task: TaskRowValues,
        events: Vec<OutboxRow>,
    ) -> StoreResult<Vec<(String, OutboxPosition)>> {
        let (done, result) = oneshot::channel();
        let stopped = || StoreError::Database(sqlx::Error::PoolClosed);
        self.queue.send(Creation { task, events, done }).map_err(|_| stopped())?;
        result.await.map_err(|_| stopped())?
    }
}

async fn run(pool: SqlitePool, mut waiting: mpsc::UnboundedReceiver<Creation>) {
    while let Some(first) = waiting.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match waiting.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        metrics::histogram!("errand_store_group_commit_size").record(batch.len() as f64);
        match insert(&pool, &batch).await {
            Ok(mut positions) => {
                for creation in batch {
                    let mine = creation
                        .events
                        .iter()
                        .filter_map(|e| positions.remove(&e.event_id).map(|p| (e.user_id.clone(), p)))
                        .collect();
                    let _ = creation.done.send(Ok(mine));
                }
            }
            // One bad creation must not fail the others: commit each on its own.
            Err(_) if batch.len() > 1 => {
                for creation in batch {
                    let one = std::slice::from_ref(&creation);
                    let result = insert(&pool, one).await.map(|mut positions| {
                        creation
                            .events
                            .iter()
                            .filter_map(|e| positions.remove(&e.event_id).map(|p| (e.user_id.clone(), p)))
                            .collect()
                    });
                    let _ = creation.done.send(result);
                }
            }
            Err(e) => {
                if let Some(creation) = batch.pop() {
                    let _ = creation.done.send(Err(e));
                }
            }
        }
    }
}

/// Inserts the batch in one transaction; the outbox position of every event, by id.
async fn insert(
    pool: &SqlitePool,
    batch: &[Creation],
) -> StoreResult<std::collections::HashMap<String, OutboxPosition>> {
    let mut tx = pool.begin().await?;
    let mut tasks = QueryBuilder::<Sqlite>::new(
        "INSERT INTO tasks (id, user_id, title, description, status, priority, tags, due_at, all_day, reminders, \
         recurrence, series_id, completed_at, created_at, updated_at, version) ",
    );
    tasks.push_values(batch, |mut row, c| {
        let t = &c.task;
        row.push_bind(&t.id)
            .push_bind(&t.user_id)
            .push_bind(&t.title)
            .push_bind(&t.description)
            .push_bind(t.status)
            .push_bind(t.priority)
            .push_bind(&t.tags)
            .push_bind(t.due_at)
            .push_bind(t.all_day)
            .push_bind(&t.reminders)
            .push_bind(&t.recurrence)
            .push_bind(&t.series_id)
            .push_bind(t.completed_at)
            .push_bind(t.created_at)
            .push_bind(t.updated_at)
            .push_bind(t.version);
    });
    tasks.build().execute(&mut *tx).await?;
    let mut positions = std::collections::HashMap::new();
    let events: Vec<&OutboxRow> = batch.iter().flat_map(|c| &c.events).collect();
    if !events.is_empty() {
        let mut outbox = QueryBuilder::<Sqlite>::new(
            "INSERT INTO outbox (event_id, topic, event_type, subject, user_id, payload, created_at) ",
        );
        outbox.push_values(events, |mut row, e| {
            row.push_bind(&e.event_id)
                .push_bind(e.topic)
                .push_bind(&e.event_type)
                .push_bind(&e.subject)
                .push_bind(&e.user_id)
                .push_bind(&e.payload)
                .push_bind(e.created_at);
        });
        // The order of RETURNING rows is not promised: match them by event id.
        outbox.push(" RETURNING tx, seq, event_id");
        let rows: Vec<(i64, i64, String)> = outbox.build_query_as().fetch_all(&mut *tx).await?;
        for (tx_id, seq, event_id) in rows {
            positions.insert(event_id, OutboxPosition { tx: tx_id, seq });
        }
    }
    tx.commit().await?;
    Ok(positions)
}
