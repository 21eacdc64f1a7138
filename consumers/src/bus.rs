//! The embedded bus: every consumer reads the outbox from its own durable cursor,
//! woken by commits, and applies each event at least once and in effect once.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use errand_domain::event::CloudEvent;
use errand_store::{DeadLetter, OutboxPosition, OutboxRecord, Store};
use tokio::sync::watch;
use tracing::Instrument;

use crate::{Delivery, Handler, HandlerError};

/// Delivery settings.
#[derive(Debug, Clone)]
pub struct BusConfig {
    /// Attempts before an event is dead-lettered.
    pub max_attempts: u32,
    /// Wait before the first retry; doubles each time.
    pub first_retry: Duration,
    /// Longest wait between retries.
    pub max_retry: Duration,
    /// Poll interval when no commit wakes the consumer (other processes' writes on
    /// SQLite, lost wake-ups); commits normally wake consumers at once.
    pub fallback_poll: Duration,
    /// Events read per batch.
    pub batch: i64,
    /// How often the outbox and dedup records are pruned and lag is measured.
    pub upkeep_every: Duration,
    /// Other readers of the outbox (by cursor name) whose position pruning must
    /// respect, e.g. the search indexer.
    pub outbox_readers: Vec<&'static str>,
}

impl Default for BusConfig {
    fn default() -> Self {
        BusConfig {
            max_attempts: 6,
            first_retry: Duration::from_millis(100),
            max_retry: Duration::from_secs(10),
            fallback_poll: Duration::from_secs(2),
            batch: 256,
            upkeep_every: Duration::from_secs(15),
            outbox_readers: Vec::new(),
        }
    }
}

impl BusConfig {
    /// The wait before retry number `attempt` (1-based).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(16));
        self.first_retry.saturating_mul(factor).min(self.max_retry)
    }
}

/// How long applied-event records are kept for deduplication.
const DEDUP_RETENTION: chrono::Duration = chrono::Duration::days(7);

/// The in-process event bus.
pub struct Bus {
    store: Store,
    handlers: Vec<Arc<dyn Handler>>,
    config: BusConfig,
}

impl Bus {
    /// A bus delivering `store`'s outbox to `handlers`.
    pub fn new(store: Store, handlers: Vec<Arc<dyn Handler>>, config: BusConfig) -> Bus {
        Bus { store, handlers, config }
    }

    /// Delivers until `shutdown` turns true. A consumer stops between events (an
    /// event being retried is left for the next start, never skipped).
    pub async fn run(self, shutdown: watch::Receiver<bool>) {
        let mut names: Vec<&'static str> = self.handlers.iter().map(|h| h.name()).collect();
        names.extend(self.config.outbox_readers.iter().copied());
        let mut tasks = tokio::task::JoinSet::new();
        for handler in &self.handlers {
            crate::handler::register_metrics(handler.name());
            let consumer = Consumer {
                store: self.store.clone(),
                handler: handler.clone(),
                config: self.config.clone(),
                shutdown: shutdown.clone(),
            };
            tasks.spawn(consumer.run());
        }
        tasks.spawn(upkeep(self.store.clone(), names, self.config.clone(), shutdown));
        while tasks.join_next().await.is_some() {}
    }
}

struct Consumer {
    store: Store,
    handler: Arc<dyn Handler>,
    config: BusConfig,
    shutdown: watch::Receiver<bool>,
}

/// What became of one event.
enum Outcome {
    Applied,
    Dead(DeadLetter),
    Stopped,
}

/// Delivered but not yet saved: the cursor and the applied event ids.
#[derive(Default)]
struct Progress {
    position: Option<OutboxPosition>,
    applied: Vec<String>,
}

impl Consumer {
    fn stopping(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Sleeps `duration`; false when shutdown came first.
    async fn pause(&mut self, duration: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(duration) => true,
            _ = self.shutdown.wait_for(|stop| *stop) => false,
        }
    }

