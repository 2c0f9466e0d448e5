//! Interactions: slash and context-menu commands (through the tower middleware), autocomplete,
//! button and menu presses, and modal submits.
//!
//! Owns answering every interaction within Discord's 3 s: commands that may take time are
//! deferred first and answered by editing the deferred response; commands that open a modal
//! (`/prompt` with arguments) and autocomplete answer at once; presses are acknowledged with a
//! deferred update and act on the turn they name ([`crate::reply::Registry`]).

use crate::pacer::Route;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};

use futures::future::BoxFuture;
use mcpcord_engine::{Approval, Place, Speaker, TurnAction, TurnRequest, UserMessage};
use mcpcord_mcp::{Catalogue, InputAnswer, InputMode, ToolDescriptor};
use mcpcord_memory::{ConversationKey, PreferenceLevel, Scope};
use tower::{Service, ServiceExt as _};
use twilight_model::application::interaction::application_command::CommandData;
use twilight_model::application::interaction::message_component::MessageComponentInteractionData;
use twilight_model::application::interaction::modal::{
    ModalInteractionComponent, ModalInteractionData,
};
use twilight_model::application::interaction::{Interaction, InteractionData, InteractionType};
use twilight_model::channel::ChannelType;
use twilight_model::channel::message::MessageFlags;
use twilight_model::http::interaction::{
    InteractionResponse, InteractionResponseData, InteractionResponseType,
};
use twilight_model::id::Id;
use twilight_model::id::marker::{ChannelMarker, UserMarker};

use crate::bot::Context;
use crate::commands::{
    self, BotCommand, ModelCommand, ScopeChoice, SystemCommand, ToolsCommand, help,
};
use crate::components::{self, CustomId, Decision, FormField, ModelChoice, shorten};
use crate::conversation;
use crate::forms;
use crate::gate::{Door, Refusal};
use crate::mentions::no_pings;
use crate::middleware::{
    CommandError, CommandRequest, CommandResponse, CommandResult, ErrorFormatLayer, Invoker,
    LoggingLayer, PermissionLayer,
};
use crate::reply::{self, TurnEntry};

/// The separator between a server and an item in autocomplete values (`git › summarize`).
pub const ITEM_SEPARATOR: &str = " › ";

/// What a command handler receives: the parsed command and its interaction.
pub type Body = (BotCommand, Box<Interaction>);

/// `/prompt` forms waiting to be submitted.
#[derive(Debug, Default)]
pub struct PendingPrompts {
    next: AtomicU64,
    forms: Mutex<HashMap<u64, PendingPrompt>>,
}

/// A `/prompt` run waiting for its arguments.
#[derive(Debug, Clone)]
pub struct PendingPrompt {
    /// The MCP server.
    pub server: String,
    /// The prompt.
    pub name: String,
    /// Who ran it.
    pub owner: Id<UserMarker>,
}

impl PendingPrompts {
    fn add(&self, prompt: PendingPrompt) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let mut forms = self.forms.lock().unwrap_or_else(|e| e.into_inner());
        if forms.len() > 1000 {
            forms.clear();
        }
        forms.insert(id, prompt);
        id
    }

    /// Takes the form `id` if `user` ran it; someone else's submit leaves it for its owner.
    fn take_for(&self, id: u64, user: Id<UserMarker>) -> FormClaim {
        let mut forms = self.forms.lock().unwrap_or_else(|e| e.into_inner());
        match forms.get(&id) {
            None => FormClaim::Gone,
            Some(prompt) if prompt.owner != user => FormClaim::NotYours,
            Some(_) => forms.remove(&id).map_or(FormClaim::Gone, FormClaim::Mine),
        }
    }
}

/// Who may submit a `/prompt` form.
enum FormClaim {
    /// The person who ran `/prompt`: here is the form.
    Mine(PendingPrompt),
    /// Someone else.
    NotYours,
    /// Submitted already, or forgotten.
    Gone,
}

/// Handles one interaction: through the [gate](crate::gate) first, then its handler.
pub async fn handle(ctx: Arc<Context>, interaction: Interaction) {
    if let Some(door) = door(interaction.kind) {
        let refused = match interaction.author_id() {
            Some(user) => ctx
                .gate
                .check(door, user.get(), interaction.guild_id.map(Id::get))
                .err(),
            None => Some(Refusal::Blocked),
        };
        if let Some(refusal) = refused {
            tracing::info!(
                user = interaction.author_id().map(Id::get),
                guild = interaction.guild_id.map(Id::get),
                door = door.as_str(),
                refused = refusal.kind(),
                "an interaction is refused at the gate"
            );
            let result = if door == Door::Autocomplete {
                let none = commands::autocomplete_response(Vec::new());
                respond(&ctx, &interaction, &none).await
            } else {
                private(&ctx, &interaction, &refusal.says()).await
            };
            if let Err(error) = result {
                tracing::warn!(%error, "cannot answer a refused interaction");
            }
            return;
        }
    }
    let result = match interaction.kind {
        InteractionType::ApplicationCommand => on_command(&ctx, interaction).await,
        InteractionType::ApplicationCommandAutocomplete => {
            on_autocomplete(&ctx, &interaction).await
        }
        InteractionType::MessageComponent => on_component(&ctx, &interaction).await,
        InteractionType::ModalSubmit => on_modal(&ctx, &interaction).await,
        _ => Ok(()),
    };
    if let Err(error) = result {
        tracing::warn!(%error, "cannot answer an interaction");
    }
}

/// The gate's door for an interaction of `kind`; `None` for those nobody sends (pings).
fn door(kind: InteractionType) -> Option<Door> {
    match kind {
        InteractionType::ApplicationCommand => Some(Door::Command),
        InteractionType::ApplicationCommandAutocomplete => Some(Door::Autocomplete),
        InteractionType::MessageComponent => Some(Door::Press),
        InteractionType::ModalSubmit => Some(Door::Form),
        _ => None,
    }
}

type Reply = Result<(), twilight_http::Error>;

async fn respond(
    ctx: &Context,
    interaction: &Interaction,
    response: &InteractionResponse,
) -> Reply {
    ctx.http
        .interaction(ctx.application_id)
        .create_response(interaction.id, &interaction.token, response)
        .await
        .map(|_| ())
}

fn message_response(content: &str, ephemeral: bool) -> InteractionResponse {
    InteractionResponse {
        kind: InteractionResponseType::ChannelMessageWithSource,
        data: Some(InteractionResponseData {
            content: Some(shorten(content, crate::split::MESSAGE_LIMIT)),
            flags: ephemeral.then_some(MessageFlags::EPHEMERAL),
            allowed_mentions: Some(no_pings()),
            ..InteractionResponseData::default()
        }),
    }
}

