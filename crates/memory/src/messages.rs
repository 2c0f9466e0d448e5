//! Messages: the user's message written at once, a model's turn written in one transaction,
//! history, regenerate, and the Discord messages that show each stored one.
//!
//! Why one long file: every query on `messages` reads the same columns into the same row type
//! (`message_columns!`, `MessageRow`); the Discord-message ids part is in `posts.rs`.

use std::time::SystemTime;

use sqlx::{AnyConnection, Connection};

use crate::conversations::found;
use crate::store::Durability;
use crate::{ConversationId, MemoryError, MessageId, Store, UserId, db};

/// The columns a [`StoredMessage`] is read from, in [`MessageRow`]'s order.
macro_rules! message_columns {
    () => {
        "id, conversation_id, role, author_id, author_name, content, attachments, tool_calls, \
         tool_name, tool_call_id, model, prompt_tokens, completion_tokens, interrupted, \
         replaced_at, created_at, turn_id"
    };
}

// After `message_columns!`, which it uses.
mod posts;

pub(crate) use posts::write_posts;

/// Who speaks in a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Instructions to the model.
    System,
    /// A person.
    User,
    /// The model.
    Assistant,
    /// A tool's result, answering one of the model's tool calls.
    Tool,
}

impl Role {
    /// The role's name, as models and the database spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::User => "user",
            Self::Assistant => "assistant",
            Self::Tool => "tool",
        }
    }

    pub(crate) fn parse(stored: &str) -> Result<Self, MemoryError> {
        Ok(match stored {
            "system" => Self::System,
            "user" => Self::User,
            "assistant" => Self::Assistant,
            "tool" => Self::Tool,
            other => {
                return Err(MemoryError::Corrupt {
                    detail: format!("unknown message role {other:?}"),
                });
            }
        })
    }
}

/// The person who wrote a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Author {
    /// Their Discord user id.
    pub id: UserId,
    /// Their display name when they wrote it (shown to the model in shared channels).
    pub name: String,
}

/// A message to store.
#[derive(Clone, Debug, PartialEq)]
pub struct NewMessage {
    /// Who speaks.
    pub role: Role,
    /// The person who wrote it, for user messages.
    pub author: Option<Author>,
    /// The text.
    pub content: String,
    /// Attached files or images, as the engine describes them (JSON).
    pub attachments: Option<serde_json::Value>,
    /// The tool calls an assistant message makes (JSON, as the model sent them).
    pub tool_calls: Option<serde_json::Value>,
    /// For a tool result: the tool that produced it.
    pub tool_name: Option<String>,
    /// For a tool result: the call it answers, when the model gave calls ids.
    pub tool_call_id: Option<String>,
    /// The model that wrote an assistant message.
    pub model: Option<String>,
    /// Prompt tokens the model reported for this answer.
    pub prompt_tokens: Option<u64>,
    /// Completion tokens the model reported for this answer.
    pub completion_tokens: Option<u64>,
    /// The answer was cut short (Stop pressed, or the bot shutting down).
    pub interrupted: bool,
    /// When it was written.
    pub created_at: SystemTime,
}

impl NewMessage {
    /// A message with `role` and `content`, written now, nothing else set.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            author: None,
            content: content.into(),
            attachments: None,
            tool_calls: None,
            tool_name: None,
            tool_call_id: None,
            model: None,
            prompt_tokens: None,
            completion_tokens: None,
            interrupted: false,
            created_at: SystemTime::now(),
        }
    }

    /// A person's message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }

    /// The model's message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(Role::Assistant, content)
    }

    /// A tool's result.
    pub fn tool_result(tool_name: impl Into<String>, content: impl Into<String>) -> Self {
        Self {
            tool_name: Some(tool_name.into()),
            ..Self::new(Role::Tool, content)
        }
    }

    /// With the person who wrote it.
    pub fn with_author(mut self, id: UserId, name: impl Into<String>) -> Self {
        self.author = Some(Author {
            id,
            name: name.into(),
        });
        self
    }

    /// With the model that wrote it.
    pub fn with_model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// With tool calls (JSON).
    pub fn with_tool_calls(mut self, calls: serde_json::Value) -> Self {
        self.tool_calls = Some(calls);
        self
    }

    /// With the id of the tool call a result answers.
    pub fn with_tool_call_id(mut self, id: impl Into<String>) -> Self {
        self.tool_call_id = Some(id.into());
        self
    }

    /// With attachments (JSON).
    pub fn with_attachments(mut self, attachments: serde_json::Value) -> Self {
        self.attachments = Some(attachments);
        self
    }

    /// With the token counts the model reported.
    pub fn with_tokens(mut self, prompt: u64, completion: u64) -> Self {
        self.prompt_tokens = Some(prompt);
        self.completion_tokens = Some(completion);
        self
    }

    /// Marked as cut short.
    pub fn interrupted(mut self) -> Self {
        self.interrupted = true;
        self
    }

    /// Written at `time` instead of now.
    pub fn at(mut self, time: SystemTime) -> Self {
        self.created_at = time;
        self
    }
}

