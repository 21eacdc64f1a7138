//! Errand's ops inspection of workflows: the query over every instance ([`query`]),
//! detail and history, actions on one instance and batches of them, health figures and
//! a change feed. It reads the embedded engine's own tables ([`errand_engine::inspect`])
//! when the engine runs in this process, and otherwise (daprd, durabletask-go) the
//! durabletask client API the sidecar serves ([`sidecar`]); actions always go through
//! that API. `task:` and `user:` are resolved through Errand's records of whose
//! instance each is. It knows nothing of HTTP: the API's ops routes and the CLI are
//! its callers.
//!
//! Public surface: [`Ops`] and its views, [`query`], [`batch`] (the batch spec and the
//! activities an approved batch runs).

pub mod batch;
pub mod query;
mod sidecar;

use std::collections::{BTreeMap, HashMap};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use errand_engine::inspect::{self, After, Atom, Filter, Inspector, Order, Summary, Wait};
use errand_store::Store;
use errand_workflows::HistoryEntry;
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

pub use query::{parse, Query, QueryError};
pub use sidecar::Sidecar;

/// Why an ops call failed.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// The query does not parse.
    #[error("{0}")]
    Query(#[from] QueryError),
    /// A parameter is wrong (field, message).
    #[error("{1}")]
    Invalid(&'static str, String),
    /// No such instance.
    #[error("no workflow instance {0:?}")]
    NotFound(String),
    /// The action does not fit the instance's state (purging a running one).
    #[error("{0}")]
    Conflict(String),
    /// The runtime cannot do this (said precisely).
    #[error("{0}")]
    Unavailable(String),
    /// The engine's database or the sidecar failed.
    #[error("{0}")]
    Backend(String),
}

impl From<errand_engine::EngineError> for OpsError {
    fn from(e: errand_engine::EngineError) -> Self {
        OpsError::Backend(e.to_string())
    }
}

impl From<errand_store::StoreError> for OpsError {
    fn from(e: errand_store::StoreError) -> Self {
        OpsError::Backend(e.to_string())
    }
}

/// Most instance ids `user:` or `task:` resolves to, and most instances a sidecar
/// listing scans.
pub const MAX_IDS: usize = 10_000;

/// What an instance waits for.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct WaitView {
    /// `timer`, `event`, `activity`, `child` or `suspended`.
    pub reason: String,
    /// When the timer is due.
    pub until: Option<DateTime<Utc>>,
    /// The events it may be waiting for (Errand's workflows say which they await).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
}

/// An instance in a list.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct InstanceView {
    /// Instance id.
    pub id: String,
    /// The workflow (`reminder`, `recurring`, `confirm_action`).
    pub kind: String,
    /// `running`, `pending`, `suspended`, `completed`, `failed`, `terminated`, `canceled`.
    pub status: String,
    /// What it waits for, while it waits.
    pub waiting: Option<WaitView>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// Finished.
    pub completed_at: Option<DateTime<Utc>>,
    /// What the workflow says of itself.
    pub custom_status: Option<String>,
    /// Its parent instance.
    pub parent_id: Option<String>,
    /// Whose it is, when Errand recorded it.
    pub user_id: Option<String>,
    /// The task it concerns.
    pub task_id: Option<String>,
}

/// A page of a query.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Page {
    /// Instances in order.
    pub items: Vec<InstanceView>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
    /// Matches across all pages.
    pub total: u64,
    /// Matches per status, across all pages.
    #[schema(value_type = Object)]
    pub counts: BTreeMap<String, u64>,
    /// What this runtime cannot show, if anything (why the list may be partial).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unavailable: Vec<String>,
}

/// A time histogram of a query's matches by creation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Histogram {
    /// Width of a bucket, in seconds.
    pub bucket_seconds: i64,
    /// Every bucket, oldest first, empty ones included.
    pub buckets: Vec<Bucket>,
}

/// One histogram bucket.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Bucket {
    /// Its start.
    pub start: DateTime<Utc>,
    /// Instances created from its start to the next bucket's.
    pub count: u64,
}

