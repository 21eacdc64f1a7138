//! The engine proper: connected worker streams, the dispatcher that hands turns and
//! activities to them, completions, leases, and the client operations.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dapr_durabletask_proto::history_event::EventType;
use dapr_durabletask_proto::work_item::Request as WorkRequest;
use dapr_durabletask_proto::{
    purge_instances_request, ActivityRequest, ActivityResponse, CachedHistory, CreateInstanceRequest, EventRaisedEvent,
    ExecutionResumedEvent, ExecutionSuspendedEvent, ExecutionTerminatedEvent, HistoryEvent, TaskCompletedEvent,
    TaskFailedEvent, TaskFailureDetails, TraceContext, WorkItem, WorkflowInstance, WorkflowRequest, WorkflowResponse,
    WorkflowState,
};
use prost::Message as _;
use tokio::sync::{mpsc, oneshot, Notify};
use tonic::Status;
use tracing::Instrument;

use crate::status;
use crate::store::{ActivityResult, ActivityRow, InstanceRow, Message, NewInstance, Store, Write};
use crate::time::{from_timestamp, now_micros, timestamp};
use crate::turn::{self, Prepared, Turn};
use crate::{EngineConfig, EngineError};

/// Items claimed per database round trip.
const CLAIM_BATCH: usize = 64;

/// Instances whose history is kept in memory between turns.
const HISTORY_CACHE_ENTRIES: usize = 10_000;

pub(crate) type ItemSender = mpsc::UnboundedSender<Result<WorkItem, Status>>;

/// An instance's committed history with the execution it belongs to.
type KnownHistory = (String, Arc<Vec<HistoryEvent>>);

type PendingWrite = (Write, oneshot::Sender<Result<bool, EngineError>>);

/// Writes committed in one transaction, at most.
const WRITE_BATCH: usize = 128;

/// The running engine; cheap to clone.
#[derive(Clone)]
pub(crate) struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    /// Written into `locked_by`: who holds a lease.
    id: String,
    config: EngineConfig,
    /// Set when work may have become visible; the dispatcher waits on it.
    wake: Notify,
    state: Mutex<State>,
    /// Writes waiting for the committer.
    writes: mpsc::UnboundedSender<PendingWrite>,
    /// Committed histories by instance, with their execution id, so a turn need not
    /// re-read what the previous turn wrote.
    histories: Mutex<HashMap<String, KnownHistory>>,
    watchers: Mutex<HashMap<String, Arc<Notify>>>,
}

#[derive(Default)]
struct State {
    next_stream: u64,
    streams: HashMap<u64, Stream>,
    /// Turns handed out, by completion token.
    turns: HashMap<String, (Turn, u64)>,
    /// Activities handed out, by completion token: (row id, dequeue count, stream).
    activities: HashMap<String, (i64, i64, u64)>,
}

struct Stream {
    sender: ItemSender,
    outstanding: usize,
    /// The worker keeps the history of the turns it ran (stateful-history capability).
    stateful: bool,
    /// History length each instance had when last sent on this stream.
    warm: HashMap<String, i64>,
}

/// A worker item that could not be sent and must be given back.
enum Undelivered {
    Turn { instance_id: String, lock_seq: i64 },
    Activity(i64, i64),
}

impl Undelivered {
    fn turn(turn: &Turn) -> Undelivered {
        Undelivered::Turn { instance_id: turn.instance_id.clone(), lock_seq: turn.lock_seq }
    }
}

impl Engine {
    pub(crate) async fn open(config: EngineConfig) -> Result<Engine, EngineError> {
        let store = Store::open(&config.database_url).await?;
        if !store.is_shared() {
            store.release_all_locks().await?;
        }
        let id = uuid::Uuid::now_v7().to_string();
        store.heartbeat(&id, now_micros() + config.lease.as_micros() as i64).await?;
        let (writes, pending) = mpsc::unbounded_channel();
        tokio::spawn(run_committer(store.clone(), pending));
        Ok(Engine {
            inner: Arc::new(Inner {
                writes,
                store,
                id,
                config,
                wake: Notify::new(),
                state: Mutex::new(State::default()),
                histories: Mutex::new(HashMap::new()),
                watchers: Mutex::new(HashMap::new()),
            }),
        })
    }

    pub(crate) fn inspector(&self) -> crate::inspect::Inspector {
        crate::inspect::Inspector::new(self.store().clone())
    }

    fn store(&self) -> &Store {
        &self.inner.store
    }

    fn lease_until(&self, now: i64) -> i64 {
        now + self.inner.config.lease.as_micros() as i64
    }

    fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Wakes whoever waits on these instances' status.
    fn touched<'a>(&self, ids: impl IntoIterator<Item = &'a str>) {
        let mut watchers = self.inner.watchers.lock().expect("watchers lock");
        for id in ids {
            if let Some(notify) = watchers.get(id) {
                notify.notify_waiters();
                if Arc::strong_count(notify) == 1 {
                    watchers.remove(id);
                }
            }
        }
    }

    // ---- worker streams -------------------------------------------------------------

    /// Registers a worker stream; the caller returns `receiver` as the response stream.
    pub(crate) fn connect_worker(&self, stateful: bool) -> mpsc::UnboundedReceiver<Result<WorkItem, Status>> {
        let (sender, receiver) = mpsc::unbounded_channel();
        let closed = sender.clone();
        let stream_id = {
            let mut state = self.inner.state.lock().expect("state lock");
            state.next_stream += 1;
            let id = state.next_stream;
            state.streams.insert(id, Stream { sender, outstanding: 0, stateful, warm: HashMap::new() });
            id
        };
        tracing::debug!(stream_id, stateful, "worker connected");
        let engine = self.clone();
        tokio::spawn(async move {
            closed.closed().await;
            engine.disconnect(stream_id).await;
        });
        self.wake();
        receiver
    }

    /// A stream ended: everything handed out on it and not completed goes back.
    async fn disconnect(&self, stream_id: u64) {
        let mut undelivered = Vec::new();
        {
            let mut state = self.inner.state.lock().expect("state lock");
            if state.streams.remove(&stream_id).is_none() {
                return;
            }
            let tokens: Vec<String> =
                state.turns.iter().filter(|(_, (_, s))| *s == stream_id).map(|(t, _)| t.clone()).collect();
            for token in tokens {
                if let Some((turn, _)) = state.turns.remove(&token) {
                    undelivered.push(Undelivered::turn(&turn));
                }
            }
            let tokens: Vec<String> =
                state.activities.iter().filter(|(_, (_, _, s))| *s == stream_id).map(|(t, _)| t.clone()).collect();
            for token in tokens {
                if let Some((id, dequeue_count, _)) = state.activities.remove(&token) {
                    undelivered.push(Undelivered::Activity(id, dequeue_count));
                }
            }
        }
        tracing::debug!(stream_id, requeued = undelivered.len(), "worker disconnected");
        for item in undelivered {
            self.give_back(item).await;
        }
        self.wake();
    }

    async fn give_back(&self, item: Undelivered) {
        let result = match &item {
            Undelivered::Turn { instance_id, lock_seq } => {
                self.store().release_instance(instance_id, &self.inner.id, *lock_seq).await
            }
            Undelivered::Activity(id, dequeue_count) => self.store().release_activity(*id, *dequeue_count).await,
        };
        if let Err(e) = result {
            // The lease expires on its own; the item is redelivered then.
            tracing::warn!(error = %e, "could not release a work item");
        }
    }

    /// Ends every worker stream (at shutdown); workers reconnect elsewhere or later.
    pub(crate) fn disconnect_all(&self) {
        let mut state = self.inner.state.lock().expect("state lock");
        for stream in state.streams.values_mut() {
            let _ = stream.sender.send(Err(Status::unavailable("engine shutting down")));
        }
        state.streams.clear();
    }

    fn free_capacity(&self) -> usize {
        let state = self.inner.state.lock().expect("state lock");
        let per_stream = self.inner.config.max_items_per_worker;
        state.streams.values().map(|s| per_stream.saturating_sub(s.outstanding)).sum()
    }

    // ---- dispatch ---------------------------------------------------------------------

    /// Hands visible work to connected workers until `shutdown` resolves. It sleeps until
    /// a commit wakes it or the next timer is due, never polling on the hot path; on a
    /// shared database it also looks every `poll_interval` for work other engines made.
    pub(crate) async fn run_dispatcher(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let next_due = match self.dispatch_once().await {
                Ok(true) => continue,
                Ok(false) => self.store().next_visible_after(now_micros()).await.unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "could not read the next timer");
                    None
                }),
                Err(e) => {
                    tracing::error!(error = %e, "dispatch failed");
                    Some(now_micros() + 200_000)
                }
            };
            let mut sleep = self.inner.config.poll_interval;
            if let Some(due) = next_due {
                let until = Duration::from_micros(due.saturating_sub(now_micros()).max(0) as u64);
                sleep = sleep.min(until);
            }
            tokio::select! {
                _ = &mut shutdown => return,
                _ = self.inner.wake.notified() => {}
                _ = tokio::time::sleep(sleep) => {}
            }
        }
    }

    /// One pass: claims what fits and sends it. True when more may be waiting.
    async fn dispatch_once(&self) -> Result<bool, EngineError> {
        let capacity = self.free_capacity().min(CLAIM_BATCH);
        if capacity == 0 {
            return Ok(false);
        }
        let now = now_micros();
        let claimed = self.store().claim_instances(&self.inner.id, now, capacity as i64).await?;
        let full = claimed.len() == capacity;
        let loads = claimed.into_iter().map(|row| self.start_turn(row, now));
        for result in futures_util::future::join_all(loads).await {
            if let Err(e) = result {
                tracing::error!(error = %e, "could not start a turn");
            }
        }
        let capacity = self.free_capacity().min(CLAIM_BATCH);
        if capacity == 0 {
            return Ok(true);
        }
        let activities = self.store().claim_activities(&self.inner.id, now, capacity as i64).await?;
        let more = full || activities.len() == capacity;
        for activity in activities {
            let delay = now - activity.created_at;
            metrics::histogram!("errand_engine_activity_queue_delay_seconds").record(delay as f64 / 1e6);
            crate::inspect::RECENT.activity_delay.record(now, delay);
            self.send_activity(activity).await;
        }
        Ok(more)
    }

    async fn start_turn(&self, row: InstanceRow, now: i64) -> Result<(), EngineError> {
        let inbox = self.store().visible_inbox(&row.instance_id, now).await?;
        let history = self.committed_history(&row).await?;
        match turn::prepare(&row, history.clone(), inbox, now)? {
            Prepared::Discard { consumed, messages } => {
                let (id, lock_seq) = (&row.instance_id, row.lock_seq);
                self.store().discard_inbox(id, &self.inner.id, lock_seq, &consumed, &messages).await?;
                self.touched(messages.iter().map(|m| m.instance_id.as_str()));
                self.wake();
            }
            Prepared::Run(turn) => self.send_turn(*turn).await,
        }
        Ok(())
    }

    /// The committed history of `row`'s current execution: from the cache when it holds
    /// exactly that (only the lock holder appends, and the claim just read the length),
    /// else from the database.
    async fn committed_history(&self, row: &InstanceRow) -> Result<Arc<Vec<HistoryEvent>>, EngineError> {
        let cached = self.inner.histories.lock().expect("history cache lock").get(&row.instance_id).cloned();
        if let Some((execution_id, history)) = cached {
            if execution_id == row.execution_id && history.len() as i64 == row.history_len {
                return Ok(history);
            }
        }
        let history = Arc::new(self.store().history(&row.instance_id).await?);
        if history.len() as i64 != row.history_len {
            return Err(EngineError::Corrupt(format!(
                "history of {} is not {} events long",
                row.instance_id, row.history_len
            )));
        }
        Ok(history)
    }

    /// Remembers an instance's history after a commit, for its next turn.
    fn cache_history(&self, instance_id: &str, execution_id: String, history: Arc<Vec<HistoryEvent>>) {
        let mut cache = self.inner.histories.lock().expect("history cache lock");
        if cache.len() >= HISTORY_CACHE_ENTRIES && !cache.contains_key(instance_id) {
            // Crude but bounded: an evicted history is simply read from the database again.
            cache.clear();
        }
        cache.insert(instance_id.to_string(), (execution_id, history));
    }

    /// Picks the least-loaded stream; None when no worker is connected.
    fn pick_stream(state: &State) -> Option<u64> {
        state.streams.iter().min_by_key(|(_, s)| s.outstanding).map(|(id, _)| *id)
    }

    async fn send_turn(&self, mut turn: Turn) {
        trace_turn(&mut turn);
        let token = uuid::Uuid::new_v4().to_string();
        let sent = {
            let mut state = self.inner.state.lock().expect("state lock");
            match Self::pick_stream(&state) {
                None => false,
                Some(stream_id) => {
                    for (id, other) in state.streams.iter_mut() {
                        if *id != stream_id {
                            other.warm.remove(&turn.instance_id);
                        }
                    }
                    let stream = state.streams.get_mut(&stream_id).expect("picked stream");
                    let length = turn.history_len;
                    let known = stream.warm.insert(turn.instance_id.clone(), length).unwrap_or(0);
                    let (past_events, cached_history) = if stream.stateful && known > 0 && known <= length {
                        (turn.history[known as usize..].to_vec(), Some(CachedHistory { event_count: known as i32 }))
                    } else {
                        (turn.history.to_vec(), None)
                    };
                    let item = WorkItem {
                        completion_token: token.clone(),
                        request: Some(WorkRequest::WorkflowRequest(WorkflowRequest {
                            instance_id: turn.instance_id.clone(),
                            execution_id: Some(turn.execution_id.clone()),
                            past_events,
                            new_events: turn.new_events.clone(),
                            requires_history_streaming: false,
                            router: None,
                            propagated_history: None,
                            cached_history,
                        })),
                    };
                    if stream.sender.send(Ok(item)).is_ok() {
                        stream.outstanding += 1;
                        tracing::debug!(instance_id = %turn.instance_id, events = turn.new_events.len(), "turn dispatched");
                        state.turns.insert(token, (turn.clone(), stream_id));
                        true
                    } else {
                        false
                    }
                }
            }
        };
        if !sent {
            self.give_back(Undelivered::turn(&turn)).await;
        }
    }

    async fn send_activity(&self, row: ActivityRow) {
        let scheduled = match crate::store::decode(&row.event).map(|e| e.event_type) {
            Ok(Some(EventType::TaskScheduled(s))) => s,
            _ => {
                tracing::error!(instance_id = %row.instance_id, task_id = row.task_id, "corrupt activity row skipped");
                return;
            }
        };
        let token = activity_token(row.id, row.dequeue_count, &scheduled.task_execution_id);
        let item = WorkItem {
            completion_token: token.clone(),
            request: Some(WorkRequest::ActivityRequest(ActivityRequest {
                name: scheduled.name,
                version: scheduled.version,
                input: scheduled.input,
                workflow_instance: Some(WorkflowInstance {
                    instance_id: row.instance_id.clone(),
                    execution_id: Some(row.execution_id.clone()),
                }),
                task_id: row.task_id as i32,
                // The span of the turn that scheduled it, so the activity joins that trace.
                parent_trace_context: scheduled.parent_trace_context,
                task_execution_id: scheduled.task_execution_id,
                propagated_history: None,
            })),
        };
        let sent = {
            let mut state = self.inner.state.lock().expect("state lock");
            match Self::pick_stream(&state) {
                Some(stream_id) => {
                    let stream = state.streams.get_mut(&stream_id).expect("picked stream");
                    if stream.sender.send(Ok(item)).is_ok() {
                        stream.outstanding += 1;
                        state.activities.insert(token, (row.id, row.dequeue_count, stream_id));
                        true
                    } else {
                        false
                    }
                }
                None => false,
            }
        };
        if !sent {
            self.give_back(Undelivered::Activity(row.id, row.dequeue_count)).await;
        }
    }

    fn finished_on_stream(state: &mut State, stream_id: u64) {
        if let Some(stream) = state.streams.get_mut(&stream_id) {
            stream.outstanding = stream.outstanding.saturating_sub(1);
        }
    }

    // ---- completions ------------------------------------------------------------------

    /// A worker finished a turn. Stale or unknown tokens are ignored.
    pub(crate) async fn complete_turn(&self, response: WorkflowResponse) -> Result<(), EngineError> {
        let found = {
            let mut state = self.inner.state.lock().expect("state lock");
            let found = state.turns.remove(&response.completion_token);
            if let Some((_, stream_id)) = &found {
                Self::finished_on_stream(&mut state, *stream_id);
            }
            found
        };
        let Some((turn, _)) = found else {
            tracing::debug!(instance_id = %response.instance_id, "stale workflow completion ignored");
            return Ok(());
        };
        let now = now_micros();
        let commit = turn::apply(&turn, response, &self.inner.id, &self.inner.config.app_id, now);
        let finished = commit.completed_at.is_some().then_some(commit.status);
        // The history the next turn builds on, unless this execution ends here.
        let next_history = (finished.is_none() && commit.reset_to_execution.is_none())
            .then(|| turn.history.iter().chain(&commit.append).cloned().collect::<Vec<_>>());
        let mut touched: Vec<String> = vec![turn.instance_id.clone()];
        touched.extend(commit.messages.iter().map(|m| m.instance_id.clone()));
        touched.extend(commit.creates.iter().map(|c| c.instance_id.clone()));
        // A child of the turn's span; none when the turn is not traced (no root spans).
        let commit_span = if turn.span.is_none() {
            tracing::Span::none()
        } else {
            tracing::info_span!(parent: &turn.span, "engine commit", otel.name = "engine commit")
        };
        let committed = match self.write(Write::Turn(commit)).instrument(commit_span).await {
            Ok(committed) => committed,
            Err(e) => {
                self.give_back(Undelivered::turn(&turn)).await;
                self.wake();
                return Err(e);
            }
        };
        if !committed {
            tracing::warn!(instance_id = %turn.instance_id, "turn lost its lease before commit; it will be re-run");
            return Ok(());
        }
        match next_history {
            Some(history) => self.cache_history(&turn.instance_id, turn.execution_id.clone(), Arc::new(history)),
            None => {
                self.inner.histories.lock().expect("history cache lock").remove(&turn.instance_id);
            }
        }
        metrics::counter!("errand_engine_turns_total").increment(1);
        if let Some(code) = finished {
            let (name, status) = (turn.name.clone(), status::name(code));
            metrics::counter!("errand_engine_instances_finished_total", "name" => name.clone(), "status" => status)
                .increment(1);
            metrics::histogram!("errand_engine_instance_duration_seconds", "name" => name, "status" => status)
                .record((now - turn.created_at).max(0) as f64 / 1e6);
            tracing::debug!(instance_id = %turn.instance_id, status = status::name(code), "instance finished");
        }
        self.touched(touched.iter().map(String::as_str));
        self.wake();
        Ok(())
    }

    /// A worker finished an activity. Stale or unknown tokens are ignored.
    pub(crate) async fn complete_activity(&self, response: ActivityResponse) -> Result<(), EngineError> {
        {
            let mut state = self.inner.state.lock().expect("state lock");
            if let Some((_, _, stream_id)) = state.activities.remove(&response.completion_token) {
                Self::finished_on_stream(&mut state, stream_id);
            }
        }
        let Some((id, dequeue_count, task_execution_id)) = parse_activity_token(&response.completion_token) else {
            tracing::debug!(instance_id = %response.instance_id, "activity completion with an unknown token ignored");
            return Ok(());
        };
        let now = now_micros();
        let event_type = match response.failure_details {
            Some(failure) => EventType::TaskFailed(TaskFailedEvent {
                task_scheduled_id: response.task_id,
                failure_details: Some(failure),
                task_execution_id,
                attestation: None,
                signer_certificate: None,
            }),
            None => EventType::TaskCompleted(TaskCompletedEvent {
                task_scheduled_id: response.task_id,
                result: response.result,
                task_execution_id,
                attestation: None,
                signer_certificate: None,
            }),
        };
        let result = ActivityResult {
            id,
            dequeue_count,
            instance_id: response.instance_id,
            event: turn::event(-1, now, event_type),
            now,
        };
        if self.write(Write::ActivityResult(result)).await? {
            metrics::counter!("errand_engine_activities_total").increment(1);
            self.wake();
        }
        Ok(())
    }

    /// Commits `write` together with whatever other writes are waiting (group commit):
    /// one transaction for many turns and activity results under load.
    async fn write(&self, write: Write) -> Result<bool, EngineError> {
        let (done, result) = oneshot::channel();
        self.inner.writes.send((write, done)).map_err(|_| EngineError::Commit("the engine is closing".into()))?;
        result.await.map_err(|_| EngineError::Commit("the engine is closing".into()))?
    }

    /// Renews this engine's heartbeat (which keeps all its locks) every third of the
    /// lease until `shutdown`.
    pub(crate) async fn run_lease_keeper(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let every = self.inner.config.lease / 3;
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(every) => {}
            }
            if let Err(e) = self.store().heartbeat(&self.inner.id, self.lease_until(now_micros())).await {
                tracing::warn!(error = %e, "could not renew this engine's heartbeat");
            }
        }
    }

    /// Publishes queue gauges every few seconds until `shutdown`.
    pub(crate) async fn run_gauges(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let now = now_micros();
            match self.store().queue_stats(now).await {
                Ok(stats) => {
                    for code in status::ALL {
                        let count = stats.by_status.iter().find(|(s, _)| *s == code as i64).map_or(0, |(_, n)| *n);
                        metrics::gauge!("errand_engine_instances", "status" => status::name(code)).set(count as f64);
                    }
                    metrics::gauge!("errand_engine_ready_events").set(stats.ready_events as f64);
                    metrics::gauge!("errand_engine_pending_activities").set(stats.pending_activities as f64);
                    let age = |at: Option<i64>| at.map_or(0.0, |at| (now - at).max(0) as f64 / 1e6);
                    metrics::gauge!("errand_engine_oldest_ready_event_seconds").set(age(stats.oldest_ready_at));
                    metrics::gauge!("errand_engine_oldest_pending_activity_seconds").set(age(stats.oldest_activity_at));
                }
                Err(e) => tracing::warn!(error = %e, "could not read queue figures"),
            }
            let workers = self.inner.state.lock().expect("state lock").streams.len();
            metrics::gauge!("errand_engine_connected_workers").set(workers as f64);
            self.inner.watchers.lock().expect("watchers lock").retain(|_, n| Arc::strong_count(n) > 1);
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            }
        }
    }

    /// Purges instances that finished longer than the retention period ago, every so
    /// often, until `shutdown`; does nothing when instances are kept forever.
    pub(crate) async fn run_retention(&self, shutdown: impl Future<Output = ()>) {
        let Some(retention) = self.inner.config.retention else { return };
        tokio::pin!(shutdown);
        let every = (retention / 10).clamp(Duration::from_secs(1), Duration::from_secs(3600));
        loop {
            let cutoff = now_micros() - retention.as_micros() as i64;
            loop {
                let purged = async {
                    let ids = self.store().finished_before(cutoff, 500).await?;
                    let deleted = self.store().purge(&ids).await?.unwrap_or(0);
                    self.touched(ids.iter().map(String::as_str));
                    Ok::<_, EngineError>((ids.len(), deleted))
                }
                .await;
                match purged {
                    Ok((found, deleted)) => {
                        if deleted > 0 {
                            metrics::counter!("errand_engine_instances_purged_total").increment(deleted as u64);
                            tracing::info!(deleted, "purged instances past their retention");
                        }
                        if found < 500 {
                            break;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "purging old instances failed");
                        break;
                    }
                }
            }
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(every) => {}
            }
        }
    }

    pub(crate) async fn close(&self) {
        if let Err(e) = self.store().retire(&self.inner.id).await {
            tracing::warn!(error = %e, "could not retire this engine; its locks free up when its heartbeat expires");
        }
        self.store().close().await;
    }

    // ---- client operations ------------------------------------------------------------

    pub(crate) async fn start_instance(&self, request: CreateInstanceRequest) -> Result<String, Status> {
        let instance_id =
            if request.instance_id.is_empty() { uuid::Uuid::new_v4().to_string() } else { request.instance_id };
        validate_instance_id(&instance_id)?;
        if request.name.is_empty() {
            return Err(Status::invalid_argument("a workflow name is required"));
        }
        let now = now_micros();
        let execution_id = request.execution_id.filter(|e| !e.is_empty()).unwrap_or_else(turn::new_execution_id);
        let scheduled = request.scheduled_start_timestamp;
        let started = turn::execution_started(
            &instance_id,
            &execution_id,
            &request.name,
            request.version.clone(),
            request.input.clone(),
            None,
            scheduled,
            request.tags.clone(),
            request.parent_trace_context,
            now,
        );
        let new = NewInstance {
            instance_id: instance_id.clone(),
            name: request.name,
            version: request.version,
            execution_id,
            input: request.input,
            scheduled_start: scheduled.as_ref().map(from_timestamp),
            parent_instance_id: None,
            parent_app_id: None,
            tags: serde_json::to_string(&request.tags).unwrap_or_else(|_| "{}".into()),
            started,
        };
        if !self.store().create_instance(&new, now).await.map_err(internal)? {
            return Err(Status::already_exists(format!("orchestration instance already exists: {instance_id}")));
        }
        tracing::debug!(instance_id = %instance_id, "instance created");
        self.wake();
        if scheduled.is_none() {
            self.wait_until(&instance_id, |row| row.status != status::PENDING as i64).await?;
        }
        Ok(instance_id)
    }

    /// Waits until `done` holds for the instance (which may not exist yet).
    pub(crate) async fn wait_until(
        &self,
        id: &str,
        done: impl Fn(&InstanceRow) -> bool,
    ) -> Result<InstanceRow, Status> {
        loop {
            let notify = {
                let mut watchers = self.inner.watchers.lock().expect("watchers lock");
                watchers.entry(id.to_string()).or_default().clone()
            };
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(row) = self.store().instance(id).await.map_err(internal)? {
                if done(&row) {
                    return Ok(row);
                }
            }
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep(self.inner.config.poll_interval) => {}
            }
        }
    }

    pub(crate) async fn instance(&self, id: &str) -> Result<Option<InstanceRow>, Status> {
        self.store().instance(id).await.map_err(internal)
    }

    async fn existing(&self, id: &str) -> Result<InstanceRow, Status> {
        self.instance(id).await?.ok_or_else(|| Status::not_found(format!("no such instance exists: {id}")))
    }

    async fn enqueue(&self, id: &str, event_type: EventType) -> Result<(), Status> {
        let now = now_micros();
        let message = Message {
            instance_id: id.to_string(),
            execution_id: None,
            visible_at: now,
            event: turn::event(-1, now, event_type),
        };
        self.store().enqueue(&message).await.map_err(internal)?;
        self.wake();
        Ok(())
    }

    pub(crate) async fn raise_event(&self, id: &str, name: String, input: Option<String>) -> Result<(), Status> {
        let row = self.existing(id).await?;
        if status::is_terminal(row.status as i32) {
            return Ok(());
        }
        self.enqueue(id, EventType::EventRaised(EventRaisedEvent { name, input })).await
    }

    pub(crate) async fn terminate(&self, id: &str, output: Option<String>, recurse: bool) -> Result<(), Status> {
        let row = self.existing(id).await?;
        if status::is_terminal(row.status as i32) && !recurse {
            return Ok(());
        }
        self.enqueue(id, EventType::ExecutionTerminated(ExecutionTerminatedEvent { input: output, recurse })).await?;
        if row.status == status::PENDING as i64 {
            self.store().start_now(id, now_micros()).await.map_err(internal)?;
            self.wake();
        }
        Ok(())
    }

    pub(crate) async fn suspend(&self, id: &str, reason: Option<String>, resume: bool) -> Result<(), Status> {
        let row = self.existing(id).await?;
        if status::is_terminal(row.status as i32) {
            return Ok(());
        }
        let input = reason.filter(|r| !r.is_empty());
        let event = if resume {
            EventType::ExecutionResumed(ExecutionResumedEvent { input })
        } else {
            EventType::ExecutionSuspended(ExecutionSuspendedEvent { input })
        };
        self.enqueue(id, event).await
    }

    pub(crate) async fn history(&self, id: &str) -> Result<Vec<HistoryEvent>, Status> {
        self.existing(id).await?;
        self.store().history(id).await.map_err(internal)
    }

    pub(crate) async fn list_ids(
        &self,
        after: &str,
        page_size: usize,
    ) -> Result<(Vec<String>, Option<String>), Status> {
        let ids = self.store().list_ids(after, page_size as i64).await.map_err(internal)?;
        let token = if ids.len() == page_size { ids.last().cloned() } else { None };
        Ok((ids, token))
    }

    /// Purges one instance, or its whole tree of children when `recursive`.
    pub(crate) async fn purge(
        &self,
        request: Option<purge_instances_request::Request>,
        recursive: bool,
        force: bool,
    ) -> Result<i32, Status> {
        let id = match request {
            Some(purge_instances_request::Request::InstanceId(id)) => id,
            Some(purge_instances_request::Request::PurgeInstanceFilter(filter)) => {
                let from = filter.created_time_from.as_ref().map_or(i64::MIN, from_timestamp);
                let to = filter.created_time_to.as_ref().map_or(i64::MAX, from_timestamp);
                let ids = self.store().finished_ids(from, to, &filter.runtime_status).await.map_err(internal)?;
                // Each is finished, so none can make the transaction refuse; an instance
                // restarted meanwhile is skipped.
                let mut deleted = 0;
                for chunk in ids.chunks(500) {
                    deleted += self.store().purge(chunk).await.map_err(internal)?.unwrap_or(0);
                }
                self.touched(ids.iter().map(String::as_str));
                return Ok(deleted as i32);
            }
            None => return Err(Status::invalid_argument("an instance id or a filter is required")),
        };
        let root = self.existing(&id).await?;
        // `force` skips only this check on the root; every instance must still be finished.
        let forced = recursive && force;
        if !(status::is_terminal(root.status as i32) || forced) {
            return Err(Status::failed_precondition(format!("orchestration has not yet completed: {id}")));
        }
        let mut ids = vec![id.clone()];
        if recursive {
            let mut next = 0;
            while next < ids.len() {
                let history = self.store().history(&ids[next]).await.map_err(internal)?;
                for e in history {
                    if let Some(EventType::ChildWorkflowInstanceCreated(c)) = e.event_type {
                        if !ids.contains(&c.instance_id) {
                            ids.push(c.instance_id);
                        }
                    }
                }
                next += 1;
            }
        }
        match self.store().purge(&ids).await.map_err(internal)? {
            Some(deleted) => {
                self.touched(ids.iter().map(String::as_str));
                Ok(deleted as i32)
            }
            None if ids.len() > 1 => Err(Status::failed_precondition(format!(
                "failed to purge child workflow of {id}: it has not yet completed"
            ))),
            None => Err(Status::failed_precondition(format!("orchestration has not yet completed: {id}"))),
        }
    }

    pub(crate) fn app_id(&self) -> &str {
        &self.inner.config.app_id
    }
}

