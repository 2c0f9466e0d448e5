-- Conversation tags, sqlite flavour. Keep in step with ../postgres/0011_conversation_tags.sql.
-- A person tags a conversation with `/tag`; `/search tag:` finds it again. A tag is stored as
-- written by `tags::tag_name` (lower case, trimmed, no leading `#`), once per conversation;
-- `tagged_by` is the Discord id of who added it (NULL once that person is forgotten), `tagged_at`
-- unix milliseconds. Tags go with their conversation (retention, forget).
CREATE TABLE conversation_tags (
    conversation_id  INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    tag              TEXT    NOT NULL,
    tagged_by        INTEGER,
    tagged_at        INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, tag)
);
-- `/search tag:`: the conversations carrying a tag.
CREATE INDEX conversation_tags_tag ON conversation_tags (tag, conversation_id);
