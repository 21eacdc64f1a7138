//! The Dapr runtime on the real thing: `errand serve --runtime dapr` and the three
//! consumers, each its own app with its own daprd 1.16, on Kafka (pub/sub), Redis
//! (state and workflow actors), placement and scheduler, all on loopback, with the
//! components of `dapr/` as they are. Each test gets an environment of its own
//! (`scripts/dapr-env.sh` in a temporary directory: a fresh broker, so no test sees
//! another's events) and they run one at a time. They run when `make test` has
//! provided the parts (`DAPR_DAPRD`, from `scripts/dapr-tools.sh`).

mod common;

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::{eventually, fresh_db, spawn_listening, Backend, KillOnDrop, Session, TestDb};
use serde_json::{json, Value};

/// One environment at a time: each is a Kafka broker and more.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const SECRET: &str = "a-secret-shared-by-every-errand-process-0123456789";

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts").join(name)
}

/// Kafka, Redis, placement and scheduler from `scripts/dapr-env.sh`, in a directory of their own.
struct Environment {
    dir: tempfile::TempDir,
    vars: HashMap<String, String>,
}

impl Environment {
    fn up() -> Option<Environment> {
        if std::env::var_os("DAPR_DAPRD").is_none() {
            eprintln!("skipped: the Dapr parts are not provided (make test runs scripts/dapr-tools.sh)");
            return None;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let status = Command::new(script("dapr-env.sh"))
            .arg("up")
            .env("DAPR_ENV_DIR", dir.path())
            .stdout(Stdio::null())
            .status()
            .expect("dapr-env.sh");
        assert!(status.success(), "dapr-env.sh up failed");
        let text = std::fs::read_to_string(dir.path().join("env")).expect("the environment file");
        let vars = text
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| line.split_once('='))
            .map(|(key, value)| (key.to_string(), value.trim_matches('\'').to_string()))
            .collect();
        Some(Environment { dir, vars })
    }

    fn var(&self, name: &str) -> &str {
        self.vars.get(name).unwrap_or_else(|| panic!("{name} in the environment file"))
    }
}

