-- Logins to remote MCP servers (OAuth), SQLite flavour: sealed with MCPCORD_SECRET_KEY by the
-- binary (AES-256-GCM); this crate never sees them in clear. One row per configured server
-- name. They belong to the operator, not to a person: `mcpcord privacy` and forget leave them
-- alone. Keep in step with ../postgres/0008_mcp_credentials.sql.
CREATE TABLE mcp_credentials (
    server      TEXT    NOT NULL PRIMARY KEY,
    resource    TEXT    NOT NULL,          -- the MCP URL the login is for (a changed url = login again)
    key_id      TEXT    NOT NULL,          -- which secret key sealed it (first 8 hex of its SHA-256)
    sealed      BLOB    NOT NULL,          -- version ‖ nonce ‖ AES-256-GCM(SavedAuth JSON)
    expires_at  INTEGER,                   -- access token expiry, unix seconds (for `check`)
    updated_at  INTEGER NOT NULL           -- unix seconds
);
