//! Producer -> consumer latency of the embedded bus (DESIGN §7: p99 < 100 ms).
//!
//! A writer commits task writes at a steady rate through the store, exactly as the
//! API does; the bus delivers them to the audit and notification consumers and to a
//! probe consumer that records commit-to-handled latency. The baseline, in the same
//! run and on the same kind of database, is a plain outbox poller that checks every
//! 100 ms — the usual way an outbox relay is built.
//!
//! `make bench` runs it; `BENCH_EVENTS` and `BENCH_RATE` (events/s) tune the load.

#[path = "support/probe.rs"]
mod probe;
#[path = "../../api/benches/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use errand_consumers::{AuditHandler, Bus, BusConfig, Handler, NotificationHandler};
use errand_domain::event::{task_event, Actor, CloudEvent, TaskEventKind};
use errand_domain::{NewTask, Task};
use errand_store::{OutboxPosition, Store};
use probe::Probe;
use support::{env_number, percentile};
use tokio::sync::watch;

async fn fresh_store(dir: &std::path::Path) -> (Store, String) {
    let store = Store::connect(&format!("sqlite://{}/bench.db", dir.display())).await.unwrap();
    store.migrate().await.unwrap();
    let user = errand_store::testing::create_user(&store, "bench@example.com").await;
    (store, user)
}

/// Commits `events` task creations at `rate` per second.
async fn produce(store: &Store, user: &str, events: u64, rate: u64) {
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let start = Instant::now();
    for i in 0..events {
        let due = start + interval * i as u32;
        tokio::time::sleep_until(due.into()).await;
        let now = Utc::now();
        let input =
            NewTask { title: format!("bench task {i}"), tags: Some(vec!["bench".into()]), ..Default::default() };
        let task = Task::create(errand_domain::new_id(), user.into(), &input, chrono_tz::Tz::UTC, now).unwrap();
        let event = task_event(TaskEventKind::Created, &task, &Actor::User, None, now);
        store.insert_task(&task, &[event], None).await.unwrap();
    }
}

fn report(name: &str, mut latencies: Vec<Duration>) -> (Duration, Duration) {
    latencies.sort();
    let (p50, p99) = (percentile(&latencies, 0.50), percentile(&latencies, 0.99));
    println!(
        "{name:<34} {:>6} events  p50 {:>8.2} ms  p99 {:>8.2} ms  max {:>8.2} ms",
        latencies.len(),
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    (p50, p99)
}

async fn errand_bus(events: u64, rate: u64) -> Vec<Duration> {
    let dir = tempfile::tempdir().unwrap();
    let (store, user) = fresh_store(dir.path()).await;
    let probe = Arc::new(Probe::default());
    let mut consumers: Vec<Arc<dyn Handler>> =
        vec![Arc::new(AuditHandler::new(store.clone())), Arc::new(NotificationHandler::new(store.clone()))];
    consumers.push(probe.clone());
    let (stop, shutdown) = watch::channel(false);
    let bus = tokio::spawn(Bus::new(store.clone(), consumers, BusConfig::default()).run(shutdown));
    produce(&store, &user, events, rate).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while (probe.latencies.lock().unwrap().len() as u64) < events && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.send(true).unwrap();
    bus.await.unwrap();
    let latencies = probe.latencies.lock().unwrap().clone();
    latencies
}

/// The baseline: read the outbox every 100 ms and hand each new event over.
async fn polling_relay(events: u64, rate: u64) -> Vec<Duration> {
    let dir = tempfile::tempdir().unwrap();
    let (store, user) = fresh_store(dir.path()).await;
    let poller = tokio::spawn({
        let store = store.clone();
        async move {
            let mut position = OutboxPosition::default();
            let mut latencies = Vec::new();
            while (latencies.len() as u64) < events {
                tokio::time::sleep(Duration::from_millis(100)).await;
                for record in store.outbox_after(position, 1000).await.unwrap() {
                    let event: CloudEvent = serde_json::from_str(&record.payload).unwrap();
                    latencies.push((Utc::now() - event.time).to_std().unwrap_or_default());
                    position = record.position();
                }
            }
            latencies
        }
    });
    produce(&store, &user, events, rate).await;
    poller.await.unwrap()
}

#[tokio::main]
async fn main() {
    let events = env_number("BENCH_EVENTS", 2000u64, 100);
    let rate = env_number("BENCH_RATE", 200u64, 200);
    println!("producer -> consumer latency, SQLite, {events} task writes at {rate}/s");
    let (_, errand_p99) = report("errand bus (audit+notify+probe)", errand_bus(events, rate).await);
    let (_, baseline_p99) = report("baseline: 100 ms outbox poller", polling_relay(events, rate).await);
    println!(
        "p99 ratio baseline/errand: {:.1}x   target p99 < 100 ms: {}",
        baseline_p99.as_secs_f64() / errand_p99.as_secs_f64().max(1e-9),
        if errand_p99 < Duration::from_millis(100) { "met" } else { "MISSED" }
    );
}
