//! The offline assistant in conversation: "it", which-one questions, undo, a failed step
//! and what the replies say (the corpus, `corpus.rs`, measures the language).

use std::sync::Mutex;

use chrono::TimeZone;
use errand_assistant::offline::Clock;
use errand_assistant::tools::Tool;
use errand_assistant::{Assistant, HostFuture, Memory, TaskRef, ToolHost, ToolResult};
use serde_json::{json, Value};

/// A host with a few tasks that records every call.
struct FakeHost {
    tasks: Vec<TaskRef>,
    calls: Mutex<Vec<(String, Value)>>,
}

impl FakeHost {
    fn new() -> FakeHost {
        let titles = [
            ("t-milk", "buy milk"),
            ("t-rent", "pay rent"),
            ("t-report", "quarterly report"),
            ("t-dentist", "dentist appointment"),
            ("t-invoice", "send invoice to ACME"),
            ("t-mom", "call mom"),
            ("t-dad", "call dad"),
            ("t-plants", "water the plants"),
        ];
        FakeHost {
            tasks: titles.iter().map(|(id, title)| TaskRef { id: id.to_string(), title: title.to_string() }).collect(),
            calls: Mutex::new(Vec::new()),
        }
    }

    fn take(&self) -> Vec<(String, Value)> {
        std::mem::take(&mut self.calls.lock().unwrap())
    }
}

impl ToolHost for FakeHost {
    fn run<'a>(&'a self, tool: &'a Tool) -> HostFuture<'a, ToolResult> {
        Box::pin(async move {
            self.calls.lock().unwrap().push((tool.name().to_string(), tool.arguments()));
            let arguments = tool.arguments();
            let tasks: Vec<TaskRef> = match (tool, arguments["task_id"].as_str()) {
                (Tool::CompleteTasks(_) | Tool::ListTasks(_), _) => self.tasks[..3].to_vec(),
                (_, Some(id)) => self.tasks.iter().filter(|t| t.id == id).cloned().collect(),
                _ => arguments["title"]
                    .as_str()
                    .map(|title| TaskRef { id: "t-new".into(), title: title.into() })
                    .into_iter()
                    .collect(),
            };
            // A title the store refuses.
            if arguments["title"].as_str().is_some_and(|t| t.contains("<invalid>")) {
                return ToolResult {
                    ok: false,
                    summary: "That didn't work: the title is invalid.".into(),
                    ..Default::default()
                };
            }
            ToolResult {
                ok: true,
                summary: format!("Done: {}.", tool.name()),
                data: json!({}),
                tasks,
                confirmation: (tool.name() == "delete_task").then(|| json!({ "id": "c1", "status": "pending" })),
            }
        })
    }

    fn find<'a>(&'a self, words: &'a str, _done: bool) -> HostFuture<'a, Vec<TaskRef>> {
        Box::pin(async move {
            let words: Vec<String> = words.split_whitespace().map(str::to_lowercase).collect();
            self.tasks.iter().filter(|t| words.iter().all(|w| t.title.to_lowercase().contains(w))).cloned().collect()
        })
    }
}

fn clock() -> Clock {
    Clock { now: chrono::Utc.with_ymd_and_hms(2026, 11, 26, 10, 0, 0).unwrap(), tz: chrono_tz::Tz::UTC }
}

async fn say(assistant: &Assistant, host: &FakeHost, memory: &mut Memory, message: &str) -> String {
    assistant.respond(host, memory, clock(), message, &mut |_| {}).await.text
}

