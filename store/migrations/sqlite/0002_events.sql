-- The event backbone: outbox positions, consumer cursors and dedup, dead letters,
-- and what the consumers build (the audit trail and notifications).

-- Outbox order is (tx, seq). SQLite has a single writer, so seq alone is commit
-- order and tx stays 0; PostgreSQL records the writing transaction (see 0002 there).
ALTER TABLE outbox ADD COLUMN tx INTEGER NOT NULL DEFAULT 0;
CREATE INDEX outbox_position ON outbox (tx, seq);

-- How far each consumer (or the Dapr publisher) has got in the outbox.
CREATE TABLE consumer_cursors (
    consumer   TEXT PRIMARY KEY,
    tx         INTEGER NOT NULL,
    seq        INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Events each consumer has applied: a redelivered event has no second effect.
CREATE TABLE consumer_events (
    consumer     TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    processed_at INTEGER NOT NULL,
    PRIMARY KEY (consumer, event_id)
);
CREATE INDEX consumer_events_processed ON consumer_events (processed_at);

-- Events a consumer gave up on, with the last error; replayable.
CREATE TABLE dead_letters (
    id          TEXT PRIMARY KEY,
    consumer    TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    topic       TEXT NOT NULL,
    payload     TEXT NOT NULL,
    error       TEXT NOT NULL,
    attempts    INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    replayed_at INTEGER,
    UNIQUE (consumer, event_id)
);

CREATE TABLE audit_log (
    id       TEXT PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    user_id  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    task_id  TEXT,
    actor    TEXT NOT NULL,
    action   TEXT NOT NULL,
    changes  TEXT,                  -- JSON: field -> {before, after}
    at       INTEGER NOT NULL
);
CREATE INDEX audit_user_at ON audit_log (user_id, at, id);
CREATE INDEX audit_user_task_at ON audit_log (user_id, task_id, at, id);

-- seq orders a user's notifications and is the SSE event id.
CREATE TABLE notifications (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    event_id   TEXT NOT NULL UNIQUE,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    task_id    TEXT,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    read_at    INTEGER
);
CREATE INDEX notifications_user_seq ON notifications (user_id, seq);
