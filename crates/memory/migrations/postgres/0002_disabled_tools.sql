-- Tools an admin turned off in one channel (or thread), PostgreSQL flavour. Keep in step with
-- ../sqlite/0002_disabled_tools.sql. `tool` is the name the model sees (`server__tool` when
-- two servers share a name); `disabled_by` is the admin's Discord id, when known.
CREATE TABLE disabled_tools (
    channel_id   BIGINT NOT NULL,
    tool         TEXT   NOT NULL,
    disabled_by  BIGINT,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (channel_id, tool)
);
