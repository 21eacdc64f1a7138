//! The durabletask client API of a sidecar (the embedded engine, durabletask-go or
//! daprd): every action, every history, and — where the engine's tables are not in
//! this process — the instance list.
//!
//! What the API offers for listing is `ListInstanceIDs` (ids only, in pages) and
//! `GetInstance` per id: a query there scans up to [`MAX_IDS`] instances and filters
//! them here, and what an instance waits for is read from its history (a timer
//! created and not fired, an activity or child scheduled and not answered). Pending
//! timers' due times come from `TimerCreated`; queued-activity attempts, buffered
//! events and stuck detection by ready work are not in the API.

use std::time::Duration;

use chrono::{DateTime, Utc};
use dapr_durabletask_proto::history_event::EventType;
use dapr_durabletask_proto::task_hub_sidecar_service_client::TaskHubSidecarServiceClient;
use dapr_durabletask_proto::{
    purge_instances_request, CreateInstanceRequest, GetInstanceHistoryRequest, GetInstanceRequest, HistoryEvent,
    ListInstanceIDsRequest, OrchestrationStatus, PurgeInstancesRequest, RaiseEventRequest, ResumeRequest,
    SuspendRequest, TerminateRequest, WorkflowState,
};
use errand_engine::inspect::{After, Atom, Filter, Order, Summary};
use serde_json::{json, Value};
use tonic::transport::Channel;

use crate::{failure_json, payload, DetailView, InstanceView, OpsError, MAX_IDS};

/// A client of the sidecar's durabletask API; cheap to clone.
#[derive(Clone)]
pub struct Sidecar {
    client: TaskHubSidecarServiceClient<Channel>,
}

/// Whether the sidecar does not serve a method: Unimplemented, or daprd's own way of
/// saying so when it proxies a method it does not know.
fn unimplemented(status: &tonic::Status) -> bool {
    let message = status.message().to_lowercase();
    status.code() == tonic::Code::Unimplemented
        || ["unknown method", "failed to proxy request", "not implemented", "unimplemented"]
            .iter()
            .any(|m| message.contains(m))
}

fn backend(status: tonic::Status) -> OpsError {
    if unimplemented(&status) {
        return OpsError::Unavailable(format!("the workflow sidecar does not offer this: {}", status.message()));
    }
    match status.code() {
        tonic::Code::NotFound => OpsError::NotFound(status.message().to_string()),
        tonic::Code::Unimplemented => {
            OpsError::Unavailable(format!("the workflow sidecar does not offer this: {}", status.message()))
        }
        _ => OpsError::Backend(format!("workflow sidecar: {}", status.message())),
    }
}

pub(crate) use errand_engine::inspect::is_terminal;

fn at(t: &Option<prost_types::Timestamp>) -> i64 {
    t.as_ref().map(|t| t.seconds * 1_000_000 + i64::from(t.nanos) / 1000).unwrap_or(0)
}

/// What is pending in a history: timers created and not fired (their due times),
/// activities and children scheduled and not answered.
fn pending(history: &[HistoryEvent]) -> (Vec<i64>, i64, i64) {
    let (mut timers, mut tasks, mut children) = (Vec::new(), Vec::new(), Vec::new());
    for event in history {
        match &event.event_type {
            Some(EventType::TimerCreated(t)) => timers.push((event.event_id, at(&t.fire_at))),
            Some(EventType::TimerFired(t)) => timers.retain(|(id, _)| *id != t.timer_id),
            Some(EventType::TaskScheduled(_)) => tasks.push(event.event_id),
            Some(EventType::TaskCompleted(t)) => tasks.retain(|id| *id != t.task_scheduled_id),
            Some(EventType::TaskFailed(t)) => tasks.retain(|id| *id != t.task_scheduled_id),
            Some(EventType::ChildWorkflowInstanceCreated(_)) => children.push(event.event_id),
            Some(EventType::ChildWorkflowInstanceCompleted(c)) => children.retain(|id| *id != c.task_scheduled_id),
            Some(EventType::ChildWorkflowInstanceFailed(c)) => children.retain(|id| *id != c.task_scheduled_id),
            _ => {}
        }
    }
    (timers.into_iter().map(|(_, due)| due).collect(), tasks.len() as i64, children.len() as i64)
}

fn summary(state: &WorkflowState, history: Option<&[HistoryEvent]>) -> Summary {
    let (timers, activities, children) = history.map(pending).unwrap_or_default();
    Summary {
        instance_id: state.instance_id.clone(),
        name: state.name.clone(),
        status: i64::from(state.workflow_status),
        created_at: at(&state.created_timestamp),
        updated_at: at(&state.last_updated_timestamp),
        completed_at: state.completed_timestamp.as_ref().map(|t| at(&Some(*t))),
        custom_status: state.custom_status.clone(),
        parent_instance_id: state.parent_instance_id.clone(),
        next_timer: timers.into_iter().min(),
        activities,
        running_children: children,
        ready: 0,
    }
}

