//! The API's side of workflows: confirmations of destructive actions, snoozes, and
//! the user-scoped workflow status views. Instances run on the sidecar (the embedded
//! engine or daprd) through the SDK client; the store says whose each one is.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use errand_activities::{ConfirmAction, ConfirmInput, ReminderInput};
use errand_domain::Status;
use errand_store::{ConfirmationRecord, Decision, Store, UserRecord, WorkflowRecord};
use errand_workflows::sdk::{EventOptions, FetchOptions, RuntimeStatus, WorkflowMetadata};
use errand_workflows::{confirmation_instance_id, events, names, snooze_instance_id, HistoryEntry, WorkflowRuntime};
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::OnceCell;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::tasks::{now, TaskService};

/// How long a decision is awaited after it is recorded, before answering anyway.
const SETTLE_WAIT: Duration = Duration::from_secs(15);
/// How long a series control waits for its workflow to act.
const SERIES_WAIT: Duration = Duration::from_secs(5);

/// Workflow operations for the HTTP API; cheap to clone.
#[derive(Clone)]
pub struct WorkflowService {
    store: Store,
    tasks: TaskService,
    runtime: Arc<OnceCell<WorkflowRuntime>>,
    confirmation_timeout: Duration,
}

/// A confirmation as the API returns it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConfirmationView {
    /// Confirmation id.
    pub id: String,
    /// `pending`, `approved`, `rejected` or `expired`.
    pub status: String,
    /// What approval does, e.g. `{"kind":"delete_tasks","ids":[...]}`.
    pub action: Value,
    /// A sentence saying what will be done.
    pub summary: String,
    /// When it was requested.
    pub created_at: DateTime<Utc>,
    /// When it expires unanswered.
    pub expires_at: DateTime<Utc>,
    /// What the action did, once settled.
    pub result: Option<Value>,
}

impl From<ConfirmationRecord> for ConfirmationView {
    fn from(c: ConfirmationRecord) -> Self {
        ConfirmationView {
            id: c.id,
            status: c.status,
            action: c.action,
            summary: c.summary,
            created_at: c.created_at,
            expires_at: c.expires_at,
            result: c.result,
        }
    }
}

/// A workflow as the API returns it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowView {
    /// Instance id.
    pub id: String,
    /// `reminder`, `recurring` or `confirmation`.
    pub kind: String,
    /// `pending`, `running`, `suspended`, `completed`, `failed` or `terminated`; `unknown`
    /// when the workflow engine has no record of it (purged after its retention period).
    pub status: String,
    /// The task it concerns.
    pub task_id: Option<String>,
    /// When it was started.
    pub created_at: DateTime<Utc>,
    /// Its last change.
    pub updated_at: Option<DateTime<Utc>>,
    /// Its input (JSON).
    pub input: Option<Value>,
    /// Its output (JSON), once completed.
    pub output: Option<Value>,
    /// What it is doing, in words.
    pub custom_status: Option<Value>,
    /// When its timer fires next: a running reminder's (or snooze's) time.
    pub next_fire_at: Option<DateTime<Utc>>,
    /// Why it failed.
    pub failure: Option<Value>,
}

fn status_name(status: RuntimeStatus) -> &'static str {
    match status {
        RuntimeStatus::Pending => "pending",
        RuntimeStatus::Running | RuntimeStatus::ContinuedAsNew | RuntimeStatus::Stalled => "running",
        RuntimeStatus::Suspended => "suspended",
        RuntimeStatus::Completed => "completed",
        RuntimeStatus::Failed => "failed",
        RuntimeStatus::Terminated | RuntimeStatus::Canceled => "terminated",
    }
}

fn json_of(text: &Option<String>) -> Option<Value> {
    text.as_ref().map(|t| serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.clone())))
}

/// The public kind of an instance (snoozes are reminders, confirm-action runs are confirmations).
fn kind_name(kind: &str) -> &str {
    match kind {
        names::CONFIRM_ACTION => "confirmation",
        other => other,
    }
}

impl WorkflowService {
    /// Workflows through `runtime` (once connected), confirmations waiting `confirmation_timeout`.
    pub fn new(
        store: Store,
        tasks: TaskService,
        runtime: Arc<OnceCell<WorkflowRuntime>>,
        confirmation_timeout: Duration,
    ) -> WorkflowService {
        WorkflowService { store, tasks, runtime, confirmation_timeout }
    }

    fn runtime(&self) -> Result<&WorkflowRuntime, ApiError> {
        self.runtime.get().ok_or_else(|| ApiError::Unavailable("the workflow sidecar is not connected yet".into()))
    }