impl Drop for Environment {
    fn drop(&mut self) {
        let _ = Command::new(script("dapr-env.sh"))
            .arg("down")
            .env("DAPR_ENV_DIR", self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port()
}

/// A daprd's ports.
struct Ports {
    http: u16,
    grpc: u16,
}

/// Errand's apps, each beside its daprd.
struct Stack {
    // Dropped in order: the apps and their sidecars before the environment they use.
    processes: Vec<KillOnDrop>,
    api: String,
    db: TestDb,
    env: Environment,
    logs: PathBuf,
}

impl Stack {
    /// The API (app id `errand`) and the audit, notification and workflow-trigger
    /// consumers, on PostgreSQL when it is available here, else SQLite.
    async fn start() -> Option<Stack> {
        Stack::start_with(&[]).await
    }

    /// Like [`Stack::start`], with extra environment variables for the API.
    async fn start_with(api_env: &[(&str, &str)]) -> Option<Stack> {
        let env = Environment::up()?;
        let db = match fresh_db(Backend::Postgres).await {
            Some(db) => db,
            None => fresh_db(Backend::Sqlite).await?,
        };
        let logs = env.dir.path().join("logs");
        std::fs::create_dir_all(&logs).expect("logs");
        let mut stack = Stack { processes: Vec::new(), api: String::new(), db, env, logs };
        let api_port = free_port();
        let api_dapr = stack.daprd("errand", api_port);
        let mut serve = Command::new(env!("CARGO_BIN_EXE_errand"));
        serve.args(["serve", "--runtime", "dapr", "--listen", &format!("127.0.0.1:{api_port}")]);
        let (child, base) = stack.errand(serve, &api_dapr, api_env, "errand listening on ");
        stack.processes.push(child);
        stack.api = base;
        for consumer in ["audit", "notification", "workflow-trigger"] {
            let port = free_port();
            let dapr = stack.daprd(&format!("errand-{consumer}"), port);
            let mut command = Command::new(env!("CARGO_BIN_EXE_errand"));
            command.args(["consumer", consumer, "--listen", &format!("127.0.0.1:{port}")]);
            let prefix = format!("errand consumer {consumer} listening on ");
            let (child, _) = stack.errand(command, &dapr, &[], &prefix);
            stack.processes.push(child);
        }
        let http = reqwest::Client::new();
        eventually("the API to be ready on daprd", 60, || async {
            http.get(format!("{}/readyz", stack.api)).send().await.is_ok_and(|r| r.status() == 200)
        })
        .await;
        Some(stack)
    }

    /// Starts daprd for app `app_id` on `app_port`, with the environment's flags.
    fn daprd(&mut self, app_id: &str, app_port: u16) -> Ports {
        let ports = Ports { http: free_port(), grpc: free_port() };
        let log = std::fs::File::create(self.logs.join(format!("daprd-{app_id}.log"))).expect("log");
        let child = Command::new(self.env.var("DAPR_DAPRD"))
            .args(["--app-id", app_id, "--app-port", &app_port.to_string()])
            .args(["--dapr-http-port", &ports.http.to_string(), "--dapr-grpc-port", &ports.grpc.to_string()])
            .args(["--dapr-internal-grpc-port", &free_port().to_string()])
            .args(self.env.var("DAPRD_ARGS").split_whitespace())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn daprd");
        self.processes.push(KillOnDrop(child));
        ports
    }

    /// Starts an `errand` command beside its daprd and waits for its listening line.
    fn errand(&self, command: Command, dapr: &Ports, extra: &[(&str, &str)], prefix: &str) -> (KillOnDrop, String) {
        let http = dapr.http.to_string();
        let grpc = dapr.grpc.to_string();
        let mut envs = vec![("DAPR_HTTP_PORT", http.as_str()), ("DAPR_GRPC_PORT", grpc.as_str())];
        envs.push(("ERRAND_JWT_SECRET", SECRET));
        envs.extend_from_slice(extra);
        let (child, base) = spawn_listening(command, &self.db.url, self.db.dir.path(), &envs, prefix);
        (KillOnDrop(child), base)
    }

    async fn signup(&self, email: &str) -> Session {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
        let r = client
            .post(format!("{}/api/v1/auth/signup", self.api))
            .json(&json!({ "email": email, "password": "correct horse battery", "timezone": "Europe/Berlin" }))
            .send()
            .await
            .expect("signup");
        assert_eq!(r.status(), 201, "signup");
        let body: Value = r.json().await.expect("json");
        Session {
            client,
            base: self.api.clone(),
            token: body["token"].as_str().expect("token").to_string(),
            user: body["user"].clone(),
        }
    }
}

fn at(text: &Value) -> DateTime<Utc> {
    text.as_str().expect("a time").parse().expect("rfc3339")
}

async fn reminders_of(session: &Session, task_id: &str) -> Vec<Value> {
    let r = session.get("/notifications?limit=100").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|n| n["kind"] == "reminder" && n["task_id"] == task_id)
        .cloned()
        .collect()
}

/// A reminder set through the API fires once, on time and never early: the trigger
/// starts it through the API app, daprd's engine runs it, the activity publishes
/// through Kafka, the notification consumer stores it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reminder_fires_once_and_on_time() {
    let _one = SERIAL.lock().await;
    let Some(stack) = Stack::start().await else { return };
    let ada = stack.signup("ada@example.com").await;
    let due = Utc::now() + chrono::Duration::seconds(4);
    let task = ada.create(json!({ "title": "call the plumber", "reminders": [{ "at": due.to_rfc3339() }] })).await;
    let id = task["id"].as_str().unwrap().to_string();
    let reminder_at = at(&task["reminders"][0]["at"]);
    eventually("the reminder", 30, || async { !reminders_of(&ada, &id).await.is_empty() }).await;
    let fired = reminders_of(&ada, &id).await;
    let lateness = at(&fired[0]["created_at"]) - reminder_at;
    assert!(lateness >= chrono::Duration::zero(), "fired {lateness} early");
    assert!(lateness < chrono::Duration::seconds(2), "fired {lateness} late");
    let workflows = ada.get(&format!("/workflows?kind=reminder&task_id={id}")).await;
    assert_eq!(workflows.body["items"][0]["status"], "completed", "{:?}", workflows.body);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(reminders_of(&ada, &id).await.len(), 1, "exactly once");
    // The audit consumer, its own app, recorded the creation from Kafka.
    eventually("the audit record", 20, || async {
        let trail = ada.get(&format!("/audit?task_id={id}")).await;
        trail.body["items"].as_array().is_some_and(|items| items.iter().any(|r| r["action"] == "task.created"))
    })
    .await;
}

async fn occurrences(session: &Session, series: &str) -> Vec<Value> {
    let r = session.get("/tasks?status=all&limit=100&sort=due").await;
    r.body["items"].as_array().expect("items").iter().filter(|t| t["series_id"] == series).cloned().collect()
}

