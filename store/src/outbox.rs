//! The transactional outbox: every write appends its CloudEvents here in the same
//! transaction; relays and consumers read it in order from a position.

use chrono::{DateTime, Utc};
use errand_domain::event::OutboundEvent;
use tokio::sync::watch;

use crate::{corrupt, on_read, on_write, to_ms, Db, Store, StoreResult};

/// A place in the outbox order, which is `(tx, seq)`: on SQLite `tx` is always 0
/// and `seq` is commit order; on PostgreSQL `tx` is the writing transaction's id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OutboxPosition {
    /// Writing transaction (PostgreSQL), else 0.
    pub tx: i64,
    /// Insertion sequence.
    pub seq: i64,
}

/// One committed event waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OutboxRecord {
    /// Writing transaction (PostgreSQL), else 0.
    pub tx: i64,
    /// Insertion sequence.
    pub seq: i64,
    /// The CloudEvent id.
    pub event_id: String,
    /// Destination topic.
    pub topic: String,
    /// CloudEvent type, e.g. `task.created`.
    pub event_type: String,
    /// The task id.
    pub subject: Option<String>,
    /// The owner the event concerns.
    pub user_id: String,
    /// The CloudEvents JSON envelope.
    pub payload: String,
}

impl OutboxRecord {
    /// Where this record sits in the outbox order.
    pub fn position(&self) -> OutboxPosition {
        OutboxPosition { tx: self.tx, seq: self.seq }
    }
}

/// PostgreSQL channels that carry "something was committed" across processes.
pub(crate) const OUTBOX_CHANNEL: &str = "errand_outbox";
pub(crate) const NOTIFICATIONS_CHANNEL: &str = "errand_notifications";

/// Encodes events for [`append_outbox!`], each carrying the trace context of the work
/// that writes it (unless it names one already), so that its consumers continue that
/// trace. Called where that work runs, before any hand-over to the group commit.
pub(crate) fn event_payloads(events: &[OutboundEvent]) -> StoreResult<Vec<(&OutboundEvent, String)>> {
    let trace = errand_telemetry::current();
    events
        .iter()
        .map(|e| {
            // Counted as written here, in the work that writes them (a rolled-back
            // transaction, which is rare, is counted too).
            metrics::counter!("errand_outbox_events_total", "topic" => e.topic).increment(1);
            let payload = match (&trace, &e.event.traceparent) {
                (Some(trace), None) => {
                    let mut traced = e.event.clone();
                    traced.traceparent = Some(trace.traceparent.clone());
                    traced.tracestate = trace.tracestate.clone();
                    serde_json::to_string(&traced)
                }
                _ => serde_json::to_string(&e.event),
            };
            Ok((e, payload.map_err(|err| corrupt("event", err))?))
        })
        .collect()
}

/// Appends encoded events to the outbox inside the transaction `$tx`, then runs
/// `$notify` (PostgreSQL `pg_notify`, delivered at commit) when there is one.
/// Evaluates to the position of each event's owner's last event.
macro_rules! append_outbox {
    ($tx:expr, $payloads:expr, $notify:expr) => {{
        let mut written: Vec<(String, $crate::OutboxPosition)> = Vec::new();
        for (event, payload) in $payloads {
            let (tx_id, seq): (i64, i64) = sqlx::query_as(
                "INSERT INTO outbox (event_id, topic, event_type, subject, user_id, payload, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING tx, seq",
            )
            .bind(&event.event.id)
            .bind(event.topic)
            .bind(&event.event.event_type)
            .bind(&event.event.subject)
            .bind(&event.user_id)
            .bind(payload)
            .bind($crate::to_ms(event.event.time))
            .fetch_one(&mut *$tx)
            .await?;
            written.push((event.user_id.clone(), $crate::OutboxPosition { tx: tx_id, seq }));
        }
        if let Some(notify) = $notify {
            sqlx::query(notify).execute(&mut *$tx).await?;
        }
        written
    }};
}
pub(crate) use append_outbox;

/// How soon to look again when committed events wait behind the barrier.
/// The cursor that records how far the outbox was pruned.
const PRUNED_CURSOR: &str = "outbox:pruned";

/// A reader (`name*` in [`Store::prune_outbox`]) whose cursor has not moved for this
/// long no longer holds back pruning.
pub const READER_STALE_AFTER: chrono::Duration = chrono::Duration::days(7);

const HELD_BACK_RECHECK: std::time::Duration = std::time::Duration::from_millis(3);

const OUTBOX_COLUMNS: &str = "tx, seq, event_id, topic, event_type, subject, user_id, payload";

