//! End-to-end tests of the event backbone: the real `errand` binary, its embedded
//! bus, the audit trail, notifications over SSE, dead letters, and the Dapr paths.

mod common;

use std::time::Duration;

use chrono::Utc;
use common::{eventually, spawn_listening, Backend, Server, Session};
use errand_domain::event::{topics, types, OutboundEvent};
use errand_store::{on_every_backend, NewUser, Store};
use reqwest::Method;
use serde_json::{json, Value};

on_every_backend!(
    the_audit_trail_records_every_write,
    notification_streams_are_per_user_and_resume_without_gaps,
    a_killed_server_delivers_everything_once_after_restart,
    errand_consumer_answers_daprd,
);

async fn open_store(server: &Server) -> Store {
    Store::connect(&server.database_url).await.expect("connect to the server's database")
}

fn reminder_for(user_id: &str, title: &str) -> OutboundEvent {
    OutboundEvent::new(
        topics::REMINDER,
        types::REMINDER_FIRED,
        user_id,
        None,
        json!({ "user_id": user_id, "actor": "system", "title": title }),
        Utc::now(),
    )
}

fn user_id(session: &Session) -> String {
    session.user["id"].as_str().unwrap().to_string()
}

async fn audit(session: &Session, query: &str) -> Vec<Value> {
    let r = session.get(&format!("/audit{query}")).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["items"].as_array().unwrap().clone()
}

