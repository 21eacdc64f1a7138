//! The chat assistant's side in the API: its tools run through the same task and
//! workflow services as HTTP, as the signed-in user (another user's task is simply not
//! found; deletions, one or many, only start a confirmation), each invocation published
//! on `ai.events`; lists and questions are answered from the search index;
//! conversations are kept per user.

use chrono::{DateTime, Datelike, Duration, Utc};
use errand_activities::ConfirmAction;
use errand_assistant::tools::Tool;
use errand_assistant::tools::MAX_BULK;
use errand_assistant::{HostFuture, TaskRef, ToolHost, ToolResult};
use errand_domain::event::{topics, Actor, OutboundEvent};
use errand_domain::{
    reschedule, start_of_day, Due, NewTask, Priority, RecurrenceInput, ReminderInput, Status, Task, TaskPatch,
};
use errand_search::{Filter, SearchRequest, Sort, SortKey};
use errand_store::{Store, UserRecord};
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::tasks::{now, TaskService};
use crate::workflows::WorkflowService;

/// The tools of one user's chat.
pub struct ChatHost {
    pub(crate) user: UserRecord,
    pub(crate) tasks: TaskService,
    pub(crate) workflows: WorkflowService,
    pub(crate) store: Store,
    pub(crate) conversation_id: String,
}

fn task_ref(task: &Task) -> TaskRef {
    TaskRef { id: task.id.clone(), title: task.title.clone() }
}

fn brief(task: &Task, tz: chrono_tz::Tz) -> Value {
    json!({
        "id": task.id,
        "title": task.title,
        "status": task.status,
        "priority": task.priority,
        "tags": task.tags,
        "due_at": task.due_at,
        "due_local": task.due_at.map(|d| d.with_timezone(&tz).format("%a %b %-d %H:%M").to_string()),
        "recurring": task.recurrence.is_some(),
    })
}

fn refused(e: ApiError) -> ToolResult {
    let summary = match &e {
        ApiError::NotFound(_) => "I couldn't find that task.".to_string(),
        ApiError::Invalid(invalid) => format!("That didn't work: {} ({}).", invalid.message, invalid.field),
        other => format!("That didn't work: {other}."),
    };
    ToolResult { ok: false, summary, data: json!({ "error": e.to_string() }), ..Default::default() }
}

fn priority_of(name: &str) -> Option<Priority> {
    serde_json::from_value(json!(name)).ok()
}

fn recurrence_of(value: &Value) -> Result<RecurrenceInput, ApiError> {
    match value {
        Value::String(text) => Ok(RecurrenceInput { text: Some(text.clone()), ..Default::default() }),
        other => {
            serde_json::from_value(other.clone()).map_err(|e| ApiError::bad_parameter("recurrence", e.to_string()))
        }
    }
}

fn due_words(task: &Task, tz: chrono_tz::Tz) -> String {
    match task.due_at {
        Some(due) if task.all_day => format!(", due {}", due.with_timezone(&tz).format("%a %b %-d")),
        Some(due) => format!(", due {}", due.with_timezone(&tz).format("%a %b %-d at %H:%M")),
        None => String::new(),
    }
}

/// "1 task", "3 tasks".
fn count(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

fn noun(n: usize) -> &'static str {
    if n == 1 {
        "task"
    } else {
        "tasks"
    }
}

