//! Ops inspection of workflows end to end, on the real binary: the query, detail and
//! history, every action, a batch through a confirmation, stats, the change feed and
//! the audit trail — on the embedded engine (SQLite and PostgreSQL) and with
//! durabletask-go as an external sidecar (where instances are read through the
//! durabletask client API); a non-admin is refused everywhere; a batch of 1,000
//! terminates survives a SIGKILL and counts each instance once.

mod common;
mod sidecars;

use std::time::Duration;

use common::{eventually, fresh_db, Backend, Server, Session, TestDb};
use serde_json::{json, Value};
use sidecars::{Kind, Sidecar};

struct Setup {
    server: Option<Server>,
    db: TestDb,
    envs: Vec<(String, String)>,
    _go: Option<Sidecar>,
}

impl Setup {
    async fn start(backend: Backend, external: bool) -> Option<Setup> {
        let db = fresh_db(backend).await?;
        let go = if external { Some(Sidecar::start(Kind::DurabletaskGo).await?) } else { None };
        let envs = go.iter().map(|go| ("ERRAND_WORKFLOW_SIDECAR".to_string(), go.address())).collect();
        let mut setup = Setup { server: None, db, envs, _go: go };
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
}

fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn query(admin: &Session, q: &str) -> Value {
    let r = admin.get(&format!("/ops/workflows?q={}&limit=100", encode(q))).await;
    assert_eq!(r.status, 200, "{q}: {:?}", r.body);
    r.body
}

fn ids(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_string()).collect()
}

/// A task with a reminder an hour ahead: a reminder instance waiting on its timer.
async fn task_with_reminder(session: &Session, title: &str) -> String {
    let at = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    session.create(json!({ "title": title, "reminders": [{ "at": at }] })).await["id"].as_str().unwrap().to_string()
}

