-- The related-conversation preference, PostgreSQL flavour. Keep in step with
-- ../sqlite/0013_related.sql.
-- `related`: whether an answer gets a quiet "Related: <title>" button pointing at an earlier
-- conversation of the same person very close in meaning (1 on, 0 off, NULL: the next level or
-- the configuration decides). Set at the user and guild levels, like `recall`.
ALTER TABLE preferences ADD COLUMN related BIGINT CHECK (related IN (0, 1));