    async fn run(mut self) {
        let name = self.handler.name();
        // With several processes on one PostgreSQL database, one of them consumes.
        let _leadership = loop {
            match self.store.try_lead(&format!("consumer:{name}")).await {
                Ok(Some(leadership)) => break leadership,
                Ok(None) => tracing::debug!(consumer = name, "another process consumes; standing by"),
                Err(e) => tracing::warn!(consumer = name, error = %e, "cannot take the consumer role"),
            }
            if !self.pause(Duration::from_secs(5)).await {
                return;
            }
        };
        let mut position = loop {
            match self.store.consumer_position(name).await {
                Ok(position) => break position,
                Err(e) => tracing::warn!(consumer = name, error = %e, "cannot read the consumer cursor"),
            }
            if !self.pause(Duration::from_secs(1)).await {
                return;
            }
        };
        tracing::info!(consumer = name, tx = position.tx, seq = position.seq, "consumer started");
        loop {
            let batch = match self
                .store
                .next_events(position, self.config.batch, self.config.fallback_poll, &mut self.shutdown)
                .await
            {
                Ok(Some(batch)) => batch,
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(consumer = name, error = %e, "reading the outbox failed");
                    if !self.pause(Duration::from_secs(1)).await {
                        return;
                    }
                    continue;
                }
            };
            // Progress is saved once per batch (and before a dead letter): a crash
            // re-delivers at most one batch, which dedup and idempotent handlers absorb.
            let mut progress = Progress::default();
            let mine: Vec<&OutboxRecord> =
                batch.iter().filter(|r| self.handler.topics().contains(&r.topic.as_str())).collect();
            let ids: Vec<&str> = mine.iter().map(|r| r.event_id.as_str()).collect();
            let mut done = match self.store.applied_events(name, &ids).await {
                Ok(applied) => applied,
                Err(e) => {
                    tracing::warn!(consumer = name, error = %e, "reading applied events failed");
                    if !self.pause(Duration::from_secs(1)).await {
                        return;
                    }
                    continue;
                }
            };
            let batched = self.deliver_together(&mine, &done).await;
            progress.applied.extend(batched.iter().cloned());
            done.extend(batched);
            for record in batch {
                if self.handler.topics().contains(&record.topic.as_str()) && !done.contains(&record.event_id) {
                    match self.deliver(&record).await {
                        Outcome::Applied => progress.applied.push(record.event_id.clone()),
                        Outcome::Dead(letter) => {
                            if !self.save(&mut progress).await || !self.bury(&letter, record.position()).await {
                                return;
                            }
                        }
                        Outcome::Stopped => {
                            self.save(&mut progress).await;
                            return;
                        }
                    }
                }
                position = record.position();
                progress.position = Some(position);
            }
            if !self.save(&mut progress).await {
                return;
            }
        }
    }

    /// Applies the not yet applied of `records` in one go, when the handler can:
    /// the ids applied (none when it cannot, or that failed: they go one by one).
    async fn deliver_together(&self, records: &[&OutboxRecord], done: &HashSet<String>) -> Vec<String> {
        let deliveries: Vec<Delivery> = records
            .iter()
            .filter(|r| !done.contains(&r.event_id))
            .filter_map(|r| {
                let event = serde_json::from_str::<CloudEvent>(&r.payload).ok()?;
                Some(Delivery { topic: r.topic.clone(), event })
            })
            .collect();
        if deliveries.len() < 2 {
            return Vec::new();
        }
        let Some(applying) = self.handler.handle_batch(&deliveries) else { return Vec::new() };
        // One span per event, each in its own trace, all as long as the batch.
        let spans: Vec<tracing::Span> = deliveries.iter().map(|d| d.span(self.handler.name())).collect();
        let outcome = applying.await;
        drop(spans);
        if let Err(e) = outcome {
            tracing::debug!(consumer = self.handler.name(), error = %e, "a batch failed; delivering one by one");
            return Vec::new();
        }
        for delivery in &deliveries {
            self.delivered(&delivery.event);
        }
        deliveries.into_iter().map(|d| d.event.id).collect()
    }

    fn delivered(&self, event: &CloudEvent) {
        let name = self.handler.name();
        metrics::counter!("errand_events_delivered_total", "consumer" => name).increment(1);
        let latency = (Utc::now() - event.time).to_std().unwrap_or_default();
        metrics::histogram!("errand_event_delivery_seconds", "consumer" => name).record(latency.as_secs_f64());
    }

    /// Applies one event with retries.
    async fn deliver(&mut self, record: &OutboxRecord) -> Outcome {
        let event = match serde_json::from_str::<CloudEvent>(&record.payload) {
            Ok(event) => event,
            Err(e) => {
                return Outcome::Dead(self.letter(record, &format!("the outbox payload is not a CloudEvent: {e}"), 0))
            }
        };
        let delivery = Delivery { topic: record.topic.clone(), event };
        let span = delivery.span(self.handler.name());
        match self.apply_with_retries(&delivery).instrument(span).await {
            Ok(()) => {
                self.delivered(&delivery.event);
                Outcome::Applied
            }
            Err(_) if self.stopping() => Outcome::Stopped,
            Err((error, attempts)) => Outcome::Dead(self.letter(record, &error.to_string(), attempts)),
        }
    }

    fn letter(&self, record: &OutboxRecord, error: &str, attempts: u32) -> DeadLetter {
        DeadLetter {
            id: errand_domain::new_id(),
            consumer: self.handler.name().to_string(),
            event_id: record.event_id.clone(),
            topic: record.topic.clone(),
            payload: record.payload.clone(),
            error: error.to_string(),
            attempts: i64::from(attempts),
            created_at: Utc::now(),
            replayed_at: None,
        }
    }

    /// Stores a dead letter and moves the cursor past it; false on shutdown.
    async fn bury(&mut self, letter: &DeadLetter, position: OutboxPosition) -> bool {
        let name = self.handler.name();
        tracing::error!(consumer = name, event_id = %letter.event_id, attempts = letter.attempts, error = %letter.error, "dead-lettering event");
        metrics::counter!("errand_events_dead_lettered_total", "consumer" => name).increment(1);
        self.persist(|store| {
            let letter = letter.clone();
            async move { store.dead_letter(&letter, Some(position)).await }
        })
        .await
    }

    /// Saves the cursor and applied events of `progress`, then clears it; false on
    /// shutdown before it could be saved.
    async fn save(&mut self, progress: &mut Progress) -> bool {
        let Some(position) = progress.position else { return true };
        let name = self.handler.name();
        let applied = std::mem::take(&mut progress.applied);
        progress.position = None;
        self.persist(|store| {
            let applied = applied.clone();
            async move { store.advance_consumer(name, position, &applied, Utc::now()).await }
        })
        .await
    }

    /// Runs the handler until it succeeds, rejects, runs out of attempts, or
    /// shutdown comes. The error carries the attempts made.
    async fn apply_with_retries(&mut self, delivery: &Delivery) -> Result<(), (HandlerError, u32)> {
        let name = self.handler.name();
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.handler.handle(delivery).await {
                Ok(()) => return Ok(()),
                Err(error @ HandlerError::Reject(_)) => return Err((error, attempt)),
                Err(error) => {
                    metrics::counter!("errand_events_failed_total", "consumer" => name).increment(1);
                    if attempt >= self.config.max_attempts {
                        return Err((error, attempt));
                    }
                    let wait = self.config.backoff(attempt);
                    tracing::warn!(consumer = name, event_id = %delivery.event.id, attempt, %error, ?wait, "handler failed; retrying");
                    if !self.pause(wait).await {
                        return Err((error, attempt));
                    }
                }
            }
        }
    }

    /// Retries a bookkeeping write until it succeeds; false when shutdown came first
    /// (the event is then delivered again on the next start, and deduplicated).
    async fn persist<F, Fut>(&mut self, write: F) -> bool
    where
        F: Fn(Store) -> Fut,
        Fut: std::future::Future<Output = errand_store::StoreResult<()>>,
    {
        let mut attempt = 0;
        loop {
            match write(self.store.clone()).await {
                Ok(()) => return true,
                Err(e) => {
                    attempt += 1;
                    tracing::warn!(consumer = self.handler.name(), error = %e, "saving delivery state failed; retrying");
                    if !self.pause(self.config.backoff(attempt)).await {
                        return false;
                    }
                }
            }
        }
    }
}

