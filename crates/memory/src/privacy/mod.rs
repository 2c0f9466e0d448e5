//! People's data rights: everything stored about a person ([`Store::personal_data`]), and
//! forgetting them ([`Store::forget_person`], in `forget.rs`).
//!
//! Where a person's id is stored (every migration read, up to 0005):
//! - `users.id`: their name as last seen;
//! - `conversations.owner_id`, `conversations.user_id`: conversations they started;
//! - `messages.author_id` (with `author_name` and their text): what they wrote, and through it
//!   the keyword index (`messages_fts` on SQLite, the `search` tsvector on PostgreSQL), the
//!   stored vectors (`message_embeddings`) and the Discord posts showing it
//!   (`message_discord_ids`);
//! - `preferences` with `level = 'user'` and `target_id` = their id: model, system prompt,
//!   recall and related-conversation switches chosen for them (channel and guild preferences
//!   do not record who set them);
//! - `disabled_tools.disabled_by`: tool switches they made as an admin;
//! - `person_facts.user_id`: facts the bot remembers about them (0010), in every scope.
//! - `conversation_tags.tagged_by` (0011): tags they put on a conversation (forgetting clears
//!   the id; the tag stays on a conversation others took part in).
//!
//! Derived from the conversations they took part in (0009, exported with each conversation,
//! `derived.rs`): summaries, the category and entities; forgetting them drops these for every
//! conversation they wrote in (the background pass writes them again from what remains).
//!
//! "The answers to them" are the model's messages (assistant and tool rows) that follow one of
//! their messages in a conversation, up to the next person's message.

mod derived;
mod forget;

use std::time::SystemTime;

use serde::Serialize;

use crate::{
    ChannelId, Conversation, ConversationId, GuildId, MemoryError, MessageId, Role, Store,
    StoredMessage, UserId, db,
};

pub use derived::{EntityData, SummaryData, TagData};
pub use forget::{ForgetReport, REMOVED_NOTE};

/// Everything stored about one person, ready to be written out as JSON.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PersonalData {
    /// Whose data this is.
    #[serde(serialize_with = "as_string")]
    pub user: UserId,
    /// When it was gathered.
    #[serde(serialize_with = "rfc3339")]
    pub exported_at: SystemTime,
    /// Their name as the bot last saw it, if it saw them.
    pub profile: Option<Profile>,
    /// The conversations they took part in, each with their messages and the answers to them.
    pub conversations: Vec<ConversationData>,
    /// What they chose for themselves (model, system prompt, recall).
    pub preferences: Option<PreferenceData>,
    /// Tools they turned off in a channel (as an admin).
    pub tool_switches: Vec<ToolSwitchData>,
    /// Tokens their answers cost, per UTC day (kept for the token budgets), oldest first.
    pub token_usage: Vec<UsageData>,
    /// The audit log's entries they did or that are about them, oldest first (as `mcpcord
    /// audit export` writes them).
    pub audit: Vec<serde_json::Value>,
    /// Facts the bot remembers about them, in every guild and their DMs, oldest first.
    pub facts: Vec<FactData>,
}

/// A fact the bot remembers about the person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FactData {
    /// The fact's id (what `/memory forget` names).
    pub id: i64,
    /// The guild it belongs to; none: their DMs.
    #[serde(serialize_with = "opt_string")]
    pub guild: Option<GuildId>,
    /// The fact.
    pub fact: String,
    /// The message it was said in, while that message is stored.
    #[serde(serialize_with = "opt_message_id")]
    pub message: Option<MessageId>,
    /// When it was remembered.
    #[serde(serialize_with = "rfc3339")]
    pub created_at: SystemTime,
}

/// Tokens one person's answers cost on one UTC day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UsageData {
    /// The day (UTC), as `YYYY-MM-DD`.
    pub day: String,
    /// Prompt and answer tokens that day.
    pub tokens: u64,
}

/// The person as the bot saw them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Profile {
    /// Their name when last seen.
    pub name: String,
    /// When first seen.
    #[serde(serialize_with = "rfc3339")]
    pub first_seen: SystemTime,
    /// When their name last changed.
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: SystemTime,
}