/// Why histories cannot be read from daprd 1.16.
pub(crate) const HISTORY_UNAVAILABLE: &str = "this workflow runtime does not serve instance histories \
    (GetInstanceHistory is Unimplemented in daprd 1.16, whose durabletask-go is v0.9.0), so what an instance waits \
    for, its history and stuck detection cannot be shown";

/// Why instances are listed from Errand's records under daprd 1.16.
pub(crate) const LISTING_FROM_RECORDS: &str = "this workflow runtime does not list instances (ListInstanceIDs is \
    Unimplemented in daprd 1.16), so the instances listed are those Errand recorded starting";

/// The engine filter's meaning, evaluated on a summary (the SQL's twin).
pub(crate) fn matches(filter: &Filter, s: &Summary, now: i64) -> bool {
    let contains = |hay: &str, needle: &str| hay.to_lowercase().contains(&needle.to_lowercase());
    match filter {
        Filter::All => true,
        Filter::And(a, b) => matches(a, s, now) && matches(b, s, now),
        Filter::Or(a, b) => matches(a, s, now) || matches(b, s, now),
        Filter::Not(a) => !matches(a, s, now),
        Filter::Atom(atom) => match atom {
            Atom::Name(name) => s.name == *name,
            Atom::Status(code) => s.status == i64::from(*code),
            Atom::CreatedAfter(t) => s.created_at >= *t,
            Atom::CreatedBefore(t) => s.created_at < *t,
            Atom::UpdatedAfter(t) => s.updated_at >= *t,
            Atom::UpdatedBefore(t) => s.updated_at < *t,
            Atom::Ids(ids) => ids.contains(&s.instance_id),
            Atom::IdPrefix(p) => s.instance_id.starts_with(p.as_str()),
            Atom::IdContains(t) => contains(&s.instance_id, t),
            Atom::CustomStatus(t) => contains(s.custom_status.as_deref().unwrap_or(""), t),
            Atom::Parent(p) => s.parent_instance_id.as_deref() == Some(p.as_str()),
            Atom::Waiting(wait) => s.waiting() == Some(*wait),
            Atom::TimerBefore(t) => s.next_timer.is_some_and(|due| due > now && due < *t),
            Atom::TimerAfter(t) => s.next_timer.is_some_and(|due| due >= *t),
            Atom::Stuck(micros) => is_stuck(s, now, *micros),
        },
    }
}

/// Stuck, as far as the client API shows: not finished nor suspended, a timer already
/// due (or an activity pending) and no change for longer than `micros`.
pub(crate) fn is_stuck(s: &Summary, now: i64, micros: i64) -> bool {
    let active = !is_terminal(s.status as i32) && s.status != OrchestrationStatus::Suspended as i64;
    let due = s.next_timer.is_some_and(|t| t <= now - micros) || s.activities > 0;
    active && due && s.updated_at < now - micros
}

impl Sidecar {
    /// A client of the sidecar at `address` (`host:port` or a URL); it connects on
    /// first use.
    pub fn new(address: &str) -> Result<Sidecar, OpsError> {
        let url = if address.contains("://") { address.to_string() } else { format!("http://{address}") };
        let channel = Channel::from_shared(url.clone())
            .map_err(|e| OpsError::Invalid("sidecar", format!("bad workflow sidecar address {url:?}: {e}")))?
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .connect_lazy();
        Ok(Sidecar { client: TaskHubSidecarServiceClient::new(channel) })
    }

    fn client(&self) -> TaskHubSidecarServiceClient<Channel> {
        self.client.clone()
    }

    /// An instance's state with its payloads.
    pub(crate) async fn state(&self, id: &str) -> Result<WorkflowState, OpsError> {
        let request = GetInstanceRequest { instance_id: id.to_string(), get_inputs_and_outputs: true, router: None };
        let response = self.client().get_instance(request).await.map_err(backend)?.into_inner();
        match (response.exists, response.workflow_state) {
            (true, Some(state)) => Ok(state),
            _ => Err(OpsError::NotFound(id.to_string())),
        }
    }

    pub(crate) async fn history(&self, id: &str) -> Result<Vec<HistoryEvent>, OpsError> {
        self.state(id).await?;
        let request = GetInstanceHistoryRequest { instance_id: id.to_string() };
        match self.client().get_instance_history(request).await {
            Ok(response) => Ok(response.into_inner().events),
            Err(status) if unimplemented(&status) => Err(OpsError::Unavailable(HISTORY_UNAVAILABLE.into())),
            Err(status) => Err(backend(status)),
        }
    }

