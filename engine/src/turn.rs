//! The rules of one workflow turn, without I/O: which inbox events a turn receives
//! (deduplicated), and how the worker's actions become history, messages, activities,
//! new instances and a status (ENGINE-PROTOCOL §2.4, §3).

use std::collections::HashSet;
use std::sync::Arc;

use dapr_durabletask_proto::history_event::EventType;
use dapr_durabletask_proto::workflow_action::WorkflowActionType;
use dapr_durabletask_proto::{
    create_timer_action, timer_created_event, ChildWorkflowInstanceCompletedEvent, ChildWorkflowInstanceCreatedEvent,
    ChildWorkflowInstanceFailedEvent, DetachedWorkflowInstanceCreatedEvent, EventRaisedEvent, EventSentEvent,
    ExecutionCompletedEvent, ExecutionStartedEvent, ExecutionTerminatedEvent, HistoryEvent, ParentInstanceInfo,
    TaskScheduledEvent, TimerCreatedEvent, TimerFiredEvent, TraceContext, WorkflowInstance, WorkflowResponse,
    WorkflowStartedEvent,
};
use prost::Message as _;

use crate::status;
use crate::store::{InboxRow, InstanceRow, Message, NewInstance, TurnCommit};
use crate::time::{from_timestamp, timestamp};

/// A turn handed to a worker and not yet completed.
#[derive(Debug, Clone)]
pub(crate) struct Turn {
    pub instance_id: String,
    pub execution_id: String,
    pub name: String,
    pub tags: String,
    pub lock_seq: i64,
    pub history_len: i64,
    pub suspended: bool,
    pub started: bool,
    pub parent: Option<ParentInstanceInfo>,
    /// Children created by this execution (for recursive terminate).
    pub children: Vec<String>,
    /// `WorkflowStarted` followed by the inbox events, deduplicated.
    pub new_events: Vec<HistoryEvent>,
    pub consumed: Vec<i64>,
    /// When this turn was handed out (its `WorkflowStarted` time), in microseconds.
    pub dispatched_at: i64,
    /// When the instance was created, in microseconds.
    pub created_at: i64,
    /// The committed history the turn builds on.
    pub history: Arc<Vec<HistoryEvent>>,
    /// The trace the work this turn schedules belongs to: the execution's (from its
    /// start), or the engine's span of this turn once it is handed out.
    pub trace: Option<TraceContext>,
    /// The engine's span of this turn, from hand-out to commit (none when untraced).
    pub span: tracing::Span,
}

/// What the engine does with a locked instance.
pub(crate) enum Prepared {
    /// Hand this turn to a worker.
    Run(Box<Turn>),
    /// No turn: drop the consumed events and deliver the messages (finished instances,
    /// or nothing new after deduplication).
    Discard { consumed: Vec<i64>, messages: Vec<Message> },
}

/// Builds the next turn of a locked instance from its committed history and visible inbox.
pub(crate) fn prepare(
    row: &InstanceRow,
    history: Arc<Vec<HistoryEvent>>,
    inbox: Vec<InboxRow>,
    now: i64,
) -> Result<Prepared, crate::EngineError> {
    let consumed: Vec<i64> = inbox.iter().map(|e| e.id).collect();
    let children = created_children(&history);
    if status::is_terminal(row.status as i32) {
        // A finished instance runs no more turns, but a recursive terminate still
        // cascades to its children.
        let mut messages = Vec::new();
        for entry in &inbox {
            if let Some(EventType::ExecutionTerminated(t)) = crate::store::decode(&entry.event)?.event_type {
                if t.recurse {
                    messages.extend(children.iter().map(|child| terminate_message(child, &t, now)));
                }
            }
        }
        return Ok(Prepared::Discard { consumed, messages });
    }

    let mut seen = Resolved::from_history(&history);
    let mut new_events = vec![event(-1, now, EventType::WorkflowStarted(WorkflowStartedEvent { version: None }))];
    for entry in &inbox {
        let decoded = crate::store::decode(&entry.event)?;
        let stale_execution = entry.execution_id.as_deref().is_some_and(|e| e != row.execution_id);
        if stale_execution || !seen.admit(&decoded) {
            continue;
        }
        if let Some(EventType::TimerFired(t)) = &decoded.event_type {
            if let Some(fire_at) = t.fire_at.as_ref().map(from_timestamp) {
                metrics::histogram!("errand_engine_timer_lateness_seconds").record((now - fire_at) as f64 / 1e6);
                crate::inspect::RECENT.timer_lateness.record(now, now - fire_at);
            }
        }
        new_events.push(decoded);
    }
    if new_events.len() == 1 {
        return Ok(Prepared::Discard { consumed, messages: Vec::new() });
    }
    let started = history.iter().chain(new_events.iter()).find_map(|e| match &e.event_type {
        Some(EventType::ExecutionStarted(s)) => Some(s),
        _ => None,
    });
    let parent = started.and_then(|s| s.parent_instance.clone());
    let trace = started.and_then(|s| s.parent_trace_context.clone());
    Ok(Prepared::Run(Box::new(Turn {
        instance_id: row.instance_id.clone(),
        execution_id: row.execution_id.clone(),
        name: row.name.clone(),
        tags: row.tags.clone(),
        lock_seq: row.lock_seq,
        history_len: row.history_len,
        suspended: row.suspended,
        started: row.started_at.is_some(),
        parent,
        children,
        new_events,
        consumed,
        dispatched_at: now,
        created_at: row.created_at,
        history,
        trace,
        span: tracing::Span::none(),
    })))
}