#[tokio::test]
async fn conversations_resolve_it_and_ask_which_one() {
    let assistant = Assistant::new(None);
    let host = FakeHost::new();
    let mut memory = Memory::default();

    // "it" is the task last mentioned: the one just added.
    say(&assistant, &host, &mut memory, "add milk").await;
    say(&assistant, &host, &mut memory, "make it urgent").await;
    let calls = host.take();
    assert_eq!(calls[1], ("set_priority".to_string(), json!({ "task_id": "t-new", "priority": "urgent" })));

    // "it" after a named task.
    say(&assistant, &host, &mut memory, "move pay rent to friday").await;
    say(&assistant, &host, &mut memory, "remind me about it 30 minutes before").await;
    let calls = host.take();
    assert_eq!(calls[1], ("schedule_reminder".to_string(), json!({ "task_id": "t-rent", "before_due_minutes": 30 })));

    // Several match: it asks, and the answer picks one.
    let question = say(&assistant, &host, &mut memory, "complete call").await;
    assert!(question.contains("call mom") && question.contains("call dad"), "{question}");
    assert!(host.take().is_empty(), "nothing done before the answer");
    say(&assistant, &host, &mut memory, "the second").await;
    assert_eq!(host.take(), vec![("complete_task".to_string(), json!({ "task_id": "t-dad" }))]);
    say(&assistant, &host, &mut memory, "delete call").await;
    say(&assistant, &host, &mut memory, "call mom").await;
    assert_eq!(host.take(), vec![("delete_task".to_string(), json!({ "task_id": "t-mom" }))]);

    // Nothing matches; no task yet for "it"; not understood: answers, no tool.
    let fresh = &mut Memory::default();
    assert!(say(&assistant, &host, fresh, "complete the moon landing").await.contains("couldn't find"));
    assert!(say(&assistant, &host, fresh, "make it urgent").await.contains("Which task"));
    assert!(say(&assistant, &host, fresh, "sing me a song").await.contains("only help with your tasks"));
    assert!(say(&assistant, &host, fresh, "why is the sky blue?").await.contains("didn't understand"));
    assert!(host.take().is_empty(), "no task is created from small talk or a question");
    assert_eq!(fresh.recent.len(), 4, "the conversation is remembered");
}

#[tokio::test]
async fn lists_undo_and_failed_steps() {
    let assistant = Assistant::new(None);
    let host = FakeHost::new();
    let mut memory = Memory::default();

    // "the second one" is the second task of the last list.
    say(&assistant, &host, &mut memory, "show my tasks").await;
    say(&assistant, &host, &mut memory, "complete the second one").await;
    assert_eq!(host.take()[1], ("complete_task".to_string(), json!({ "task_id": "t-rent" })));
    // "undo" reopens what the last completion closed, once.
    say(&assistant, &host, &mut memory, "undo").await;
    assert_eq!(host.take(), vec![("reopen_tasks".to_string(), json!({ "task_ids": ["t-rent"] }))]);
    assert!(say(&assistant, &host, &mut memory, "undo").await.contains("nothing for me to undo"));
    assert!(host.take().is_empty());

    // A bulk completion is undone as a whole.
    say(&assistant, &host, &mut memory, "complete everything tagged work").await;
    assert_eq!(host.take(), vec![("complete_tasks".to_string(), json!({ "filter": "@work" }))]);
    say(&assistant, &host, &mut memory, "undo that").await;
    assert_eq!(
        host.take(),
        vec![("reopen_tasks".to_string(), json!({ "task_ids": ["t-milk", "t-rent", "t-report"] }))]
    );

    // When the task was not created, the step about "it" says so and does nothing.
    let reply = say(&assistant, &host, &mut memory, "add <invalid> tomorrow and make it urgent").await;
    let calls = host.take();
    assert_eq!(calls.len(), 1, "only the add ran: {calls:?}");
    assert!(reply.contains("didn't work") && reply.contains("wasn't created"), "{reply}");
}

#[test]
fn stems_name_the_task() {
    use errand_assistant::offline::stem;
    for (word, base) in [
        ("watering", "water"),
        ("calling", "call"),
        ("getting", "get"),
        ("watered", "water"),
        ("boxes", "box"),
        ("plants", "plant"),
        ("gym", "gym"),
    ] {
        assert_eq!(stem(word), base, "{word}");
    }
}
