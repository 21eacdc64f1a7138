//! The Dapr runtime: the outbox relayed to Dapr pub/sub, and one consumer served
//! to daprd as a subscriber app.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use errand_domain::event::CloudEvent;
use errand_store::{DeadLetter, OutboxRecord, Store};
use serde_json::{json, Value};
use tokio::sync::watch;
use tracing::Instrument;

use crate::{BusConfig, Delivery, Handler, HandlerError};

/// The cursor name of the Dapr publisher.
pub const DAPR_PUBLISHER: &str = "dapr-publisher";

/// Where daprd is and which pub/sub component to use.
#[derive(Debug, Clone)]
pub struct DaprConfig {
    /// daprd's HTTP endpoint, e.g. `http://127.0.0.1:3500`.
    pub http_endpoint: String,
    /// The pub/sub component name.
    pub pubsub: String,
}

/// Relays the outbox to Dapr pub/sub, in order, marking an event published only
/// when daprd accepted it; while daprd or the broker is down, events wait.
pub struct DaprPublisher {
    store: Store,
    http: reqwest::Client,
    dapr: DaprConfig,
    config: BusConfig,
}

impl DaprPublisher {
    /// A publisher of `store`'s outbox.
    pub fn new(store: Store, dapr: DaprConfig, config: BusConfig) -> DaprPublisher {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap_or_default();
        DaprPublisher { store, http, dapr, config }
    }

    async fn publish(&self, record: &OutboxRecord) -> Result<(), String> {
        let url = format!(
            "{}/v1.0/publish/{}/{}",
            self.dapr.http_endpoint.trim_end_matches('/'),
            self.dapr.pubsub,
            record.topic
        );
        // With the CloudEvents content type daprd forwards the envelope as it is,
        // keeping our id (the consumers' dedup key) and our trace context; the header
        // puts daprd's own span for the publish in the same trace.
        let mut request =
            self.http.post(&url).header("content-type", "application/cloudevents+json").body(record.payload.clone());
        if let Ok(trace) = serde_json::from_str::<EventTrace>(&record.payload) {
            for (name, value) in [("traceparent", trace.traceparent), ("tracestate", trace.tracestate)] {
                if let Some(value) = value {
                    request = request.header(name, value);
                }
            }
        }
        let response = request.send().await.map_err(|e| format!("daprd unreachable: {e}"))?;
        if response.status().is_success() {
            Ok(())
        } else {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            Err(format!("daprd answered {status}: {body}"))
        }
    }

    async fn save_position(&self, position: errand_store::OutboxPosition) {
        for attempt in 1..=5 {
            match self.store.advance_consumer(DAPR_PUBLISHER, position, &[], Utc::now()).await {
                Ok(()) => return,
                Err(e) => tracing::warn!(error = %e, attempt, "saving the publisher cursor failed"),
            }
            tokio::time::sleep(self.config.backoff(attempt)).await;
        }
    }

    /// Publishes until `shutdown` turns true.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let _leadership = loop {
            match self.store.try_lead(DAPR_PUBLISHER).await {
                Ok(Some(leadership)) => break leadership,
                Ok(None) => tracing::debug!("another process publishes; standing by"),
                Err(e) => tracing::warn!(error = %e, "cannot take the publisher role"),
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
        };
        let mut position = match self.store.consumer_position(DAPR_PUBLISHER).await {
            Ok(position) => position,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the publisher cursor");
                return;
            }
        };
        let mut last_upkeep = std::time::Instant::now();
        loop {
            if last_upkeep.elapsed() > self.config.upkeep_every {
                last_upkeep = std::time::Instant::now();
                let mut readers = vec![DAPR_PUBLISHER];
                readers.extend(self.config.outbox_readers.iter().copied());
                if let Err(e) = self.store.prune_outbox(&readers).await {
                    tracing::warn!(error = %e, "pruning the outbox failed");
                }
            }
            let batch = match self
                .store
                .next_events(position, self.config.batch, self.config.upkeep_every, &mut shutdown)
                .await
            {
                Ok(Some(batch)) => batch,
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "reading the outbox failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            for record in &batch {
                let mut attempt = 0;
                // In order: an event that cannot be published holds back the rest.
                loop {
                    match self.publish(record).await {
                        Ok(()) => break,
                        Err(error) => {
                            attempt += 1;
                            metrics::counter!("errand_events_publish_failed_total", "topic" => record.topic.clone())
                                .increment(1);
                            let wait = self.config.backoff(attempt);
                            tracing::warn!(event_id = %record.event_id, attempt, %error, ?wait, "publishing failed; retrying");
                            let stopped = tokio::select! {
                                _ = tokio::time::sleep(wait) => false,
                                _ = shutdown.wait_for(|stop| *stop) => true,
                            };
                            if stopped {
                                self.save_position(position).await;
                                return;
                            }
                        }
                    }
                }
                metrics::counter!("errand_events_published_total", "topic" => record.topic.clone()).increment(1);
                position = record.position();
            }
            // Saved per batch: after a crash at most one batch is published again,
            // and consumers deduplicate by event id.
            self.save_position(position).await;
        }
    }
}

/// The trace context fields of a stored CloudEvent.
#[derive(serde::Deserialize)]
struct EventTrace {
    traceparent: Option<String>,
    tracestate: Option<String>,
}

#[derive(Clone)]
struct Subscriber {
    store: Store,
    handler: Arc<dyn Handler>,
    pubsub: String,
}

/// The dead-letter topic of a consumer: where daprd moves events it gave up on.
pub fn dead_letter_topic(consumer: &str) -> String {
    format!("errand.{consumer}.deadletters")
}

