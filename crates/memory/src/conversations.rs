//! Conversations: found by key, created on first use, archived by `/new`.

use std::time::SystemTime;

use tokio::sync::oneshot;

use crate::group::{GroupCommit, Target};
use crate::hot::Claim;
use crate::store::Durability;
use crate::{
    ConversationId, ConversationKey, MemoryError, NewMessage, Scope, Store, StoredMessage, UserId,
    db,
};

/// The columns a [`Conversation`] is read from, in [`ConversationRow`]'s order.
macro_rules! conversation_columns {
    () => {
        "id, key, guild_id, channel_id, user_id, owner_id, title, model, created_at, updated_at"
    };
}

/// A stored conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conversation {
    /// Its id, for messages and later look-ups.
    pub id: ConversationId,
    /// The front end's key.
    pub key: ConversationKey,
    /// Where it happens.
    pub scope: Scope,
    /// Who started it, if known.
    pub owner: Option<UserId>,
    /// A short title, once one is chosen.
    pub title: Option<String>,
    /// The model chosen for this conversation, overriding preferences.
    pub model: Option<String>,
    /// When it started.
    pub created_at: SystemTime,
    /// When a message was last written to it; retention counts from here.
    pub updated_at: SystemTime,
}

/// A conversation with a person's new message written to it
/// ([`Store::conversation_with_message`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Started {
    /// The conversation.
    pub conversation: Conversation,
    /// The message as stored.
    pub message: StoredMessage,
    /// The conversation was created with this message: its history is this message alone.
    pub created: bool,
}

/// Whether a person's message given to
/// [`Store::conversation_with_message_queued`] is written: await [`wait`](Self::wait) before
/// anything that must follow it (the answer).
#[derive(Debug)]
#[must_use = "a queued message may fail to be written: wait for it before the answer"]
pub struct Written(Option<oneshot::Receiver<Result<(), MemoryError>>>);

impl Written {
    /// Written already.
    pub(crate) fn done() -> Self {
        Self(None)
    }

    /// Written when `answer` says so.
    pub(crate) fn queued(answer: oneshot::Receiver<Result<(), MemoryError>>) -> Self {
        Self(Some(answer))
    }