async fn private(ctx: &Context, interaction: &Interaction, content: &str) -> Reply {
    respond(ctx, interaction, &message_response(content, true)).await
}

async fn defer(ctx: &Context, interaction: &Interaction, ephemeral: bool) -> Reply {
    let response = InteractionResponse {
        kind: InteractionResponseType::DeferredChannelMessageWithSource,
        data: ephemeral.then(|| InteractionResponseData {
            flags: Some(MessageFlags::EPHEMERAL),
            ..InteractionResponseData::default()
        }),
    };
    respond(ctx, interaction, &response).await
}

async fn acknowledge(ctx: &Context, interaction: &Interaction) -> Reply {
    let response = InteractionResponse {
        kind: InteractionResponseType::DeferredUpdateMessage,
        data: None,
    };
    respond(ctx, interaction, &response).await
}

/// Replaces the deferred response of `interaction` with `response`.
async fn deliver(ctx: &Context, interaction: &Interaction, response: CommandResponse) -> Reply {
    let Some(full) = response.into_interaction_response() else {
        return Ok(());
    };
    let data = full.data.unwrap_or_default();
    let mentions = no_pings();
    let content = data
        .content
        .map(|c| shorten(&c, crate::split::MESSAGE_LIMIT));
    let client = ctx.http.interaction(ctx.application_id);
    let mut update = client
        .update_response(&interaction.token)
        .allowed_mentions(Some(&mentions));
    if let Some(content) = &content {
        update = update.content(Some(content));
    }
    if let Some(embeds) = &data.embeds {
        update = update.embeds(Some(embeds));
    }
    if let Some(components) = &data.components {
        update = update.components(Some(components));
    }
    update.await.map(|_| ())
}

/// The command handler at the core of the middleware stack.
#[derive(Clone)]
struct Handler {
    ctx: Arc<Context>,
}

impl Service<CommandRequest<Body>> for Handler {
    type Response = CommandResponse;
    type Error = CommandError;
    type Future = BoxFuture<'static, CommandResult>;

    fn poll_ready(&mut self, _: &mut TaskContext<'_>) -> Poll<Result<(), CommandError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: CommandRequest<Body>) -> Self::Future {
        let ctx = self.ctx.clone();
        Box::pin(async move { run_command(ctx, request).await })
    }
}

/// Whether a command answers at once (a modal, or pure computation) rather than deferring.
fn immediate(command: &BotCommand) -> bool {
    matches!(command, BotCommand::Help(_) | BotCommand::Prompt(_))
}

/// Whether a command's answer is for everyone to see.
fn public(command: &BotCommand) -> bool {
    matches!(
        command,
        BotCommand::Chat(_) | BotCommand::AskAboutMessage { .. } | BotCommand::Resource(_)
    )
}

async fn on_command(ctx: &Arc<Context>, interaction: Interaction) -> Reply {
    let Some(InteractionData::ApplicationCommand(data)) = interaction.data.clone() else {
        return Ok(());
    };
    let command = match BotCommand::parse(*data) {
        Ok(command) => command,
        Err(error) => {
            tracing::info!(%error, "a command does not match its declaration");
            return private(
                ctx,
                &interaction,
                "This command changed since Discord last loaded it; try again in a minute.",
            )
            .await;
        }
    };
    let Some(invoker) = Invoker::from_interaction(&interaction) else {
        return Ok(());
    };
    let now = immediate(&command);
    if !now {
        defer(ctx, &interaction, !public(&command)).await?;
    }
    let request = CommandRequest {
        command: command.path(),
        access: command.access(),
        invoker,
        body: (command, Box::new(interaction.clone())),
    };
    let stack = tower::ServiceBuilder::new()
        .layer(ErrorFormatLayer)
        .layer(LoggingLayer)
        .layer(PermissionLayer::new(ctx.config.admins.clone()))
        .service(Handler { ctx: ctx.clone() });
    let response = match stack.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    if now {
        match response.into_interaction_response() {
            Some(full) => respond(ctx, &interaction, &full).await,
            None => Ok(()),
        }
    } else {
        deliver(ctx, &interaction, response).await
    }
}

/// The name of the invoker as people see it.
fn invoker_name(interaction: &Interaction) -> String {
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

fn scope_of(interaction: &Interaction, invoker: &Invoker) -> Scope {
    Scope {
        guild_id: interaction.guild_id.map(Id::get),
        channel_id: invoker.channel.map(Id::get),
        user_id: Some(invoker.user.get()),
    }
}

fn level(scope: Option<ScopeChoice>, invoker: &Invoker) -> Result<PreferenceLevel, CommandError> {
    match scope.unwrap_or(ScopeChoice::User) {
        ScopeChoice::User => Ok(PreferenceLevel::User(invoker.user.get())),
        ScopeChoice::Channel => invoker
            .channel
            .map(|c| PreferenceLevel::Channel(c.get()))
            .ok_or_else(|| CommandError::Invalid("there is no channel here".into())),
        ScopeChoice::Server => invoker
            .guild
            .map(|g| PreferenceLevel::Guild(g.get()))
            .ok_or_else(|| CommandError::Invalid("this is not a server".into())),
    }
}

fn scope_words(scope: Option<ScopeChoice>) -> &'static str {
    match scope.unwrap_or(ScopeChoice::User) {
        ScopeChoice::User => "for you",
        ScopeChoice::Channel => "in this channel",
        ScopeChoice::Server => "in this server",
    }
}

/// The conversation a command run in `channel` continues (threads and DMs have one; elsewhere
/// the channel's rolling conversation).
fn here_key(interaction: &Interaction) -> Option<(ConversationKey, Id<ChannelMarker>)> {
    let channel = interaction.channel.as_ref()?;
    let key = if interaction.guild_id.is_none() {
        conversation::dm_key(channel.id.get())
    } else if channel.kind.is_thread() {
        conversation::thread_key(channel.id.get())
    } else {
        conversation::channel_key(channel.id.get())
    };
    Some((key, channel.id))
}

fn request_for(
    interaction: &Interaction,
    invoker: &Invoker,
    key: ConversationKey,
    action: TurnAction,
    model: Option<String>,
) -> TurnRequest {
    let name = invoker_name(interaction);
    TurnRequest {
        key,
        scope: scope_of(interaction, invoker),
        author: Speaker {
            id: Some(invoker.user.get()),
            name: name.clone(),
        },
        place: Place {
            user: name,
            server: None,
            channel: interaction.channel.as_ref().and_then(|c| c.name.clone()),
        },
        action,
        model,
    }
}

