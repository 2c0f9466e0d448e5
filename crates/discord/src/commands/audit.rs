//! `/audit`: an admin looks at the audit log of the server they are in (in DMs, the bot's own
//! admins see every entry), newest first, optionally about one person, of one kind, and since
//! a time; only they see the answer.
//!
//! [`view`] is a pure function of the records (Discord shows the times in each reader's own
//! time zone with `<t:…>` markup), so every state is a unit test.

use std::time::{SystemTime, UNIX_EPOCH};

use mcpcord_engine::{AuditFilter, AuditKind, AuditRecord};
use serde_json::Value;
use twilight_interactions::command::{CommandModel, CommandOption, CreateCommand, CreateOption};
use twilight_model::channel::message::Embed;
use twilight_model::id::Id;
use twilight_model::id::marker::UserMarker;
use twilight_util::builder::embed::EmbedBuilder;

use super::help::{DESCRIPTION_LIMIT, HELP_COLOR};
use super::search::parse_when;
use super::{Category, CommandInfo, Who};
use crate::commands::Call;
use crate::components::shorten;
use crate::ids::ToEngine;
use crate::middleware::{CommandError, CommandResponse, CommandResult};
use crate::render::escape;

/// How many entries `/audit` reads (as many as fit are shown).
pub const AUDIT_ENTRIES: usize = 20;

/// `/audit [user] [kind] [since]`.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(
    name = "audit",
    desc = "Admins: the bot's audit log for this server, newest first (only you see it)",
    contexts = "guild bot_dm private_channel",
    integration_types = "guild_install"
)]
pub struct AuditCommand {
    /// Only what this person did, or what was about them
    pub user: Option<Id<UserMarker>>,
    /// Only entries of this kind
    pub kind: Option<KindChoice>,
    /// Only entries since this day (YYYY-MM-DD, UTC) or this long ago (2h, 7d, 2w)
    #[command(max_length = 25)]
    pub since: Option<String>,
}

/// The kinds of entries `/audit` can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, CommandOption, CreateOption)]
pub enum KindChoice {
    /// Admin changes.
    #[option(name = "admin actions", value = "admin_action")]
    AdminAction,
    /// Tool calls.
    #[option(name = "tool calls", value = "tool_call")]
    ToolCall,
    /// Refusals.
    #[option(name = "refusals", value = "refusal")]
    Refusal,
    /// Data-rights requests.
    #[option(name = "data-rights requests", value = "data_rights")]
    DataRights,
    /// Configuration reloads.
    #[option(name = "reloads", value = "reload")]
    Reload,
}

impl From<KindChoice> for AuditKind {
    fn from(choice: KindChoice) -> Self {
        match choice {
            KindChoice::AdminAction => AuditKind::AdminAction,
            KindChoice::ToolCall => AuditKind::ToolCall,
            KindChoice::Refusal => AuditKind::Refusal,
            KindChoice::DataRights => AuditKind::DataRights,
            KindChoice::Reload => AuditKind::Reload,
        }
    }
}

/// How `/help` presents `/audit`.
pub fn info() -> CommandInfo {
    CommandInfo::new::<AuditCommand>(
        Category::Bot,
        Who::Admins,
        &[
            "/audit",
            "/audit user:@alex kind:tool calls",
            "/audit kind:refusals since:2h",
        ],
    )
}

impl AuditCommand {
    /// Runs `/audit`: the entries of this server (every entry in DMs) the options select.
    pub async fn run(self, call: Call<'_>) -> CommandResult {
        let filter = self.filter(&call, SystemTime::now())?;
        let records = call.ctx.engine.audit_log(&filter).await?;
        Ok(CommandResponse::Embed {
            embed: Box::new(view(&records)),
            ephemeral: true,
        })
    }

    /// What to read for the invoker of `call`, times read at `now`.
    fn filter(&self, call: &Call<'_>, now: SystemTime) -> Result<AuditFilter, CommandError> {
        let since = self
            .since
            .as_deref()
            .map(|since| parse_when(since, now))
            .transpose()
            .map_err(CommandError::Invalid)?;
        Ok(AuditFilter {
            user: self.user.map(ToEngine::to_engine),
            guild: call.invoker.guild.map(ToEngine::to_engine),
            kind: self.kind.map(AuditKind::from),
            since,
            limit: Some(AUDIT_ENTRIES),
            oldest_first: false,
        })
    }
}

/// The audit embed: one line per record, newest first, as many whole lines as fit.
pub fn view(records: &[AuditRecord]) -> Embed {
    let description = if records.is_empty() {
        "Nothing recorded that matches.".to_owned()
    } else {
        let mut out = String::new();
        for line in records.iter().map(line) {
            if out.chars().count() + line.chars().count() + 1 > DESCRIPTION_LIMIT {
                break;
            }
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&line);
        }
        out
    };
    EmbedBuilder::new()
        .title("📜 Audit log")
        .color(HELP_COLOR)
        .description(description)
        .build()
}

/// One record: `<t:…:R> · kind · **action** · by <@actor> · about <@subject> · details`.
fn line(record: &AuditRecord) -> String {
    let entry = &record.entry;
    let seconds = entry
        .at
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let mut parts = vec![
        format!("<t:{seconds}:R>"),
        entry.kind.as_str().replace('_', " "),
        format!("**{}**", escape(&shorten(&entry.action, 80))),
    ];
    parts.push(match entry.actor_id {
        Some(actor) => format!("by <@{actor}>"),
        None => "by the operator".to_owned(),
    });
    if let Some(subject) = entry.subject_id {
        parts.push(format!("about <@{subject}>"));
    }
    let details = details(&entry.detail);
    if !details.is_empty() {
        parts.push(escape(&shorten(&details, 160)));
    }
    parts.join(" · ")
}

/// The detail worth a glance (the outcome, the approval and who gave it, a door, a command,
/// a model), `key=value` joined by spaces.
fn details(detail: &serde_json::Map<String, Value>) -> String {
    const SHOWN: [&str; 8] = [
        "outcome",
        "approval",
        "approved_by",
        "door",
        "command",
        "model",
        "channel",
        "tools",
    ];
    SHOWN
        .iter()
        .filter_map(|key| {
            let value = detail.get(*key)?;
            let text = match value {
                Value::String(text) if *key == "approved_by" => format!("<@{text}>"),
                Value::String(text) => text.clone(),
                Value::Null => return None,
                other => other.to_string(),
            };
            Some(format!("{key}={text}"))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests;
