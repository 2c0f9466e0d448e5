-- mcpcord's storage, SQLite flavour. Keep in step with ../postgres/0001_initial.sql: the same
-- tables, columns, constraints and indexes; only integer types and id generation differ.
-- Times are unix milliseconds, JSON is TEXT, flags are 0 / 1. Discord ids (users, guilds,
-- channels, messages) are stored as signed 64-bit integers, and are not foreign keys: the bot
-- may see a conversation before it has recorded the guild or user it belongs to.

-- Discord users, upserted on first sight.
CREATE TABLE users (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- Discord guilds, with their retention (NULL: keep conversations forever).
CREATE TABLE guilds (
    id            INTEGER PRIMARY KEY,
    name          TEXT,
    retention_ms  INTEGER CHECK (retention_ms >= 0),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

-- A conversation is found by the key its front end chose; `/new` archives the live one.
CREATE TABLE conversations (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    key          TEXT    NOT NULL,
    guild_id     INTEGER,
    channel_id   INTEGER,
    user_id      INTEGER,
    owner_id     INTEGER,
    title        TEXT,
    model        TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    archived_at  INTEGER
);
-- Lookup by key, and at most one live conversation per key.
CREATE UNIQUE INDEX conversations_live_key ON conversations (key) WHERE archived_at IS NULL;
-- The retention sweep: a guild's conversations by last update.
CREATE INDEX conversations_guild_updated ON conversations (guild_id, updated_at);

-- Messages; `turn_id` groups the rows written by one call (a user message, or a model turn).
CREATE TABLE messages (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id    INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    turn_id            TEXT    NOT NULL,
    role               TEXT    NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
    author_id          INTEGER,
    author_name        TEXT,
    content            TEXT    NOT NULL,
    attachments        TEXT,
    tool_calls         TEXT,
    tool_name          TEXT,
    tool_call_id       TEXT,
    model              TEXT,
    prompt_tokens      INTEGER,
    completion_tokens  INTEGER,
    interrupted        INTEGER NOT NULL DEFAULT 0 CHECK (interrupted IN (0, 1)),
    replaced_at        INTEGER,
    created_at         INTEGER NOT NULL
);
-- History: a conversation's messages in order (and the cascade on delete).
CREATE INDEX messages_conversation ON messages (conversation_id, id);
-- Regenerate: the other messages of a turn.
CREATE INDEX messages_turn ON messages (turn_id);

-- The Discord messages showing a stored message (a long answer spans several).
CREATE TABLE message_discord_ids (
    discord_message_id  INTEGER PRIMARY KEY,
    message_id          INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    position            INTEGER NOT NULL
);
CREATE INDEX message_discord_ids_message ON message_discord_ids (message_id, position);

-- Model and system prompt chosen for a user, a channel or a guild.
CREATE TABLE preferences (
    level          TEXT    NOT NULL CHECK (level IN ('user', 'channel', 'guild')),
    target_id      INTEGER NOT NULL,
    model          TEXT,
    system_prompt  TEXT,
    updated_at     INTEGER NOT NULL,
    PRIMARY KEY (level, target_id)
);
