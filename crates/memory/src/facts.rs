//! Facts the bot remembers about a person, with their consent (`person_facts`, migration 0010).
//!
//! A fact belongs to one person in one scope: a guild, or their DMs (no guild; the terminal
//! front end counts as DMs). Reads take a scope and return only that scope's facts, so a fact said
//! in a DM never reaches a guild; only the operator's view and the person's export read every
//! scope ([`Store::all_facts`]). Forgetting deletes the row; on SQLite with `secure_delete` on, so
//! the freed page is overwritten. Facts are in no keyword index and have no vectors: the row is the
//! only copy the store keeps. `forget_person` (privacy) deletes them all.

use std::time::SystemTime;

use serde::Serialize;
use sqlx::{AnyConnection, Connection, Executor};

use crate::{Backend, GuildId, MemoryError, MessageId, Store, UserId, db};

/// A stored fact's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct FactId(pub i64);

impl std::fmt::Display for FactId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// One fact about a person, with where it comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fact {
    /// The row's id (what `/memory forget` names).
    pub id: FactId,
    /// Whom it is about (and who asked for it to be remembered).
    pub user: UserId,
    /// The guild it belongs to; `None`: the person's DMs.
    pub guild: Option<GuildId>,
    /// The fact, as the person (or the model, at their request) worded it.
    pub text: String,
    /// The message it was said in, while that message is stored (none when added by command).
    pub message: Option<MessageId>,
    /// When it was remembered.
    pub created_at: SystemTime,
}

/// A row as read: id, user, guild, fact, message, created_at.
type Row = (i64, i64, Option<i64>, String, Option<i64>, i64);

const COLUMNS: &str = "id, user_id, guild_id, fact, message_id, created_at";

/// The person's facts in one scope: `$1` the person, `$2` the guild (NULL: DMs).
const IN_SCOPE: &str = "user_id = $1 AND (guild_id = $2 OR ($2 IS NULL AND guild_id IS NULL))";

impl From<Row> for Fact {
    fn from((id, user, guild, text, message, created_at): Row) -> Self {
        Fact {
            id: FactId(id),
            user: db::discord_id(user),
            guild: db::opt_discord_id(guild),
            text,
            message: message.map(MessageId),
            created_at: db::time(created_at),
        }
    }
}

impl Store {
    /// Remembers `text` about `user` in `guild`'s scope (`None`: their DMs), said in `message`
    /// if given. The same text already remembered in that scope is not stored twice: the
    /// existing fact is returned.
    pub async fn add_fact(
        &self,
        user: UserId,
        guild: Option<GuildId>,
        text: &str,
        message: Option<MessageId>,
    ) -> Result<Fact, MemoryError> {
        if message.is_some() {
            // The message may still be queued (see `group.rs`): written before it is named.
            self.settle().await?;
        }
        let sql = format!("SELECT {COLUMNS} FROM person_facts WHERE {IN_SCOPE} AND fact = $3");
        let existing: Option<Row> = sqlx::query_as(&sql)
            .bind(db::id(user))
            .bind(db::opt_id(guild))
            .bind(text)
            .fetch_optional(&self.pool)
            .await?;
        if let Some(row) = existing {
            return Ok(row.into());
        }
        let sql = format!(
            "INSERT INTO person_facts (user_id, guild_id, fact, message_id, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
        );
        let row: Row = sqlx::query_as(&sql)
            .bind(db::id(user))
            .bind(db::opt_id(guild))
            .bind(text)
            .bind(message.map(|m| m.0))
            .bind(db::now())
            .fetch_one(&self.pool)
            .await?;
        Ok(row.into())
    }

    /// `user`'s facts in `guild`'s scope (`None`: their DMs), oldest first.
    pub async fn facts(
        &self,
        user: UserId,
        guild: Option<GuildId>,
    ) -> Result<Vec<Fact>, MemoryError> {
        let sql = format!("SELECT {COLUMNS} FROM person_facts WHERE {IN_SCOPE} ORDER BY id");
        let rows: Vec<Row> = sqlx::query_as(&sql)
            .bind(db::id(user))
            .bind(db::opt_id(guild))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(Fact::from).collect())
    }

    /// Every fact about `user`, in every scope, oldest first (the operator's view, the export).
    pub async fn all_facts(&self, user: UserId) -> Result<Vec<Fact>, MemoryError> {
        let sql = format!("SELECT {COLUMNS} FROM person_facts WHERE user_id = $1 ORDER BY id");
        let rows: Vec<Row> = sqlx::query_as(&sql)
            .bind(db::id(user))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(Fact::from).collect())
    }

    /// Forgets fact `id` if it is `user`'s in `guild`'s scope; returns it, or `None` when there
    /// is no such fact there (another person's or another scope's is never touched).
    pub async fn forget_fact(
        &self,
        user: UserId,
        guild: Option<GuildId>,
        id: FactId,
    ) -> Result<Option<Fact>, MemoryError> {
        let sql =
            format!("DELETE FROM person_facts WHERE {IN_SCOPE} AND id = $3 RETURNING {COLUMNS}");
        let mut deleted = self
            .deleting_facts(&sql, |query| {
                query.bind(db::id(user)).bind(db::opt_id(guild)).bind(id.0)
            })
            .await?;
        Ok(deleted.pop())
    }

    /// Forgets every fact of `user` in `guild`'s scope (`None`: their DMs); returns them.
    pub async fn clear_facts(
        &self,
        user: UserId,
        guild: Option<GuildId>,
    ) -> Result<Vec<Fact>, MemoryError> {
        let sql = format!("DELETE FROM person_facts WHERE {IN_SCOPE} RETURNING {COLUMNS}");
        self.deleting_facts(&sql, |query| {
            query.bind(db::id(user)).bind(db::opt_id(guild))
        })
        .await
    }

    /// Runs a `DELETE … RETURNING` of facts (its arguments bound by `bind`) on one connection,
    /// with SQLite's `secure_delete` on for it, so the text leaves the file too.
    async fn deleting_facts<'q>(
        &self,
        sql: &'q str,
        bind: impl FnOnce(
            sqlx::query::QueryAs<'q, sqlx::Any, Row, sqlx::any::AnyArguments<'q>>,
        )
            -> sqlx::query::QueryAs<'q, sqlx::Any, Row, sqlx::any::AnyArguments<'q>>,
    ) -> Result<Vec<Fact>, MemoryError> {
        let sqlite = self.backend() == Backend::Sqlite;
        let mut conn = self.pool.acquire().await?;
        if sqlite {
            conn.execute("PRAGMA secure_delete = ON").await?;
        }
        let deleted = delete_on(&mut conn, bind(sqlx::query_as(sql))).await;
        if sqlite && conn.execute("PRAGMA secure_delete = OFF").await.is_err() {
            // Never hand the pool a connection left with another setting.
            conn.close_on_drop();
        }
        deleted
    }
}

/// Runs `query` in a transaction on `conn`; the deleted facts.
async fn delete_on<'q>(
    conn: &mut AnyConnection,
    query: sqlx::query::QueryAs<'q, sqlx::Any, Row, sqlx::any::AnyArguments<'q>>,
) -> Result<Vec<Fact>, MemoryError> {
    let mut tx = conn.begin().await?;
    let rows = query.fetch_all(&mut *tx).await?;
    tx.commit().await?;
    Ok(rows.into_iter().map(Fact::from).collect())
}
