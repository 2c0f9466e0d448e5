//! Preferences: the model and system prompt chosen for a user, a channel or a guild.
//!
//! The store keeps each level apart; the engine decides which level wins.

use crate::{ChannelId, GuildId, MemoryError, Scope, Store, UserId, db};

/// Whose preference: a user's (everywhere), a channel's, or a guild's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PreferenceLevel {
    /// A Discord user, wherever they talk to the bot.
    User(UserId),
    /// A Discord channel or thread.
    Channel(ChannelId),
    /// A Discord guild.
    Guild(GuildId),
}

impl PreferenceLevel {
    fn parts(self) -> (&'static str, i64) {
        match self {
            Self::User(id) => ("user", db::id(id)),
            Self::Channel(id) => ("channel", db::id(id)),
            Self::Guild(id) => ("guild", db::id(id)),
        }
    }
}

/// One level's choices; `None` where nothing was chosen.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Preference {
    /// The model to use.
    pub model: Option<String>,
    /// The system prompt to use.
    pub system_prompt: Option<String>,
    /// Whether earlier conversations are recalled into the context (user and guild levels).
    pub recall: Option<bool>,
    /// Whether answers point at a related earlier conversation (user and guild levels).
    pub related: Option<bool>,
}

/// The preferences that apply to a scope, level by level (empty where the scope has no such
/// level or nothing was chosen).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Preferences {
    /// The user's.
    pub user: Preference,
    /// The channel's.
    pub channel: Preference,
    /// The guild's.
    pub guild: Preference,
}

#[derive(sqlx::FromRow)]
struct PreferenceRow {
    level: String,
    target_id: i64,
    model: Option<String>,
    system_prompt: Option<String>,
    recall: Option<i64>,
    related: Option<i64>,
}

impl PreferenceRow {
    /// The row's level (as spelled in the table), target and choices.
    fn parse(self) -> Result<(&'static str, i64, Preference), MemoryError> {
        let level = match self.level.as_str() {
            "user" => "user",
            "channel" => "channel",
            "guild" => "guild",
            other => {
                return Err(MemoryError::Corrupt {
                    detail: format!("unknown preference level {other:?}"),
                });
            }
        };
        let preference = Preference {
            model: self.model,
            system_prompt: self.system_prompt,
            recall: self.recall.map(|on| on != 0),
            related: self.related.map(|on| on != 0),
        };
        Ok((level, self.target_id, preference))
    }
}

impl Store {
    /// The user's, channel's and guild's preferences for `scope`, in one query (on SQLite from
    /// the copy kept in memory, see `hot.rs`).
    pub async fn get_preferences(&self, scope: &Scope) -> Result<Preferences, MemoryError> {
        if let Some(hot) = self.hot() {
            let table = hot.preferences.get(|| self.preference_table()).await?;
            let level = |kind: &'static str, id: Option<i64>| {
                id.and_then(|id| table.get(&(kind, id)).cloned())
                    .unwrap_or_default()
            };
            return Ok(Preferences {
                user: level("user", scope.user_id.map(db::id)),
                channel: level("channel", scope.channel_id.map(db::id)),
                guild: level("guild", scope.guild_id.map(db::id)),
            });
        }
        let rows = sqlx::query_as::<_, PreferenceRow>(
            "SELECT level, target_id, model, system_prompt, recall, related FROM preferences \
             WHERE (level = 'user' AND target_id = $1) \
             OR (level = 'channel' AND target_id = $2) \
             OR (level = 'guild' AND target_id = $3)",
        )
        .bind(db::opt_id(scope.user_id))
        .bind(db::opt_id(scope.channel_id))
        .bind(db::opt_id(scope.guild_id))
        .fetch_all(&self.pool)
        .await?;
        let mut preferences = Preferences::default();
        for row in rows {
            let (level, _, preference) = row.parse()?;
            let slot = match level {
                "user" => &mut preferences.user,
                "channel" => &mut preferences.channel,
                _ => &mut preferences.guild,
            };
            *slot = preference;
        }
        Ok(preferences)
    }

    /// Every level's preferences (the copy SQLite keeps in memory).
    async fn preference_table(&self) -> Result<crate::hot::PreferenceTable, MemoryError> {
        let rows = sqlx::query_as::<_, PreferenceRow>(
            "SELECT level, target_id, model, system_prompt, recall, related FROM preferences",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                let (level, target, preference) = row.parse()?;
                Ok(((level, target), preference))
            })
            .collect()
    }

    /// A write to the preferences is committed: the copy in memory is stale.
    fn preferences_changed(&self) {
        if let Some(hot) = &self.hot {
            hot.preferences.changed();
        }
    }

    /// Sets (or, with `None`, clears) the model chosen at `level`.
    pub async fn set_preferred_model(
        &self,
        level: PreferenceLevel,
        model: Option<&str>,
    ) -> Result<(), MemoryError> {
        self.set_preference(level, "model", model).await
    }

    /// Sets the system prompt at `level`.
    pub async fn set_system_prompt(
        &self,
        level: PreferenceLevel,
        prompt: &str,
    ) -> Result<(), MemoryError> {
        self.set_preference(level, "system_prompt", Some(prompt))
            .await
    }

    /// Clears the system prompt at `level` (the next level's applies again).
    pub async fn clear_system_prompt(&self, level: PreferenceLevel) -> Result<(), MemoryError> {
        self.set_preference(level, "system_prompt", None).await
    }

    /// Switches recall of earlier conversations at `level` (`None`: the next level or the
    /// configuration decides again).
    pub async fn set_recall(
        &self,
        level: PreferenceLevel,
        on: Option<bool>,
    ) -> Result<(), MemoryError> {
        self.set_switch(level, "recall", on).await
    }

    /// Switches the related-conversation button at `level` (`None`: the next level or the
    /// configuration decides again).
    pub async fn set_related(
        &self,
        level: PreferenceLevel,
        on: Option<bool>,
    ) -> Result<(), MemoryError> {
        self.set_switch(level, "related", on).await
    }

    /// Upserts one on/off column of a level's row; `column` is one of ours, never user input.
    async fn set_switch(
        &self,
        level: PreferenceLevel,
        column: &'static str,
        on: Option<bool>,
    ) -> Result<(), MemoryError> {
        let (kind, target) = level.parts();
        let sql = format!(
            "INSERT INTO preferences (level, target_id, {column}, updated_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (level, target_id) \
             DO UPDATE SET {column} = excluded.{column}, updated_at = excluded.updated_at"
        );
        let result = sqlx::query(&sql)
            .bind(kind)
            .bind(target)
            .bind(on.map(i64::from))
            .bind(db::now())
            .execute(&self.pool)
            .await;
        // Whatever the outcome (a failure may still have committed), the copy goes.
        self.preferences_changed();
        result?;
        Ok(())
    }

    /// Upserts one column of a level's row; `column` is one of ours, never user input.
    async fn set_preference(
        &self,
        level: PreferenceLevel,
        column: &'static str,
        value: Option<&str>,
    ) -> Result<(), MemoryError> {
        let (kind, target) = level.parts();
        let sql = format!(
            "INSERT INTO preferences (level, target_id, {column}, updated_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (level, target_id) \
             DO UPDATE SET {column} = excluded.{column}, updated_at = excluded.updated_at"
        );
        let result = sqlx::query(&sql)
            .bind(kind)
            .bind(target)
            .bind(value)
            .bind(db::now())
            .execute(&self.pool)
            .await;
        self.preferences_changed();
        result?;
        Ok(())
    }
}