/// The HTTP app daprd talks to for one consumer: `GET /dapr/subscribe`, a route per
/// topic (`POST /events/{topic}`), the dead-letter route, and `GET /healthz`.
pub fn subscriber_router(store: Store, handler: Arc<dyn Handler>, pubsub: &str) -> Router {
    crate::handler::register_metrics(handler.name());
    let state = Subscriber { store, handler, pubsub: pubsub.to_string() };
    Router::new()
        .route("/dapr/subscribe", get(subscriptions))
        .route("/events/{topic}", post(receive))
        .route("/dead-letters", post(receive_dead_letter))
        .route("/healthz", get(|| async { Json(json!({ "status": "ok" })) }))
        .with_state(state)
}

async fn subscriptions(State(sub): State<Subscriber>) -> Json<Value> {
    let dead_letters = dead_letter_topic(sub.handler.name());
    let mut list: Vec<Value> = sub
        .handler
        .topics()
        .iter()
        .map(|topic| {
            json!({
                "pubsubname": sub.pubsub,
                "topic": topic,
                "route": format!("/events/{topic}"),
                "deadLetterTopic": dead_letters,
            })
        })
        .collect();
    list.push(json!({ "pubsubname": sub.pubsub, "topic": dead_letters, "route": "/dead-letters" }));
    Json(Value::Array(list))
}

fn dapr_status(status: &str) -> (StatusCode, Json<Value>) {
    (StatusCode::OK, Json(json!({ "status": status })))
}

/// Parses what daprd posts: the CloudEvent (daprd adds fields of its own, ignored).
fn parse_event(body: &[u8]) -> Result<CloudEvent, String> {
    serde_json::from_slice::<CloudEvent>(body).map_err(|e| format!("not a CloudEvent: {e}"))
}

async fn receive(
    State(sub): State<Subscriber>,
    Path(topic): Path<String>,
    body: axum::body::Bytes,
) -> (StatusCode, Json<Value>) {
    let name = sub.handler.name();
    if !sub.handler.topics().contains(&topic.as_str()) {
        tracing::warn!(consumer = name, %topic, "event on a topic this consumer does not read; dropping");
        return dapr_status("DROP");
    }
    let event = match parse_event(&body) {
        Ok(event) => event,
        Err(error) => {
            tracing::warn!(consumer = name, %error, "dropping a malformed event");
            return dapr_status("DROP");
        }
    };
    match sub.store.event_applied(name, &event.id).await {
        Ok(true) => return dapr_status("SUCCESS"),
        Ok(false) => {}
        Err(e) => {
            tracing::warn!(consumer = name, error = %e, "dedup check failed; asking for a retry");
            return dapr_status("RETRY");
        }
    }
    let event_id = event.id.clone();
    let delivery = Delivery { topic, event };
    let span = delivery.span(name);
    match sub.handler.handle(&delivery).instrument(span).await {
        Ok(()) => {
            if let Err(e) = sub.store.record_applied(name, &event_id, Utc::now()).await {
                // The effect is in; the handler's own idempotency covers a redelivery.
                tracing::warn!(consumer = name, error = %e, "recording the applied event failed");
            }
            metrics::counter!("errand_events_delivered_total", "consumer" => name).increment(1);
            let latency = (Utc::now() - delivery.event.time).to_std().unwrap_or_default();
            metrics::histogram!("errand_event_delivery_seconds", "consumer" => name).record(latency.as_secs_f64());
            dapr_status("SUCCESS")
        }
        Err(HandlerError::Retry(error)) => {
            metrics::counter!("errand_events_failed_total", "consumer" => name).increment(1);
            tracing::warn!(consumer = name, %event_id, %error, "handler failed; asking daprd to retry");
            dapr_status("RETRY")
        }
        Err(HandlerError::Reject(error)) => {
            tracing::error!(consumer = name, %event_id, %error, "handler rejected the event; dead-lettering");
            let stored = store_dead_letter(&sub, &delivery, &body, &error).await;
            if stored {
                dapr_status("DROP")
            } else {
                dapr_status("RETRY")
            }
        }
    }
}

async fn receive_dead_letter(State(sub): State<Subscriber>, body: axum::body::Bytes) -> (StatusCode, Json<Value>) {
    let raw: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let Ok(event) = parse_event(&body) else {
        tracing::error!(consumer = sub.handler.name(), "an unreadable event reached the dead-letter topic; dropping");
        return dapr_status("DROP");
    };
    // daprd records where the event came from in `topic` (now the dead-letter topic)
    // and keeps no error; name what we know.
    let topic = raw["topic"].as_str().unwrap_or("unknown").to_string();
    let delivery = Delivery { topic, event };
    if store_dead_letter(&sub, &delivery, &body, "daprd gave up delivering it after its retries").await {
        dapr_status("SUCCESS")
    } else {
        dapr_status("RETRY")
    }
}

async fn store_dead_letter(sub: &Subscriber, delivery: &Delivery, payload: &[u8], error: &str) -> bool {
    let name = sub.handler.name();
    metrics::counter!("errand_events_dead_lettered_total", "consumer" => name).increment(1);
    let letter = DeadLetter {
        id: errand_domain::new_id(),
        consumer: name.to_string(),
        event_id: delivery.event.id.clone(),
        topic: delivery.topic.clone(),
        payload: String::from_utf8_lossy(payload).into_owned(),
        error: error.to_string(),
        attempts: 1,
        created_at: Utc::now(),
        replayed_at: None,
    };
    match sub.store.dead_letter(&letter, None).await {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(consumer = name, error = %e, "storing a dead letter failed");
            false
        }
    }
}
