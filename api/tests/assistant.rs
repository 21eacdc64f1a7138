//! The offline assistant end to end, on the real binary over each backend: bulk actions
//! with undo and one confirmation, questions answered from the index, corrections that
//! keep what was not said, and replies whose actions name the tasks they touched.

mod common;

use chrono::{DateTime, Utc};
use common::{Backend, Server, Session};
use serde_json::{json, Value};

const TZ: &str = "Europe/Berlin";

async fn say(ada: &Session, conversation: &mut Option<String>, message: &str) -> Value {
    let mut body = json!({ "message": message });
    if let Some(id) = conversation {
        body["conversation_id"] = json!(id);
    }
    let r = ada.post("/chat", body).await;
    assert_eq!(r.status, 200, "{message}: {:?}", r.body);
    *conversation = r.body["conversation_id"].as_str().map(String::from);
    r.body
}

fn tools(reply: &Value) -> Vec<&str> {
    reply["actions"].as_array().unwrap().iter().map(|a| a["tool"].as_str().unwrap()).collect()
}

fn text(reply: &Value) -> &str {
    reply["reply"].as_str().unwrap()
}

/// Titles of the tasks an action names, in order.
fn touched(reply: &Value, action: usize) -> Vec<String> {
    let tasks = reply["actions"][action]["tasks"].as_array().expect("the action names its tasks");
    tasks
        .iter()
        .map(|t| {
            assert!(t["id"].as_str().is_some_and(|id| !id.is_empty()), "{t}");
            t["title"].as_str().unwrap().to_string()
        })
        .collect()
}

fn local(at: &Value) -> String {
    let tz: chrono_tz::Tz = TZ.parse().unwrap();
    let at: DateTime<Utc> = at.as_str().expect("a due date").parse().unwrap();
    at.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
}

/// The local day the words mean now.
fn day_of(words: &str) -> String {
    let tz: chrono_tz::Tz = TZ.parse().unwrap();
    let due = errand_domain::parse_due(words, tz, Utc::now()).unwrap();
    due.at.with_timezone(&tz).format("%Y-%m-%d").to_string()
}

