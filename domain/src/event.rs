//! CloudEvents 1.0 envelopes and the topics of DESIGN §4. Every write commits its
//! events to the outbox in the same transaction; `id` is the consumers' dedup key.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Task, TaskChange};

/// Topic names.
pub mod topics {
    /// Task lifecycle: created, updated, completed, reopened, deleted.
    pub const TODO: &str = "todo.events";
    /// Reminder scheduling and firing.
    pub const REMINDER: &str = "reminder.events";
    /// Recurring series progress.
    pub const RECURRING: &str = "recurring.events";
    /// Assistant tool invocations and confirmations.
    pub const AI: &str = "ai.events";
    /// Notifications for people.
    pub const NOTIFICATION: &str = "notification.events";
    /// Audit trail records.
    pub const AUDIT: &str = "audit.events";
}

/// Event types outside `todo.events` that people are notified about.
pub mod types {
    /// `reminder.events`: a reminder's time came and its task still needs doing.
    pub const REMINDER_FIRED: &str = "reminder.fired";
    /// `ai.events`: a destructive action waits for the user's yes or no.
    pub const CONFIRMATION_REQUESTED: &str = "confirmation.requested";
    /// `ai.events`: a confirmation was approved (and carried out), rejected or expired.
    pub const CONFIRMATION_SETTLED: &str = "confirmation.settled";
    /// `recurring.events`: the next task of a recurring series was created.
    pub const OCCURRENCE_CREATED: &str = "recurring.occurrence_created";
    /// `notification.events`: a workflow acting for the user failed.
    pub const WORKFLOW_FAILED: &str = "workflow.failed";
}

/// The `source` attribute of every event Errand emits.
pub const SOURCE: &str = "errand";

/// Who caused a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The user, through the API or UI.
    User,
    /// The AI assistant acting for the user.
    Assistant,
    /// A workflow instance, by id.
    Workflow(String),
    /// Errand itself.
    System,
}

impl Actor {
    /// The wire form: `user`, `assistant`, `workflow:<id>`, `system`.
    pub fn as_string(&self) -> String {
        match self {
            Actor::User => "user".into(),
            Actor::Assistant => "assistant".into(),
            Actor::Workflow(id) => format!("workflow:{id}"),
            Actor::System => "system".into(),
        }
    }

    /// Parses the wire form.
    pub fn parse(text: &str) -> Option<Actor> {
        match text {
            "user" => Some(Actor::User),
            "assistant" => Some(Actor::Assistant),
            "system" => Some(Actor::System),
            other => other.strip_prefix("workflow:").filter(|id| !id.is_empty()).map(|id| Actor::Workflow(id.into())),
        }
    }
}

impl Serialize for Actor {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.as_string())
    }
}

impl<'de> Deserialize<'de> for Actor {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Actor::parse(&text).ok_or_else(|| serde::de::Error::custom(format!("unknown actor {text:?}")))
    }
}

/// A CloudEvents 1.0 JSON envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CloudEvent {
    /// Always `1.0`.
    pub specversion: String,
    /// Unique id; consumers deduplicate by it.
    pub id: String,
    /// Always [`SOURCE`].
    pub source: String,
    /// Event type, e.g. `task.created`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The task id the event is about.
    pub subject: Option<String>,
    /// When the change happened.
    pub time: DateTime<Utc>,
    /// Always `application/json`.
    pub datacontenttype: String,
    /// Payload; carries `user_id` and `actor`.
    pub data: serde_json::Value,
    /// The W3C trace context of the work that wrote it (the CloudEvents distributed
    /// tracing extension); consumers continue that trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    /// Vendor trace state that goes with `traceparent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracestate: Option<String>,
}

/// An event bound for a topic: what the outbox stores.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundEvent {
    /// Destination topic.
    pub topic: &'static str,
    /// The owner the event concerns.
    pub user_id: String,
    /// The envelope.
    pub event: CloudEvent,
}

/// The kinds of `todo.events`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskEventKind {
    /// A task was created.
    Created,
    /// Fields of a task changed.
    Updated,
    /// A task was completed.
    Completed,
    /// A done task was reopened.
    Reopened,
    /// A task was deleted.
    Deleted,
}