/// A message as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredMessage {
    /// Its id.
    pub id: MessageId,
    /// The conversation it belongs to.
    pub conversation_id: ConversationId,
    /// Who speaks.
    pub role: Role,
    /// The person who wrote it, for user messages.
    pub author: Option<Author>,
    /// The text.
    pub content: String,
    /// Attached files or images (JSON).
    pub attachments: Option<serde_json::Value>,
    /// The tool calls an assistant message makes (JSON).
    pub tool_calls: Option<serde_json::Value>,
    /// For a tool result: the tool that produced it.
    pub tool_name: Option<String>,
    /// For a tool result: the call it answers.
    pub tool_call_id: Option<String>,
    /// The model that wrote an assistant message.
    pub model: Option<String>,
    /// Prompt tokens the model reported.
    pub prompt_tokens: Option<u64>,
    /// Completion tokens the model reported.
    pub completion_tokens: Option<u64>,
    /// The answer was cut short.
    pub interrupted: bool,
    /// Regenerated: kept, but no longer part of the history.
    pub replaced: bool,
    /// When it was written (to the millisecond).
    pub created_at: SystemTime,
    /// The turn it was written in: a person's message alone, or a model's whole answer (its
    /// tool calls, their results and the final text) written together.
    pub turn: String,
}

impl StoredMessage {
    /// `message` as it reads back once written with `id` in `conversation` and `turn` (its
    /// time to the millisecond, as stored).
    pub(crate) fn written(
        id: MessageId,
        conversation: ConversationId,
        turn: String,
        message: NewMessage,
    ) -> Self {
        Self {
            id,
            conversation_id: conversation,
            role: message.role,
            author: message.author,
            content: message.content,
            attachments: message.attachments,
            tool_calls: message.tool_calls,
            tool_name: message.tool_name,
            tool_call_id: message.tool_call_id,
            model: message.model,
            prompt_tokens: message.prompt_tokens,
            completion_tokens: message.completion_tokens,
            interrupted: message.interrupted,
            replaced: false,
            created_at: db::time(db::millis(message.created_at)),
            turn,
        }
    }
}

#[derive(sqlx::FromRow)]
struct MessageRow {
    id: i64,
    conversation_id: i64,
    role: String,
    author_id: Option<i64>,
    author_name: Option<String>,
    content: String,
    attachments: Option<String>,
    tool_calls: Option<String>,
    tool_name: Option<String>,
    tool_call_id: Option<String>,
    model: Option<String>,
    prompt_tokens: Option<i64>,
    completion_tokens: Option<i64>,
    interrupted: i64,
    replaced_at: Option<i64>,
    created_at: i64,
    turn_id: String,
}

impl TryFrom<MessageRow> for StoredMessage {
    type Error = MemoryError;

    fn try_from(row: MessageRow) -> Result<Self, MemoryError> {
        let author = row.author_id.map(|id| Author {
            id: db::discord_id(id),
            name: row.author_name.unwrap_or_default(),
        });
        Ok(Self {
            id: MessageId(row.id),
            conversation_id: ConversationId(row.conversation_id),
            role: Role::parse(&row.role)?,
            author,
            content: row.content,
            attachments: db::stored_json(row.attachments, "messages.attachments")?,
            tool_calls: db::stored_json(row.tool_calls, "messages.tool_calls")?,
            tool_name: row.tool_name,
            tool_call_id: row.tool_call_id,
            model: row.model,
            prompt_tokens: row
                .prompt_tokens
                .map(|n| db::stored_count(n, "messages.prompt_tokens"))
                .transpose()?,
            completion_tokens: row
                .completion_tokens
                .map(|n| db::stored_count(n, "messages.completion_tokens"))
                .transpose()?,
            interrupted: row.interrupted != 0,
            replaced: row.replaced_at.is_some(),
            created_at: db::time(row.created_at),
            turn: row.turn_id,
        })
    }
}

