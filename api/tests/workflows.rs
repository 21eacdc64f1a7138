//! Reminders, recurring tasks and confirmations end to end: the real `errand serve`
//! with its embedded engine, and again with the durabletask-go sidecar (Dapr's engine)
//! as its workflow sidecar; plus the Dapr-mode `TaskApi` over HTTP against the real API.

mod common;
mod sidecars;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::{eventually, fresh_db, Backend, Server, Session, TestDb};
use serde_json::{json, Value};
use sidecars::{Kind, Sidecar};

/// Which workflow engine `errand serve` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Engine {
    Embedded,
    DurabletaskGo,
}

/// A server on a fresh SQLite database, with its workflow engine.
struct Setup {
    server: Option<Server>,
    db: TestDb,
    go: Option<Sidecar>,
    envs: Vec<(String, String)>,
}

impl Setup {
    async fn start(engine: Engine, extra_env: &[(&str, &str)]) -> Option<Setup> {
        let db = fresh_db(Backend::Sqlite).await?;
        let go = match engine {
            Engine::Embedded => None,
            Engine::DurabletaskGo => Some(Sidecar::start(Kind::DurabletaskGo).await?),
        };
        let mut envs: Vec<(String, String)> = extra_env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        if let Some(go) = &go {
            envs.push(("ERRAND_WORKFLOW_SIDECAR".into(), go.address()));
        }
        let mut setup = Setup { server: None, db, go, envs };
        setup.launch();
        Some(setup)
    }

    fn launch(&mut self) {
        let envs: Vec<(&str, &str)> = self.envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.server = Some(Server::start_with(&self.db.url, self.db.dir.path(), &[], &envs));
    }

    fn server(&self) -> &Server {
        self.server.as_ref().expect("running")
    }

    /// SIGKILL the server, then start it again on the same data.
    fn crash_and_restart(&mut self) {
        self.server.take().expect("running").kill();
        self.launch();
    }

    /// Stop the server (SIGTERM, a clean shutdown), then start it again on the same data.
    fn restart(&mut self) {
        assert!(self.server.take().expect("running").stop().success(), "a clean exit");
        self.launch();
    }

    async fn login(&self, email: &str) -> Session {
        let r = reqwest::Client::new()
            .post(self.server().url("/api/v1/auth/login"))
            .json(&json!({ "email": email, "password": "correct horse battery" }))
            .send()
            .await
            .expect("login");
        let body: Value = r.json().await.expect("json");
        Session {
            client: self.server().client.clone(),
            base: self.server().base.clone(),
            token: body["token"].as_str().expect("token").to_string(),
            user: body["user"].clone(),
        }
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.kill();
        }
        let _ = self.go.take();
    }
}

fn at(text: &Value) -> DateTime<Utc> {
    text.as_str().expect("a time").parse().expect("rfc3339")
}

async fn notifications(session: &Session, kind: &str) -> Vec<Value> {
    let r = session.get("/notifications").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["items"].as_array().unwrap().iter().filter(|n| n["kind"] == kind).cloned().collect()
}

async fn reminders_of(session: &Session, task_id: &str) -> Vec<Value> {
    notifications(session, "reminder").await.into_iter().filter(|n| n["task_id"] == task_id).collect()
}

async fn a_reminder_fires_on_time_and_once_across_a_crash(engine: Engine) {
    let Some(mut setup) = Setup::start(engine, &[]).await else { return };
    let ada = setup.server().signup("ada@example.com").await;

    let due = Utc::now() + chrono::Duration::seconds(2);
    let task = ada.create(json!({ "title": "call the plumber", "reminders": [{ "at": due.to_rfc3339() }] })).await;
    let reminder_at = at(&task["reminders"][0]["at"]);
    let reminder_workflow = || async {
        let list = ada.get(&format!("/workflows?kind=reminder&task_id={}", task["id"].as_str().unwrap())).await;
        list.body["items"][0].clone()
    };
    eventually("the reminder's workflow", 10, || async { reminder_workflow().await["status"] == "running" }).await;
    assert_eq!(at(&reminder_workflow().await["next_fire_at"]), reminder_at);
    eventually("the reminder", 10, || async { !reminders_of(&ada, task["id"].as_str().unwrap()).await.is_empty() })
        .await;
    eventually("the reminder's workflow to end", 10, || async {
        let workflow = reminder_workflow().await;
        workflow["status"] == "completed"
            && workflow["custom_status"] == "reminded"
            && workflow["next_fire_at"].is_null()
    })
    .await;
    let fired = reminders_of(&ada, task["id"].as_str().unwrap()).await;
    let lateness = at(&fired[0]["created_at"]) - reminder_at;
    assert!(lateness >= chrono::Duration::zero(), "fired early: {lateness}");
    assert!(lateness < chrono::Duration::seconds(1), "fired {lateness} late");
    assert_eq!(fired[0]["title"], "call the plumber");

    // Killed while the next one waits: after the restart it still fires, once.
    let due = Utc::now() + chrono::Duration::seconds(3);
    let task = ada.create(json!({ "title": "feed the cat", "reminders": [{ "at": due.to_rfc3339() }] })).await;
    let id = task["id"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(500)).await;
    setup.crash_and_restart();
    let ada = setup.login("ada@example.com").await;
    eventually("the reminder after the crash", 20, || async { !reminders_of(&ada, &id).await.is_empty() }).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(reminders_of(&ada, &id).await.len(), 1, "exactly once");
}

