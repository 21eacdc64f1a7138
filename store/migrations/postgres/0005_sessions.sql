-- Sessions: every access token names one, so a token can end before it expires
-- (logging out, a password change, an admin disabling the account).
CREATE TABLE sessions (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Set while an admin has disabled the account: it cannot log in, its tokens stop working.
ALTER TABLE users ADD COLUMN disabled_at BIGINT;
