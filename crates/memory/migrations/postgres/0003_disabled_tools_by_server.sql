-- Disabled tools keyed by (server, tool), PostgreSQL flavour. Keep in step with
-- ../sqlite/0003_disabled_tools_by_server.sql. 0002 keyed them by the name the model sees,
-- which changes when another server adds a tool of the same name (`x` becomes `a__x`) and the
-- disabled tool came back. `server` is the MCP server's configured name and `tool` the tool's
-- own name on it.
--
-- Rows from 0002 hold only the exposed name. Best effort: a name with `__` inside it
-- (`a__x`, the prefixed form) is split at the first `__` into server `a` and tool `x`; any
-- other name is kept as the tool with server '' (unknown), which the store reads as "this tool
-- name on any server" (what the row meant when it was written). A split can be wrong (a server
-- name or a tool name that itself contains `__`, a sanitized or hashed name): such a row then
-- matches nothing and the admin disables the tool again.
CREATE TABLE disabled_tools_0003 (
    channel_id   BIGINT  NOT NULL,
    server       TEXT    NOT NULL,
    tool         TEXT    NOT NULL,
    disabled_by  BIGINT,
    created_at   BIGINT  NOT NULL,
    PRIMARY KEY (channel_id, server, tool)
);
INSERT INTO disabled_tools_0003 (channel_id, server, tool, disabled_by, created_at)
SELECT channel_id,
       CASE WHEN strpos(tool, '__') > 1 AND length(tool) > strpos(tool, '__') + 1
            THEN substr(tool, 1, strpos(tool, '__') - 1) ELSE '' END,
       CASE WHEN strpos(tool, '__') > 1 AND length(tool) > strpos(tool, '__') + 1
            THEN substr(tool, strpos(tool, '__') + 2) ELSE tool END,
       disabled_by, created_at
FROM disabled_tools
ON CONFLICT DO NOTHING;
DROP TABLE disabled_tools;
ALTER TABLE disabled_tools_0003 RENAME TO disabled_tools;
