use errand_domain::event::{topics, types};
use errand_store::{NewNotification, Store};

use crate::{Delivery, Handler, HandlerError, HandlerFuture};

/// Turns the events that concern a person into notifications: a reminder fired, a
/// confirmation requested or settled, a recurring occurrence created, a workflow failed.
pub struct NotificationHandler {
    store: Store,
}

impl NotificationHandler {
    /// A notification consumer writing to `store`.
    pub fn new(store: Store) -> Self {
        NotificationHandler { store }
    }

    async fn apply(&self, delivery: &Delivery) -> Result<(), HandlerError> {
        let event = &delivery.event;
        let data = &event.data;
        let text = |key: &str| data[key].as_str().map(str::to_string);
        let task_title = text("title").or_else(|| data["task"]["title"].as_str().map(str::to_string));
        let (kind, title, body) = match event.event_type.as_str() {
            types::REMINDER_FIRED => {
                let title = task_title.unwrap_or_else(|| "A task".into());
                let body = match text("due_at") {
                    Some(due) => format!("{title} is due {due}."),
                    None => format!("Reminder: {title}."),
                };
                ("reminder", title, body)
            }
            types::CONFIRMATION_REQUESTED => {
                let summary = text("summary").unwrap_or_else(|| "An action".into());
                ("confirmation", "Please confirm".to_string(), format!("{summary} Approve or reject it."))
            }
            types::CONFIRMATION_SETTLED => {
                let summary = text("summary").unwrap_or_else(|| "An action".into());
                let (title, outcome) = match data["status"].as_str() {
                    Some("approved") => {
                        let deleted = data["result"]["deleted"].as_array().map_or(0, Vec::len);
                        let tasks = if deleted == 1 { "task" } else { "tasks" };
                        ("Approved", format!("Done: {deleted} {tasks} deleted."))
                    }
                    Some("rejected") => ("Rejected", "Nothing was changed.".to_string()),
                    _ => ("Expired", "No answer came in time; nothing was changed.".to_string()),
                };
                ("confirmation_settled", title.to_string(), format!("{summary} {outcome}"))
            }
            types::OCCURRENCE_CREATED => {
                let title = task_title.unwrap_or_else(|| "A recurring task".into());
                let due = text("due_at").or_else(|| data["task"]["due_at"].as_str().map(str::to_string));
                let body = match due {
                    Some(due) => format!("The next \"{title}\" is due {due}."),
                    None => format!("The next \"{title}\" was created."),
                };
                ("recurring", title, body)
            }
            types::WORKFLOW_FAILED => {
                let what = text("workflow_kind").unwrap_or_else(|| "A workflow".into());
                let error = text("error").unwrap_or_else(|| "it failed".into());
                ("workflow_failed", format!("{what} failed"), error)
            }
            _ => return Ok(()),
        };
        let task_id = event.subject.clone().or_else(|| text("task_id"));
        let notification = NewNotification {
            id: errand_domain::new_id(),
            event_id: event.id.clone(),
            user_id: delivery.user_id()?.to_string(),
            kind: kind.to_string(),
            task_id,
            title,
            body,
            created_at: event.time,
        };
        self.store.insert_notification(&notification).await?;
        Ok(())
    }
}

impl Handler for NotificationHandler {
    fn name(&self) -> &'static str {
        "notification"
    }

    fn topics(&self) -> &'static [&'static str] {
        &[topics::REMINDER, topics::AI, topics::RECURRING, topics::NOTIFICATION]
    }

    fn handle<'a>(&'a self, delivery: &'a Delivery) -> HandlerFuture<'a> {
        Box::pin(self.apply(delivery))
    }
}
