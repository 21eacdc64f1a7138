//! The workflow trigger: turns `todo.events` into workflow starts, terminations and
//! signals, so that a crash between a task write and a workflow start loses nothing
//! (the event waits in the outbox until this handler has applied it).
//!
//! - Reminders: each open task's reminders are one `reminder` instance each, keyed by
//!   task, reminder and time. A write that moves, removes or adds reminders, or
//!   completes or deletes the task, terminates the instances that no longer match and
//!   starts the missing ones.
//! - Recurrence: a recurring task's series has one `recurring` instance; completing an
//!   occurrence raises `occurrence_completed` on it; deleting a task with
//!   `?series=true` terminates it.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use errand_domain::event::{topics, TaskEventData};
use errand_domain::{Status, Task};
use errand_store::{Store, WorkflowRecord};
use errand_workflows::{names, recurring_instance_id, reminder_instance_id, OccurrenceCompleted, RecurringInput};
use tokio::sync::OnceCell;

use crate::workflow_control::{Call, ControlError, WorkflowControl};
use crate::{Delivery, Handler, HandlerError, HandlerFuture};

/// Where the trigger finds its way to the workflows (set once the sidecar is reached).
pub type WorkflowClients = Arc<OnceCell<WorkflowControl>>;

/// Reminders older than this when seen are not started (they fired or were missed
/// long ago); younger ones still fire, late.
const REMINDER_GRACE: chrono::Duration = chrono::Duration::hours(24);

/// How long one call to the workflow sidecar may take before the event is retried: a
/// sidecar that hangs (daprd waiting for a worker that is not there) must not hold up
/// delivery, or shutdown, for good.
const SIDECAR_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

/// The workflow-trigger consumer of `todo.events`.
pub struct WorkflowTriggerHandler {
    store: Store,
    clients: WorkflowClients,
}

impl WorkflowTriggerHandler {
    /// A trigger recording instances in `store` and driving them through `clients`.
    pub fn new(store: Store, clients: WorkflowClients) -> Self {
        WorkflowTriggerHandler { store, clients }
    }

    fn control(&self) -> Result<WorkflowControl, HandlerError> {
        self.clients
            .get()
            .cloned()
            .ok_or_else(|| HandlerError::Retry("the workflow sidecar is not connected yet".into()))
    }

