//! Reading the engine's instances for operators: a filter over every instance
//! (name, status, times, ids, custom status, and what an instance waits for), compiled
//! to SQL on the engine's own tables with cursor paging, counts per status and a time
//! histogram of the match; one instance's detail (pending timers, queued activities,
//! children, buffered events); and health figures (oldest wait per reason, stuck
//! instances). What an instance waits for is read from the tables, not stored: a timer
//! is a future inbox row, an activity a queued one, a child a running child instance,
//! and a running instance with none of these and no ready work waits for an event.

use std::collections::VecDeque;
use std::sync::{LazyLock, Mutex};

use dapr_durabletask_proto::HistoryEvent;

use crate::status;
use crate::store::{decode, Store};
use crate::EngineError;

/// The last hour of timer lateness and activity queue delay seen by the engines of
/// this process (each process sees its own dispatches).
pub struct Recent {
    /// How late timers fired (µs).
    pub timer_lateness: Window,
    /// How long activities waited in the queue before dispatch (µs).
    pub activity_delay: Window,
}

/// Samples (at µs, value µs) of the last hour, at most [`Window::CAPACITY`].
#[derive(Default)]
pub struct Window(Mutex<VecDeque<(i64, i64)>>);

/// The process's recent samples.
pub static RECENT: LazyLock<Recent> =
    LazyLock::new(|| Recent { timer_lateness: Window::default(), activity_delay: Window::default() });

/// An hour, in µs.
const HOUR: i64 = 3_600_000_000;

impl Window {
    /// Most samples kept; older ones go first.
    pub const CAPACITY: usize = 20_000;

    pub(crate) fn record(&self, at: i64, value: i64) {
        let mut samples = self.0.lock().unwrap_or_else(|e| e.into_inner());
        while samples.front().is_some_and(|(t, _)| *t < at - HOUR) || samples.len() >= Self::CAPACITY {
            samples.pop_front();
        }
        samples.push_back((at, value.max(0)));
    }

    /// The p50 and p99 (µs) of the last hour at `now`, and how many samples; `None`
    /// without any.
    pub fn quantiles(&self, now: i64) -> Option<(i64, i64, usize)> {
        let samples = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut values: Vec<i64> = samples.iter().filter(|(t, _)| *t >= now - HOUR).map(|(_, v)| *v).collect();
        if values.is_empty() {
            return None;
        }
        values.sort_unstable();
        let at = |q: f64| values[((values.len() as f64 * q).ceil() as usize).clamp(1, values.len()) - 1];
        Some((at(0.50), at(0.99), values.len()))
    }
}

/// What an instance waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Wait {
    /// A durable timer (its due time is the earliest future inbox row).
    Timer,
    /// An activity queued or running.
    Activity,
    /// A child workflow still running.
    Child,
    /// An external event: running, with nothing pending and nothing ready.
    Event,
    /// Suspended.
    Suspended,
}

impl Wait {
    /// Every reason, in the order they are reported.
    pub const ALL: [Wait; 5] = [Wait::Timer, Wait::Activity, Wait::Child, Wait::Event, Wait::Suspended];

    /// Lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Wait::Timer => "timer",
            Wait::Activity => "activity",
            Wait::Child => "child",
            Wait::Event => "event",
            Wait::Suspended => "suspended",
        }
    }

    /// The reason a name names.
    pub fn parse(name: &str) -> Option<Wait> {
        Wait::ALL.into_iter().find(|w| w.name() == name)
    }
}

/// One condition on an instance. Times are microseconds since the epoch, like the
/// engine's columns.
#[derive(Debug, Clone, PartialEq)]
pub enum Atom {
    /// The workflow's name.
    Name(String),
    /// Its durabletask status code.
    Status(i32),
    /// Created at or after.
    CreatedAfter(i64),
    /// Created before.
    CreatedBefore(i64),
    /// Last changed at or after.
    UpdatedAfter(i64),
    /// Last changed before.
    UpdatedBefore(i64),
    /// One of these instance ids.
    Ids(Vec<String>),
    /// The id starts with this.
    IdPrefix(String),
    /// The id contains this (case-insensitive).
    IdContains(String),
    /// The custom status contains this (case-insensitive).
    CustomStatus(String),
    /// It waits for this.
    Waiting(Wait),
    /// Its next timer is due before.
    TimerBefore(i64),
    /// Its next timer is due at or after.
    TimerAfter(i64),
    /// Work is ready for it (an event or an activity) but it has not changed for longer
    /// than this many microseconds: nothing is running it.
    Stuck(i64),
    /// A child of this instance.
    Parent(String),
}

