-- Tools an admin turned off in one channel (or thread), SQLite flavour. Keep in step with
-- ../postgres/0002_disabled_tools.sql. `tool` is the name the model sees (`server__tool` when
-- two servers share a name); `disabled_by` is the admin's Discord id, when known.
CREATE TABLE disabled_tools (
    channel_id   INTEGER NOT NULL,
    tool         TEXT    NOT NULL,
    disabled_by  INTEGER,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (channel_id, tool)
);
