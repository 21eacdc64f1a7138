-- Users, tasks, idempotency keys and the transactional outbox.
-- Instants are milliseconds since the Unix epoch (UTC) in both backends.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL,
    email_key     TEXT NOT NULL UNIQUE,   -- lowercased email: uniqueness ignores case
    name          TEXT,
    password_hash TEXT NOT NULL,
    timezone      TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'user')),
    created_at    BIGINT NOT NULL
);

-- One row per instance-wide fact, e.g. which account claimed the first admin seat.
CREATE TABLE instance_facts (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE tasks (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    title        TEXT NOT NULL,
    description  TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('open', 'done')),
    priority     BIGINT NOT NULL CHECK (priority BETWEEN 0 AND 4),
    tags         TEXT NOT NULL,           -- JSON array, the order the user gave
    due_at       BIGINT,
    all_day      BOOLEAN NOT NULL,
    reminders    TEXT NOT NULL,           -- JSON array of reminders
    recurrence   TEXT,                    -- JSON object or NULL
    series_id    TEXT,
    completed_at BIGINT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    version      BIGINT NOT NULL
);
-- Lists, search, filters and sorts are served by the search index; the database
-- only needs each user's tasks (rebuilds read every task in id order).
CREATE INDEX tasks_user ON tasks (user_id);

CREATE TABLE idempotency_keys (
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    key           TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    status_code   BIGINT NOT NULL,
    response_body TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (user_id, key)
);

-- Every write appends its CloudEvents here in the same transaction.
CREATE TABLE outbox (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id   TEXT NOT NULL UNIQUE,
    topic      TEXT NOT NULL,
    event_type TEXT NOT NULL,
    subject    TEXT,
    user_id    TEXT NOT NULL,
    payload    TEXT NOT NULL,             -- the CloudEvents JSON envelope
    created_at BIGINT NOT NULL
);
