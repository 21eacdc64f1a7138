//! The activities of Errand's workflows: each one step that reads or changes tasks, and
//! only through the [`TaskApi`] (in-process in the embedded runtime, HTTP through Dapr
//! service invocation in the Dapr runtime, see [`HttpTaskApi`]). Every write carries an
//! idempotency key or event id derived from the workflow instance and step, so an
//! activity the engine runs twice has one effect.
//!
//! Public surface: [`fire_reminder`], [`create_next_occurrence`], [`plan_skip`], [`move_occurrence`],
//! [`request_confirmation`], [`perform_action`], [`settle_confirmation`], their input
//! and output types, and [`HttpTaskApi`].

mod http;

use chrono::{DateTime, Utc};
use errand_domain::event::{topics, types, Actor};
use errand_domain::{next_occurrence, Status, TaskApi, TaskApiError, WorkflowEvent};
use serde::{Deserialize, Serialize};
use serde_json::json;

pub use http::{HttpTaskApi, ServiceTokens};

/// What the reminder workflow knows of its reminder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReminderInput {
    /// Owner.
    pub user_id: String,
    /// The task.
    pub task_id: String,
    /// The reminder on the task; `None` for a snooze, which only needs the task open.
    pub reminder_id: Option<String>,
    /// When it fires.
    pub at: DateTime<Utc>,
}

/// Whether a reminder fired, or why not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ReminderOutcome {
    /// The notification event was published.
    Fired,
    /// Nothing to remind of any more.
    Skipped {
        /// Why.
        reason: String,
    },
}

/// Re-reads the task and, if it is still open and the reminder unchanged, publishes
/// `reminder.fired` (event id `reminder.fired:<instance>`: once per instance). Never
/// before `input.at`: a timer that fired early (daprd's may, by up to a second) is
/// waited out here, then the task is read again.
pub async fn fire_reminder(
    api: &dyn TaskApi,
    instance_id: &str,
    input: &ReminderInput,
) -> Result<ReminderOutcome, TaskApiError> {
    let actor = Actor::Workflow(instance_id.to_string());
    let skipped = |reason: &str| Ok(ReminderOutcome::Skipped { reason: reason.to_string() });
    let task = loop {
        let Some(task) = api.task(&input.user_id, &actor, &input.task_id).await? else {
            return skipped("the task was deleted");
        };
        if task.status == Status::Done {
            return skipped("the task is done");
        }
        if let Some(reminder_id) = &input.reminder_id {
            match task.reminders.iter().find(|r| &r.id == reminder_id) {
                None => return skipped("the reminder was removed"),
                Some(r) if r.at != input.at => return skipped("the reminder was moved"),
                Some(_) => {}
            }
        }
        match (input.at - Utc::now()).to_std() {
            Ok(early) if !early.is_zero() => tokio::time::sleep(early).await,
            _ => break task,
        }
    };
    let event = WorkflowEvent {
        id: format!("reminder.fired:{instance_id}"),
        topic: topics::REMINDER.into(),
        event_type: types::REMINDER_FIRED.into(),
        subject: Some(task.id.clone()),
        data: json!({
            "task_id": task.id,
            "title": task.title,
            "due_at": task.due_at,
            "reminder_id": input.reminder_id,
            "at": input.at,
            "workflow_id": instance_id,
        }),
    };
    api.publish(&input.user_id, &actor, &event).await?;
    // How late the reminder reached its user's notifications: fire time minus reminder time.
    let lateness = (Utc::now() - input.at).to_std().unwrap_or_default();
    metrics::histogram!("errand_reminder_lateness_seconds").record(lateness.as_secs_f64());
    Ok(ReminderOutcome::Fired)
}

/// What the recurring workflow knows when an occurrence was completed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NextOccurrenceInput {
    /// Owner.
    pub user_id: String,
    /// The series.
    pub series_id: String,
    /// The occurrence that was completed.
    pub task_id: String,
    /// Occurrences the series has had so far (the first task counts as 1).
    pub created: u32,
    /// When it was completed.
    pub completed_at: DateTime<Utc>,
}

