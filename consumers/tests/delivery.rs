//! Delivery behaviour of the embedded bus, the Dapr publisher and the Dapr
//! subscriber, on every store backend.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use errand_consumers::{
    replay, subscriber_router, AuditHandler, Bus, BusConfig, DaprConfig, DaprPublisher, Delivery, Handler,
    HandlerError, HandlerFuture, NotificationHandler, ReplayError,
};
use errand_domain::event::{task_event, topics, types, Actor, OutboundEvent, TaskEventKind};
use errand_domain::{NewTask, Task};
use errand_store::testing::{fresh_store, Backend};
use errand_store::{on_every_backend, InsertOutcome, OutboxPosition, Store};
use serde_json::{json, Value};
use tokio::sync::watch;

on_every_backend!(
    events_committed_before_start_are_delivered_once,
    live_writes_reach_every_consumer,
    failing_handlers_are_retried_then_dead_lettered_and_replayable,
    redelivery_has_no_second_effect,
    dapr_publisher_delivers_in_order_and_survives_outages,
    dapr_subscriber_speaks_daprs_protocol,
);

fn fast() -> BusConfig {
    BusConfig {
        max_attempts: 4,
        first_retry: Duration::from_millis(10),
        max_retry: Duration::from_millis(50),
        fallback_poll: Duration::from_millis(200),
        batch: 50,
        upkeep_every: Duration::from_millis(100),
        outbox_readers: Vec::new(),
    }
}

async fn user(store: &Store) -> String {
    errand_store::testing::create_user(store, &format!("{}@example.com", errand_domain::new_id())).await
}

async fn create_task(store: &Store, owner: &str, title: &str) -> Task {
    let now = Utc::now();
    let task = Task::create(
        errand_domain::new_id(),
        owner.into(),
        &NewTask { title: title.into(), ..Default::default() },
        chrono_tz::Tz::UTC,
        now,
    )
    .unwrap();
    let events = [task_event(TaskEventKind::Created, &task, &Actor::User, None, now)];
    assert_eq!(store.insert_task(&task, &events, None).await.unwrap(), InsertOutcome::Inserted);
    task
}

fn reminder(owner: &str, title: &str) -> OutboundEvent {
    OutboundEvent::new(
        topics::REMINDER,
        types::REMINDER_FIRED,
        owner,
        Some("task-1"),
        json!({ "user_id": owner, "actor": "system", "title": title }),
        Utc::now(),
    )
}

/// Runs `bus` in the background; dropping the returned sender stops it.
fn start(bus: Bus) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let (stop, shutdown) = watch::channel(false);
    (stop, tokio::spawn(bus.run(shutdown)))
}

async fn stop(running: (watch::Sender<bool>, tokio::task::JoinHandle<()>)) {
    running.0.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), running.1).await.expect("bus stops").unwrap();
}

async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn audit_count(store: &Store, owner: &str) -> usize {
    store.audit_trail(owner, None, 1000, None).await.unwrap().unwrap().items.len()
}

async fn notification_count(store: &Store, owner: &str) -> usize {
    store.notifications(owner, false, 1000, None).await.unwrap().len()
}

