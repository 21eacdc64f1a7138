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
    created_at    INTEGER NOT NULL
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
    title_key    TEXT NOT NULL,           -- lowercased title, the `title` sort key
    description  TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('open', 'done')),
    priority     INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 4),
    tags         TEXT NOT NULL,           -- JSON array, the order the user gave
    due_at       INTEGER,
    all_day      BOOLEAN NOT NULL,
    reminders    TEXT NOT NULL,           -- JSON array of reminders
    recurrence   TEXT,                    -- JSON object or NULL
    series_id    TEXT,
    completed_at INTEGER,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    version      INTEGER NOT NULL
);
-- One index per common list order. The due orders index the exact expressions the
-- list query sorts by (undated last in both directions), so pages need no sort step.
CREATE INDEX tasks_user_status_due_asc ON tasks (user_id, status, (COALESCE(due_at, 9223372036854775807)), id);
CREATE INDEX tasks_user_status_due_desc ON tasks (user_id, status, (COALESCE(due_at, -9223372036854775807)), id);
CREATE INDEX tasks_user_status_priority ON tasks (user_id, status, priority, id);
CREATE INDEX tasks_user_status_created ON tasks (user_id, status, created_at, id);

-- Tags again, one row each, so that lists can filter by tag through an index.
CREATE TABLE task_tags (
    task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    tag     TEXT NOT NULL,
    PRIMARY KEY (task_id, tag)
);
CREATE INDEX task_tags_user_tag ON task_tags (user_id, tag, task_id);

CREATE TABLE idempotency_keys (
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    key           TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    status_code   INTEGER NOT NULL,
    response_body TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (user_id, key)
);

-- Every write appends its CloudEvents here in the same transaction.
CREATE TABLE outbox (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id   TEXT NOT NULL UNIQUE,
    topic      TEXT NOT NULL,
    event_type TEXT NOT NULL,
    subject    TEXT,
    user_id    TEXT NOT NULL,
    payload    TEXT NOT NULL,             -- the CloudEvents JSON envelope
    created_at INTEGER NOT NULL
);
