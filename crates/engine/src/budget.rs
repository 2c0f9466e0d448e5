//! Token budgets: how many tokens a person and a guild may spend per UTC day, and how long one
//! answer may be.
//!
//! Today's counts are kept in memory ([`UsageBook`]) so that checking a budget before a turn
//! costs no database round-trip: a person's (or guild's) count is read from the store once per
//! day and process, the first time it is needed, and grows in memory with every answer this
//! process gives; each answer's tokens are also added to the store after the answer (see
//! `turn::TurnState::record_usage`).
//!
//! Several processes on one PostgreSQL database (shards) each count their own answers at once
//! and see the others' when they read the store again: a count older than [`REFRESH_AFTER`] is
//! re-read in the background (the check that noticed uses the count it has, and the next one
//! the merged count). So a person talking through two processes at once can overshoot by what
//! the other process gave them in the last minute; with one process (and always on SQLite,
//! where the bot is the only writer) the count is exact. Reading through on every turn would be
//! exact but puts a query before every model request; a minute's slack on a daily budget was
//! judged the better trade. Either way a turn that starts under budget finishes: a budget is
//! exceeded by at most one answer, bounded by `max_tokens`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use mcpcord_memory::{DayUsage, GuildId, MemoryError, Store, UserId, UtcDay};

use crate::engine::{Engine, Inner};
use crate::error::EngineError;

/// How old an in-memory count may get before it is re-read from the store (in the background).
pub const REFRESH_AFTER: Duration = Duration::from_secs(60);

/// The limits in force in one place: every field `None` means unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BudgetLimits {
    /// Tokens (prompt + answer) one person may spend per UTC day, wherever they talk.
    pub tokens_per_user_per_day: Option<u64>,
    /// Tokens everyone in the guild together may spend per UTC day.
    pub tokens_per_guild_per_day: Option<u64>,
    /// Longest answer of one model request, in tokens (Ollama `num_predict`, OpenAI
    /// `max_tokens`).
    pub max_tokens: Option<u32>,
}

/// Budgets: the limits everywhere, and guilds that have their own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BudgetConfig {
    /// The limits outside any guild and in guilds without their own.
    pub default: BudgetLimits,
    /// Guilds with limits of their own (already merged with the default by the caller).
    pub guilds: HashMap<GuildId, BudgetLimits>,
}

impl BudgetConfig {
    /// The limits in force in `guild` (the default outside guilds).
    pub fn limits(&self, guild: Option<GuildId>) -> &BudgetLimits {
        guild
            .and_then(|guild| self.guilds.get(&guild))
            .unwrap_or(&self.default)
    }
}

/// Whose budget ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetScope {
    /// The person's own.
    Person,
    /// Their guild's, shared by everyone in it.
    Guild,
}

/// One budget today: what was used and the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowance {
    /// Tokens used today.
    pub used: u64,
    /// Tokens allowed per day; `None`: unlimited.
    pub limit: Option<u64>,
}

impl Allowance {
    /// Tokens left today; `None`: unlimited.
    pub fn left(&self) -> Option<u64> {
        self.limit.map(|limit| limit.saturating_sub(self.used))
    }

    /// Whether nothing is left.
    pub fn exhausted(&self) -> bool {
        self.left() == Some(0)
    }
}

/// What is left today for a person and their guild ([`Engine::budget_left`]).
///
/// [`Engine::budget_left`]: crate::Engine::budget_left
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetStatus {
    /// The person's budget (`None` without a person).
    pub user: Option<Allowance>,
    /// The guild's budget (`None` outside guilds).
    pub guild: Option<Allowance>,
    /// When the counts start again from zero: the next midnight UTC.
    pub resets_at: SystemTime,
}

impl BudgetStatus {
    /// The first exhausted budget (the person's before the guild's), with its allowance.
    pub fn exhausted(&self) -> Option<(BudgetScope, Allowance)> {
        let person = self.user.map(|a| (BudgetScope::Person, a));
        let guild = self.guild.map(|a| (BudgetScope::Guild, a));
        [person, guild]
            .into_iter()
            .flatten()
            .find(|(_, allowance)| allowance.exhausted())
    }
}

/// The next midnight UTC after `now`.
pub fn next_reset(now: SystemTime) -> SystemTime {
    UtcDay::of(now).next().start()
}

/// What the counts are kept for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Subject {
    User(UserId),
    Guild(GuildId),
}

/// One count of today's.
#[derive(Debug, Clone, Copy)]
struct Count {
    tokens: u64,
    /// When it was last read from the store.
    read: Instant,
}

/// Today's counts.
#[derive(Debug)]
struct Book {
    day: UtcDay,
    counts: HashMap<Subject, Count>,
}

/// Today's token counts in memory (see the module's documentation).
#[derive(Debug)]
pub(crate) struct UsageBook {
    book: Mutex<Book>,
}

impl Default for UsageBook {
    fn default() -> Self {
        Self {
            book: Mutex::new(Book {
                day: UtcDay(i64::MIN),
                counts: HashMap::new(),
            }),
        }
    }
}

