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

/// The prefix of the search indexes' cursors (`search:<replica>`), kept for outbox
/// pruning; [`SEARCH_READERS`] names them all for [`Store::prune_outbox`].
pub(crate) const SEARCH_CURSORS: &str = "search:";

/// Every replica's search index, as a reader pruning must wait for.
pub const SEARCH_READERS: &str = "search:*";

/// How long events are gathered into one commit while they keep coming.
const GROUP_WINDOW: Duration = Duration::from_millis(3);
/// Re-check interval when no commit signal arrives.
const FALLBACK_POLL: Duration = Duration::from_secs(2);

/// How often the indexer's position is saved for outbox pruning. The index keeps its
/// own position in each commit; this copy only lets the outbox be pruned, so saving
/// it after every commit would be a database write per commit for nothing.
const CURSOR_SAVE_EVERY: Duration = Duration::from_secs(1);

/// Feeds the index from the outbox until `shutdown` turns true.
pub async fn run_indexer(index: Arc<SearchIndex>, store: Store, mut shutdown: watch::Receiver<bool>) {
    // Saved at once, so that pruning waits for this index from its first moment.
    save_cursor(&store, &index).await;
    let mut saved_at = Instant::now();
    let mut saved = index.applied();
    loop {
        // Waits at most a save interval, so that a position reached just after a save
        // is saved once things go quiet (else it would hold back pruning until the next event).
        let next = tokio::time::timeout(
            CURSOR_SAVE_EVERY,
            store.next_events(index.applied(), 1000, FALLBACK_POLL, &mut shutdown),
        )
        .await;
        let Ok(next) = next else {
            if index.applied() != saved {
                save_cursor(&store, &index).await;
                saved = index.applied();
                saved_at = Instant::now();
            }
            continue;
        };
        match next {
            Ok(None) => {
                if index.applied() != saved {
                    save_cursor(&store, &index).await;
                }
                return;
            }
            Ok(Some(batch)) => {
                if let Err(e) = apply_and_commit(&index, &store, batch).await {
                    tracing::warn!(error = %e, "indexing failed; retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                if saved_at.elapsed() >= CURSOR_SAVE_EVERY && index.applied() != saved {
                    save_cursor(&store, &index).await;
                    saved = index.applied();
                    saved_at = Instant::now();
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
    let commit_started = Instant::now();
    tokio::task::spawn_blocking(move || committing.commit(position))
        .await
        .map_err(|e| SearchError::Io(std::io::Error::other(e.to_string())))??;
    metrics::counter!("errand_search_commits_total").increment(1);
    metrics::histogram!("errand_search_commit_seconds").record(commit_started.elapsed().as_secs_f64());
    Ok(())
}

async fn save_cursor(store: &Store, index: &SearchIndex) {
    if let Err(e) = store.advance_consumer(index.cursor(), index.applied(), &[], Utc::now()).await {
        tracing::warn!(error = %e, "saving the search cursor failed");
    }
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
