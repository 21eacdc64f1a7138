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
    let mut signal = store.outbox_signal();
    while !*shutdown.borrow() {
        signal.borrow_and_update();
        match catch_up(&index, &store).await {
            Ok(true) => continue,
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "indexing failed; retrying"),
        }
        tokio::select! {
            _ = signal.changed() => {}
            _ = tokio::time::sleep(FALLBACK_POLL) => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
    }
}

/// Applies what is new in the outbox, grouping events that arrive within a short
/// window into one commit. Returns whether anything was applied.
pub async fn catch_up(index: &Arc<SearchIndex>, store: &Store) -> Result<bool, SearchError> {
    let started = Instant::now();
    let mut position = index.applied();
    let mut applied_any = false;
    loop {
        let batch = store.outbox_after(position, 1000).await?;
        let Some(last) = batch.last() else { break };
        let last = last.position();
        for record in &batch {
            apply(index, record)?;
        }
        position = last;
        applied_any = true;
        if started.elapsed() > GROUP_WINDOW {
            break;
        }
    }
    if applied_any {
        // Commits write files and wait for the indexing thread: off the async workers.
        let committing = index.clone();
        tokio::task::spawn_blocking(move || committing.commit(position))
            .await
            .map_err(|e| SearchError::Io(std::io::Error::other(e.to_string())))??;
        metrics::counter!("errand_search_commits_total").increment(1);
        if let Err(e) = store.advance_consumer(SEARCH_CURSOR, position, &[], Utc::now()).await {
            tracing::warn!(error = %e, "saving the search cursor failed");
        }
    }
    Ok(applied_any)
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