/// One instance in full.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DetailView {
    /// The list fields.
    pub instance: InstanceView,
    /// Execution id (changes with continue-as-new).
    pub execution_id: Option<String>,
    /// Its input (JSON when it parses).
    pub input: Value,
    /// Its output.
    pub output: Value,
    /// Why it failed: `{type, message, details}`.
    pub failure: Value,
    /// Started.
    pub started_at: Option<DateTime<Utc>>,
    /// Children: `{id, kind, status}`.
    #[schema(value_type = Vec<Object>)]
    pub children: Vec<Value>,
    /// Pending timers: `{due_at}`.
    #[schema(value_type = Vec<Object>)]
    pub timers: Vec<Value>,
    /// Activities queued or running: `{name, queued_at, attempts}`.
    #[schema(value_type = Vec<Object>)]
    pub activities: Vec<Value>,
    /// Events delivered but not yet taken by a turn: `{type, name}`.
    #[schema(value_type = Vec<Object>)]
    pub buffered: Vec<Value>,
    /// What this runtime cannot show of it, if anything.
    pub unavailable: Vec<String>,
}

/// An instance's history.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HistoryView {
    /// Events in order, each completion with `duration_ms` since what it answers.
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<Value>,
}

/// Health figures.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatsView {
    /// Counts per kind and status: `{kind: {status: n}}`.
    #[schema(value_type = Object)]
    pub by_kind: BTreeMap<String, BTreeMap<String, u64>>,
    /// Per wait reason: `{reason, count, oldest: {id, since}}`.
    #[schema(value_type = Vec<Object>)]
    pub waiting: Vec<Value>,
    /// Instances with ready work untouched for longer than `stuck_after_seconds`.
    pub stuck: Vec<InstanceView>,
    /// The threshold.
    pub stuck_after_seconds: i64,
    /// How late timers fired over the last hour: `{p50_ms, p99_ms, samples}` (this process).
    #[schema(value_type = Object)]
    pub timer_lateness: Value,
    /// How long activities waited before dispatch over the last hour (this process).
    #[schema(value_type = Object)]
    pub activity_queue_delay: Value,
    /// Unresolved dead letters.
    pub dead_letters: u64,
    /// What this runtime cannot show, if anything.
    pub unavailable: Vec<String>,
}

/// A change-feed entry: an instance as it is after a change, and the cursor after it.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// Resume after this (`Last-Event-ID`).
    pub cursor: String,
    /// The instance.
    pub instance: InstanceView,
}

/// Where instances are read from.
#[derive(Clone)]
enum Source {
    /// The embedded engine's tables.
    Engine(Inspector),
    /// The sidecar's client API.
    Sidecar,
}

/// Ops over the workflows of one Errand deployment; cheap to clone.
#[derive(Clone)]
pub struct Ops {
    source: Source,
    sidecar: Sidecar,
    store: Store,
}

fn micros(at: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at).unwrap_or_default()
}

/// A JSON payload as JSON when it parses, else as a string; null when absent.
fn payload(text: &Option<String>) -> Value {
    match text {
        Some(t) => serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.clone())),
        None => Value::Null,
    }
}

fn encode_cursor(at: i64, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{at}:{id}"))
}

fn decode_cursor(text: &str) -> Option<After> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(text).ok()?).ok()?;
    let (at, id) = raw.split_once(':')?;
    Some(After { at: at.parse().ok()?, id: id.to_string() })
}

/// The order a `sort` parameter names.
pub fn order(sort: &str) -> Result<Order, OpsError> {
    Ok(match sort {
        "" | "-created" => Order::CreatedDesc,
        "created" => Order::CreatedAsc,
        "-updated" => Order::UpdatedDesc,
        "updated" => Order::UpdatedAsc,
        other => {
            return Err(OpsError::Invalid(
                "sort",
                format!("unknown sort {other:?}; use created, -created, updated or -updated"),
            ))
        }
    })
}