/// A person over their open answers, as a command error.
fn busy(busy: reply::Busy) -> CommandError {
    CommandError::Invalid(busy.to_string())
}

/// Refuses a command that would start an answer for a person who has as many in progress as
/// they may (before anything visible is done, such as opening a thread).
fn room_for(ctx: &Context, invoker: &Invoker) -> Result<(), CommandError> {
    reply::room_for(ctx, invoker.user).map_err(busy)
}

/// Whether `invoker` may pick `model` themselves: admins always; others when it is among
/// `allowed_models` (with none configured, only admins pick models).
fn may_pick(ctx: &Context, invoker: &Invoker, model: &str) -> Result<(), CommandError> {
    if ctx.config.admins.allows(invoker) {
        return Ok(());
    }
    match &ctx.config.allowed_models {
        Some(allowed) if allowed.contains(model) => Ok(()),
        Some(allowed) if !allowed.is_empty() => {
            let mut names: Vec<&str> = allowed.iter().map(String::as_str).collect();
            names.sort_unstable();
            Err(CommandError::Invalid(format!(
                "`{model}` is not among the models you may pick: {}",
                names.join(", ")
            )))
        }
        _ => Err(CommandError::Invalid(
            "only the bot's admins pick models here".into(),
        )),
    }
}

async fn run_command(ctx: Arc<Context>, request: CommandRequest<Body>) -> CommandResult {
    let (command, interaction) = request.body;
    let invoker = request.invoker;
    let store = ctx.engine.store();
    let internal = CommandError::internal;
    match command {
        BotCommand::Help(help) => Ok(CommandResponse::Embed {
            embed: Box::new(help::help(&commands::catalogue(), help.command.as_deref())),
            ephemeral: true,
        }),
        BotCommand::Model(ModelCommand::Set(set)) => {
            may_pick(&ctx, &invoker, &set.name)?;
            let names = ctx.engine.model_names().await;
            if !names.is_empty() && !names.contains(&set.name) {
                return Err(CommandError::Invalid(format!(
                    "there is no model called `{}`; `/models` lists them",
                    set.name
                )));
            }
            store
                .set_preferred_model(level(set.scope, &invoker)?, Some(&set.name))
                .await
                .map_err(internal)?;
            Ok(CommandResponse::private(format!(
                "✅ `{}` answers {} from now on.",
                set.name,
                scope_words(set.scope)
            )))
        }
        BotCommand::Model(ModelCommand::Show(_)) => {
            let key = here_key(&interaction).map(|(key, _)| key);
            let settings = ctx
                .engine
                .settings(&scope_of(&interaction, &invoker), key.as_ref())
                .await
                .map_err(CommandError::internal)?;
            let current = settings.model;
            let choices: Vec<ModelChoice> = ctx
                .engine
                .model_names()
                .await
                .into_iter()
                .map(|name| ModelChoice {
                    name,
                    description: None,
                })
                .collect();
            let (menu, left_out) =
                components::model_menu(&choices, Some(&current), components::Scope::User);
            let mut content = format!(
                "The model answering you here: `{current}` ({}).",
                settings.model_source.describe()
            );
            if left_out > 0 {
                content.push_str(&format!(" ({left_out} more: `/model set`.)"));
            }
            Ok(CommandResponse::Raw(Box::new(InteractionResponse {
                kind: InteractionResponseType::ChannelMessageWithSource,
                data: Some(InteractionResponseData {
                    content: Some(content),
                    components: (!choices.is_empty()).then(|| vec![menu]),
                    flags: Some(MessageFlags::EPHEMERAL),
                    allowed_mentions: Some(no_pings()),
                    ..InteractionResponseData::default()
                }),
            })))
        }
        BotCommand::Models(_) => {
            let mut lines = Vec::new();
            for backend in ctx.engine.pool().list_models().await {
                match backend.models {
                    Ok(models) => {
                        let names: Vec<String> =
                            models.iter().map(|m| format!("`{}`", m.name)).collect();
                        lines.push(format!("**{}**: {}", backend.backend, names.join(", ")));
                    }
                    Err(error) => lines.push(format!("**{}**: ⚠️ {error}", backend.backend)),
                }
            }
            if lines.is_empty() {
                lines.push("No model servers are configured.".into());
            }
            Ok(CommandResponse::private(lines.join("\n")))
        }
        BotCommand::System(SystemCommand::Set(set)) => {
            let Some(prompt) = set.prompt else {
                return Err(CommandError::Invalid(
                    "give the prompt: `/system set prompt:…`".into(),
                ));
            };
            store
                .set_system_prompt(level(set.scope, &invoker)?, &prompt)
                .await
                .map_err(internal)?;
            Ok(CommandResponse::private(format!(
                "✅ System prompt set {}.",
                scope_words(set.scope)
            )))
        }
        BotCommand::System(SystemCommand::Show(_)) => {
            let key = here_key(&interaction).map(|(key, _)| key);
            let settings = ctx
                .engine
                .settings(&scope_of(&interaction, &invoker), key.as_ref())
                .await
                .map_err(CommandError::internal)?;
            let (prompt, whose) = (settings.system_prompt, settings.prompt_source.describe());
            Ok(CommandResponse::private(format!(
                "The system prompt in effect ({whose}):\n>>> {prompt}"
            )))
        }
        BotCommand::System(SystemCommand::Clear(clear)) => {
            store
                .clear_system_prompt(level(clear.scope, &invoker)?)
                .await
                .map_err(internal)?;
            Ok(CommandResponse::private(format!(
                "✅ System prompt cleared {}.",
                scope_words(clear.scope)
            )))
        }
        BotCommand::Tools(ToolsCommand::List(list)) => {
            let Some(host) = ctx.engine.tools() else {
                return Ok(CommandResponse::private("No MCP servers are configured."));
            };
            let disabled = match invoker.channel {
                Some(channel) => store
                    .disabled_tools(channel.get())
                    .await
                    .map_err(internal)?,
                None => Vec::new(),
            };
            let mut tools: Vec<String> = host
                .tools()
                .into_iter()
                .filter(|t| list.server.as_ref().is_none_or(|s| *s == t.server))
                .map(|t| {
                    let off = if disabled.iter().any(|d| d.matches(&t.server, &t.tool)) {
                        " — 🚫 *off in this channel*"
                    } else {
                        ""
                    };
                    format!(
                        "`{}{ITEM_SEPARATOR}{}` — {}{off}",
                        t.server,
                        t.tool,
                        shorten(&t.description, 80)
                    )
                })
                .collect();
            tools.sort();
            if tools.is_empty() {
                tools.push("No tools.".into());
            }
            Ok(CommandResponse::private(tools.join("\n")))
        }
        BotCommand::Tools(ToolsCommand::Enable(toggle)) => {
            switch_tools(&ctx, &invoker, &toggle.tool, toggle.channel, true).await
        }
        BotCommand::Tools(ToolsCommand::Disable(toggle)) => {
            switch_tools(&ctx, &invoker, &toggle.tool, toggle.channel, false).await
        }
        BotCommand::Prompt(prompt) => {
            prompt_command(&ctx, &interaction, &invoker, &prompt.name).await
        }
        BotCommand::Resource(resource) => {
            resource_command(&ctx, &interaction, &invoker, &resource.uri).await
        }
        BotCommand::New(_) => {
            let Some((key, _)) = here_key(&interaction) else {
                return Err(CommandError::Invalid(
                    "there is no conversation here".into(),
                ));
            };
            store
                .new_conversation(
                    &key,
                    scope_of(&interaction, &invoker),
                    Some(invoker.user.get()),
                )
                .await
                .map_err(internal)?;
            Ok(CommandResponse::private(
                "🆕 Fresh start: the model forgets the conversation here. (Reply chains keep theirs.)",
            ))
        }
        BotCommand::Status(_) => Ok(CommandResponse::private(status_text(&ctx).await)),
        BotCommand::Chat(chat) => chat_command(&ctx, &interaction, &invoker, *chat).await,
        BotCommand::AskAboutMessage { message } => {
            let resolved = match &interaction.data {
                Some(InteractionData::ApplicationCommand(data)) => data
                    .resolved
                    .as_ref()
                    .and_then(|r| r.messages.get(&message).cloned()),
                _ => None,
            };
            let Some(target) = resolved else {
                return Err(CommandError::Invalid("I cannot see that message".into()));
            };
            let Some(channel) = invoker.channel else {
                return Err(CommandError::Invalid("there is no channel here".into()));
            };
            let text = format!(
                "About this message by {}:\n> {}",
                target.author.name,
                target.content.replace('\n', "\n> ")
            );
            let request = request_for(
                &interaction,
                &invoker,
                conversation::chain_key(interaction.id.get()),
                TurnAction::Message(UserMessage::text(text)),
                None,
            );
            if !ctx.accepting() {
                return Err(CommandError::Invalid("the bot is shutting down".into()));
            }
            reply::start(&ctx, request, invoker.user, channel, Some(target.id)).map_err(busy)?;
            Ok(CommandResponse::Message {
                content: format!("🔎 Looking at {}'s message…", target.author.name),
                ephemeral: false,
            })
        }
        BotCommand::Unknown(name) => Err(CommandError::Invalid(format!(
            "`/{name}` no longer exists; `/help` lists the commands"
        ))),
    }
}

