//! Token usage per UTC day, per person and per guild: what token budgets are checked against.
//!
//! The engine adds each answer's tokens after the answer ([`Store::add_usage`]), reads a day's
//! counts when it has none in memory ([`Store::usage_on`]), and the retention sweeper drops
//! days older than [`USAGE_KEEP_DAYS`] ([`Store::prune_usage`]). Days are UTC days, numbered
//! from 1970-01-01 ([`UtcDay`]), so every process and both databases agree on when a day ends.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::AnyConnection;

use crate::group::Bookkeeping;
use crate::{GuildId, MemoryError, Store, UserId, db};

/// Days of usage kept (today included); older rows are pruned.
pub const USAGE_KEEP_DAYS: i64 = 31;

/// Seconds in a day (UTC days have no leap seconds in unix time).
const DAY_SECONDS: u64 = 86_400;

/// A UTC day: the number of days since 1970-01-01.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UtcDay(pub i64);

impl UtcDay {
    /// The UTC day `time` falls on.
    pub fn of(time: SystemTime) -> Self {
        let day = match time.duration_since(UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_secs() / DAY_SECONDS).unwrap_or(i64::MAX),
            Err(before) => {
                // 1969-12-31T23:59:59 is day -1, not day 0.
                let secs = before.duration().as_secs_f64();
                -(secs / DAY_SECONDS as f64).ceil() as i64
            }
        };
        Self(day)
    }

    /// The day after this one.
    pub fn next(self) -> Self {
        Self(self.0.saturating_add(1))
    }

    /// Midnight UTC at the start of this day.
    pub fn start(self) -> SystemTime {
        let secs = self.0.unsigned_abs().saturating_mul(DAY_SECONDS);
        if self.0 >= 0 {
            UNIX_EPOCH + Duration::from_secs(secs)
        } else {
            UNIX_EPOCH - Duration::from_secs(secs)
        }
    }
}

/// Tokens counted on one day for a person and a guild.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DayUsage {
    /// The person's tokens that day, everywhere (0 when no person was asked about).
    pub user: u64,
    /// The guild's tokens that day, everyone's (0 when no guild was asked about).
    pub guild: u64,
}

/// Who tokens are counted for, as the `subject` column spells it.
fn subjects(user: Option<UserId>, guild: Option<GuildId>) -> Vec<(&'static str, i64)> {
    let mut out = Vec::with_capacity(2);
    if let Some(user) = user {
        out.push(("user", db::id(user)));
    }
    if let Some(guild) = guild {
        out.push(("guild", db::id(guild)));
    }
    out
}

/// Adds `tokens` to each of `subjects`' counts (`subject`, id) for `day`, on `conn` (in the
/// caller's transaction).
pub(crate) async fn write_usage(
    conn: &mut AnyConnection,
    day: UtcDay,
    subjects: &[(&'static str, i64)],
    tokens: u64,
) -> Result<(), MemoryError> {
    for (subject, id) in subjects {
        sqlx::query(
            "INSERT INTO token_usage (day, subject, subject_id, tokens) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (day, subject, subject_id) \
             DO UPDATE SET tokens = token_usage.tokens + excluded.tokens",
        )
        .bind(day.0)
        .bind(*subject)
        .bind(*id)
        .bind(db::count(tokens))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

impl Store {
    /// Adds `tokens` to `user`'s and `guild`'s counts for `day` (either may be absent: a turn
    /// outside a guild counts for the person only), in one transaction (on SQLite, the group
    /// commit's next one).
    pub async fn add_usage(
        &self,
        day: UtcDay,
        user: Option<UserId>,
        guild: Option<GuildId>,
        tokens: u64,
    ) -> Result<(), MemoryError> {
        let subjects = subjects(user, guild);
        if subjects.is_empty() || tokens == 0 {
            return Ok(());
        }
        if let Some(group) = &self.group {
            return group
                .bookkeeping(Bookkeeping::Usage {
                    day,
                    subjects,
                    tokens,
                })
                .await;
        }
        let mut tx = self.pool.begin().await?;
        write_usage(&mut tx, day, &subjects, tokens).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The tokens `user` and `guild` used on `day` (0 for one not given or not seen that day),
    /// in one query.
    pub async fn usage_on(
        &self,
        day: UtcDay,
        user: Option<UserId>,
        guild: Option<GuildId>,
    ) -> Result<DayUsage, MemoryError> {
        let mut usage = DayUsage::default();
        if user.is_none() && guild.is_none() {
            return Ok(usage);
        }
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT subject, tokens FROM token_usage WHERE day = $1 AND (\
             (subject = 'user' AND subject_id = $2) OR (subject = 'guild' AND subject_id = $3))",
        )
        .bind(day.0)
        .bind(db::opt_id(user))
        .bind(db::opt_id(guild))
        .fetch_all(&self.pool)
        .await?;
        for (subject, tokens) in rows {
            let tokens = db::stored_count(tokens, "token_usage.tokens")?;
            match subject.as_str() {
                "user" => usage.user = tokens,
                _ => usage.guild = tokens,
            }
        }
        Ok(usage)
    }

    /// Deletes the usage of days before the last [`USAGE_KEEP_DAYS`] ending with `now`'s day;
    /// returns how many rows went.
    pub async fn prune_usage(&self, now: SystemTime) -> Result<u64, MemoryError> {
        let first_kept = UtcDay::of(now).0.saturating_sub(USAGE_KEEP_DAYS - 1);
        let deleted = sqlx::query("DELETE FROM token_usage WHERE day < $1")
            .bind(first_kept)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_utc_days_counted_from_1970() {
        assert_eq!(UtcDay::of(UNIX_EPOCH), UtcDay(0));
        let just_before_midnight = UNIX_EPOCH + Duration::from_secs(DAY_SECONDS - 1);
        assert_eq!(UtcDay::of(just_before_midnight), UtcDay(0));
        assert_eq!(UtcDay::of(UtcDay(0).next().start()), UtcDay(1));
        assert_eq!(UtcDay::of(UNIX_EPOCH - Duration::from_secs(1)), UtcDay(-1));
        assert_eq!(
            UtcDay(-1).start(),
            UNIX_EPOCH - Duration::from_secs(DAY_SECONDS)
        );
        // 2026-12-03T17:58:00Z is day 20_790; the next midnight is 2026-12-04T00:00:00Z.
        let now = UNIX_EPOCH + Duration::from_secs(1_796_320_680);
        assert_eq!(UtcDay::of(now), UtcDay(20_790));
        assert_eq!(
            UtcDay::of(now).next().start(),
            UNIX_EPOCH + Duration::from_secs(20_791 * DAY_SECONDS)
        );
    }
}
