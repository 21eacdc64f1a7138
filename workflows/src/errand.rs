//! Errand's three workflows (DESIGN §5) and their deterministic instance ids:
//! - `reminder`: a durable timer to the reminder's time, then `fire_reminder`
//!   (re-checks the task, publishes `reminder.fired`).
//! - `recurring`: one instance per series; waits for the current occurrence's
//!   completion, creates the next occurrence once (`create_next_occurrence`) and
//!   continues as new with it, until the series ends. `series_control` events pause
//!   it (a completion while paused creates nothing until it is resumed), resume it,
//!   or skip the current occurrence to the next date (`plan_skip`, `move_occurrence`).
//! - `confirm_action`: publishes `confirmation.requested`, waits for the `decision`
//!   event or the timeout, and only on `approve` performs the action.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use errand_activities::{
    create_next_occurrence, fire_reminder, move_occurrence, perform_action, plan_skip, request_confirmation,
    settle_confirmation, ConfirmAction, ConfirmInput, MoveInput, NextOccurrence, NextOccurrenceInput, ReminderInput,
    ReminderOutcome, SkipPlan,
};
use errand_domain::{TaskApi, TaskApiError};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::sdk::{
    when_any, ActivityContext, ActivityOptions, Registry, RegistryExt, RetryPolicy, TaskResult, WorkflowContext,
    WorkflowContextExt, WorkflowError,
};

/// Workflow names.
pub mod names {
    /// The reminder workflow.
    pub const REMINDER: &str = "reminder";
    /// The recurring-series workflow.
    pub const RECURRING: &str = "recurring";
    /// The confirm-action workflow.
    pub const CONFIRM_ACTION: &str = "confirm_action";
}

/// External events the workflows wait for.
pub mod events {
    /// Raised on `recurring:<series>` when an occurrence is completed ([`super::OccurrenceCompleted`]).
    pub const OCCURRENCE_COMPLETED: &str = "occurrence_completed";
    /// Raised on `confirmation:<id>` with `{"decision": "approve"|"reject"}`.
    pub const DECISION: &str = "decision";
    /// Raised on `recurring:<series>` with a [`super::SeriesControl`].
    pub const SERIES_CONTROL: &str = "series_control";

    /// The workflows that wait for events (with or without a timeout).
    pub const AWAITING: [&str; 2] = [super::names::RECURRING, super::names::CONFIRM_ACTION];

    /// The events a workflow waits for when it waits for one (the durabletask protocol
    /// does not tell a sidecar which event an orchestrator awaits).
    pub fn awaited_by(workflow: &str) -> &'static [&'static str] {
        match workflow {
            super::names::RECURRING => &[OCCURRENCE_COMPLETED, SERIES_CONTROL],
            super::names::CONFIRM_ACTION => &[DECISION],
            _ => &[],
        }
    }
}

/// The activities of an ops batch (registered by `errand-ops` where it runs): the
/// first resolves the query to instance ids once, the second acts on a page of them.
pub mod ops_batch {
    /// Input: the batch spec; output: the instance ids.
    pub const SELECT: &str = "ops_batch_select";
    /// Input: `{spec, ids}`; output: `{done, skipped, failed}` counts and failures.
    pub const APPLY: &str = "ops_batch_apply";
    /// Instances one apply activity acts on.
    pub const PAGE: usize = 100;
}

/// The payload of [`events::SERIES_CONTROL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum SeriesControl {
    /// Create no next occurrence until resumed.
    Pause,
    /// Go on; a completion made while paused gets its next occurrence now.
    Resume,
    /// Move the current occurrence to the next date.
    Skip,
}

/// `reminder:<task>:<reminder>:<at in ms>`: a moved reminder is a new instance.
pub fn reminder_instance_id(task_id: &str, reminder_id: &str, at: DateTime<Utc>) -> String {
    format!("reminder:{task_id}:{reminder_id}:{}", at.timestamp_millis())
}

/// `snooze:<notification>:<at in ms>`.
pub fn snooze_instance_id(notification_id: &str, at: DateTime<Utc>) -> String {
    format!("snooze:{notification_id}:{}", at.timestamp_millis())
}

/// `recurring:<series>`: one instance per series.
pub fn recurring_instance_id(series_id: &str) -> String {
    format!("recurring:{series_id}")
}

/// `confirmation:<confirmation id>`.
pub fn confirmation_instance_id(confirmation_id: &str) -> String {
    format!("confirmation:{confirmation_id}")
}