/// Resolution ids already seen, so that a repeated completion is dropped.
#[derive(Default)]
struct Resolved {
    tasks: HashSet<i32>,
    timers: HashSet<i32>,
    children: HashSet<i32>,
    started: bool,
}

impl Resolved {
    fn from_history(history: &[HistoryEvent]) -> Self {
        let mut seen = Resolved::default();
        for e in history {
            seen.admit(e);
        }
        seen
    }

    /// Records `event`; false when it repeats a resolution already seen.
    fn admit(&mut self, event: &HistoryEvent) -> bool {
        match &event.event_type {
            Some(EventType::TaskCompleted(c)) => self.tasks.insert(c.task_scheduled_id),
            Some(EventType::TaskFailed(f)) => self.tasks.insert(f.task_scheduled_id),
            Some(EventType::TimerFired(t)) => self.timers.insert(t.timer_id),
            Some(EventType::ChildWorkflowInstanceCompleted(c)) => self.children.insert(c.task_scheduled_id),
            Some(EventType::ChildWorkflowInstanceFailed(f)) => self.children.insert(f.task_scheduled_id),
            Some(EventType::ExecutionStarted(_)) => !std::mem::replace(&mut self.started, true),
            _ => true,
        }
    }
}

fn created_children(history: &[HistoryEvent]) -> Vec<String> {
    history
        .iter()
        .filter_map(|e| match &e.event_type {
            Some(EventType::ChildWorkflowInstanceCreated(c)) => Some(c.instance_id.clone()),
            _ => None,
        })
        .collect()
}

pub(crate) fn event(event_id: i32, at: i64, event_type: EventType) -> HistoryEvent {
    HistoryEvent { event_id, timestamp: Some(timestamp(at)), router: None, event_type: Some(event_type) }
}

fn terminate_message(instance_id: &str, terminate: &ExecutionTerminatedEvent, now: i64) -> Message {
    Message {
        instance_id: instance_id.to_string(),
        execution_id: None,
        visible_at: now,
        event: event(-1, now, EventType::ExecutionTerminated(terminate.clone())),
    }
}

/// The id a child gets when its creator gives none: `<parent>:<4 hex digits>`,
/// computed the same way by the SDK.
pub(crate) fn default_child_id(parent: &str, action_id: i32) -> String {
    format!("{parent}:{:04x}", (0x10000 + action_id as i64) & 0xffff)
}

/// A start event for a new execution of `name`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn execution_started(
    instance_id: &str,
    execution_id: &str,
    name: &str,
    version: Option<String>,
    input: Option<String>,
    parent: Option<ParentInstanceInfo>,
    scheduled_start: Option<prost_types::Timestamp>,
    tags: std::collections::HashMap<String, String>,
    trace: Option<TraceContext>,
    now: i64,
) -> HistoryEvent {
    event(
        -1,
        now,
        EventType::ExecutionStarted(ExecutionStartedEvent {
            name: name.to_string(),
            version,
            input,
            workflow_instance: Some(WorkflowInstance {
                instance_id: instance_id.to_string(),
                execution_id: Some(execution_id.to_string()),
            }),
            parent_instance: parent,
            scheduled_start_timestamp: scheduled_start,
            parent_trace_context: trace,
            workflow_span_id: None,
            tags,
        }),
    )
}

