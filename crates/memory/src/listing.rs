//! A person's recent conversations (`/conversations`, `/continue`): the conversations a
//! [`SearchScope`] may read (the same rules as search and recall: a person sees the
//! conversations they took part in, DMs only from a DM, a guild's only from that guild,
//! retention respected), newest first, with what a list shows of each.

use std::time::SystemTime;

use crate::search::{Params, SearchScope};
use crate::{
    ChannelId, ConversationId, ConversationKey, GuildId, MemoryError, PostId, Store, UserId, db,
};

/// One conversation as a list shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedConversation {
    /// Its id (for Continue).
    pub id: ConversationId,
    /// The front end's key it lives (or lived) under.
    pub key: ConversationKey,
    /// Its title, once one is chosen.
    pub title: Option<String>,
    /// The first thing a person said in it, for a conversation without a title.
    pub first_message: Option<String>,
    /// When its last message was written (when it started, if it holds none).
    pub last_message_at: SystemTime,
    /// Whether it was put aside (`/new`, or another conversation continued in its place).
    pub archived: bool,
    /// Its guild (`None`: a DM or the terminal).
    pub guild_id: Option<GuildId>,
    /// The channel (or thread) it started in.
    pub channel_id: Option<ChannelId>,
    /// The front end's post of its latest answer, if recorded (a jump link).
    pub last_post: Option<PostId>,
    /// Its tags, alphabetically.
    pub tags: Vec<String>,
}

impl ListedConversation {
    /// What a list calls it: its title, else its first message, else "(untitled)".
    pub fn label(&self) -> &str {
        self.title
            .as_deref()
            .or(self.first_message.as_deref())
            .map(str::trim)
            .filter(|label| !label.is_empty())
            .unwrap_or("(untitled)")
    }
}

#[derive(sqlx::FromRow)]
struct ListedRow {
    id: i64,
    key: String,
    title: Option<String>,
    first_message: Option<String>,
    last_at: Option<i64>,
    created_at: i64,
    archived_at: Option<i64>,
    guild_id: Option<i64>,
    channel_id: Option<i64>,
    last_post: Option<i64>,
}

impl From<ListedRow> for ListedConversation {
    fn from(row: ListedRow) -> Self {
        Self {
            id: ConversationId(row.id),
            key: ConversationKey::new(row.key),
            title: row.title,
            first_message: row.first_message,
            last_message_at: db::time(row.last_at.unwrap_or(row.created_at)),
            archived: row.archived_at.is_some(),
            guild_id: db::opt_discord_id(row.guild_id),
            channel_id: db::opt_discord_id(row.channel_id),
            last_post: db::opt_discord_id(row.last_post),
            tags: Vec::new(),
        }
    }
}

/// The listing's columns over conversation `c`: the first message a person wrote, the time of
/// the last message, the post of the last answer shown.
const COLUMNS: &str = "c.id, c.key, c.title, c.archived_at, c.created_at, c.guild_id, c.channel_id, \
    (SELECT f.content FROM messages f WHERE f.conversation_id = c.id AND f.role = 'user' \
     AND f.replaced_at IS NULL ORDER BY f.id LIMIT 1) AS first_message, \
    (SELECT MAX(l.created_at) FROM messages l WHERE l.conversation_id = c.id) AS last_at, \
    (SELECT d.discord_message_id FROM message_discord_ids d JOIN messages a \
     ON a.id = d.message_id WHERE a.conversation_id = c.id \
     ORDER BY a.id DESC, d.position LIMIT 1) AS last_post";

impl Store {
    /// The conversations `scope` may read that hold a message, the most recently written
    /// first, at most `limit`; for a title search (autocomplete), only those whose title or
    /// first message contains `text` (any case).
    pub async fn recent_conversations(
        &self,
        scope: &SearchScope,
        text: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ListedConversation>, MemoryError> {
        self.settle().await?;
        let (now, cutoffs) = self.retention_bounds(SystemTime::now());
        let mut params = Params::default();
        let condition = scope.conversation_condition(&mut params, now, cutoffs);
        let limit = params.int(i64::try_from(limit).unwrap_or(i64::MAX));
        // A conversation without messages (a `/new` nobody wrote in) is left out.
        let mut filters = vec!["last_at IS NOT NULL".to_owned()];
        if let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) {
            let pattern = params.text(format!("%{}%", like_escaped(&text.to_lowercase())));
            filters.push(format!(
                "LOWER(COALESCE(title, first_message, '')) LIKE {pattern} ESCAPE '\\'"
            ));
        }
        let sql = format!(
            "SELECT * FROM (SELECT {COLUMNS} FROM conversations c WHERE {condition}) listed \
             WHERE {} ORDER BY last_at DESC, id DESC LIMIT {limit}",
            filters.join(" AND ")
        );
        let rows = params
            .bind_as(sqlx::query_as::<_, ListedRow>(&sql))
            .fetch_all(&self.pool)
            .await?;
        let mut listed: Vec<ListedConversation> =
            rows.into_iter().map(ListedConversation::from).collect();
        for conversation in &mut listed {
            conversation.tags = self.conversation_tags(conversation.id).await?;
        }
        Ok(listed)
    }
}

impl Store {
    /// Conversation `id` as a list shows it (whatever its scope: check it first), or
    /// `NotFound`.
    pub async fn listed_conversation(
        &self,
        id: ConversationId,
    ) -> Result<ListedConversation, MemoryError> {
        self.settle().await?;
        let sql = format!("SELECT {COLUMNS} FROM conversations c WHERE c.id = $1");
        let row = sqlx::query_as::<_, ListedRow>(&sql)
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(MemoryError::NotFound {
                what: "conversation",
                id: id.0,
            })?;
        let mut listed = ListedConversation::from(row);
        listed.tags = self.conversation_tags(id).await?;
        Ok(listed)
    }
}

/// `text` with LIKE's wildcards (and the escape character) escaped by `\`.
fn like_escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl Store {
    /// Whether anyone but `person` wrote a message in conversation `id` (replaced answers
    /// aside): what was derived from the whole conversation, such as its summary, then holds
    /// someone else's words too.
    pub async fn others_wrote(
        &self,
        id: ConversationId,
        person: UserId,
    ) -> Result<bool, MemoryError> {
        let others: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM messages WHERE conversation_id = $1 AND role = 'user' \
             AND (author_id IS NULL OR author_id <> $2) AND replaced_at IS NULL",
        )
        .bind(id.0)
        .bind(db::id(person))
        .fetch_one(&self.pool)
        .await?;
        Ok(others > 0)
    }
}