async fn behaves(backend: Backend) {
    let Some((server, _db)) = Server::fresh(backend).await else { return };
    let ada = server
        .signup_with(json!({ "email": "ada@example.com", "password": "correct horse battery", "timezone": TZ }))
        .await;
    let report = ada.create(json!({ "title": "quarterly report", "tags": ["work"], "priority": "urgent" })).await;
    let expense = ada.create(json!({ "title": "expense report", "tags": ["work"], "due": "tomorrow 15:00" })).await;
    let dentist = ada.create(json!({ "title": "dentist appointment", "tags": ["health"], "due": "in 3 days" })).await;
    let gym = ada.create(json!({ "title": "go to the gym", "tags": ["health"] })).await;
    ada.create(json!({ "title": "buy milk" })).await;
    let id = |task: &Value| task["id"].as_str().unwrap().to_string();
    let mut c = None;

    // Questions, from the index.
    let r = say(&ada, &mut c, "how many tasks do I have?").await;
    assert_eq!(tools(&r), ["count_tasks"]);
    assert!(text(&r).contains("You have 5 open tasks"), "{r}");
    let r = say(&ada, &mut c, "what are my most urgent tasks?").await;
    assert_eq!(tools(&r), ["sort_tasks"]);
    assert_eq!(touched(&r, 0)[0], "quarterly report", "urgent first");
    let r = say(&ada, &mut c, "what's my week look like?").await;
    assert_eq!(tools(&r), ["agenda"]);
    assert!(text(&r).contains("Tomorrow") && text(&r).contains("\"expense report\" at 15:00"), "{r}");
    let r = say(&ada, &mut c, "when is the dentist appointment due?").await;
    assert_eq!(tools(&r), ["get_task"]);
    assert!(text(&r).contains("is due") && text(&r).contains("tagged health"), "{r}");

    // A move keeps the time when only a day is said, and a correction keeps the day.
    let r = say(&ada, &mut c, "postpone the expense report to saturday").await;
    assert_eq!(tools(&r), ["set_due_date"]);
    let moved = ada.get(&format!("/tasks/{}", id(&expense))).await.body;
    assert_eq!(local(&moved["due_at"]), format!("{} 15:00", day_of("saturday")));
    let r = say(&ada, &mut c, "the expense report is actually at 4pm").await;
    assert_eq!(touched(&r, 0), ["expense report"]);
    let moved = ada.get(&format!("/tasks/{}", id(&expense))).await.body;
    assert_eq!(local(&moved["due_at"]), format!("{} 16:00", day_of("saturday")));

    // A task with no command word; fillers are not part of it.
    let r = say(&ada, &mut c, "I need to call the plumber next monday morning").await;
    assert_eq!(tools(&r), ["add_task"]);
    assert_eq!(r["actions"][0]["result"]["data"]["title"], "call the plumber");
    assert_eq!(local(&r["actions"][0]["result"]["data"]["due_at"]), format!("{} 09:00", day_of("monday")));
    let r = say(&ada, &mut c, "remind me 1 hour before").await;
    assert_eq!(tools(&r), ["schedule_reminder"]);
    assert_eq!(touched(&r, 0), ["call the plumber"]);

    // Completing several runs at once, and "undo" reopens them all.
    let r = say(&ada, &mut c, "complete everything tagged work").await;
    assert_eq!(tools(&r), ["complete_tasks"]);
    let mut done = touched(&r, 0);
    done.sort();
    assert_eq!(done, ["expense report", "quarterly report"]);
    assert_eq!(ada.get(&format!("/tasks/{}", id(&report))).await.body["status"], "done");
    let r = say(&ada, &mut c, "what did I finish this week?").await;
    assert_eq!(tools(&r), ["completed_tasks"]);
    assert!(text(&r).contains("You completed 2 tasks"), "{r}");
    let r = say(&ada, &mut c, "undo").await;
    assert_eq!(tools(&r), ["reopen_tasks"]);
    assert_eq!(ada.get(&format!("/tasks/{}", id(&report))).await.body["status"], "open");
    assert_eq!(ada.get(&format!("/tasks/{}", id(&expense))).await.body["status"], "open");

    // Deleting several starts one confirmation that lists them; nothing goes before it.
    let r = say(&ada, &mut c, "get rid of everything tagged health").await;
    assert_eq!(tools(&r), ["delete_tasks"]);
    let confirmation = &r["confirmations"][0];
    assert_eq!(r["confirmations"].as_array().unwrap().len(), 1);
    let summary = confirmation["summary"].as_str().unwrap();
    assert!(summary.contains("dentist appointment") && summary.contains("go to the gym"), "{summary}");
    assert_eq!(ada.get(&format!("/tasks/{}", id(&gym))).await.status, 200, "nothing deleted yet");
    let decided = ada
        .post(&format!("/confirmations/{}", confirmation["id"].as_str().unwrap()), json!({ "decision": "approve" }))
        .await;
    assert_eq!(decided.body["status"], "approved", "{:?}", decided.body);
    assert_eq!(ada.get(&format!("/tasks/{}", id(&gym))).await.status, 404);
    assert_eq!(ada.get(&format!("/tasks/{}", id(&dentist))).await.status, 404);

    // Reopening a done task; small talk creates nothing.
    say(&ada, &mut c, "tick off buy milk").await;
    let r = say(&ada, &mut c, "reopen buy milk").await;
    assert_eq!((tools(&r), touched(&r, 0)), (vec!["reopen_tasks"], vec!["buy milk".to_string()]));
    let before = ada.get("/tasks?status=all&limit=100").await.body["total"].clone();
    for message in ["thanks!", "how are you?", "tell me a joke"] {
        assert!(tools(&say(&ada, &mut c, message).await).is_empty(), "{message}");
    }
    assert_eq!(ada.get("/tasks?status=all&limit=100").await.body["total"], before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_assistant_on_sqlite() {
    behaves(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_assistant_on_postgres() {
    behaves(Backend::Postgres).await;
}