async fn the_audit_trail_records_every_write(backend: Backend) {
    let Some((server, _db)) = Server::fresh(backend).await else { return };
    let ada = server.signup("ada@example.com").await;
    let bob = server.signup("bob@example.com").await;
    let task = ada.create(json!({"title": "audited", "priority": "low"})).await;
    let id = task["id"].as_str().unwrap();
    ada.patch(&format!("/tasks/{id}"), json!({"title": "audited twice", "priority": "high"})).await;
    ada.post(&format!("/tasks/{id}/complete"), json!({})).await;
    ada.delete(&format!("/tasks/{id}")).await;
    ada.create(json!({"title": "another"})).await;

    let query = format!("?task_id={id}");
    eventually("four audit records", 10, || async { audit(&ada, &query).await.len() == 4 }).await;
    let trail = audit(&ada, &query).await;
    let actions: Vec<&str> = trail.iter().map(|r| r["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["task.deleted", "task.completed", "task.updated", "task.created"], "newest first");
    assert!(trail.iter().all(|r| r["actor"] == "user" && r["task_id"] == id));
    assert_eq!(trail[2]["changes"]["title"], json!({"before": "audited", "after": "audited twice"}));
    assert_eq!(trail[2]["changes"]["priority"], json!({"before": "low", "after": "high"}));
    assert_eq!(trail[1]["changes"]["status"], json!({"before": "open", "after": "done"}));
    assert_eq!(trail[3]["changes"]["title"]["after"], "audited");
    assert_eq!(trail[0]["changes"]["title"]["before"], "audited twice");

    // Paging, newest first, across every task.
    eventually("five records", 10, || async { audit(&ada, "").await.len() == 5 }).await;
    let first = ada.get("/audit?limit=2").await;
    assert_eq!(first.body["items"].as_array().unwrap().len(), 2);
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = ada.get(&format!("/audit?limit=10&cursor={cursor}")).await;
    assert_eq!(second.body["items"].as_array().unwrap().len(), 3);
    assert!(second.body["next_cursor"].is_null());
    assert_eq!(ada.get("/audit?cursor=nonsense").await.status, 400);

    // Bob's trail holds none of Ada's records, even when he names her task.
    assert!(audit(&bob, "").await.is_empty());
    assert!(audit(&bob, &query).await.is_empty());
}

/// Reads Server-Sent Events from a streaming response.
struct EventStream {
    response: reqwest::Response,
    buffer: String,
}

impl EventStream {
    async fn open(session: &Session, last_event_id: Option<&str>, via_query: bool) -> EventStream {
        let url = if via_query {
            format!("{}/api/v1/notifications/stream?access_token={}", session.base, session.token)
        } else {
            format!("{}/api/v1/notifications/stream", session.base)
        };
        let mut request = reqwest::Client::new().get(url);
        if !via_query {
            request = request.bearer_auth(&session.token);
        }
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        EventStream { response, buffer: String::new() }
    }

    /// The next `notification` event as (id, data), skipping heartbeats.
    async fn next(&mut self) -> (String, Value) {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut id = None;
                let mut data = None;
                let mut kind = None;
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = Some(v.trim().to_string());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data = Some(v.trim().to_string());
                    } else if let Some(v) = line.strip_prefix("event:") {
                        kind = Some(v.trim().to_string());
                    }
                }
                if kind.as_deref() == Some("notification") {
                    return (id.expect("id"), serde_json::from_str(&data.expect("data")).unwrap());
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(15), self.response.chunk())
                .await
                .expect("an event within 15 s")
                .unwrap()
                .expect("the stream stays open");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// True when no notification arrives within `wait`.
    async fn quiet_for(&mut self, wait: Duration) -> bool {
        tokio::time::timeout(wait, self.next()).await.is_err()
    }
}

async fn notification_streams_are_per_user_and_resume_without_gaps(backend: Backend) {
    let Some((server, _db)) = Server::fresh(backend).await else { return };
    let ada = server.signup("ada@example.com").await;
    let bob = server.signup("bob@example.com").await;
    let store = open_store(&server).await;
    let mut ada_stream = EventStream::open(&ada, None, false).await;
    let mut bob_stream = EventStream::open(&bob, None, true).await;

    store.append_events(&[reminder_for(&user_id(&ada), "ada 1"), reminder_for(&user_id(&bob), "bob 1")]).await.unwrap();
    store.append_events(&[reminder_for(&user_id(&ada), "ada 2")]).await.unwrap();
    let (first_id, first) = ada_stream.next().await;
    let (second_id, second) = ada_stream.next().await;
    assert_eq!((first["title"].as_str(), second["title"].as_str()), (Some("ada 1"), Some("ada 2")));
    assert_eq!(first["kind"], "reminder");
    let (_, bobs) = bob_stream.next().await;
    assert_eq!(bobs["title"], "bob 1");
    assert!(bob_stream.quiet_for(Duration::from_millis(500)).await, "bob receives only his own");
    assert!(first_id.parse::<i64>().unwrap() < second_id.parse::<i64>().unwrap());

    // Ada drops off after the first; two more arrive while she is away.
    drop(ada_stream);
    store.append_events(&[reminder_for(&user_id(&ada), "ada 3")]).await.unwrap();
    store.append_events(&[reminder_for(&user_id(&ada), "ada 4")]).await.unwrap();
    eventually("ada's four notifications", 10, || async {
        ada.get("/notifications").await.body["items"].as_array().unwrap().len() == 4
    })
    .await;
    let mut resumed = EventStream::open(&ada, Some(&first_id), false).await;
    let titles = [resumed.next().await.1, resumed.next().await.1, resumed.next().await.1];
    let titles: Vec<&str> = titles.iter().map(|n| n["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["ada 2", "ada 3", "ada 4"], "exactly the missed ones, in order");
    assert!(resumed.quiet_for(Duration::from_millis(500)).await, "no repeats");

    // The list, unread filter and marking read.
    let list = ada.get("/notifications?unread=true").await;
    let items = list.body["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 4);
    assert_eq!(items[0]["title"], "ada 4", "newest first");
    let read = ada.post(&format!("/notifications/{}/read", items[0]["id"].as_str().unwrap()), json!({})).await;
    assert_eq!(read.status, 200);
    assert!(read.body["read_at"].is_string());
    assert_eq!(ada.get("/notifications?unread=true").await.body["items"].as_array().unwrap().len(), 3);
    let not_bobs = bob.post(&format!("/notifications/{}/read", items[0]["id"].as_str().unwrap()), json!({})).await;
    assert_eq!(not_bobs.status, 404);
    let paged = ada.get("/notifications?limit=3").await;
    let cursor = paged.body["next_cursor"].as_str().unwrap();
    assert_eq!(
        ada.get(&format!("/notifications?limit=3&cursor={cursor}")).await.body["items"].as_array().unwrap().len(),
        1
    );
    let bad = ada.send(ada.request(Method::GET, "/notifications/stream").header("Last-Event-ID", "x")).await;
    assert_eq!(bad.status, 400);
    let anonymous = reqwest::get(format!("{}/api/v1/notifications/stream", server.base)).await.unwrap();
    assert_eq!(anonymous.status(), 401);
}

async fn a_killed_server_delivers_everything_once_after_restart(backend: Backend) {
    let Some((server, db)) = Server::fresh(backend).await else { return };
    let ada = server.signup("ada@example.com").await;
    let ada_id = user_id(&ada);
    let mut ids = Vec::new();
    for i in 0..40 {
        ids.push(ada.create(json!({"title": format!("task {i}")})).await["id"].as_str().unwrap().to_string());
    }
    // Killed right after the last commit: some events are delivered, some not.
    server.kill();
    // More events are committed while nothing runs.
    let store = Store::connect(&db.url).await.unwrap();
    for i in 0..5 {
        store.append_events(&[reminder_for(&ada_id, &format!("while down {i}"))]).await.unwrap();
    }
    store.close().await;

    let restarted = Server::start(&db.url, db.dir.path());
    let mut session = ada.clone();
    session.base = restarted.base.clone();
    eventually("every task's audit record", 20, || async {
        session.get("/audit?limit=200").await.body["items"].as_array().unwrap().len() >= 40
    })
    .await;
    eventually("every notification", 20, || async {
        session.get("/notifications?limit=200").await.body["items"].as_array().unwrap().len() >= 5
    })
    .await;
    // Give any duplicate a chance to show up before counting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let trail = session.get("/audit?limit=200").await.body["items"].as_array().unwrap().clone();
    let mut audited: Vec<String> = trail.iter().map(|r| r["task_id"].as_str().unwrap().to_string()).collect();
    audited.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(audited, expected, "one audit record per task");
    let notes = session.get("/notifications?limit=200").await.body["items"].as_array().unwrap().clone();
    assert_eq!(notes.len(), 5, "one notification per event");
}

async fn errand_consumer_answers_daprd(backend: Backend) {
    let Some(db) = errand_store::testing::fresh_db(backend).await else { return };
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_errand"));
    command.args(["consumer", "audit", "--listen", "127.0.0.1:0"]);
    let (mut child, base) =
        spawn_listening(command, &db.url, db.dir.path(), &[], "errand consumer audit listening on ");
    let http = reqwest::Client::new();
    let subs: Value = http.get(format!("{base}/dapr/subscribe")).send().await.unwrap().json().await.unwrap();
    assert_eq!(subs[0]["topic"], "todo.events");
    assert_eq!(subs[0]["route"], "/events/todo.events");
    assert_eq!(subs[0]["deadLetterTopic"], "errand.audit.deadletters");

    // A task written elsewhere; its event arrives as daprd would post it.
    let store = Store::connect(&db.url).await.unwrap();
    let owner = errand_domain::new_id();
    let new = NewUser {
        id: owner.clone(),
        email: "ada@example.com".into(),
        name: None,
        password_hash: "x".into(),
        timezone: "UTC".into(),
        created_at: Utc::now(),
    };
    store.create_user(&new).await.unwrap();
    let task = errand_domain::Task::create(
        errand_domain::new_id(),
        owner.clone(),
        &errand_domain::NewTask { title: "from dapr".into(), ..Default::default() },
        chrono_tz::Tz::UTC,
        Utc::now(),
    )
    .unwrap();
    let event = errand_domain::event::task_event(
        errand_domain::event::TaskEventKind::Created,
        &task,
        &errand_domain::event::Actor::User,
        None,
        Utc::now(),
    );
    let mut envelope = serde_json::to_value(&event.event).unwrap();
    envelope["pubsubname"] = json!("pubsub");
    envelope["topic"] = json!("todo.events");
    let deliver = |body: Value| {
        let http = http.clone();
        let url = format!("{base}/events/todo.events");
        async move {
            let r = http
                .post(url)
                .header("content-type", "application/cloudevents+json")
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.unwrap()["status"].as_str().unwrap().to_string()
        }
    };
    assert_eq!(deliver(envelope.clone()).await, "SUCCESS");
    assert_eq!(deliver(envelope.clone()).await, "SUCCESS");
    let trail = store.audit_trail(&owner, None, 10, None).await.unwrap().unwrap();
    assert_eq!(trail.items.len(), 1, "redelivery has one effect");
    assert_eq!(trail.items[0].task_id.as_deref(), Some(task.id.as_str()));
    assert_eq!(deliver(json!({"garbage": true})).await, "DROP");
    let metrics = http.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("errand_events_delivered_total{consumer=\"audit\"} 1"), "{metrics}");
    store.close().await;
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test]
async fn dead_letters_can_be_listed_and_replayed() {
    let Some((server, db)) = Server::fresh(Backend::Sqlite).await else { return };
    let ada = server.signup("ada@example.com").await;
    let bob = server.signup("bob@example.com").await;
    let store = open_store(&server).await;
    // A notification for an account that does not exist (yet) keeps failing.
    let ghost = errand_domain::new_id();
    store.append_events(&[reminder_for(&ghost, "for the ghost")]).await.unwrap();
    eventually("the dead letter", 30, || async {
        ada.get("/ops/dead-letters").await.body["items"].as_array().is_some_and(|l| !l.is_empty())
    })
    .await;
    let letters = ada.get("/ops/dead-letters").await.body;
    assert!(letters["next_cursor"].is_null());
    let letter = &letters["items"][0];
    assert_eq!(letter["consumer"], "notification");
    assert_eq!(letter["topic"], "reminder.events");
    assert_eq!(letter["event"]["data"]["title"], "for the ghost");
    assert!(letter["attempts"].as_i64().unwrap() > 1);
    let id = letter["id"].as_str().unwrap();
    assert_eq!(bob.get("/ops/dead-letters").await.status, 403, "admins only");
    assert_eq!(bob.post(&format!("/ops/dead-letters/{id}/replay"), json!({})).await.status, 403);

    let errand = |args: &[&str]| common::run_errand(args, &db);
    let listed = errand(&["events", "dead-letters"]);
    assert!(String::from_utf8_lossy(&listed.stdout).contains(id));
    // Still failing: the replay says so and the letter stays.
    let failed = ada.post(&format!("/ops/dead-letters/{id}/replay"), json!({})).await;
    assert_eq!((failed.status, failed.error_code()), (409, "replay_failed"));
    // Once the account exists, the replay delivers it.
    let new = NewUser {
        id: ghost.clone(),
        email: "ghost@example.com".into(),
        name: None,
        password_hash: "x".into(),
        timezone: "UTC".into(),
        created_at: Utc::now(),
    };
    store.create_user(&new).await.unwrap();
    let replayed = ada.post(&format!("/ops/dead-letters/{id}/replay"), json!({})).await;
    assert_eq!(replayed.status, 200, "{:?}", replayed.body);
    assert!(replayed.body["replayed_at"].is_string());
    assert_eq!(store.notifications(&ghost, false, 10, None).await.unwrap().len(), 1);
    let again = errand(&["events", "replay", id]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already replayed"));
    assert!(ada.get("/ops/dead-letters").await.body["items"].as_array().unwrap().is_empty());
    assert_eq!(ada.get("/ops/dead-letters?all=true").await.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(ada.post("/ops/dead-letters/nope/replay", json!({})).await.status, 404);
}

#[tokio::test]
async fn the_dapr_runtime_publishes_api_writes_to_the_sidecar() {
    use axum::extract::{Path, State};
    use std::sync::Arc;
    type Seen = Arc<tokio::sync::Mutex<Vec<(String, Value)>>>;
    let seen: Seen = Arc::default();
    let sidecar = axum::Router::new()
        .route(
            "/v1.0/publish/{pubsub}/{topic}",
            axum::routing::post(
                |State(seen): State<Seen>, Path((_, topic)): Path<(String, String)>, body: String| async move {
                    seen.lock().await.push((topic, serde_json::from_str(&body).unwrap()));
                    axum::http::StatusCode::NO_CONTENT
                },
            ),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, sidecar).await.unwrap() });

    let Some(db) = errand_store::testing::fresh_db(Backend::Sqlite).await else { return };
    let server =
        Server::start_with(&db.url, db.dir.path(), &["--runtime", "dapr"], &[("DAPR_HTTP_ENDPOINT", &endpoint)]);
    let ada = server.signup("ada@example.com").await;
    let task = ada.create(json!({"title": "through dapr"})).await;
    eventually("the published event", 10, || async { !seen.lock().await.is_empty() }).await;
    let seen = seen.lock().await;
    assert_eq!(seen[0].0, "todo.events");
    assert_eq!(seen[0].1["type"], "task.created");
    assert_eq!(seen[0].1["subject"], task["id"]);
}

/// Under Dapr the upkeep is daprd's cron binding `sweep` posting to `/sweep`: it forgets
/// sessions that ended over a day ago (and expired idempotency keys).
#[tokio::test]
async fn the_dapr_runtime_sweeps_when_the_cron_binding_posts() {
    let Some(db) = errand_store::testing::fresh_db(Backend::Sqlite).await else { return };
    // No daprd needed for this: nothing is published.
    let server = Server::start_with(
        &db.url,
        db.dir.path(),
        &["--runtime", "dapr"],
        &[("DAPR_HTTP_ENDPOINT", "http://127.0.0.1:9")],
    );
    let ada = server.signup("ada@example.com").await;
    let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
    let long_ago = (Utc::now() - chrono::Duration::days(2)).timestamp_millis();
    sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE user_id = $2")
        .bind(long_ago)
        .bind(ada.user["id"].as_str().unwrap())
        .execute(&pool)
        .await
        .unwrap();
    let count =
        || async { sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM sessions").fetch_one(&pool).await.unwrap() };
    assert_eq!(count().await, 1);
    let r = reqwest::Client::new().post(server.url("/sweep")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(count().await, 0, "the ended session is forgotten");
}

#[tokio::test]
async fn metrics_count_requests_and_deliveries() {
    let Some((server, _db)) = Server::fresh(Backend::Sqlite).await else { return };
    let ada = server.signup("ada@example.com").await;
    ada.create(json!({"title": "measured"})).await;
    eventually("the audit record", 10, || async { !audit(&ada, "").await.is_empty() }).await;
    let text = reqwest::get(server.url("/metrics")).await.unwrap().text().await.unwrap();
    for metric in [
        "errand_events_delivered_total{consumer=\"audit\"} 1",
        "errand_event_delivery_seconds_bucket{consumer=\"audit\"",
        "errand_http_requests_total{route=\"/api/v1/tasks\",method=\"POST\",status=\"201\"} 1",
        "errand_http_request_duration_seconds_bucket",
        // The embedded workflow engine runs inside `errand serve` and reports its queue.
        "errand_engine_instances{status=\"running\"} 0",
        "errand_engine_connected_workers",
        "errand_engine_ready_events 0",
    ] {
        assert!(text.contains(metric), "missing {metric} in\n{text}");
    }
    assert!(server.data_dir.join("engine.db").exists(), "the engine keeps its own database file");
}