async fn status_of(admin: &Session, id: &str) -> String {
    admin.get(&format!("/ops/workflows/{}", encode(id))).await.body["instance"]["status"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

async fn behaves(backend: Backend, external: bool) {
    let Some(setup) = Setup::start(backend, external).await else { return };
    let admin = setup.server().signup("admin@example.com").await;
    assert_eq!(admin.user["role"], "admin", "the first account is the admin");
    let bob = setup.server().signup("bob@example.com").await;
    let bob_id = bob.user["id"].as_str().unwrap().to_string();
    let mut bobs = Vec::new();
    for title in ["r1", "r2", "r3"] {
        bobs.push(task_with_reminder(&bob, title).await);
    }
    let admins = task_with_reminder(&admin, "a1").await;
    // A confirmation waits for its decision (an external event).
    let r = bob.post("/chat", json!({ "message": "delete r3" })).await;
    let confirmation = r.body["confirmations"][0]["id"].as_str().expect("a confirmation").to_string();

    eventually("four reminders waiting on their timers", 20, || async {
        let page = query(&admin, "kind:reminder & waiting:timer").await;
        page["total"] == 4
    })
    .await;
    let page = query(&admin, "kind:reminder").await;
    assert_eq!(page["counts"]["running"], 4, "{page}");
    let first = &page["items"][0];
    assert_eq!(first["waiting"]["reason"], "timer");
    assert!(first["waiting"]["until"].as_str().is_some(), "a timer's due time: {first}");
    assert_eq!(query(&admin, &format!("kind:reminder & user:{bob_id}")).await["total"], 3);
    let one = query(&admin, &format!("task:{}", bobs[0])).await;
    assert_eq!(one["total"], 1);
    assert_eq!(one["items"][0]["task_id"], bobs[0].as_str());
    assert_eq!(one["items"][0]["user_id"], bob_id.as_str());
    let reminder = one["items"][0]["id"].as_str().unwrap().to_string();
    eventually("the confirmation waiting for its decision", 20, || async {
        let page = query(&admin, "waiting:event").await;
        ids(&page) == [format!("confirmation:{confirmation}")]
    })
    .await;
    let waiting = query(&admin, "waiting:event").await;
    assert_eq!(waiting["items"][0]["waiting"]["events"], json!(["decision"]));
    assert_eq!(waiting["items"][0]["custom_status"], "waiting for a decision");
    assert_eq!(query(&admin, "\"waiting for a decision\"").await["total"], 1, "text in the custom status");
    assert_eq!(query(&admin, "created before: 2020-01-01").await["total"], 0);
    assert_eq!(query(&admin, "!kind:reminder & !kind:confirm_action").await["total"], 0);
    // Paging: cursors walk the whole match once.
    let first_page = admin.get("/ops/workflows?limit=2").await.body;
    let cursor = first_page["next_cursor"].as_str().expect("a next page").to_string();
    let second = admin.get(&format!("/ops/workflows?limit=10&cursor={cursor}")).await.body;
    assert_eq!(ids(&first_page).len() + ids(&second).len(), 5);
    assert!(ids(&second).iter().all(|id| !ids(&first_page).contains(id)));
    let bad = admin.get(&format!("/ops/workflows?q={}", encode("status:sleeping"))).await;
    assert_eq!((bad.status, bad.body["error"]["code"].as_str()), (422, Some("invalid_query")));
    assert_eq!(bad.body["error"]["details"]["position"], 0);

    // Detail and history.
    let detail = admin.get(&format!("/ops/workflows/{}", encode(&reminder))).await.body;
    assert_eq!(detail["input"]["task_id"], bobs[0].as_str(), "{detail}");
    assert_eq!(detail["timers"].as_array().unwrap().len(), 1, "{detail}");
    let history = admin.get(&format!("/ops/workflows/{}/history", encode(&reminder))).await.body;
    let kinds: Vec<&str> = history["events"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"execution_started") && kinds.contains(&"timer_created"), "{kinds:?}");
    assert_eq!(admin.get("/ops/workflows/no-such-instance").await.status, 404);

    // Actions.
    let act = |id: &str, action: &str, body: Value| {
        let path = format!("/ops/workflows/{}/{action}", encode(id));
        let admin = admin.clone();
        async move { admin.post(&path, body).await }
    };
    assert_eq!(act(&reminder, "suspend", json!({ "reason": "looking" })).await.status, 200);
    eventually("suspended", 20, || async { status_of(&admin, &reminder).await == "suspended" }).await;
    assert_eq!(ids(&query(&admin, "waiting:suspended").await), std::slice::from_ref(&reminder));
    assert_eq!(act(&reminder, "resume", json!({})).await.status, 200);
    eventually("resumed", 20, || async { status_of(&admin, &reminder).await == "running" }).await;
    let refused = act(&reminder, "purge", json!({})).await;
    assert_eq!(refused.status, 409, "a running instance is not purged: {:?}", refused.body);
    assert_eq!(act(&reminder, "terminate", json!({ "reason": "test" })).await.status, 200);
    eventually("terminated", 20, || async { status_of(&admin, &reminder).await == "terminated" }).await;
    let rerun = act(&reminder, "rerun", json!({})).await;
    let new_id = rerun.body["new_id"].as_str().expect("a new instance").to_string();
    eventually("the rerun runs", 20, || async { status_of(&admin, &new_id).await == "running" }).await;
    assert_eq!(act(&reminder, "purge", json!({})).await.status, 200);
    eventually("purged", 20, || async {
        admin.get(&format!("/ops/workflows/{}", encode(&reminder))).await.status == 404
    })
    .await;
    assert_eq!(act(&reminder, "fly", json!({})).await.status, 400);
    let raised = act(
        &format!("confirmation:{confirmation}"),
        "raise",
        json!({ "name": "decision", "data": { "decision": "reject" } }),
    )
    .await;
    assert_eq!(raised.status, 200, "{:?}", raised.body);
    eventually("the raised decision rejects", 20, || async {
        bob.get(&format!("/confirmations/{confirmation}")).await.body["status"] == "rejected"
    })
    .await;

    // Every action is in the audit trail of the instance's owner, with who did it.
    let trail = bob.get("/audit?limit=100").await.body;
    let ops: Vec<(&str, &str)> = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"].as_str().unwrap_or("").starts_with("ops.workflow."))
        .map(|e| (e["action"].as_str().unwrap(), e["actor"].as_str().unwrap()))
        .collect();
    let admin_actor = format!("admin:{}", admin.user["id"].as_str().unwrap());
    for action in ["suspend", "resume", "terminate", "rerun", "purge"] {
        assert!(ops.contains(&(&format!("ops.workflow.{action}"), &admin_actor)), "{action}: {ops:?}");
    }

    // A batch: a dry run counts; the real one waits for its confirmation, then runs.
    let spec = json!({ "query": "kind:reminder & status:running", "action": "terminate", "reason": "cleanup" });
    let mut dry = spec.clone();
    dry["dry_run"] = json!(true);
    let preview = admin.post("/ops/workflows/batch", dry).await.body;
    let count = preview["count"].as_u64().unwrap();
    assert_eq!(count, 4, "bob's two left, the admin's and the rerun: {preview}");
    assert!(preview["confirmation"].is_null());
    assert_eq!(status_of(&admin, &new_id).await, "running", "a dry run does nothing");
    let asked = admin.post("/ops/workflows/batch", spec).await.body;
    let batch = asked["confirmation"]["id"].as_str().expect("a confirmation").to_string();
    assert!(asked["confirmation"]["summary"].as_str().unwrap().contains("Terminate 4 workflow instances"), "{asked}");
    assert_eq!(status_of(&admin, &new_id).await, "running", "nothing before the approval");
    let approved = admin.post(&format!("/confirmations/{batch}"), json!({ "decision": "approve" })).await;
    assert_eq!(approved.body["status"], "approved", "{:?}", approved.body);
    let batch_instance = format!("confirmation:{batch}");
    eventually("the batch finishes", 30, || async { status_of(&admin, &batch_instance).await == "completed" }).await;
    let done = admin.get(&format!("/ops/workflows/{}", encode(&batch_instance))).await.body;
    assert_eq!(done["output"]["result"]["done"], 4, "{done}");
    assert_eq!(query(&admin, "kind:reminder & status:running").await["total"], 0);
    let admins_reminder = ids(&query(&admin, &format!("task:{admins}")).await);
    assert_eq!(status_of(&admin, &admins_reminder[0]).await, "terminated");

    // Stats.
    let stats = admin.get("/ops/workflows/stats").await.body;
    assert_eq!(stats["by_kind"]["reminder"]["terminated"], 4, "the batch's four (the fifth was purged): {stats}");
    let reasons: Vec<&str> =
        stats["waiting"].as_array().unwrap().iter().map(|w| w["reason"].as_str().unwrap()).collect();
    assert_eq!(reasons, ["timer", "activity", "child", "event", "suspended"]);
    let histogram = admin.get("/ops/workflows/histogram?hours=1").await.body;
    let created: u64 = histogram["buckets"].as_array().unwrap().iter().map(|b| b[1].as_u64().unwrap()).sum();
    assert_eq!(created, 6, "five reminders (one purged), a rerun and two confirmations: {histogram}");

    // The change feed: a change arrives as an event.
    let live = task_with_reminder(&bob, "r4").await;
    let response = admin.request(reqwest::Method::GET, "/ops/workflows/stream").send().await.expect("the stream opens");
    assert_eq!(response.status(), 200);
    let live_instance = {
        let admin = admin.clone();
        let live = live.clone();
        let mut found = String::new();
        eventually("the new reminder is listed", 20, || {
            let admin = admin.clone();
            let live = live.clone();
            async move { query(&admin, &format!("task:{live}")).await["total"] == 1 }
        })
        .await;
        found.push_str(&ids(&query(&admin, &format!("task:{live}")).await)[0]);
        found
    };
    act(&live_instance, "terminate", json!({})).await;
    let mut body = response;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut seen = String::new();
    while !(seen.contains(&live_instance) && seen.contains("\"status\":\"terminated\"")) {
        let chunk = tokio::time::timeout_at(deadline, body.chunk()).await.expect("a change within 20 s").unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk.expect("the stream goes on")));
    }
    assert!(seen.contains("event: instance") && seen.contains("id: "), "{seen}");

    // Everyone else is refused everywhere.
    for path in [
        "/ops/workflows".to_string(),
        "/ops/workflows/stats".into(),
        "/ops/workflows/histogram".into(),
        format!("/ops/workflows/{}", encode(&new_id)),
        format!("/ops/workflows/{}/history", encode(&new_id)),
        "/ops/workflows/stream".into(),
    ] {
        assert_eq!(bob.get(&path).await.status, 403, "{path}");
    }
    assert_eq!(bob.post(&format!("/ops/workflows/{}/terminate", encode(&new_id)), json!({})).await.status, 403);
    assert_eq!(
        bob.post("/ops/workflows/batch", json!({ "query": "", "action": "purge", "dry_run": true })).await.status,
        403
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_on_the_embedded_engine_on_sqlite() {
    behaves(Backend::Sqlite, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_on_the_embedded_engine_on_postgres() {
    behaves(Backend::Postgres, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_through_the_durabletask_go_sidecar() {
    behaves(Backend::Sqlite, true).await;
}
