-- A user's saved filters: a name, a query in the filter language, a colour, and
-- their order in the UI.
CREATE TABLE saved_filters (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    query      TEXT NOT NULL,
    color      TEXT,
    position   INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX saved_filters_user ON saved_filters (user_id, position);