impl UsageBook {
    fn lock(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The counts of `day` kept for `subject`, if any, and whether it is due a re-read. A new
    /// day forgets the old day's counts.
    fn cached(&self, day: UtcDay, subject: Subject) -> Option<(u64, bool)> {
        let mut book = self.lock();
        if book.day != day {
            book.day = day;
            book.counts.clear();
            return None;
        }
        book.counts
            .get(&subject)
            .map(|c| (c.tokens, c.read.elapsed() >= REFRESH_AFTER))
    }

    /// Takes counts read from the store: the larger of them and what memory has (memory may
    /// hold this process's answers not yet written; the store other processes' answers).
    fn merge(&self, day: UtcDay, read: &[(Subject, u64)]) {
        let mut book = self.lock();
        if book.day != day {
            return; // The day ended while reading: these counts are yesterday's.
        }
        for (subject, tokens) in read {
            let count = book.counts.entry(*subject).or_insert(Count {
                tokens: 0,
                read: Instant::now(),
            });
            count.tokens = count.tokens.max(*tokens);
            count.read = Instant::now();
        }
    }

    /// Adds an answer's `tokens` on `day` to the counts kept for `user` and `guild` (a count
    /// not kept is read from the store, which has them, when next needed).
    pub(crate) fn record(
        &self,
        day: UtcDay,
        user: Option<UserId>,
        guild: Option<GuildId>,
        tokens: u64,
    ) {
        let mut book = self.lock();
        if book.day != day {
            return;
        }
        let subjects = [user.map(Subject::User), guild.map(Subject::Guild)];
        for subject in subjects.into_iter().flatten() {
            if let Some(count) = book.counts.get_mut(&subject) {
                count.tokens = count.tokens.saturating_add(tokens);
            }
        }
    }

    /// Today's (`day`'s) counts for `user` and `guild`: from memory, reading from `store` only
    /// those not kept yet (one query); counts due a re-read are re-read in the background.
    pub(crate) async fn usage(
        self: &Arc<Self>,
        store: &Store,
        day: UtcDay,
        user: Option<UserId>,
        guild: Option<GuildId>,
    ) -> Result<DayUsage, MemoryError> {
        let user_count = user.map(|u| self.cached(day, Subject::User(u)));
        let guild_count = guild.map(|g| self.cached(day, Subject::Guild(g)));
        let missing = |count: &Option<Option<(u64, bool)>>| matches!(count, Some(None));
        let stale = |count: &Option<Option<(u64, bool)>>| matches!(count, Some(Some((_, true))));
        if missing(&user_count) || missing(&guild_count) {
            let read = self.read(store, day, user, guild).await?;
            return Ok(read);
        }
        if stale(&user_count) || stale(&guild_count) {
            let (book, store) = (self.clone(), store.clone());
            tokio::spawn(async move {
                if let Err(error) = book.read(&store, day, user, guild).await {
                    tracing::warn!(%error, "cannot re-read today's token usage; keeping the count in memory");
                }
            });
        }
        let tokens = |count: Option<Option<(u64, bool)>>| count.flatten().map_or(0, |(t, _)| t);
        Ok(DayUsage {
            user: tokens(user_count),
            guild: tokens(guild_count),
        })
    }

    /// Reads `day`'s counts from the store into memory; returns the merged counts.
    async fn read(
        &self,
        store: &Store,
        day: UtcDay,
        user: Option<UserId>,
        guild: Option<GuildId>,
    ) -> Result<DayUsage, MemoryError> {
        let stored = store.usage_on(day, user, guild).await?;
        let mut read = Vec::with_capacity(2);
        if let Some(user) = user {
            read.push((Subject::User(user), stored.user));
        }
        if let Some(guild) = guild {
            read.push((Subject::Guild(guild), stored.guild));
        }
        self.merge(day, &read);
        let kept = |subject: Option<Subject>, stored: u64| {
            subject
                .and_then(|s| self.cached(day, s))
                .map_or(stored, |(t, _)| t)
        };
        Ok(DayUsage {
            user: kept(user.map(Subject::User), stored.user),
            guild: kept(guild.map(Subject::Guild), stored.guild),
        })
    }
}

impl Engine {
    /// What is left today (the UTC day of `now`) of `user`'s budget and of their `guild`'s,
    /// under the limits in force there, and when both reset (for `/status`).
    pub async fn budget_left(
        &self,
        user: Option<UserId>,
        guild: Option<GuildId>,
        now: SystemTime,
    ) -> Result<BudgetStatus, EngineError> {
        let budgets = &self.inner.config.load().budgets;
        Ok(budget_status(&self.inner, budgets, user, guild, now, false).await?)
    }
}

/// The budgets of `user` and `guild` at `now` under `budgets`. With `limited_only`, counts
/// with no limit are neither read nor reported (the check before a turn reads nothing when no
/// budget is set).
pub(crate) async fn budget_status(
    inner: &Arc<Inner>,
    budgets: &BudgetConfig,
    user: Option<UserId>,
    guild: Option<GuildId>,
    now: SystemTime,
    limited_only: bool,
) -> Result<BudgetStatus, MemoryError> {
    let limits = budgets.limits(guild);
    let user = user.filter(|_| !limited_only || limits.tokens_per_user_per_day.is_some());
    let guild = guild.filter(|_| !limited_only || limits.tokens_per_guild_per_day.is_some());
    let usage = inner
        .usage
        .usage(&inner.store, UtcDay::of(now), user, guild)
        .await?;
    Ok(BudgetStatus {
        user: user.map(|_| Allowance {
            used: usage.user,
            limit: limits.tokens_per_user_per_day,
        }),
        guild: guild.map(|_| Allowance {
            used: usage.guild,
            limit: limits.tokens_per_guild_per_day,
        }),
        resets_at: next_reset(now),
    })
}

#[cfg(test)]
mod tests;