/// A filter: conditions combined with and, or, not.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Every instance.
    All,
    /// Both.
    And(Box<Filter>, Box<Filter>),
    /// Either.
    Or(Box<Filter>, Box<Filter>),
    /// Not.
    Not(Box<Filter>),
    /// One condition.
    Atom(Atom),
}

/// The order of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Newest first (the default).
    CreatedDesc,
    /// Oldest first.
    CreatedAsc,
    /// Most recently changed first.
    UpdatedDesc,
    /// Least recently changed first.
    UpdatedAsc,
}

impl Order {
    fn sql(self) -> (&'static str, &'static str) {
        match self {
            Order::CreatedDesc => ("created_at", "DESC"),
            Order::CreatedAsc => ("created_at", "ASC"),
            Order::UpdatedDesc => ("updated_at", "DESC"),
            Order::UpdatedAsc => ("updated_at", "ASC"),
        }
    }
}

/// Where the next page starts: the sort value and the id of the last row shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct After {
    /// The last row's `created_at` or `updated_at`.
    pub at: i64,
    /// Its id.
    pub id: String,
}

/// An instance in a list.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Summary {
    /// Instance id.
    pub instance_id: String,
    /// Workflow name.
    pub name: String,
    /// Durabletask status code.
    pub status: i64,
    /// Created (µs).
    pub created_at: i64,
    /// Last changed (µs).
    pub updated_at: i64,
    /// Finished (µs).
    pub completed_at: Option<i64>,
    /// Custom status.
    pub custom_status: Option<String>,
    /// The parent instance.
    pub parent_instance_id: Option<String>,
    /// The earliest future inbox row (µs): the next timer.
    pub next_timer: Option<i64>,
    /// Activities queued or running.
    pub activities: i64,
    /// Children still running.
    pub running_children: i64,
    /// Events ready now.
    pub ready: i64,
}

impl Summary {
    /// What it waits for; `None` when finished or when work is ready.
    pub fn waiting(&self) -> Option<Wait> {
        waiting(self.status as i32, self.next_timer, self.activities, self.running_children, self.ready)
    }
}

/// Finished: completed, failed, terminated or canceled.
pub fn is_terminal(code: i32) -> bool {
    status::is_terminal(code)
}

/// The one rule for what an instance waits for, shared by SQL and by callers that
/// compute it from a history.
pub fn waiting(status: i32, next_timer: Option<i64>, activities: i64, children: i64, ready: i64) -> Option<Wait> {
    if status == status::SUSPENDED {
        Some(Wait::Suspended)
    } else if status::is_terminal(status) || status == status::PENDING {
        None
    } else if activities > 0 {
        Some(Wait::Activity)
    } else if children > 0 {
        Some(Wait::Child)
    } else if ready > 0 {
        None
    } else if next_timer.is_some() {
        Some(Wait::Timer)
    } else {
        Some(Wait::Event)
    }
}

/// One instance in full.
#[derive(Debug, Clone)]
pub struct Detail {
    /// The list fields.
    pub summary: Summary,
    /// Execution id.
    pub execution_id: String,
    /// Input, output (JSON text as the workflow wrote it).
    pub input: Option<String>,
    /// Output.
    pub output: Option<String>,
    /// Failure details (protobuf, decoded).
    pub failure: Option<dapr_durabletask_proto::TaskFailureDetails>,
    /// Started (µs).
    pub started_at: Option<i64>,
    /// Children: (id, name, status).
    pub children: Vec<(String, String, i64)>,
    /// Future inbox rows (timers): (due µs, event).
    pub timers: Vec<(i64, HistoryEvent)>,
    /// Inbox rows ready now, not yet taken by a turn (raised events, results).
    pub buffered: Vec<HistoryEvent>,
    /// Queued or running activities: (queued µs, times handed out, the scheduling event).
    pub activities: Vec<(i64, i64, HistoryEvent)>,
    /// The committed history.
    pub history: Vec<HistoryEvent>,
}

/// A bound value of a compiled filter.
#[derive(Debug, Clone)]
enum Bind {
    Int(i64),
    Text(String),
}