/// Whatever the moment of a restart or a crash, a reminder whose task was saved fires.
async fn reminders_set_just_before_a_restart_still_fire(engine: Engine) {
    let Some(mut setup) = Setup::start(engine, &[]).await else { return };
    setup.server().signup("ada@example.com").await;
    for round in 0..2 {
        let ada = setup.login("ada@example.com").await;
        let due = Utc::now() + chrono::Duration::milliseconds(1200);
        let task =
            ada.create(json!({ "title": format!("round {round}"), "reminders": [{ "at": due.to_rfc3339() }] })).await;
        let id = task["id"].as_str().unwrap().to_string();
        if round % 2 == 0 {
            setup.restart();
        } else {
            setup.crash_and_restart();
        }
        let ada = setup.login("ada@example.com").await;
        eventually(&format!("round {round}'s reminder"), 20, || async { !reminders_of(&ada, &id).await.is_empty() })
            .await;
    }
}

/// A task saved while the workflow sidecar is down: the trigger's first attempts fail,
/// and once the sidecar is back the reminder and the series still start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflows_start_once_the_sidecar_is_back() {
    let Some(mut setup) = Setup::start(Engine::DurabletaskGo, &[]).await else { return };
    let ada = setup.server().signup("ada@example.com").await;
    setup.go.as_mut().expect("sidecar").kill();
    let due = Utc::now() + chrono::Duration::seconds(4);
    let task = ada
        .create(json!({ "title": "water the plants", "due_at": (due + chrono::Duration::hours(1)).to_rfc3339(),
                        "recurrence": { "text": "every day" }, "reminders": [{ "at": due.to_rfc3339() }] }))
        .await;
    let id = task["id"].as_str().unwrap().to_string();
    // Long enough for the trigger to try (and fail) more than once.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let go = setup.go.as_mut().expect("sidecar");
    go.spawn_again();
    eventually("the reminder", 30, || async { !reminders_of(&ada, &id).await.is_empty() }).await;
    let series = ada.get(&format!("/workflows?kind=recurring&task_id={id}")).await;
    assert_eq!(series.body["items"][0]["status"], "running", "{:?}", series.body);
}

/// A sidecar that stops answering mid-way (a hung call) holds up shutdown no longer
/// than its deadline and loses nothing: after a restart the reminder fires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_sidecar_delays_but_loses_nothing() {
    let Some(mut setup) = Setup::start(Engine::DurabletaskGo, &[]).await else { return };
    let ada = setup.server().signup("ada@example.com").await;
    setup.go.as_ref().expect("sidecar").signal("STOP");
    let due = Utc::now() + chrono::Duration::seconds(2);
    let task = ada.create(json!({ "title": "stretch", "reminders": [{ "at": due.to_rfc3339() }] })).await;
    let id = task["id"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let status = setup.server.take().expect("running").stop_within(Duration::from_secs(20));
    assert!(status.success(), "shutdown was held up: {status:?}");
    setup.go.as_ref().expect("sidecar").signal("CONT");
    setup.launch();
    let ada = setup.login("ada@example.com").await;
    eventually("the reminder", 20, || async { !reminders_of(&ada, &id).await.is_empty() }).await;
}

/// The workflow trigger gives every sidecar call a deadline: a call the sidecar never
/// answers (daprd waiting for a worker that is not there) becomes a retry of the event
/// instead of holding its delivery for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trigger_retries_a_sidecar_call_that_never_answers() {
    use errand_consumers::{Delivery, Handler, HandlerError, WorkflowTriggerHandler};
    let Some(mut go) = Sidecar::start(Kind::DurabletaskGo).await else { return };
    let Some(setup) = Setup::start(Engine::Embedded, &[]).await else { return };
    let ada = setup.server().signup("ada@example.com").await;
    let due = Utc::now() + chrono::Duration::minutes(5);
    ada.create(json!({ "title": "stretch", "reminders": [{ "at": due.to_rfc3339() }] })).await;
    let store = errand_store::Store::connect(&setup.db.url).await.expect("store");
    let record = store.outbox_after(Default::default(), 10).await.expect("outbox").pop().expect("the task's event");
    let mut delivery =
        Delivery { topic: record.topic.clone(), event: serde_json::from_str(&record.payload).expect("event") };
    // The server's own trigger has started this task's reminder: name a task it has not
    // seen, so that this trigger calls the sidecar.
    delivery.event.data["task"]["id"] = json!(errand_domain::new_id());

    let clients = Arc::new(tokio::sync::OnceCell::new());
    let client = errand_workflows::connect_client(&go.address()).await.expect("client");
    clients.set(errand_consumers::WorkflowControl::Sidecar(Box::new(client))).ok();
    let trigger = WorkflowTriggerHandler::new(store, clients);
    go.signal("STOP");
    let outcome = tokio::time::timeout(Duration::from_secs(30), trigger.handle(&delivery)).await;
    go.signal("CONT");
    match outcome {
        Ok(Err(HandlerError::Retry(message))) => assert!(message.contains("did not answer"), "{message}"),
        Ok(other) => panic!("expected a retry, got {other:?}"),
        Err(_) => panic!("the trigger waited on the sidecar for 30 s"),
    }
    go.kill();
}

/// An instance the engine no longer knows (purged after its retention period) is
/// reported as unknown, never as completed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purged_instance_is_unknown_not_completed() {
    let Some(engine) = Sidecar::start_with(Kind::ErrandSqlite, &["--retention", "1s"]).await else { return };
    let Some(db) = fresh_db(Backend::Sqlite).await else { return };
    let server = Server::start_with(&db.url, db.dir.path(), &[], &[("ERRAND_WORKFLOW_SIDECAR", &engine.address())]);
    let ada = server.signup("ada@example.com").await;
    let due = Utc::now() + chrono::Duration::milliseconds(500);
    let task = ada.create(json!({ "title": "stretch", "reminders": [{ "at": due.to_rfc3339() }] })).await;
    let id = task["id"].as_str().unwrap().to_string();
    eventually("the reminder", 10, || async { !reminders_of(&ada, &id).await.is_empty() }).await;
    let workflow =
        || async { ada.get(&format!("/workflows?kind=reminder&task_id={id}")).await.body["items"][0].clone() };
    eventually("the instance to be purged", 15, || async { workflow().await["status"] == "unknown" }).await;
    assert!(workflow().await["custom_status"].as_str().unwrap().contains("no record"));
    server.kill();
}

