-- The event backbone: outbox positions, consumer cursors and dedup, dead letters,
-- and what the consumers build (the audit trail and notifications).

-- Outbox order is (tx, seq). Identity values are assigned at insert, not commit, so
-- seq alone could skip a slow transaction's row; tx is the writing transaction's id,
-- and readers take only rows of transactions older than every one still running
-- (pg_snapshot_xmin), which can no longer change.
ALTER TABLE outbox ADD COLUMN tx BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint);
CREATE INDEX outbox_position ON outbox (tx, seq);

-- How far each consumer (or the Dapr publisher) has got in the outbox.
CREATE TABLE consumer_cursors (
    consumer   TEXT PRIMARY KEY,
    tx         BIGINT NOT NULL,
    seq        BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Events each consumer has applied: a redelivered event has no second effect.
CREATE TABLE consumer_events (
    consumer     TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    processed_at BIGINT NOT NULL,
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
    attempts    BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    replayed_at BIGINT,
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
    at       BIGINT NOT NULL
);
CREATE INDEX audit_user_at ON audit_log (user_id, at, id);
CREATE INDEX audit_user_task_at ON audit_log (user_id, task_id, at, id);

-- seq orders a user's notifications and is the SSE event id.
CREATE TABLE notifications (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    event_id   TEXT NOT NULL UNIQUE,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    task_id    TEXT,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    read_at    BIGINT
);
CREATE INDEX notifications_user_seq ON notifications (user_id, seq);
