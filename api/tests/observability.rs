//! Observability with the real tools (`make test` provides them through
//! scripts/observability-tools.sh; each test is skipped without them):
//! - the real `errand serve` exporting to a real Jaeger: a reminder is one trace from
//!   the request that set it to the notification, also across a SIGKILL while its timer
//!   waits; the JSON logs carry that trace's id;
//! - promtool checks the alert rules and runs their unit tests;
//! - every metric a dashboard or an alert names is on `/metrics` after a short workload,
//!   and the dashboards are well-formed Grafana JSON.

mod common;

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::jaeger::{ancestors, span, tree, Jaeger};
use common::model::{calls, Script};
use common::{eventually, fresh_db, Backend, Server, Session};
use serde_json::{json, Value};

/// What a reminder's trace holds: the request, the consumers of its event, the
/// workflow's start, the engine's turns (start, timer fired, activity done) and the
/// worker's, the activity, and the notification it led to.
const REMINDER_TRACE: &[&str] = &[
    "POST /api/v1/tasks",
    "audit task.created",
    "workflow-trigger task.created",
    "create_orchestration||reminder",
    "engine turn reminder",
    "engine turn reminder",
    "engine turn reminder",
    "engine commit",
    "orchestration||reminder",
    "orchestration||reminder",
    "orchestration||reminder",
    "activity||fire_reminder",
    "notification reminder.fired",
];

fn observability() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/observability")
}

async fn notified(session: &Session, task_id: &str) -> bool {
    let notifications = session.get("/notifications").await.body;
    notifications["items"].as_array().into_iter().flatten().any(|n| n["task_id"] == task_id)
}

async fn task_with_reminder(session: &Session, seconds: i64) -> String {
    let at = (chrono::Utc::now() + chrono::Duration::seconds(seconds)).to_rfc3339();
    let task = session.create(json!({ "title": "call the dentist", "reminders": [{ "at": at }] })).await;
    task["id"].as_str().expect("a task").to_string()
}

fn traced_env(jaeger: &Jaeger) -> Vec<(&'static str, String)> {
    let mut env = jaeger.env();
    env.push(("RUST_LOG", "info".into()));
    env
}