async fn reminders_follow_the_due_date_and_end_with_the_task(engine: Engine) {
    let Some(setup) = Setup::start(engine, &[]).await else { return };
    let ada = setup.server().signup("ada@example.com").await;

    // Due in a minute and two seconds, reminded a minute before: in two seconds.
    let due = Utc::now() + chrono::Duration::seconds(62);
    let task = ada
        .create(json!({ "title": "standup", "due_at": due.to_rfc3339(), "reminders": [{ "before_due_minutes": 1 }] }))
        .await;
    let id = task["id"].as_str().unwrap().to_string();
    // Move the due date four seconds later: the reminder moves with it.
    let later = due + chrono::Duration::seconds(4);
    let moved = ada.patch(&format!("/tasks/{id}"), json!({ "due_at": later.to_rfc3339() })).await;
    assert_eq!(moved.status, 200, "{:?}", moved.body);
    let new_at = at(&moved.body["reminders"][0]["at"]);
    tokio::time::sleep(Duration::from_millis(3000)).await;
    assert!(reminders_of(&ada, &id).await.is_empty(), "the old time passed without a reminder");
    eventually("the moved reminder", 10, || async { !reminders_of(&ada, &id).await.is_empty() }).await;
    let fired = reminders_of(&ada, &id).await;
    assert!(at(&fired[0]["created_at"]) >= new_at);
    // The notification can arrive a turn before its workflow completes (durabletask-go
    // takes a few hundred milliseconds a turn).
    eventually("the moved reminder's workflow completing, the old one terminated", 10, || async {
        let list = ada.get(&format!("/workflows?kind=reminder&task_id={id}")).await;
        let statuses: Vec<String> =
            list.body["items"].as_array().unwrap().iter().map(|w| w["status"].as_str().unwrap().to_string()).collect();
        statuses.iter().any(|s| s == "terminated") && statuses.iter().any(|s| s == "completed")
    })
    .await;

    // Completing a task cancels its reminder.
    let soon = Utc::now() + chrono::Duration::seconds(2);
    let task = ada.create(json!({ "title": "water plants", "reminders": [{ "at": soon.to_rfc3339() }] })).await;
    let id = task["id"].as_str().unwrap().to_string();
    assert_eq!(ada.post(&format!("/tasks/{id}/complete"), json!({})).await.status, 200);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(reminders_of(&ada, &id).await.is_empty(), "no reminder for a done task");
}

async fn open_occurrences(session: &Session, series: &str) -> Vec<Value> {
    let r = session.get("/tasks?status=all&limit=100&sort=due").await;
    r.body["items"].as_array().unwrap().iter().filter(|t| t["series_id"] == series).cloned().collect()
}

/// Completes the open occurrence of `series` and waits for the next one to appear.
async fn complete_and_wait(session: &Session, series: &str, count_after: usize) -> Vec<Value> {
    let all = open_occurrences(session, series).await;
    let open = all.iter().find(|t| t["status"] == "open").expect("an open occurrence").clone();
    let id = open["id"].as_str().unwrap();
    assert_eq!(session.post(&format!("/tasks/{id}/complete"), json!({})).await.status, 200);
    // Completing it again changes nothing and creates nothing.
    assert_eq!(session.post(&format!("/tasks/{id}/complete"), json!({})).await.status, 200);
    eventually("the next occurrence", 15, || async { open_occurrences(session, series).await.len() >= count_after })
        .await;
    open_occurrences(session, series).await
}