    /// Waits until the message is committed (with the relaxed durability of the model's
    /// path: the answer's commit syncs it), or says why it could not be written (nothing of
    /// it is stored then).
    pub async fn wait(self) -> Result<(), MemoryError> {
        match self.0 {
            None => Ok(()),
            Some(answer) => answer
                .await
                .map_err(|_| MemoryError::Database(sqlx::Error::PoolClosed))?,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ConversationRow {
    id: i64,
    key: String,
    guild_id: Option<i64>,
    channel_id: Option<i64>,
    user_id: Option<i64>,
    owner_id: Option<i64>,
    title: Option<String>,
    model: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl From<ConversationRow> for Conversation {
    fn from(row: ConversationRow) -> Self {
        Self {
            id: ConversationId(row.id),
            key: ConversationKey::new(row.key),
            scope: Scope {
                guild_id: db::opt_discord_id(row.guild_id),
                channel_id: db::opt_discord_id(row.channel_id),
                user_id: db::opt_discord_id(row.user_id),
            },
            owner: db::opt_discord_id(row.owner_id),
            title: row.title,
            model: row.model,
            created_at: db::time(row.created_at),
            updated_at: db::time(row.updated_at),
        }
    }
}

const INSERT: &str = concat!(
    "INSERT INTO conversations (key, guild_id, channel_id, user_id, owner_id, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT DO NOTHING RETURNING ",
    conversation_columns!()
);

/// [`INSERT`] with the id given ($1), the other values one place on. Only a live conversation
/// under the key is a conflict: an id already taken (another process gave it) is an error.
const INSERT_WITH_ID: &str = concat!(
    "INSERT INTO conversations \
     (id, key, guild_id, channel_id, user_id, owner_id, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
     ON CONFLICT (key) WHERE archived_at IS NULL DO NOTHING RETURNING ",
    conversation_columns!()
);

pub(crate) const FIND_LIVE: &str = concat!(
    "SELECT ",
    conversation_columns!(),
    " FROM conversations WHERE key = $1 AND archived_at IS NULL"
);

impl Store {
    /// The live conversation under `key`, created (with `scope` and `owner`) if there is none.
    ///
    /// `scope` and `owner` are used only when creating: the conversation keeps the first ones.
    /// On SQLite a conversation used recently comes from memory (see `hot.rs`), and its
    /// `updated_at` may then be older than its last message.
    pub async fn conversation(
        &self,
        key: &ConversationKey,
        scope: Scope,
        owner: Option<UserId>,
    ) -> Result<Conversation, MemoryError> {
        let Some(hot) = self.hot() else {
            return self.find_or_create(key, scope, owner).await;
        };
        let generation = match hot.conversation(key.as_str()) {
            Ok(kept) => return Ok(kept),
            Err(generation) => generation,
        };
        let conversation = self.find_or_create(key, scope, owner).await?;
        hot.keep(generation, &conversation);
        Ok(conversation)
    }

    /// The live conversation under `key` (created, with `scope` and `owner`, if there is none)
    /// with a person's `message` written to it, as [`add_user_message`](Self::add_user_message)
    /// writes it; both once written. See
    /// [`conversation_with_message_queued`](Self::conversation_with_message_queued).
    pub async fn conversation_with_message(
        &self,
        key: &ConversationKey,
        scope: Scope,
        owner: Option<UserId>,
        message: NewMessage,
    ) -> Result<Started, MemoryError> {
        let (started, written) = self
            .conversation_with_message_queued(key, scope, owner, message)
            .await?;
        written.wait().await?;
        Ok(started)
    }

    /// Like [`conversation_with_message`](Self::conversation_with_message), but may return
    /// before the write is committed: the conversation and the message as they are stored, and
    /// a [`Written`] handle to await before anything that must follow the message is written
    /// (the answer: the store writes them in order anyway, and the handle tells whether the
    /// message's write failed).
    ///
    /// On SQLite, while this process is the database's only writer, the ids are given in
    /// memory and the write is queued (see `group.rs`): no wait at all for a conversation
    /// used recently (kept in memory, see `hot.rs`) or a key that never had one, one read
    /// otherwise. A read of the conversation's history may not show the message until the
    /// handle says it is written. Elsewhere (PostgreSQL, a shared SQLite file) the message is
    /// written before this returns and the handle is already done.
    pub async fn conversation_with_message_queued(
        &self,
        key: &ConversationKey,
        scope: Scope,
        owner: Option<UserId>,
        message: NewMessage,
    ) -> Result<(Started, Written), MemoryError> {
        let (Some(group), Some(hot)) = (&self.group, self.hot()) else {
            let started = self.written_now(key, scope, owner, message).await?;
            return Ok((started, Written::done()));
        };
        let new = Target::New {
            key: key.clone(),
            scope,
            owner,
        };
        match hot.claim(key.as_str(), || group.queue_message(new, message.clone()))? {
            Claim::Created(queued) => Ok(*queued),
            Claim::Kept(conversation) => self.queue_into(conversation, message).await,
            Claim::Unknown(generation) => {
                self.queue_found(key, (scope, owner), message, generation)
                    .await
            }
        }
    }

    /// `message` queued for the live `conversation` (written at once when ids are not given
    /// in memory).
    async fn queue_into(
        &self,
        conversation: Conversation,
        message: NewMessage,
    ) -> Result<(Started, Written), MemoryError> {
        let target = Target::Existing(conversation.clone());
        let queued = match &self.group {
            Some(group) => group.queue_message(target, message.clone())?,
            None => None,
        };
        match queued {
            Some(queued) => Ok(queued),
            None => Ok((self.started(conversation, message).await?, Written::done())),
        }
    }

    /// `message` for the conversation under `key`, which is neither kept in memory nor known
    /// to be absent: read (kept from `generation` on) and the message queued for it; when
    /// there is none live, created with the message through the queue (after anything
    /// queued, a creation under the same key too), waited for.
    async fn queue_found(
        &self,
        key: &ConversationKey,
        (scope, owner): (Scope, Option<UserId>),
        message: NewMessage,
        generation: u64,
    ) -> Result<(Started, Written), MemoryError> {
        let Some(found) = self.find_conversation(key).await? else {
            let started = self.written_now(key, scope, owner, message).await?;
            return Ok((started, Written::done()));
        };
        if let Some(hot) = self.hot() {
            hot.keep(generation, &found);
        }
        self.queue_into(found, message).await
    }

    /// [`conversation_with_message`](Self::conversation_with_message), written before it
    /// returns. On SQLite this is one write through the group commit and no read (a
    /// conversation used recently comes from memory, see `hot.rs`).
    async fn written_now(
        &self,
        key: &ConversationKey,
        scope: Scope,
        owner: Option<UserId>,
        message: NewMessage,
    ) -> Result<Started, MemoryError> {
        let Some(group) = &self.group else {
            let conversation = self.conversation(key, scope, owner).await?;
            return self.started(conversation, message).await;
        };
        let hot = self.hot();
        let generation = match hot.map(|hot| hot.conversation(key.as_str())) {
            Some(Ok(kept)) => return self.started(kept, message).await,
            Some(Err(generation)) => Some(generation),
            None => None,
        };
        if let Some(hot) = hot {
            hot.mark_live(key.as_str());
        }
        let turn = uuid::Uuid::new_v4().to_string();
        let started = group
            .conversation_with_message(key.clone(), scope, owner, message, turn)
            .await?;
        if let (Some(hot), Some(generation)) = (hot, generation) {
            hot.keep(generation, &started.conversation);
        }
        Ok(started)
    }

    /// `message` written to `conversation`, which existed before (as
    /// [`add_user_message`](Self::add_user_message) writes it).
    async fn started(
        &self,
        conversation: Conversation,
        message: NewMessage,
    ) -> Result<Started, MemoryError> {
        let turn = uuid::Uuid::new_v4().to_string();
        let ids = self
            .write_turn(
                conversation.id,
                vec![message.clone()],
                None,
                turn.clone(),
                Durability::Process,
            )
            .await?;
        Ok(Started {
            message: StoredMessage::written(ids[0], conversation.id, turn, message),
            conversation,
            created: false,
        })
    }

    async fn find_or_create(
        &self,
        key: &ConversationKey,
        scope: Scope,
        owner: Option<UserId>,
    ) -> Result<Conversation, MemoryError> {
        // Usually it exists: one read, no write (and no identity value spent on PostgreSQL).
        if let Some(found) = self.find_conversation(key).await? {
            return Ok(found);
        }
        // On the model's path (a first message): committed without waiting for the disk, like
        // the message itself (see `add_user_message`); the turn's commit syncs both.
        if let Some(created) = self.create(key, scope, owner).await? {
            return Ok(created);
        }
        // Someone created it between the read and the insert: read theirs.
        let row = sqlx::query_as::<_, ConversationRow>(FIND_LIVE)
            .bind(key.as_str())
            .fetch_one(&self.pool)
            .await?;
        Ok(row.into())
    }

    /// Creates a live conversation under `key`, or `None` when one exists already; on SQLite
    /// through the group commit.
    async fn create(
        &self,
        key: &ConversationKey,
        scope: Scope,
        owner: Option<UserId>,
    ) -> Result<Option<Conversation>, MemoryError> {
        if let Some(hot) = self.hot() {
            hot.mark_live(key.as_str());
        }
        if let Some(group) = &self.group {
            return group.conversation(key.clone(), scope, owner).await;
        }
        let mut writer = self.write_connection(Durability::Process).await?;
        let created = insert_conversation(key, scope, owner, None, db::now())
            .fetch_optional(writer.conn())
            .await?;
        writer.finish().await?;
        Ok(created.map(Conversation::from))
    }

    /// Starts a fresh conversation under `key`, archiving the live one (`/new` in Discord).
    ///
    /// The archived conversation keeps its messages (and stays readable by id) until retention
    /// removes it.
    pub async fn new_conversation(
        &self,
        key: &ConversationKey,
        scope: Scope,
        owner: Option<UserId>,
    ) -> Result<Conversation, MemoryError> {
        self.before_new_live(key).await?;
        let id = self.group.as_ref().and_then(GroupCommit::conversation_id);
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE conversations SET archived_at = $2 WHERE key = $1 AND archived_at IS NULL",
        )
        .bind(key.as_str())
        .bind(db::now())
        .execute(&mut *tx)
        .await?;
        let row = insert_conversation(key, scope, owner, id, db::now())
            .fetch_one(&mut *tx)
            .await?;
        let committed = tx.commit().await;
        // Whatever the outcome (a failure may still have committed), the old one goes.
        if let Some(hot) = &self.hot {
            hot.forget_key(key.as_str());
        }
        committed?;
        Ok(row.into())
    }

    /// Brings conversation `id` (live elsewhere, or archived) back as the live conversation
    /// under `key`, archiving the one live there now: "Continue this conversation" from a
    /// search. Its messages, scope and owner stay; it counts as updated now. Returns it.
    pub async fn reopen_conversation(
        &self,
        id: ConversationId,
        key: &ConversationKey,
    ) -> Result<Conversation, MemoryError> {
        let forget = || {
            if let Some(hot) = &self.hot {
                hot.forget_key(key.as_str());
                hot.forget_id(id);
            }
        };
        forget();
        self.before_new_live(key).await?;
        let now = db::now();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE conversations SET archived_at = $3 \
             WHERE key = $1 AND archived_at IS NULL AND id <> $2",
        )
        .bind(key.as_str())
        .bind(id.0)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query_as::<_, ConversationRow>(concat!(
            "UPDATE conversations SET key = $2, archived_at = NULL, updated_at = $3 \
             WHERE id = $1 RETURNING ",
            conversation_columns!()
        ))
        .bind(id.0)
        .bind(key.as_str())
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(MemoryError::NotFound {
            what: "conversation",
            id: id.0,
        })?;
        let committed = tx.commit().await;
        // Whatever the outcome (a failure may still have committed), both are read afresh.
        forget();
        committed?;
        Ok(row.into())
    }

    /// Before a write that gives `key` a new live conversation apart from the queue (`/new`,
    /// reopening): the key is marked live (turns arriving meanwhile read rather than create
    /// one in memory), the conversation kept under it is forgotten, and what is queued is
    /// written first (a person's message queued before lands where it did before).
    async fn before_new_live(&self, key: &ConversationKey) -> Result<(), MemoryError> {
        if let Some(hot) = &self.hot {
            hot.mark_live(key.as_str());
            hot.forget_key(key.as_str());
        }
        self.settle().await
    }

    /// The live conversation under `key`, if there is one.
    pub async fn find_conversation(
        &self,
        key: &ConversationKey,
    ) -> Result<Option<Conversation>, MemoryError> {
        let row = sqlx::query_as::<_, ConversationRow>(FIND_LIVE)
            .bind(key.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(Conversation::from))
    }

    /// The conversation with this id, live or archived.
    pub async fn get_conversation(&self, id: ConversationId) -> Result<Conversation, MemoryError> {
        let row = sqlx::query_as::<_, ConversationRow>(concat!(
            "SELECT ",
            conversation_columns!(),
            " FROM conversations WHERE id = $1"
        ))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?;
        row.map(Conversation::from).ok_or(MemoryError::NotFound {
            what: "conversation",
            id: id.0,
        })
    }

    /// Sets the conversation's title.
    pub async fn set_title(&self, id: ConversationId, title: &str) -> Result<(), MemoryError> {
        self.settle().await?;
        let done = sqlx::query("UPDATE conversations SET title = $2 WHERE id = $1")
            .bind(id.0)
            .bind(title)
            .execute(&self.pool)
            .await;
        if let Some(hot) = &self.hot {
            hot.forget_id(id);
        }
        found(done?.rows_affected(), id)
    }

    /// Sets (or, with `None`, clears) the model chosen for this conversation.
    pub async fn set_model(
        &self,
        id: ConversationId,
        model: Option<&str>,
    ) -> Result<(), MemoryError> {
        self.settle().await?;
        let done = sqlx::query("UPDATE conversations SET model = $2 WHERE id = $1")
            .bind(id.0)
            .bind(model)
            .execute(&self.pool)
            .await;
        if let Some(hot) = &self.hot {
            hot.forget_id(id);
        }
        found(done?.rows_affected(), id)
    }
}

/// The insert of a new live conversation created `at` (unix milliseconds), with `id` when
/// given (else the database gives one); returns nothing if the key already has one.
pub(crate) fn insert_conversation(
    key: &ConversationKey,
    scope: Scope,
    owner: Option<UserId>,
    id: Option<ConversationId>,
    at: i64,
) -> sqlx::query::QueryAs<'_, sqlx::Any, ConversationRow, sqlx::any::AnyArguments<'_>> {
    let query = match id {
        Some(id) => sqlx::query_as::<_, ConversationRow>(INSERT_WITH_ID).bind(id.0),
        None => sqlx::query_as::<_, ConversationRow>(INSERT),
    };
    query
        .bind(key.as_str())
        .bind(db::opt_id(scope.guild_id))
        .bind(db::opt_id(scope.channel_id))
        .bind(db::opt_id(scope.user_id))
        .bind(db::opt_id(owner))
        .bind(at)
}

/// `Ok` if an update touched the conversation, `NotFound` if there is none with this id.
pub(crate) fn found(rows: u64, id: ConversationId) -> Result<(), MemoryError> {
    if rows == 0 {
        Err(MemoryError::NotFound {
            what: "conversation",
            id: id.0,
        })
    } else {
        Ok(())
    }
}

/// The conversations `user` took part in (wrote a message in, started, or is the user of),
/// live or archived, oldest first, read on `conn`.
pub(crate) async fn taken_part(
    conn: &mut sqlx::AnyConnection,
    user: UserId,
) -> Result<Vec<Conversation>, MemoryError> {
    let sql = format!(
        "SELECT {} FROM conversations c WHERE {} ORDER BY c.id",
        conversation_columns!(),
        crate::privacy::TAKEN_PART
    );
    let rows = sqlx::query_as::<_, ConversationRow>(&sql)
        .bind(db::id(user))
        .fetch_all(conn)
        .await?;
    Ok(rows.into_iter().map(Conversation::from).collect())
}
