//! What the Discord front end records in the engine's audit log: refusals at the gate (not
//! autocomplete's, which come per keystroke), admin-only commands refused, and admin changes
//! made through commands (tools switched, system prompts and models set for a channel or a
//! server). Each is an [`AuditEntry`] handed to [`mcpcord_engine::Engine::audit`], which never
//! makes the caller wait.

use mcpcord_engine::{AuditEntry, PreferenceLevel};
use serde_json::{Value, json};
use twilight_model::id::Id;

use crate::bot::Context;
use crate::gate::{Door, Refusal};
use crate::ids::ToEngine;
use crate::middleware::Invoker;

/// The entry for a gate's `refusal` of `user` at `door` in `guild`; `None` for autocomplete.
pub fn gate_refusal(
    refusal: &Refusal,
    door: Door,
    user: Option<u64>,
    guild: Option<u64>,
) -> Option<AuditEntry> {
    if door == Door::Autocomplete {
        return None;
    }
    let mut entry = AuditEntry::refusal(
        user.map(mcpcord_engine::UserId::new),
        guild.map(mcpcord_engine::GuildId::new),
        refusal.kind(),
    )
    .with_detail("door", door.as_str());
    if let Refusal::TooFast { retry_after } = refusal {
        entry = entry.with_detail("retry_after_ms", retry_after.as_millis() as u64);
    }
    Some(entry)
}

/// The entry for an admin-only `command` refused to `invoker`.
pub fn admin_only(invoker: &Invoker, command: &str) -> AuditEntry {
    AuditEntry::refusal(
        Some(invoker.user.to_engine()),
        invoker.guild.map(ToEngine::to_engine),
        "admin_only",
    )
    .with_detail("command", command)
}

/// The entry for a refusal by the bot roles `roles` of `invoker`: of a `kind` (`model`,
/// `approval`) of thing, `what` (the model's name; empty for an approval).
pub fn role_refusal(invoker: &Invoker, roles: &[String], kind: &str, what: &str) -> AuditEntry {
    AuditEntry::refusal(
        Some(invoker.user.to_engine()),
        invoker.guild.map(ToEngine::to_engine),
        "role",
    )
    .with_detail("refused", kind)
    .with_detail("what", what)
    .with_detail("roles", roles.join(","))
}

/// Records `invoker`'s change `action` (`system_prompt.set`, `model.set`, …) at `level`, when
/// it is an admin's (a channel's or a server's; a person's own preference is not audited),
/// with `detail` and the level.
pub fn admin_change(
    ctx: &Context,
    invoker: &Invoker,
    level: PreferenceLevel,
    action: &str,
    detail: Value,
) {
    let (scope, id) = match level {
        PreferenceLevel::User(_) => return,
        PreferenceLevel::Channel(channel) => ("channel", channel.get()),
        PreferenceLevel::Guild(guild) => ("server", guild.get()),
    };
    ctx.engine.audit(
        AuditEntry::admin(
            Some(invoker.user.to_engine()),
            invoker.guild.map(ToEngine::to_engine),
            action,
            detail,
        )
        .with_detail("scope", scope)
        .with_detail("target", id.to_string()),
    );
}

/// Records `invoker`'s switching of `tools` on (`on`) or off in `channel`.
pub fn tools_switched(
    ctx: &Context,
    invoker: &Invoker,
    channel: Id<twilight_model::id::marker::ChannelMarker>,
    on: bool,
    tools: &[String],
) {
    if tools.is_empty() {
        return;
    }
    let action = if on { "tools.enable" } else { "tools.disable" };
    ctx.engine.audit(AuditEntry::admin(
        Some(invoker.user.to_engine()),
        invoker.guild.map(ToEngine::to_engine),
        action,
        json!({"channel": channel.get().to_string(), "tools": tools}),
    ));
}