impl Ops {
    /// Ops reading the embedded engine through `inspector` (when it runs in this
    /// process) and acting through the sidecar at `sidecar_address`.
    pub fn new(inspector: Option<Inspector>, sidecar_address: &str, store: Store) -> Result<Ops, OpsError> {
        let source = match inspector {
            Some(inspector) => Source::Engine(inspector),
            None => Source::Sidecar,
        };
        Ok(Ops { source, sidecar: Sidecar::new(sidecar_address)?, store })
    }

    /// True when the instances are read from the engine's own tables.
    pub fn reads_engine_tables(&self) -> bool {
        matches!(self.source, Source::Engine(_))
    }

    /// Resolves `task:` and `user:` to instance ids, and text to id or custom status.
    async fn resolve(&self, query: &Query) -> Result<Filter, OpsError> {
        Ok(match query {
            Query::All => Filter::All,
            Query::And(a, b) => {
                Filter::And(Box::new(Box::pin(self.resolve(a)).await?), Box::new(Box::pin(self.resolve(b)).await?))
            }
            Query::Or(a, b) => {
                Filter::Or(Box::new(Box::pin(self.resolve(a)).await?), Box::new(Box::pin(self.resolve(b)).await?))
            }
            Query::Not(a) => Filter::Not(Box::new(Box::pin(self.resolve(a)).await?)),
            Query::Engine(Atom::Waiting(wait @ (Wait::Event | Wait::Timer))) => {
                // A workflow that awaits an event with a timeout has a timer pending: it
                // waits for the event (until the timer), not for the timer.
                let awaiting = errand_workflows::events::AWAITING
                    .iter()
                    .map(|name| Filter::Atom(Atom::Name(name.to_string())))
                    .reduce(|a, b| Filter::Or(Box::new(a), Box::new(b)))
                    .unwrap_or(Filter::All);
                let timer = Filter::Atom(Atom::Waiting(Wait::Timer));
                if *wait == Wait::Event {
                    Filter::Or(
                        Box::new(Filter::Atom(Atom::Waiting(Wait::Event))),
                        Box::new(Filter::And(Box::new(timer), Box::new(awaiting))),
                    )
                } else {
                    Filter::And(Box::new(timer), Box::new(Filter::Not(Box::new(awaiting))))
                }
            }
            Query::Engine(atom) => Filter::Atom(atom.clone()),
            Query::Task(task) => {
                Filter::Atom(Atom::Ids(self.store.workflow_ids_of(None, Some(task), MAX_IDS as i64).await?))
            }
            Query::User(user) => {
                Filter::Atom(Atom::Ids(self.store.workflow_ids_of(Some(user), None, MAX_IDS as i64).await?))
            }
            Query::Text(text) => Filter::Or(
                Box::new(Filter::Atom(Atom::IdContains(text.clone()))),
                Box::new(Filter::Atom(Atom::CustomStatus(text.clone()))),
            ),
        })
    }

    /// The filter a query text means at `now`.
    pub async fn filter(&self, text: &str, now: DateTime<Utc>) -> Result<Filter, OpsError> {
        let query = parse(text, now)?;
        self.resolve(&query).await
    }

    /// Adds whose each instance is and the task it concerns.
    async fn views(&self, summaries: Vec<Summary>) -> Result<Vec<InstanceView>, OpsError> {
        let ids: Vec<String> = summaries.iter().map(|s| s.instance_id.clone()).collect();
        let owners: HashMap<String, errand_store::WorkflowRecord> =
            self.store.workflow_records(&ids).await?.into_iter().map(|r| (r.instance_id.clone(), r)).collect();
        Ok(summaries
            .into_iter()
            .map(|s| {
                let owner = owners.get(&s.instance_id);
                view(&s, owner.map(|o| o.user_id.clone()), owner.and_then(|o| o.task_id.clone()))
            })
            .collect())
    }

