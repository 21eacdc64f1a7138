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

    /// SIGKILL the server, then start it again on the same data.
    fn crash_and_restart(&mut self) {
        self.server.take().expect("running").kill();
        self.launch();
    }

    /// The same account's token against the server now running.
    fn again(&self, session: &Session) -> Session {
        Session { client: self.server().client.clone(), base: self.server().base.clone(), ..session.clone() }
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
    let asked = admin.post("/ops/workflows/batch", spec.clone()).await.body;
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
    let again = admin.post("/ops/workflows/batch", spec.clone()).await;
    assert_eq!(again.status, 409, "nothing left to confirm: {:?}", again.body);
    let mut unknown = spec.clone();
    unknown["dryrun"] = json!(true);
    assert_eq!(admin.post("/ops/workflows/batch", unknown).await.status, 422, "a misspelt field is refused");
    let admins_reminder = ids(&query(&admin, &format!("task:{admins}")).await);
    assert_eq!(status_of(&admin, &admins_reminder[0]).await, "terminated");

    // Stats.
    let stats = admin.get("/ops/workflows/stats").await.body;
    assert_eq!(stats["by_kind"]["reminder"]["terminated"], 4, "the batch's four (the fifth was purged): {stats}");
    let reasons: Vec<&str> =
        stats["waiting"].as_array().unwrap().iter().map(|w| w["reason"].as_str().unwrap()).collect();
    assert_eq!(reasons, ["timer", "activity", "child", "event", "suspended"]);
    // The figures on /metrics come from the engine's tables (not read through a sidecar).
    let metrics = reqwest::get(setup.server().url("/metrics")).await.unwrap().text().await.unwrap();
    for name in [
        "errand_ops_waiting_instances{reason=\"timer\"}",
        "errand_ops_oldest_wait_seconds",
        "errand_ops_stuck_instances",
    ] {
        assert_eq!(metrics.contains(name), !external, "{name} on /metrics");
    }
    let histogram = admin.get("/ops/workflows/histogram?hours=1").await.body;
    let created: u64 = histogram["buckets"].as_array().unwrap().iter().map(|b| b["count"].as_u64().unwrap()).sum();
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

/// A batch terminating 1,000 instances, the server SIGKILLed while it runs: after the
/// restart it finishes once, and counts each instance once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_survives_a_sigkill_and_counts_each_instance_once() {
    let Some(mut setup) = Setup::start(Backend::Sqlite, false).await else { return };
    let admin = setup.server().signup("admin@example.com").await;
    const N: usize = 1000;
    let at = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    for chunk in (0..N).collect::<Vec<_>>().chunks(50) {
        let creations = chunk.iter().map(|i| {
            let admin = admin.clone();
            let body = json!({ "title": format!("t{i}"), "reminders": [{ "at": at }] });
            async move { admin.create(body).await }
        });
        futures_util::future::join_all(creations).await;
    }
    eventually("1,000 reminders waiting", 60, || async {
        query(&admin, "kind:reminder & waiting:timer").await["total"] == N
    })
    .await;
    let spec = json!({ "query": "kind:reminder", "action": "terminate", "reason": "crash test" });
    let asked = admin.post("/ops/workflows/batch", spec).await.body;
    let batch = asked["confirmation"]["id"].as_str().expect("a confirmation").to_string();
    // The decision's answer waits for the batch to settle: don't wait for it.
    let approving = {
        let (admin, path) = (admin.clone(), format!("/confirmations/{batch}"));
        // (It fails when the server is killed under it.)
        tokio::spawn(async move {
            let _ = admin.request(reqwest::Method::POST, &path).json(&json!({ "decision": "approve" })).send().await;
        })
    };
    let instance = format!("confirmation:{batch}");
    let path = format!("/ops/workflows/{}", encode(&instance));
    // Kill it part way: some instances terminated by it, not all.
    let started = std::time::Instant::now();
    let mut terminated = 0;
    while started.elapsed() < Duration::from_secs(60) {
        let r = admin.get(&format!("/ops/workflows?limit=1&q={}", encode("kind:reminder & status:terminated"))).await;
        terminated = r.body["total"].as_u64().unwrap_or(0) as usize;
        if terminated > 0 {
            break;
        }
    }
    assert!(terminated > 0 && terminated < N, "caught part way: {terminated} of {N} terminated");
    setup.crash_and_restart();
    approving.abort();
    let admin = setup.again(&admin);
    eventually("the batch finishes after the restart", 120, || async {
        admin.get(&path).await.body["instance"]["status"] == "completed"
    })
    .await;
    let result = admin.get(&path).await.body["output"]["result"].clone();
    assert_eq!(
        (result["total"].as_u64(), result["done"].as_u64(), result["skipped"].as_u64()),
        (Some(N as u64), Some(N as u64), Some(0)),
        "{result}"
    );
    assert_eq!(result["failed"], json!([]));
    let after = query(&admin, "kind:reminder").await;
    assert_eq!(after["counts"]["terminated"], N, "{}", after["counts"]);
}

/// `errand workflows ...` against a running server: output, exit codes, every command.
fn cli(setup: &Setup, token: &str, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_errand"))
        .arg("workflows")
        .args(args)
        .env("ERRAND_URL", &setup.server().base)
        .env("ERRAND_TOKEN", token)
        .output()
        .expect("run errand workflows");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    (out.status.code().unwrap_or(-1), stdout, stderr)
}

