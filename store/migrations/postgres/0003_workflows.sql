-- Workflow instances started for users (the engine or daprd holds their state; this
-- says whose they are and what they concern), and confirmations of destructive actions.
CREATE TABLE workflows (
    instance_id TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    task_id     TEXT,
    created_at  BIGINT NOT NULL,
    ended       BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX workflows_user ON workflows (user_id, created_at);
CREATE INDEX workflows_task ON workflows (task_id, kind);

CREATE TABLE confirmations (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    status      TEXT NOT NULL,
    decision    TEXT,
    action      TEXT NOT NULL,
    summary     TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    decided_at  BIGINT,
    result      TEXT
);
CREATE INDEX confirmations_user ON confirmations (user_id, created_at);
