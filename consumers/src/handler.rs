use std::future::Future;
use std::pin::Pin;

use errand_domain::event::CloudEvent;

/// One event handed to a consumer.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// The topic it was published on.
    pub topic: String,
    /// The envelope.
    pub event: CloudEvent,
}

impl Delivery {
    /// The span of `consumer` applying this event: a child of the work that wrote the
    /// event (its `traceparent`), whichever process or runtime delivers it.
    pub fn span(&self, consumer: &str) -> tracing::Span {
        let span = tracing::info_span!(
            "consume",
            otel.name = format!("{consumer} {}", self.event.event_type),
            otel.kind = "consumer",
            consumer,
            topic = %self.topic,
            event_type = %self.event.event_type,
            event_id = %self.event.id,
        );
        errand_telemetry::continue_from(&span, self.event.traceparent.as_deref(), self.event.tracestate.as_deref());
        span
    }

    /// `data.user_id`, which every Errand event carries.
    pub fn user_id(&self) -> Result<&str, HandlerError> {
        self.event.data["user_id"]
            .as_str()
            .filter(|id| !id.is_empty())
            .ok_or_else(|| HandlerError::Reject(format!("event {} has no data.user_id", self.event.id)))
    }
}

/// Shows `consumer`'s counters on `/metrics` from the start, at zero, so that rates
/// and alerts over them have a series before anything goes wrong.
pub(crate) fn register_metrics(consumer: &'static str) {
    for name in ["errand_events_delivered_total", "errand_events_failed_total", "errand_events_dead_lettered_total"] {
        metrics::counter!(name, "consumer" => consumer).increment(0);
    }
}

/// Why a handler did not apply an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandlerError {
    /// Might work later (e.g. the database is unavailable): retry with backoff.
    #[error("temporary failure: {0}")]
    Retry(String),
    /// Can never work (e.g. the event is malformed): dead-letter it at once.
    #[error("rejected: {0}")]
    Reject(String),
}

impl From<errand_store::StoreError> for HandlerError {
    fn from(error: errand_store::StoreError) -> Self {
        HandlerError::Retry(error.to_string())
    }
}

/// What a handler returns.
pub type HandlerFuture<'a> = Pin<Box<dyn Future<Output = Result<(), HandlerError>> + Send + 'a>>;

/// A consumer: a name (its cursor and dedup key), the topics it reads, and what it
/// does with one event. Handlers must tolerate seeing an event twice; the delivery
/// machinery deduplicates by event id, and handlers also write idempotently.
pub trait Handler: Send + Sync + 'static {
    /// Stable name, e.g. `audit`.
    fn name(&self) -> &'static str;
    /// Topics it reads.
    fn topics(&self) -> &'static [&'static str];
    /// Applies one event. Events of its topics that it does not care about are `Ok`.
    fn handle<'a>(&'a self, delivery: &'a Delivery) -> HandlerFuture<'a>;
    /// Applies several events at once, all or none (one transaction), when the
    /// handler can do that far cheaper than one by one; `None` (the default) when it
    /// cannot. On an error the events are delivered one by one, with retries.
    fn handle_batch<'a>(&'a self, deliveries: &'a [Delivery]) -> Option<HandlerFuture<'a>> {
        let _ = deliveries;
        None
    }
}
