//! `/chat`: start a conversation with the model in a new thread.

use twilight_interactions::command::{CommandModel, CreateCommand};
use twilight_model::channel::Attachment;

use super::{Category, CommandInfo, Who};
use mcpcord_engine::{TurnAction, UserMessage};
use twilight_model::channel::{Channel, ChannelType};
use twilight_model::id::Id;
use twilight_model::id::marker::{ChannelMarker, MessageMarker};

use crate::commands::Call;
use crate::components::shorten;
use crate::conversation;
use crate::ids::ToEngine;
use crate::mentions::no_pings;
use crate::middleware::{CommandError, CommandResponse, CommandResult};
use crate::pacer::Route;
use crate::split::MESSAGE_LIMIT;

/// `/chat prompt [model] [file]`: the bot opens a thread (or answers inline where threads are
/// not allowed) and the thread continues the conversation.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(
    name = "chat",
    desc = "Start a conversation with the model (in a new thread where possible)",
    contexts = "guild bot_dm private_channel",
    integration_types = "guild_install"
)]
pub struct ChatCommand {
    /// What to say to the model
    #[command(min_length = 1, max_length = 4000)]
    pub prompt: String,
    /// The model to answer (default: yours, the channel's or the server's)
    #[command(autocomplete = true, max_length = 100)]
    pub model: Option<String>,
    /// An image or a text file to include
    pub file: Option<Attachment>,
}

/// How `/help` presents `/chat`.
pub fn info() -> CommandInfo {
    CommandInfo::new::<ChatCommand>(
        Category::Conversation,
        Who::Everyone,
        &[
            "/chat prompt:Explain Rust lifetimes with an example",
            "/chat prompt:What is in this picture? file:photo.png",
        ],
    )
}

impl ChatCommand {
    /// Runs `/chat`: in a server's text channel the conversation gets a thread of its own
    /// (the question posted first in it); elsewhere, or when no thread can be made, it is
    /// answered inline as a chain of its own.
    pub async fn run(self, call: Call<'_>) -> CommandResult {
        let Some(channel) = call.interaction.channel.as_ref() else {
            return Err(CommandError::Invalid("there is no channel here".into()));
        };
        let message = self.checked_message(call).await?;
        let asked = format!("**{}** asked:\n>>> {}", call.name(), self.prompt);
        if can_thread(call, channel.kind) {
            match open_thread(call, channel.id, &self.prompt, &asked).await {
                Ok((thread, first)) => {
                    let mut request = call.request(
                        conversation::thread_key(thread.id.get()),
                        TurnAction::Message(message),
                        self.model,
                    );
                    request.scope.channel_id = Some(thread.id.to_engine());
                    request.place.channel = thread.name.clone();
                    call.start(request, thread.id, first)?;
                    return Ok(CommandResponse::Message {
                        content: format!("🧵 <#{}>", thread.id),
                        ephemeral: false,
                    });
                }
                Err(error) => tracing::info!(%error, "cannot start a thread; answering inline"),
            }
        }
        let request = call.request(
            conversation::chain_key(call.interaction.id.get()),
            TurnAction::Message(message),
            self.model,
        );
        call.start(request, channel.id, None)?;
        Ok(CommandResponse::Message {
            content: shorten(&asked, MESSAGE_LIMIT),
            ephemeral: false,
        })
    }

    /// The prompt with the attached file read in, after the checks made before anything
    /// visible is done: the model may be picked by the invoker, who has room for one more
    /// answer, and the content policy lets the prompt through.
    async fn checked_message(&self, call: Call<'_>) -> Result<UserMessage, CommandError> {
        if let Some(model) = &self.model {
            call.may_pick(model)?;
        }
        call.room()?;
        let message = self.message(call).await;
        let request = call.request(
            conversation::chain_key(call.interaction.id.get()),
            TurnAction::Message(message.clone()),
            self.model.clone(),
        );
        call.screen(&request).await?;
        Ok(message)
    }

    /// The prompt, with the attached file read in.
    async fn message(&self, call: Call<'_>) -> UserMessage {
        let mut message = UserMessage::text(self.prompt.clone());
        if let Some(file) = &self.file {
            crate::attachments::read_into(
                &call.ctx.downloads,
                std::slice::from_ref(file),
                call.ctx.config().max_attachment_bytes,
                &mut message,
            )
            .await;
        }
        message
    }
}

/// Whether `/chat` here opens a thread: in a server's text or announcement channel.
fn can_thread(call: Call<'_>, kind: ChannelType) -> bool {
    call.interaction.guild_id.is_some()
        && matches!(
            kind,
            ChannelType::GuildText | ChannelType::GuildAnnouncement
        )
}

/// Opens a thread named after the prompt under `parent` and posts the question in it (the
/// answer replies to that post, when it could be made).
async fn open_thread(
    call: Call<'_>,
    parent: Id<ChannelMarker>,
    prompt: &str,
    asked: &str,
) -> Result<(Channel, Option<Id<MessageMarker>>), Box<dyn std::error::Error + Send + Sync>> {
    let ctx = call.ctx;
    let title = shorten(prompt.lines().next().unwrap_or("chat"), 90);
    let request = ctx
        .http
        .create_thread(parent, &title, ChannelType::PublicThread);
    let thread = ctx
        .pacer
        .send(Route::create_thread(parent), request)
        .await?
        .model()
        .await?;
    ctx.bot_threads
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(thread.id.get());
    let mentions = no_pings();
    let opening = shorten(asked, MESSAGE_LIMIT);
    let request = ctx
        .http
        .create_message(thread.id)
        .content(&opening)
        .allowed_mentions(Some(&mentions));
    let first = ctx
        .pacer
        .send(Route::create_message(thread.id), request)
        .await;
    let first = match first {
        Ok(response) => response.model().await.ok().map(|m| m.id),
        Err(error) => {
            tracing::warn!(%error, "cannot post the question in the new thread");
            None
        }
    };
    Ok((thread, first))
}
