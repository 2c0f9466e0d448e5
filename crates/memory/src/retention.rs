//! Retention: each guild may keep conversations only so long after their last message; a
//! sweeper deletes the expired ones with their messages.

use std::time::{Duration, SystemTime};

use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::{MemoryError, Store, db};

impl Store {
    /// Sets how long a guild's conversations are kept after their last message (`None`:
    /// forever, the default). The guild need not have been seen yet.
    pub async fn set_retention(
        &self,
        guild_id: u64,
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

    /// Deletes, with their messages, the conversations whose last update is older than their
    /// guild's retention at `now`, archived or not. Conversations outside a guild (DMs, the
    /// terminal) are kept. Returns how many conversations were deleted.
    pub async fn sweep_expired(&self, now: SystemTime) -> Result<usize, MemoryError> {
        let done = sqlx::query(
            "DELETE FROM conversations WHERE id IN (\
             SELECT c.id FROM conversations c JOIN guilds g ON g.id = c.guild_id \
             WHERE g.retention_ms IS NOT NULL AND c.updated_at < $1 - g.retention_ms)",
        )
        .bind(db::millis(now))
        .execute(&self.pool)
        .await?;
        Ok(usize::try_from(done.rows_affected()).unwrap_or(usize::MAX))
    }

    /// Runs [`sweep_expired`](Self::sweep_expired) now and then every `every` until `cancel`
    /// fires; a failed sweep is logged and retried at the next tick.
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
                match store.sweep_expired(SystemTime::now()).await {
                    Ok(0) => {}
                    Ok(deleted) => {
                        tracing::info!(deleted, "retention: expired conversations deleted")
                    }
                    Err(error) => {
                        tracing::warn!(error = %error, "retention sweep failed; retrying at the next tick")
                    }
                }
            }
        })
    }
}