impl TaskEventKind {
    /// The CloudEvents `type`.
    pub fn event_type(self) -> &'static str {
        match self {
            TaskEventKind::Created => "task.created",
            TaskEventKind::Updated => "task.updated",
            TaskEventKind::Completed => "task.completed",
            TaskEventKind::Reopened => "task.reopened",
            TaskEventKind::Deleted => "task.deleted",
        }
    }
}

/// The `data` of a `todo.events` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskEventData {
    /// Owner of the task.
    pub user_id: String,
    /// Who made the change.
    pub actor: Actor,
    /// The task after the change (before it, for a deletion).
    pub task: Task,
    /// Changed fields, for updates, completions and reopenings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<TaskChange>,
    /// On a deletion: the whole recurring series ends with this task.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub series: bool,
}

impl OutboundEvent {
    /// An event of `event_type` on `topic` about `subject`, with `data` (which must
    /// carry `user_id` and `actor`).
    pub fn new(
        topic: &'static str,
        event_type: &str,
        user_id: &str,
        subject: Option<&str>,
        data: serde_json::Value,
        time: DateTime<Utc>,
    ) -> OutboundEvent {
        OutboundEvent {
            topic,
            user_id: user_id.to_string(),
            event: CloudEvent {
                specversion: "1.0".into(),
                id: crate::new_id(),
                source: SOURCE.into(),
                event_type: event_type.into(),
                subject: subject.map(str::to_string),
                time,
                datacontenttype: "application/json".into(),
                data,
                traceparent: None,
                tracestate: None,
            },
        }
    }
}

/// Builds the `todo.events` event of a task write.
pub fn task_event(
    kind: TaskEventKind,
    task: &Task,
    actor: &Actor,
    changes: Option<&TaskChange>,
    time: DateTime<Utc>,
) -> OutboundEvent {
    let data = TaskEventData {
        user_id: task.user_id.clone(),
        actor: actor.clone(),
        task: task.clone(),
        changes: changes.cloned(),
        series: false,
    };
    let data = serde_json::to_value(data).unwrap_or(serde_json::Value::Null);
    OutboundEvent::new(topics::TODO, kind.event_type(), &task.user_id, Some(&task.id), data, time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actors_round_trip() {
        for actor in [Actor::User, Actor::Assistant, Actor::System, Actor::Workflow("rem-1".into())] {
            assert_eq!(Actor::parse(&actor.as_string()), Some(actor.clone()));
            let json = serde_json::to_string(&actor).unwrap();
            assert_eq!(serde_json::from_str::<Actor>(&json).unwrap(), actor);
        }
        assert_eq!(Actor::parse("workflow:"), None);
        assert_eq!(Actor::parse("robot"), None);
    }

    #[test]
    fn envelope_is_cloudevents_json() {
        let now = Utc::now();
        let task = crate::Task::create(
            "t1".into(),
            "u1".into(),
            &crate::NewTask { title: "x".into(), ..Default::default() },
            chrono_tz::Tz::UTC,
            now,
        )
        .unwrap();
        let out = task_event(TaskEventKind::Created, &task, &Actor::User, None, now);
        let json = serde_json::to_value(&out.event).unwrap();
        assert_eq!(json["specversion"], "1.0");
        assert_eq!(json["type"], "task.created");
        assert_eq!(json["subject"], "t1");
        assert_eq!(json["data"]["user_id"], "u1");
        assert_eq!(json["data"]["actor"], "user");
        assert_eq!(json["data"]["task"]["title"], "x");
        assert_eq!(out.topic, "todo.events");
        let back: TaskEventData = serde_json::from_value(json["data"].clone()).unwrap();
        assert_eq!(back.task, task);
        assert!(json.get("traceparent").is_none(), "no trace, no extension attribute: {json}");
        let mut traced = out.event.clone();
        traced.traceparent = Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into());
        let json = serde_json::to_value(&traced).unwrap();
        assert_eq!(json["traceparent"], "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        assert_eq!(serde_json::from_value::<CloudEvent>(json).unwrap(), traced);
    }
}