async fn status_text(ctx: &Context) -> String {
    let mut lines = vec![format!("**Turns running:** {}", ctx.turns.running().len())];
    for health in ctx.engine.pool().list_models().await {
        let state = match health.models {
            Ok(models) => format!("✓ {} models", models.len()),
            Err(error) => format!("✗ {error}"),
        };
        lines.push(format!("**Backend {}:** {state}", health.backend));
    }
    if let Some(host) = ctx.engine.tools() {
        for server in host.status() {
            lines.push(format!(
                "**MCP {}:** {:?}, {} tools",
                server.name, server.state, server.tools
            ));
        }
    }
    lines.join("\n")
}

async fn chat_command(
    ctx: &Arc<Context>,
    interaction: &Interaction,
    invoker: &Invoker,
    chat: commands::ChatCommand,
) -> CommandResult {
    if !ctx.accepting() {
        return Err(CommandError::Invalid("the bot is shutting down".into()));
    }
    if let Some(model) = &chat.model {
        may_pick(ctx, invoker, model)?;
    }
    room_for(ctx, invoker)?;
    let Some(channel) = interaction.channel.as_ref() else {
        return Err(CommandError::Invalid("there is no channel here".into()));
    };
    let name = invoker_name(interaction);
    let mut message = UserMessage::text(chat.prompt.clone());
    if let Some(file) = &chat.file {
        crate::attachments::read_into(
            &ctx.downloads,
            std::slice::from_ref(file),
            ctx.config.max_attachment_bytes,
            &mut message,
        )
        .await;
    }
    let can_thread = interaction.guild_id.is_some()
        && matches!(
            channel.kind,
            ChannelType::GuildText | ChannelType::GuildAnnouncement
        );
    if can_thread {
        let title = shorten(chat.prompt.lines().next().unwrap_or("chat"), 90);
        let request = ctx
            .http
            .create_thread(channel.id, &title, ChannelType::PublicThread);
        let created = ctx
            .pacer
            .send(Route::create_thread(channel.id), request)
            .await;
        match created {
            Ok(response) => {
                let thread = response.model().await.map_err(CommandError::internal)?;
                ctx.bot_threads
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(thread.id.get());
                let mentions = no_pings();
                let opening = format!("**{name}** asked:\n>>> {}", chat.prompt);
                let opening = shorten(&opening, crate::split::MESSAGE_LIMIT);
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
                let mut request = request_for(
                    interaction,
                    invoker,
                    conversation::thread_key(thread.id.get()),
                    TurnAction::Message(message),
                    chat.model,
                );
                request.scope.channel_id = Some(thread.id.get());
                request.place.channel = thread.name.clone();
                reply::start(ctx, request, invoker.user, thread.id, first).map_err(busy)?;
                return Ok(CommandResponse::Message {
                    content: format!("🧵 <#{}>", thread.id),
                    ephemeral: false,
                });
            }
            Err(error) => {
                tracing::info!(%error, "cannot start a thread; answering inline");
            }
        }
    }
    let request = request_for(
        interaction,
        invoker,
        conversation::chain_key(interaction.id.get()),
        TurnAction::Message(message),
        chat.model,
    );
    reply::start(ctx, request, invoker.user, channel.id, None).map_err(busy)?;
    Ok(CommandResponse::Message {
        content: shorten(
            &format!("**{name}** asked:\n>>> {}", chat.prompt),
            crate::split::MESSAGE_LIMIT,
        ),
        ephemeral: false,
    })
}