    /// A page of the instances `text` matches, in `sort` order, after `cursor`.
    pub async fn list(&self, text: &str, sort: &str, cursor: Option<&str>, limit: usize) -> Result<Page, OpsError> {
        let now = Utc::now();
        let order = order(sort)?;
        let after = match cursor {
            Some(c) => Some(decode_cursor(c).ok_or_else(|| OpsError::Invalid("cursor", "cursor is malformed".into()))?),
            None => None,
        };
        let filter = self.filter(text, now).await?;
        let limit = limit.clamp(1, 500);
        let mut unavailable = Vec::new();
        let (summaries, counts) = match &self.source {
            Source::Engine(inspector) => {
                // The page and the counts on two read connections at once.
                futures_util::try_join!(
                    inspector.list(&filter, order, after.as_ref(), limit + 1, now.timestamp_micros()),
                    inspector.counts(&filter, now.timestamp_micros()),
                )?
            }
            Source::Sidecar => {
                let (all, notes) = self.sidecar_instances().await?;
                unavailable = notes;
                Sidecar::page(all, &filter, order, after.as_ref(), limit + 1, now)
            }
        };
        let more = summaries.len() > limit;
        let summaries: Vec<Summary> = summaries.into_iter().take(limit).collect();
        let next_cursor = more.then(|| summaries.last()).flatten().map(|last| match order {
            Order::CreatedDesc | Order::CreatedAsc => encode_cursor(last.created_at, &last.instance_id),
            Order::UpdatedDesc | Order::UpdatedAsc => encode_cursor(last.updated_at, &last.instance_id),
        });
        let mut by_status = BTreeMap::new();
        for (code, n) in counts {
            *by_status.entry(query::status_name(code as i32).to_string()).or_insert(0) += n as u64;
        }
        let total = by_status.values().sum();
        Ok(Page { items: self.views(summaries).await?, next_cursor, total, counts: by_status, unavailable })
    }

    /// How many of the matches were created in each bucket of the last `range_hours`.
    pub async fn histogram(&self, text: &str, range_hours: i64) -> Result<Histogram, OpsError> {
        let now = Utc::now();
        let range_hours = range_hours.clamp(1, 24 * 90);
        // About 24 to 48 buckets whatever the range.
        let bucket_seconds = (range_hours * 3600 / 24).max(60);
        let from = now - chrono::Duration::hours(range_hours);
        let filter = self.filter(text, now).await?;
        let counts: Vec<(i64, i64)> = match &self.source {
            Source::Engine(inspector) => {
                inspector
                    .histogram(&filter, from.timestamp_micros(), bucket_seconds * 1_000_000, now.timestamp_micros())
                    .await?
            }
            Source::Sidecar => {
                let (all, _) = self.sidecar_instances().await?;
                Sidecar::histogram(&all, &filter, from, bucket_seconds, now)
            }
        };
        let by_start: HashMap<i64, i64> = counts.into_iter().collect();
        let mut buckets = Vec::new();
        let mut start = from.timestamp_micros();
        while start < now.timestamp_micros() {
            buckets.push(Bucket { start: micros(start), count: by_start.get(&start).copied().unwrap_or(0) as u64 });
            start += bucket_seconds * 1_000_000;
        }
        Ok(Histogram { bucket_seconds, buckets })
    }

    /// One instance in full.
    pub async fn detail(&self, id: &str) -> Result<DetailView, OpsError> {
        let now = Utc::now();
        match &self.source {
            Source::Engine(inspector) => {
                let detail = inspector
                    .detail(id, now.timestamp_micros())
                    .await?
                    .ok_or_else(|| OpsError::NotFound(id.to_string()))?;
                let instance = self.views(vec![detail.summary.clone()]).await?.remove(0);
                Ok(detail_view(instance, &detail))
            }
            Source::Sidecar => {
                let (summary, state, history) = self.sidecar.detail(id).await?;
                let instance = self.views(vec![summary]).await?.remove(0);
                Ok(sidecar::detail_view(instance, &state, history.as_deref()))
            }
        }
    }