async fn cli_behaves(backend: Backend, external: bool) {
    let Some(setup) = Setup::start(backend, external).await else { return };
    let admin = setup.server().signup("admin@example.com").await;
    let bob = setup.server().signup("bob@example.com").await;
    let task = task_with_reminder(&bob, "water plants").await;
    let feed = task_with_reminder(&bob, "feed cat").await;
    eventually("two reminders waiting", 20, || async {
        query(&admin, "kind:reminder & waiting:timer").await["total"] == 2
    })
    .await;
    let token = admin.token.clone();

    let (code, out, _) = cli(&setup, &token, &["list", "kind:reminder"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("ID")
            && out.contains("WAITING")
            && out.contains("timer until")
            && out.contains("2 matching (running 2)"),
        "{out}"
    );
    let (code, out, _) = cli(&setup, &token, &["list", &format!("task:{task}"), "--output", "json"]);
    assert_eq!(code, 0);
    let page: Value = serde_json::from_str(&out).expect("json");
    let id = page["items"][0]["id"].as_str().unwrap().to_string();
    let (code, out, _) = cli(&setup, &token, &["show", &id]);
    assert!(code == 0 && out.contains("kind           reminder") && out.contains(&task), "{out}");
    let (code, out, _) = cli(&setup, &token, &["history", &id]);
    assert!(code == 0 && out.contains("timer_created"), "{out}");
    assert_eq!(cli(&setup, &token, &["suspend", &id, "--reason", "looking"]).0, 0);
    eventually("suspended", 20, || async { status_of(&admin, &id).await == "suspended" }).await;
    assert_eq!(cli(&setup, &token, &["resume", &id]).0, 0);
    eventually("resumed", 20, || async { status_of(&admin, &id).await == "running" }).await;
    let (code, _, err) = cli(&setup, &token, &["purge", &id]);
    assert_eq!(code, 5, "purging a running instance is a conflict: {err}");
    assert_eq!(cli(&setup, &token, &["terminate", &id, "--reason", "done"]).0, 0);
    eventually("terminated", 20, || async { status_of(&admin, &id).await == "terminated" }).await;
    let (code, out, _) = cli(&setup, &token, &["rerun", &id]);
    assert!(code == 0 && out.contains(":rerun:"), "{out}");
    assert_eq!(cli(&setup, &token, &["purge", &id]).0, 0);
    assert_eq!(cli(&setup, &token, &["show", &id]).0, 3, "gone: not found");
    assert_eq!(cli(&setup, &token, &["list", "status:sleeping"]).0, 2, "a bad query is a usage error");
    assert_eq!(cli(&setup, &bob.token, &["list"]).0, 4, "not an admin");
    assert_eq!(cli(&setup, "", &["list"]).0, 2, "no token");

    // Watch prints changes as they happen.
    let mut watcher = std::process::Command::new(env!("CARGO_BIN_EXE_errand"))
        .args(["workflows", "watch", "--filter", &feed, "--output", "json"])
        .env("ERRAND_URL", &setup.server().base)
        .env("ERRAND_TOKEN", &token)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("watch");
    let feeding = ids(&query(&admin, &format!("task:{feed}")).await)[0].clone();
    let (code, out, err) = cli(&setup, &token, &["raise", &feeding, "poke", "--data", "{\"x\": 1}"]);
    assert!(code == 0 && out.contains("raise"), "{out} {err}");
    assert_eq!(cli(&setup, &token, &["raise", &feeding, "poke", "--data", "not json"]).0, 2);
    let (code, out, _) = cli(&setup, &token, &["batch", "terminate", "kind:reminder & status:running", "--dry-run"]);
    assert!(code == 0 && out.contains("2 matching") && out.contains("a dry run"), "{out}");
    let (code, out, _) =
        cli(&setup, &token, &["batch", "terminate", "kind:reminder & status:running", "--yes", "--reason", "cli"]);
    assert!(code == 0 && out.contains("2 of 2 done, 0 skipped, 0 failed"), "{out}");
    let stdout = watcher.stdout.take().unwrap();
    let (seen, _) = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        let mut lines = std::io::BufReader::new(stdout).lines();
        let mut seen = Vec::new();
        while let Some(Ok(line)) = lines.next() {
            let done = line.contains("\"terminated\"");
            seen.push(line);
            if done {
                break;
            }
        }
        (seen, ())
    })
    .await
    .unwrap();
    let _ = watcher.kill();
    let _ = watcher.wait();
    assert!(seen.iter().all(|l| l.contains(&feed)), "only the instances asked for: {seen:?}");
    assert!(seen.last().is_some_and(|l| l.contains("terminated")), "{seen:?}");
    let (code, out, _) = cli(&setup, &token, &["stats"]);
    assert!(code == 0 && out.contains("KIND") && out.contains("reminder") && out.contains("WAITING"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_on_the_embedded_engine() {
    cli_behaves(Backend::Sqlite, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_on_postgres() {
    cli_behaves(Backend::Postgres, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_through_the_durabletask_go_sidecar() {
    cli_behaves(Backend::Sqlite, true).await;
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
