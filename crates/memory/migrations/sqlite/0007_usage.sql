-- Tokens the models spent per UTC day, per person and per guild (token budgets), SQLite
-- flavour. Keep in step with ../postgres/0007_usage.sql. `day` counts days since 1970-01-01
-- (UTC); `subject` is 'user' or 'guild' and `subject_id` that person's or guild's Discord id;
-- `tokens` is prompt + completion tokens of every answer that day, added after each answer.
-- Rows older than the store's usage window (31 days) are pruned by the retention sweeper.
CREATE TABLE token_usage (
    day         INTEGER NOT NULL,
    subject     TEXT    NOT NULL CHECK (subject IN ('user', 'guild')),
    subject_id  INTEGER NOT NULL,
    tokens      INTEGER NOT NULL CHECK (tokens >= 0),
    PRIMARY KEY (day, subject, subject_id)
);
