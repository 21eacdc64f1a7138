//! The chat assistant's side in the API: its tools run through the same task and
//! workflow services as HTTP, as the signed-in user (another user's task is simply not
//! found; deletions only start a confirmation), each invocation published on
//! `ai.events`; conversations are kept per user.

use errand_activities::ConfirmAction;
use errand_assistant::tools::Tool;
use errand_assistant::{HostFuture, TaskRef, ToolHost, ToolResult};
use errand_domain::event::{topics, Actor, OutboundEvent};
use errand_domain::{NewTask, Priority, RecurrenceInput, ReminderInput, Status, Task, TaskPatch};
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
                let sort = Sort::parse(&a.sort).ok_or_else(|| ApiError::bad_parameter("sort", "unknown sort"))?;
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
                    Some(due) => TaskPatch { due: Some(Some(due.clone())), ..Default::default() },
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

    fn find<'a>(&'a self, words: &'a str) -> HostFuture<'a, Vec<TaskRef>> {
        Box::pin(async move {
            let mut request = self.request(Sort::by(SortKey::Relevance, true), Some(5));
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