    /// Starts `name` as `instance` for `user`, then records it (ids are derived from
    /// the user's own records, so no one else can start it first); a record therefore
    /// always names an instance that was started.
    async fn start(
        &self,
        user: &UserRecord,
        instance: &str,
        name: &str,
        task_id: Option<String>,
        input: &impl Serialize,
    ) -> Result<(), ApiError> {
        let runtime = self.runtime()?;
        let record = WorkflowRecord {
            instance_id: instance.to_string(),
            user_id: user.profile.id.clone(),
            kind: name.to_string(),
            task_id,
            created_at: now(),
        };
        errand_workflows::start_once(&runtime.client(), name, instance, input)
            .await
            .map_err(|e| ApiError::Unavailable(format!("starting {instance}: {e}")))?;
        Ok(self.store.record_workflow(&record).await?)
    }

    /// Asks the user to confirm `action`: stores a pending confirmation and starts its
    /// confirm-action workflow, which acts only on approval.
    pub async fn request_confirmation(
        &self,
        user: &UserRecord,
        action: ConfirmAction,
        summary: String,
    ) -> Result<ConfirmationView, ApiError> {
        self.runtime()?;
        let created_at = now();
        let timeout = chrono::Duration::from_std(self.confirmation_timeout).unwrap_or(chrono::Duration::minutes(10));
        let record = ConfirmationRecord {
            id: errand_domain::new_id(),
            user_id: user.profile.id.clone(),
            status: "pending".into(),
            decision: None,
            action: serde_json::to_value(&action).map_err(|e| ApiError::Internal(e.to_string()))?,
            summary: summary.clone(),
            created_at,
            expires_at: created_at + timeout,
            decided_at: None,
            result: None,
        };
        self.store.insert_confirmation(&record).await?;
        let input = ConfirmInput {
            confirmation_id: record.id.clone(),
            user_id: user.profile.id.clone(),
            action,
            summary,
            timeout_secs: self.confirmation_timeout.as_secs().max(1),
        };
        self.start(user, &confirmation_instance_id(&record.id), names::CONFIRM_ACTION, None, &input).await?;
        Ok(record.into())
    }

    /// A user's confirmations, newest first.
    pub async fn confirmations(
        &self,
        user: &UserRecord,
        status: Option<&str>,
        cursor: Option<(DateTime<Utc>, String)>,
        limit: usize,
    ) -> Result<(Vec<ConfirmationView>, Option<(DateTime<Utc>, String)>), ApiError> {
        let mut records = self.store.confirmations(&user.profile.id, status, cursor, limit as i64 + 1).await?;
        let next = if records.len() > limit {
            records.truncate(limit);
            records.last().map(|c| (c.created_at, c.id.clone()))
        } else {
            None
        };
        Ok((records.into_iter().map(Into::into).collect(), next))
    }

    /// One of the user's confirmations; another user's is not found.
    pub async fn confirmation(&self, user: &UserRecord, id: &str) -> Result<ConfirmationView, ApiError> {
        let record = self.store.confirmation(&user.profile.id, id).await?;
        Ok(record.ok_or(ApiError::NotFound("confirmation"))?.into())
    }