    /// Every instance id the sidecar lists (up to [`MAX_IDS`]); `None` when it does not
    /// list instances (daprd 1.16 answers `ListInstanceIDs` with Unimplemented).
    pub(crate) async fn list_ids(&self) -> Result<Option<Vec<String>>, OpsError> {
        let mut ids = Vec::new();
        let mut token = None;
        loop {
            let request = ListInstanceIDsRequest { continuation_token: token.clone(), page_size: Some(1000) };
            let page = match self.client().list_instance_i_ds(request).await {
                Ok(page) => page.into_inner(),
                Err(status) if unimplemented(&status) => {
                    tracing::debug!(error = %status.message(), "the sidecar lists no instances");
                    return Ok(None);
                }
                Err(status) => return Err(backend(status)),
            };
            ids.extend(page.instance_ids);
            token = page.continuation_token.filter(|t| !t.is_empty());
            if token.is_none() || ids.len() >= MAX_IDS {
                ids.truncate(MAX_IDS);
                return Ok(Some(ids));
            }
        }
    }

    /// The instances `ids` names as summaries, with what each running one waits for
    /// (from its history). The notes say what could not be read.
    pub(crate) async fn summaries(&self, ids: &[String]) -> Result<(Vec<Summary>, Vec<String>), OpsError> {
        let mut notes = Vec::new();
        let mut history_unavailable = false;
        let mut summaries = Vec::with_capacity(ids.len());
        let mut unreadable: Vec<String> = Vec::new();
        for id in ids {
            let request = GetInstanceRequest { instance_id: id.clone(), get_inputs_and_outputs: true, router: None };
            let response = match self.client().get_instance(request).await {
                Ok(response) => response,
                // One that vanished between the listing and this read (purged) is left out.
                Err(status) if status.code() == tonic::Code::NotFound => continue,
                // An unreachable sidecar fails the whole list rather than showing it empty.
                Err(status) if status.code() == tonic::Code::Unavailable => return Err(backend(status)),
                // One instance the sidecar cannot read does not hide the others.
                Err(status) => {
                    unreadable.push(format!("{id} ({})", status.message()));
                    continue;
                }
            };
            let Some(state) = response.into_inner().workflow_state else { continue };
            let history = if !history_unavailable && !is_terminal(state.workflow_status) {
                let request = GetInstanceHistoryRequest { instance_id: id.clone() };
                match self.client().get_instance_history(request).await {
                    Ok(response) => Some(response.into_inner().events),
                    Err(status) if unimplemented(&status) => {
                        history_unavailable = true;
                        None
                    }
                    Err(_) => None,
                }
            } else {
                None
            };
            summaries.push(summary(&state, history.as_deref()));
        }
        if history_unavailable {
            notes.push(HISTORY_UNAVAILABLE.to_string());
        }
        if !unreadable.is_empty() {
            let shown = unreadable.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
            notes.push(format!("the workflow sidecar could not read {} instance(s): {shown}", unreadable.len()));
        }
        Ok((summaries, notes))
    }

    /// A page of the matches, and the counts per status of all of them.
    pub(crate) fn page(
        all: Vec<Summary>,
        filter: &Filter,
        order: Order,
        after: Option<&After>,
        limit: usize,
        now: DateTime<Utc>,
    ) -> (Vec<Summary>, Vec<(i64, i64)>) {
        let now = now.timestamp_micros();
        let mut matching: Vec<Summary> = all.into_iter().filter(|s| matches(filter, s, now)).collect();
        let key = |s: &Summary| match order {
            Order::CreatedDesc | Order::CreatedAsc => (s.created_at, s.instance_id.clone()),
            Order::UpdatedDesc | Order::UpdatedAsc => (s.updated_at, s.instance_id.clone()),
        };
        let descending = matches!(order, Order::CreatedDesc | Order::UpdatedDesc);
        matching.sort_by_key(key);
        if descending {
            matching.reverse();
        }
        let mut counts = std::collections::BTreeMap::new();
        for s in &matching {
            *counts.entry(s.status).or_insert(0) += 1;
        }
        let page = matching
            .into_iter()
            .filter(|s| match after {
                None => true,
                Some(a) if descending => key(s) < (a.at, a.id.clone()),
                Some(a) => key(s) > (a.at, a.id.clone()),
            })
            .take(limit)
            .collect();
        (page, counts.into_iter().collect())
    }