pub(crate) fn new_execution_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Timers at or beyond this instant never fire (indefinite waits use 9999-12-31).
const NEVER: i64 = 253_000_000_000 * 1_000_000;

/// Applies a worker's response to `turn` (ENGINE-PROTOCOL §3.2-3.3).
pub(crate) fn apply(turn: &Turn, response: WorkflowResponse, engine: &str, app_id: &str, now: i64) -> TurnCommit {
    let mut append = turn.new_events.clone();
    if let (Some(version), Some(EventType::WorkflowStarted(started))) = (response.version, &mut append[0].event_type) {
        started.version = Some(version);
    }
    let terminate = append.iter().find_map(|e| match &e.event_type {
        Some(EventType::ExecutionTerminated(t)) => Some(t.clone()),
        _ => None,
    });
    let mut suspended = turn.suspended;
    for e in &append {
        match e.event_type {
            Some(EventType::ExecutionSuspended(_)) => suspended = true,
            Some(EventType::ExecutionResumed(_)) => suspended = false,
            _ => {}
        }
    }
    let mut commit = TurnCommit {
        instance_id: turn.instance_id.clone(),
        engine: engine.to_string(),
        lock_seq: turn.lock_seq,
        consumed: turn.consumed.clone(),
        old_execution: turn.execution_id.clone(),
        history_len: turn.history_len,
        custom_status: response.custom_status,
        started_at: if turn.started { 0 } else { turn.dispatched_at },
        now,
        ..TurnCommit::default()
    };
    let mut children = turn.children.clone();
    let mut completion: Option<ExecutionCompletedEvent> = None;

    let mut actions = response.actions;
    actions.sort_by_key(|a| a.id);
    for action in actions {
        let Some(kind) = action.workflow_action_type else { continue };
        let router = action.router;
        let recorded = |event_type| HistoryEvent {
            event_id: action.id,
            timestamp: Some(timestamp(now)),
            router: router.clone(),
            event_type: Some(event_type),
        };
        match kind {
            WorkflowActionType::ScheduleTask(task) => {
                let scheduled = recorded(EventType::TaskScheduled(TaskScheduledEvent {
                    name: task.name,
                    version: task.version,
                    input: task.input,
                    parent_trace_context: turn.trace.clone(),
                    task_execution_id: task.task_execution_id,
                    rerun_parent_instance_info: None,
                    history_propagation_scope: task.history_propagation_scope,
                }));
                commit.activities.push((action.id, scheduled.clone()));
                append.push(scheduled);
            }
            WorkflowActionType::CreateTimer(timer) => {
                let fire_at = timer.fire_at.as_ref().map(from_timestamp).unwrap_or(now);
                append.push(recorded(EventType::TimerCreated(TimerCreatedEvent {
                    fire_at: timer.fire_at,
                    name: timer.name,
                    rerun_parent_instance_info: None,
                    origin: timer.origin.map(timer_origin),
                })));
                if fire_at < NEVER {
                    commit.messages.push(Message {
                        instance_id: turn.instance_id.clone(),
                        execution_id: Some(turn.execution_id.clone()),
                        visible_at: fire_at,
                        event: event(
                            -1,
                            fire_at.max(now),
                            EventType::TimerFired(TimerFiredEvent { fire_at: timer.fire_at, timer_id: action.id }),
                        ),
                    });
                }
            }
            WorkflowActionType::CreateChildWorkflow(child) => {
                let child_id = if child.instance_id.is_empty() {
                    default_child_id(&turn.instance_id, action.id)
                } else {
                    child.instance_id
                };
                append.push(recorded(EventType::ChildWorkflowInstanceCreated(ChildWorkflowInstanceCreatedEvent {
                    instance_id: child_id.clone(),
                    name: child.name.clone(),
                    version: child.version.clone(),
                    input: child.input.clone(),
                    parent_trace_context: turn.trace.clone(),
                    rerun_parent_instance_info: None,
                    history_propagation_scope: child.history_propagation_scope,
                    retry_parent_instance_info: child.retry_parent_instance_info,
                })));
                let parent = ParentInstanceInfo {
                    task_scheduled_id: action.id,
                    name: Some(turn.name.clone()),
                    version: None,
                    workflow_instance: Some(WorkflowInstance {
                        instance_id: turn.instance_id.clone(),
                        execution_id: Some(turn.execution_id.clone()),
                    }),
                    app_id: Some(app_id.to_string()),
                    app_namespace: None,
                };
                let execution_id = new_execution_id();
                commit.creates.push(NewInstance {
                    started: execution_started(
                        &child_id,
                        &execution_id,
                        &child.name,
                        child.version.clone(),
                        child.input.clone(),
                        Some(parent),
                        None,
                        Default::default(),
                        turn.trace.clone(),
                        now,
                    ),
                    instance_id: child_id.clone(),
                    name: child.name,
                    version: child.version,
                    execution_id,
                    input: child.input,
                    scheduled_start: None,
                    parent_instance_id: Some(turn.instance_id.clone()),
                    parent_app_id: Some(app_id.to_string()),
                    tags: "{}".into(),
                });
                children.push(child_id);
            }
            WorkflowActionType::CreateDetachedWorkflow(spawn) => {
                append.push(recorded(EventType::DetachedWorkflowInstanceCreated(
                    DetachedWorkflowInstanceCreatedEvent { instance_id: spawn.instance_id.clone() },
                )));
                if spawn.instance_id.is_empty() {
                    tracing::warn!(instance_id = %turn.instance_id, "detached workflow without an instance id ignored");
                    continue;
                }
                let execution_id = spawn.execution_id.filter(|e| !e.is_empty()).unwrap_or_else(new_execution_id);
                let scheduled_start = spawn.scheduled_start_timestamp.as_ref().map(from_timestamp);
                let tags = serde_json::to_string(&spawn.tags).unwrap_or_else(|_| "{}".into());
                let mut started = execution_started(
                    &spawn.instance_id,
                    &execution_id,
                    &spawn.name,
                    spawn.version.clone(),
                    spawn.input.clone(),
                    None,
                    spawn.scheduled_start_timestamp,
                    spawn.tags,
                    turn.trace.clone(),
                    now,
                );
                started.router = router.as_ref().map(|r| dapr_durabletask_proto::TaskRouter {
                    source_app_id: String::new(),
                    target_app_id: r.target_app_id.clone(),
                    target_app_namespace: r.target_app_namespace.clone(),
                });
                commit.creates.push(NewInstance {
                    instance_id: spawn.instance_id,
                    name: spawn.name,
                    version: spawn.version,
                    execution_id,
                    input: spawn.input,
                    scheduled_start,
                    parent_instance_id: None,
                    parent_app_id: None,
                    tags,
                    started,
                });
            }
            WorkflowActionType::SendEvent(send) => {
                let target = send.instance.map(|i| i.instance_id).unwrap_or_default();
                append.push(recorded(EventType::EventSent(EventSentEvent {
                    instance_id: target.clone(),
                    name: send.name.clone(),
                    input: send.data.clone(),
                })));
                commit.messages.push(Message {
                    instance_id: target,
                    execution_id: None,
                    visible_at: now,
                    event: event(
                        -1,
                        now,
                        EventType::EventRaised(EventRaisedEvent { name: send.name, input: send.data }),
                    ),
                });
            }
            WorkflowActionType::TerminateWorkflow(t) => {
                let terminate = ExecutionTerminatedEvent { input: t.reason, recurse: t.recurse };
                commit.messages.push(terminate_message(&t.instance_id, &terminate, now));
            }
            WorkflowActionType::CompleteWorkflow(complete) => {
                if complete.workflow_status == status::CONTINUED_AS_NEW {
                    if terminate.is_some() {
                        // Terminate beats continue-as-new.
                        continue;
                    }
                    return continue_as_new(turn, commit, complete.result, complete.carryover_events, now);
                }
                let completed = ExecutionCompletedEvent {
                    workflow_status: complete.workflow_status,
                    result: complete.result,
                    failure_details: complete.failure_details,
                };
                append.push(recorded(EventType::ExecutionCompleted(completed.clone())));
                completion = Some(completed);
                break;
            }
            WorkflowActionType::WorkflowVersionNotAvailable(_) => {}
        }
    }

    if let (Some(t), None) = (&terminate, &completion) {
        // The SDK honours terminate itself; this only guards against a worker that did not.
        commit.activities.clear();
        commit.creates.clear();
        commit.messages.clear();
        let completed = ExecutionCompletedEvent {
            workflow_status: status::TERMINATED,
            result: t.input.clone(),
            failure_details: None,
        };
        append.push(event(-1, now, EventType::ExecutionCompleted(completed.clone())));
        completion = Some(completed);
    }

    commit.suspended = suspended;
    commit.status = if suspended { status::SUSPENDED } else { status::RUNNING };
    if let Some(done) = completion {
        commit.status = done.workflow_status;
        commit.completed_at = Some(now);
        commit.output = done.result.clone();
        commit.failure = done.failure_details.as_ref().map(|f| f.encode_to_vec());
        if let Some(parent) = &turn.parent {
            commit.messages.push(notify_parent(parent, &done, now));
        }
        if let Some(t) = terminate.filter(|t| t.recurse) {
            commit.messages.extend(children.iter().map(|child| terminate_message(child, &t, now)));
        }
    }
    commit.append = append;
    commit
}