/// A conversation the person took part in, with only their part of it when it is shared.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConversationData {
    /// The conversation's id.
    #[serde(serialize_with = "conversation_id")]
    pub id: ConversationId,
    /// Its guild, if any (none: a DM or the terminal).
    #[serde(serialize_with = "opt_string")]
    pub guild: Option<GuildId>,
    /// Its channel or thread, if any.
    #[serde(serialize_with = "opt_string")]
    pub channel: Option<ChannelId>,
    /// They started it.
    pub started_by_you: bool,
    /// Somebody else took part too: only their messages and the answers to them are included.
    pub shared: bool,
    /// Its title, once chosen.
    pub title: Option<String>,
    /// Its automatic category, once the background pass ran.
    pub category: Option<String>,
    /// What it is about (people, projects, places, products), as the background pass found.
    pub entities: Vec<EntityData>,
    /// Its summaries, every version, oldest first.
    pub summaries: Vec<SummaryData>,
    /// The tags on it, saying which they put there.
    pub tags: Vec<TagData>,
    /// When it started.
    #[serde(serialize_with = "rfc3339")]
    pub created_at: SystemTime,
    /// When a message was last written to it.
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: SystemTime,
    /// Their messages and the answers to them, in order.
    pub messages: Vec<MessageData>,
}

/// One stored message: theirs, or an answer to them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MessageData {
    /// The message's id.
    #[serde(serialize_with = "message_id")]
    pub id: MessageId,
    /// `user` (theirs), `assistant` (the model's answer) or `tool` (a tool's result in it).
    pub role: &'static str,
    /// They wrote it.
    pub yours: bool,
    /// The name they wrote it under.
    pub author_name: Option<String>,
    /// The text.
    pub content: String,
    /// Files or images attached, as stored.
    pub attachments: Option<serde_json::Value>,
    /// Tools the model called in this answer.
    pub tool_calls: Option<serde_json::Value>,
    /// For a tool result: the tool.
    pub tool_name: Option<String>,
    /// For an answer: the model that wrote it.
    pub model: Option<String>,
    /// Regenerated: kept, but no longer part of the conversation.
    pub replaced: bool,
    /// When it was written.
    #[serde(serialize_with = "rfc3339")]
    pub created_at: SystemTime,
}

/// The choices stored for the person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PreferenceData {
    /// The model chosen.
    pub model: Option<String>,
    /// The system prompt chosen.
    pub system_prompt: Option<String>,
    /// Recall of earlier conversations switched on or off.
    pub recall: Option<bool>,
    /// The related-conversation button switched on or off.
    pub related: Option<bool>,
    /// When last changed.
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: SystemTime,
}

/// A tool the person turned off in a channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ToolSwitchData {
    /// The channel or thread.
    #[serde(serialize_with = "as_string")]
    pub channel: ChannelId,
    /// The MCP server (empty: any server).
    pub server: String,
    /// The tool.
    pub tool: String,
    /// When they turned it off.
    #[serde(serialize_with = "rfc3339")]
    pub disabled_at: SystemTime,
}

/// The conversations a person took part in: wrote a message in, started, or is the user of.
pub(crate) const TAKEN_PART: &str = "(c.owner_id = $1 OR c.user_id = $1 OR EXISTS \
     (SELECT 1 FROM messages p WHERE p.conversation_id = c.id AND p.author_id = $1))";

#[derive(sqlx::FromRow)]
struct ProfileRow {
    name: String,
    created_at: i64,
    updated_at: i64,
}

#[derive(sqlx::FromRow)]
struct PreferenceRow {
    model: Option<String>,
    system_prompt: Option<String>,
    recall: Option<i64>,
    related: Option<i64>,
    updated_at: i64,
}

#[derive(sqlx::FromRow)]
struct SwitchRow {
    channel_id: i64,
    server: String,
    tool: String,
    created_at: i64,
}

impl Store {
    /// Everything stored about `user`: their profile, the conversations they took part in with
    /// their messages and the answers to them (nobody else's messages), their preferences, the
    /// tool switches they made and their token usage, read in one transaction so the parts
    /// agree; then the audit log's entries about them.
    pub async fn personal_data(&self, user: UserId) -> Result<PersonalData, MemoryError> {
        // Their messages still queued (see `group.rs`) are part of it.
        self.settle().await?;
        let mut data = self.stored_about(user).await?;
        data.audit = self.audit_about(user).await?;
        Ok(data)
    }