fn borrowed<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reminder_is_one_trace_from_the_request_to_the_notification() {
    let Some(jaeger) = Jaeger::start().await else { return };
    let db = fresh_db(Backend::Sqlite).await.expect("sqlite");
    let log = db.dir.path().join("errand.log");
    let env = traced_env(&jaeger);
    let stderr = Stdio::from(std::fs::File::create(&log).expect("log file"));
    let server = Server::start_logging(&db.url, db.dir.path(), &borrowed(&env), stderr);
    let ada = server.signup("ada@example.com").await;
    let task = task_with_reminder(&ada, 2).await;
    eventually("the reminder's notification", 30, || async { notified(&ada, &task).await }).await;

    let trace = jaeger.trace_with("POST /api/v1/tasks", REMINDER_TRACE, 30).await;
    println!("the reminder's trace:\n{}", tree(&trace));
    let request = span(&trace, "POST /api/v1/tasks");
    assert!(request.parent.is_none(), "the request starts the trace");
    assert_eq!(request.tags["status"].to_string().trim_matches('"'), "201");
    let fire = span(&trace, "activity||fire_reminder");
    let path = ancestors(&trace, fire);
    assert_eq!(path[0], "engine turn reminder", "an activity runs under the turn that scheduled it: {path:?}");
    assert!(path.ends_with(&["workflow-trigger task.created".into(), "POST /api/v1/tasks".into()]), "{path:?}");
    let notification = span(&trace, "notification reminder.fired");
    assert_eq!(ancestors(&trace, notification)[0], "activity||fire_reminder");

    // The request's log line carries the trace id, so a log leads to its trace.
    let trace_id = &request.trace_id;
    let logs = std::fs::read_to_string(&log).expect("the log");
    let logged = logs.lines().filter(|l| l.contains(&format!("\"trace_id\":\"{trace_id}\""))).collect::<Vec<_>>();
    assert!(logged.iter().any(|l| l.contains("POST /api/v1/tasks") && l.contains("request done")), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trace_goes_on_after_a_sigkill_while_the_timer_waits() {
    let Some(jaeger) = Jaeger::start().await else { return };
    let db = fresh_db(Backend::Sqlite).await.expect("sqlite");
    let env = traced_env(&jaeger);
    let server = Server::start_with(&db.url, db.dir.path(), &[], &borrowed(&env));
    let ada = server.signup("ada@example.com").await;
    let task = task_with_reminder(&ada, 8).await;
    // Everything up to the wait is exported before the kill.
    let before =
        ["POST /api/v1/tasks", "create_orchestration||reminder", "engine turn reminder", "orchestration||reminder"];
    jaeger.trace_with("POST /api/v1/tasks", &before, 20).await;
    server.kill();
    let killed_at = chrono::Utc::now().timestamp_micros() as u64;

    let server = Server::start_with(&db.url, db.dir.path(), &[], &borrowed(&env));
    let ada = Session { base: server.base.clone(), ..ada };
    eventually("the reminder's notification after the restart", 40, || async { notified(&ada, &task).await }).await;
    let trace = jaeger.trace_with("POST /api/v1/tasks", REMINDER_TRACE, 30).await;
    println!("the reminder's trace across the restart:\n{}", tree(&trace));
    let fire = span(&trace, "activity||fire_reminder");
    assert!(fire.start > killed_at, "the activity ran in the restarted process");
    let path = ancestors(&trace, fire);
    assert!(path.contains(&"POST /api/v1/tasks".to_string()), "{path:?}");
    let turns_after = trace.iter().filter(|s| s.name == "engine turn reminder" && s.start > killed_at).count();
    assert!(turns_after >= 2, "the turns after the restart are in the trace:\n{}", tree(&trace));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_request_shows_its_model_and_tool_calls() {
    let Some(jaeger) = Jaeger::start().await else { return };
    let script = Script::default();
    script
        .then(|_| calls(&[("add_task", json!({ "title": "buy milk", "due": "tomorrow 5pm" }))]))
        .then(|_| common::model::says("Added “buy milk” for tomorrow at 5pm."));
    let url = script.serve().await;
    let db = fresh_db(Backend::Sqlite).await.expect("sqlite");
    let mut env = jaeger.env();
    env.extend([("OPENAI_API_KEY", "sk-test-key".to_string()), ("OPENAI_BASE_URL", url)]);
    let server = Server::start_with(&db.url, db.dir.path(), &[], &borrowed(&env));
    let ada = server.signup("ada@example.com").await;
    let reply = ada.post("/chat", json!({ "message": "remind me to buy milk tomorrow at 5pm" })).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);

    // The task the tool made: its event's consumers are in the same trace, under the tool.
    let wanted = ["POST /api/v1/chat", "chat model", "chat model", "chat tool add_task", "audit task.created"];
    let trace = jaeger.trace_with("POST /api/v1/chat", &wanted, 30).await;
    println!("the chat request's trace:\n{}", tree(&trace));
    let tool = span(&trace, "chat tool add_task");
    assert_eq!(tool.tags["outcome"], "ok");
    assert_eq!(ancestors(&trace, tool), ["POST /api/v1/chat"]);
    assert_eq!(ancestors(&trace, span(&trace, "audit task.created"))[0], "chat tool add_task");
    for model in trace.iter().filter(|s| s.name == "chat model") {
        assert_eq!(model.tags["outcome"], "ok");
        // The user's words and the prompt are never in a span.
        assert!(!format!("{:?}", model.tags).contains("buy milk"), "{:?}", model.tags);
    }
}

/// The metric names an expression reads (all of Errand's start with `errand_`).
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("errand_") {
        let name: String =
            rest[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':').collect();
        rest = &rest[at + name.len()..];
        names.push(name);
    }
    names
}

fn dashboards() -> Vec<(String, Value)> {
    let dir = observability().join("dashboards");
    let mut found: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .expect("deploy/observability/dashboards")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("dashboard");
            let json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p.file_name().unwrap().to_string_lossy().into_owned(), json)
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut all = Vec::new();
    for panel in dashboard["panels"].as_array().into_iter().flatten() {
        all.push(panel);
        all.extend(panel["panels"].as_array().into_iter().flatten());
    }
    all
}

/// Every expression of the dashboards and of the alert rules, with where it is.
fn expressions() -> Vec<(String, String)> {
    let mut exprs = Vec::new();
    for (file, dashboard) in dashboards() {
        for panel in panels(&dashboard) {
            for target in panel["targets"].as_array().into_iter().flatten() {
                let expr = target["expr"].as_str().unwrap_or_default().to_string();
                exprs.push((format!("{file}: {}", panel["title"]), expr));
            }
        }
    }
    let rules = std::fs::read_to_string(observability().join("alerts.yaml")).expect("alerts.yaml");
    // The rule file's expressions: `expr:` lines and the block lines under `expr: |`.
    let mut lines = rules.lines().peekable();
    while let Some(line) = lines.next() {
        let Some(expr) = line.trim_start().strip_prefix("expr:") else { continue };
        let indent = line.len() - line.trim_start().len();
        let mut text = expr.trim().trim_start_matches('|').to_string();
        while let Some(next) = lines.peek() {
            if next.trim().is_empty() || next.len() - next.trim_start().len() <= indent {
                break;
            }
            text.push(' ');
            text.push_str(lines.next().unwrap().trim());
        }
        exprs.push(("alerts.yaml".into(), text));
    }
    exprs
}

