//! Every content-policy action (block, redact, warn; on input or output) recorded in one place:
//! a structured log line (target [`POLICY_LOG_TARGET`]) and a counter
//! ([`POLICY_ACTIONS_TOTAL`]). Never the text that matched: only who, where, which rule.
//!
//! Each action is also an entry of the audit log ([`crate::Engine::audit`]): kind `refusal`,
//! action `content_policy`, with the direction, the rule's action and name, the channel and the
//! conversation in its detail.

use std::sync::Arc;

use mcpcord_memory::{AuditEntry, ChannelId, ConversationKey, GuildId, Scope, UserId};

use super::{Direction, Hit};
use crate::engine::Inner;
use crate::request::TurnRequest;

/// The log target of content-policy actions.
pub const POLICY_LOG_TARGET: &str = "mcpcord::policy";

/// Counter: content-policy actions, by `direction` (input, output) and `action` (block,
/// redact, warn; `let_through` when the moderation model gave no verdict and the text went on).
pub const POLICY_ACTIONS_TOTAL: &str = "mcpcord_policy_actions_total";

/// Whose text a rule acted on, and where.
#[derive(Debug, Clone)]
pub(crate) struct Subject {
    /// The conversation.
    pub key: ConversationKey,
    /// Where it happens.
    pub scope: Scope,
    /// Who spoke (or was answered).
    pub user: Option<UserId>,
}

impl Subject {
    /// The subject of `request`'s turn.
    pub(crate) fn of(request: &TurnRequest) -> Self {
        Self {
            key: request.key.clone(),
            scope: request.scope,
            user: request.author.id,
        }
    }
}

/// Records that rule `hit` acted on the `direction` text of `subject`'s turn.
pub(crate) async fn record(inner: &Arc<Inner>, subject: &Subject, direction: Direction, hit: &Hit) {
    metrics::counter!(
        POLICY_ACTIONS_TOTAL,
        "direction" => direction.as_str(),
        "action" => hit.action.as_str(),
    )
    .increment(1);
    tracing::info!(
        target: POLICY_LOG_TARGET,
        direction = direction.as_str(),
        action = hit.action.as_str(),
        rule = %hit.rule,
        user = subject.user.map(UserId::get),
        guild = subject.scope.guild_id.map(GuildId::get),
        channel = subject.scope.channel_id.map(ChannelId::get),
        conversation = subject.key.as_str(),
        "content policy acted"
    );
    let mut entry = AuditEntry::refusal(subject.user, subject.scope.guild_id, "content_policy")
        .with_detail("direction", direction.as_str())
        .with_detail("action", hit.action.as_str())
        .with_detail("rule", hit.rule.clone())
        .with_detail("conversation", subject.key.as_str());
    if let Some(channel) = subject.scope.channel_id {
        entry = entry.with_detail("channel", channel.get().to_string());
    }
    let engine = crate::Engine {
        inner: inner.clone(),
    };
    engine.audit(entry);
}
