//! A turn's token budget: refused before it starts when the person or their guild has spent
//! the day's tokens, and its tokens counted when it ends (see `crate::budget`).

use mcpcord_llm::Usage;
use mcpcord_memory::UtcDay;

use super::TurnState;
use crate::budget::{Allowance, BudgetScope, budget_status};
use crate::error::EngineError;

impl TurnState {
    /// Refuses the turn if its person's or guild's budget for today is spent (no database
    /// round-trip once today's counts are in memory; none at all without budgets).
    pub(super) async fn check_budget(&self) -> Result<(), EngineError> {
        let now = self.inner.now();
        let budgets = &self.config.budgets;
        let status =
            budget_status(&self.inner, budgets, self.author, self.guild, now, true).await?;
        match status.exhausted() {
            Some((scope, allowance)) => {
                Err(self.refuse_over_budget(scope, allowance, now, status.resets_at))
            }
            None => Ok(()),
        }
    }

    /// The one place a budget refusal is made: logged, recorded in the audit log (kind
    /// `refusal`, action `budget`), then reported to the front end as
    /// [`EngineError::OverBudget`].
    fn refuse_over_budget(
        &self,
        scope: BudgetScope,
        allowance: Allowance,
        now: std::time::SystemTime,
        resets_at: std::time::SystemTime,
    ) -> EngineError {
        let limit = allowance.limit.unwrap_or(0);
        let whose = match scope {
            BudgetScope::Person => "person",
            BudgetScope::Guild => "guild",
        };
        let entry = mcpcord_memory::AuditEntry::refusal(self.author, self.guild, "budget")
            .at(now)
            .with_detail("budget", whose)
            .with_detail("used", allowance.used)
            .with_detail("limit", limit)
            .with_detail(
                "resets_at",
                humantime::format_rfc3339_seconds(resets_at).to_string(),
            );
        crate::Engine::from_inner(self.inner.clone()).audit(entry);
        tracing::info!(
            ?scope,
            used = allowance.used,
            limit,
            user = self.author.map(mcpcord_memory::UserId::get),
            guild = self.guild.map(mcpcord_memory::GuildId::get),
            "turn refused: token budget spent for today"
        );
        EngineError::OverBudget {
            scope,
            used: allowance.used,
            limit,
            resets_at,
        }
    }

    /// Counts one model round's tokens: what the server reported, else an estimate (the
    /// prompt's characters and the round's text and reasoning, by the model's learned
    /// characters-per-token ratio).
    pub(super) fn charge(
        &mut self,
        model: &str,
        prompt_chars: usize,
        round_chars: usize,
        usage: Option<&Usage>,
    ) {
        let estimator = &self.inner.estimator;
        let prompt = usage.and_then(|u| u.prompt_tokens).map_or_else(
            || estimator.chars_tokens(model, prompt_chars) as u64,
            u64::from,
        );
        let answer = usage.and_then(|u| u.completion_tokens).map_or_else(
            || estimator.chars_tokens(model, round_chars) as u64,
            u64::from,
        );
        self.spent = self.spent.saturating_add(prompt).saturating_add(answer);
    }

    /// Adds the turn's tokens to today's counts in memory (the next turn's check sees them at
    /// once); what [`store_usage`](Self::store_usage) then writes.
    pub(super) fn count_usage(&self) -> Option<(UtcDay, u64)> {
        if self.spent == 0 {
            return None;
        }
        let day = UtcDay::of(self.inner.now());
        self.inner
            .usage
            .record(day, self.author, self.guild, self.spent);
        Some((day, self.spent))
    }

    /// Adds the turn's tokens to the store. Called once the front end has the answer, so the
    /// write delays no one's answer (only the conversation's next turn, by one upsert).
    pub(super) async fn store_usage(&self, counted: Option<(UtcDay, u64)>) {
        let Some((day, tokens)) = counted else {
            return;
        };
        let stored = self
            .inner
            .store
            .add_usage(day, self.author, self.guild, tokens)
            .await;
        if let Err(error) = stored {
            tracing::warn!(%error, tokens, "cannot store the turn's token usage; this process's count in memory has it");
        }
    }
}