/// The recurring workflow's input: the series and its current occurrence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecurringInput {
    /// Owner.
    pub user_id: String,
    /// The series.
    pub series_id: String,
    /// The occurrence whose completion is awaited.
    pub task_id: String,
    /// Occurrences so far (the first task is 1).
    pub created: u32,
    /// Paused: completions create nothing until resumed.
    #[serde(default)]
    pub paused: bool,
    /// The completion that came while paused, awaiting the resume.
    #[serde(default)]
    pub held: Option<OccurrenceCompleted>,
    /// What the previous execution decided and this one does first, before it waits
    /// for any event (see [`recurring`]).
    #[serde(default)]
    pub step: Option<SeriesStep>,
}

/// Work a recurring execution hands to the next one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum SeriesStep {
    /// Create the occurrence after this completion.
    Next(OccurrenceCompleted),
    /// Move the current occurrence to the series' next date.
    Skip,
}

/// The payload of [`events::OCCURRENCE_COMPLETED`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OccurrenceCompleted {
    /// The occurrence.
    pub task_id: String,
    /// When it was completed.
    pub completed_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SettleInput {
    confirm: ConfirmInput,
    status: String,
    result: Value,
}

/// Activities retry with backoff while the task API is unavailable; a refusal is final.
fn retried() -> RetryPolicy {
    RetryPolicy::new(6, Duration::from_millis(500))
        .with_backoff_coefficient(2.0)
        .with_max_retry_interval(Duration::from_secs(30))
        .with_handle(|failure| !failure.message.contains("refused:"))
}

fn output(value: impl Serialize) -> crate::sdk::Result<Option<String>> {
    Ok(Some(serde_json::to_string(&value)?))
}

fn parse<T: serde::de::DeserializeOwned>(input: Option<String>) -> crate::sdk::Result<T> {
    Ok(serde_json::from_str(input.as_deref().unwrap_or("null"))?)
}

fn failed(e: TaskApiError) -> WorkflowError {
    WorkflowError::Other(e.to_string())
}

/// Registers the three workflows and their activities, which reach tasks through `api`.
pub fn register(registry: &mut Registry, api: Arc<dyn TaskApi>) {
    registry.add_workflow(names::REMINDER, reminder);
    registry.add_workflow(names::RECURRING, recurring);
    registry.add_workflow(names::CONFIRM_ACTION, confirm_action);

    let reminders = api.clone();
    registry.add_activity("fire_reminder", move |ctx: ActivityContext, input| {
        let api = reminders.clone();
        async move {
            let input: ReminderInput = parse(input)?;
            output(fire_reminder(api.as_ref(), ctx.orchestration_id(), &input).await.map_err(failed)?)
        }
    });
    let plans = api.clone();
    registry.add_activity("plan_skip", move |ctx: ActivityContext, input| {
        let api = plans.clone();
        async move {
            let input: NextOccurrenceInput = parse(input)?;
            output(plan_skip(api.as_ref(), ctx.orchestration_id(), &input).await.map_err(failed)?)
        }
    });
    let moves = api.clone();
    registry.add_activity("move_occurrence", move |ctx: ActivityContext, input| {
        let api = moves.clone();
        async move {
            let input: MoveInput = parse(input)?;
            output(move_occurrence(api.as_ref(), ctx.orchestration_id(), &input).await.map_err(failed)?)
        }
    });
    let occurrences = api.clone();
    registry.add_activity("create_next_occurrence", move |ctx: ActivityContext, input| {
        let api = occurrences.clone();
        async move {
            let input: NextOccurrenceInput = parse(input)?;
            output(create_next_occurrence(api.as_ref(), ctx.orchestration_id(), &input).await.map_err(failed)?)
        }
    });
    let requests = api.clone();
    registry.add_activity("request_confirmation", move |ctx: ActivityContext, input| {
        let api = requests.clone();
        async move {
            let input: ConfirmInput = parse(input)?;
            request_confirmation(api.as_ref(), ctx.orchestration_id(), &input).await.map_err(failed)?;
            output(())
        }
    });
    let actions = api.clone();
    registry.add_activity("perform_action", move |ctx: ActivityContext, input| {
        let api = actions.clone();
        async move {
            let input: ConfirmInput = parse(input)?;
            output(perform_action(api.as_ref(), ctx.orchestration_id(), &input).await.map_err(failed)?)
        }
    });
    registry.add_activity("settle_confirmation", move |ctx: ActivityContext, input| {
        let api = api.clone();
        async move {
            let input: SettleInput = parse(input)?;
            settle_confirmation(api.as_ref(), ctx.orchestration_id(), &input.confirm, &input.status, &input.result)
                .await
                .map_err(failed)?;
            output(())
        }
    });
}

