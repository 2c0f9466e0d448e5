-- Rolling summaries, titles, categories, entities and the background queue, PostgreSQL flavour.
-- Keep in step with ../sqlite/0009_summaries.sql.
--
-- A conversation's summaries are versioned: each new one covers its messages up to
-- `through_message_id` (later versions cover more) and stands in for them in the context when
-- the history no longer fits. `tokens` is what writing it cost; `vector` (little-endian f32,
-- `embedding_model`'s) is for related-conversation recommendations. `announced` is set once the
-- person was told a summary stands in for the oldest messages.
CREATE TABLE conversation_summaries (
    conversation_id     BIGINT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    version             BIGINT NOT NULL CHECK (version > 0),
    through_message_id  BIGINT NOT NULL,
    text                TEXT    NOT NULL,
    model               TEXT    NOT NULL,
    tokens              BIGINT NOT NULL CHECK (tokens >= 0),
    embedding_model     TEXT,
    vector              BYTEA,
    announced           BIGINT NOT NULL DEFAULT 0 CHECK (announced IN (0, 1)),
    created_at          BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, version)
);

-- The "needs a summary" marker a turn leaves when its history did not fit: the background pass
-- summarises up to `through_message_id`. Persisted, so the work resumes after a restart; a
-- marker already covered by a summary is done (an anti-join, as for embeddings).
CREATE TABLE summary_requests (
    conversation_id     BIGINT PRIMARY KEY REFERENCES conversations (id) ON DELETE CASCADE,
    through_message_id  BIGINT NOT NULL,
    requested_at        BIGINT NOT NULL
);

-- The automatic category, from `memory.categories` (NULL until the background pass ran).
ALTER TABLE conversations ADD COLUMN category TEXT;

-- Entities the background pass found in a conversation (replaced whole by each pass).
CREATE TABLE conversation_entities (
    conversation_id  BIGINT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    kind             TEXT    NOT NULL CHECK (kind IN ('people', 'project', 'place', 'product')),
    name             TEXT    NOT NULL,
    PRIMARY KEY (conversation_id, kind, name)
);
CREATE INDEX conversation_entities_name ON conversation_entities (name);

-- Tokens background work (summaries, titles) spent per UTC day and guild (0 outside a guild),
-- checked against `memory.background_tokens_per_guild_per_day`.
CREATE TABLE background_usage (
    day       BIGINT NOT NULL,
    guild_id  BIGINT NOT NULL,
    tokens    BIGINT NOT NULL CHECK (tokens >= 0),
    PRIMARY KEY (day, guild_id)
);
