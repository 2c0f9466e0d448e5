//! The Discord users and guilds the bot has seen: names, upserted on sight.

use std::time::{Duration, SystemTime};

use crate::{GuildId, MemoryError, Store, UserId, db};

/// A Discord user the bot has seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// Their Discord id.
    pub id: UserId,
    /// Their name when last seen.
    pub name: String,
    /// When first seen.
    pub created_at: SystemTime,
    /// When their name last changed (or they were first seen).
    pub updated_at: SystemTime,
}

/// A Discord guild the bot has seen or been configured for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Guild {
    /// Its Discord id.
    pub id: GuildId,
    /// Its name when last seen (`None` if only configured, never seen).
    pub name: Option<String>,
    /// How long its conversations are kept after their last message (`None`: forever).
    pub retention: Option<Duration>,
    /// When first recorded.
    pub created_at: SystemTime,
    /// When its name or retention last changed.
    pub updated_at: SystemTime,
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: i64,
    name: String,
    created_at: i64,
    updated_at: i64,
}

#[derive(sqlx::FromRow)]
struct GuildRow {
    id: i64,
    name: Option<String>,
    retention_ms: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

impl Store {
    /// Records a user seen under `name`; writes only if they are new or their name changed.
    pub async fn upsert_user(&self, id: UserId, name: &str) -> Result<(), MemoryError> {
        sqlx::query(
            "INSERT INTO users (id, name, created_at, updated_at) VALUES ($1, $2, $3, $3) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, updated_at = excluded.updated_at \
             WHERE users.name <> excluded.name",
        )
        .bind(db::id(id))
        .bind(name)
        .bind(db::now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The user with this id, if seen.
    pub async fn user(&self, id: UserId) -> Result<Option<User>, MemoryError> {
        let row = sqlx::query_as::<_, UserRow>(
            "SELECT id, name, created_at, updated_at FROM users WHERE id = $1",
        )
        .bind(db::id(id))
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| User {
            id: db::discord_id(row.id),
            name: row.name,
            created_at: db::time(row.created_at),
            updated_at: db::time(row.updated_at),
        }))
    }

    /// Records a guild seen under `name`; writes only if it is new or its name changed.
    pub async fn upsert_guild(&self, id: GuildId, name: &str) -> Result<(), MemoryError> {
        sqlx::query(
            "INSERT INTO guilds (id, name, created_at, updated_at) VALUES ($1, $2, $3, $3) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, updated_at = excluded.updated_at \
             WHERE guilds.name IS DISTINCT FROM excluded.name",
        )
        .bind(db::id(id))
        .bind(name)
        .bind(db::now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The guild with this id, if seen or configured.
    pub async fn guild(&self, id: GuildId) -> Result<Option<Guild>, MemoryError> {
        let row = sqlx::query_as::<_, GuildRow>(
            "SELECT id, name, retention_ms, created_at, updated_at FROM guilds WHERE id = $1",
        )
        .bind(db::id(id))
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| Guild {
            id: db::discord_id(row.id),
            name: row.name,
            retention: row.retention_ms.map(db::duration),
            created_at: db::time(row.created_at),
            updated_at: db::time(row.updated_at),
        }))
    }
}
