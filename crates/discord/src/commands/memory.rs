//! `/memory recall on|off|default [scope]`: whether earlier conversations are recalled into new
//! ones, for the person or (admins) the whole server.

use twilight_interactions::command::{CommandModel, CommandOption, CreateCommand, CreateOption};

use super::{Category, CommandInfo, Who};
use crate::commands::Call;
use crate::ids::ToEngine;
use crate::middleware::{CommandError, CommandResponse, CommandResult};
use mcpcord_engine::PreferenceLevel;

/// `/memory recall`.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(
    name = "memory",
    desc = "What the bot remembers of earlier conversations",
    contexts = "guild bot_dm private_channel",
    integration_types = "guild_install"
)]
pub enum MemoryCommand {
    /// Switch recall.
    #[command(name = "recall")]
    Recall(MemoryRecall),
}

/// `/memory recall state: [scope]`.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(
    name = "recall",
    desc = "Switch recall of your earlier conversations into new ones"
)]
pub struct MemoryRecall {
    /// On, off, or back to the default
    pub state: RecallState,
    /// For whom (default: you; the whole server: admins)
    pub scope: Option<RecallScope>,
}

/// The switch's positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, CommandOption, CreateOption)]
pub enum RecallState {
    /// Recall on.
    #[option(name = "on", value = "on")]
    On,
    /// Recall off.
    #[option(name = "off", value = "off")]
    Off,
    /// The server's choice, or the bot's default.
    #[option(name = "default", value = "default")]
    Default,
}

/// Whose recall is switched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, CommandOption, CreateOption)]
pub enum RecallScope {
    /// Just the person.
    #[option(name = "me", value = "user")]
    User,
    /// The whole server.
    #[option(name = "this server", value = "server")]
    Server,
}

/// How `/help` presents `/memory`.
pub fn info() -> CommandInfo {
    CommandInfo::new::<MemoryCommand>(
        Category::Settings,
        Who::Mixed("everyone; the `server` scope: admins"),
        &[
            "/memory recall state:off",
            "/memory recall state:on scope:this server",
        ],
    )
}

impl MemoryCommand {
    /// Whether this invocation needs an admin (the server-wide switch).
    pub fn wide(&self) -> bool {
        let Self::Recall(recall) = self;
        recall.scope == Some(RecallScope::Server)
    }

    /// Runs `/memory recall`.
    pub async fn run(self, call: Call<'_>) -> CommandResult {
        let Self::Recall(recall) = self;
        let (level, whose) = recall_level(recall.scope, &call)?;
        let on = recall.state.switch();
        let engine = &call.ctx.engine;
        engine.set_recall(level, on).await?;
        crate::audit::admin_change(
            call.ctx,
            call.invoker,
            level,
            "recall.set",
            serde_json::json!({ "recall": on }),
        );
        let now = if engine.recall_enabled(&call.scope()).await? {
            "on"
        } else {
            "off"
        };
        Ok(CommandResponse::private(format!(
            "🧠 Recall of earlier conversations {} {whose}. For your messages here it is now \
             {now}.",
            recall.state.done()
        )))
    }
}

impl RecallState {
    /// The preference it stores: on, off, or none (the next level decides).
    fn switch(self) -> Option<bool> {
        match self {
            Self::On => Some(true),
            Self::Off => Some(false),
            Self::Default => None,
        }
    }

    /// What was done, in words.
    fn done(self) -> &'static str {
        match self {
            Self::On => "switched on",
            Self::Off => "switched off",
            Self::Default => "back to the default",
        }
    }
}

/// The preference level `scope` names for the invoker, and words for it.
fn recall_level(
    scope: Option<RecallScope>,
    call: &Call<'_>,
) -> Result<(PreferenceLevel, &'static str), CommandError> {
    match scope.unwrap_or(RecallScope::User) {
        RecallScope::User => Ok((
            PreferenceLevel::User(call.invoker.user.to_engine()),
            "for you",
        )),
        RecallScope::Server => match call.invoker.guild {
            Some(guild) => Ok((PreferenceLevel::Guild(guild.to_engine()), "in this server")),
            None => Err(CommandError::Invalid("this is not a server".into())),
        },
    }
}