/// A filter compiled to a WHERE clause on `wf_instances i`, its values bound from `$2`
/// (`$1` is now).
struct Compiled {
    sql: String,
    binds: Vec<Bind>,
    /// PostgreSQL's LIKE is case-sensitive: it gets ILIKE. SQLite's LIKE already
    /// ignores ASCII case, and no LOWER() per row is needed on either.
    ilike: &'static str,
}

const TIMERS: &str =
    "(SELECT MIN(visible_at) FROM wf_inbox t WHERE t.instance_id = i.instance_id AND t.visible_at > $1)";
const ACTIVITIES: &str = "(SELECT COUNT(*) FROM wf_activities a WHERE a.instance_id = i.instance_id)";
const CHILDREN: &str =
    "(SELECT COUNT(*) FROM wf_instances c WHERE c.parent_instance_id = i.instance_id AND c.completed_at IS NULL)";
const READY: &str = "(SELECT COUNT(*) FROM wf_inbox r WHERE r.instance_id = i.instance_id AND r.visible_at <= $1)";

fn like(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

impl Compiled {
    fn new(filter: &Filter, postgres: bool) -> Compiled {
        let ilike = if postgres { "ILIKE" } else { "LIKE" };
        let mut compiled = Compiled { sql: String::new(), binds: Vec::new(), ilike };
        compiled.sql = compiled.part(filter);
        compiled
    }

    fn bind(&mut self, value: Bind) -> String {
        self.binds.push(value);
        format!("${}", self.binds.len() + 1)
    }

    fn part(&mut self, filter: &Filter) -> String {
        match filter {
            Filter::All => "1 = 1".into(),
            Filter::And(a, b) => format!("({} AND {})", self.part(a), self.part(b)),
            Filter::Or(a, b) => format!("({} OR {})", self.part(a), self.part(b)),
            Filter::Not(a) => format!("(NOT {})", self.part(a)),
            Filter::Atom(atom) => self.atom(atom),
        }
    }

    fn atom(&mut self, atom: &Atom) -> String {
        let active = format!(
            "i.status NOT IN ({}, {}, {}, {}, {})",
            status::COMPLETED,
            status::TERMINATED,
            dapr_durabletask_proto::OrchestrationStatus::Failed as i32,
            dapr_durabletask_proto::OrchestrationStatus::Canceled as i32,
            status::PENDING
        );
        match atom {
            Atom::Name(name) => format!("i.name = {}", self.bind(Bind::Text(name.clone()))),
            Atom::Status(code) => format!("i.status = {}", self.bind(Bind::Int(i64::from(*code)))),
            Atom::CreatedAfter(t) => format!("i.created_at >= {}", self.bind(Bind::Int(*t))),
            Atom::CreatedBefore(t) => format!("i.created_at < {}", self.bind(Bind::Int(*t))),
            Atom::UpdatedAfter(t) => format!("i.updated_at >= {}", self.bind(Bind::Int(*t))),
            Atom::UpdatedBefore(t) => format!("i.updated_at < {}", self.bind(Bind::Int(*t))),
            Atom::Ids(ids) if ids.is_empty() => "1 = 0".into(),
            Atom::Ids(ids) => {
                let marks: Vec<String> = ids.iter().map(|id| self.bind(Bind::Text(id.clone()))).collect();
                format!("i.instance_id IN ({})", marks.join(", "))
            }
            Atom::IdPrefix(prefix) => {
                let escaped = prefix.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
                format!("i.instance_id LIKE {} ESCAPE '\\'", self.bind(Bind::Text(format!("{escaped}%"))))
            }
            Atom::IdContains(text) => {
                { let ilike = self.ilike; format!("i.instance_id {ilike} {} ESCAPE '\\'", self.bind(Bind::Text(like(text)))) }
            }
            Atom::CustomStatus(text) => {
                { let ilike = self.ilike; format!("COALESCE(i.custom_status, '') {ilike} {} ESCAPE '\\'", self.bind(Bind::Text(like(text)))) }
            }
            Atom::Parent(id) => format!("i.parent_instance_id = {}", self.bind(Bind::Text(id.clone()))),
            Atom::Waiting(Wait::Suspended) => format!("i.status = {}", status::SUSPENDED),
            Atom::Waiting(Wait::Activity) => {
                format!("({active} AND i.status <> {} AND EXISTS (SELECT 1 FROM wf_activities a WHERE a.instance_id = i.instance_id))", status::SUSPENDED)
            }
            Atom::Waiting(Wait::Child) => format!(
                "({active} AND i.status <> {} AND NOT EXISTS (SELECT 1 FROM wf_activities a WHERE a.instance_id = i.instance_id) \
                 AND EXISTS (SELECT 1 FROM wf_instances c WHERE c.parent_instance_id = i.instance_id AND c.completed_at IS NULL))",
                status::SUSPENDED
            ),
            Atom::Waiting(wait @ (Wait::Timer | Wait::Event)) => {
                let timer = if *wait == Wait::Timer { "EXISTS" } else { "NOT EXISTS" };
                format!(
                    "({active} AND i.status <> {} \
                     AND NOT EXISTS (SELECT 1 FROM wf_activities a WHERE a.instance_id = i.instance_id) \
                     AND NOT EXISTS (SELECT 1 FROM wf_instances c WHERE c.parent_instance_id = i.instance_id AND c.completed_at IS NULL) \
                     AND NOT EXISTS (SELECT 1 FROM wf_inbox r WHERE r.instance_id = i.instance_id AND r.visible_at <= $1) \
                     AND {timer} (SELECT 1 FROM wf_inbox t WHERE t.instance_id = i.instance_id AND t.visible_at > $1))",
                    status::SUSPENDED
                )
            }
            Atom::TimerBefore(t) => format!(
                "EXISTS (SELECT 1 FROM wf_inbox t WHERE t.instance_id = i.instance_id AND t.visible_at > $1 AND t.visible_at < {})",
                self.bind(Bind::Int(*t))
            ),
            Atom::TimerAfter(t) => format!(
                "EXISTS (SELECT 1 FROM wf_inbox t WHERE t.instance_id = i.instance_id AND t.visible_at >= {})",
                self.bind(Bind::Int(*t))
            ),
            // A pending instance whose start is ready but never taken is stuck too.
            Atom::Stuck(micros) => format!(
                "(i.completed_at IS NULL AND i.status <> {} AND i.updated_at < $1 - {} AND (\
                 i.instance_id IN (SELECT r.instance_id FROM wf_inbox r WHERE r.visible_at <= $1 - {}) \
                 OR i.instance_id IN (SELECT a.instance_id FROM wf_activities a WHERE a.created_at < $1 - {})))",
                status::SUSPENDED,
                micros,
                micros,
                micros
            ),
        }
    }
}

/// Binds the compiled values in order onto a query of either backend.
macro_rules! bound {
    ($query:expr, $now:expr, $binds:expr) => {{
        let mut query = $query.bind($now);
        for bind in $binds {
            query = match bind {
                Bind::Int(v) => query.bind(*v),
                Bind::Text(v) => query.bind(v.clone()),
            };
        }
        query
    }};
}

/// Runs a compiled query on a read pool of either backend, all rows as `$row`.
macro_rules! fetch_all {
    ($store:expr, $row:ty, $sql:expr, $now:expr, $binds:expr) => {
        $store
            .read(|db| async move {
                match db {
                    crate::store::Reader::Sqlite(pool) => {
                        bound!(sqlx::query_as::<_, $row>(&$sql), $now, &$binds).fetch_all(&pool).await
                    }
                    crate::store::Reader::Postgres(pool) => {
                        bound!(sqlx::query_as::<_, $row>(&$sql), $now, &$binds).fetch_all(&pool).await
                    }
                }
            })
            .await
    };
}

const SUMMARY: &str = "i.instance_id, i.name, i.status, i.created_at, i.updated_at, i.completed_at, i.custom_status, \
     i.parent_instance_id";

/// Reads the engine's instances; cheap to clone.
#[derive(Clone)]
pub struct Inspector {
    store: Store,
}

impl Inspector {
    pub(crate) fn new(store: Store) -> Inspector {
        Inspector { store }
    }

    /// A page of instances matching `filter` in `order`, after `after`.
    pub async fn list(
        &self,
        filter: &Filter,
        order: Order,
        after: Option<&After>,
        limit: usize,
        now: i64,
    ) -> Result<Vec<Summary>, EngineError> {
        let mut compiled = Compiled::new(filter, self.store.is_shared());
        let (column, direction) = order.sql();
        // The page first, from the base columns; what each waits for only for its rows
        // (a sort would otherwise compute it for every match).
        let mut page = format!("SELECT {SUMMARY} FROM wf_instances i WHERE {}", compiled.sql);
        if let Some(after) = after {
            let comparison = if direction == "DESC" { "<" } else { ">" };
            let at = compiled.bind(Bind::Int(after.at));
            let id = compiled.bind(Bind::Text(after.id.clone()));
            page.push_str(&format!(
                " AND (i.{column} {comparison} {at} OR (i.{column} = {at} AND i.instance_id {comparison} {id}))"
            ));
        }
        let order_by = format!("ORDER BY i.{column} {direction}, i.instance_id {direction}");
        page.push_str(&format!(" {order_by} LIMIT {}", limit.clamp(1, 1000)));
        let sql = format!(
            "SELECT {SUMMARY}, {TIMERS} AS next_timer, {ACTIVITIES} AS activities, {CHILDREN} AS running_children, \
             {READY} AS ready FROM ({page}) i {order_by}"
        );
        let binds = compiled.binds;
        fetch_all!(self.store, Summary, sql, now, binds)
    }

    /// How many instances match, per status code.
    pub async fn counts(&self, filter: &Filter, now: i64) -> Result<Vec<(i64, i64)>, EngineError> {
        let compiled = Compiled::new(filter, self.store.is_shared());
        let sql = format!("SELECT i.status, COUNT(*) FROM wf_instances i WHERE {} GROUP BY i.status", compiled.sql);
        let binds = compiled.binds;
        fetch_all!(self.store, (i64, i64), sql, now, binds)
    }

    /// How many matching instances were created in each bucket of `width` µs from
    /// `from`: (bucket start, count), empty buckets left out.
    pub async fn histogram(
        &self,
        filter: &Filter,
        from: i64,
        width: i64,
        now: i64,
    ) -> Result<Vec<(i64, i64)>, EngineError> {
        let mut compiled = Compiled::new(filter, self.store.is_shared());
        let from_mark = compiled.bind(Bind::Int(from));
        let width_mark = compiled.bind(Bind::Int(width.max(1)));
        let sql = format!(
            "SELECT (i.created_at - {from_mark}) / {width_mark} AS bucket, COUNT(*) FROM wf_instances i \
             WHERE {} AND i.created_at >= {from_mark} GROUP BY bucket ORDER BY bucket",
            compiled.sql
        );
        let binds = compiled.binds;
        let rows = fetch_all!(self.store, (i64, i64), sql, now, binds)?;
        Ok(rows.into_iter().map(|(bucket, count)| (from + bucket * width.max(1), count)).collect())
    }

    /// One instance in full; `None` when unknown.
    pub async fn detail(&self, id: &str, now: i64) -> Result<Option<Detail>, EngineError> {
        let filter = Filter::Atom(Atom::Ids(vec![id.to_string()]));
        let Some(summary) = self.list(&filter, Order::CreatedDesc, None, 1, now).await?.into_iter().next() else {
            return Ok(None);
        };
        let Some(row) = self.store.instance(id).await? else { return Ok(None) };
        let parts = self.store.inspect_parts(id).await?;
        let failure = row.failure.as_deref().and_then(|bytes| prost::Message::decode(bytes).ok());
        let decode_all = |rows: Vec<(i64, i64, Vec<u8>)>| -> Result<Vec<(i64, i64, HistoryEvent)>, EngineError> {
            rows.into_iter().map(|(a, b, bytes)| Ok((a, b, decode(&bytes)?))).collect()
        };
        let inbox = decode_all(parts.inbox)?;
        Ok(Some(Detail {
            summary,
            execution_id: row.execution_id,
            input: row.input,
            output: row.output,
            failure,
            started_at: row.started_at,
            children: parts.children,
            timers: inbox.iter().filter(|(at, _, _)| *at > now).map(|(at, _, e)| (*at, e.clone())).collect(),
            buffered: inbox.into_iter().filter(|(at, _, _)| *at <= now).map(|(_, _, e)| e).collect(),
            activities: decode_all(parts.activities)?,
            history: self.store.history(id).await?,
        }))
    }

    /// How many instances there are of each name and status: (name, status, count).
    pub async fn counts_by_name_status(&self) -> Result<Vec<(String, i64, i64)>, EngineError> {
        self.store.counts_by_name_status().await
    }

    /// Instances changed at or after `since` µs, oldest change first (the change feed).
    pub async fn changed_since(
        &self,
        since: i64,
        after_id: &str,
        limit: usize,
        now: i64,
    ) -> Result<Vec<Summary>, EngineError> {
        let filter = Filter::Atom(Atom::UpdatedAfter(since));
        let after = After { at: since, id: after_id.to_string() };
        self.list(&filter, Order::UpdatedAsc, Some(&after), limit, now).await
    }
}
