use std::sync::Arc;

use chrono::Utc;
use errand_domain::event::CloudEvent;
use errand_store::{DeadLetter, Store, StoreError};

use crate::{Delivery, Handler, HandlerError};

/// Why a replay did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// No dead letter has this id.
    #[error("no dead letter {0}")]
    NotFound(String),
    /// It was replayed already.
    #[error("dead letter {0} was already replayed")]
    AlreadyReplayed(String),
    /// Its consumer is not one of the given handlers.
    #[error("no consumer named {0}")]
    UnknownConsumer(String),
    /// The handler failed again; the dead letter stays.
    #[error("the consumer failed again: {0}")]
    Failed(HandlerError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Delivers a dead letter to its consumer once more; on success it is marked
/// replayed (and its event applied, so a later redelivery has no second effect).
pub async fn replay(store: &Store, handlers: &[Arc<dyn Handler>], id: &str) -> Result<DeadLetter, ReplayError> {
    let letter = store.dead_letter_by_id(id).await?.ok_or_else(|| ReplayError::NotFound(id.to_string()))?;
    if letter.replayed_at.is_some() {
        return Err(ReplayError::AlreadyReplayed(id.to_string()));
    }
    let handler = handlers
        .iter()
        .find(|h| h.name() == letter.consumer)
        .ok_or_else(|| ReplayError::UnknownConsumer(letter.consumer.clone()))?;
    let event: CloudEvent = serde_json::from_str(&letter.payload)
        .map_err(|e| ReplayError::Failed(HandlerError::Reject(format!("not a CloudEvent: {e}"))))?;
    let delivery = Delivery { topic: letter.topic.clone(), event };
    handler.handle(&delivery).await.map_err(ReplayError::Failed)?;
    let now = Utc::now();
    store.mark_replayed(&letter, now).await?;
    metrics::counter!("errand_events_replayed_total", "consumer" => handler.name()).increment(1);
    Ok(DeadLetter { replayed_at: Some(now), ..letter })
}