/// The occurrence created, or why the series is over.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum NextOccurrence {
    /// The next task of the series.
    Created {
        /// Its id.
        task_id: String,
        /// Its due date.
        due_at: Option<DateTime<Utc>>,
    },
    /// No more occurrences.
    Ended {
        /// Why.
        reason: String,
    },
}

/// Creates the task that follows a completed occurrence, exactly once (idempotency key
/// `series:<series>:<n>`), and publishes `recurring.occurrence_created`.
pub async fn create_next_occurrence(
    api: &dyn TaskApi,
    instance_id: &str,
    input: &NextOccurrenceInput,
) -> Result<NextOccurrence, TaskApiError> {
    let actor = Actor::Workflow(instance_id.to_string());
    let ended = |reason: &str| Ok(NextOccurrence::Ended { reason: reason.to_string() });
    let Some(task) = api.task(&input.user_id, &actor, &input.task_id).await? else {
        return ended("the completed occurrence was deleted");
    };
    if task.recurrence.is_none() {
        return ended("the task no longer repeats");
    }
    let tz = api.timezone(&input.user_id, &actor).await?;
    let Some(next) = next_occurrence(&task, input.completed_at, tz, input.created) else {
        return ended("the series reached its end");
    };
    let n = input.created + 1;
    let key = format!("series:{}:{n}", input.series_id);
    let created = api.create_task(&input.user_id, &actor, &next, &key).await?;
    let event = WorkflowEvent {
        id: format!("recurring.occurrence_created:{}:{n}", input.series_id),
        topic: topics::RECURRING.into(),
        event_type: types::OCCURRENCE_CREATED.into(),
        subject: Some(created.id.clone()),
        data: json!({
            "task_id": created.id,
            "title": created.title,
            "due_at": created.due_at,
            "series_id": input.series_id,
            "occurrence": n,
        }),
    };
    api.publish(&input.user_id, &actor, &event).await?;
    Ok(NextOccurrence::Created { task_id: created.id, due_at: created.due_at })
}

/// Where skipping a series' current occurrence takes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum SkipPlan {
    /// To the series' next date.
    Move(MoveInput),
    /// Nowhere: the occurrence is gone or done (its completion is on its way).
    Unchanged {
        /// Why.
        reason: String,
    },
    /// The series has no later date: it ends here.
    Ended {
        /// Why.
        reason: String,
    },
}

/// An occurrence to move to another date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MoveInput {
    /// Owner.
    pub user_id: String,
    /// The occurrence.
    pub task_id: String,
    /// Its new due date.
    pub due_at: DateTime<Utc>,
    /// Whether only the day matters.
    pub all_day: bool,
}

/// Reads where skipping the series' current occurrence (`input.task_id`, still open)
/// takes it: the date after its due date, as if this one had been done. Only reads,
/// so that the workflow records the date and the move ([`move_occurrence`]) repeats
/// it exactly when retried.
pub async fn plan_skip(
    api: &dyn TaskApi,
    instance_id: &str,
    input: &NextOccurrenceInput,
) -> Result<SkipPlan, TaskApiError> {
    let actor = Actor::Workflow(instance_id.to_string());
    let unchanged = |reason: &str| Ok(SkipPlan::Unchanged { reason: reason.to_string() });
    let Some(task) = api.task(&input.user_id, &actor, &input.task_id).await? else {
        return unchanged("the occurrence was deleted");
    };
    if task.status == Status::Done {
        return unchanged("the occurrence is done");
    }
    if task.recurrence.is_none() {
        return Ok(SkipPlan::Ended { reason: "the task no longer repeats".into() });
    }
    let tz = api.timezone(&input.user_id, &actor).await?;
    let from = task.due_at.unwrap_or(input.completed_at);
    let Some(next) = next_occurrence(&task, from, tz, input.created) else {
        return Ok(SkipPlan::Ended { reason: "the series reached its end".into() });
    };
    let Some(due_at) = next.due_at else { return unchanged("the next occurrence has no date") };
    Ok(SkipPlan::Move(MoveInput {
        user_id: input.user_id.clone(),
        task_id: input.task_id.clone(),
        due_at,
        all_day: next.all_day.unwrap_or(task.all_day),
    }))
}

