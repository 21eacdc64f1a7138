//! The task tools: the thirteen of DESIGN §3, the bulk ones (`complete_tasks`,
//! `delete_tasks`, `reopen_tasks`), `stop_recurring`, and the questions (`count_tasks`,
//! `agenda`, `completed_tasks`, `get_task`); names, JSON Schemas for the model, and strict
//! argument validation. An invalid call becomes an error message the model (or the
//! person) can correct from; nothing runs.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// A validated tool call.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "tool", content = "arguments", rename_all = "snake_case")]
pub enum Tool {
    /// Create a task.
    AddTask(AddTask),
    /// List tasks.
    ListTasks(ListTasks),
    /// Full-text search.
    SearchTasks(SearchTasks),
    /// Change a task's title or description.
    UpdateTask(UpdateTask),
    /// Mark a task done.
    CompleteTask(TaskId),
    /// Delete a task (always through a confirmation).
    DeleteTask(TaskId),
    /// Set or clear a due date.
    SetDueDate(SetDueDate),
    /// Add a reminder.
    ScheduleReminder(ScheduleReminder),
    /// Make a task (or a new one) repeat.
    CreateRecurring(CreateRecurring),
    /// Set a priority.
    SetPriority(SetPriority),
    /// Add tags.
    AddTags(AddTags),
    /// Tasks matching the filter language.
    FilterTasks(FilterTasks),
    /// Tasks in an order.
    SortTasks(SortTasks),
    /// Complete every open task matching a filter (undone by `reopen_tasks`).
    CompleteTasks(FilterOnly),
    /// Delete every task matching a filter (one confirmation for all).
    DeleteTasks(FilterOnly),
    /// Reopen done tasks.
    ReopenTasks(TaskIds),
    /// Make a task stop repeating.
    StopRecurring(TaskId),
    /// How many tasks match.
    CountTasks(CountTasks),
    /// Open tasks due in the next days (and overdue ones), by day.
    Agenda(Agenda),
    /// Tasks completed in a period.
    CompletedTasks(CompletedTasks),
    /// One task's details.
    GetTask(TaskId),
}

/// Arguments naming tasks by a filter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterOnly {
    pub filter: String,
}

/// Arguments naming several tasks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskIds {
    pub task_ids: Vec<String>,
}

/// `count_tasks` arguments.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountTasks {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
}

/// `agenda` arguments.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agenda {
    pub days: u32,
}

/// `completed_tasks` arguments.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompletedTasks {
    pub period: String,
}

/// `add_task` arguments.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddTask {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reminders: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurrence: Option<Value>,
}

/// `list_tasks` arguments.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListTasks {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// `search_tasks` arguments.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchTasks {
    pub query: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// `update_task` arguments.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateTask {
    pub task_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Arguments naming one task.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskId {
    pub task_id: String,
}

/// `set_due_date` arguments; `due: null` clears.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetDueDate {
    pub task_id: String,
    pub due: Option<String>,
}

/// `schedule_reminder` arguments: `at` or `before_due_minutes`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleReminder {
    pub task_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_due_minutes: Option<i64>,
}

/// `create_recurring` arguments: an existing task or a new title, and the recurrence.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRecurring {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub recurrence: Value,
}

/// `set_priority` arguments.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetPriority {
    pub task_id: String,
    pub priority: String,
}

/// `add_tags` arguments.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddTags {
    pub task_id: String,
    pub tags: Vec<String>,
}

/// `filter_tasks` arguments.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterTasks {
    pub filter: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// `sort_tasks` arguments.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SortTasks {
    pub sort: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// The tool names: DESIGN §3's thirteen, then the bulk ones and the questions.