async fn recurring_tasks_create_each_next_occurrence_once(engine: Engine) {
    let Some(setup) = Setup::start(engine, &[]).await else { return };
    let ada = setup
        .server()
        .signup_with(
            json!({ "email": "ada@example.com", "password": "correct horse battery", "timezone": "Europe/Berlin" }),
        )
        .await;
    // 9:00 in Berlin on the day before summer time starts (2027-03-28).
    let first = ada
        .create(json!({ "title": "stretch", "due": "2027-03-27 09:00", "recurrence": { "text": "every day" },
                        "reminders": [{ "before_due_minutes": 10 }] }))
        .await;
    let series = first["series_id"].as_str().unwrap().to_string();
    assert_eq!(series, first["id"].as_str().unwrap());
    let mut all = Vec::new();
    for n in 2..=4 {
        all = complete_and_wait(&ada, &series, n).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let all_now = open_occurrences(&ada, &series).await;
    assert_eq!(all_now.len(), 4, "three completions, three new occurrences: {all_now:?}");
    let dues: Vec<String> = all.iter().map(|t| t["due_at"].as_str().unwrap().to_string()).collect();
    assert_eq!(
        dues,
        ["2027-03-27T08:00:00Z", "2027-03-28T07:00:00Z", "2027-03-29T07:00:00Z", "2027-03-30T07:00:00Z"],
        "every day at 9:00 Berlin time, across the change to summer time"
    );
    let latest = all.iter().find(|t| t["status"] == "open").unwrap();
    assert_eq!(latest["reminders"][0]["before_due_minutes"], 10, "relative reminders carry over");
    assert_eq!(latest["title"], "stretch");
    let occurrences = notifications(&ada, "recurring").await;
    assert_eq!(occurrences.len(), 3);

    // `until` and `count` end a series.
    for (text, total) in [("every day until 2030-01-02", 2), ("every day for 3 times", 3)] {
        let task =
            ada.create(json!({ "title": text, "due": "2030-01-01 09:00", "recurrence": { "text": text } })).await;
        let series = task["series_id"].as_str().unwrap().to_string();
        for n in 2..=total {
            complete_and_wait(&ada, &series, n).await;
        }
        let last = open_occurrences(&ada, &series).await.into_iter().find(|t| t["status"] == "open").unwrap();
        assert_eq!(ada.post(&format!("/tasks/{}/complete", last["id"].as_str().unwrap()), json!({})).await.status, 200);
        let instance = format!("recurring:{series}");
        eventually("the series to end", 15, || async {
            ada.get(&format!("/workflows/{instance}")).await.body["status"] == "completed"
        })
        .await;
        assert_eq!(open_occurrences(&ada, &series).await.len(), total, "{text}");
    }

    // Deleting with ?series=true ends the series: completing nothing more creates nothing.
    let task = ada
        .create(json!({ "title": "weekly review", "due": "2030-01-01 09:00", "recurrence": { "text": "every week" } }))
        .await;
    let series = task["series_id"].as_str().unwrap().to_string();
    let instance = format!("recurring:{series}");
    eventually("the series to start", 10, || async {
        ada.get(&format!("/workflows/{instance}")).await.body["status"] == "running"
    })
    .await;
    assert_eq!(ada.delete(&format!("/tasks/{series}?series=true")).await.status, 204);
    eventually("the series to stop", 10, || async {
        ada.get(&format!("/workflows/{instance}")).await.body["status"] == "terminated"
    })
    .await;
}

async fn confirmations_guard_every_deletion(engine: Engine) {
    let Some(setup) = Setup::start(engine, &[]).await else { return };
    let ada = setup.server().signup("ada@example.com").await;
    let bob = setup.server().signup("bob@example.com").await;
    let a = ada.create(json!({ "title": "old plan" })).await["id"].as_str().unwrap().to_string();
    let b = ada.create(json!({ "title": "older plan" })).await["id"].as_str().unwrap().to_string();

    // Approve: both are deleted, and the answer says so.
    let asked = ada.post("/tasks/bulk-delete", json!({ "ids": [a, b] })).await;
    assert_eq!(asked.status, 202, "{:?}", asked.body);
    assert_eq!(asked.body["status"], "pending");
    assert!(asked.body["summary"].as_str().unwrap().contains("old plan"));
    let id = asked.body["id"].as_str().unwrap().to_string();
    eventually("the confirmation notification", 10, || async { !notifications(&ada, "confirmation").await.is_empty() })
        .await;
    let pending = ada.get("/confirmations?status=pending").await;
    assert_eq!(pending.body["items"].as_array().unwrap().len(), 1);
    assert!(pending.body["next_cursor"].is_null());
    assert_eq!(ada.get(&format!("/tasks/{a}")).await.status, 200, "nothing deleted before the yes");
    // Bob can neither see nor decide it.
    assert!(bob.get("/confirmations").await.body["items"].as_array().unwrap().is_empty());
    assert_eq!(bob.post(&format!("/confirmations/{id}"), json!({ "decision": "approve" })).await.status, 404);
    assert_eq!(bob.get(&format!("/workflows/confirmation:{id}")).await.status, 404);
    let approved = ada.post(&format!("/confirmations/{id}"), json!({ "decision": "approve" })).await;
    assert_eq!(approved.status, 200, "{:?}", approved.body);
    assert_eq!(approved.body["status"], "approved");
    assert_eq!(approved.body["result"]["deleted"].as_array().unwrap().len(), 2);
    let read = ada.get(&format!("/confirmations/{id}")).await;
    assert_eq!((read.status, read.body["status"].as_str()), (200, Some("approved")));
    assert_eq!(bob.get(&format!("/confirmations/{id}")).await.status, 404);
    // Every device learns the outcome: a notification on the live stream.
    eventually("the settled notification", 10, || async {
        notifications(&ada, "confirmation_settled").await.iter().any(|n| n["title"] == "Approved")
    })
    .await;
    let settled = notifications(&ada, "confirmation_settled").await;
    assert!(settled[0]["body"].as_str().unwrap().contains("2 tasks deleted"), "{settled:?}");
    let workflow = ada.get(&format!("/workflows/confirmation:{id}")).await;
    assert_eq!(workflow.body["custom_status"], "approved");
    assert_eq!(ada.get(&format!("/tasks/{a}")).await.status, 404);
    assert_eq!(ada.get(&format!("/tasks/{b}")).await.status, 404);
    let again = ada.post(&format!("/confirmations/{id}"), json!({ "decision": "reject" })).await;
    assert_eq!((again.status, again.error_code()), (409, "already_decided"));

    // Reject: nothing is deleted.
    let keep = ada.create(json!({ "title": "keep me" })).await["id"].as_str().unwrap().to_string();
    let asked = ada.post("/tasks/bulk-delete", json!({ "ids": [keep] })).await;
    let id = asked.body["id"].as_str().unwrap().to_string();
    let rejected = ada.post(&format!("/confirmations/{id}"), json!({ "decision": "reject" })).await;
    assert_eq!(rejected.body["status"], "rejected");
    assert_eq!(ada.get(&format!("/tasks/{keep}")).await.status, 200);

    // Clearing completed tasks, approved.
    ada.post(&format!("/tasks/{keep}/complete"), json!({})).await;
    let asked = ada.post("/tasks/bulk-delete", json!({ "filter": "done" })).await;
    assert_eq!(asked.body["action"]["kind"], "clear_completed");
    let id = asked.body["id"].as_str().unwrap().to_string();
    let cleared = ada.post(&format!("/confirmations/{id}"), json!({ "decision": "approve" })).await;
    assert_eq!(cleared.body["result"]["deleted"], json!([keep]));

    // Another user's task cannot even be asked about.
    let theirs = bob.create(json!({ "title": "bob's" })).await["id"].as_str().unwrap().to_string();
    assert_eq!(ada.post("/tasks/bulk-delete", json!({ "ids": [theirs] })).await.status, 404);
    assert_eq!(ada.post("/tasks/bulk-delete", json!({ "ids": [] })).await.status, 422);
}

async fn an_unanswered_confirmation_expires_and_deletes_nothing(engine: Engine) {
    let Some(setup) = Setup::start(engine, &[("ERRAND_CONFIRMATION_TIMEOUT_SECS", "2")]).await else { return };
    let ada = setup.server().signup("ada@example.com").await;
    let id = ada.create(json!({ "title": "maybe" })).await["id"].as_str().unwrap().to_string();
    let asked = ada.post("/tasks/bulk-delete", json!({ "ids": [id] })).await;
    let confirmation = asked.body["id"].as_str().unwrap().to_string();
    eventually("expiry", 15, || async { ada.get("/confirmations").await.body["items"][0]["status"] == "expired" })
        .await;
    assert_eq!(ada.get(&format!("/tasks/{id}")).await.status, 200);
    let late = ada.post(&format!("/confirmations/{confirmation}"), json!({ "decision": "approve" })).await;
    assert_eq!(late.status, 409);
    assert_eq!(ada.get(&format!("/tasks/{id}")).await.status, 200);
}

async fn the_workflow_api_is_per_user(engine: Engine) {
    let Some(setup) = Setup::start(engine, &[]).await else { return };
    let ada = setup.server().signup("ada@example.com").await;
    let bob = setup.server().signup("bob@example.com").await;
    let soon = Utc::now() + chrono::Duration::seconds(1);
    let task = ada.create(json!({ "title": "ring mum", "reminders": [{ "at": soon.to_rfc3339() }] })).await;
    let task_id = task["id"].as_str().unwrap().to_string();
    eventually("the reminder", 10, || async { !reminders_of(&ada, &task_id).await.is_empty() }).await;
    let list = ada.get(&format!("/workflows?kind=reminder&task_id={task_id}")).await;
    assert_eq!(list.status, 200, "{:?}", list.body);
    let workflow = &list.body["items"][0];
    let id = workflow["id"].as_str().unwrap().to_string();
    assert_eq!(workflow["kind"], "reminder");
    eventually("completion", 10, || async { ada.get(&format!("/workflows/{id}")).await.body["status"] == "completed" })
        .await;
    let one = ada.get(&format!("/workflows/{id}")).await.body;
    assert_eq!(one["output"]["outcome"], "fired");
    assert_eq!(one["input"]["task_id"], task_id.as_str());
    let history = ada.get(&format!("/workflows/{id}/history")).await;
    let kinds: Vec<&str> =
        history.body["events"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    for kind in
        ["execution_started", "timer_created", "timer_fired", "task_scheduled", "task_completed", "execution_completed"]
    {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    assert_eq!(ada.get("/workflows?status=completed").await.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(ada.get("/workflows?status=running").await.body["items"].as_array().unwrap().len(), 0);
    assert_eq!(ada.get("/workflows?kind=sometimes").await.status, 400);
    // Bob sees none of it.
    assert!(bob.get("/workflows").await.body["items"].as_array().unwrap().is_empty());
    assert_eq!(bob.get(&format!("/workflows/{id}")).await.status, 404);
    assert_eq!(bob.get(&format!("/workflows/{id}/history")).await.status, 404);
    assert_eq!(bob.post(&format!("/workflows/{id}/events/poke"), json!({})).await.status, 404);

    // Snoozing a reminder starts another, reported as a workflow; only the owner can.
    let notification = reminders_of(&ada, &task_id).await[0]["id"].as_str().unwrap().to_string();
    assert_eq!(bob.post(&format!("/notifications/{notification}/snooze"), json!({ "minutes": 5 })).await.status, 404);
    let snoozed = ada.post(&format!("/notifications/{notification}/snooze"), json!({ "minutes": 5 })).await;
    assert_eq!(snoozed.status, 202, "{:?}", snoozed.body);
    assert_eq!(snoozed.body["kind"], "reminder");
    let due = at(&snoozed.body["input"]["at"]);
    assert!((due - Utc::now() - chrono::Duration::minutes(5)).num_seconds().abs() < 5);
    assert_eq!(ada.post(&format!("/notifications/{notification}/snooze"), json!({ "minutes": 0 })).await.status, 422);
    // Editing the task leaves the snooze alone.
    let snooze = snoozed.body["id"].as_str().unwrap().to_string();
    assert_eq!(ada.patch(&format!("/tasks/{task_id}"), json!({ "title": "ring mum back" })).await.status, 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let status = ada.get(&format!("/workflows/{snooze}")).await.body["status"].clone();
    assert!(status == "running" || status == "pending", "{status}");
}

/// SIGKILL right after a completion and after a deletion request: after the restart the
/// next occurrence exists exactly once and the confirmation still acts on a decision.
async fn recurring_and_confirmations_survive_a_crash(engine: Engine) {
    let Some(mut setup) = Setup::start(engine, &[]).await else { return };
    let ada = setup.server().signup("ada@example.com").await;
    let task = ada
        .create(json!({ "title": "backup", "due": "2030-01-01 09:00", "recurrence": { "text": "every week" } }))
        .await;
    let series = task["series_id"].as_str().unwrap().to_string();
    let instance = format!("recurring:{series}");
    eventually("the series to start", 10, || async {
        ada.get(&format!("/workflows/{instance}")).await.body["status"] == "running"
    })
    .await;
    let doomed = ada.create(json!({ "title": "doomed" })).await["id"].as_str().unwrap().to_string();
    let asked = ada.post("/tasks/bulk-delete", json!({ "ids": [doomed] })).await;
    let confirmation = asked.body["id"].as_str().unwrap().to_string();
    assert_eq!(ada.post(&format!("/tasks/{series}/complete"), json!({})).await.status, 200);
    setup.crash_and_restart();
    let ada = setup.login("ada@example.com").await;
    eventually("the next occurrence", 20, || async { open_occurrences(&ada, &series).await.len() == 2 }).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(open_occurrences(&ada, &series).await.len(), 2, "created exactly once");
    let approved = ada.post(&format!("/confirmations/{confirmation}"), json!({ "decision": "approve" })).await;
    assert_eq!(approved.body["status"], "approved", "{:?}", approved.body);
    assert_eq!(ada.get(&format!("/tasks/{doomed}")).await.status, 404);
}

async fn a_series_pauses_resumes_and_skips(engine: Engine) {
    let Some(mut setup) = Setup::start(engine, &[]).await else { return };
    let ada = setup.server().signup("ada@example.com").await;
    let task = ada
        .create(json!({ "title": "water the plants", "due": "2030-01-01 09:00", "recurrence": { "text": "every day" },
                        "reminders": [{ "before_due_minutes": 10 }] }))
        .await;
    let series = task["series_id"].as_str().unwrap().to_string();
    let instance = format!("recurring:{series}");
    let custom_status = |ada: Session| {
        let path = format!("/workflows/{instance}");
        async move { ada.get(&path).await.body["custom_status"].as_str().unwrap_or_default().to_string() }
    };
    eventually("the series to start", 10, || async { custom_status(ada.clone()).await.starts_with("waiting") }).await;

    // Paused, across a crash: a completion creates nothing until the resume.
    let paused = ada.post(&format!("/series/{series}/pause"), json!({})).await;
    assert_eq!((paused.status, paused.body["id"].as_str()), (202, Some(instance.as_str())), "{:?}", paused.body);
    assert_eq!(paused.body["input"]["paused"], true, "answers once the workflow has acted: {:?}", paused.body);
    assert!(custom_status(ada.clone()).await.starts_with("paused"));
    setup.crash_and_restart();
    let ada = setup.login("ada@example.com").await;
    assert_eq!(ada.post(&format!("/tasks/{series}/complete"), json!({})).await.status, 200);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(open_occurrences(&ada, &series).await.len(), 1, "paused: no next occurrence");
    assert!(custom_status(ada.clone()).await.starts_with("paused"));
    let resumed = ada.post(&format!("/series/{series}/resume"), json!({})).await;
    assert_eq!((resumed.status, resumed.body["input"]["paused"].as_bool()), (202, Some(false)));
    eventually("the held occurrence", 15, || async { open_occurrences(&ada, &series).await.len() == 2 }).await;
    let second = open_occurrences(&ada, &series).await.into_iter().find(|t| t["status"] == "open").unwrap();
    assert_eq!(second["due_at"], "2030-01-02T09:00:00Z");

    // Skipping moves the open occurrence to the next date, its reminder with it.
    let second_id = second["id"].as_str().unwrap().to_string();
    assert_eq!(ada.post(&format!("/series/{series}/skip"), json!({})).await.status, 202);
    eventually("the skip", 15, || async {
        ada.get(&format!("/tasks/{second_id}")).await.body["due_at"] == "2030-01-03T09:00:00Z"
    })
    .await;
    let moved = ada.get(&format!("/tasks/{second_id}")).await.body;
    assert_eq!(moved["reminders"][0]["at"], "2030-01-03T08:50:00Z");
    assert_eq!(open_occurrences(&ada, &series).await.len(), 2, "a skip creates no task");

    // A pause and a completion at once: neither is lost. In either order the series
    // ends paused, and the resume leaves exactly one open occurrence after the done one.
    let (pause_path, complete_path) = (format!("/series/{series}/pause"), format!("/tasks/{second_id}/complete"));
    let (pause, done) = tokio::join!(ada.post(&pause_path, json!({})), ada.post(&complete_path, json!({})));
    assert_eq!((pause.status, done.status), (202, 200));
    eventually("the pause", 10, || async { custom_status(ada.clone()).await.starts_with("paused") }).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(custom_status(ada.clone()).await.starts_with("paused"), "the pause holds");
    assert_eq!(ada.post(&format!("/series/{series}/resume"), json!({})).await.status, 202);
    eventually("the occurrence after the resume", 15, || async { open_occurrences(&ada, &series).await.len() == 3 })
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let all = open_occurrences(&ada, &series).await;
    assert_eq!(all.iter().filter(|t| t["status"] == "open").count(), 1, "{all:?}");
    assert!(custom_status(ada.clone()).await.starts_with("waiting"));

    // Only the owner controls a series; the action is one of three.
    let bob = setup.server().signup("bob@example.com").await;
    assert_eq!(bob.post(&format!("/series/{series}/pause"), json!({})).await.status, 404);
    assert_eq!(ada.post("/series/nope/pause", json!({})).await.status, 404);
    let bad = ada.post(&format!("/series/{series}/stop"), json!({})).await;
    assert_eq!((bad.status, bad.error_code()), (400, "invalid_parameter"));
}

macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name(super::Engine::Embedded).await }
            )*
        }
        mod durabletask_go {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name(super::Engine::DurabletaskGo).await }
            )*
        }
    };
}