/// The MCP host, or the error a person sees when no MCP servers are configured.
fn mcp_host(ctx: &Context) -> Result<&mcpcord_mcp::McpHost, CommandError> {
    ctx.engine
        .tools()
        .ok_or_else(|| CommandError::Invalid("no MCP servers are configured".into()))
}

/// Splits `server › item`; without a separator, the server is empty.
fn split_item(value: &str) -> (&str, &str) {
    value.split_once(ITEM_SEPARATOR).unwrap_or(("", value))
}

async fn prompt_command(
    ctx: &Arc<Context>,
    interaction: &Interaction,
    invoker: &Invoker,
    value: &str,
) -> CommandResult {
    let host = mcp_host(ctx)?;
    let (server, name) = split_item(value);
    let prompts = host.list_prompts().await.items;
    let Some(prompt) = prompts
        .into_iter()
        .find(|p| p.name == name && (server.is_empty() || p.server == server))
    else {
        return Err(CommandError::Invalid(format!(
            "there is no prompt called `{value}`"
        )));
    };
    if prompt.arguments.is_empty() {
        run_prompt(
            ctx,
            interaction,
            invoker,
            &prompt.server,
            &prompt.name,
            BTreeMap::new(),
        )
        .await
    } else {
        let fields: Vec<FormField> = prompt
            .arguments
            .iter()
            .take(components::MAX_MODAL_FIELDS)
            .map(|a| FormField {
                key: a.name.clone(),
                label: a.name.clone(),
                description: a.description.clone(),
                required: a.required,
                long: false,
                value: None,
            })
            .collect();
        let request = ctx.prompts.add(PendingPrompt {
            server: prompt.server.clone(),
            name: prompt.name.clone(),
            owner: invoker.user,
        });
        let title = prompt.title.clone().unwrap_or_else(|| prompt.name.clone());
        let modal = components::modal(CustomId::PromptForm { request }, &title, &fields)
            .map_err(CommandError::internal)?;
        Ok(CommandResponse::Raw(Box::new(modal)))
    }
}

async fn run_prompt(
    ctx: &Arc<Context>,
    interaction: &Interaction,
    invoker: &Invoker,
    server: &str,
    name: &str,
    arguments: BTreeMap<String, String>,
) -> CommandResult {
    let host = mcp_host(ctx)?;
    if !ctx.accepting() {
        return Err(CommandError::Invalid("the bot is shutting down".into()));
    }
    let content = host
        .get_prompt(server, name, arguments)
        .await
        .map_err(|e| CommandError::Invalid(format!("the prompt failed: {e}")))?;
    let text: Vec<String> = content.messages.into_iter().map(|m| m.text).collect();
    let text = text.join("\n\n");
    let Some((key, channel)) = here_key(interaction) else {
        return Err(CommandError::Invalid("there is no channel here".into()));
    };
    let key = if key.as_str().starts_with("discord:channel:") {
        conversation::chain_key(interaction.id.get())
    } else {
        key
    };
    let request = request_for(
        interaction,
        invoker,
        key,
        TurnAction::Message(UserMessage::text(text)),
        None,
    );
    reply::start(ctx, request, invoker.user, channel, None).map_err(busy)?;
    Ok(CommandResponse::Message {
        content: format!(
            "▶️ **{}** ran the prompt `{server}{ITEM_SEPARATOR}{name}`",
            invoker_name(interaction)
        ),
        ephemeral: false,
    })
}

async fn resource_command(
    ctx: &Arc<Context>,
    interaction: &Interaction,
    invoker: &Invoker,
    value: &str,
) -> CommandResult {
    let host = mcp_host(ctx)?;
    let (server, uri) = split_item(value);
    let server = if server.is_empty() {
        host.list_resources()
            .await
            .items
            .into_iter()
            .find(|r| r.uri == uri)
            .map(|r| r.server)
            .ok_or_else(|| CommandError::Invalid(format!("there is no resource `{uri}`")))?
    } else {
        server.to_owned()
    };
    let parts = host
        .read_resource(&server, uri)
        .await
        .map_err(|e| CommandError::Invalid(format!("cannot read the resource: {e}")))?;
    let mut message = UserMessage::text(format!("(attached the resource {uri})"));
    for part in parts {
        match part.text {
            Some(text) => message.documents.push((part.uri, text)),
            None => message
                .skipped
                .push((part.uri, "binary resources cannot be read".into())),
        }
    }
    let Some((key, channel)) = here_key(interaction) else {
        return Err(CommandError::Invalid("there is no channel here".into()));
    };
    let request = request_for(
        interaction,
        invoker,
        key,
        TurnAction::Message(message),
        None,
    );
    if !ctx.accepting() {
        return Err(CommandError::Invalid("the bot is shutting down".into()));
    }
    reply::start(ctx, request, invoker.user, channel, None).map_err(busy)?;
    Ok(CommandResponse::Message {
        content: format!("📎 attached `{uri}`"),
        ephemeral: false,
    })
}

async fn on_autocomplete(ctx: &Context, interaction: &Interaction) -> Reply {
    let Some(InteractionData::ApplicationCommand(data)) = &interaction.data else {
        return Ok(());
    };
    let candidates = autocomplete_candidates(ctx, data).await;
    let typed = commands::focused(data).map(|f| f.typed).unwrap_or_default();
    let response =
        commands::autocomplete_response(commands::autocomplete_choices(candidates, &typed));
    respond(ctx, interaction, &response).await
}

