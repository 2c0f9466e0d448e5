//! Rolling summaries, titles, categories and entities, and the background queue that writes
//! them.
//!
//! A conversation's summaries are versioned: each covers its messages up to a message id, a
//! newer one more than the last ([`Store::save_summary`]). A turn whose history no longer fits
//! reads the newest ([`Store::latest_summary`]) and leaves a marker asking for one that covers
//! more ([`Store::request_summary`]). The background pass finds its work with one query
//! ([`Store::background_jobs`]): conversations with a marker no summary covers yet, and
//! conversations with an answer but no title. Both are anti-joins on stored rows, so the work
//! resumes after a restart exactly where it stopped. What the pass spends is counted per guild
//! and UTC day ([`Store::add_background_tokens`]) against the configured cap.

use std::time::SystemTime;

use crate::vectors::code::{from_bytes, to_bytes};
use crate::{ConversationId, GuildId, MemoryError, MessageId, Role, Store, UtcDay, db};

/// A stored summary of a conversation's older messages.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// The conversation summarised.
    pub conversation: ConversationId,
    /// 1 for the first summary, one more for each that covers more.
    pub version: u32,
    /// The last message it covers: later messages are in the context as they are.
    pub through: MessageId,
    /// The summary.
    pub text: String,
    /// The model that wrote it.
    pub model: String,
    /// Tokens writing it cost (prompt + answer).
    pub tokens: u64,
    /// Its vector under `embedding_model`, if one was configured (related conversations).
    pub vector: Option<(String, Vec<f32>)>,
    /// Whether the person was told a summary stands in for the oldest messages (any version).
    pub announced: bool,
    /// When it was written.
    pub created_at: SystemTime,
}

/// A summary to store ([`Store::save_summary`]).
#[derive(Clone, Debug, PartialEq)]
pub struct NewSummary {
    /// The last message it covers.
    pub through: MessageId,
    /// The summary.
    pub text: String,
    /// The model that wrote it.
    pub model: String,
    /// Tokens writing it cost.
    pub tokens: u64,
    /// Its vector and the embedding model's name, if one is configured.
    pub vector: Option<(String, Vec<f32>)>,
}

/// What an entity is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EntityKind {
    /// A person.
    People,
    /// A project.
    Project,
    /// A place.
    Place,
    /// A product.
    Product,
}

impl EntityKind {
    /// Every kind, in the order they are listed.
    pub const ALL: [EntityKind; 4] = [Self::People, Self::Project, Self::Place, Self::Product];

    /// The kind as stored and as the model is asked for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::People => "people",
            Self::Project => "project",
            Self::Place => "place",
            Self::Product => "product",
        }
    }

    /// The kind named `name` (also the singular "person" and plurals such as "projects").
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().trim_end_matches('s') {
            "people" | "person" | "peoples" => Some(Self::People),
            "project" => Some(Self::Project),
            "place" | "location" => Some(Self::Place),
            "product" => Some(Self::Product),
            _ => None,
        }
    }
}

/// Something a conversation is about: a person, project, place or product.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Entity {
    /// What it is.
    pub kind: EntityKind,
    /// Its name, as the conversation spells it.
    pub name: String,
}

/// A conversation's title, category and entities.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Topics {
    /// The short title, once one is chosen.
    pub title: Option<String>,
    /// The automatic category, once the background pass ran.
    pub category: Option<String>,
    /// The entities found, by kind then name.
    pub entities: Vec<Entity>,
}

/// A conversation the background pass has work for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackgroundJob {
    /// The conversation.
    pub conversation: ConversationId,
    /// Its guild (whose daily cap the work counts against), if any.
    pub guild: Option<GuildId>,
    /// The model chosen for it, if any (the summary model's default).
    pub model: Option<String>,
    /// Whether it has a title already.
    pub titled: bool,
    /// The message a turn asked a summary to cover, when no summary covers it yet.
    pub summarise_through: Option<MessageId>,
    /// The last message its newest summary covers, if it has one.
    pub summarised_through: Option<MessageId>,
}

/// A message as the summary model reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SummarySource {
    /// The message.
    pub id: MessageId,
    /// A person's or the model's.
    pub role: Role,
    /// The person's name, for a person's message.
    pub author: Option<String>,
    /// The text.
    pub content: String,
}

#[derive(sqlx::FromRow)]
struct SummaryRow {
    conversation_id: i64,
    version: i64,
    through_message_id: i64,
    text: String,
    model: String,
    tokens: i64,
    embedding_model: Option<String>,
    vector: Option<Vec<u8>>,
    announced: i64,
    created_at: i64,
}

