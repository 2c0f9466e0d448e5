//! One command being run: the bot, the interaction and who ran it, with what every command's
//! `run` needs of them (the person's name, the scope, the conversation here, starting a turn).

use std::sync::Arc;

use mcpcord_engine::{
    Allowed, ConversationKey, Place, PreferenceLevel, Scope, Speaker, TurnAction, TurnRequest,
};
use twilight_model::application::interaction::Interaction;
use twilight_model::id::Id;
use twilight_model::id::marker::{ChannelMarker, MessageMarker};

use crate::bot::Context;
use crate::commands::ScopeChoice;
use crate::conversation;
use crate::ids::ToEngine;
use crate::middleware::{CommandError, Invoker};
use crate::reply;
use crate::roles::{Refused, Resolved, record_refusal};

/// A command being run.
#[derive(Clone, Copy)]
pub struct Call<'a> {
    /// The bot.
    pub ctx: &'a Arc<Context>,
    /// The interaction that carried the command.
    pub interaction: &'a Interaction,
    /// Who ran it, and where.
    pub invoker: &'a Invoker,
}

impl Call<'_> {
    /// The invoker's name as people see it.
    pub fn name(&self) -> String {
        invoker_name(self.interaction)
    }

    /// Where the command was run, for settings.
    pub fn scope(&self) -> Scope {
        Scope {
            guild_id: self.interaction.guild_id.map(ToEngine::to_engine),
            channel_id: self.invoker.channel.map(ToEngine::to_engine),
            user_id: Some(self.invoker.user.to_engine()),
        }
    }

    /// The preference level a `/model` or `/system` choice for `scope` applies to.
    pub fn level(&self, scope: Option<ScopeChoice>) -> Result<PreferenceLevel, CommandError> {
        level(scope, self.invoker)
    }

    /// The conversation a command run here continues, and the channel: threads and DMs have
    /// one; elsewhere the channel's rolling conversation.
    pub fn here(&self) -> Option<(ConversationKey, Id<ChannelMarker>)> {
        let channel = self.interaction.channel.as_ref()?;
        let key = if self.interaction.guild_id.is_none() {
            conversation::dm_key(channel.id.get())
        } else if channel.kind.is_thread() {
            conversation::thread_key(channel.id.get())
        } else {
            conversation::channel_key(channel.id.get())
        };
        Some((key, channel.id))
    }

    /// [`Call::here`], or the error a person sees where there is no conversation.
    pub fn here_or_refuse(&self) -> Result<(ConversationKey, Id<ChannelMarker>), CommandError> {
        self.here()
            .ok_or_else(|| CommandError::Invalid("there is no channel here".into()))
    }

    /// A turn request by the invoker in conversation `key`.
    pub fn request(
        &self,
        key: ConversationKey,
        action: TurnAction,
        model: Option<String>,
    ) -> TurnRequest {
        let name = self.name();
        TurnRequest {
            key,
            scope: self.scope(),
            author: Speaker {
                id: Some(self.invoker.user.to_engine()),
                name: name.clone(),
            },
            place: Place {
                user: name,
                server: None,
                channel: self
                    .interaction
                    .channel
                    .as_ref()
                    .and_then(|c| c.name.clone()),
            },
            action,
            model,
            grants: self.resolved().grants,
        }
    }

    /// What the invoker may do, as their bot roles say.
    pub fn resolved(&self) -> Resolved {
        self.ctx.config().policy().resolve(self.invoker)
    }

    /// Refuses a command that would start an answer when the bot is shutting down, or for a
    /// person who has as many answers in progress as they may (checked before anything visible
    /// is done, such as opening a thread).
    pub fn room(&self) -> Result<(), CommandError> {
        self.accepting()?;
        reply::room_for(self.ctx, self.invoker.user).map_err(busy)
    }

    /// Refuses a message the content policy blocks, before anything visible is done (the
    /// invoker alone is told why, ephemerally).
    pub async fn screen(&self, request: &TurnRequest) -> Result<(), CommandError> {
        Ok(self.ctx.engine.check_input(request).await?)
    }

    /// Starts answering `request` in `channel` (replying to `reply_to`).
    pub fn start(
        &self,
        request: TurnRequest,
        channel: Id<ChannelMarker>,
        reply_to: Option<Id<MessageMarker>>,
    ) -> Result<(), CommandError> {
        self.accepting()?;
        reply::start(self.ctx, request, self.invoker.user, channel, reply_to)
            .map(|_| ())
            .map_err(busy)
    }

    /// Refuses when the bot is shutting down (the engine decides).
    fn accepting(&self) -> Result<(), CommandError> {
        if self.ctx.accepting() {
            Ok(())
        } else {
            Err(CommandError::Invalid("the bot is shutting down".into()))
        }
    }

    /// Whether the invoker may pick `model` themselves: admins always; others when their bot
    /// roles allow it (by default: when it is among `models.allowed`; with none configured,
    /// only admins pick models).
    pub fn may_pick(&self, model: &str) -> Result<(), CommandError> {
        may_pick(self.ctx, self.invoker, model)
    }
}

