//! Errand on real Dapr (daprd 1.16, Kafka, Redis, PostgreSQL), beside the embedded
//! figures of the other benchmarks:
//!
//! - event latency through Kafka: tasks written through the API at a steady rate; a
//!   probe subscriber (Errand's own subscriber app with a handler that only measures,
//!   behind its own daprd) records the time from the write's commit (the event's
//!   `time`) to its delivery: outbox, relay, daprd, Kafka, daprd, app;
//! - search across two API replicas (each with its own daprd, one PostgreSQL): a task
//!   written on one replica until a search on the other finds it.
//!
//! `make bench` runs it; `BENCH_EVENTS` (default 1,000, at `BENCH_RATE`, default 100/s)
//! and `BENCH_SEARCHES` (default 100) tune it. It needs the Dapr parts
//! (`scripts/dapr-tools.sh`) and PostgreSQL (`scripts/with-postgres.sh`).

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../../consumers/benches/support/probe.rs"]
mod probe;

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::dapr::Stack;
use errand_consumers::subscriber_router;
use probe::Probe;
use serde_json::json;
use support::{env_number, percentile_ms};

fn row(name: &str, mut latencies: Vec<Duration>) {
    latencies.sort();
    println!(
        "| {name} | {} | {:.1} | {:.1} | {:.1} |",
        latencies.len(),
        percentile_ms(&latencies, 0.5),
        percentile_ms(&latencies, 0.99),
        percentile_ms(&latencies, 1.0)
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let events = env_number("BENCH_EVENTS", 1000usize, 20);
    let rate = env_number("BENCH_RATE", 100usize, 20).max(1);
    let searches = env_number("BENCH_SEARCHES", 100usize, 4);
    let Some(mut stack) = Stack::start().await else {
        println!("the Dapr parts are not provided here (scripts/dapr-tools.sh): skipped");
        return;
    };
    assert!(stack.db.url.starts_with("postgres"), "run under scripts/with-postgres.sh: two replicas share PostgreSQL");
    let ada = stack.signup("ada@example.com").await;

    // The probe: Errand's subscriber app with a measuring handler, behind its own daprd.
    let probe = Arc::new(Probe::default());
    let store = errand_store::Store::connect(&stack.db.url).await.expect("store");
    let router = subscriber_router(store, probe.clone(), "pubsub");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move { axum::serve(listener, router).await });
    stack.sidecar_for("errand-probe", port);
    // Until the probe's subscription is live, writes would go unseen: wait for one.
    common::eventually("the probe's first delivery", 60, || async {
        ada.create(json!({ "title": "warm-up" })).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        !probe.latencies.lock().unwrap().is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    probe.latencies.lock().unwrap().clear();

    println!("Errand on daprd 1.16 with Kafka, Redis and PostgreSQL");
    println!();
    println!("| what | samples | p50 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|");
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let started = Instant::now();
    for n in 0..events {
        let next = started + interval * n as u32;
        tokio::time::sleep_until(next.into()).await;
        ada.create(json!({ "title": format!("event {n}") })).await;
    }
    common::eventually("every event at the probe", 60, || async { probe.latencies.lock().unwrap().len() >= events })
        .await;
    let latencies = probe.latencies.lock().unwrap().clone();
    row(&format!("event commit to delivery through Kafka ({rate}/s)"), latencies);

    let other = common::Session { base: stack.add_api_replica().await, ..ada.clone() };
    let mut found_after = Vec::new();
    for n in 0..searches {
        let (writer, reader) = if n % 2 == 0 { (&ada, &other) } else { (&other, &ada) };
        let id = writer.create(json!({ "title": format!("feed zebra number {n}") })).await["id"].clone();
        let written = Instant::now();
        loop {
            let r = reader.get(&format!("/tasks?q=zebra%20{n}&limit=100")).await;
            if r.body["items"].as_array().is_some_and(|items| items.iter().any(|t| t["id"] == id)) {
                break;
            }
            assert!(written.elapsed() < Duration::from_secs(10), "task {n} never found on the other replica");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        found_after.push(written.elapsed());
    }
    row("a write found by a search on the other replica", found_after);
}