/// Moves an occurrence to its planned date (twice is the same as once); false when
/// it was deleted meanwhile.
pub async fn move_occurrence(api: &dyn TaskApi, instance_id: &str, input: &MoveInput) -> Result<bool, TaskApiError> {
    let actor = Actor::Workflow(instance_id.to_string());
    Ok(api.reschedule_task(&input.user_id, &actor, &input.task_id, input.due_at, input.all_day).await?.is_some())
}

/// A destructive action waiting for a person's yes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ConfirmAction {
    /// Delete these tasks.
    DeleteTasks {
        /// Task ids.
        ids: Vec<String>,
    },
    /// Delete every done task (those done when the action runs).
    ClearCompleted,
    /// An operator's action on every workflow instance a query matches; the
    /// confirm-action workflow runs it itself, page by page (`errand-ops` reads `spec`).
    OpsBatch {
        /// The query, the action and its arguments.
        spec: serde_json::Value,
        /// How many instances matched when it was asked for.
        total: u64,
    },
}

/// The confirm-action workflow's input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfirmInput {
    /// The confirmation.
    pub confirmation_id: String,
    /// Owner.
    pub user_id: String,
    /// What to do on approval.
    pub action: ConfirmAction,
    /// A sentence saying what will be done.
    pub summary: String,
    /// How long to wait for the decision, in seconds.
    pub timeout_secs: u64,
}

/// Publishes `confirmation.requested` (once per confirmation).
pub async fn request_confirmation(
    api: &dyn TaskApi,
    instance_id: &str,
    input: &ConfirmInput,
) -> Result<(), TaskApiError> {
    let actor = Actor::Workflow(instance_id.to_string());
    let event = WorkflowEvent {
        id: format!("confirmation.requested:{}", input.confirmation_id),
        topic: topics::AI.into(),
        event_type: types::CONFIRMATION_REQUESTED.into(),
        subject: None,
        data: json!({
            "confirmation_id": input.confirmation_id,
            "summary": input.summary,
            "action": input.action,
        }),
    };
    api.publish(&input.user_id, &actor, &event).await
}

/// Performs an approved action through the API and says what it did. Deleting a task
/// that is already gone counts as missing, not as an error, so a re-run is harmless.
pub async fn perform_action(
    api: &dyn TaskApi,
    instance_id: &str,
    input: &ConfirmInput,
) -> Result<serde_json::Value, TaskApiError> {
    let actor = Actor::Workflow(instance_id.to_string());
    let ids = match &input.action {
        ConfirmAction::DeleteTasks { ids } => ids.clone(),
        ConfirmAction::ClearCompleted => api.done_task_ids(&input.user_id, &actor).await?,
        ConfirmAction::OpsBatch { .. } => {
            return Err(TaskApiError::Refused("an ops batch runs in its confirm-action workflow".into()))
        }
    };
    let mut deleted = Vec::new();
    let mut missing = Vec::new();
    for id in ids {
        if api.delete_task(&input.user_id, &actor, &id).await? {
            deleted.push(id);
        } else {
            missing.push(id);
        }
    }
    Ok(json!({ "deleted": deleted, "missing": missing }))
}

/// Records the confirmation's final status and result, and publishes
/// `confirmation.settled` (once per confirmation).
pub async fn settle_confirmation(
    api: &dyn TaskApi,
    instance_id: &str,
    input: &ConfirmInput,
    status: &str,
    result: &serde_json::Value,
) -> Result<(), TaskApiError> {
    let actor = Actor::Workflow(instance_id.to_string());
    api.settle_confirmation(&input.user_id, &actor, &input.confirmation_id, status, result).await?;
    // Every device showing the confirmation learns the outcome (as a notification).
    let event = WorkflowEvent {
        id: format!("confirmation.settled:{}", input.confirmation_id),
        topic: topics::AI.into(),
        event_type: types::CONFIRMATION_SETTLED.into(),
        subject: None,
        data: json!({
            "confirmation_id": input.confirmation_id,
            "summary": input.summary,
            "status": status,
            "result": result,
        }),
    };
    api.publish(&input.user_id, &actor, &event).await?;
    metrics::counter!("errand_confirmations_total", "outcome" => status.to_string()).increment(1);
    Ok(())
}
