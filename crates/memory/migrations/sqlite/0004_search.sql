-- Keyword search and search scope, SQLite flavour. Keep in step with ../postgres/0004_search.sql.
--
-- Every user and assistant message is indexed by FTS5 in an external-content table over
-- `messages` (the text is stored once, in `messages`), kept in step by triggers in the same
-- transaction as the write: an index row appears with its message and leaves with it (a deleted
-- conversation's messages go by the foreign key's cascade, which fires these triggers too).
-- System prompts and tool results are not indexed. `unicode61 remove_diacritics 2` folds case
-- and accents, like PostgreSQL's 'simple' configuration folds case; neither stems.
CREATE VIRTUAL TABLE messages_fts USING fts5(
    content,
    content = 'messages',
    content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages
WHEN new.role IN ('user', 'assistant')
BEGIN
    INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content);
END;

CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
WHEN old.role IN ('user', 'assistant')
BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
END;

CREATE TRIGGER messages_fts_update_old AFTER UPDATE OF content, role ON messages
WHEN old.role IN ('user', 'assistant')
BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
END;

CREATE TRIGGER messages_fts_update_new AFTER UPDATE OF content, role ON messages
WHEN new.role IN ('user', 'assistant')
BEGIN
    INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content);
END;

-- Backfill: the messages written before this migration.
INSERT INTO messages_fts (rowid, content)
SELECT id, content FROM messages WHERE role IN ('user', 'assistant');

-- Scope: the conversations a person took part in (wrote a message in, started, or owns).
CREATE INDEX messages_author ON messages (author_id, conversation_id);
CREATE INDEX conversations_owner ON conversations (owner_id);
CREATE INDEX conversations_user ON conversations (user_id);
-- Recency among a scope's messages.
CREATE INDEX messages_created ON messages (created_at);
