//! `TaskApi`: how workflow activities reach tasks. Two implementations exist: an
//! in-process one (embedded runtime) and an HTTP client through Dapr service
//! invocation (Dapr runtime). Activities act for one user and as their workflow.

use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::event::Actor;
use crate::task::{NewTask, TaskView};

/// A boxed future of a `TaskApi` call.
pub type TaskApiFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, TaskApiError>> + Send + 'a>>;

/// Why a `TaskApi` call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskApiError {
    /// The API refused the call for good (invalid input, not allowed); retrying is useless.
    #[error("refused: {0}")]
    Refused(String),
    /// The API could not be reached or failed; a retry may succeed.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

/// An event a workflow publishes through the API (a reminder fired, a confirmation
/// requested, an occurrence created). `id` makes a retried publication a duplicate
/// that consumers drop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowEvent {
    /// The event id, derived from the instance and step.
    pub id: String,
    /// `reminder.events`, `recurring.events` or `ai.events`.
    pub topic: String,
    /// The CloudEvents type, e.g. `reminder.fired`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The task it concerns.
    pub subject: Option<String>,
    /// Payload (the API adds `user_id` and `actor`).
    pub data: serde_json::Value,
}

/// Task operations for workflow activities, scoped to one user.
pub trait TaskApi: Send + Sync {
    /// One of the user's tasks; `None` when it does not exist (or is not theirs).
    fn task<'a>(&'a self, user_id: &'a str, actor: &'a Actor, task_id: &'a str) -> TaskApiFuture<'a, Option<TaskView>>;

    /// Creates a task once per `idempotency_key`: a retry returns the first result.
    fn create_task<'a>(
        &'a self,
        user_id: &'a str,
        actor: &'a Actor,
        input: &'a NewTask,
        idempotency_key: &'a str,
    ) -> TaskApiFuture<'a, TaskView>;

    /// Moves a task to a new due date (its relative reminders follow); `None` when
    /// it does not exist.
    fn reschedule_task<'a>(
        &'a self,
        user_id: &'a str,
        actor: &'a Actor,
        task_id: &'a str,
        due_at: DateTime<Utc>,
        all_day: bool,
    ) -> TaskApiFuture<'a, Option<TaskView>>;

    /// Deletes a task; false when it was already gone.
    fn delete_task<'a>(&'a self, user_id: &'a str, actor: &'a Actor, task_id: &'a str) -> TaskApiFuture<'a, bool>;

    /// Ids of the user's done tasks.
    fn done_task_ids<'a>(&'a self, user_id: &'a str, actor: &'a Actor) -> TaskApiFuture<'a, Vec<String>>;

    /// The user's timezone (recurrence is computed in it).
    fn timezone<'a>(&'a self, user_id: &'a str, actor: &'a Actor) -> TaskApiFuture<'a, Tz>;

    /// Publishes an event for the user.
    fn publish<'a>(&'a self, user_id: &'a str, actor: &'a Actor, event: &'a WorkflowEvent) -> TaskApiFuture<'a, ()>;

    /// Settles a confirmation: `approved`, `rejected` or `expired`, with what was done.
    fn settle_confirmation<'a>(
        &'a self,
        user_id: &'a str,
        actor: &'a Actor,
        confirmation_id: &'a str,
        status: &'a str,
        result: &'a serde_json::Value,
    ) -> TaskApiFuture<'a, ()>;
}