on_both_engines!(
    a_reminder_fires_on_time_and_once_across_a_crash,
    reminders_set_just_before_a_restart_still_fire,
    reminders_follow_the_due_date_and_end_with_the_task,
    recurring_tasks_create_each_next_occurrence_once,
    confirmations_guard_every_deletion,
    an_unanswered_confirmation_expires_and_deletes_nothing,
    the_workflow_api_is_per_user,
    recurring_and_confirmations_survive_a_crash,
    a_series_pauses_resumes_and_skips,
);

/// Dapr mode: the workflow trigger is its own app, whose daprd hosts no workflows; it
/// starts and ends them through the API app over service invocation (a stand-in for
/// daprd forwards `/v1.0/invoke/errand/method/...`), with service tokens that name the
/// instance. The real `errand consumer workflow-trigger` receives events as daprd posts them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dapr_trigger_drives_workflows_through_the_api() {
    let Some((server, db)) = Server::fresh(Backend::Sqlite).await else { return };
    let ada = server.signup("ada@example.com").await;
    let daprd = invoke_proxy(server.base.clone()).await;
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_errand"));
    command.args(["consumer", "workflow-trigger", "--listen", "127.0.0.1:0"]);
    let (trigger, base) = common::spawn_listening(
        command,
        &db.url,
        db.dir.path(),
        &[("DAPR_HTTP_ENDPOINT", &daprd)],
        "errand consumer workflow-trigger listening on ",
    );
    let _trigger = common::KillOnDrop(trigger);

    // A task's event as daprd delivers it. The server's own (embedded) trigger sees the
    // real task; this one is told of a task of the same user it has never seen, so each
    // instance below is this consumer's doing.
    let due = Utc::now() + chrono::Duration::hours(1);
    let task = ada.create(json!({ "title": "stretch", "reminders": [{ "at": due.to_rfc3339() }] })).await;
    let store = errand_store::Store::connect(&db.url).await.expect("store");
    let record = store.outbox_after(Default::default(), 10).await.expect("outbox").pop().expect("the task's event");
    let mut envelope: Value = serde_json::from_str(&record.payload).expect("event");
    let other = errand_domain::new_id();
    envelope["data"]["task"]["id"] = json!(other);
    // A new event, too: the server's trigger (same database, same consumer name) has applied that one.
    envelope["id"] = json!(errand_domain::new_id());
    envelope["pubsubname"] = json!("pubsub");
    envelope["topic"] = json!("todo.events");
    let http = reqwest::Client::new();
    let deliver = |body: Value| {
        let (http, url) = (http.clone(), format!("{base}/events/todo.events"));
        async move {
            let r = http.post(url).header("content-type", "application/cloudevents+json").body(body.to_string());
            let r = r.send().await.expect("deliver");
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.expect("json")["status"].as_str().expect("status").to_string()
        }
    };
    assert_eq!(deliver(envelope.clone()).await, "SUCCESS");
    let reminder_id = task["reminders"][0]["id"].as_str().unwrap();
    let instance = errand_workflows::reminder_instance_id(&other, reminder_id, at(&task["reminders"][0]["at"]));
    let workflow = || async { ada.get(&format!("/workflows/{instance}")).await.body };
    // Started through the API by the time the event is acknowledged; its first turn
    // may still be ahead.
    let status = workflow().await["status"].clone();
    assert!(status == "pending" || status == "running", "started through the API: {status}");
    eventually("the first turn", 10, || async { workflow().await["status"] == "running" }).await;

    // Deleted: the trigger terminates it, through the API again.
    let mut deleted = envelope.clone();
    deleted["id"] = json!(errand_domain::new_id());
    deleted["type"] = json!("task.deleted");
    assert_eq!(deliver(deleted).await, "SUCCESS");
    eventually("the termination", 10, || async { workflow().await["status"] == "terminated" }).await;

    // The internal routes take only a service token for the very instance, and never
    // start a workflow that acts without asking.
    let secret = std::fs::read(server.data_dir.join("jwt-secret")).expect("secret");
    let tokens = errand_api::auth::Tokens::new(&secret, chrono::Duration::hours(1));
    let user_id = ada.user["id"].as_str().unwrap();
    let control = |token: String, id: &str, action: &str, body: Value| {
        let request = http.post(server.url(&format!("/api/v1/internal/workflows/{id}/{action}")));
        async move { request.bearer_auth(token).json(&body).send().await.expect("control").status().as_u16() }
    };
    let start = json!({ "name": "reminder", "input": {} });
    assert_eq!(control(ada.token.clone(), &instance, "start", start.clone()).await, 403, "a user's token");
    let service = |id: &str| {
        tokens.issue_service(user_id, &errand_domain::event::Actor::Workflow(id.into()), Utc::now()).expect("token")
    };
    assert_eq!(control(service("reminder:another"), &instance, "start", start).await, 403, "another instance's");
    let confirm = json!({ "name": "confirm_action", "input": {} });
    assert_eq!(control(service("confirm_action:x"), "confirm_action:x", "start", confirm).await, 403);
    assert_eq!(control(service("reminder:gone"), "reminder:gone", "terminate", json!({})).await, 404);

    store.close().await;
}