    /// [`personal_data`](Self::personal_data) but the audit log, read in one transaction.
    async fn stored_about(&self, user: UserId) -> Result<PersonalData, MemoryError> {
        let mut tx = self.pool.begin().await?;
        let profile = profile_of(&mut tx, user).await?;
        let preferences = preferences_of(&mut tx, user).await?;
        let tool_switches = tool_switches_of(&mut tx, user).await?;
        let token_usage = token_usage(&mut tx, user).await?;
        let conversations = conversations_of(&mut tx, user).await?;
        let facts = facts_of(&mut tx, user).await?;
        tx.commit().await?;
        Ok(PersonalData {
            user,
            exported_at: SystemTime::now(),
            profile,
            conversations,
            preferences,
            tool_switches,
            token_usage,
            audit: Vec::new(),
            facts,
        })
    }
}

impl Store {
    /// The audit log's entries `user` did or that are about them, oldest first, as JSON.
    async fn audit_about(&self, user: UserId) -> Result<Vec<serde_json::Value>, MemoryError> {
        let filter = crate::AuditFilter {
            user: Some(user),
            oldest_first: true,
            ..crate::AuditFilter::default()
        };
        let records = self.audit(&filter).await?;
        Ok(records.iter().map(crate::AuditRecord::to_json).collect())
    }
}

/// The person as the bot saw them, if it did.
async fn profile_of(
    conn: &mut sqlx::AnyConnection,
    user: UserId,
) -> Result<Option<Profile>, MemoryError> {
    let row = sqlx::query_as::<_, ProfileRow>(
        "SELECT name, created_at, updated_at FROM users WHERE id = $1",
    )
    .bind(db::id(user))
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|row| Profile {
        name: row.name,
        first_seen: db::time(row.created_at),
        updated_at: db::time(row.updated_at),
    }))
}

/// What the person chose for themselves, if anything.
async fn preferences_of(
    conn: &mut sqlx::AnyConnection,
    user: UserId,
) -> Result<Option<PreferenceData>, MemoryError> {
    let row = sqlx::query_as::<_, PreferenceRow>(
        "SELECT model, system_prompt, recall, related, updated_at FROM preferences \
         WHERE level = 'user' AND target_id = $1",
    )
    .bind(db::id(user))
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|row| PreferenceData {
        model: row.model,
        system_prompt: row.system_prompt,
        recall: row.recall.map(|on| on != 0),
        related: row.related.map(|on| on != 0),
        updated_at: db::time(row.updated_at),
    }))
}

/// The tools the person turned off.
async fn tool_switches_of(
    conn: &mut sqlx::AnyConnection,
    user: UserId,
) -> Result<Vec<ToolSwitchData>, MemoryError> {
    let rows = sqlx::query_as::<_, SwitchRow>(
        "SELECT channel_id, server, tool, created_at FROM disabled_tools \
         WHERE disabled_by = $1 ORDER BY channel_id, server, tool",
    )
    .bind(db::id(user))
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| ToolSwitchData {
            channel: db::discord_id(row.channel_id),
            server: row.server,
            tool: row.tool,
            disabled_at: db::time(row.created_at),
        })
        .collect())
}

/// The facts remembered about the person, in every scope, oldest first.
async fn facts_of(
    conn: &mut sqlx::AnyConnection,
    user: UserId,
) -> Result<Vec<FactData>, MemoryError> {
    let rows = sqlx::query_as::<_, (i64, Option<i64>, String, Option<i64>, i64)>(
        "SELECT id, guild_id, fact, message_id, created_at FROM person_facts \
         WHERE user_id = $1 ORDER BY id",
    )
    .bind(db::id(user))
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, guild, fact, message, created_at)| FactData {
            id,
            guild: db::opt_discord_id(guild),
            fact,
            message: message.map(MessageId),
            created_at: db::time(created_at),
        })
        .collect())
}

