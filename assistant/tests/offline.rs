//! The offline assistant against a table of utterances: each must become exactly the
//! expected tool call (name and arguments, the task resolved by title or by "it").

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
            let task = match arguments["task_id"].as_str() {
                Some(id) => self.tasks.iter().find(|t| t.id == id).cloned(),
                None => arguments["title"].as_str().map(|title| TaskRef { id: "t-new".into(), title: title.into() }),
            };
            ToolResult {
                ok: true,
                summary: format!("Done: {}.", tool.name()),
                data: json!({}),
                tasks: task.into_iter().collect(),
                confirmation: (tool.name() == "delete_task").then(|| json!({ "id": "c1", "status": "pending" })),
            }
        })
    }

    fn find<'a>(&'a self, words: &'a str) -> HostFuture<'a, Vec<TaskRef>> {
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
async fn utterances_become_the_expected_tool_calls() {
    let table: Vec<(&str, &str, Value)> = vec![
        // add_task
        (
            "add buy milk tomorrow at 5pm #shopping p1",
            "add_task",
            json!({ "title": "buy milk", "due": "tomorrow at 5pm", "tags": ["shopping"], "priority": "urgent" }),
        ),
        ("add call the bank", "add_task", json!({ "title": "call the bank" })),
        ("Add Renew passport next friday", "add_task", json!({ "title": "Renew passport", "due": "next friday" })),
        ("create a task: book flights tomorrow", "add_task", json!({ "title": "book flights", "due": "tomorrow" })),
        ("new task file taxes by dec 1", "add_task", json!({ "title": "file taxes", "due": "dec 1" })),
        ("todo clean the garage #home", "add_task", json!({ "title": "clean the garage", "tags": ["home"] })),
        (
            "add pick up kids today at 3pm p2",
            "add_task",
            json!({ "title": "pick up kids", "due": "today at 3pm", "priority": "high" }),
        ),
        ("add gym every monday", "add_task", json!({ "title": "gym", "recurrence": "every monday" })),
        (
            "add water plants every 3 days #home",
            "add_task",
            json!({ "title": "water plants", "tags": ["home"], "recurrence": "every 3 days" }),
        ),
        (
            "add standup every weekday at 9am",
            "add_task",
            json!({ "title": "standup", "recurrence": "every weekday at 9am" }),
        ),
        ("add read a book p4", "add_task", json!({ "title": "read a book", "priority": "low" })),
        (
            "add send report to Anna on monday #work p3",
            "add_task",
            json!({ "title": "send report to Anna", "due": "monday", "tags": ["work"], "priority": "medium" }),
        ),
        ("please add buy stamps", "add_task", json!({ "title": "buy stamps" })),
        (
            "add pay rent on the 1st of every month",
            "add_task",
            json!({ "title": "pay rent", "recurrence": "every month on the 1st" }),
        ),
        (
            "remind me to pay rent on the 1st of every month",
            "add_task",
            json!({ "title": "pay rent", "recurrence": "every month on the 1st" }),
        ),
        (
            "remind me to call grandma tomorrow at 6pm",
            "add_task",
            json!({ "title": "call grandma", "due": "tomorrow at 6pm", "reminders": [{ "before_due_minutes": 0 }] }),
        ),
        (
            "remind me to take out the trash tonight",
            "add_task",
            json!({ "title": "take out the trash", "due": "tonight", "reminders": [{ "before_due_minutes": 0 }] }),
        ),
        ("add dentist checkup in 3 days", "add_task", json!({ "title": "dentist checkup", "due": "in 3 days" })),
        (
            "add submit timesheet every friday at 4pm #work",
            "add_task",
            json!({ "title": "submit timesheet", "tags": ["work"], "recurrence": "every friday at 4pm" }),
        ),
        // The same grammar as Quick Add: reminders, Todoist's marks, quotes.
        (
            "add call mom friday 6pm remind me 30 min before !!2",
            "add_task",
            json!({ "title": "call mom", "due": "friday 6pm", "priority": "high", "reminders": [{ "before_due_minutes": 30 }] }),
        ),
        ("add read \"The 5th Wave\"", "add_task", json!({ "title": "read The 5th Wave" })),
        (
            "add buy a gift for mom #family #shopping",
            "add_task",
            json!({ "title": "buy a gift for mom", "tags": ["family", "shopping"] }),
        ),
        // list_tasks
        ("what's on my list?", "list_tasks", json!({})),
        ("show my tasks", "list_tasks", json!({})),
        ("list tasks", "list_tasks", json!({})),
        ("show me all my tasks", "list_tasks", json!({})),
        ("what are my tasks", "list_tasks", json!({})),
        ("show completed tasks", "list_tasks", json!({ "status": "done" })),
        ("what have i done", "list_tasks", json!({ "status": "done" })),
        ("show my todo list", "list_tasks", json!({})),
        // filter_tasks
        ("what's due this week?", "filter_tasks", json!({ "filter": "7 days" })),
        ("what's due today", "filter_tasks", json!({ "filter": "today" })),
        ("what is due tomorrow?", "filter_tasks", json!({ "filter": "tomorrow" })),
        ("what do i have today", "filter_tasks", json!({ "filter": "today" })),
        ("what's overdue?", "filter_tasks", json!({ "filter": "overdue" })),
        ("show overdue tasks", "filter_tasks", json!({ "filter": "overdue" })),
        ("anything overdue", "filter_tasks", json!({ "filter": "overdue" })),
        ("show urgent tasks", "filter_tasks", json!({ "filter": "p1" })),
        ("show me my high priority tasks", "filter_tasks", json!({ "filter": "p2" })),
        ("show low priority tasks", "filter_tasks", json!({ "filter": "p4" })),
        ("show tasks tagged work", "filter_tasks", json!({ "filter": "@work" })),
        ("what's tagged #home", "filter_tasks", json!({ "filter": "@home" })),
        ("show tasks without a due date", "filter_tasks", json!({ "filter": "no date" })),
        ("what's due next week", "filter_tasks", json!({ "filter": "due after: in 7 days & due before: in 14 days" })),
        // sort_tasks
        ("show urgent tasks sorted by due date", "sort_tasks", json!({ "sort": "due", "filter": "p1" })),
        ("show my tasks sorted by priority", "sort_tasks", json!({ "sort": "-priority" })),
        ("sort my tasks by due date", "sort_tasks", json!({ "sort": "due" })),
        ("list tasks by title", "sort_tasks", json!({ "sort": "title" })),
        ("show tasks tagged work by priority", "sort_tasks", json!({ "sort": "-priority", "filter": "@work" })),
        ("show my tasks sorted by creation date", "sort_tasks", json!({ "sort": "-created" })),
        // search_tasks
        ("find tasks about invoices", "search_tasks", json!({ "query": "invoices" })),
        ("search for dentist", "search_tasks", json!({ "query": "dentist" })),
        ("look for report", "search_tasks", json!({ "query": "report" })),
        ("find ACME", "search_tasks", json!({ "query": "ACME" })),
        ("search tasks mentioning passport", "search_tasks", json!({ "query": "passport" })),
        // complete_task
        ("mark buy milk as done", "complete_task", json!({ "task_id": "t-milk" })),
        ("complete pay rent", "complete_task", json!({ "task_id": "t-rent" })),
        ("i finished the quarterly report", "complete_task", json!({ "task_id": "t-report" })),
        ("done with water the plants", "complete_task", json!({ "task_id": "t-plants" })),
        ("check off buy milk", "complete_task", json!({ "task_id": "t-milk" })),
        ("mark the dentist task done", "complete_task", json!({ "task_id": "t-dentist" })),
        // delete_task
        ("delete the dentist task", "delete_task", json!({ "task_id": "t-dentist" })),
        ("remove buy milk", "delete_task", json!({ "task_id": "t-milk" })),
        ("get rid of the invoice task", "delete_task", json!({ "task_id": "t-invoice" })),
        ("cancel quarterly report", "delete_task", json!({ "task_id": "t-report" })),
        // set_due_date
        ("move pay rent to friday", "set_due_date", json!({ "task_id": "t-rent", "due": "friday" })),
        (
            "reschedule the report to next monday",
            "set_due_date",
            json!({ "task_id": "t-report", "due": "next monday" }),
        ),
        (
            "postpone the dentist appointment to dec 12",
            "set_due_date",
            json!({ "task_id": "t-dentist", "due": "dec 12" }),
        ),
        ("buy milk is due tomorrow", "set_due_date", json!({ "task_id": "t-milk", "due": "tomorrow" })),
        ("clear the due date of pay rent", "set_due_date", json!({ "task_id": "t-rent", "due": null })),
        (
            "make water the plants due tomorrow at 8am",
            "set_due_date",
            json!({ "task_id": "t-plants", "due": "tomorrow at 8am" }),
        ),
        // schedule_reminder
        (
            "remind me about the dentist appointment 30 minutes before",
            "schedule_reminder",
            json!({ "task_id": "t-dentist", "before_due_minutes": 30 }),
        ),
        (
            "remind me of pay rent 2 days before",
            "schedule_reminder",
            json!({ "task_id": "t-rent", "before_due_minutes": 2880 }),
        ),
        (
            "remind me about the report tomorrow at 9am",
            "schedule_reminder",
            json!({ "task_id": "t-report", "at": "tomorrow at 9am" }),
        ),
        (
            "remind me about buy milk in 2 hours",
            "schedule_reminder",
            json!({ "task_id": "t-milk", "at": "in 2 hours" }),
        ),
        // create_recurring
        (
            "make pay rent repeat every month on the 1st",
            "create_recurring",
            json!({ "task_id": "t-rent", "recurrence": "every month on the 1st" }),
        ),
        (
            "make water the plants recur every 3 days",
            "create_recurring",
            json!({ "task_id": "t-plants", "recurrence": "every 3 days" }),
        ),
        (
            "repeat the quarterly report every 3 months",
            "create_recurring",
            json!({ "task_id": "t-report", "recurrence": "every 3 months" }),
        ),
        (
            "buy milk repeats every saturday",
            "create_recurring",
            json!({ "task_id": "t-milk", "recurrence": "every saturday" }),
        ),
        // set_priority
        ("make the report urgent", "set_priority", json!({ "task_id": "t-report", "priority": "urgent" })),
        ("set the priority of pay rent to high", "set_priority", json!({ "task_id": "t-rent", "priority": "high" })),
        ("make buy milk low priority", "set_priority", json!({ "task_id": "t-milk", "priority": "low" })),
        ("mark the invoice as important", "set_priority", json!({ "task_id": "t-invoice", "priority": "urgent" })),
        ("prioritize the dentist appointment", "set_priority", json!({ "task_id": "t-dentist", "priority": "high" })),
        ("make pay rent p3", "set_priority", json!({ "task_id": "t-rent", "priority": "medium" })),
        // add_tags
        ("tag report with work", "add_tags", json!({ "task_id": "t-report", "tags": ["work"] })),
        (
            "tag buy milk as shopping, errands",
            "add_tags",
            json!({ "task_id": "t-milk", "tags": ["shopping", "errands"] }),
        ),
        ("add the tag finance to pay rent", "add_tags", json!({ "task_id": "t-rent", "tags": ["finance"] })),
        (
            "label the invoice with work and urgent",
            "add_tags",
            json!({ "task_id": "t-invoice", "tags": ["work", "urgent"] }),
        ),
        // update_task
        ("rename buy milk to buy oat milk", "update_task", json!({ "task_id": "t-milk", "title": "buy oat milk" })),
        (
            "change the title of the report to Q4 report",
            "update_task",
            json!({ "task_id": "t-report", "title": "Q4 report" }),
        ),
        (
            "change the description of pay rent to Transfer to the landlord's account",
            "update_task",
            json!({ "task_id": "t-rent", "description": "Transfer to the landlord's account" }),
        ),
    ];
    assert!(table.len() >= 80, "{} utterances", table.len());
    let assistant = Assistant::new(None);
    let host = FakeHost::new();
    let mut failures = Vec::new();
    for (utterance, tool, arguments) in &table {
        let mut memory = Memory::default();
        let text = say(&assistant, &host, &mut memory, utterance).await;
        let calls = host.take();
        if calls != vec![(tool.to_string(), arguments.clone())] {
            failures.push(format!("{utterance:?}\n   expected {tool} {arguments}\n   got {calls:?} ({text})"));
        }
    }
    println!("{} of {} utterances passed", table.len() - failures.len(), table.len());
    assert!(failures.is_empty(), "{} failed:\n{}", failures.len(), failures.join("\n"));
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
    assert!(say(&assistant, &host, fresh, "sing me a song").await.contains("didn't understand"));
    assert!(host.take().is_empty());
    assert_eq!(fresh.recent.len(), 3, "the conversation is remembered");
}