impl TryFrom<SummaryRow> for Summary {
    type Error = MemoryError;

    fn try_from(row: SummaryRow) -> Result<Self, MemoryError> {
        Ok(Self {
            conversation: ConversationId(row.conversation_id),
            version: u32::try_from(row.version).map_err(|_| MemoryError::Corrupt {
                detail: format!("summary version {} is out of range", row.version),
            })?,
            through: MessageId(row.through_message_id),
            text: row.text,
            model: row.model,
            tokens: db::stored_count(row.tokens, "conversation_summaries.tokens")?,
            vector: row
                .embedding_model
                .zip(row.vector.as_deref().map(from_bytes)),
            announced: row.announced != 0,
            created_at: db::time(row.created_at),
        })
    }
}

#[derive(sqlx::FromRow)]
struct JobRow {
    id: i64,
    guild_id: Option<i64>,
    model: Option<String>,
    title: Option<String>,
    wanted: Option<i64>,
    summarised: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct SourceRow {
    id: i64,
    role: String,
    author_name: Option<String>,
    content: String,
}

/// Conversations with a summary marker no summary covers, or an answer and no title.
const JOBS: &str = "SELECT c.id, c.guild_id, c.model, c.title, r.through_message_id AS wanted, \
     (SELECT MAX(s.through_message_id) FROM conversation_summaries s \
      WHERE s.conversation_id = c.id) AS summarised \
     FROM conversations c LEFT JOIN summary_requests r ON r.conversation_id = c.id \
     WHERE c.id > $1 AND ( \
       (r.conversation_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM conversation_summaries s \
          WHERE s.conversation_id = c.id AND s.through_message_id >= r.through_message_id)) \
       OR (c.title IS NULL AND EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id \
          AND m.role = 'assistant' AND m.content <> '' AND m.replaced_at IS NULL))) \
     ORDER BY c.id LIMIT $2";

/// Replaces the conversation's entities with `entities` (repeats once), in `tx`.
async fn replace_entities(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    conversation: ConversationId,
    entities: &[Entity],
) -> Result<(), MemoryError> {
    sqlx::query("DELETE FROM conversation_entities WHERE conversation_id = $1")
        .bind(conversation.0)
        .execute(&mut **tx)
        .await?;
    let mut unique: Vec<&Entity> = entities.iter().collect();
    unique.sort();
    unique.dedup();
    for entity in unique {
        sqlx::query(
            "INSERT INTO conversation_entities (conversation_id, kind, name) VALUES ($1, $2, $3)",
        )
        .bind(conversation.0)
        .bind(entity.kind.as_str())
        .bind(&entity.name)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Forgetting a person (`privacy/forget.rs`, in its transaction, before their messages are
/// replaced by notes): the summaries, entities, title and category of the conversations
/// others took part in were written from their words too, so they go; the background pass
/// writes them again from what remains. Returns how many summaries went.
pub(crate) async fn forget_derived(
    conn: &mut sqlx::AnyConnection,
    author: i64,
) -> Result<u64, MemoryError> {
    const THEIRS: &str = "(SELECT conversation_id FROM messages WHERE author_id = $1)";
    let mut summaries = 0;
    for table in [
        "conversation_summaries",
        "conversation_entities",
        "summary_requests",
    ] {
        let sql = format!("DELETE FROM {table} WHERE conversation_id IN {THEIRS}");
        let deleted = sqlx::query(&sql)
            .bind(author)
            .execute(&mut *conn)
            .await?
            .rows_affected();
        if table == "conversation_summaries" {
            summaries = deleted;
        }
    }
    let sql =
        format!("UPDATE conversations SET title = NULL, category = NULL WHERE id IN {THEIRS}");
    sqlx::query(&sql).bind(author).execute(&mut *conn).await?;
    Ok(summaries)
}

/// How a guild is stored in `background_usage` (0 outside a guild).
fn guild_key(guild: Option<GuildId>) -> i64 {
    guild.map_or(0, db::id)
}

impl Store {
    /// The conversation's newest summary, if it has one (`announced` says whether any version
    /// was announced).
    pub async fn latest_summary(
        &self,
        conversation: ConversationId,
    ) -> Result<Option<Summary>, MemoryError> {
        let row = sqlx::query_as::<_, SummaryRow>(
            "SELECT conversation_id, version, through_message_id, text, model, tokens, \
             embedding_model, vector, created_at, \
             (SELECT MAX(a.announced) FROM conversation_summaries a \
              WHERE a.conversation_id = s.conversation_id) AS announced \
             FROM conversation_summaries s WHERE conversation_id = $1 \
             ORDER BY version DESC LIMIT 1",
        )
        .bind(conversation.0)
        .fetch_optional(&self.pool)
        .await?;
        row.map(Summary::try_from).transpose()
    }

    /// Stores a new version of the conversation's summary (one more than the newest), and
    /// drops the marker it answers. Returns it as stored.
    pub async fn save_summary(
        &self,
        conversation: ConversationId,
        summary: NewSummary,
    ) -> Result<Summary, MemoryError> {
        self.settle().await?;
        let (model, vector) = summary
            .vector
            .as_ref()
            .map(|(model, vector)| (model.as_str(), to_bytes(vector)))
            .unzip();
        // The transaction starts with its write (the next version counted inside it): on
        // SQLite a read first would make the write fail with SQLITE_BUSY_SNAPSHOT, without
        // waiting, whenever a turn wrote meanwhile.
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query_as::<_, SummaryRow>(
            "INSERT INTO conversation_summaries (conversation_id, version, through_message_id, \
             text, model, tokens, embedding_model, vector, created_at) \
             VALUES ($1, (SELECT COALESCE(MAX(version), 0) + 1 FROM conversation_summaries \
                          WHERE conversation_id = $1), $2, $3, $4, $5, $6, $7, $8) \
             RETURNING conversation_id, version, through_message_id, text, model, tokens, \
             embedding_model, vector, announced, created_at",
        )
        .bind(conversation.0)
        .bind(summary.through.0)
        .bind(&summary.text)
        .bind(&summary.model)
        .bind(db::count(summary.tokens))
        .bind(model)
        .bind(vector)
        .bind(db::now())
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM summary_requests WHERE conversation_id = $1 AND through_message_id <= $2",
        )
        .bind(conversation.0)
        .bind(summary.through.0)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Summary::try_from(row)
    }

    /// Records that the person was told a summary stands in for the oldest messages.
    pub async fn announce_summary(&self, conversation: ConversationId) -> Result<(), MemoryError> {
        sqlx::query("UPDATE conversation_summaries SET announced = 1 WHERE conversation_id = $1")
            .bind(conversation.0)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Asks the background pass for a summary covering the conversation up to `through` (a
    /// marker asking for more already is kept).
    pub async fn request_summary(
        &self,
        conversation: ConversationId,
        through: MessageId,
    ) -> Result<(), MemoryError> {
        self.settle().await?;
        sqlx::query(
            "INSERT INTO summary_requests (conversation_id, through_message_id, requested_at) \
             VALUES ($1, $2, $3) ON CONFLICT (conversation_id) DO UPDATE \
             SET through_message_id = excluded.through_message_id, \
                 requested_at = excluded.requested_at \
             WHERE excluded.through_message_id > summary_requests.through_message_id",
        )
        .bind(conversation.0)
        .bind(through.0)
        .bind(db::now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Up to `limit` conversations after `after` (in id order) with background work: a summary
    /// marker no summary covers yet, or an answer and no title. Start from
    /// `ConversationId(0)` after a restart.
    pub async fn background_jobs(
        &self,
        after: ConversationId,
        limit: usize,
    ) -> Result<Vec<BackgroundJob>, MemoryError> {
        let rows = sqlx::query_as::<_, JobRow>(JOBS)
            .bind(after.0)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let summarised = row.summarised.map(MessageId);
                BackgroundJob {
                    conversation: ConversationId(row.id),
                    guild: db::opt_discord_id(row.guild_id),
                    model: row.model,
                    titled: row.title.is_some(),
                    summarise_through: row
                        .wanted
                        .filter(|wanted| row.summarised.is_none_or(|done| done < *wanted))
                        .map(MessageId),
                    summarised_through: summarised,
                }
            })
            .collect())
    }

    /// Up to `limit` of the conversation's messages with text after `after`, up to `through`
    /// when given, oldest first: what a summary or a title is written from (tool results and
    /// replaced answers left out).
    pub async fn summary_sources(
        &self,
        conversation: ConversationId,
        after: MessageId,
        through: Option<MessageId>,
        limit: usize,
    ) -> Result<Vec<SummarySource>, MemoryError> {
        let rows = sqlx::query_as::<_, SourceRow>(
            "SELECT id, role, author_name, content FROM messages \
             WHERE conversation_id = $1 AND id > $2 AND id <= $3 \
             AND role IN ('user', 'assistant') AND content <> '' AND replaced_at IS NULL \
             ORDER BY id LIMIT $4",
        )
        .bind(conversation.0)
        .bind(after.0)
        .bind(through.map_or(i64::MAX, |id| id.0))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(SummarySource {
                    id: MessageId(row.id),
                    role: Role::parse(&row.role)?,
                    author: row.author_name,
                    content: row.content,
                })
            })
            .collect()
    }

    /// Stores what the background pass found: the title (only where none is set), the
    /// category (when given) and the entities (replacing the old ones, when any are given).
    pub async fn save_topics(
        &self,
        conversation: ConversationId,
        title: Option<&str>,
        category: Option<&str>,
        entities: &[Entity],
    ) -> Result<(), MemoryError> {
        self.settle().await?;
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE conversations SET title = COALESCE(title, $2), \
             category = COALESCE($3, category) WHERE id = $1",
        )
        .bind(conversation.0)
        .bind(title)
        .bind(category)
        .execute(&mut *tx)
        .await?;
        crate::conversations::found(done.rows_affected(), conversation)?;
        if !entities.is_empty() {
            replace_entities(&mut tx, conversation, entities).await?;
        }
        tx.commit().await?;
        if let Some(hot) = &self.hot {
            hot.forget_id(conversation);
        }
        Ok(())
    }

    /// The conversation's title, category and entities.
    pub async fn topics(&self, conversation: ConversationId) -> Result<Topics, MemoryError> {
        let (title, category): (Option<String>, Option<String>) =
            sqlx::query_as("SELECT title, category FROM conversations WHERE id = $1")
                .bind(conversation.0)
                .fetch_optional(&self.pool)
                .await?
                .ok_or(MemoryError::NotFound {
                    what: "conversation",
                    id: conversation.0,
                })?;
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT kind, name FROM conversation_entities WHERE conversation_id = $1 \
             ORDER BY kind, name",
        )
        .bind(conversation.0)
        .fetch_all(&self.pool)
        .await?;
        let mut entities: Vec<Entity> = rows
            .into_iter()
            .filter_map(|(kind, name)| {
                Some(Entity {
                    kind: EntityKind::parse(&kind)?,
                    name,
                })
            })
            .collect();
        entities.sort();
        Ok(Topics {
            title,
            category,
            entities,
        })
    }

