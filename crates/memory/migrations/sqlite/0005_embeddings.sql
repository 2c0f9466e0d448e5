-- Embeddings and the recall preference, SQLite flavour. Keep in step with
-- ../postgres/0005_embeddings.sql.
--
-- One vector per message and embedding model: changing `models.embedding` embeds every message
-- again under the new name (the old rows stay until their messages go). `vector` is `dims`
-- little-endian f32 values. The background indexer finds the messages still missing a vector for
-- its model with an anti-join on the primary key, so it resumes where it stopped after a restart.
CREATE TABLE message_embeddings (
    message_id  INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    model       TEXT    NOT NULL,
    dims        INTEGER NOT NULL CHECK (dims > 0),
    vector      BLOB    NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (message_id, model)
);
-- Loading one model's vectors at start, in message order.
CREATE INDEX message_embeddings_model ON message_embeddings (model, message_id);

-- Recall of earlier conversations into the context, switched at a user's or a guild's level
-- (NULL: not chosen, the next level or the configuration decides).
ALTER TABLE preferences ADD COLUMN recall INTEGER CHECK (recall IN (0, 1));