/// Takes waiting writes in batches and commits each batch in one transaction, until
/// every sender is gone.
async fn run_committer(store: Store, mut pending: mpsc::UnboundedReceiver<PendingWrite>) {
    let mut batch = Vec::with_capacity(WRITE_BATCH);
    while pending.recv_many(&mut batch, WRITE_BATCH).await > 0 {
        let (writes, waiters): (Vec<Write>, Vec<_>) = batch.drain(..).unzip();
        metrics::histogram!("errand_engine_commit_batch_size").record(writes.len() as f64);
        match store.write_batch(&writes).await {
            Ok(applied) => {
                for (waiter, applied) in waiters.into_iter().zip(applied) {
                    let _ = waiter.send(Ok(applied));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, writes = writes.len(), "group commit failed");
                for waiter in waiters {
                    let _ = waiter.send(Err(EngineError::Commit(e.to_string())));
                }
            }
        }
    }
}

/// The state a client sees; payloads only when asked for.
pub(crate) fn workflow_state(row: &InstanceRow, payloads: bool) -> WorkflowState {
    let failure = row.failure.as_deref().and_then(|bytes| TaskFailureDetails::decode(bytes).ok());
    WorkflowState {
        instance_id: row.instance_id.clone(),
        name: row.name.clone(),
        version: row.version.clone(),
        workflow_status: row.status as i32,
        scheduled_start_timestamp: row.scheduled_start.map(timestamp),
        created_timestamp: Some(timestamp(row.created_at)),
        last_updated_timestamp: Some(timestamp(row.updated_at)),
        input: if payloads { row.input.clone() } else { None },
        output: if payloads { row.output.clone() } else { None },
        custom_status: if payloads { row.custom_status.clone() } else { None },
        failure_details: if payloads { failure } else { None },
        execution_id: Some(row.execution_id.clone()),
        completed_timestamp: row.completed_at.map(timestamp),
        parent_instance_id: row.parent_instance_id.clone(),
        tags: serde_json::from_str(&row.tags).unwrap_or_default(),
        parent_app_id: row.parent_app_id.clone(),
        started_at: row.started_at.map(timestamp),
    }
}