/// Dapr mode: activities reach the task API through Dapr service invocation. A stand-in
/// for daprd forwards `/v1.0/invoke/errand/method/<path>` to the real server, and the
/// activities run over `HttpTaskApi` with service tokens signed by the server's secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activities_work_through_the_http_task_api() {
    use errand_activities::{
        create_next_occurrence, fire_reminder, perform_action, ConfirmAction, ConfirmInput, HttpTaskApi,
        NextOccurrence, NextOccurrenceInput, ReminderInput, ReminderOutcome,
    };

    let Some((server, _db)) = Server::fresh(Backend::Sqlite).await else { return };
    let ada = server.signup("ada@example.com").await;
    let ada_id = ada.user["id"].as_str().unwrap().to_string();
    let daprd = invoke_proxy(server.base.clone()).await;
    let secret = std::fs::read(server.data_dir.join("jwt-secret")).expect("secret");
    let tokens = errand_api::auth::Tokens::new(&secret, chrono::Duration::hours(1));
    let api = HttpTaskApi::new(&daprd, "errand", Arc::new(tokens));

    // The reminder (15 min before due) is a second or two ahead, so the activity is called
    // early, as daprd's timers may fire: it waits until the reminder is due.
    let due = (Utc::now() + chrono::Duration::minutes(15) + chrono::Duration::seconds(2))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let task = ada
        .create(json!({ "title": "renew passport", "due_at": due, "recurrence": { "text": "every year" },
                        "reminders": [{ "before_due_minutes": 15 }] }))
        .await;
    let task_id = task["id"].as_str().unwrap().to_string();
    let reminder = ReminderInput {
        user_id: ada_id.clone(),
        task_id: task_id.clone(),
        reminder_id: Some(task["reminders"][0]["id"].as_str().unwrap().to_string()),
        at: at(&task["reminders"][0]["at"]),
    };
    // The server's own reminder instance fires it too: under the same instance id, the
    // notification is one.
    let instance =
        errand_workflows::reminder_instance_id(&task_id, reminder.reminder_id.as_ref().unwrap(), reminder.at);
    assert!(reminder.at > Utc::now(), "the reminder is still ahead");
    assert_eq!(fire_reminder(&api, &instance, &reminder).await.unwrap(), ReminderOutcome::Fired);
    assert!(Utc::now() >= reminder.at, "fired before its time");
    // A retried activity publishes nothing new.
    assert_eq!(fire_reminder(&api, &instance, &reminder).await.unwrap(), ReminderOutcome::Fired);
    eventually("the reminder notification", 10, || async { reminders_of(&ada, &task_id).await.len() == 1 }).await;
    assert!(at(&reminders_of(&ada, &task_id).await[0]["created_at"]) >= reminder.at, "notified before its time");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(reminders_of(&ada, &task_id).await.len(), 1);
    let moved = ReminderInput { at: reminder.at + chrono::Duration::minutes(1), ..reminder.clone() };
    assert!(matches!(fire_reminder(&api, "reminder:moved", &moved).await.unwrap(), ReminderOutcome::Skipped { .. }));

    // The next occurrence is created once, however often the activity runs.
    let next = NextOccurrenceInput {
        user_id: ada_id.clone(),
        series_id: task_id.clone(),
        task_id: task_id.clone(),
        created: 1,
        completed_at: Utc::now(),
    };
    let first = create_next_occurrence(&api, "recurring:test", &next).await.unwrap();
    let again = create_next_occurrence(&api, "recurring:test", &next).await.unwrap();
    assert_eq!(first, again);
    let NextOccurrence::Created { task_id: next_id, due_at } = first else { panic!("{first:?}") };
    assert_eq!(due_at, Some(at(&task["due_at"]) + chrono::Duration::days(365)));
    let created = ada.get(&format!("/tasks/{next_id}")).await.body;
    assert_eq!(created["series_id"], task_id.as_str());
    let audit = ada.get(&format!("/audit?task_id={next_id}")).await.body;
    assert_eq!(audit["items"][0]["actor"], "workflow:recurring:test", "writes are the workflow's");

    // Deleting through the API, as the workflow; an unknown or foreign task is just missing.
    let bob = server.signup("bob@example.com").await;
    let theirs = bob.create(json!({ "title": "bob's" })).await["id"].as_str().unwrap().to_string();
    let input = ConfirmInput {
        confirmation_id: "c1".into(),
        user_id: ada_id.clone(),
        action: ConfirmAction::DeleteTasks { ids: vec![next_id.clone(), theirs.clone()] },
        summary: "delete".into(),
        timeout_secs: 60,
    };
    let result = perform_action(&api, "confirmation:c1", &input).await.unwrap();
    assert_eq!(result, json!({ "deleted": [next_id], "missing": [theirs] }));
    assert_eq!(bob.get(&format!("/tasks/{theirs}")).await.status, 200);

    // The internal endpoints refuse a user's own token: only workflows may call them.
    let event = json!({ "id": "x", "topic": "reminder.events", "type": "reminder.fired", "subject": null, "data": {} });
    assert_eq!(ada.post("/internal/events", event).await.status, 403);
}