    async fn apply(&self, delivery: &Delivery) -> Result<(), HandlerError> {
        let event = &delivery.event;
        let data: TaskEventData = serde_json::from_value(event.data.clone())
            .map_err(|e| HandlerError::Reject(format!("event {} is not a task event: {e}", event.id)))?;
        let task = &data.task;
        let deleted = event.event_type == "task.deleted";
        self.sync_reminders(task, deleted, event.time).await?;
        if let (Some(_), Some(series)) = (&task.recurrence, &task.series_id) {
            match event.event_type.as_str() {
                "task.created" | "task.reopened" if task.status == Status::Open => {
                    self.ensure_series(task, series, event.time).await?
                }
                "task.completed" => {
                    self.ensure_series(task, series, event.time).await?;
                    let completed_at = task.completed_at.unwrap_or(event.time);
                    let done = OccurrenceCompleted { task_id: task.id.clone(), completed_at };
                    let payload = serde_json::to_value(&done).map_err(|e| HandlerError::Reject(e.to_string()))?;
                    let instance = recurring_instance_id(series);
                    let control = self.control()?;
                    let call = Call { user_id: &task.user_id, instance: &instance };
                    let raise = control.raise(call, errand_workflows::events::OCCURRENCE_COMPLETED, payload);
                    ignore_gone(within(&format!("raising an event on {instance}"), raise).await?)?;
                }
                "task.deleted" if event.data["series"] == true => {
                    let instance = recurring_instance_id(series);
                    self.terminate(&task.user_id, &instance).await?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Makes the live reminder instances of `task` exactly those its reminders call for.
    async fn sync_reminders(&self, task: &Task, deleted: bool, now: DateTime<Utc>) -> Result<(), HandlerError> {
        let wanted: Vec<(String, &errand_domain::Reminder)> = if deleted || task.status == Status::Done {
            Vec::new()
        } else {
            task.reminders
                .iter()
                .filter(|r| r.at > now - REMINDER_GRACE)
                .map(|r| (reminder_instance_id(&task.id, &r.id, r.at), r))
                .collect()
        };
        // Snoozes (`snooze:...`) are reminders too, but not the task's own: they stay, and
        // check the task themselves when they fire.
        let mut live = self.store.live_workflows_of_task(&task.id, names::REMINDER).await?;
        live.retain(|id| id.starts_with("reminder:"));
        for instance in live.iter().filter(|id| !wanted.iter().any(|(w, _)| w == *id)) {
            self.terminate(&task.user_id, instance).await?;
        }
        for (instance, reminder) in wanted.iter().filter(|(w, _)| !live.contains(w)) {
            let input = errand_activities::ReminderInput {
                user_id: task.user_id.clone(),
                task_id: task.id.clone(),
                reminder_id: Some(reminder.id.clone()),
                at: reminder.at,
            };
            self.start(instance, names::REMINDER, &input, task, now).await?;
        }
        Ok(())
    }

    /// Starts the series' recurring instance unless it runs already.
    async fn ensure_series(&self, task: &Task, series: &str, now: DateTime<Utc>) -> Result<(), HandlerError> {
        let instance = recurring_instance_id(series);
        if !self.store.live_workflows_of_task(series, names::RECURRING).await?.is_empty() {
            return Ok(());
        }
        let input = RecurringInput {
            user_id: task.user_id.clone(),
            series_id: series.to_string(),
            task_id: task.id.clone(),
            created: 1,
            paused: false,
            held: None,
            step: None,
        };
        let record = Task { id: series.to_string(), ..task.clone() };
        self.start(&instance, names::RECURRING, &input, &record, now).await
    }

    /// Starts and then records an instance; one that exists already counts as started.
    /// Started first because a recorded instance counts as live and is not started
    /// again: a record whose start failed (sidecar down, crash) would never fire.
    async fn start(
        &self,
        instance: &str,
        name: &str,
        input: &impl serde::Serialize,
        task: &Task,
        now: DateTime<Utc>,
    ) -> Result<(), HandlerError> {
        let record = WorkflowRecord {
            instance_id: instance.to_string(),
            user_id: task.user_id.clone(),
            kind: name.to_string(),
            task_id: Some(task.id.clone()),
            created_at: now,
        };
        let input = serde_json::to_value(input).map_err(|e| HandlerError::Reject(e.to_string()))?;
        let control = self.control()?;
        let call = Call { user_id: &task.user_id, instance };
        within(&format!("starting {instance}"), control.start(call, name, input))
            .await?
            .map_err(|e| HandlerError::Retry(format!("starting {instance}: {e}")))?;
        Ok(self.store.record_workflow(&record).await?)
    }

    /// Terminates an instance (one that is gone needs nothing) and notes it ended.
    async fn terminate(&self, user_id: &str, instance: &str) -> Result<(), HandlerError> {
        let control = self.control()?;
        let call = Call { user_id, instance };
        ignore_gone(within(&format!("terminating {instance}"), control.terminate(call)).await?)?;
        Ok(self.store.end_workflow(instance).await?)
    }
}

/// `call` unless it takes longer than [`SIDECAR_DEADLINE`], which makes the event a retry.
async fn within<T>(what: &str, call: impl std::future::Future<Output = T>) -> Result<T, HandlerError> {
    tokio::time::timeout(SIDECAR_DEADLINE, call).await.map_err(|_| {
        HandlerError::Retry(format!("{what}: the workflow sidecar did not answer within {SIDECAR_DEADLINE:?}"))
    })
}

/// An instance that is gone needs no signal or termination.
fn ignore_gone(result: Result<(), ControlError>) -> Result<(), HandlerError> {
    match result {
        Err(ControlError::Failed(message)) => Err(HandlerError::Retry(message)),
        Ok(()) | Err(ControlError::Gone) => Ok(()),
    }
}

impl Handler for WorkflowTriggerHandler {
    fn name(&self) -> &'static str {
        "workflow-trigger"
    }

    fn topics(&self) -> &'static [&'static str] {
        &[topics::TODO]
    }

    fn handle<'a>(&'a self, delivery: &'a Delivery) -> HandlerFuture<'a> {
        Box::pin(self.apply(delivery))
    }
}