/// "\"a\", \"b\" and \"c\"", at most ten, then how many more.
fn titles(tasks: &[Task]) -> String {
    let mut names: Vec<String> = tasks.iter().take(10).map(|t| format!("\"{}\"", t.title)).collect();
    if tasks.len() > names.len() {
        names.push(format!("{} more", tasks.len() - names.len()));
    }
    match names.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// The agenda of `days` days as sentences, one per day, overdue tasks first.
fn agenda(tasks: &[Task], days: u32, tz: chrono_tz::Tz, now: DateTime<Utc>) -> String {
    if tasks.is_empty() {
        return format!("Nothing is due in the next {}.", count(days as usize, "day"));
    }
    let today = now.with_timezone(&tz).date_naive();
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for task in tasks {
        let Some(due) = task.due_at.map(|d| d.with_timezone(&tz)) else { continue };
        let overdue = if task.all_day { due.date_naive() < today } else { due < now.with_timezone(&tz) };
        let day = match due.date_naive() {
            _ if overdue => "Overdue".to_string(),
            d if d == today => format!("Today ({})", d.format("%a %b %-d")),
            d if d == today.succ_opt().unwrap_or(d) => format!("Tomorrow ({})", d.format("%a %b %-d")),
            d => d.format("%A %b %-d").to_string(),
        };
        let entry = if task.all_day || overdue {
            format!("\"{}\"", task.title)
        } else {
            format!("\"{}\" at {}", task.title, due.format("%H:%M"))
        };
        match groups.last_mut() {
            Some((name, items)) if *name == day => items.push(entry),
            _ => groups.push((day, vec![entry])),
        }
    }
    let lines: Vec<String> = groups.iter().map(|(day, items)| format!("{day}: {}.", items.join(", "))).collect();
    format!("Your next {}: {}", count(days as usize, "day"), lines.join(" "))
}

/// One task in a sentence or two: when it is due, its priority, tags, reminders,
/// recurrence and status.
fn details(task: &Task, tz: chrono_tz::Tz) -> String {
    let mut parts = Vec::new();
    parts.push(match task.due_at {
        Some(due) if task.all_day => format!("is due {}", due.with_timezone(&tz).format("%A %b %-d")),
        Some(due) => format!("is due {}", due.with_timezone(&tz).format("%A %b %-d at %H:%M")),
        None => "has no due date".to_string(),
    });
    if task.priority != Priority::None {
        parts.push(format!(
            "{} priority",
            serde_json::to_value(task.priority).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
        ));
    }
    if !task.tags.is_empty() {
        parts.push(format!("tagged {}", task.tags.join(", ")));
    }
    if let Some(recurrence) = &task.recurrence {
        parts.push(format!("repeats {}", recurrence.describe()));
    }
    let reminders: Vec<String> =
        task.reminders.iter().map(|r| r.at.with_timezone(&tz).format("%a %b %-d at %H:%M").to_string()).collect();
    if !reminders.is_empty() {
        parts.push(format!("reminds you {}", reminders.join(" and ")));
    }
    let status = if task.status == Status::Done { "It's done." } else { "It's open." };
    format!("\"{}\" {}. {status}", task.title, parts.join(", "))
}

impl ChatHost {
    fn actor(&self) -> Actor {
        Actor::Assistant
    }

    async fn list(&self, request: SearchRequest, empty: &str) -> Result<ToolResult, ApiError> {
        let page = self.tasks.search(&self.user, request).await?;
        let items: Vec<Value> = page.items.iter().map(|t| brief(t, self.user.tz)).collect();
        let summary = match page.items.as_slice() {
            [] => empty.to_string(),
            tasks => {
                let names: Vec<String> =
                    tasks.iter().take(10).map(|t| format!("\"{}\"{}", t.title, due_words(t, self.user.tz))).collect();
                let more = if page.total > names.len() {
                    format!(" (and {} more)", page.total - names.len())
                } else {
                    String::new()
                };
                format!("{} task{}: {}{}.", page.total, if page.total == 1 { "" } else { "s" }, names.join("; "), more)
            }
        };
        Ok(ToolResult {
            ok: true,
            summary,
            data: json!({ "items": items, "total": page.total }),
            tasks: page.items.iter().map(task_ref).collect(),
            confirmation: None,
        })
    }

    /// Every task `request` matches, up to [`MAX_BULK`]; more is refused, so a bulk
    /// action never does part of what was asked.
    async fn all(&self, mut request: SearchRequest) -> Result<Vec<Task>, ApiError> {
        request.limit = 100;
        let mut tasks = Vec::new();
        loop {
            let page = self.tasks.search(&self.user, request.clone()).await?;
            if page.total > MAX_BULK {
                return Err(ApiError::bad_parameter(
                    "filter",
                    format!("it matches {} tasks; I act on at most {MAX_BULK} at once, so narrow it down", page.total),
                ));
            }
            tasks.extend(page.items);
            match page.next_cursor {
                Some(cursor) => request.cursor = Some(cursor),
                None => return Ok(tasks),
            }
        }
    }

    /// The bounds of a period in the user's timezone.
    fn period(&self, period: &str) -> (DateTime<Utc>, DateTime<Utc>) {
        let now = now();
        let today = now.with_timezone(&self.user.tz).date_naive();
        let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
        let day = |date| start_of_day(self.user.tz, date);
        match period {
            "yesterday" => (day(today - Duration::days(1)), day(today)),
            "this_week" => (day(monday), now),
            "last_week" => (day(monday - Duration::days(7)), day(monday)),
            _ => (day(today), now),
        }
    }

    fn request(&self, sort: Sort, limit: Option<u32>) -> SearchRequest {
        let mut request = SearchRequest::new(&self.user.profile.id, sort, limit.unwrap_or(20) as usize);
        request.status = Some(Status::Open);
        request
    }

    fn filter(&self, text: &str) -> Result<Filter, ApiError> {
        Filter::parse(text, self.user.tz, now()).map_err(|e| ApiError::bad_parameter("filter", e.to_string()))
    }

    async fn patch(
        &self,
        id: &str,
        patch: TaskPatch,
        say: impl FnOnce(&Task) -> String,
    ) -> Result<ToolResult, ApiError> {
        let task = self.tasks.update(&self.user, id, &patch, None, &self.actor()).await?;
        Ok(ToolResult {
            ok: true,
            summary: say(&task),
            data: brief(&task, self.user.tz),
            tasks: vec![task_ref(&task)],
            confirmation: None,
        })
    }

    async fn apply(&self, tool: &Tool) -> Result<ToolResult, ApiError> {
        let tz = self.user.tz;
        match tool {
            Tool::AddTask(a) => {
                let reminders = a
                    .reminders
                    .as_ref()
                    .map(|list| {
                        list.iter()
                            .map(|r| serde_json::from_value::<ReminderInput>(r.clone()))
                            .collect::<Result<Vec<_>, _>>()
                            .map_err(|e| ApiError::bad_parameter("reminders", e.to_string()))
                    })
                    .transpose()?;
                let input = NewTask {
                    title: a.title.clone(),
                    description: a.description.clone(),
                    priority: a.priority.as_deref().and_then(priority_of),
                    tags: a.tags.clone(),
                    due: a.due.clone(),
                    reminders,
                    recurrence: a.recurrence.as_ref().map(recurrence_of).transpose()?,
                    ..Default::default()
                };
                let task = self.tasks.create(&self.user, &input, &self.actor()).await?;
                let repeats =
                    task.recurrence.as_ref().map(|r| format!(", repeating {}", r.describe())).unwrap_or_default();
                Ok(ToolResult {
                    ok: true,
                    summary: format!("Added \"{}\"{}{}.", task.title, due_words(&task, tz), repeats),
                    data: brief(&task, tz),
                    tasks: vec![task_ref(&task)],
                    confirmation: None,
                })
            }
            Tool::ListTasks(a) => {
                let mut request = self.request(Sort::by(SortKey::Due, false), a.limit);
                request.status = match a.status.as_deref() {
                    Some("done") => Some(Status::Done),
                    Some("all") => None,
                    _ => Some(Status::Open),
                };
                self.list(request, "You have no tasks there.").await
            }
            Tool::SearchTasks(a) => {
                let mut request = self.request(Sort::by(SortKey::Relevance, true), a.limit);
                request.status = None;
                request.text = Some(a.query.clone());
                self.list(request, &format!("No tasks match \"{}\".", a.query)).await
            }
            Tool::FilterTasks(a) => {
                let filter = self.filter(&a.filter)?;
                let mut request = self.request(Sort::by(SortKey::Due, false), a.limit);
                if filter.mentions_status() {
                    request.status = None;
                }
                request.filter = Some(filter);
                self.list(request, "Nothing matches that.").await
            }
            Tool::SortTasks(a) => {
                // Ties in priority go soonest due first: "most urgent" means both.
                let keys = if a.sort.ends_with("priority") { format!("{},due", a.sort) } else { a.sort.clone() };
                let sort = Sort::parse(&keys).ok_or_else(|| ApiError::bad_parameter("sort", "unknown sort"))?;
                let mut request = self.request(sort, a.limit);
                if let Some(text) = &a.filter {
                    let filter = self.filter(text)?;
                    if filter.mentions_status() {
                        request.status = None;
                    }
                    request.filter = Some(filter);
                }
                self.list(request, "Nothing matches that.").await
            }
            Tool::UpdateTask(a) => {
                let patch =
                    TaskPatch { title: a.title.clone(), description: a.description.clone(), ..Default::default() };
                self.patch(&a.task_id, patch, |t| format!("Updated \"{}\".", t.title)).await
            }
            Tool::CompleteTask(a) => {
                let task = self.tasks.complete(&self.user, &a.task_id, &self.actor()).await?;
                let next = if task.recurrence.is_some() { " The next one will appear shortly." } else { "" };
                Ok(ToolResult {
                    ok: true,
                    summary: format!("Marked \"{}\" as done.{next}", task.title),
                    data: brief(&task, tz),
                    tasks: vec![task_ref(&task)],
                    confirmation: None,
                })
            }
            Tool::DeleteTask(a) => {
                let task = self.tasks.get(&self.user, &a.task_id).await?;
                let summary = format!("Delete the task \"{}\".", task.title);
                let action = ConfirmAction::DeleteTasks { ids: vec![task.id.clone()] };
                let confirmation = self.workflows.request_confirmation(&self.user, action, summary).await?;
                let confirmation = serde_json::to_value(&confirmation).unwrap_or(Value::Null);
                Ok(ToolResult {
                    ok: true,
                    summary: format!("I'll delete \"{}\" once you approve the confirmation.", task.title),
                    data: json!({ "confirmation": confirmation }),
                    tasks: vec![task_ref(&task)],
                    confirmation: Some(confirmation),
                })
            }
            Tool::SetDueDate(a) => {
                let patch = match &a.due {
                    // As a person moving a task means it: a day alone keeps its time, a
                    // time alone keeps its day.
                    Some(words) => {
                        let task = self.tasks.get(&self.user, &a.task_id).await?;
                        let current = task.due_at.map(|at| Due { at, all_day: task.all_day });
                        let due =
                            reschedule(current, words, tz, now()).map_err(|e| ApiError::bad_parameter("due", e))?;
                        TaskPatch { due_at: Some(Some(due.at)), all_day: Some(due.all_day), ..Default::default() }
                    }
                    None => TaskPatch { due_at: Some(None), ..Default::default() },
                };
                self.patch(&a.task_id, patch, |t| match t.due_at {
                    Some(_) => format!("\"{}\" is now{}.", t.title, due_words(t, tz).replacen(',', "", 1)),
                    None => format!("\"{}\" has no due date now.", t.title),
                })
                .await
            }
            Tool::ScheduleReminder(a) => {
                let task = self.tasks.get(&self.user, &a.task_id).await?;
                let mut reminders: Vec<ReminderInput> = task
                    .reminders
                    .iter()
                    .map(|r| ReminderInput {
                        id: Some(r.id.clone()),
                        at: r.before_due_minutes.is_none().then(|| r.at.to_rfc3339()),
                        before_due_minutes: r.before_due_minutes,
                    })
                    .collect();
                reminders.push(ReminderInput { id: None, at: a.at.clone(), before_due_minutes: a.before_due_minutes });
                let patch = TaskPatch { reminders: Some(reminders), ..Default::default() };
                self.patch(&a.task_id, patch, |t| {
                    let at =
                        t.reminders.last().map(|r| r.at.with_timezone(&tz).format("%a %b %-d at %H:%M").to_string());
                    format!("I'll remind you about \"{}\" on {}.", t.title, at.unwrap_or_default())
                })
                .await
            }
            Tool::CreateRecurring(a) => {
                let recurrence = recurrence_of(&a.recurrence)?;
                match (&a.task_id, &a.title) {
                    (Some(id), _) => {
                        let patch = TaskPatch { recurrence: Some(Some(recurrence)), ..Default::default() };
                        self.patch(id, patch, |t| {
                            let how = t.recurrence.as_ref().map(|r| r.describe()).unwrap_or_default();
                            format!("\"{}\" now repeats {how}.", t.title)
                        })
                        .await
                    }
                    (None, title) => {
                        let input = NewTask {
                            title: title.clone().unwrap_or_default(),
                            recurrence: Some(recurrence),
                            ..Default::default()
                        };
                        let task = self.tasks.create(&self.user, &input, &self.actor()).await?;
                        let how = task.recurrence.as_ref().map(|r| r.describe()).unwrap_or_default();
                        Ok(ToolResult {
                            ok: true,
                            summary: format!("Added \"{}\", repeating {how}.", task.title),
                            data: brief(&task, tz),
                            tasks: vec![task_ref(&task)],
                            confirmation: None,
                        })
                    }
                }
            }
            Tool::SetPriority(a) => {
                let priority =
                    priority_of(&a.priority).ok_or_else(|| ApiError::bad_parameter("priority", "unknown priority"))?;
                let patch = TaskPatch { priority: Some(priority), ..Default::default() };
                self.patch(&a.task_id, patch, |t| format!("\"{}\" is now {} priority.", t.title, a.priority)).await
            }
            Tool::AddTags(a) => {
                let task = self.tasks.get(&self.user, &a.task_id).await?;
                let mut tags = task.tags.clone();
                tags.extend(a.tags.iter().cloned());
                let patch = TaskPatch { tags: Some(tags), ..Default::default() };
                self.patch(&a.task_id, patch, |t| format!("Tagged \"{}\" with {}.", t.title, t.tags.join(", "))).await
            }
            Tool::CompleteTasks(a) => {
                let mut request = self.request(Sort::by(SortKey::Due, false), None);
                request.filter = Some(self.filter(&a.filter)?);
                let mut done = Vec::new();
                for task in self.all(request).await? {
                    done.push(self.tasks.complete(&self.user, &task.id, &self.actor()).await?);
                }
                let summary = match done.as_slice() {
                    [] => format!("No open tasks match \"{}\", so nothing changed.", a.filter),
                    tasks => format!(
                        "Completed {}: {}. Say \"undo\" to reopen {}.",
                        count(tasks.len(), "task"),
                        titles(tasks),
                        if tasks.len() == 1 { "it" } else { "them" }
                    ),
                };
                let ids: Vec<&str> = done.iter().map(|t| t.id.as_str()).collect();
                Ok(ToolResult {
                    ok: true,
                    summary,
                    data: json!({
                        "completed": done.iter().map(|t| brief(t, tz)).collect::<Vec<_>>(),
                        "undo": { "tool": "reopen_tasks", "arguments": { "task_ids": ids } },
                    }),
                    tasks: done.iter().map(task_ref).collect(),
                    confirmation: None,
                })
            }
            Tool::DeleteTasks(a) => {
                let filter = self.filter(&a.filter)?;
                let mut request = self.request(Sort::by(SortKey::Due, false), None);
                if filter.mentions_status() {
                    request.status = None;
                }
                request.filter = Some(filter);
                let tasks = self.all(request).await?;
                if tasks.is_empty() {
                    return Ok(ToolResult {
                        ok: true,
                        summary: format!("No tasks match \"{}\", so there's nothing to delete.", a.filter),
                        data: json!({ "matched": 0 }),
                        ..Default::default()
                    });
                }
                let summary = format!("Delete {}: {}.", count(tasks.len(), "task"), titles(&tasks));
                let action = ConfirmAction::DeleteTasks { ids: tasks.iter().map(|t| t.id.clone()).collect() };
                let confirmation = self.workflows.request_confirmation(&self.user, action, summary).await?;
                let confirmation = serde_json::to_value(&confirmation).unwrap_or(Value::Null);
                Ok(ToolResult {
                    ok: true,
                    summary: format!(
                        "I'll delete {} once you approve the confirmation: {}.",
                        count(tasks.len(), "task"),
                        titles(&tasks)
                    ),
                    data: json!({ "confirmation": confirmation, "matched": tasks.len() }),
                    tasks: tasks.iter().map(task_ref).collect(),
                    confirmation: Some(confirmation),
                })
            }
            Tool::ReopenTasks(a) => {
                let mut reopened = Vec::new();
                for id in &a.task_ids {
                    reopened.push(self.tasks.reopen(&self.user, id, &self.actor()).await?);
                }
                Ok(ToolResult {
                    ok: true,
                    summary: format!("Reopened {}.", titles(&reopened)),
                    data: json!({ "reopened": reopened.iter().map(|t| brief(t, tz)).collect::<Vec<_>>() }),
                    tasks: reopened.iter().map(task_ref).collect(),
                    confirmation: None,
                })
            }
            Tool::StopRecurring(a) => {
                let patch = TaskPatch { recurrence: Some(None), ..Default::default() };
                self.patch(&a.task_id, patch, |t| format!("\"{}\" no longer repeats.", t.title)).await
            }
            Tool::CountTasks(a) => {
                let mut request = self.request(Sort::by(SortKey::Due, false), Some(1));
                let described = match &a.filter {
                    Some(text) => {
                        let filter = self.filter(text)?;
                        if filter.mentions_status() {
                            request.status = None;
                        }
                        request.filter = Some(filter);
                        format!(" matching \"{text}\"")
                    }
                    None => " open".to_string(),
                };
                let request_status_is_open = request.status == Some(Status::Open);
                let total = self.tasks.search(&self.user, request).await?.total;
                let summary = match (&a.filter, request_status_is_open) {
                    (Some(_), true) => format!("You have {} open {}{described}.", total, noun(total)),
                    (Some(_), false) => format!("{}{described}.", count(total, "task")),
                    (None, _) => format!("You have {total}{described} {}.", noun(total)),
                };
                Ok(ToolResult { ok: true, summary, data: json!({ "total": total }), ..Default::default() })
            }
            Tool::Agenda(a) => {
                let filter = self.filter(&format!("overdue | {} days", a.days))?;
                let mut request = self.request(Sort::by(SortKey::Due, false), Some(100));
                request.filter = Some(filter);
                let page = self.tasks.search(&self.user, request).await?;
                let summary = agenda(&page.items, a.days, tz, now());
                Ok(ToolResult {
                    ok: true,
                    summary,
                    data: json!({ "items": page.items.iter().map(|t| brief(t, tz)).collect::<Vec<_>>(), "total": page.total }),
                    tasks: page.items.iter().map(task_ref).collect(),
                    confirmation: None,
                })
            }
            Tool::CompletedTasks(a) => {
                let (since, until) = self.period(&a.period);
                // Done tasks by last change, newest first: one completed since `since`
                // changed since then, so the scan stops at the first older one.
                let mut request = self.request(Sort::by(SortKey::Updated, true), Some(100));
                request.status = Some(Status::Done);
                let mut finished = Vec::new();
                'pages: loop {
                    let page = self.tasks.search(&self.user, request.clone()).await?;
                    for task in page.items {
                        if task.updated_at < since || finished.len() >= MAX_BULK {
                            break 'pages;
                        }
                        if task.completed_at.is_some_and(|at| at >= since && at < until) {
                            finished.push(task);
                        }
                    }
                    match page.next_cursor {
                        Some(cursor) => request.cursor = Some(cursor),
                        None => break,
                    }
                }
                let when = a.period.replace('_', " ");
                let summary = match finished.as_slice() {
                    [] => format!("You haven't completed anything {when} yet."),
                    tasks => format!("You completed {} {when}: {}.", count(tasks.len(), "task"), titles(tasks)),
                };
                Ok(ToolResult {
                    ok: true,
                    summary,
                    data: json!({ "items": finished.iter().map(|t| brief(t, tz)).collect::<Vec<_>>(), "total": finished.len() }),
                    tasks: finished.iter().map(task_ref).collect(),
                    confirmation: None,
                })
            }
            Tool::GetTask(a) => {
                let task = self.tasks.get(&self.user, &a.task_id).await?;
                Ok(ToolResult {
                    ok: true,
                    summary: details(&task, tz),
                    data: brief(&task, tz),
                    tasks: vec![task_ref(&task)],
                    confirmation: None,
                })
            }
        }
    }

    /// Publishes the invocation on `ai.events`.
    async fn record(&self, tool: &Tool, result: &ToolResult) {
        let data = json!({
            "user_id": self.user.profile.id,
            "actor": "assistant",
            "conversation_id": self.conversation_id,
            "tool": tool.name(),
            "arguments": tool.arguments(),
            "ok": result.ok,
            "summary": result.summary,
        });
        let subject = result.tasks.first().map(|t| t.id.as_str());
        let event = OutboundEvent::new(topics::AI, "ai.tool_invoked", &self.user.profile.id, subject, data, now());
        if let Err(e) = self.store.append_events(&[event]).await {
            tracing::warn!(error = %e, "could not record a tool invocation");
        }
    }
}

impl ToolHost for ChatHost {
    fn run<'a>(&'a self, tool: &'a Tool) -> HostFuture<'a, ToolResult> {
        Box::pin(async move {
            let result = self.apply(tool).await.unwrap_or_else(refused);
            self.record(tool, &result).await;
            result
        })
    }

    fn find<'a>(&'a self, words: &'a str, done: bool) -> HostFuture<'a, Vec<TaskRef>> {
        Box::pin(async move {
            let mut request = self.request(Sort::by(SortKey::Relevance, true), Some(5));
            if done {
                request.status = Some(Status::Done);
            }
            request.text = Some(words.to_string());
            match self.tasks.search(&self.user, request).await {
                Ok(page) => page.items.iter().map(task_ref).collect(),
                Err(e) => {
                    tracing::warn!(error = %e, "task lookup for the assistant failed");
                    Vec::new()
                }
            }
        })
    }
}