async fn reminder(ctx: WorkflowContext) -> crate::sdk::Result<Option<String>> {
    let input: ReminderInput = ctx.get_input_typed()?;
    let now = ctx.current_utc_datetime();
    if input.at > now {
        ctx.set_custom_status(format!("reminding at {}", input.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)));
        ctx.create_timer((input.at - now).to_std().unwrap_or_default()).await?;
    }
    ctx.set_custom_status("due");
    let options = ActivityOptions::new().with_input(&input).with_retry_policy(retried());
    let outcome: ReminderOutcome = ctx.call_activity_with_options_typed("fire_reminder", options).await?;
    ctx.set_custom_status(match &outcome {
        ReminderOutcome::Fired => "reminded".to_string(),
        ReminderOutcome::Skipped { reason } => format!("skipped: {reason}"),
    });
    output(outcome)
}

/// One execution either does the step the previous one decided (calling activities
/// with no event waits outstanding) or waits for the first of a completion and a
/// control event and decides. Deciding ends the execution at once: a waiter left
/// behind while an activity runs would take the other event and lose it at
/// continue-as-new, whereas an event that arrives with no waiter is carried over.
async fn recurring(ctx: WorkflowContext) -> crate::sdk::Result<Option<String>> {
    let mut input: RecurringInput = ctx.get_input_typed()?;
    match input.step.take() {
        Some(SeriesStep::Next(done)) => return next_occurrence_of(&ctx, input, done).await,
        Some(SeriesStep::Skip) => return skip(&ctx, input).await,
        None => {}
    }
    ctx.set_custom_status(if input.paused {
        format!("paused at occurrence {}", input.created)
    } else {
        format!("waiting for occurrence {} to be completed", input.created)
    });
    let completed = ctx.wait_for_external_event(events::OCCURRENCE_COMPLETED);
    let control = ctx.wait_for_external_event(events::SERIES_CONTROL);
    let next = if when_any(vec![completed.clone(), control.clone()]).await? == 1 {
        match payload::<SeriesControl>(&control)? {
            SeriesControl::Pause => RecurringInput { paused: true, ..input },
            // Completed while paused: its next occurrence counts from the resume.
            SeriesControl::Resume => match input.held.take() {
                Some(held) => {
                    let resumed = OccurrenceCompleted { completed_at: ctx.current_utc_datetime(), ..held };
                    RecurringInput { paused: false, step: Some(SeriesStep::Next(resumed)), ..input }
                }
                None => RecurringInput { paused: false, ..input },
            },
            SeriesControl::Skip => RecurringInput { step: Some(SeriesStep::Skip), ..input },
        }
    } else {
        let done: OccurrenceCompleted = payload(&completed)?;
        if done.task_id != input.task_id {
            // A late or repeated completion of an earlier occurrence: keep waiting.
            input
        } else if input.paused {
            RecurringInput { held: Some(done), ..input }
        } else {
            RecurringInput { step: Some(SeriesStep::Next(done)), ..input }
        }
    };
    ctx.continue_as_new(next, true);
    Ok(None)
}

/// The result of an event a workflow waited for.
fn payload<T: serde::de::DeserializeOwned>(event: &crate::sdk::CompletableTask) -> crate::sdk::Result<T> {
    match event.get_result() {
        Some(TaskResult::Completed(data)) => parse(data),
        _ => Err(WorkflowError::Other("the event has no payload".into())),
    }
}

/// Creates the occurrence after `done` and continues with it, or ends the series.
async fn next_occurrence_of(
    ctx: &WorkflowContext,
    input: RecurringInput,
    done: OccurrenceCompleted,
) -> crate::sdk::Result<Option<String>> {
    let next_input = NextOccurrenceInput {
        user_id: input.user_id.clone(),
        series_id: input.series_id.clone(),
        task_id: input.task_id.clone(),
        created: input.created,
        completed_at: done.completed_at,
    };
    let options = ActivityOptions::new().with_input(&next_input).with_retry_policy(retried());
    match ctx.call_activity_with_options_typed("create_next_occurrence", options).await? {
        NextOccurrence::Created { task_id, .. } => {
            ctx.continue_as_new(RecurringInput { task_id, created: input.created + 1, ..input }, true);
            Ok(None)
        }
        NextOccurrence::Ended { reason } => output(json!({ "ended": reason, "occurrences": input.created })),
    }
}