/// A person over their open answers, as a command error.
fn busy(busy: reply::Busy) -> CommandError {
    CommandError::Invalid(busy.to_string())
}

/// The name of the person behind `interaction` as people see it.
pub fn invoker_name(interaction: &Interaction) -> String {
    let user = interaction
        .member
        .as_ref()
        .and_then(|m| m.user.as_ref())
        .or(interaction.user.as_ref());
    interaction
        .member
        .as_ref()
        .and_then(|m| m.nick.clone())
        .or_else(|| user.and_then(|u| u.global_name.clone()))
        .or_else(|| user.map(|u| u.name.clone()))
        .unwrap_or_else(|| "someone".to_owned())
}

/// The preference level a choice for `scope` by `invoker` applies to.
pub fn level(
    scope: Option<ScopeChoice>,
    invoker: &Invoker,
) -> Result<PreferenceLevel, CommandError> {
    match scope.unwrap_or(ScopeChoice::User) {
        ScopeChoice::User => Ok(PreferenceLevel::User(invoker.user.to_engine())),
        ScopeChoice::Channel => invoker
            .channel
            .map(|c| PreferenceLevel::Channel(c.to_engine()))
            .ok_or_else(|| CommandError::Invalid("there is no channel here".into())),
        ScopeChoice::Server => invoker
            .guild
            .map(|g| PreferenceLevel::Guild(g.to_engine()))
            .ok_or_else(|| CommandError::Invalid("this is not a server".into())),
    }
}

/// Words for who a choice applies to: "for you", "in this channel", ….
pub fn scope_words(scope: Option<ScopeChoice>) -> &'static str {
    match scope.unwrap_or(ScopeChoice::User) {
        ScopeChoice::User => "for you",
        ScopeChoice::Channel => "in this channel",
        ScopeChoice::Server => "in this server",
    }
}

/// Whether `invoker` may pick `model` themselves (see [`Call::may_pick`]); a refusal is
/// recorded.
pub fn may_pick(ctx: &Context, invoker: &Invoker, model: &str) -> Result<(), CommandError> {
    let resolved = ctx.config().policy().resolve(invoker);
    if resolved.may_pick(model) {
        return Ok(());
    }
    record_refusal(
        Some(ctx),
        invoker,
        &resolved,
        &Refused::Model(model.to_owned()),
    );
    match &resolved.grants.models {
        Allowed::Only(names) if !names.is_empty() => Err(CommandError::Invalid(format!(
            "`{model}` is not among the models you may pick: {}",
            names.join(", ")
        ))),
        _ => Err(CommandError::Invalid(
            "only the bot's admins pick models here".into(),
        )),
    }
}