    /// Tokens background work spent on `day` for `guild` (`None`: outside any guild).
    pub async fn background_tokens(
        &self,
        day: UtcDay,
        guild: Option<GuildId>,
    ) -> Result<u64, MemoryError> {
        let row: Option<(i64,)> =
            sqlx::query_as("SELECT tokens FROM background_usage WHERE day = $1 AND guild_id = $2")
                .bind(day.0)
                .bind(guild_key(guild))
                .fetch_optional(&self.pool)
                .await?;
        row.map_or(Ok(0), |(tokens,)| {
            db::stored_count(tokens, "background_usage.tokens")
        })
    }

    /// Adds `tokens` to what background work spent on `day` for `guild`.
    pub async fn add_background_tokens(
        &self,
        day: UtcDay,
        guild: Option<GuildId>,
        tokens: u64,
    ) -> Result<(), MemoryError> {
        sqlx::query(
            "INSERT INTO background_usage (day, guild_id, tokens) VALUES ($1, $2, $3) \
             ON CONFLICT (day, guild_id) \
             DO UPDATE SET tokens = background_usage.tokens + excluded.tokens",
        )
        .bind(day.0)
        .bind(guild_key(guild))
        .bind(db::count(tokens))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// How many summaries are stored, of how many conversations.
    pub async fn summary_counts(&self) -> Result<(u64, u64), MemoryError> {
        let (summaries, conversations): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), COUNT(DISTINCT conversation_id) FROM conversation_summaries",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok((
            db::stored_count(summaries, "summaries")?,
            db::stored_count(conversations, "summarised conversations")?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_kinds_parse_loosely() {
        for kind in EntityKind::ALL {
            assert_eq!(EntityKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(EntityKind::parse("Person"), Some(EntityKind::People));
        assert_eq!(EntityKind::parse("projects"), Some(EntityKind::Project));
        assert_eq!(EntityKind::parse("mood"), None);
    }
}