pub const NAMES: [&str; 21] = [
    "add_task",
    "list_tasks",
    "search_tasks",
    "update_task",
    "complete_task",
    "delete_task",
    "set_due_date",
    "schedule_reminder",
    "create_recurring",
    "set_priority",
    "add_tags",
    "filter_tasks",
    "sort_tasks",
    "complete_tasks",
    "delete_tasks",
    "reopen_tasks",
    "stop_recurring",
    "count_tasks",
    "agenda",
    "completed_tasks",
    "get_task",
];

/// The periods `completed_tasks` knows.
pub const PERIODS: [&str; 4] = ["today", "yesterday", "this_week", "last_week"];
/// Most tasks one bulk action touches.
pub const MAX_BULK: usize = 500;

const PRIORITIES: [&str; 5] = ["none", "low", "medium", "high", "urgent"];
const SORTS: [&str; 12] = [
    "due",
    "-due",
    "priority",
    "-priority",
    "created",
    "-created",
    "updated",
    "-updated",
    "title",
    "-title",
    "relevance",
    "-relevance",
];

fn args<T: DeserializeOwned>(name: &str, arguments: &Value) -> Result<T, String> {
    let arguments = if arguments.is_null() { json!({}) } else { arguments.clone() };
    serde_json::from_value(arguments).map_err(|e| format!("invalid arguments for {name}: {e}"))
}

fn non_empty(field: &str, value: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        return Err(format!("{field} must not be empty"));
    }
    Ok(())
}

fn limit(limit: Option<u32>) -> Result<(), String> {
    match limit {
        Some(n) if !(1..=100).contains(&n) => Err("limit must be between 1 and 100".into()),
        _ => Ok(()),
    }
}

