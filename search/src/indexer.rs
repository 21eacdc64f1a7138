//! Keeps the index in step with the database: reads `todo.events` from the outbox
//! after the position of the last commit, applies upserts and deletions, and
//! commits in groups.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use errand_domain::event::{topics, CloudEvent, TaskEventData};
use errand_store::{OutboxRecord, Store};
use tokio::sync::watch;

use crate::{SearchError, SearchIndex};

/// The cursor name under which the indexer's position is kept for outbox pruning.
pub const SEARCH_CURSOR: &str = "search";

/// How long events are gathered into one commit while they keep coming.
const GROUP_WINDOW: Duration = Duration::from_millis(10);
/// Re-check interval when no commit signal arrives.
const FALLBACK_POLL: Duration = Duration::from_secs(2);

/// Feeds the index from the outbox until `shutdown` turns true.
pub async fn run_indexer(index: Arc<SearchIndex>, store: Store, mut shutdown: watch::Receiver<bool>) {
    loop {
        match store.next_events(index.applied(), 1000, FALLBACK_POLL, &mut shutdown).await {
            Ok(None) => return,
            Ok(Some(batch)) => {
                if let Err(e) = apply_and_commit(&index, &store, batch).await {
                    tracing::warn!(error = %e, "indexing failed; retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading the outbox for indexing failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Applies a batch, gathers whatever else arrives within a short window into the
/// same commit, then commits and records the position.
async fn apply_and_commit(
    index: &Arc<SearchIndex>,
    store: &Store,
    first: Vec<OutboxRecord>,
) -> Result<(), SearchError> {
    let started = Instant::now();
    let mut batch = first;
    let mut position = index.applied();
    loop {
        for record in &batch {
            apply(index, record)?;
            position = record.position();
        }
        if started.elapsed() > GROUP_WINDOW {
            break;
        }
        batch = store.outbox_after(position, 1000).await?;
        if batch.is_empty() {
            break;
        }
    }
    // Commits write files and wait for the indexing thread: off the async workers.
    let committing = index.clone();
    tokio::task::spawn_blocking(move || committing.commit(position))
        .await
        .map_err(|e| SearchError::Io(std::io::Error::other(e.to_string())))??;
    metrics::counter!("errand_search_commits_total").increment(1);
    if let Err(e) = store.advance_consumer(SEARCH_CURSOR, position, &[], Utc::now()).await {
        tracing::warn!(error = %e, "saving the search cursor failed");
    }
    Ok(())
}

fn apply(index: &SearchIndex, record: &OutboxRecord) -> Result<(), SearchError> {
    if record.topic != topics::TODO {
        return Ok(());
    }
    let event: CloudEvent = match serde_json::from_str(&record.payload) {
        Ok(event) => event,
        Err(e) => {
            tracing::error!(event_id = %record.event_id, error = %e, "unreadable outbox event; not indexed");
            return Ok(());
        }
    };
    let data: TaskEventData = match serde_json::from_value(event.data) {
        Ok(data) => data,
        Err(e) => {
            tracing::error!(event_id = %record.event_id, error = %e, "task event without a task; not indexed");
            return Ok(());
        }
    };
    if event.event_type == "task.deleted" {
        index.remove(&data.task.id)
    } else {
        index.upsert(&data.task).map(|_| ())
    }
}