impl Store {
    /// Writes one message at once, in its own transaction: the user's message, before the model
    /// answers, so a crash of the process mid-turn still keeps it.
    ///
    /// It is on the model's path, so on SQLite it commits without waiting for the disk
    /// (`synchronous = NORMAL` under WAL: durable against a crash of the process, and concurrent
    /// turns do not queue on fsync). The turn's [`commit_turn`](Self::commit_turn) syncs, and
    /// with it this message: a turn shown as final survives a power cut whole.
    pub async fn add_user_message(
        &self,
        conversation: ConversationId,
        message: NewMessage,
    ) -> Result<MessageId, MemoryError> {
        let ids = self
            .write(conversation, vec![message], None, Durability::Process)
            .await?;
        Ok(ids[0])
    }

    /// Writes a finished turn (the model's answer with its tool calls and results, in order) in
    /// one transaction, and marks the conversation updated. Either all of it is stored or none.
    ///
    /// Returns the new ids in the order given.
    pub async fn commit_turn(
        &self,
        conversation: ConversationId,
        messages: Vec<NewMessage>,
    ) -> Result<Vec<MessageId>, MemoryError> {
        self.write(conversation, messages, None, Durability::Full)
            .await
    }

    /// Like [`commit_turn`](Self::commit_turn), and in the same transaction marks the turn of
    /// `replaces` replaced (Regenerate): the old answer leaves the history only when the new one
    /// is stored, so a regenerate that fails loses nothing.
    pub async fn commit_turn_replacing(
        &self,
        conversation: ConversationId,
        messages: Vec<NewMessage>,
        replaces: MessageId,
    ) -> Result<Vec<MessageId>, MemoryError> {
        self.write(conversation, messages, Some(replaces), Durability::Full)
            .await
    }

    async fn write(
        &self,
        conversation: ConversationId,
        messages: Vec<NewMessage>,
        replaces: Option<MessageId>,
        durability: Durability,
    ) -> Result<Vec<MessageId>, MemoryError> {
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        let turn = uuid::Uuid::new_v4().to_string();
        self.write_turn(conversation, messages, replaces, turn, durability)
            .await
    }

    /// [`write`](Self::write) with the turn id given.
    pub(crate) async fn write_turn(
        &self,
        conversation: ConversationId,
        messages: Vec<NewMessage>,
        replaces: Option<MessageId>,
        turn: String,
        durability: Durability,
    ) -> Result<Vec<MessageId>, MemoryError> {
        if let Some(group) = &self.group {
            return group
                .messages(conversation, messages, replaces, turn, durability)
                .await;
        }
        let mut writer = self.write_connection(durability).await?;
        let mut tx = writer.conn().begin().await?;
        let ids = write_rows(&mut tx, conversation, &messages, replaces, &turn, None).await?;
        tx.commit().await?;
        writer.finish().await?;
        Ok(ids)
    }
}

/// The statements of [`Store::write`], on `conn` (inside the caller's transaction), with the
/// messages' `ids` when given (else the database gives them).
pub(crate) async fn write_rows(
    conn: &mut AnyConnection,
    conversation: ConversationId,
    messages: &[NewMessage],
    replaces: Option<MessageId>,
    turn: &str,
    ids: Option<&[MessageId]>,
) -> Result<Vec<MessageId>, MemoryError> {
    // The write comes first: on SQLite it takes the write lock (waiting out other writers)
    // before anything is read, and it tells whether the conversation exists.
    let touched = sqlx::query("UPDATE conversations SET updated_at = $2 WHERE id = $1")
        .bind(conversation.0)
        .bind(db::now())
        .execute(&mut *conn)
        .await?;
    found(touched.rows_affected(), conversation)?;
    if let Some(old) = replaces {
        sqlx::query(
            "UPDATE messages SET replaced_at = $3 WHERE replaced_at IS NULL \
             AND conversation_id = $2 \
             AND turn_id = (SELECT turn_id FROM messages WHERE id = $1)",
        )
        .bind(old.0)
        .bind(conversation.0)
        .bind(db::now())
        .execute(&mut *conn)
        .await?;
    }
    let mut written = Vec::with_capacity(messages.len());
    for (n, message) in messages.iter().enumerate() {
        let id = ids.and_then(|ids| ids.get(n).copied());
        written.push(insert(&mut *conn, conversation, turn, message, id).await?);
    }
    Ok(written)
}