    /// Records a person's decision and returns the outcome once the workflow has acted
    /// on it (or the pending confirmation, if that takes longer than a few seconds).
    pub async fn decide(&self, user: &UserRecord, id: &str, approve: bool) -> Result<ConfirmationView, ApiError> {
        let runtime = self.runtime()?;
        let decision = if approve { "approve" } else { "reject" };
        match self.store.decide_confirmation(&user.profile.id, id, decision, now()).await? {
            Decision::NotFound => return Err(ApiError::NotFound("confirmation")),
            Decision::AlreadySettled(c) => {
                let message = match c.decision {
                    Some(d) => format!("this confirmation was already decided ({d})"),
                    // Past its time but not yet settled by its workflow: expired all the same.
                    None if c.status == "pending" => {
                        format!("this confirmation expired at {}", c.expires_at.to_rfc3339())
                    }
                    None => format!("this confirmation is {}", c.status),
                };
                return Err(ApiError::Conflict { code: "already_decided", message });
            }
            Decision::Recorded(_) => {}
        }
        let options = EventOptions::new().with_payload(json!({ "decision": decision }));
        runtime
            .client()
            .raise_event(&confirmation_instance_id(id), events::DECISION, options)
            .await
            .map_err(|e| ApiError::Unavailable(format!("delivering the decision: {e}")))?;
        let deadline = tokio::time::Instant::now() + SETTLE_WAIT;
        loop {
            let current =
                self.store.confirmation(&user.profile.id, id).await?.ok_or(ApiError::NotFound("confirmation"))?;
            if current.status != "pending" || tokio::time::Instant::now() >= deadline {
                return Ok(current.into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Reminds the user of a notification's task again in `minutes`.
    pub async fn snooze(
        &self,
        user: &UserRecord,
        notification_id: &str,
        minutes: u32,
    ) -> Result<WorkflowView, ApiError> {
        let notification = self
            .store
            .notification(&user.profile.id, notification_id)
            .await?
            .ok_or(ApiError::NotFound("notification"))?;
        let task_id = notification.task_id.ok_or_else(|| ApiError::Unprocessable {
            code: "validation_failed",
            message: "only a notification about a task can be snoozed".into(),
            details: json!({ "field": "id" }),
        })?;
        let task = self.tasks.get(user, &task_id).await?;
        if task.status == Status::Done {
            return Err(ApiError::Conflict { code: "task_done", message: "the task is already done".into() });
        }
        let at = now() + chrono::Duration::minutes(i64::from(minutes));
        let instance = snooze_instance_id(notification_id, at);
        let input = ReminderInput { user_id: user.profile.id.clone(), task_id: task_id.clone(), reminder_id: None, at };
        self.start(user, &instance, names::REMINDER, Some(task_id), &input).await?;
        self.workflow(user, &instance).await
    }

    async fn view(&self, record: WorkflowRecord) -> Result<WorkflowView, ApiError> {
        let mut client = self.runtime()?.client();
        let state = match client
            .fetch_workflow_metadata(&record.instance_id, FetchOptions::new().with_fetch_payloads(true))
            .await
        {
            Ok(state) => Some(state),
            Err(e) if errand_workflows::is_gone(&e) => None,
            Err(e) => return Err(ApiError::Unavailable(format!("reading {}: {e}", record.instance_id))),
        };
        Ok(view_of(record, state))
    }

    /// One of the user's workflows; another user's is not found.
    pub async fn workflow(&self, user: &UserRecord, id: &str) -> Result<WorkflowView, ApiError> {
        let record = self.store.workflow_of_user(&user.profile.id, id).await?.ok_or(ApiError::NotFound("workflow"))?;
        self.view(record).await
    }

    /// Pauses, resumes or skips a step of one of the user's recurring series, as an
    /// event to its workflow (so it holds across restarts). Answers with the workflow
    /// once it has acted on the event (a new execution with no step left to do), or as
    /// it is after a few seconds.
    pub async fn control_series(
        &self,
        user: &UserRecord,
        series_id: &str,
        control: errand_workflows::SeriesControl,
    ) -> Result<WorkflowView, ApiError> {
        let id = errand_workflows::recurring_instance_id(series_id);
        let before = self.workflow(user, &id).await?;
        let payload = serde_json::to_value(control).map_err(|e| ApiError::Internal(e.to_string()))?;
        self.raise(user, &id, errand_workflows::events::SERIES_CONTROL, payload).await?;
        let deadline = tokio::time::Instant::now() + SERIES_WAIT;
        loop {
            let current = self.workflow(user, &id).await?;
            let acted = current.updated_at > before.updated_at
                && current.input.as_ref().is_some_and(|input| input["step"].is_null());
            if acted || current.status != "running" || tokio::time::Instant::now() >= deadline {
                return Ok(current);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// A page of the user's workflows, newest first, with the cursor of the next page.
    pub async fn workflows(
        &self,
        user: &UserRecord,
        kind: Option<&str>,
        status: Option<&str>,
        task_id: Option<&str>,
        cursor: Option<(DateTime<Utc>, String)>,
        limit: usize,
    ) -> Result<(Vec<WorkflowView>, Option<(DateTime<Utc>, String)>), ApiError> {
        let stored_kind = kind.map(|k| if k == "confirmation" { names::CONFIRM_ACTION } else { k });
        let mut items = Vec::new();
        let mut before = cursor;
        // Status lives on the sidecar: read pages until enough match.
        loop {
            let page =
                self.store.workflows_of_user(&user.profile.id, stored_kind, task_id, before.clone(), 100).await?;
            let exhausted = page.len() < 100;
            for record in page {
                before = Some((record.created_at, record.instance_id.clone()));
                let view = self.view(record).await?;
                if status.is_none_or(|s| s == view.status) {
                    items.push(view);
                    if items.len() == limit {
                        return Ok((items, before));
                    }
                }
            }
            if exhausted {
                return Ok((items, None));
            }
        }
    }

    /// The history of one of the user's workflows.
    pub async fn history(&self, user: &UserRecord, id: &str) -> Result<Vec<HistoryEntry>, ApiError> {
        self.store.workflow_of_user(&user.profile.id, id).await?.ok_or(ApiError::NotFound("workflow"))?;
        self.runtime()?.history(id).await.map_err(|e| {
            if errand_workflows::is_gone(&e) {
                // Purged after its retention period.
                ApiError::NotFound("workflow")
            } else if errand_workflows::is_unimplemented(&e) {
                ApiError::NotImplemented(
                    "the workflow sidecar has no GetInstanceHistory RPC (daprd 1.16 offers no history); \
                     the instance's status, input and output are at GET /api/v1/workflows/{id}"
                        .into(),
                )
            } else {
                ApiError::Unavailable(e.to_string())
            }
        })
    }

    /// Starts the workflow-trigger's `reminder` or `recurring` instance (the Dapr
    /// runtime's trigger asks the API, whose sidecar hosts the workflows; the trigger
    /// records the instance itself once this succeeds).
    pub async fn start_triggered(&self, instance: &str, name: &str, input: Value) -> Result<(), ApiError> {
        if ![names::REMINDER, names::RECURRING].contains(&name) || !instance.starts_with(&format!("{name}:")) {
            // Never a confirm-action run, which acts without asking.
            return Err(ApiError::Forbidden(format!("the trigger does not start {name:?} as {instance:?}")));
        }
        errand_workflows::start_once(&self.runtime()?.client(), name, instance, &input)
            .await
            .map_err(|e| ApiError::Unavailable(format!("starting {instance}: {e}")))
    }

    /// Terminates one of the user's workflows; one the sidecar does not know is not found.
    pub async fn terminate(&self, user: &UserRecord, id: &str) -> Result<(), ApiError> {
        self.store.workflow_of_user(&user.profile.id, id).await?.ok_or(ApiError::NotFound("workflow"))?;
        self.runtime()?.client().terminate_workflow(id).await.map_err(|e| {
            if errand_workflows::is_gone(&e) {
                ApiError::NotFound("workflow")
            } else {
                ApiError::Unavailable(format!("terminating {id}: {e}"))
            }
        })
    }

    /// Raises event `name` with `payload` on one of the user's workflows.
    pub async fn raise(&self, user: &UserRecord, id: &str, name: &str, payload: Value) -> Result<(), ApiError> {
        self.store.workflow_of_user(&user.profile.id, id).await?.ok_or(ApiError::NotFound("workflow"))?;
        self.runtime()?.client().raise_event(id, name, EventOptions::new().with_payload(payload)).await.map_err(|e| {
            // Purged after its retention period (or lost): nothing to raise it on.
            if errand_workflows::is_gone(&e) {
                ApiError::NotFound("workflow")
            } else {
                ApiError::Unavailable(format!("raising {name}: {e}"))
            }
        })
    }
}

fn view_of(record: WorkflowRecord, state: Option<WorkflowMetadata>) -> WorkflowView {
    let kind = kind_name(&record.kind).to_string();
    match state {
        None => WorkflowView {
            id: record.instance_id,
            kind,
            // Recorded only once started, so it ended and was purged after its retention
            // period, or the sidecar lost it: either way, not known to be anything.
            status: "unknown".into(),
            task_id: record.task_id,
            created_at: record.created_at,
            updated_at: None,
            input: None,
            output: None,
            custom_status: Some(Value::String(
                "the workflow engine has no record of this instance (finished and purged after its retention period, or lost)"
                    .into(),
            )),
            next_fire_at: None,
            failure: None,
        },
        Some(state) => {
            let status = status_name(state.runtime_status);
            let input = json_of(&state.serialized_input);
            let next_fire_at = (record.kind == names::REMINDER && status == "running")
                .then(|| input.as_ref()?["at"].as_str()?.parse().ok())
                .flatten();
            WorkflowView {
                id: record.instance_id,
                kind,
                status: status.into(),
                task_id: record.task_id,
                created_at: record.created_at,
                updated_at: state.last_updated_at,
                input,
                output: json_of(&state.serialized_output),
                custom_status: json_of(&state.serialized_custom_status),
                next_fire_at,
                failure: state.failure_details.map(|f| json!({ "type": f.error_type, "message": f.message })),
            }
        }
    }
}