async fn autocomplete_candidates(ctx: &Context, data: &CommandData) -> Vec<String> {
    let Some(focused) = commands::focused(data) else {
        return Vec::new();
    };
    let host = ctx.engine.tools();
    match (focused.path.as_str(), focused.option.as_str()) {
        ("model set" | "model", "name") | ("chat", "model") => ctx.engine.model_names().await,
        ("help", "command") => help::topics(&commands::catalogue()),
        ("prompt", "name") => match host {
            Some(host) => host
                .list_prompts()
                .await
                .items
                .into_iter()
                .map(|p| format!("{}{ITEM_SEPARATOR}{}", p.server, p.name))
                .collect(),
            None => Vec::new(),
        },
        ("resource", "uri") => match host {
            Some(host) => host
                .list_resources()
                .await
                .items
                .into_iter()
                .map(|r| format!("{}{ITEM_SEPARATOR}{}", r.server, r.uri))
                .collect(),
            None => Vec::new(),
        },
        ("tools list", "server") => host.map(|h| h.server_names()).unwrap_or_default(),
        ("tools enable" | "tools disable", "tool") => host
            .map(|h| {
                h.tools()
                    .into_iter()
                    .map(|t| format!("{}{ITEM_SEPARATOR}{}", t.server, t.tool))
                    .chain(h.server_names())
                    .collect()
            })
            .unwrap_or_default(),
        (_, "tool") => host
            .map(|h| {
                h.tools()
                    .into_iter()
                    .map(|t| format!("{}{ITEM_SEPARATOR}{}", t.server, t.tool))
                    .collect()
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// `/tools enable` (`on`) and `/tools disable`: switches the tools `typed` names in `channel`
/// (default: where the command was run), for the engine to offer or withhold there.
async fn switch_tools(
    ctx: &Context,
    invoker: &Invoker,
    typed: &str,
    channel: Option<Id<ChannelMarker>>,
    on: bool,
) -> CommandResult {
    if let Some(named) = channel {
        // Only a channel of this server: an admin here is not an admin elsewhere.
        let guild = crate::gateway::channel_info(ctx, named).await.guild;
        if guild.is_none() || guild != invoker.guild.map(Id::get) {
            return Err(CommandError::Invalid(format!(
                "<#{named}> is not a channel of this server"
            )));
        }
    }
    let Some(channel) = channel.or(invoker.channel) else {
        return Err(CommandError::Invalid(
            "run this in a channel, or name one with `channel:`".into(),
        ));
    };
    let store = ctx.engine.store();
    let catalogue = ctx
        .engine
        .tools()
        .map(|h| h.catalogue())
        .unwrap_or_default();
    let already_off = store
        .disabled_tools(channel.get())
        .await
        .map_err(CommandError::internal)?;
    // (server, tool, as shown)
    let mut tools: Vec<(String, String, String)> = tools_named(&catalogue, typed)
        .into_iter()
        .filter_map(|(exposed, shown)| {
            let tool = catalogue.get(&exposed)?;
            Some((tool.server.clone(), tool.tool.clone(), shown))
        })
        .collect();
    let typed = typed.trim();
    if tools.is_empty() && on {
        // A tool switched off before its server went away can still be switched back on.
        tools.extend(already_off.iter().filter_map(|d| {
            let shown = format!("{}{ITEM_SEPARATOR}{}", d.server, d.tool);
            (d.tool == typed || shown == typed).then(|| (d.server.clone(), d.tool.clone(), shown))
        }));
    }
    if tools.is_empty() {
        return Err(CommandError::Invalid(format!(
            "there is no tool or MCP server called `{typed}`; `/tools list` shows them"
        )));
    }
    let mut changed = Vec::new();
    let mut unchanged = Vec::new();
    for (server, tool, shown) in tools {
        let switched = if on {
            store.enable_tool(channel.get(), &server, &tool).await
        } else {
            store
                .disable_tool(channel.get(), &server, &tool, Some(invoker.user.get()))
                .await
                .map(|()| !already_off.iter().any(|d| d.matches(&server, &tool)))
        }
        .map_err(CommandError::internal)?;
        if switched {
            changed.push(format!("`{shown}`"));
        } else {
            unchanged.push(format!("`{shown}`"));
        }
    }
    let place = format!("<#{channel}>");
    let mut lines = Vec::new();
    if !changed.is_empty() {
        lines.push(if on {
            format!("✅ Back on in {place}: {}.", changed.join(", "))
        } else {
            format!(
                "🚫 Off in {place}: {}. The model is no longer offered it there.",
                changed.join(", ")
            )
        });
    }
    if !unchanged.is_empty() {
        let state = if on { "on" } else { "off" };
        lines.push(format!(
            "Already {state} in {place}: {}.",
            unchanged.join(", ")
        ));
    }
    Ok(CommandResponse::private(lines.join("\n")))
}

/// The tools `typed` names, as (exposed name, `server › tool`): one tool as autocomplete
/// offers it (`server › tool`), by the name the model sees (`server__tool` when two servers
/// share a name), or by its own name when only one server has it; or every tool of a server.
fn tools_named(catalogue: &Catalogue, typed: &str) -> Vec<(String, String)> {
    let typed = typed.trim();
    let shown = |t: &ToolDescriptor| {
        (
            t.name.clone(),
            format!("{}{ITEM_SEPARATOR}{}", t.server, t.tool),
        )
    };
    if let Some((server, tool)) = typed.split_once(ITEM_SEPARATOR.trim()) {
        return catalogue
            .find(server.trim(), tool.trim())
            .map(shown)
            .into_iter()
            .collect();
    }
    if let Some(tool) = catalogue.get(typed) {
        return vec![shown(tool)];
    }
    let mut by_own_name = catalogue.tools().iter().filter(|t| t.tool == typed);
    if let (Some(tool), None) = (by_own_name.next(), by_own_name.next()) {
        return vec![shown(tool)];
    }
    catalogue.of_server(typed).map(shown).collect()
}

/// Whether the person pressing may use `entry`'s controls that belong to its asker: the asker,
/// and admins.
fn may_act(ctx: &Context, interaction: &Interaction, entry: &TurnEntry) -> bool {
    let Some(invoker) = Invoker::from_interaction(interaction) else {
        return false;
    };
    invoker.user == entry.owner || ctx.config.admins.allows(&invoker)
}

/// Why the person pressing may not use control `id` of `entry`, if they may not: the answer's
/// own controls (Stop, Regenerate, Continue, Reasoning) belong to its asker and the admins; its
/// questions (approvals, forms) to the person whose turn it is, alone.
fn not_yours(
    ctx: &Context,
    interaction: &Interaction,
    entry: &TurnEntry,
    id: &CustomId,
) -> Option<&'static str> {
    let (asker_or_admin, refusal) = match id {
        CustomId::Stop { .. } => (
            true,
            "Only the person who asked (or an admin) can stop this answer.",
        ),
        CustomId::Regenerate { .. } => (
            true,
            "Only the person who asked (or an admin) can regenerate this answer.",
        ),
        CustomId::Continue { .. } => (
            true,
            "Only the person who asked (or an admin) can continue this answer.",
        ),
        CustomId::Reasoning { .. } => (
            true,
            "Only the person who asked (or an admin) can see the reasoning.",
        ),
        CustomId::Approval { .. } => (false, "Only the person whose turn it is can decide."),
        CustomId::Elicit { .. } | CustomId::ElicitForm { .. } => {
            (false, "Only the person whose turn it is can answer.")
        }
        CustomId::ModelMenu { .. } | CustomId::PromptForm { .. } | CustomId::Unknown(_) => {
            return None;
        }
    };
    let allowed = if asker_or_admin {
        may_act(ctx, interaction, entry)
    } else {
        interaction.author_id() == Some(entry.owner)
    };
    (!allowed).then_some(refusal)
}

/// What a control from an earlier run of the bot (or one forgotten long ago) answers.
const EARLIER_RUN: &str = "This answer is from an earlier run of the bot (or too old); its \
    buttons do nothing now. Mention me to go on.";

/// What a control answers when the message it is on is not the answer of the turn it names.
const NOT_THIS_ANSWER: &str = "This button does not belong to this answer; it does nothing.";

/// The turn a control names, when the control really is on that turn's answer: the turn is
/// remembered (so from this run), the message pressed is one of its messages, and the channel
/// is its channel.
fn turn_of(
    ctx: &Context,
    interaction: &Interaction,
    turn: u64,
) -> Result<Arc<TurnEntry>, &'static str> {
    let entry = ctx.turns.get(turn).ok_or(EARLIER_RUN)?;
    let on_answer = interaction
        .message
        .as_ref()
        .is_some_and(|m| entry.lock().messages.contains(&m.id));
    let in_channel = interaction
        .channel
        .as_ref()
        .is_some_and(|c| c.id == entry.channel);
    if on_answer && in_channel {
        Ok(entry)
    } else {
        Err(NOT_THIS_ANSWER)
    }
}

async fn on_component(ctx: &Arc<Context>, interaction: &Interaction) -> Reply {
    let Some(InteractionData::MessageComponent(data)) = &interaction.data else {
        return Ok(());
    };
    let id = CustomId::parse(&data.custom_id);
    if let CustomId::ModelMenu { scope } = id {
        return model_menu(ctx, interaction, data, scope).await;
    }
    let Some(turn) = id.turn() else {
        return private(
            ctx,
            interaction,
            "This button is from an older version of the bot; it does nothing now.",
        )
        .await;
    };
    let entry = match turn_of(ctx, interaction, turn) {
        Ok(entry) => entry,
        Err(why) => return private(ctx, interaction, why).await,
    };
    if let Some(why) = not_yours(ctx, interaction, &entry, &id) {
        return private(ctx, interaction, why).await;
    }
    match id {
        CustomId::Stop { .. } => {
            acknowledge(ctx, interaction).await?;
            entry.stop.cancel();
            Ok(())
        }
        CustomId::Regenerate { .. } => again(ctx, interaction, &entry, Again::Regenerate).await,
        CustomId::Continue { .. } => again(ctx, interaction, &entry, Again::Continue).await,
        CustomId::Reasoning { .. } => reasoning(ctx, interaction, &entry).await,
        CustomId::Approval { call, decision, .. } => {
            decide(ctx, interaction, &entry, call, decision).await
        }
        CustomId::Elicit { call, turn } => open_form(ctx, interaction, &entry, turn, call).await,
        _ => Ok(()),
    }
}

/// The Reasoning button: the model's reasoning, privately (to the asker or an admin).
async fn reasoning(ctx: &Context, interaction: &Interaction, entry: &TurnEntry) -> Reply {
    let pieces = entry.lock().answer.reasoning_pieces();
    let mut pieces = pieces.into_iter();
    let first = pieces.next().unwrap_or_else(|| "*(no reasoning)*".into());
    respond(ctx, interaction, &message_response(&first, true)).await?;
    let mentions = no_pings();
    for piece in pieces {
        ctx.http
            .interaction(ctx.application_id)
            .create_followup(&interaction.token)
            .content(&piece)
            .flags(MessageFlags::EPHEMERAL)
            .allowed_mentions(Some(&mentions))
            .await?;
    }
    Ok(())
}

/// An approval button (pressed by the person whose turn it is).
async fn decide(
    ctx: &Context,
    interaction: &Interaction,
    entry: &TurnEntry,
    call: u32,
    decision: Decision,
) -> Reply {
    let sender = entry.lock().approvals.remove(&call);
    let Some(sender) = sender else {
        return private(ctx, interaction, "This was already decided (or timed out).").await;
    };
    acknowledge(ctx, interaction).await?;
    let approval = match decision {
        Decision::Approve => Approval::Approve,
        Decision::Always => Approval::AlwaysInConversation,
        Decision::Deny => Approval::Deny,
    };
    let _ = sender.send(approval);
    entry.lock().answer.approval_decided(call as usize);
    entry.changed.notify_one();
    Ok(())
}

/// A form button: opens the MCP server's form as a modal (for the person whose turn it is).
async fn open_form(
    ctx: &Context,
    interaction: &Interaction,
    entry: &TurnEntry,
    turn: u64,
    call: u32,
) -> Reply {
    let form = {
        let state = entry.lock();
        state.inputs.get(&call).map(|p| match &p.request.mode {
            InputMode::Form { schema } => Some((p.request.message.clone(), schema.clone())),
            _ => None,
        })
    };
    let Some(Some((message, schema))) = form else {
        return private(ctx, interaction, "This question was already answered.").await;
    };
    match forms::form_fields(&schema)
        .map_err(|e| e.to_string())
        .and_then(|fields| {
            components::modal(CustomId::ElicitForm { turn, call }, &message, &fields)
                .map_err(|e| e.to_string())
        }) {
        Ok(modal) => respond(ctx, interaction, &modal).await,
        Err(why) => {
            if let Some(pending) = entry.lock().inputs.remove(&call) {
                let _ = pending.reply.send(InputAnswer::Decline);
            }
            entry.lock().answer.question_answered(call as usize);
            entry.changed.notify_one();
            private(
                ctx,
                interaction,
                &format!("This form cannot be shown in Discord ({why}); it was declined."),
            )
            .await
        }
    }
}

async fn model_menu(
    ctx: &Context,
    interaction: &Interaction,
    data: &MessageComponentInteractionData,
    scope: components::Scope,
) -> Reply {
    let Some(invoker) = Invoker::from_interaction(interaction) else {
        return Ok(());
    };
    let Some(model) = data.values.first() else {
        return acknowledge(ctx, interaction).await;
    };
    let choice = match scope {
        components::Scope::User => ScopeChoice::User,
        components::Scope::Channel => ScopeChoice::Channel,
        components::Scope::Server => ScopeChoice::Server,
    };
    if choice != ScopeChoice::User && !ctx.config.admins.allows(&invoker) {
        return private(
            ctx,
            interaction,
            "🔒 Only the bot's admins choose for a channel or server.",
        )
        .await;
    }
    if let Err(error) = may_pick(ctx, &invoker, model) {
        return private(ctx, interaction, &format!("🔒 {error}")).await;
    }
    let level = match level(Some(choice), &invoker) {
        Ok(level) => level,
        Err(error) => return private(ctx, interaction, &error.to_string()).await,
    };
    if let Err(error) = ctx
        .engine
        .store()
        .set_preferred_model(level, Some(model))
        .await
    {
        tracing::error!(%error, "cannot store a model preference");
        return private(ctx, interaction, "💥 The choice could not be saved.").await;
    }
    let response = InteractionResponse {
        kind: InteractionResponseType::UpdateMessage,
        data: Some(InteractionResponseData {
            content: Some(format!(
                "✅ `{model}` answers {} from now on.",
                scope_words(Some(choice))
            )),
            components: Some(Vec::new()),
            allowed_mentions: Some(no_pings()),
            ..InteractionResponseData::default()
        }),
    };
    respond(ctx, interaction, &response).await
}

/// What a Regenerate or Continue press asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Again {
    Regenerate,
    Continue,
}

/// Regenerate or Continue: a new turn in the same conversation, on the answer the button is
/// under, by its asker (or an admin, who then decides on its tools).
async fn again(
    ctx: &Arc<Context>,
    interaction: &Interaction,
    entry: &Arc<TurnEntry>,
    what: Again,
) -> Reply {
    let verb = match what {
        Again::Regenerate => "regenerate",
        Again::Continue => "continue",
    };
    let (finished, last, stored) = {
        let state = entry.lock();
        (state.finished, state.messages.last().copied(), state.stored)
    };
    if !finished {
        return private(ctx, interaction, "Wait until the answer is finished.").await;
    }
    if !ctx.accepting() {
        return private(ctx, interaction, "The bot is shutting down.").await;
    }
    let Some(invoker) = Invoker::from_interaction(interaction) else {
        return Ok(());
    };
    if let Some(stored) = stored {
        match ctx.engine.latest_answer(&entry.origin.key).await {
            Ok(Some(latest)) if latest == stored => {}
            Ok(_) => {
                return private(
                    ctx,
                    interaction,
                    &format!(
                        "This answer is no longer the latest in its conversation; only the \
                         latest can be {verb}d."
                    ),
                )
                .await;
            }
            Err(error) => {
                let id = crate::middleware::error_id();
                tracing::error!(error_id = %id, %error, "cannot read the conversation");
                let error = CommandError::internal(error);
                let says = crate::middleware::friendly_message(&error, &id);
                return private(ctx, interaction, &says).await;
            }
        }
    }
    let action = match what {
        Again::Regenerate => TurnAction::Regenerate { answer: stored },
        Again::Continue => TurnAction::Continue { answer: stored },
    };
    let author = Speaker {
        id: Some(invoker.user.get()),
        name: invoker_name(interaction),
    };
    let request = entry.origin.request(author, action);
    if let Err(busy) = reply::start(ctx, request, invoker.user, entry.channel, last) {
        return private(ctx, interaction, &format!("⏳ {busy}.")).await;
    }
    acknowledge(ctx, interaction).await?;
    // The old answer's buttons go: the new answer carries them.
    if let Some(last) = last {
        let request = ctx
            .http
            .update_message(entry.channel, last)
            .components(Some(&[]));
        let _ = ctx
            .pacer
            .send(Route::update_message(entry.channel), request)
            .await;
    }
    Ok(())
}

/// The values typed into a modal, by field.
fn modal_values(data: &ModalInteractionData) -> Vec<(String, String)> {
    fn walk(component: &ModalInteractionComponent, out: &mut Vec<(String, String)>) {
        match component {
            ModalInteractionComponent::Label(label) => walk(&label.component, out),
            ModalInteractionComponent::ActionRow(row) => {
                for inner in &row.components {
                    walk(inner, out);
                }
            }
            ModalInteractionComponent::TextInput(input) => {
                out.push((input.custom_id.clone(), input.value.clone()));
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for component in &data.components {
        walk(component, &mut out);
    }
    out
}

async fn on_modal(ctx: &Arc<Context>, interaction: &Interaction) -> Reply {
    let Some(InteractionData::ModalSubmit(data)) = &interaction.data else {
        return Ok(());
    };
    let values = modal_values(data);
    let id = CustomId::parse(&data.custom_id);
    match id {
        CustomId::ElicitForm { turn, call } => {
            let entry = match turn_of(ctx, interaction, turn) {
                Ok(entry) => entry,
                Err(why) => return private(ctx, interaction, why).await,
            };
            if let Some(why) = not_yours(ctx, interaction, &entry, &id) {
                return private(ctx, interaction, why).await;
            }
            let pending = entry.lock().inputs.remove(&call);
            let Some(pending) = pending else {
                return private(ctx, interaction, "This question was already answered.").await;
            };
            let schema = match &pending.request.mode {
                InputMode::Form { schema } => schema.clone(),
                _ => serde_json::Value::Null,
            };
            match forms::form_values(&schema, &values) {
                Ok(value) => {
                    acknowledge(ctx, interaction).await?;
                    let _ = pending.reply.send(InputAnswer::Accept(Some(value)));
                    entry.lock().answer.question_answered(call as usize);
                    entry.changed.notify_one();
                    Ok(())
                }
                Err(why) => {
                    entry.lock().inputs.insert(call, pending);
                    private(
                        ctx,
                        interaction,
                        &format!("⚠️ {why} — press the button to try again."),
                    )
                    .await
                }
            }
        }
        CustomId::PromptForm { request } => {
            let Some(invoker) = Invoker::from_interaction(interaction) else {
                return Ok(());
            };
            let prompt = match ctx.prompts.take_for(request, invoker.user) {
                FormClaim::Mine(prompt) => prompt,
                FormClaim::NotYours => {
                    return private(ctx, interaction, "This form is someone else's.").await;
                }
                FormClaim::Gone => {
                    return private(ctx, interaction, "This form expired; run `/prompt` again.")
                        .await;
                }
            };
            defer(ctx, interaction, false).await?;
            let arguments: BTreeMap<String, String> =
                values.into_iter().filter(|(_, v)| !v.is_empty()).collect();
            let response = match run_prompt(
                ctx,
                interaction,
                &invoker,
                &prompt.server,
                &prompt.name,
                arguments,
            )
            .await
            {
                Ok(response) => response,
                Err(error) => CommandResponse::private(format!("⚠️ {error}")),
            };
            deliver(ctx, interaction, response).await
        }
        _ => {
            private(
                ctx,
                interaction,
                "This form is from an older version of the bot.",
            )
            .await
        }
    }
}