fn continue_as_new(
    turn: &Turn,
    mut commit: TurnCommit,
    input: Option<String>,
    carryover: Vec<HistoryEvent>,
    now: i64,
) -> TurnCommit {
    let execution_id = new_execution_id();
    let tags = serde_json::from_str(&turn.tags).unwrap_or_default();
    let started = execution_started(
        &turn.instance_id,
        &execution_id,
        &turn.name,
        None,
        input.clone(),
        turn.parent.clone(),
        None,
        tags,
        turn.trace.clone(),
        now,
    );
    commit.front = std::iter::once(started).chain(carryover).collect();
    commit.reset_to_execution = Some(execution_id);
    commit.input = input;
    commit.status = status::RUNNING;
    commit.suspended = false;
    commit.activities.clear();
    commit.creates.clear();
    commit.messages.clear();
    commit.append.clear();
    commit
}

fn notify_parent(parent: &ParentInstanceInfo, done: &ExecutionCompletedEvent, now: i64) -> Message {
    let instance = parent.workflow_instance.clone().unwrap_or_default();
    let event_type = if done.workflow_status == status::COMPLETED {
        EventType::ChildWorkflowInstanceCompleted(ChildWorkflowInstanceCompletedEvent {
            task_scheduled_id: parent.task_scheduled_id,
            result: done.result.clone(),
            attestation: None,
            signer_certificate: None,
        })
    } else {
        EventType::ChildWorkflowInstanceFailed(ChildWorkflowInstanceFailedEvent {
            task_scheduled_id: parent.task_scheduled_id,
            failure_details: done.failure_details.clone(),
            attestation: None,
            signer_certificate: None,
        })
    };
    Message {
        instance_id: instance.instance_id,
        execution_id: instance.execution_id,
        visible_at: now,
        event: event(-1, now, event_type),
    }
}

fn timer_origin(origin: create_timer_action::Origin) -> timer_created_event::Origin {
    use create_timer_action::Origin as From;
    use timer_created_event::Origin as To;
    match origin {
        From::CreateTimer(o) => To::CreateTimer(o),
        From::ExternalEvent(o) => To::ExternalEvent(o),
        From::ActivityRetry(o) => To::ActivityRetry(o),
        From::ChildWorkflowRetry(o) => To::ChildWorkflowRetry(o),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_child_ids_match_the_sdk() {
        assert_eq!(default_child_id("p", 0), "p:0000");
        assert_eq!(default_child_id("p", 2), "p:0002");
        assert_eq!(default_child_id("p", 0x1234), "p:1234");
    }

    #[test]
    fn repeated_resolutions_are_dropped() {
        let done = |id| {
            event(
                -1,
                0,
                EventType::TaskCompleted(dapr_durabletask_proto::TaskCompletedEvent {
                    task_scheduled_id: id,
                    ..Default::default()
                }),
            )
        };
        let mut seen = Resolved::from_history(&[done(1)]);
        assert!(!seen.admit(&done(1)));
        assert!(seen.admit(&done(2)));
        assert!(!seen.admit(&done(2)));
    }
}