/// Gives a turn of a traced execution the engine's span, from hand-out to commit; what
/// the turn schedules (activities, children) joins the trace under that span.
fn trace_turn(turn: &mut Turn) {
    let Some(trace) = &turn.trace else { return };
    let span = tracing::info_span!(
        "engine turn",
        otel.name = format!("engine turn {}", turn.name),
        instance_id = %turn.instance_id,
        events = turn.new_events.len(),
    );
    errand_telemetry::continue_from(&span, Some(&trace.trace_parent), trace.trace_state.as_deref());
    if let Some(own) = errand_telemetry::of_span(&span) {
        #[allow(deprecated)] // span_id: the proto's old field, left empty as the SDK does
        let own = TraceContext { trace_parent: own.traceparent, span_id: String::new(), trace_state: own.tracestate };
        turn.trace = Some(own);
    }
    turn.span = span;
}

fn activity_token(id: i64, dequeue_count: i64, task_execution_id: &str) -> String {
    format!("a:{id}:{dequeue_count}:{task_execution_id}")
}

fn parse_activity_token(token: &str) -> Option<(i64, i64, String)> {
    let mut parts = token.strip_prefix("a:")?.splitn(3, ':');
    let id = parts.next()?.parse().ok()?;
    let dequeue_count = parts.next()?.parse().ok()?;
    Some((id, dequeue_count, parts.next().unwrap_or_default().to_string()))
}

/// Ids the SDK's worker accepts: non-empty, at most 1024 bytes, no control characters.
fn validate_instance_id(id: &str) -> Result<(), Status> {
    if id.is_empty() || id.len() > 1024 || id.chars().any(char::is_control) {
        return Err(Status::invalid_argument("an instance id must be 1 to 1024 bytes without control characters"));
    }
    Ok(())
}

fn internal(e: EngineError) -> Status {
    tracing::error!(error = %e, "engine storage failed");
    Status::unavailable("the engine's storage is unavailable")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_tokens_round_trip() {
        let token = activity_token(42, 3, "0b7e-uuid");
        assert_eq!(parse_activity_token(&token), Some((42, 3, "0b7e-uuid".to_string())));
        assert_eq!(parse_activity_token("3f2a-some-turn-token"), None);
        assert_eq!(parse_activity_token("a:x:1:"), None);
    }

    #[test]
    fn instance_ids_are_checked() {
        assert!(validate_instance_id("order-1").is_ok());
        assert!(validate_instance_id("").is_err());
        assert!(validate_instance_id("bad\nid").is_err());
        assert!(validate_instance_id(&"x".repeat(1025)).is_err());
    }
}
