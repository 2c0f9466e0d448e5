//! `/continue conversation:` (autocomplete by title) and the Continue buttons of
//! `/conversations`: a person picks up one of their own conversations where it lived.
//!
//! A live conversation is simply pointed at. One put aside (`/new`, or another continued in
//! its place) is reopened through the engine ([`Engine::reopen`](mcpcord_engine::Engine::reopen),
//! which lets a person reopen only what their own search from here may find): in a DM or a
//! thread it becomes that place's live conversation again (the one live there now is put
//! aside, as `/new` does); one that lived in a channel (a reply chain, or a channel where the
//! bot answers everything) goes on in a new thread of that channel, so nobody else's
//! conversation there is disturbed; when no thread can be opened, under its own key again.

use std::sync::Arc;

use mcpcord_engine::{ConversationId, ConversationKey, ListedConversation};
use twilight_interactions::command::{CommandModel, CreateCommand};
use twilight_model::application::command::{CommandOptionChoice, CommandOptionChoiceValue};
use twilight_model::application::interaction::Interaction;
use twilight_model::channel::ChannelType;
use twilight_model::id::Id;
use twilight_model::id::marker::ChannelMarker;

use super::{Category, CommandInfo, MAX_AUTOCOMPLETE_CHOICES, MAX_CHOICE_TEXT, Who};
use crate::bot::Context;
use crate::commands::{Call, invoker_name};
use crate::components::shorten;
use crate::conversation;
use crate::ids::{ToEngine, ToTwilight};
use crate::mentions::no_pings;
use crate::middleware::{CommandError, CommandResponse, CommandResult};
use crate::pacer::Route;
use crate::render::escape;

/// `/continue conversation:`.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(
    name = "continue",
    desc = "Pick up one of your earlier conversations where it was",
    contexts = "guild bot_dm private_channel",
    integration_types = "guild_install"
)]
pub struct ContinueCommand {
    /// Its title (pick from the list as you type)
    #[command(autocomplete = true, min_length = 1, max_length = 100)]
    pub conversation: String,
}

/// How `/help` presents `/continue`.
pub fn info() -> CommandInfo {
    CommandInfo::new::<ContinueCommand>(
        Category::Conversation,
        Who::Everyone,
        &["/continue conversation:Trip to Lisbon"],
    )
}

/// How many of a person's conversations autocomplete offers.
const CHOICES: usize = MAX_AUTOCOMPLETE_CHOICES;

impl ContinueCommand {
    /// Runs `/continue`: the chosen conversation (an autocomplete choice carries its id; typed
    /// words pick the newest whose title holds them) is picked up.
    pub async fn run(self, call: Call<'_>) -> CommandResult {
        let Ok(id) = self.conversation.trim().parse::<i64>() else {
            let id = self.by_title(call).await?;
            return Ok(CommandResponse::private(
                pick_up(call.ctx, call.interaction, id).await?,
            ));
        };
        // An id from a choice; else a title made of digits ("2026").
        let says = match pick_up(call.ctx, call.interaction, ConversationId(id)).await {
            Ok(says) => says,
            Err(refused) => match self.by_title(call).await {
                Ok(titled) => pick_up(call.ctx, call.interaction, titled).await?,
                Err(_) => return Err(refused),
            },
        };
        Ok(CommandResponse::private(says))
    }

    /// The newest of the invoker's conversations here whose title holds what they typed.
    async fn by_title(&self, call: Call<'_>) -> Result<ConversationId, CommandError> {
        let place = call.scope();
        let found = call
            .ctx
            .engine
            .recent_conversations(
                call.invoker.user.to_engine(),
                place.guild_id,
                None,
                Some(&self.conversation),
                1,
            )
            .await?;
        found.first().map(|c| c.id).ok_or_else(|| {
            CommandError::Invalid(format!(
                "none of your conversations here is called `{}`; `/conversations` lists them",
                shorten(self.conversation.trim(), 60)
            ))
        })
    }
}

/// Autocomplete for `/continue conversation:`: the person's conversations from where they are
/// whose title holds what they typed, newest first; each choice shows the title and carries
/// the conversation's id.
pub async fn choices(
    ctx: &Context,
    interaction: &Interaction,
    typed: &str,
) -> Vec<CommandOptionChoice> {
    let Some(user) = interaction.author_id() else {
        return Vec::new();
    };
    let guild = interaction.guild_id.map(ToEngine::to_engine);
    let listed = ctx
        .engine
        .recent_conversations(user.to_engine(), guild, None, Some(typed), CHOICES)
        .await;
    match listed {
        Ok(listed) => listed.iter().map(choice).collect(),
        Err(error) => {
            tracing::info!(%error, "cannot list conversations for autocomplete");
            Vec::new()
        }
    }
}