async fn events_committed_before_start_are_delivered_once(backend: Backend) {
    let Some((store, _db)) = fresh_store(backend).await else { return };
    let owner = user(&store).await;
    for i in 0..10 {
        create_task(&store, &owner, &format!("task {i}")).await;
    }
    store.append_events(&[reminder(&owner, "pay rent")]).await.unwrap();
    let running = start(Bus::new(store.clone(), audit_and_notifications(&store), fast()));
    eventually("audit rows", || async { audit_count(&store, &owner).await == 10 }).await;
    eventually("the notification", || async { notification_count(&store, &owner).await == 1 }).await;
    stop(running).await;
    // A restart finds nothing new to do.
    let running = start(Bus::new(store.clone(), audit_and_notifications(&store), fast()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop(running).await;
    assert_eq!(audit_count(&store, &owner).await, 10);
    assert_eq!(notification_count(&store, &owner).await, 1);
    let trail = store.audit_trail(&owner, None, 1, None).await.unwrap().unwrap();
    assert_eq!(trail.items[0].action, "task.created");
    assert_eq!(trail.items[0].actor, "user");
    assert_eq!(trail.items[0].changes.as_ref().unwrap()["title"]["after"], "task 9");
    let note = &store.notifications(&owner, false, 1, None).await.unwrap()[0];
    assert_eq!((note.kind.as_str(), note.title.as_str()), ("reminder", "pay rent"));
    // Everything delivered is pruned from the outbox.
    eventually("pruning", || async { store.outbox_after(OutboxPosition::default(), 100).await.unwrap().is_empty() })
        .await;
}

async fn live_writes_reach_every_consumer(backend: Backend) {
    let Some((store, _db)) = fresh_store(backend).await else { return };
    let owner = user(&store).await;
    let running = start(Bus::new(store.clone(), audit_and_notifications(&store), fast()));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    create_task(&store, &owner, "live").await;
    eventually("the audit row", || async { audit_count(&store, &owner).await == 1 }).await;
    assert!(
        started.elapsed() < Duration::from_millis(150),
        "woken by the commit, not the 200 ms poll: {:?}",
        started.elapsed()
    );
    store.append_events(&[reminder(&owner, "live reminder")]).await.unwrap();
    eventually("the notification", || async { notification_count(&store, &owner).await == 1 }).await;
    stop(running).await;
}

/// A consumer of `todo.events` that fails its first `failures` calls per event.
struct Flaky {
    name: &'static str,
    failures: u32,
    calls: AtomicU32,
    applied: AtomicU32,
}

impl Flaky {
    fn new(name: &'static str, failures: u32) -> Arc<Flaky> {
        Arc::new(Flaky { name, failures, calls: AtomicU32::new(0), applied: AtomicU32::new(0) })
    }
}

impl Handler for Flaky {
    fn name(&self) -> &'static str {
        self.name
    }

    fn topics(&self) -> &'static [&'static str] {
        &[topics::TODO]
    }

    fn handle<'a>(&'a self, _delivery: &'a Delivery) -> HandlerFuture<'a> {
        Box::pin(async move {
            let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            if call <= self.failures {
                return Err(HandlerError::Retry(format!("failure {call}")));
            }
            self.applied.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
    }
}

async fn failing_handlers_are_retried_then_dead_lettered_and_replayable(backend: Backend) {
    let Some((store, _db)) = fresh_store(backend).await else { return };
    let owner = user(&store).await;
    let recovers = Flaky::new("recovers", 3);
    let hopeless = Flaky::new("hopeless", u32::MAX);
    let running = start(Bus::new(store.clone(), vec![recovers.clone(), hopeless.clone()], fast()));
    create_task(&store, &owner, "one").await;
    eventually("the retried delivery", || async { recovers.applied.load(Ordering::SeqCst) == 1 }).await;
    assert_eq!(recovers.calls.load(Ordering::SeqCst), 4, "3 failures then success");
    eventually("the dead letter", || async { !store.dead_letters(true, 10).await.unwrap().is_empty() }).await;
    assert_eq!(hopeless.calls.load(Ordering::SeqCst), 4, "bounded attempts");
    // The hopeless consumer moved on: a second event is tried too.
    create_task(&store, &owner, "two").await;
    eventually("the second dead letter", || async { store.dead_letters(true, 10).await.unwrap().len() == 2 }).await;
    stop(running).await;

    let letters = store.dead_letters(true, 10).await.unwrap();
    assert!(letters.iter().all(|l| l.consumer == "hopeless" && l.attempts == 4 && l.error.contains("failure")));
    // Replay with a consumer that works now.
    let fixed: Arc<dyn Handler> = Flaky::new("hopeless", 0);
    let replayed = replay(&store, std::slice::from_ref(&fixed), &letters[0].id).await.unwrap();
    assert!(replayed.replayed_at.is_some());
    assert_eq!(store.dead_letters(true, 10).await.unwrap().len(), 1);
    assert!(matches!(
        replay(&store, std::slice::from_ref(&fixed), &letters[0].id).await,
        Err(ReplayError::AlreadyReplayed(_))
    ));
    assert!(matches!(replay(&store, std::slice::from_ref(&fixed), "nope").await, Err(ReplayError::NotFound(_))));
    let still_broken: Arc<dyn Handler> = Flaky::new("hopeless", u32::MAX);
    assert!(matches!(replay(&store, &[still_broken], &letters[1].id).await, Err(ReplayError::Failed(_))));
    assert_eq!(store.dead_letters(true, 10).await.unwrap().len(), 1, "a failed replay keeps the letter");
}

async fn redelivery_has_no_second_effect(backend: Backend) {
    let Some((store, _db)) = fresh_store(backend).await else { return };
    let owner = user(&store).await;
    let counting = Flaky::new("counting", 0);
    let mut consumers = audit_and_notifications(&store);
    consumers.push(counting.clone());
    create_task(&store, &owner, "once").await;
    store.append_events(&[reminder(&owner, "once")]).await.unwrap();
    let running = start(Bus::new(
        store.clone(),
        consumers.clone(),
        BusConfig { upkeep_every: Duration::from_secs(3600), ..fast() },
    ));
    eventually("delivery", || async {
        counting.applied.load(Ordering::SeqCst) == 1 && notification_count(&store, &owner).await == 1
    })
    .await;
    stop(running).await;
    // Rewind every cursor, as a crash before saving them would: all redelivered.
    for name in ["audit", "notification", "counting"] {
        store.advance_consumer(name, OutboxPosition::default(), &[], Utc::now()).await.unwrap();
    }
    let running = start(Bus::new(store.clone(), consumers, fast()));
    eventually("cursors to catch up", || async {
        let head = store.outbox_after(OutboxPosition::default(), 100).await.unwrap().last().map(|r| r.position());
        match head {
            Some(head) => store.consumer_position("counting").await.unwrap() >= head,
            None => true,
        }
    })
    .await;
    stop(running).await;
    assert_eq!(counting.applied.load(Ordering::SeqCst), 1, "dedup by event id skips the handler");
    assert_eq!(audit_count(&store, &owner).await, 1);
    assert_eq!(notification_count(&store, &owner).await, 1);
}

/// A stand-in for daprd's publish endpoint: records what arrives; answers 500 to
/// the first `fail_first` requests.
async fn fake_sidecar(
    listener: tokio::net::TcpListener,
    fail_first: u32,
) -> Arc<tokio::sync::Mutex<Vec<(String, String, Value)>>> {
    use axum::extract::{Path, State};
    use axum::http::{HeaderMap, StatusCode};
    type Seen = Arc<tokio::sync::Mutex<Vec<(String, String, Value)>>>;
    let seen: Seen = Arc::default();
    let failures = Arc::new(AtomicU32::new(fail_first));
    let app = axum::Router::new()
        .route(
            "/v1.0/publish/{pubsub}/{topic}",
            axum::routing::post(
                |State((seen, failures)): State<(Seen, Arc<AtomicU32>)>,
                 Path((pubsub, topic)): Path<(String, String)>,
                 headers: HeaderMap,
                 body: String| async move {
                    if failures.load(Ordering::SeqCst) > 0 {
                        failures.fetch_sub(1, Ordering::SeqCst);
                        return StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    assert_eq!(pubsub, "pubsub");
                    let content_type = headers["content-type"].to_str().unwrap().to_string();
                    seen.lock().await.push((topic, content_type, serde_json::from_str(&body).unwrap()));
                    StatusCode::NO_CONTENT
                },
            ),
        )
        .with_state((seen.clone(), failures));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    seen
}

async fn dapr_publisher_delivers_in_order_and_survives_outages(backend: Backend) {
    let Some((store, _db)) = fresh_store(backend).await else { return };
    let owner = user(&store).await;
    // Reserve a port, then leave it closed: daprd is "down" at first.
    let port = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let dapr = DaprConfig { http_endpoint: format!("http://127.0.0.1:{port}"), pubsub: "pubsub".into() };
    let (stop_tx, shutdown) = watch::channel(false);
    let publisher = tokio::spawn(DaprPublisher::new(store.clone(), dapr, fast()).run(shutdown));
    let mut sent = Vec::new();
    for i in 0..5 {
        sent.push(create_task(&store, &owner, &format!("t{i}")).await.id);
    }
    store.append_events(&[reminder(&owner, "r")]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        store.consumer_position("dapr-publisher").await.unwrap(),
        OutboxPosition::default(),
        "nothing marked published while down"
    );
    // daprd comes up, answering 500 three times first.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let seen = fake_sidecar(listener, 3).await;
    eventually("all six events", || async { seen.lock().await.len() == 6 }).await;
    for i in 5..8 {
        sent.push(create_task(&store, &owner, &format!("t{i}")).await.id);
    }
    eventually("the live events", || async { seen.lock().await.len() == 9 }).await;
    stop_tx.send(true).unwrap();
    publisher.await.unwrap();

    let seen = seen.lock().await;
    let task_ids: Vec<String> = seen
        .iter()
        .filter(|(topic, _, _)| topic == "todo.events")
        .map(|(_, _, e)| e["subject"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(task_ids, sent, "in commit order, each once");
    assert!(seen.iter().all(|(_, ct, e)| ct == "application/cloudevents+json" && e["specversion"] == "1.0"));
    let outbox_ids: std::collections::HashSet<String> =
        seen.iter().map(|(_, _, e)| e["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(outbox_ids.len(), 9, "event ids preserved and unique");
    assert!(seen.iter().any(|(topic, _, e)| topic == "reminder.events" && e["type"] == "reminder.fired"));
}

async fn dapr_subscriber_speaks_daprs_protocol(backend: Backend) {
    let Some((store, db)) = fresh_store(backend).await else { return };
    let owner = user(&store).await;
    let audit: Arc<dyn Handler> = audit_and_notifications(&store).remove(0);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = subscriber_router(store.clone(), audit, "pubsub");
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let http = reqwest::Client::new();

    let subs: Value = http.get(format!("{base}/dapr/subscribe")).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        subs,
        json!([
            {"pubsubname": "pubsub", "topic": "todo.events", "route": "/events/todo.events", "deadLetterTopic": "errand.audit.deadletters"},
            {"pubsubname": "pubsub", "topic": "errand.audit.deadletters", "route": "/dead-letters"}
        ])
    );

    let task = create_task(&store, &owner, "via dapr").await;
    // On PostgreSQL a row is readable once no older transaction is open anywhere in the
    // cluster (other tests' included), so it may take a moment.
    eventually("the event in the outbox", || async {
        !store.outbox_after(OutboxPosition::default(), 10).await.unwrap().is_empty()
    })
    .await;
    let record = store.outbox_after(OutboxPosition::default(), 10).await.unwrap().remove(0);
    // daprd adds attributes of its own to the envelope.
    let mut envelope: Value = serde_json::from_str(&record.payload).unwrap();
    envelope["pubsubname"] = json!("pubsub");
    envelope["topic"] = json!("todo.events");
    envelope["traceparent"] = json!("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    let post = |path: &str, body: Value| {
        http.post(format!("{base}{path}"))
            .header("content-type", "application/cloudevents+json")
            .body(body.to_string())
            .send()
    };
    let status =
        |r: reqwest::Response| async move { r.json::<Value>().await.unwrap()["status"].as_str().unwrap().to_string() };

    assert_eq!(status(post("/events/todo.events", envelope.clone()).await.unwrap()).await, "SUCCESS");
    assert_eq!(status(post("/events/todo.events", envelope.clone()).await.unwrap()).await, "SUCCESS", "redelivery");
    let trail = store.audit_trail(&owner, Some(&task.id), 10, None).await.unwrap().unwrap();
    assert_eq!(trail.items.len(), 1, "one effect");

    assert_eq!(status(post("/events/todo.events", json!({"not": "an event"})).await.unwrap()).await, "DROP");
    assert_eq!(
        status(post("/events/ai.events", envelope.clone()).await.unwrap()).await,
        "DROP",
        "not a topic of audit"
    );

    let mut anonymous = envelope.clone();
    anonymous["id"] = json!("no-user");
    anonymous["data"]["user_id"] = Value::Null;
    assert_eq!(status(post("/events/todo.events", anonymous).await.unwrap()).await, "DROP", "rejected");
    assert!(store.dead_letters(true, 10).await.unwrap().iter().any(|l| l.event_id == "no-user"));

    // The database failing is temporary: daprd is asked to retry.
    let mut retry = envelope.clone();
    retry["id"] = json!("needs-retry");
    let raw_url = db.url.clone();
    break_audit_table(&raw_url, backend).await;
    assert_eq!(status(post("/events/todo.events", retry).await.unwrap()).await, "RETRY");

    let mut given_up = envelope.clone();
    given_up["id"] = json!("given-up");
    given_up["topic"] = json!("todo.events");
    assert_eq!(status(post("/dead-letters", given_up).await.unwrap()).await, "SUCCESS");
    let letters = store.dead_letters(true, 10).await.unwrap();
    assert!(letters.iter().any(|l| l.event_id == "given-up" && l.consumer == "audit" && l.topic == "todo.events"));
}

async fn break_audit_table(url: &str, backend: Backend) {
    let sql = "ALTER TABLE audit_log RENAME TO audit_log_gone";
    match backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(url).await.unwrap();
            sqlx::query(sql).execute(&pool).await.unwrap();
            pool.close().await;
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            sqlx::query(sql).execute(&pool).await.unwrap();
            pool.close().await;
        }
    }
}

/// The consumers that need no workflow sidecar.
fn audit_and_notifications(store: &Store) -> Vec<Arc<dyn Handler>> {
    vec![Arc::new(AuditHandler::new(store.clone())), Arc::new(NotificationHandler::new(store.clone()))]
}