/// The conversations the person took part in, with their part of each.
async fn conversations_of(
    conn: &mut sqlx::AnyConnection,
    user: UserId,
) -> Result<Vec<ConversationData>, MemoryError> {
    let mut conversations = Vec::new();
    for conversation in crate::conversations::taken_part(conn, user).await? {
        let messages = crate::messages::all_messages(conn, conversation.id).await?;
        let derived = derived::derived_of(conn, conversation.id, user).await?;
        let mut data = conversation_data(user, conversation, messages);
        data.category = derived.category;
        data.entities = derived.entities;
        data.summaries = derived.summaries;
        data.tags = derived.tags;
        conversations.push(data);
    }
    Ok(conversations)
}

/// `user`'s tokens per UTC day (token budgets), oldest first.
async fn token_usage(
    conn: &mut sqlx::AnyConnection,
    user: UserId,
) -> Result<Vec<UsageData>, MemoryError> {
    let rows = sqlx::query_as::<_, (i64, i64)>(
        "SELECT day, tokens FROM token_usage WHERE subject = 'user' AND subject_id = $1 \
         ORDER BY day",
    )
    .bind(db::id(user))
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(day, tokens)| UsageData {
            day: humantime::format_rfc3339_seconds(crate::UtcDay(day).start()).to_string()[..10]
                .to_owned(),
            tokens: u64::try_from(tokens).unwrap_or(0),
        })
        .collect())
}

/// `conversation` as `user` sees their part of it, from all its `messages` in order.
fn conversation_data(
    user: UserId,
    conversation: Conversation,
    messages: Vec<StoredMessage>,
) -> ConversationData {
    let someone_else = |id: Option<UserId>| id.is_some_and(|id| id != user);
    let shared = someone_else(conversation.owner)
        || someone_else(conversation.scope.user_id)
        || messages
            .iter()
            .any(|m| m.role == Role::User && m.author.as_ref().map(|a| a.id) != Some(user));
    ConversationData {
        id: conversation.id,
        guild: conversation.scope.guild_id,
        channel: conversation.scope.channel_id,
        started_by_you: conversation.owner == Some(user),
        shared,
        title: conversation.title,
        category: None,
        entities: Vec::new(),
        summaries: Vec::new(),
        tags: Vec::new(),
        created_at: conversation.created_at,
        updated_at: conversation.updated_at,
        messages: theirs(user, messages),
    }
}

/// The messages `user` wrote and the answers to them (the model's messages up to the next
/// person's message), in order.
pub(crate) fn theirs(user: UserId, messages: Vec<StoredMessage>) -> Vec<MessageData> {
    let mut asker_is_them = false;
    let mut kept = Vec::new();
    for message in messages {
        let yours = message.author.as_ref().is_some_and(|a| a.id == user);
        let keep = match message.role {
            Role::User => {
                asker_is_them = yours;
                yours
            }
            Role::Assistant | Role::Tool => asker_is_them,
            Role::System => false,
        };
        if keep {
            kept.push(message_data(message, yours));
        }
    }
    kept
}

fn message_data(message: StoredMessage, yours: bool) -> MessageData {
    MessageData {
        id: message.id,
        role: message.role.as_str(),
        yours,
        author_name: message.author.map(|a| a.name),
        content: message.content,
        attachments: message.attachments,
        tool_calls: message.tool_calls,
        tool_name: message.tool_name,
        model: message.model,
        replaced: message.replaced,
        created_at: message.created_at,
    }
}

fn as_string<S: serde::Serializer, T: std::fmt::Display>(
    value: &T,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

fn opt_string<S: serde::Serializer, T: std::fmt::Display>(
    value: &Option<T>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => serializer.collect_str(value),
        None => serializer.serialize_none(),
    }
}

fn conversation_id<S: serde::Serializer>(
    id: &ConversationId,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_i64(id.0)
}

fn message_id<S: serde::Serializer>(id: &MessageId, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_i64(id.0)
}

fn opt_message_id<S: serde::Serializer>(
    id: &Option<MessageId>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match id {
        Some(id) => serializer.serialize_i64(id.0),
        None => serializer.serialize_none(),
    }
}

fn rfc3339<S: serde::Serializer>(time: &SystemTime, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&humantime::format_rfc3339_millis(*time))
}

#[cfg(test)]
mod tests;