    /// An instance's history, each completion with the time since what it answers.
    pub async fn history(&self, id: &str) -> Result<HistoryView, OpsError> {
        let events = self.sidecar.history(id).await?;
        Ok(HistoryView { events: with_durations(&errand_workflows::history_entries(&events)) })
    }

    /// Health: counts by kind and status, the oldest wait per reason, stuck instances,
    /// timer lateness and activity queue delay, dead letters.
    pub async fn stats(&self, stuck_after: chrono::Duration) -> Result<StatsView, OpsError> {
        let now = Utc::now();
        let stuck_micros = stuck_after.num_microseconds().unwrap_or(i64::MAX);
        let dead_letters = self.store.dead_letter_count().await? as u64;
        let quantiles = |window: &inspect::Window| match window.quantiles(now.timestamp_micros()) {
            Some((p50, p99, n)) => {
                json!({ "p50_ms": p50 as f64 / 1000.0, "p99_ms": p99 as f64 / 1000.0, "samples": n })
            }
            None => json!({ "p50_ms": null, "p99_ms": null, "samples": 0 }),
        };
        let mut by_kind: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        let (waiting, stuck, unavailable) = match &self.source {
            Source::Engine(inspector) => {
                for (name, code, n) in inspector.counts_by_name_status().await? {
                    *by_kind.entry(name).or_default().entry(query::status_name(code as i32).into()).or_insert(0) +=
                        n as u64;
                }
                let mut waiting = Vec::new();
                for wait in Wait::ALL {
                    let filter = self.resolve(&Query::Engine(Atom::Waiting(wait))).await?;
                    let count: i64 =
                        inspector.counts(&filter, now.timestamp_micros()).await?.iter().map(|(_, n)| n).sum();
                    let oldest = inspector.list(&filter, Order::UpdatedAsc, None, 1, now.timestamp_micros()).await?;
                    waiting.push(json!({
                        "reason": wait.name(),
                        "count": count,
                        "oldest": oldest.first().map(|s| json!({ "id": s.instance_id, "since": micros(s.updated_at) })),
                    }));
                }
                let stuck_filter = Filter::Atom(Atom::Stuck(stuck_micros));
                let rows = inspector.list(&stuck_filter, Order::UpdatedAsc, None, 50, now.timestamp_micros()).await?;
                (waiting, self.views(rows).await?, Vec::new())
            }
            Source::Sidecar => {
                let (summaries, mut note) = self.sidecar_instances().await?;
                note.push(
                    "timer lateness, activity queue delay and stuck detection by ready work are read from the \
                     engine's tables, which this runtime does not expose"
                        .into(),
                );
                for s in &summaries {
                    *by_kind
                        .entry(s.name.clone())
                        .or_default()
                        .entry(query::status_name(s.status as i32).into())
                        .or_insert(0) += 1;
                }
                let mut waiting = Vec::new();
                for wait in Wait::ALL {
                    let mut matching: Vec<&Summary> =
                        summaries.iter().filter(|s| wait_view(s).is_some_and(|w| w.reason == wait.name())).collect();
                    matching.sort_by_key(|s| s.updated_at);
                    waiting.push(json!({
                        "reason": wait.name(),
                        "count": matching.len(),
                        "oldest": matching.first().map(|s| json!({ "id": s.instance_id, "since": micros(s.updated_at) })),
                    }));
                }
                let stuck: Vec<Summary> = summaries
                    .into_iter()
                    .filter(|s| sidecar::is_stuck(s, now.timestamp_micros(), stuck_micros))
                    .collect();
                (waiting, self.views(stuck).await?, note)
            }
        };
        Ok(StatsView {
            by_kind,
            waiting,
            stuck,
            stuck_after_seconds: stuck_after.num_seconds(),
            timer_lateness: quantiles(&inspect::RECENT.timer_lateness),
            activity_queue_delay: quantiles(&inspect::RECENT.activity_delay),
            dead_letters,
            unavailable,
        })
    }