/// Validates a call of tool `name` with JSON `arguments`.
pub fn parse(name: &str, arguments: &Value) -> Result<Tool, String> {
    let tool = match name {
        "add_task" => {
            let a: AddTask = args(name, arguments)?;
            non_empty("title", &a.title)?;
            if let Some(p) = &a.priority {
                if !PRIORITIES.contains(&p.as_str()) {
                    return Err(format!("priority must be one of {}", PRIORITIES.join(", ")));
                }
            }
            Tool::AddTask(a)
        }
        "list_tasks" => {
            let a: ListTasks = args(name, arguments)?;
            if let Some(s) = &a.status {
                if !["open", "done", "all"].contains(&s.as_str()) {
                    return Err("status must be open, done or all".into());
                }
            }
            limit(a.limit)?;
            Tool::ListTasks(a)
        }
        "search_tasks" => {
            let a: SearchTasks = args(name, arguments)?;
            non_empty("query", &a.query)?;
            limit(a.limit)?;
            Tool::SearchTasks(a)
        }
        "update_task" => {
            let a: UpdateTask = args(name, arguments)?;
            non_empty("task_id", &a.task_id)?;
            if a.title.is_none() && a.description.is_none() {
                return Err("give a title or a description to change".into());
            }
            Tool::UpdateTask(a)
        }
        "complete_tasks" | "delete_tasks" => {
            let a: FilterOnly = args(name, arguments)?;
            non_empty("filter", &a.filter)?;
            if name == "complete_tasks" {
                Tool::CompleteTasks(a)
            } else {
                Tool::DeleteTasks(a)
            }
        }
        "reopen_tasks" => {
            let a: TaskIds = args(name, arguments)?;
            if a.task_ids.is_empty() || a.task_ids.len() > MAX_BULK || a.task_ids.iter().any(|t| t.trim().is_empty()) {
                return Err(format!("task_ids must list 1 to {MAX_BULK} task ids"));
            }
            Tool::ReopenTasks(a)
        }
        "count_tasks" => Tool::CountTasks(args(name, arguments)?),
        "agenda" => {
            let a: Agenda = args(name, arguments)?;
            if !(1..=31).contains(&a.days) {
                return Err("days must be between 1 and 31".into());
            }
            Tool::Agenda(a)
        }
        "completed_tasks" => {
            let a: CompletedTasks = args(name, arguments)?;
            if !PERIODS.contains(&a.period.as_str()) {
                return Err(format!("period must be one of {}", PERIODS.join(", ")));
            }
            Tool::CompletedTasks(a)
        }
        "complete_task" | "delete_task" | "stop_recurring" | "get_task" => {
            let a: TaskId = args(name, arguments)?;
            non_empty("task_id", &a.task_id)?;
            match name {
                "complete_task" => Tool::CompleteTask(a),
                "delete_task" => Tool::DeleteTask(a),
                "stop_recurring" => Tool::StopRecurring(a),
                _ => Tool::GetTask(a),
            }
        }
        "set_due_date" => {
            let object = arguments.as_object().ok_or("arguments must be an object")?;
            if !object.contains_key("due") {
                return Err("due is required (null clears the due date)".into());
            }
            let a: SetDueDate = args(name, arguments)?;
            non_empty("task_id", &a.task_id)?;
            Tool::SetDueDate(a)
        }
        "schedule_reminder" => {
            let a: ScheduleReminder = args(name, arguments)?;
            non_empty("task_id", &a.task_id)?;
            if a.at.is_some() == a.before_due_minutes.is_some() {
                return Err("give exactly one of at and before_due_minutes".into());
            }
            Tool::ScheduleReminder(a)
        }
        "create_recurring" => {
            let a: CreateRecurring = args(name, arguments)?;
            if a.task_id.is_some() == a.title.is_some() {
                return Err("give exactly one of task_id and title".into());
            }
            if !(a.recurrence.is_string() || a.recurrence.is_object()) {
                return Err("recurrence must be words such as \"every monday\" or {\"rule\": ...}".into());
            }
            Tool::CreateRecurring(a)
        }
        "set_priority" => {
            let a: SetPriority = args(name, arguments)?;
            non_empty("task_id", &a.task_id)?;
            if !PRIORITIES.contains(&a.priority.as_str()) {
                return Err(format!("priority must be one of {}", PRIORITIES.join(", ")));
            }
            Tool::SetPriority(a)
        }
        "add_tags" => {
            let a: AddTags = args(name, arguments)?;
            non_empty("task_id", &a.task_id)?;
            if a.tags.is_empty() || a.tags.iter().any(|t| t.trim().is_empty()) {
                return Err("tags must be a non-empty list of words".into());
            }
            Tool::AddTags(a)
        }
        "filter_tasks" => {
            let a: FilterTasks = args(name, arguments)?;
            non_empty("filter", &a.filter)?;
            limit(a.limit)?;
            Tool::FilterTasks(a)
        }
        "sort_tasks" => {
            let a: SortTasks = args(name, arguments)?;
            if !SORTS.contains(&a.sort.as_str()) {
                return Err(
                    "sort must be due, priority, created, updated, title or relevance, optionally with -".into()
                );
            }
            limit(a.limit)?;
            Tool::SortTasks(a)
        }
        other => return Err(format!("there is no tool named {other:?}; the tools are {}", NAMES.join(", "))),
    };
    Ok(tool)
}

impl Tool {
    /// The tool's name.
    pub fn name(&self) -> &'static str {
        match self {
            Tool::AddTask(_) => "add_task",
            Tool::ListTasks(_) => "list_tasks",
            Tool::SearchTasks(_) => "search_tasks",
            Tool::UpdateTask(_) => "update_task",
            Tool::CompleteTask(_) => "complete_task",
            Tool::DeleteTask(_) => "delete_task",
            Tool::SetDueDate(_) => "set_due_date",
            Tool::ScheduleReminder(_) => "schedule_reminder",
            Tool::CreateRecurring(_) => "create_recurring",
            Tool::SetPriority(_) => "set_priority",
            Tool::AddTags(_) => "add_tags",
            Tool::FilterTasks(_) => "filter_tasks",
            Tool::SortTasks(_) => "sort_tasks",
            Tool::CompleteTasks(_) => "complete_tasks",
            Tool::DeleteTasks(_) => "delete_tasks",
            Tool::ReopenTasks(_) => "reopen_tasks",
            Tool::StopRecurring(_) => "stop_recurring",
            Tool::CountTasks(_) => "count_tasks",
            Tool::Agenda(_) => "agenda",
            Tool::CompletedTasks(_) => "completed_tasks",
            Tool::GetTask(_) => "get_task",
        }
    }

    /// The arguments as JSON.
    pub fn arguments(&self) -> Value {
        serde_json::to_value(self).map(|v| v["arguments"].clone()).unwrap_or(Value::Null)
    }
}

