-- The embedded workflow engine's state. Times are microseconds since the Unix epoch.
CREATE TABLE wf_instances (
    instance_id     TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    version         TEXT,
    execution_id    TEXT NOT NULL,
    status          INTEGER NOT NULL,        -- durabletask OrchestrationStatus
    suspended       INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    started_at      INTEGER,
    completed_at    INTEGER,
    scheduled_start INTEGER,
    input           TEXT,
    output          TEXT,
    custom_status   TEXT,
    failure         BLOB,                    -- protobuf TaskFailureDetails
    parent_instance_id TEXT,
    parent_app_id   TEXT,
    tags            TEXT NOT NULL DEFAULT '{}',
    history_len     INTEGER NOT NULL DEFAULT 0,
    locked_by       TEXT,
    lock_seq        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX wf_instances_status ON wf_instances (status);
CREATE INDEX wf_instances_completed ON wf_instances (completed_at);

-- The committed history of each instance's current execution (protobuf HistoryEvent).
CREATE TABLE wf_history (
    instance_id TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    event       BLOB NOT NULL,
    PRIMARY KEY (instance_id, seq)
);

-- Events waiting for an instance's next turn. `execution_id` ties results of timers,
-- activities and children to the execution that asked for them; `lane` 0 puts the
-- start of a continued-as-new execution ahead of older pending events.
CREATE TABLE wf_inbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id  TEXT NOT NULL,
    execution_id TEXT,
    lane         INTEGER NOT NULL DEFAULT 1,
    visible_at   INTEGER NOT NULL,
    event        BLOB NOT NULL
);
CREATE INDEX wf_inbox_instance ON wf_inbox (instance_id, lane, visible_at, id);
CREATE INDEX wf_inbox_visible ON wf_inbox (visible_at);

-- Activities to run (the TaskScheduled event that asked for each).
CREATE TABLE wf_activities (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id     TEXT NOT NULL,
    execution_id    TEXT NOT NULL,
    task_id         INTEGER NOT NULL,
    event           BLOB NOT NULL,
    created_at      INTEGER NOT NULL,
    locked_by       TEXT,
    dequeue_count   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX wf_activities_instance ON wf_activities (instance_id);

-- Engines alive, each renewing its row. A lock (`locked_by`) held by an engine whose row
-- has expired is free: that engine crashed or lost the database.
CREATE TABLE wf_engines (
    engine_id  TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