    /// Instances changed after `cursor` (or in the last minute without one), oldest
    /// change first.
    pub async fn changes(&self, cursor: Option<&str>, limit: usize) -> Result<Vec<Change>, OpsError> {
        let now = Utc::now();
        let after = match cursor.and_then(decode_cursor) {
            Some(after) => after,
            None => After { at: (now - chrono::Duration::minutes(1)).timestamp_micros(), id: String::new() },
        };
        let rows = match &self.source {
            Source::Engine(inspector) => {
                inspector.changed_since(after.at, &after.id, limit, now.timestamp_micros()).await?
            }
            Source::Sidecar => {
                let filter = Filter::Atom(Atom::UpdatedAfter(after.at));
                let (all, _) = self.sidecar_instances().await?;
                Sidecar::page(all, &filter, Order::UpdatedAsc, Some(&after), limit, now).0
            }
        };
        let cursors: Vec<String> = rows.iter().map(|r| encode_cursor(r.updated_at, &r.instance_id)).collect();
        Ok(self
            .views(rows)
            .await?
            .into_iter()
            .zip(cursors)
            .map(|(instance, cursor)| Change { cursor, instance })
            .collect())
    }

    /// Every instance of a sidecar without engine tables here: those it lists, or where
    /// it lists none (daprd 1.16), those Errand recorded starting; with what running ones
    /// wait for. The notes say what this runtime could not show.
    async fn sidecar_instances(&self) -> Result<(Vec<Summary>, Vec<String>), OpsError> {
        let mut notes = Vec::new();
        let ids = match self.sidecar.list_ids().await? {
            Some(ids) => ids,
            None => {
                notes.push(sidecar::LISTING_FROM_RECORDS.to_string());
                self.store.workflow_ids_of(None, None, MAX_IDS as i64).await?
            }
        };
        let (summaries, more) = self.sidecar.summaries(&ids).await?;
        notes.extend(more);
        Ok((summaries, notes))
    }

    /// Terminates an instance (and, `recursive`, its children).
    pub async fn terminate(&self, id: &str, reason: Option<&str>, recursive: bool) -> Result<(), OpsError> {
        self.sidecar.state(id).await?;
        self.sidecar.terminate(id, &json!({ "reason": reason }).to_string(), recursive).await
    }

    /// Suspends an instance.
    pub async fn suspend(&self, id: &str, reason: Option<&str>) -> Result<(), OpsError> {
        self.sidecar.state(id).await?;
        self.sidecar.suspend(id, reason, false).await
    }

    /// Resumes a suspended instance.
    pub async fn resume(&self, id: &str, reason: Option<&str>) -> Result<(), OpsError> {
        self.sidecar.state(id).await?;
        self.sidecar.suspend(id, reason, true).await
    }

    /// Raises an event on an instance.
    pub async fn raise(&self, id: &str, name: &str, data: &Value) -> Result<(), OpsError> {
        if name.trim().is_empty() || name.len() > 200 {
            return Err(OpsError::Invalid("name", "an event name has 1 to 200 characters".into()));
        }
        self.sidecar.state(id).await?;
        self.sidecar.raise(id, name, data).await
    }

    /// Purges a finished instance (its state and history); 409 for one still running.
    pub async fn purge(&self, id: &str) -> Result<(), OpsError> {
        let state = self.sidecar.state(id).await?;
        if !sidecar::is_terminal(state.workflow_status) {
            return Err(OpsError::Conflict(format!(
                "{id} is {}; only finished instances can be purged (terminate it first)",
                query::status_name(state.workflow_status)
            )));
        }
        self.sidecar.purge(id).await
    }

    /// Starts a new instance of the same workflow with the same input; its id.
    pub async fn rerun(&self, id: &str) -> Result<String, OpsError> {
        let state = self.sidecar.state(id).await?;
        let new_id = format!("{id}:rerun:{}", errand_domain::new_id());
        self.sidecar.start(&new_id, &state.name, state.input.clone()).await?;
        if let Some(owner) = self.store.workflow_records(&[id.to_string()]).await?.into_iter().next() {
            let record = errand_store::WorkflowRecord { instance_id: new_id.clone(), created_at: Utc::now(), ..owner };
            self.store.record_workflow(&record).await?;
        }
        Ok(new_id)
    }
}

