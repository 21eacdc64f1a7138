//! A workflow's history as the status API shows it: one entry per durabletask
//! `HistoryEvent`, with its kind, time, name and payload.

use chrono::{DateTime, Utc};
use dapr_durabletask_proto::history_event::EventType;
use dapr_durabletask_proto::HistoryEvent;
use serde::Serialize;
use serde_json::{json, Value};

/// One history entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryEntry {
    /// Position in the history, from 0.
    pub seq: usize,
    /// The event's id (what a completion refers to; -1 for events that have none).
    pub id: i32,
    /// For a completion (of an activity, timer or child), the id of the event that
    /// scheduled it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answers: Option<i32>,
    /// The event kind in snake case, e.g. `task_scheduled`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// When it happened.
    pub timestamp: Option<DateTime<Utc>>,
    /// The activity, timer, event or workflow name, where there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its payload (input, result, failure), where there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

/// A JSON payload as JSON when it parses, else as a string.
fn payload(text: &Option<String>) -> Option<Value> {
    text.as_ref().map(|t| serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.clone())))
}

/// Maps SDK history events to entries.
pub fn entries(events: &[HistoryEvent]) -> Vec<HistoryEntry> {
    events
        .iter()
        .enumerate()
        .map(|(seq, event)| {
            let timestamp = event
                .timestamp
                .as_ref()
                .and_then(|t| DateTime::<Utc>::from_timestamp(t.seconds, t.nanos.clamp(0, 999_999_999) as u32));
            let (kind, name, data) = match &event.event_type {
                Some(EventType::ExecutionStarted(e)) => ("execution_started", Some(e.name.clone()), payload(&e.input)),
                Some(EventType::ExecutionCompleted(e)) => {
                    let failure =
                        e.failure_details.as_ref().map(|f| json!({ "error": f.error_message, "type": f.error_type }));
                    ("execution_completed", None, failure.or_else(|| payload(&e.result)))
                }
                Some(EventType::ExecutionTerminated(e)) => ("execution_terminated", None, payload(&e.input)),
                Some(EventType::TaskScheduled(e)) => ("task_scheduled", Some(e.name.clone()), payload(&e.input)),
                Some(EventType::TaskCompleted(e)) => ("task_completed", None, payload(&e.result)),
                Some(EventType::TaskFailed(e)) => (
                    "task_failed",
                    None,
                    e.failure_details.as_ref().map(|f| json!({ "error": f.error_message, "type": f.error_type })),
                ),
                Some(EventType::ChildWorkflowInstanceCreated(e)) => {
                    ("child_workflow_created", Some(e.name.clone()), payload(&e.input))
                }
                Some(EventType::ChildWorkflowInstanceCompleted(e)) => {
                    ("child_workflow_completed", None, payload(&e.result))
                }
                Some(EventType::ChildWorkflowInstanceFailed(_)) => ("child_workflow_failed", None, None),
                Some(EventType::TimerCreated(e)) => {
                    let fire_at = e.fire_at.as_ref().and_then(|t| DateTime::<Utc>::from_timestamp(t.seconds, 0));
                    ("timer_created", e.name.clone(), fire_at.map(|at| json!({ "fire_at": at })))
                }
                Some(EventType::TimerFired(_)) => ("timer_fired", None, None),
                Some(EventType::WorkflowStarted(_)) => ("workflow_started", None, None),
                Some(EventType::WorkflowCompleted(_)) => ("workflow_completed", None, None),
                Some(EventType::EventSent(e)) => ("event_sent", Some(e.name.clone()), payload(&e.input)),
                Some(EventType::EventRaised(e)) => ("event_raised", Some(e.name.clone()), payload(&e.input)),
                Some(EventType::ContinueAsNew(e)) => ("continued_as_new", None, payload(&e.input)),
                Some(EventType::ExecutionSuspended(e)) => ("execution_suspended", None, payload(&e.input)),
                Some(EventType::ExecutionResumed(e)) => ("execution_resumed", None, payload(&e.input)),
                Some(EventType::ExecutionStalled(e)) => ("execution_stalled", None, payload(&e.description)),
                Some(EventType::DetachedWorkflowInstanceCreated(e)) => {
                    ("detached_workflow_created", Some(e.instance_id.clone()), None)
                }
                None => ("unknown", None, None),
            };
            let answers = match &event.event_type {
                Some(EventType::TaskCompleted(e)) => Some(e.task_scheduled_id),
                Some(EventType::TaskFailed(e)) => Some(e.task_scheduled_id),
                Some(EventType::TimerFired(e)) => Some(e.timer_id),
                Some(EventType::ChildWorkflowInstanceCompleted(e)) => Some(e.task_scheduled_id),
                Some(EventType::ChildWorkflowInstanceFailed(e)) => Some(e.task_scheduled_id),
                _ => None,
            };
            HistoryEntry { seq, id: event.event_id, kind, timestamp, name, data, answers }
        })
        .collect()
}
