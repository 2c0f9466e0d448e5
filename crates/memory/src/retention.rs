//! Retention: each guild may keep conversations only so long after their last message, and so
//! may conversations outside any guild (DMs, the terminal) and those of guilds without a rule
//! of their own (the default); a sweeper deletes the expired ones with their messages, and
//! audit-log entries older than the audit retention. With a default set, every conversation
//! has a limit.
//!
//! Guild rules live in the database (`guilds.retention_ms`); the rules for conversations outside
//! a guild and for guilds without a rule live in the [`Store`] (set from the configuration at
//! start-up by the process that runs the sweeper), so only a process told so sweeps them.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::{GuildId, MemoryError, Store, db};

impl Store {
    /// Sets how long a guild's conversations are kept after their last message (`None`:
    /// forever, the default). The guild need not have been seen yet.
    pub async fn set_retention(
        &self,
        guild_id: GuildId,
        retention: Option<Duration>,
    ) -> Result<(), MemoryError> {
        sqlx::query(
            "INSERT INTO guilds (id, name, retention_ms, created_at, updated_at) \
             VALUES ($1, NULL, $2, $3, $3) ON CONFLICT (id) \
             DO UPDATE SET retention_ms = excluded.retention_ms, updated_at = excluded.updated_at",
        )
        .bind(db::id(guild_id))
        .bind(retention.map(db::duration_ms))
        .bind(db::now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Makes `rules` the whole truth about guild retention: each guild in it keeps its
    /// conversations that long, every other guild forever (a rule removed from the
    /// configuration is removed here too). One transaction: a failure changes nothing.
    pub async fn replace_retention(
        &self,
        rules: &BTreeMap<GuildId, Duration>,
    ) -> Result<(), MemoryError> {
        let now = db::now();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE guilds SET retention_ms = NULL, updated_at = $1 WHERE retention_ms IS NOT NULL",
        )
        .bind(now)
        .execute(&mut *tx)
        .await?;
        for (guild, retention) in rules {
            sqlx::query(
                "INSERT INTO guilds (id, name, retention_ms, created_at, updated_at) \
                 VALUES ($1, NULL, $2, $3, $3) ON CONFLICT (id) \
                 DO UPDATE SET retention_ms = excluded.retention_ms, updated_at = excluded.updated_at",
            )
            .bind(db::id(*guild))
            .bind(db::duration_ms(*retention))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Sets how long conversations outside any guild (DMs, the terminal) are kept after their
    /// last message (`None`: forever, the default). Held by this store and its clones, not in
    /// the database: the process that sweeps sets it from its configuration.
    pub fn set_retention_outside_guilds(&self, retention: Option<Duration>) {
        *self
            .outside_guilds_retention
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = retention;
    }

    /// How long conversations outside any guild are kept (`None`: forever).
    pub fn retention_outside_guilds(&self) -> Option<Duration> {
        *self
            .outside_guilds_retention
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sets how long conversations of guilds without a rule of their own (none set, or the
    /// guild never recorded) are kept after their last message (`None`: forever, the default).
    /// Held like [`set_retention_outside_guilds`](Self::set_retention_outside_guilds).
    pub fn set_retention_other_guilds(&self, retention: Option<Duration>) {
        *self
            .other_guilds_retention
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = retention;
    }

    /// How long conversations of guilds without a rule of their own are kept (`None`: forever).
    pub fn retention_other_guilds(&self) -> Option<Duration> {
        *self
            .other_guilds_retention
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sets how long audit-log entries are kept (`None`: forever, the default), separately from
    /// conversations. Held by this store and its clones, like
    /// [`set_retention_outside_guilds`](Self::set_retention_outside_guilds).
    pub fn set_audit_retention(&self, retention: Option<Duration>) {
        *self
            .audit_retention
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = retention;
    }

    /// How long audit-log entries are kept (`None`: forever).
    pub fn audit_retention(&self) -> Option<Duration> {
        *self
            .audit_retention
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Deletes the audit-log entries older than [`audit_retention`](Self::audit_retention) at
    /// `now` (none when it is unset); how many went.
    pub async fn sweep_expired_audit(&self, now: SystemTime) -> Result<u64, MemoryError> {
        match self.audit_retention() {
            Some(retention) => {
                let cut = now.checked_sub(retention).unwrap_or(std::time::UNIX_EPOCH);
                self.prune_audit(cut).await
            }
            None => Ok(0),
        }
    }

    /// Deletes, with their messages, the conversations whose last update is older than their
    /// guild's retention at `now`, archived or not, and those outside a guild (DMs, the
    /// terminal) older than [`retention_outside_guilds`](Self::retention_outside_guilds), those of
    /// guilds without a rule older than [`retention_other_guilds`](Self::retention_other_guilds), if
    /// set. Returns how many conversations were deleted.
    pub async fn sweep_expired(&self, now: SystemTime) -> Result<usize, MemoryError> {
        // Messages queued now count as written before the sweep (see `group.rs`).
        self.settle().await?;
        let swept = self.sweep(db::millis(now)).await;
        // Conversations kept in memory may be gone (see `hot.rs`).
        if let Some(hot) = &self.hot
            && swept.as_ref().map_or(true, |deleted| *deleted > 0)
        {
            hot.forget_conversations();
        }
        swept
    }

    async fn sweep(&self, now: i64) -> Result<usize, MemoryError> {
        let in_guilds = sqlx::query(
            "DELETE FROM conversations WHERE id IN (\
             SELECT c.id FROM conversations c JOIN guilds g ON g.id = c.guild_id \
             WHERE g.retention_ms IS NOT NULL AND c.updated_at < $1 - g.retention_ms)",
        )
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        let outside = match self.retention_outside_guilds() {
            Some(retention) => {
                sqlx::query("DELETE FROM conversations WHERE guild_id IS NULL AND updated_at < $1")
                    .bind(now.saturating_sub(db::duration_ms(retention)))
                    .execute(&self.pool)
                    .await?
                    .rows_affected()
            }
            None => 0,
        };
        let other = match self.retention_other_guilds() {
            Some(retention) => sqlx::query(
                "DELETE FROM conversations WHERE guild_id IS NOT NULL AND updated_at < $1 \
                 AND NOT EXISTS (SELECT 1 FROM guilds g \
                 WHERE g.id = conversations.guild_id AND g.retention_ms IS NOT NULL)",
            )
            .bind(now.saturating_sub(db::duration_ms(retention)))
            .execute(&self.pool)
            .await?
            .rows_affected(),
            None => 0,
        };
        let deleted = in_guilds.saturating_add(outside).saturating_add(other);
        Ok(usize::try_from(deleted).unwrap_or(usize::MAX))
    }

    /// Runs [`sweep_expired`](Self::sweep_expired),
    /// [`sweep_expired_audit`](Self::sweep_expired_audit) and [`prune_usage`](Self::prune_usage)
    /// now and then every `every` until `cancel` fires; a failed sweep is logged and retried at
    /// the next tick.
    pub fn spawn_sweeper(&self, every: Duration, cancel: CancellationToken) -> JoinHandle<()> {
        let store = self.clone();
        let mut ticks = tokio::time::interval(every.max(Duration::from_millis(1)));
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    biased;
                    () = cancel.cancelled() => break,
                    _ = ticks.tick() => {}
                }
                let now = SystemTime::now();
                if let Err(error) = store.prune_usage(now).await {
                    tracing::warn!(error = %error, "pruning old token usage failed; retrying at the next tick");
                }
                match store.sweep_expired(now).await {
                    Ok(0) => {}
                    Ok(deleted) => {
                        tracing::info!(deleted, "retention: expired conversations deleted")
                    }
                    Err(error) => {
                        tracing::warn!(error = %error, "retention sweep failed; retrying at the next tick")
                    }
                }
                match store.sweep_expired_audit(SystemTime::now()).await {
                    Ok(0) => {}
                    Ok(deleted) => {
                        tracing::info!(deleted, "retention: expired audit-log entries deleted")
                    }
                    Err(error) => {
                        tracing::warn!(error = %error, "audit-log retention sweep failed; retrying at the next tick")
                    }
                }
            }
        })
    }
}
