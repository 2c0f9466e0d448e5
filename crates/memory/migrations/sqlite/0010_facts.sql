-- Facts the bot remembers about a person, with their consent, SQLite flavour. Keep in step with
-- ../postgres/0010_facts.sql.
--
-- A fact belongs to one person in one scope: a guild, or their DMs (guild_id NULL; the terminal
-- front end counts as DMs). It is added to that person's system prompt in that scope only, so a
-- fact said in a DM never reaches a guild. Provenance: the message it came from (none when added
-- with `/memory add`), and when. Forgetting deletes the row (with `secure_delete` on): facts are
-- in no keyword index and have no vectors, so the row is the only copy.
CREATE TABLE person_facts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL,
    guild_id    INTEGER,                                              -- NULL: DMs
    fact        TEXT    NOT NULL CHECK (length(fact) > 0),
    message_id  INTEGER REFERENCES messages (id) ON DELETE SET NULL,  -- where it was said
    created_at  INTEGER NOT NULL                                      -- unix milliseconds
);
-- A person's facts in one scope, oldest first (the prompt block, `/memory show`).
CREATE INDEX person_facts_user ON person_facts (user_id, guild_id, id);
-- The message a fact came from, when messages are deleted (retention, forget).
CREATE INDEX person_facts_message ON person_facts (message_id);
