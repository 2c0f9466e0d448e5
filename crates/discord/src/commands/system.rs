//! `/system`: the system prompt for a user, a channel or the server.

use twilight_interactions::command::{CommandModel, CreateCommand};

use super::{Category, CommandInfo, ScopeChoice, Who};
use crate::commands::{Call, scope_words};
use crate::middleware::{CommandError, CommandResponse, CommandResult};

/// `/system set [prompt] [scope]`, `/system show [scope]`, `/system clear [scope]`.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(
    name = "system",
    desc = "Set, show or clear the system prompt",
    contexts = "guild bot_dm private_channel",
    integration_types = "guild_install"
)]
pub enum SystemCommand {
    /// Set it.
    #[command(name = "set")]
    Set(SystemSet),
    /// Show it.
    #[command(name = "show")]
    Show(SystemShow),
    /// Clear it.
    #[command(name = "clear")]
    Clear(SystemClear),
}

/// `/system set`: without `prompt`, a form opens with the current one to edit.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(
    name = "set",
    desc = "Set the system prompt (leave empty to edit it in a form)"
)]
pub struct SystemSet {
    /// The instructions the model follows
    #[command(min_length = 1, max_length = 4000)]
    pub prompt: Option<String>,
    /// Whose prompt (default: yours)
    pub scope: Option<ScopeChoice>,
}

/// `/system show`.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(name = "show", desc = "Show the system prompt in effect")]
pub struct SystemShow {
    /// Whose prompt (default: the one that applies to you here)
    pub scope: Option<ScopeChoice>,
}

/// `/system clear`.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(name = "clear", desc = "Clear a system prompt")]
pub struct SystemClear {
    /// Whose prompt (default: yours)
    pub scope: Option<ScopeChoice>,
}

/// How `/help` presents `/system`.
pub fn info() -> CommandInfo {
    CommandInfo::new::<SystemCommand>(
        Category::Settings,
        Who::Mixed("everyone; the `channel` and `server` scopes: admins"),
        &[
            "/system set prompt:Answer briefly, in French.",
            "/system set scope:channel",
            "/system show",
            "/system clear scope:server",
        ],
    )
}

impl SystemCommand {
    /// Runs `/system set`, `/system show` or `/system clear`.
    pub async fn run(self, call: Call<'_>) -> CommandResult {
        let engine = &call.ctx.engine;
        match self {
            Self::Set(set) => {
                let Some(prompt) = set.prompt else {
                    return Err(CommandError::Invalid(
                        "give the prompt: `/system set prompt:…`".into(),
                    ));
                };
                let level = call.level(set.scope)?;
                engine.set_system_prompt(level, &prompt).await?;
                crate::audit::admin_change(
                    call.ctx,
                    call.invoker,
                    level,
                    "system_prompt.set",
                    serde_json::json!({ "prompt": prompt }),
                );
                Ok(CommandResponse::private(format!(
                    "✅ System prompt set {}.",
                    scope_words(set.scope)
                )))
            }
            Self::Show(_) => {
                let key = call.here().map(|(key, _)| key);
                let settings = engine.settings(&call.scope(), key.as_ref()).await?;
                Ok(CommandResponse::private(format!(
                    "The system prompt in effect ({}):\n>>> {}",
                    settings.prompt_source.describe(),
                    settings.system_prompt
                )))
            }
            Self::Clear(clear) => {
                let level = call.level(clear.scope)?;
                engine.clear_system_prompt(level).await?;
                crate::audit::admin_change(
                    call.ctx,
                    call.invoker,
                    level,
                    "system_prompt.clear",
                    serde_json::Value::Null,
                );
                Ok(CommandResponse::private(format!(
                    "✅ System prompt cleared {}.",
                    scope_words(clear.scope)
                )))
            }
        }
    }
}