/// One autocomplete choice: the conversation's label (one line, shortened), its id as value.
fn choice(listed: &ListedConversation) -> CommandOptionChoice {
    let label = listed
        .label()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let marker = if listed.archived { "" } else { " (live)" };
    let name = shorten(&label, MAX_CHOICE_TEXT - marker.len()) + marker;
    CommandOptionChoice {
        name,
        name_localizations: None,
        value: CommandOptionChoiceValue::String(listed.id.0.to_string()),
    }
}

/// Where a conversation lived, as its key says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lived {
    /// A DM or a thread: reopened there.
    Own,
    /// A reply chain or a channel's rolling conversation: goes on in a new thread.
    Channel,
    /// Another front end's key: reopened under it.
    Elsewhere,
}

impl Lived {
    fn of(key: &ConversationKey) -> Self {
        let key = key.as_str();
        if key.starts_with("discord:dm:") || key.starts_with("discord:thread:") {
            Self::Own
        } else if key.starts_with("discord:reply:") || key.starts_with("discord:channel:") {
            Self::Channel
        } else {
            Self::Elsewhere
        }
    }
}

/// Picks up conversation `id` for the author of `interaction`; what they are told.
pub async fn pick_up(
    ctx: &Arc<Context>,
    interaction: &Interaction,
    id: ConversationId,
) -> Result<String, CommandError> {
    let Some(user) = interaction.author_id() else {
        return Err(CommandError::Invalid("there is no person here".into()));
    };
    let (person, guild) = (
        user.to_engine(),
        interaction.guild_id.map(ToEngine::to_engine),
    );
    // Allowed first: nothing is posted for a conversation the person may not pick up.
    let listed = ctx.engine.own_conversation(id, person, guild).await?;
    let label = escape(&shorten(listed.label(), 80));
    if !listed.archived {
        return Ok(format!(
            "↪️ **{label}** is still going on: {}.",
            where_it_is(&listed)
        ));
    }
    let thread = thread_for(ctx, interaction, &listed).await;
    let key = thread.map_or_else(|| listed.key.clone(), |t| conversation::thread_key(t.get()));
    ctx.engine.reopen(id, &key, person, guild).await?;
    Ok(match thread {
        Some(thread) => {
            format!("↪️ Reopened **{label}** in a new thread: <#{thread}>. Write there to go on.")
        }
        None => format!(
            "↪️ Reopened **{label}**: go on {}. (What was going on there is put aside; \
             `/conversations` still lists it.)",
            where_it_is(&listed)
        ),
    })
}

/// For a conversation that lived in a channel, a new thread of that channel to go on in;
/// `None` elsewhere, or when no thread can be opened (logged).
async fn thread_for(
    ctx: &Context,
    interaction: &Interaction,
    listed: &ListedConversation,
) -> Option<Id<ChannelMarker>> {
    let (Lived::Channel, Some(channel)) = (Lived::of(&listed.key), listed.channel_id) else {
        return None;
    };
    let name = invoker_name(interaction);
    let parent = channel.to_twilight()?;
    match open_thread(ctx, parent, listed.label(), &name).await {
        Ok(thread) => Some(thread),
        Err(error) => {
            tracing::info!(%error, "cannot open a thread to continue a conversation in");
            None
        }
    }
}

/// Where a conversation is, for a person: a link to its latest answer, else its channel.
fn where_it_is(listed: &ListedConversation) -> String {
    let guild = listed
        .guild_id
        .map_or_else(|| "@me".to_owned(), |g| g.get().to_string());
    match (listed.channel_id, listed.last_post, Lived::of(&listed.key)) {
        (Some(_), _, _) if listed.guild_id.is_none() => "in our DM".to_owned(),
        (Some(channel), Some(post), _) => format!(
            "[here](https://discord.com/channels/{guild}/{}/{})",
            channel.get(),
            post.get()
        ),
        (Some(channel), None, Lived::Channel) => {
            format!("by replying to my answers in <#{}>", channel.get())
        }
        (Some(channel), None, _) => format!("in <#{}>", channel.get()),
        (None, _, _) => "where it was".to_owned(),
    }
}

/// Opens a thread named after the conversation under `parent`, says in it who picks up what,
/// and lets the bot answer everything in it; the thread's id.
async fn open_thread(
    ctx: &Context,
    parent: Id<ChannelMarker>,
    label: &str,
    name: &str,
) -> Result<Id<ChannelMarker>, Box<dyn std::error::Error + Send + Sync>> {
    let title = shorten(label.lines().next().unwrap_or("conversation"), 90);
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
    let opening = format!(
        "↪️ **{}** picks up an earlier conversation: *{}*. Write here to go on.",
        escape(name),
        escape(&shorten(label, 200))
    );
    let request = ctx
        .http
        .create_message(thread.id)
        .content(&opening)
        .allowed_mentions(Some(&mentions));
    if let Err(error) = ctx
        .pacer
        .send(Route::create_message(thread.id), request)
        .await
    {
        tracing::warn!(%error, "cannot post the opening of a continued conversation's thread");
    }
    Ok(thread.id)
}