#[test]
fn the_dashboards_are_grafana_dashboards() {
    let found = dashboards();
    let names: Vec<&str> = found.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(names, ["errand-assistant.json", "errand-events.json", "errand-service.json", "errand-workflows.json"]);
    let mut uids = HashSet::new();
    for (file, d) in &found {
        assert!(d["schemaVersion"].as_u64().is_some_and(|v| v >= 36), "{file}: a current schemaVersion");
        assert!(uids.insert(d["uid"].as_str().expect("a uid").to_string()), "{file}: its uid is its own");
        assert!(d["title"].as_str().is_some_and(|t| t.starts_with("Errand / ")), "{file}: a title");
        let variables = d["templating"]["list"].as_array().expect("variables");
        assert!(
            variables
                .iter()
                .any(|v| v["type"] == "datasource" && v["name"] == "datasource" && v["query"] == "prometheus"),
            "{file}: a Prometheus data source variable"
        );
        let mut ids = HashSet::new();
        for panel in panels(d) {
            assert!(ids.insert(panel["id"].as_u64().expect("a panel id")), "{file}: panel ids are unique");
            assert_eq!(
                panel["datasource"]["uid"], "${datasource}",
                "{file}: {} reads the chosen source",
                panel["title"]
            );
            let targets = panel["targets"].as_array().expect("targets");
            assert!(!targets.is_empty(), "{file}: {} shows something", panel["title"]);
            for t in targets {
                assert!(!metric_names(t["expr"].as_str().unwrap_or_default()).is_empty(), "{file}: {t}");
            }
        }
    }
}

#[test]
fn the_alert_rules_pass_promtool_and_each_alert_has_a_firing_unit_test() {
    let Some(promtool) = std::env::var_os("PROMTOOL_BIN") else {
        eprintln!("skipped: promtool is not provided (make test runs scripts/observability-tools.sh)");
        return;
    };
    let dir = observability();
    for args in [["check", "rules", "alerts.yaml"], ["test", "rules", "alerts.test.yaml"]] {
        let out = Command::new(&promtool).args(args).current_dir(&dir).output().expect("promtool");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "promtool {}: {text}", args.join(" "));
    }
    // Each alert is fired by some test (an alertname whose exp_alerts is not empty).
    let rules = std::fs::read_to_string(dir.join("alerts.yaml")).unwrap();
    let alerts: BTreeSet<&str> = rules.lines().filter_map(|l| l.trim().strip_prefix("- alert: ")).collect();
    let tests = std::fs::read_to_string(dir.join("alerts.test.yaml")).unwrap();
    let mut fired = BTreeSet::new();
    let mut current = None;
    for line in tests.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix("alertname: ") {
            current = Some(name);
        } else if line == "exp_alerts:" {
            fired.extend(current);
        }
    }
    assert_eq!(alerts.len(), 8, "{alerts:?}");
    assert_eq!(alerts, fired, "every alert has a unit test that fires it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_of_the_dashboards_and_alerts_is_on_metrics_after_a_short_workload() {
    let script = Script::default();
    let usage = json!({ "prompt_tokens": 120, "completion_tokens": 8, "total_tokens": 128 });
    let with_usage = move |(status, mut body): (u16, Value)| {
        body["usage"] = usage.clone();
        (status, body)
    };
    let counted = with_usage.clone();
    script
        .then(move |_| counted(calls(&[("add_task", json!({ "title": "water the plants" }))])))
        .then(move |_| with_usage(common::model::says("Added it.")));
    let url = script.serve().await;
    let db = fresh_db(Backend::Sqlite).await.expect("sqlite");
    let env = [("OPENAI_API_KEY", "sk-test-key"), ("OPENAI_BASE_URL", url.as_str())];
    let server = Server::start_with(&db.url, db.dir.path(), &[], &env);
    let ada = server.signup("ada@example.com").await;

    // A failed sign-in, a task with a reminder that fires, a chat with a tool call, a
    // live stream, an ops query.
    let wrong = json!({ "email": "ada@example.com", "password": "not the password" });
    let refused = server.client.post(server.url("/api/v1/auth/login")).json(&wrong).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let task = task_with_reminder(&ada, 1).await;
    let reply = ada.post("/chat", json!({ "message": "add water the plants" })).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let stream = server
        .client
        .get(server.url("/api/v1/notifications/stream"))
        .bearer_auth(&ada.token)
        .send()
        .await
        .expect("the stream");
    eventually("the reminder's notification", 30, || async { notified(&ada, &task).await }).await;
    assert_eq!(ada.get("/ops/workflows/stats").await.status, 200);
    let reminder = format!("reminder:{task}");
    eventually("the reminder's workflow finished", 30, || async {
        let page = ada.get("/ops/workflows?q=kind%3Areminder%20%26%20status%3Acompleted").await.body;
        page["items"]
            .as_array()
            .is_some_and(|items| items.iter().any(|i| i["id"].as_str().is_some_and(|id| id.starts_with(&reminder))))
    })
    .await;

    let scraped = reqwest::get(server.url("/metrics")).await.unwrap().text().await.unwrap();
    drop(stream);
    let exported: HashSet<&str> = scraped
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    let mut missing = BTreeSet::new();
    for (place, expr) in expressions() {
        for name in metric_names(&expr) {
            if !exported.contains(name.as_str()) {
                missing.insert(format!("{name} (in {place})"));
            }
        }
    }
    assert!(missing.is_empty(), "named but not on /metrics: {missing:#?}\n\n/metrics:\n{scraped}");
}