/// Prunes what every consumer has passed and publishes consumer lag.
async fn upkeep(store: Store, consumers: Vec<&'static str>, config: BusConfig, mut shutdown: watch::Receiver<bool>) {
    loop {
        for name in consumers.iter().filter(|name| !config.outbox_readers.contains(name)) {
            if let Ok(position) = store.consumer_position(name).await {
                if let Ok(backlog) = store.outbox_backlog(position).await {
                    metrics::gauge!("errand_consumer_lag_events", "consumer" => *name).set(backlog as f64);
                }
            }
        }
        match store.prune_outbox(&consumers).await {
            Ok(0) => {}
            Ok(removed) => tracing::debug!(removed, "pruned delivered outbox events"),
            Err(e) => tracing::warn!(error = %e, "pruning the outbox failed"),
        }
        if let Err(e) = store.prune_applied_events(Utc::now() - DEDUP_RETENTION).await {
            tracing::warn!(error = %e, "pruning dedup records failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(config.upkeep_every) => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let config = BusConfig {
            first_retry: Duration::from_millis(100),
            max_retry: Duration::from_secs(1),
            ..Default::default()
        };
        let waits: Vec<u128> = (1..=6).map(|a| config.backoff(a).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(config.backoff(1000), Duration::from_secs(1));
    }
}
