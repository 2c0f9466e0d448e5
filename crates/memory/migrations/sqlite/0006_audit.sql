-- The audit log, sqlite flavour. Keep in step with ../postgres/0006_audit.sql. Append-only from
-- the bot's side: rows are added, and removed only by age (storage.audit_retention), never
-- changed. `at` is unix milliseconds; `guild_id`, `actor_id` (who did it) and `subject_id`
-- (whom it is about) are Discord ids, NULL when not known or not relevant; `kind` is one of
-- admin_action, tool_call, refusal, data_rights, reload; `action` names what happened within
-- the kind (`tool.disable`, `blocked`, …); `detail` is a JSON object (as TEXT).
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    guild_id    INTEGER,
    actor_id    INTEGER,
    subject_id  INTEGER,
    kind        TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    detail      TEXT    NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_guild ON audit_log (guild_id, at);
CREATE INDEX audit_log_actor ON audit_log (actor_id, at);
CREATE INDEX audit_log_subject ON audit_log (subject_id, at);
CREATE INDEX audit_log_kind ON audit_log (kind, at);