/// A stand-in for daprd's service invocation: `/v1.0/invoke/errand/method/<path>` ->
/// `<target>/<path>`, with method, headers and body passed on. Returns its base URL.
async fn invoke_proxy(target: String) -> String {
    use axum::body::Body;
    use axum::extract::Request;
    use axum::response::Response;

    let client = reqwest::Client::new();
    let app = axum::Router::new().fallback(move |request: Request| {
        let (client, target) = (client.clone(), target.clone());
        async move {
            let path_and_query = request.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
            let Some(rest) = path_and_query.strip_prefix("/v1.0/invoke/errand/method/") else {
                return Response::builder().status(404).body(Body::from("unknown app")).unwrap();
            };
            let mut outgoing = client.request(request.method().clone(), format!("{target}/{rest}"));
            for (name, value) in request.headers() {
                if name != "host" && name != "content-length" {
                    outgoing = outgoing.header(name, value);
                }
            }
            let body = axum::body::to_bytes(request.into_body(), usize::MAX).await.unwrap_or_default();
            let answer = outgoing.body(body).send().await.expect("forward");
            let mut response = Response::builder().status(answer.status().as_u16());
            for (name, value) in answer.headers() {
                response = response.header(name, value);
            }
            response.body(Body::from(answer.bytes().await.unwrap_or_default())).unwrap()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}