    pub(crate) fn histogram(
        all: &[Summary],
        filter: &Filter,
        from: DateTime<Utc>,
        bucket_seconds: i64,
        now: DateTime<Utc>,
    ) -> Vec<(i64, i64)> {
        let (from, width) = (from.timestamp_micros(), bucket_seconds * 1_000_000);
        let mut buckets = std::collections::BTreeMap::new();
        for s in all.iter().filter(|s| matches(filter, s, now.timestamp_micros()) && s.created_at >= from) {
            *buckets.entry(from + (s.created_at - from) / width * width).or_insert(0) += 1;
        }
        buckets.into_iter().collect()
    }

    /// An instance's state and, where the sidecar serves it, its history.
    pub(crate) async fn detail(
        &self,
        id: &str,
    ) -> Result<(Summary, WorkflowState, Option<Vec<HistoryEvent>>), OpsError> {
        let state = self.state(id).await?;
        let history = match self.history(id).await {
            Ok(history) => Some(history),
            Err(OpsError::Unavailable(_)) => None,
            Err(e) => return Err(e),
        };
        Ok((summary(&state, history.as_deref()), state, history))
    }

    pub(crate) async fn terminate(&self, id: &str, output: &str, recursive: bool) -> Result<(), OpsError> {
        let request = TerminateRequest { instance_id: id.into(), output: Some(output.into()), recursive, router: None };
        self.client().terminate_instance(request).await.map_err(backend)?;
        Ok(())
    }

    pub(crate) async fn suspend(&self, id: &str, reason: Option<&str>, resume: bool) -> Result<(), OpsError> {
        let reason = reason.map(String::from);
        if resume {
            let request = ResumeRequest { instance_id: id.into(), reason, router: None };
            self.client().resume_instance(request).await.map_err(backend)?;
        } else {
            let request = SuspendRequest { instance_id: id.into(), reason, router: None };
            self.client().suspend_instance(request).await.map_err(backend)?;
        }
        Ok(())
    }

    pub(crate) async fn raise(&self, id: &str, name: &str, data: &Value) -> Result<(), OpsError> {
        let input = (!data.is_null()).then(|| data.to_string());
        let request = RaiseEventRequest { instance_id: id.into(), name: name.into(), input, router: None };
        self.client().raise_event(request).await.map_err(backend)?;
        Ok(())
    }

    pub(crate) async fn purge(&self, id: &str) -> Result<(), OpsError> {
        let request = PurgeInstancesRequest {
            request: Some(purge_instances_request::Request::InstanceId(id.into())),
            recursive: true,
            router: None,
            force: None,
        };
        self.client().purge_instances(request).await.map_err(backend)?;
        Ok(())
    }

    pub(crate) async fn start(&self, id: &str, name: &str, input: Option<String>) -> Result<(), OpsError> {
        let request = CreateInstanceRequest { instance_id: id.into(), name: name.into(), input, ..Default::default() };
        self.client().start_instance(request).await.map_err(backend)?;
        Ok(())
    }
}

/// An instance's detail as the client API shows it.
pub(crate) fn detail_view(
    instance: InstanceView,
    state: &WorkflowState,
    history: Option<&[HistoryEvent]>,
) -> DetailView {
    let mut unavailable = vec![
        "buffered events and activity attempts: the durabletask client API does not expose a sidecar's inbox or queue"
            .to_string(),
    ];
    if history.is_none() {
        unavailable.push(HISTORY_UNAVAILABLE.to_string());
    }
    let history = history.unwrap_or_default();
    let (timers, _, _) = pending(history);
    let mut activities = Vec::new();
    for event in history {
        if let Some(EventType::TaskScheduled(s)) = &event.event_type {
            let answered = history.iter().any(|e| match &e.event_type {
                Some(EventType::TaskCompleted(c)) => c.task_scheduled_id == event.event_id,
                Some(EventType::TaskFailed(f)) => f.task_scheduled_id == event.event_id,
                _ => false,
            });
            if !answered {
                activities.push(json!({ "name": s.name, "queued_at": DateTime::from_timestamp_micros(at(&event.timestamp)), "attempts": null }));
            }
        }
    }
    let children = history
        .iter()
        .filter_map(|e| match &e.event_type {
            Some(EventType::ChildWorkflowInstanceCreated(c)) => {
                Some(json!({ "id": c.instance_id, "kind": c.name, "status": null }))
            }
            _ => None,
        })
        .collect();
    DetailView {
        instance,
        execution_id: state.execution_id.clone(),
        input: payload(&state.input),
        output: payload(&state.output),
        failure: failure_json(state.failure_details.as_ref()),
        started_at: state.started_at.as_ref().and_then(|t| DateTime::from_timestamp(t.seconds, 0)),
        children,
        timers: timers.into_iter().map(|due| json!({ "due_at": DateTime::from_timestamp_micros(due) })).collect(),
        activities,
        buffered: Vec::new(),
        unavailable,
    }
}