impl Store {
    /// The statement that wakes other processes after a commit (PostgreSQL only).
    pub(crate) fn notify_sql(&self, channel: &str) -> Option<&'static str> {
        match (&self.db, channel) {
            (Db::Postgres(_), OUTBOX_CHANNEL) => Some("SELECT pg_notify('errand_outbox', '')"),
            (Db::Postgres(_), _) => Some("SELECT pg_notify('errand_notifications', '')"),
            (Db::Sqlite { .. }, _) => None,
        }
    }

    /// Records the committed events' positions per user and wakes local waiters.
    pub(crate) fn outbox_committed(&self, written: &[(String, OutboxPosition)]) {
        if let Ok(mut last) = self.signals.last_writes.lock() {
            for (user, position) in written {
                let entry = last.entry(user.clone()).or_default();
                *entry = (*entry).max(*position);
            }
        }
        self.signals.outbox.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Changes whenever events are committed (by this process, or by another one on
    /// PostgreSQL while [`Store::listen_for_commits`] runs).
    pub fn outbox_signal(&self) -> watch::Receiver<u64> {
        self.signals.outbox.subscribe()
    }

    /// Appends events that belong to no task write (e.g. a reminder firing).
    pub async fn append_events(&self, events: &[OutboundEvent]) -> StoreResult<()> {
        let payloads = event_payloads(events)?;
        let notify = self.notify_sql(OUTBOX_CHANNEL);
        let written = on_write!(self, |pool| async {
            let mut tx = pool.begin().await?;
            let written = append_outbox!(tx, &payloads, notify);
            tx.commit().await?;
            Ok::<_, sqlx::Error>(written)
        }
        .await)?;
        self.outbox_committed(&written);
        Ok(())
    }

    /// Up to `limit` committed events after `after`, in outbox order. On PostgreSQL
    /// only events of transactions older than every running one are returned, so a
    /// slow transaction's event can never be skipped: it shows up before anything
    /// ordered after it.
    pub async fn outbox_after(&self, after: OutboxPosition, limit: i64) -> StoreResult<Vec<OutboxRecord>> {
        let barrier = match self.db {
            Db::Postgres(_) => " AND tx < (pg_snapshot_xmin(pg_current_snapshot())::text::bigint)",
            Db::Sqlite { .. } => "",
        };
        let sql = format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE (tx > $1 OR (tx = $1 AND seq > $2)){barrier} \
             ORDER BY tx, seq LIMIT $3"
        );
        let rows = on_read!(self, |pool| {
            sqlx::query_as(&sql).bind(after.tx).bind(after.seq).bind(limit).fetch_all(pool).await
        })?;
        Ok(rows)
    }

    /// The position of the newest event readers can see (the start when none is).
    pub async fn outbox_head(&self) -> StoreResult<OutboxPosition> {
        let barrier = match self.db {
            Db::Postgres(_) => " WHERE tx < (pg_snapshot_xmin(pg_current_snapshot())::text::bigint)",
            Db::Sqlite { .. } => "",
        };
        let sql = format!("SELECT tx, seq FROM outbox{barrier} ORDER BY tx DESC, seq DESC LIMIT 1");
        let row: Option<(i64, i64)> = on_read!(self, |pool| sqlx::query_as(&sql).fetch_optional(pool).await)?;
        match row {
            Some((tx, seq)) => Ok(OutboxPosition { tx, seq }),
            // Everything was pruned: the consumers' cursors say how far the outbox got.
            None => self.pruned_up_to().await,
        }
    }

    async fn pruned_up_to(&self) -> StoreResult<OutboxPosition> {
        let row: Option<(i64, i64)> = on_read!(self, |pool| {
            sqlx::query_as("SELECT tx, seq FROM consumer_cursors ORDER BY tx DESC, seq DESC LIMIT 1")
                .fetch_optional(pool)
                .await
        })?;
        Ok(row.map(|(tx, seq)| OutboxPosition { tx, seq }).unwrap_or_default())
    }

    /// The outbox position of `user_id`'s latest write through this store handle:
    /// a reader of derived data (the search index) waits for it to show the write.
    pub fn last_write_position(&self, user_id: &str) -> Option<OutboxPosition> {
        self.signals.last_writes.lock().ok()?.get(user_id).copied()
    }

    /// The next events after `after`, waiting for them when there are none: woken
    /// by commits (with `idle_poll` as a fallback), and re-checking within
    /// milliseconds while PostgreSQL's visibility barrier holds back committed
    /// events behind a running transaction. `None` once `shutdown` turns true.
    pub async fn next_events(
        &self,
        after: OutboxPosition,
        limit: i64,
        idle_poll: std::time::Duration,
        shutdown: &mut watch::Receiver<bool>,
    ) -> StoreResult<Option<Vec<OutboxRecord>>> {
        let mut signal = self.outbox_signal();
        loop {
            if *shutdown.borrow() {
                return Ok(None);
            }
            signal.borrow_and_update();
            let batch = self.outbox_after(after, limit).await?;
            if !batch.is_empty() {
                return Ok(Some(batch));
            }
            let wait = if self.held_back(after).await? { HELD_BACK_RECHECK } else { idle_poll };
            tokio::select! {
                _ = signal.changed() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.wait_for(|stop| *stop) => return Ok(None),
            }
        }
    }

    /// Whether committed events after `after` wait behind the visibility barrier.
    async fn held_back(&self, after: OutboxPosition) -> StoreResult<bool> {
        let Db::Postgres(pool) = &self.db else { return Ok(false) };
        let found: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT 1 FROM outbox WHERE tx > $1 OR (tx = $1 AND seq > $2) LIMIT 1) AS pending",
        )
        .bind(after.tx)
        .bind(after.seq)
        .fetch_one(pool)
        .await?;
        Ok(found > 0)
    }

    /// How many committed events lie after `after`.
    pub async fn outbox_backlog(&self, after: OutboxPosition) -> StoreResult<i64> {
        let count = on_read!(self, |pool| {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM outbox WHERE tx > $1 OR (tx = $1 AND seq > $2)")
                .bind(after.tx)
                .bind(after.seq)
                .fetch_one(pool)
                .await
        })?;
        Ok(count)
    }

    /// Deletes the events every one of `consumers` has passed, and notes how far (see
    /// [`Store::outbox_pruned_up_to`]). A consumer without a cursor has passed nothing,
    /// so nothing is deleted then. A name ending in `*` stands for every cursor whose
    /// name starts with the rest and that moved in the last [`READER_STALE_AFTER`]
    /// (the search index of each replica: one that was away longer rebuilds its index).
    pub async fn prune_outbox(&self, consumers: &[&str]) -> StoreResult<u64> {
        let mut oldest: Option<OutboxPosition> = None;
        for consumer in consumers {
            let positions = match consumer.strip_suffix('*') {
                Some(prefix) => self.reader_positions(prefix, Utc::now() - READER_STALE_AFTER).await?,
                None => vec![self.consumer_position(consumer).await?],
            };
            for position in positions {
                oldest = Some(oldest.map_or(position, |o| o.min(position)));
            }
        }
        let Some(upto) = oldest else { return Ok(0) };
        let removed = on_write!(self, |pool| async {
            let mut tx = pool.begin().await?;
            let removed = sqlx::query("DELETE FROM outbox WHERE tx < $1 OR (tx = $1 AND seq <= $2)")
                .bind(upto.tx)
                .bind(upto.seq)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if removed > 0 {
                sqlx::query(
                    "INSERT INTO consumer_cursors (consumer, tx, seq, updated_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (consumer) DO UPDATE SET tx = excluded.tx, seq = excluded.seq, \
                     updated_at = excluded.updated_at",
                )
                .bind(PRUNED_CURSOR)
                .bind(upto.tx)
                .bind(upto.seq)
                .bind(to_ms(Utc::now()))
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok::<u64, sqlx::Error>(removed)
        }
        .await)?;
        Ok(removed)
    }

    /// Where the outbox was last pruned: a reader behind this has missed events.
    pub async fn outbox_pruned_up_to(&self) -> StoreResult<OutboxPosition> {
        self.consumer_position(PRUNED_CURSOR).await
    }

    /// The positions of the cursors named `prefix...` that moved after `since`.
    async fn reader_positions(&self, prefix: &str, since: DateTime<Utc>) -> StoreResult<Vec<OutboxPosition>> {
        let rows: Vec<(i64, i64)> = on_read!(self, |pool| {
            sqlx::query_as("SELECT tx, seq FROM consumer_cursors WHERE updated_at > $1 AND consumer LIKE $2")
                .bind(to_ms(since))
                .bind(format!("{prefix}%"))
                .fetch_all(pool)
                .await
        })?;
        Ok(rows.into_iter().map(|(tx, seq)| OutboxPosition { tx, seq }).collect())
    }

    /// Wakes local waiters when another process commits (PostgreSQL `LISTEN`). Runs
    /// until the pool closes; reconnects on errors. Returns at once on SQLite, where
    /// one process owns the database.
    pub async fn listen_for_commits(&self) {
        let Db::Postgres(pool) = &self.db else { return };
        loop {
            if pool.is_closed() {
                return;
            }
            let Err(e) = self.forward_notifications(pool).await;
            if pool.is_closed() {
                return;
            }
            tracing::warn!(error = %e, "listening for commits failed; retrying");
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    }

    async fn forward_notifications(&self, pool: &sqlx::PgPool) -> Result<std::convert::Infallible, sqlx::Error> {
        let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
        listener.listen_all([OUTBOX_CHANNEL, NOTIFICATIONS_CHANNEL]).await?;
        loop {
            let notification = listener.recv().await?;
            match notification.channel() {
                OUTBOX_CHANNEL => self.outbox_committed(&[]),
                _ => self.notifications_committed(),
            }
        }
    }
}