fn function(name: &str, description: &str, properties: Value, required: &[&str]) -> Value {
    json!({
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": required,
                "additionalProperties": false
            }
        }
    })
}

/// The tools as the chat-completions API takes them.
pub fn specs() -> Vec<Value> {
    let task_id = json!({ "type": "string", "description": "a task id from an earlier tool result" });
    let limit = json!({ "type": "integer", "minimum": 1, "maximum": 100 });
    let priority = json!({ "type": "string", "enum": PRIORITIES });
    let filter = json!({ "type": "string", "description": "Errand's filter language, e.g. \"@work & overdue\", \"done\", \"p1\"" });
    let recurrence = json!({
        "description": "words such as \"every other monday\" or {\"rule\": \"FREQ=WEEKLY;BYDAY=MO\"}",
        "anyOf": [{ "type": "string" }, { "type": "object" }]
    });
    vec![
        function(
            "add_task",
            "Create a task. due takes natural language in the user's timezone.",
            json!({
                "title": { "type": "string" }, "description": { "type": "string" }, "priority": priority,
                "tags": { "type": "array", "items": { "type": "string" } },
                "due": { "type": "string", "description": "e.g. \"tomorrow 5pm\"" },
                "reminders": { "type": "array", "items": { "type": "object" },
                    "description": "each {\"at\": \"...\"} or {\"before_due_minutes\": n}" },
                "recurrence": recurrence,
            }),
            &["title"],
        ),
        function(
            "list_tasks",
            "List tasks, open ones unless told.",
            json!({ "status": { "type": "string", "enum": ["open", "done", "all"] }, "limit": limit }),
            &[],
        ),
        function(
            "search_tasks",
            "Find tasks whose title, description or tags contain the words.",
            json!({ "query": { "type": "string" }, "limit": limit }),
            &["query"],
        ),
        function(
            "update_task",
            "Change a task's title or description.",
            json!({ "task_id": task_id, "title": { "type": "string" }, "description": { "type": "string" } }),
            &["task_id"],
        ),
        function("complete_task", "Mark a task done.", json!({ "task_id": task_id }), &["task_id"]),
        function(
            "delete_task",
            "Ask to delete a task: it is deleted only after the user approves the confirmation this returns.",
            json!({ "task_id": task_id }),
            &["task_id"],
        ),
        function(
            "set_due_date",
            "Set a task's due date (natural language), or clear it with null.",
            json!({ "task_id": task_id, "due": { "type": ["string", "null"] } }),
            &["task_id", "due"],
        ),
        function(
            "schedule_reminder",
            "Add a reminder at a time, or a number of minutes before the due date.",
            json!({ "task_id": task_id, "at": { "type": "string" }, "before_due_minutes": { "type": "integer", "minimum": 0 } }),
            &["task_id"],
        ),
        function(
            "create_recurring",
            "Make an existing task (task_id) or a new one (title) repeat.",
            json!({ "task_id": task_id, "title": { "type": "string" }, "recurrence": recurrence }),
            &["recurrence"],
        ),
        function(
            "set_priority",
            "Set a task's priority.",
            json!({ "task_id": task_id, "priority": priority }),
            &["task_id", "priority"],
        ),
        function(
            "add_tags",
            "Add tags to a task.",
            json!({ "task_id": task_id, "tags": { "type": "array", "items": { "type": "string" } } }),
            &["task_id", "tags"],
        ),
        function(
            "filter_tasks",
            "Tasks matching Errand's filter language: today, tomorrow, overdue, no date, 7 days, due before: <date>, \
             p1..p4, @tag, recurring, done, open, search: words, combined with & | ! and parentheses.",
            json!({ "filter": { "type": "string" }, "limit": limit }),
            &["filter"],
        ),
        function(
            "sort_tasks",
            "Tasks in an order: due, priority, created, updated, title (prefix - for descending), optionally filtered.",
            json!({ "sort": { "type": "string", "enum": SORTS }, "filter": { "type": "string" }, "limit": limit }),
            &["sort"],
        ),
        function(
            "complete_tasks",
            "Complete every open task matching a filter, at once. Say how many; reopen_tasks undoes it.",
            json!({ "filter": filter }),
            &["filter"],
        ),
        function(
            "delete_tasks",
            "Ask to delete every task matching a filter: one confirmation lists them, and nothing is deleted before the user approves.",
            json!({ "filter": filter }),
            &["filter"],
        ),
        function(
            "reopen_tasks",
            "Reopen done tasks (also to undo completing them).",
            json!({ "task_ids": { "type": "array", "items": task_id, "minItems": 1, "maxItems": MAX_BULK } }),
            &["task_ids"],
        ),
        function("stop_recurring", "Make a task stop repeating.", json!({ "task_id": task_id }), &["task_id"]),
        function(
            "count_tasks",
            "How many open tasks match a filter (all open tasks without one; \"done\" counts done ones).",
            json!({ "filter": filter }),
            &[],
        ),
        function(
            "agenda",
            "The open tasks due in the next days, and overdue ones, grouped by day.",
            json!({ "days": { "type": "integer", "minimum": 1, "maximum": 31 } }),
            &["days"],
        ),
        function(
            "completed_tasks",
            "The tasks completed in a period.",
            json!({ "period": { "type": "string", "enum": PERIODS } }),
            &["period"],
        ),
        function("get_task", "One task's details: due date, priority, tags, reminders, recurrence, status.", json!({ "task_id": task_id }), &["task_id"]),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_has_a_spec_and_validates() {
        let specs = specs();
        assert_eq!(specs.len(), NAMES.len());
        for (spec, name) in specs.iter().zip(NAMES) {
            assert_eq!(spec["function"]["name"], name);
        }
        assert!(parse("add_task", &json!({ "title": "buy milk", "priority": "urgent" })).is_ok());
        let errors = [
            ("add_task", json!({})),
            ("add_task", json!({ "title": "x", "colour": "red" })),
            ("add_task", json!({ "title": "x", "priority": "p0" })),
            ("set_due_date", json!({ "task_id": "t" })),
            ("schedule_reminder", json!({ "task_id": "t" })),
            ("schedule_reminder", json!({ "task_id": "t", "at": "9am", "before_due_minutes": 5 })),
            ("create_recurring", json!({ "recurrence": "every day" })),
            ("sort_tasks", json!({ "sort": "colour" })),
            ("list_tasks", json!({ "limit": 0 })),
            ("launch_rockets", json!({})),
            ("complete_tasks", json!({})),
            ("reopen_tasks", json!({ "task_ids": [] })),
            ("agenda", json!({ "days": 0 })),
            ("completed_tasks", json!({ "period": "forever" })),
        ];
        for (name, arguments) in errors {
            assert!(parse(name, &arguments).is_err(), "{name} {arguments}");
        }
        let tool = parse("set_due_date", &json!({ "task_id": "t", "due": null })).unwrap();
        assert_eq!(tool.arguments(), json!({ "task_id": "t", "due": null }));
        assert_eq!(tool.name(), "set_due_date");
    }
}