/// Three completions give three next occurrences, once each, at 9:00 Berlin time across
/// the change to summer time: the series' workflow waits for each completion event
/// (raised through the API app) and creates the next task through service invocation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recurring_tasks_create_each_next_occurrence_once() {
    let _one = SERIAL.lock().await;
    let Some(stack) = Stack::start().await else { return };
    let ada = stack.signup("ada@example.com").await;
    let first = ada
        .create(json!({ "title": "stretch", "due": "2027-03-27 09:00", "recurrence": { "text": "every day" } }))
        .await;
    let series = first["series_id"].as_str().unwrap().to_string();
    let instance = format!("recurring:{series}");
    eventually("the series' workflow", 30, || async {
        ada.get(&format!("/workflows/{instance}")).await.body["status"] == "running"
    })
    .await;
    for n in 2..=4 {
        let all = occurrences(&ada, &series).await;
        let open = all.iter().find(|t| t["status"] == "open").expect("an open occurrence");
        let id = open["id"].as_str().unwrap();
        assert_eq!(ada.post(&format!("/tasks/{id}/complete"), json!({})).await.status, 200);
        eventually("the next occurrence", 30, || async { occurrences(&ada, &series).await.len() >= n }).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let all = occurrences(&ada, &series).await;
    let dues: Vec<&str> = all.iter().map(|t| t["due_at"].as_str().unwrap()).collect();
    assert_eq!(dues, ["2027-03-27T08:00:00Z", "2027-03-28T07:00:00Z", "2027-03-29T07:00:00Z", "2027-03-30T07:00:00Z"]);
}

/// Deletion waits for a person's yes: approved, the tasks go; rejected, they stay; not
/// answered in time, nothing is deleted. Each decision travels as an event to the
/// confirm-action workflow on daprd.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmations_are_approved_rejected_or_expire() {
    let _one = SERIAL.lock().await;
    let Some(stack) = Stack::start_with(&[("ERRAND_CONFIRMATION_TIMEOUT_SECS", "5")]).await else { return };
    let ada = stack.signup("ada@example.com").await;
    let ask = |title: &'static str| {
        let ada = &ada;
        async move {
            let id = ada.create(json!({ "title": title })).await["id"].as_str().unwrap().to_string();
            let asked = ada.post("/tasks/bulk-delete", json!({ "ids": [id] })).await;
            assert_eq!(asked.status, 202, "{:?}", asked.body);
            (id, asked.body["id"].as_str().unwrap().to_string())
        }
    };
    let (gone, yes) = ask("delete me").await;
    let decided = ada.post(&format!("/confirmations/{yes}"), json!({ "decision": "approve" })).await;
    assert_eq!(decided.body["status"], "approved", "{:?}", decided.body);
    assert_eq!(ada.get(&format!("/tasks/{gone}")).await.status, 404);
    let (kept, no) = ask("keep me").await;
    let decided = ada.post(&format!("/confirmations/{no}"), json!({ "decision": "reject" })).await;
    assert_eq!(decided.body["status"], "rejected", "{:?}", decided.body);
    assert_eq!(ada.get(&format!("/tasks/{kept}")).await.status, 200);
    let (unanswered, late) = ask("forget me").await;
    eventually("the expiry", 20, || async {
        ada.get(&format!("/confirmations/{late}")).await.body["status"] == "expired"
    })
    .await;
    let refused = ada.post(&format!("/confirmations/{late}"), json!({ "decision": "approve" })).await;
    assert_eq!(refused.status, 409, "{:?}", refused.body);
    assert_eq!(ada.get(&format!("/tasks/{unanswered}")).await.status, 200, "nothing deleted without a yes");
    eventually("the settled notifications", 20, || async {
        let r = ada.get("/notifications?limit=100").await;
        r.body["items"].as_array().unwrap().iter().filter(|n| n["kind"] == "confirmation_settled").count() == 3
    })
    .await;
}

/// The assistant keeps its conversation in the Redis state store: "it" in a second
/// message means the task of the first, and deleting it asks for a confirmation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_assistant_remembers_the_conversation_in_the_state_store() {
    let _one = SERIAL.lock().await;
    let Some(stack) = Stack::start().await else { return };
    let ada = stack.signup("ada@example.com").await;
    let first = ada.post("/chat", json!({ "message": "add buy milk tomorrow #shopping" })).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    let conversation = first.body["conversation_id"].as_str().unwrap().to_string();
    let second = ada.post("/chat", json!({ "message": "delete it", "conversation_id": conversation })).await;
    assert_eq!(second.status, 200, "{:?}", second.body);
    let pending = ada.get("/confirmations?status=pending").await;
    let items = pending.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{:?}", pending.body);
    assert!(items[0]["summary"].as_str().unwrap().contains("buy milk"), "{:?}", items[0]);
}