impl Store {
    /// The newest `limit` messages of a conversation in the order they were written, leaving out
    /// replaced (regenerated) ones. Empty for an unknown conversation.
    pub async fn history(
        &self,
        conversation: ConversationId,
        limit: usize,
    ) -> Result<Vec<StoredMessage>, MemoryError> {
        let rows = sqlx::query_as::<_, MessageRow>(concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages WHERE conversation_id = $1 AND replaced_at IS NULL \
             ORDER BY id DESC LIMIT $2"
        ))
        .bind(conversation.0)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .rev()
            .map(StoredMessage::try_from)
            .collect()
    }

    /// The message with this id (replaced or not).
    pub async fn message(&self, id: MessageId) -> Result<StoredMessage, MemoryError> {
        let row = sqlx::query_as::<_, MessageRow>(concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages WHERE id = $1"
        ))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?;
        row.ok_or(not_found(id))?.try_into()
    }

    /// Marks a message replaced (Regenerate), with the rest of the turn it was written in: an
    /// answer's tool calls and results go with it. Replaced messages stay stored but leave the
    /// history. Returns how many messages were marked (0 if they already were).
    pub async fn mark_replaced(&self, id: MessageId) -> Result<usize, MemoryError> {
        let done = sqlx::query(
            "UPDATE messages SET replaced_at = $2 WHERE replaced_at IS NULL \
             AND turn_id = (SELECT turn_id FROM messages WHERE id = $1)",
        )
        .bind(id.0)
        .bind(db::now())
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            self.message(id).await?;
        }
        Ok(usize::try_from(done.rows_affected()).unwrap_or(usize::MAX))
    }
}

/// Every message of `conversation`, replaced ones too, in the order written, read on `conn`.
pub(crate) async fn all_messages(
    conn: &mut AnyConnection,
    conversation: ConversationId,
) -> Result<Vec<StoredMessage>, MemoryError> {
    let rows = sqlx::query_as::<_, MessageRow>(concat!(
        "SELECT ",
        message_columns!(),
        " FROM messages WHERE conversation_id = $1 ORDER BY id"
    ))
    .bind(conversation.0)
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(StoredMessage::try_from).collect()
}

/// Inserts `message` into `conversation`, with `id` when given (else the database gives one);
/// its id.
pub(crate) async fn insert(
    conn: &mut AnyConnection,
    conversation: ConversationId,
    turn: &str,
    message: &NewMessage,
    id: Option<MessageId>,
) -> Result<MessageId, MemoryError> {
    let query = match id {
        Some(id) => sqlx::query_scalar(INSERT_WITH_ID).bind(id.0),
        None => sqlx::query_scalar(INSERT),
    };
    let id: i64 = query
        .bind(conversation.0)
        .bind(turn)
        .bind(message.role.as_str())
        .bind(message.author.as_ref().map(|author| db::id(author.id)))
        .bind(message.author.as_ref().map(|author| author.name.as_str()))
        .bind(message.content.as_str())
        .bind(db::json(message.attachments.as_ref()))
        .bind(db::json(message.tool_calls.as_ref()))
        .bind(message.tool_name.as_deref())
        .bind(message.tool_call_id.as_deref())
        .bind(message.model.as_deref())
        .bind(message.prompt_tokens.map(db::count))
        .bind(message.completion_tokens.map(db::count))
        .bind(i64::from(message.interrupted))
        .bind(db::millis(message.created_at))
        .fetch_one(conn)
        .await?;
    Ok(MessageId(id))
}

/// The columns [`insert`] gives, after the id.
macro_rules! insert_columns {
    () => {
        "conversation_id, turn_id, role, author_id, author_name, content, attachments, \
         tool_calls, tool_name, tool_call_id, model, prompt_tokens, completion_tokens, \
         interrupted, created_at"
    };
}

/// A message, its id given by the database.
const INSERT: &str = concat!(
    "INSERT INTO messages (",
    insert_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id"
);

/// A message with its id given ($1), the other values one place on.
const INSERT_WITH_ID: &str = concat!(
    "INSERT INTO messages (id, ",
    insert_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
     RETURNING id"
);

fn not_found(id: MessageId) -> MemoryError {
    MemoryError::NotFound {
        what: "message",
        id: id.0,
    }
}