/// What an instance waits for, as an operator reads it: a workflow that awaits events
/// and has a timer pending waits for the event until the timer (its timeout).
fn wait_view(summary: &Summary) -> Option<WaitView> {
    let events: Vec<String> =
        errand_workflows::events::awaited_by(&summary.name).iter().map(|e| e.to_string()).collect();
    let wait = match summary.waiting()? {
        Wait::Timer if !events.is_empty() => Wait::Event,
        other => other,
    };
    Some(WaitView {
        reason: wait.name().to_string(),
        until: matches!(wait, Wait::Timer | Wait::Event).then(|| summary.next_timer.map(micros)).flatten(),
        events: if wait == Wait::Event { events } else { Vec::new() },
    })
}

fn view(s: &Summary, user_id: Option<String>, task_id: Option<String>) -> InstanceView {
    InstanceView {
        id: s.instance_id.clone(),
        kind: s.name.clone(),
        status: query::status_name(s.status as i32).to_string(),
        waiting: wait_view(s),
        created_at: micros(s.created_at),
        updated_at: micros(s.updated_at),
        completed_at: s.completed_at.map(micros),
        custom_status: s.custom_status.clone(),
        parent_id: s.parent_instance_id.clone(),
        user_id,
        task_id,
    }
}

fn failure_json(failure: Option<&dapr_durabletask_proto::TaskFailureDetails>) -> Value {
    failure
        .map_or(Value::Null, |f| json!({ "type": f.error_type, "message": f.error_message, "details": f.stack_trace }))
}

fn event_entry(event: &dapr_durabletask_proto::HistoryEvent) -> Value {
    let entry = errand_workflows::history_entries(std::slice::from_ref(event)).remove(0);
    json!({ "type": entry.kind, "name": entry.name })
}

fn detail_view(instance: InstanceView, detail: &inspect::Detail) -> DetailView {
    use dapr_durabletask_proto::history_event::EventType;
    DetailView {
        instance,
        execution_id: Some(detail.execution_id.clone()),
        input: payload(&detail.input),
        output: payload(&detail.output),
        failure: failure_json(detail.failure.as_ref()),
        started_at: detail.started_at.map(micros),
        children: detail
            .children
            .iter()
            .map(|(id, name, code)| json!({ "id": id, "kind": name, "status": query::status_name(*code as i32) }))
            .collect(),
        timers: detail.timers.iter().map(|(at, _)| json!({ "due_at": micros(*at) })).collect(),
        activities: detail
            .activities
            .iter()
            .map(|(queued, attempts, event)| {
                let name = match &event.event_type {
                    Some(EventType::TaskScheduled(s)) => s.name.clone(),
                    _ => String::new(),
                };
                json!({ "name": name, "queued_at": micros(*queued), "attempts": attempts })
            })
            .collect(),
        buffered: detail.buffered.iter().map(event_entry).collect(),
        unavailable: Vec::new(),
    }
}

/// History entries as JSON, each completion with the milliseconds since the event it
/// answers.
fn with_durations(entries: &[HistoryEntry]) -> Vec<Value> {
    let scheduled: HashMap<i32, DateTime<Utc>> = entries
        .iter()
        .filter(|e| matches!(e.kind, "task_scheduled" | "timer_created" | "child_workflow_created") && e.id >= 0)
        .filter_map(|e| Some((e.id, e.timestamp?)))
        .collect();
    entries
        .iter()
        .map(|e| {
            let mut value = serde_json::to_value(e).unwrap_or(Value::Null);
            let since = e.answers.and_then(|id| scheduled.get(&id));
            if let (Some(since), Some(at)) = (since, e.timestamp) {
                value["duration_ms"] = json!((at - *since).num_milliseconds());
            }
            value
        })
        .collect()
}