/// Moves the current occurrence to the series' next date, and goes on waiting for it:
/// the date is planned (and recorded) first, then the move is made.
async fn skip(ctx: &WorkflowContext, input: RecurringInput) -> crate::sdk::Result<Option<String>> {
    let skip_input = NextOccurrenceInput {
        user_id: input.user_id.clone(),
        series_id: input.series_id.clone(),
        task_id: input.task_id.clone(),
        created: input.created,
        completed_at: ctx.current_utc_datetime(),
    };
    let options = ActivityOptions::new().with_input(&skip_input).with_retry_policy(retried());
    match ctx.call_activity_with_options_typed("plan_skip", options).await? {
        SkipPlan::Move(to) => {
            let options = ActivityOptions::new().with_input(&to).with_retry_policy(retried());
            let _: bool = ctx.call_activity_with_options_typed("move_occurrence", options).await?;
            ctx.continue_as_new(RecurringInput { created: input.created + 1, ..input }, true);
            Ok(None)
        }
        SkipPlan::Unchanged { .. } => {
            ctx.continue_as_new(input, true);
            Ok(None)
        }
        SkipPlan::Ended { reason } => output(json!({ "ended": reason, "occurrences": input.created })),
    }
}

/// An approved ops batch: the query resolved to ids once (recorded in the history, so a
/// restart acts on the same set), then a page at a time, the progress in the custom
/// status. Each page's action skips instances it already acted on, so a page re-run
/// after a crash counts each instance once.
async fn run_ops_batch(ctx: &WorkflowContext, spec: &Value) -> crate::sdk::Result<Value> {
    let options = ActivityOptions::new().with_input(spec).with_retry_policy(retried());
    let ids: Vec<String> = ctx.call_activity_with_options_typed(ops_batch::SELECT, options).await?;
    let (mut done, mut skipped, mut failed) = (0u64, 0u64, Vec::<Value>::new());
    ctx.set_custom_status(format!("running: 0 of {} done", ids.len()));
    for (page, chunk) in ids.chunks(ops_batch::PAGE).enumerate() {
        let options =
            ActivityOptions::new().with_input(json!({ "spec": spec, "ids": chunk })).with_retry_policy(retried());
        let step: Value = ctx.call_activity_with_options_typed(ops_batch::APPLY, options).await?;
        done += step["done"].as_u64().unwrap_or(0);
        skipped += step["skipped"].as_u64().unwrap_or(0);
        failed.extend(step["failed"].as_array().cloned().unwrap_or_default());
        let through = ((page + 1) * ops_batch::PAGE).min(ids.len());
        ctx.set_custom_status(format!("running: {through} of {} done", ids.len()));
    }
    Ok(json!({ "total": ids.len(), "done": done, "skipped": skipped, "failed": failed }))
}

async fn confirm_action(ctx: WorkflowContext) -> crate::sdk::Result<Option<String>> {
    let input: ConfirmInput = ctx.get_input_typed()?;
    let options = ActivityOptions::new().with_input(&input).with_retry_policy(retried());
    let _: () = ctx.call_activity_with_options_typed("request_confirmation", options).await?;
    ctx.set_custom_status("waiting for a decision");
    let timeout = Duration::from_secs(input.timeout_secs.max(1));
    let decision = ctx.wait_for_external_event_typed::<Value>(events::DECISION, Some(timeout)).await;
    let (status, result) = match decision {
        Ok(payload) if payload["decision"] == "approve" => {
            let result = match &input.action {
                ConfirmAction::OpsBatch { spec, .. } => run_ops_batch(&ctx, spec).await?,
                _ => {
                    let options = ActivityOptions::new().with_input(&input).with_retry_policy(retried());
                    ctx.call_activity_with_options_typed("perform_action", options).await?
                }
            };
            ("approved", result)
        }
        Ok(_) => ("rejected", json!({})),
        Err(WorkflowError::Timeout) => ("expired", json!({})),
        Err(e) => return Err(e),
    };
    ctx.set_custom_status(status);
    let settle = SettleInput { confirm: input, status: status.to_string(), result: result.clone() };
    let options = ActivityOptions::new().with_input(&settle).with_retry_policy(retried());
    let _: () = ctx.call_activity_with_options_typed("settle_confirmation", options).await?;
    output(json!({ "status": status, "result": result }))
}
