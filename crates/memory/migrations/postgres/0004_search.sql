-- Keyword search and search scope, PostgreSQL flavour. Keep in step with ../sqlite/0004_search.sql.
--
-- Every user and assistant message carries a `tsvector` of its text in the 'simple'
-- configuration (case folded, no stemming, no stop words: the same words FTS5 sees), a stored
-- generated column, so it is written with the message in the same statement and can never be
-- out of step; a GIN index finds the words. Adding the column computes it for every message
-- already stored (the backfill). System prompts and tool results get NULL and are not indexed.
ALTER TABLE messages ADD COLUMN search tsvector GENERATED ALWAYS AS (
    CASE WHEN role IN ('user', 'assistant') THEN to_tsvector('simple'::regconfig, content) END
) STORED;
CREATE INDEX messages_search ON messages USING GIN (search);

-- Scope: the conversations a person took part in (wrote a message in, started, or owns).
CREATE INDEX messages_author ON messages (author_id, conversation_id);
CREATE INDEX conversations_owner ON conversations (owner_id);
CREATE INDEX conversations_user ON conversations (user_id);
-- Recency among a scope's messages.
CREATE INDEX messages_created ON messages (created_at);
