//! Tower middleware every command runs through: error formatting, logging with timing and the
//! permission check.
//!
//! Owns the shape of a command handler — a `tower::Service<CommandRequest<B>>` answering
//! [`CommandResult`] — and the layers around it. [`service`] stacks them in their order:
//! errors become a friendly ephemeral message carrying an error id (outermost, so it sees every
//! failure), then each command is logged with its outcome and time, then commands the
//! invoker's bot roles do not allow are refused ([`crate::roles`]). Production and tests build this one stack with [`service`]. Rates are
//! not here: the [gate](crate::gate) holds each person to their quotas at every entry point,
//! before a command reaches this stack. The body `B` is whatever the handler needs (the twilight `Interaction` in the bot);
//! the layers only read the [`Invoker`] and the command's [`Access`].
//!
//! The adapter's configuration types live here, not in the `mcpcord` crate (which depends on
//! this one): [`AdminPolicy`] and [`UserRateLimit`].
//!
//! Why one long file: the command handler's shape and the layers around it are read together;
//! about 300 of its lines are the tests of the stack.

use std::collections::HashSet;
use std::convert::Infallible;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use governor::Quota;
use tower::Service;
use twilight_model::application::interaction::Interaction;
use twilight_model::channel::message::{Embed, MessageFlags};
use twilight_model::guild::Permissions;
use twilight_model::http::interaction::{
    InteractionResponse, InteractionResponseData, InteractionResponseType,
};
use twilight_model::id::Id;
use twilight_model::id::marker::{ChannelMarker, GuildMarker, RoleMarker, UserMarker};

use crate::mentions::no_pings;
use crate::roles::{Policy, Refused, record_refusal};

/// Who may run a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Anyone who can see it.
    Everyone,
    /// Admins, and bot roles that name the command (see [`crate::roles`]).
    Admins,
    /// Admins only: a choice for a whole channel or server.
    Wide,
}

/// The person running a command, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoker {
    /// Who.
    pub user: Id<UserMarker>,
    /// Their roles in the server (empty in DMs).
    pub roles: Vec<Id<RoleMarker>>,
    /// Their permissions in the channel, as Discord computed them (none in DMs).
    pub permissions: Option<Permissions>,
    /// The server, if not in DMs.
    pub guild: Option<Id<GuildMarker>>,
    /// The channel.
    pub channel: Option<Id<ChannelMarker>>,
}

impl Invoker {
    /// Reads the invoker out of an interaction; `None` if it names no user (never for commands).
    pub fn from_interaction(interaction: &Interaction) -> Option<Self> {
        let member = interaction.member.as_ref();
        Some(Self {
            user: interaction.author_id()?,
            roles: member.map(|m| m.roles.clone()).unwrap_or_default(),
            permissions: member.and_then(|m| m.permissions),
            guild: interaction.guild_id,
            channel: interaction.channel.as_ref().map(|c| c.id),
        })
    }

    /// The author of a message, with their roles (Discord sends no permissions with messages,
    /// so admins by server permission count only in interactions).
    pub fn from_message(message: &twilight_model::channel::Message) -> Self {
        Self {
            user: message.author.id,
            roles: message
                .member
                .as_ref()
                .map(|m| m.roles.clone())
                .unwrap_or_default(),
            permissions: None,
            guild: message.guild_id,
            channel: Some(message.channel_id),
        }
    }
}

/// One command to handle.
#[derive(Debug, Clone)]
pub struct CommandRequest<B> {
    /// The command as typed, subcommands included (`"tools enable"`), for logs and messages.
    pub command: String,
    /// Who may run it (for `/tools`, depends on the subcommand).
    pub access: Access,
    /// Who runs it, and where.
    pub invoker: Invoker,
    /// What the handler needs.
    pub body: B,
}

/// What a command answers.
#[derive(Debug, Clone, PartialEq)]
pub enum CommandResponse {
    /// A message; `ephemeral` ones only the invoker sees.
    Message {
        /// The text.
        content: String,
        /// Only the invoker sees it.
        ephemeral: bool,
    },
    /// An embed.
    Embed {
        /// The embed.
        embed: Box<Embed>,
        /// Only the invoker sees it.
        ephemeral: bool,
    },
    /// A complete interaction response the handler built (a modal, a select menu, …).
    Raw(Box<InteractionResponse>),
    /// The handler already answered (deferred, then followed up).
    Handled,
}

impl CommandResponse {
    /// A message only the invoker sees.
    pub fn private(content: impl Into<String>) -> Self {
        Self::Message {
            content: content.into(),
            ephemeral: true,
        }
    }

    /// Whether only the invoker sees it.
    pub fn is_private(&self) -> bool {
        matches!(
            self,
            Self::Message {
                ephemeral: true,
                ..
            } | Self::Embed {
                ephemeral: true,
                ..
            }
        )
    }

    /// The interaction response to send, if any; mentions never ping.
    pub fn into_interaction_response(self) -> Option<InteractionResponse> {
        let flags = |ephemeral: bool| ephemeral.then_some(MessageFlags::EPHEMERAL);
        let data = match self {
            Self::Message { content, ephemeral } => InteractionResponseData {
                content: Some(content),
                flags: flags(ephemeral),
                allowed_mentions: Some(no_pings()),
                ..InteractionResponseData::default()
            },
            Self::Embed { embed, ephemeral } => InteractionResponseData {
                embeds: Some(vec![*embed]),
                flags: flags(ephemeral),
                allowed_mentions: Some(no_pings()),
                ..InteractionResponseData::default()
            },
            Self::Raw(response) => return Some(*response),
            Self::Handled => return None,
        };
        Some(InteractionResponse {
            kind: InteractionResponseType::ChannelMessageWithSource,
            data: Some(data),
        })
    }
}

/// Why a command was not carried out.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// The invoker's bot roles do not allow the command.
    #[error("/{command} needs the bot role {}", needed.join(" or "))]
    Forbidden {
        /// The command.
        command: String,
        /// The bot roles that would allow it (`admin` first).
        needed: Vec<String>,
        /// The invoker's bot roles.
        yours: Vec<String>,
    },
    /// The input was wrong; the message says how (shown as is).
    #[error("{0}")]
    Invalid(String),
    /// Something failed on the bot's side (shown only as an error id).
    #[error(transparent)]
    Internal(Box<dyn std::error::Error + Send + Sync>),
}

impl CommandError {
    /// An internal failure from any error.
    pub fn internal(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Internal(error.into())
    }

    /// A short name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Forbidden { .. } => "forbidden",
            Self::Invalid(_) => "invalid",
            Self::Internal(_) => "internal",
        }
    }
}

impl From<mcpcord_engine::EngineError> for CommandError {
    /// What the engine refuses is the person's to fix (shown as is, with where to look); a
    /// failing database or model server is internal.
    fn from(error: mcpcord_engine::EngineError) -> Self {
        use mcpcord_engine::EngineError;
        match &error {
            EngineError::Storage(_) | EngineError::Model(_) => Self::internal(error),
            EngineError::NotFound { kind: "model", .. } => {
                Self::Invalid(format!("{error}; `/models` lists them"))
            }
            EngineError::NotFound {
                kind: "tool or MCP server",
                ..
            } => Self::Invalid(format!("{error}; `/tools list` shows them")),
            _ => Self::Invalid(error.to_string()),
        }
    }
}

/// What a command handler returns.
pub type CommandResult = Result<CommandResponse, CommandError>;

/// Who counts as an admin of the bot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdminPolicy {
    /// These users, anywhere.
    pub users: HashSet<Id<UserMarker>>,
    /// Members with any of these roles.
    pub roles: HashSet<Id<RoleMarker>>,
    /// Members who may manage the server (Administrator or Manage Server permission).
    pub server_managers: bool,
}

impl AdminPolicy {
    /// Whether `invoker` is an admin.
    pub fn allows(&self, invoker: &Invoker) -> bool {
        let manager = Permissions::ADMINISTRATOR | Permissions::MANAGE_GUILD;
        self.users.contains(&invoker.user)
            || invoker.roles.iter().any(|role| self.roles.contains(role))
            || (self.server_managers
                && invoker.guild.is_some()
                && invoker.permissions.is_some_and(|p| p.intersects(manager)))
    }
}

/// How many commands one user may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserRateLimit {
    /// Commands per minute, sustained.
    pub per_minute: NonZeroU32,
    /// Commands allowed at once before the rate applies.
    pub burst: NonZeroU32,
}

impl Default for UserRateLimit {
    fn default() -> Self {
        Self {
            per_minute: NonZeroU32::new(20).expect("non-zero"),
            burst: NonZeroU32::new(5).expect("non-zero"),
        }
    }
}

impl UserRateLimit {
    /// The governor quota.
    pub fn quota(self) -> Quota {
        Quota::per_minute(self.per_minute).allow_burst(self.burst)
    }
}

/// The whole stack: [`ErrorFormat`] ∘ [`Logging`] ∘ [`Permission`] around `handler`, the one
/// the bot runs every command through; `policy` says who may run what.
pub fn service<S, B>(handler: S, policy: impl Into<Policy>) -> ErrorFormat<Logging<Permission<S>>>
where
    S: Service<CommandRequest<B>, Response = CommandResponse, Error = CommandError>,
{
    service_reporting(handler, policy, OnForbidden::default())
}

/// [`service`], telling `on_forbidden` of each command the roles refuse (for the audit log).
pub fn service_reporting<S, B>(
    handler: S,
    policy: impl Into<Policy>,
    on_forbidden: OnForbidden,
) -> ErrorFormat<Logging<Permission<S>>>
where
    S: Service<CommandRequest<B>, Response = CommandResponse, Error = CommandError>,
{
    let policy = Arc::new(policy.into());
    tower::ServiceBuilder::new()
        .layer_fn(|inner| ErrorFormat { inner })
        .layer_fn(|inner| Logging { inner })
        .layer_fn(move |inner| Permission {
            inner,
            policy: policy.clone(),
            on_forbidden: on_forbidden.clone(),
        })
        .service(handler)
}

/// What [`OnForbidden`] calls: who was refused, and the command as typed.
type ForbiddenReport = dyn Fn(&Invoker, &str) + Send + Sync;

/// Told of each admin-only command refused: who, where, and the command (as typed).
#[derive(Clone, Default)]
pub struct OnForbidden(Option<Arc<ForbiddenReport>>);

impl OnForbidden {
    /// Calls `report` for each refusal.
    pub fn new(report: impl Fn(&Invoker, &str) + Send + Sync + 'static) -> Self {
        Self(Some(Arc::new(report)))
    }
}

impl std::fmt::Debug for OnForbidden {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "OnForbidden(set)"
        } else {
            "OnForbidden(none)"
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Error formatting

/// Answers a failed command with an ephemeral message: the reason when it is the person's to
/// fix (permissions, rate limit, input), otherwise an apology with an error id that is logged
/// with the full error, so an operator can find it.
#[derive(Debug, Clone)]
pub struct ErrorFormat<S> {
    inner: S,
}

/// A short id tying a message shown to a person to a log line.
pub fn error_id() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    id[..8].to_owned()
}

/// The message a person sees for `error`, given its id.
pub fn friendly_message(error: &CommandError, id: &str) -> String {
    match error {
        CommandError::Forbidden {
            command,
            needed,
            yours,
        } => {
            if needed.len() <= 1 {
                format!("🔒 `/{command}` is only for the bot's admins. (error `{id}`)")
            } else {
                format!(
                    "🔒 `/{command}` needs the bot role {}; yours: {}. (error `{id}`)",
                    needed.join(" or "),
                    yours.join(", ")
                )
            }
        }
        CommandError::Invalid(reason) => format!("⚠️ {reason} (error `{id}`)"),
        CommandError::Internal(_) => format!(
            "💥 Something went wrong on my side. If it keeps happening, give the bot's operator \
             this error id: `{id}`."
        ),
    }
}

impl<S, B> Service<CommandRequest<B>> for ErrorFormat<S>
where
    S: Service<CommandRequest<B>, Response = CommandResponse, Error = CommandError>,
    S::Future: Send + 'static,
{
    type Response = CommandResponse;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<CommandResponse, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // A handler that cannot take work is reported per request, in `call`.
        match self.inner.poll_ready(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(_) => Poll::Ready(Ok(())),
        }
    }

    fn call(&mut self, request: CommandRequest<B>) -> Self::Future {
        let command = request.command.clone();
        let user = request.invoker.user;
        let future = self.inner.call(request);
        Box::pin(async move {
            match future.await {
                Ok(response) => Ok(response),
                Err(error) => {
                    let id = error_id();
                    match &error {
                        CommandError::Internal(cause) => tracing::error!(
                            error_id = %id, command, user = user.get(), error = %cause,
                            "command failed"
                        ),
                        other => tracing::info!(
                            error_id = %id, command, user = user.get(), kind = other.kind(),
                            reason = %other, "command refused"
                        ),
                    }
                    Ok(CommandResponse::private(friendly_message(&error, &id)))
                }
            }
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Logging

/// Runs each command inside a `command` span (name, user, guild, channel) and logs one line
/// when it ends: `ok` or the error kind, and the elapsed milliseconds.
#[derive(Debug, Clone)]
pub struct Logging<S> {
    inner: S,
}

impl<S, B> Service<CommandRequest<B>> for Logging<S>
where
    S: Service<CommandRequest<B>, Response = CommandResponse, Error = CommandError>,
    S::Future: Send + 'static,
{
    type Response = CommandResponse;
    type Error = CommandError;
    type Future = BoxFuture<'static, CommandResult>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), CommandError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: CommandRequest<B>) -> Self::Future {
        let span = tracing::info_span!(
            "command",
            command = %request.command,
            user = request.invoker.user.get(),
            guild = request.invoker.guild.map(Id::get),
            channel = request.invoker.channel.map(Id::get),
        );
        let future = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        Box::pin(tracing::Instrument::instrument(
            async move {
                let started = tokio::time::Instant::now();
                let result = future.await;
                let elapsed_ms = started.elapsed().as_millis() as u64;
                match &result {
                    Ok(_) => tracing::info!(elapsed_ms, outcome = "ok", "command done"),
                    Err(error) => {
                        tracing::info!(elapsed_ms, outcome = error.kind(), "command done")
                    }
                }
                result
            },
            span,
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Permission

/// Passes a command only when the invoker's bot roles allow it
/// ([`crate::roles::Resolved::may_run`]); others get [`CommandError::Forbidden`], naming the
/// roles that would do, without the handler running.
#[derive(Debug, Clone)]
pub struct Permission<S> {
    inner: S,
    policy: Arc<Policy>,
    on_forbidden: OnForbidden,
}

impl From<AdminPolicy> for Policy {
    /// Admins as given; everyone else as they always were.
    fn from(admins: AdminPolicy) -> Self {
        Self {
            admins,
            ..Self::default()
        }
    }
}

impl<S, B> Service<CommandRequest<B>> for Permission<S>
where
    S: Service<CommandRequest<B>, Response = CommandResponse, Error = CommandError>,
    S::Future: Send + 'static,
{
    type Response = CommandResponse;
    type Error = CommandError;
    type Future = BoxFuture<'static, CommandResult>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), CommandError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: CommandRequest<B>) -> Self::Future {
        let resolved = self.policy.resolve(&request.invoker);
        if !resolved.may_run(&request.command, request.access) {
            if let Some(report) = &self.on_forbidden.0 {
                report(&request.invoker, &request.command);
            }
            let command = request.command;
            record_refusal(
                None,
                &request.invoker,
                &resolved,
                &Refused::Command(command.clone()),
            );
            let needed = self.policy.roles_allowing(&command, request.access);
            let yours = resolved.roles;
            return Box::pin(async move {
                Err(CommandError::Forbidden {
                    command,
                    needed,
                    yours,
                })
            });
        }
        Box::pin(self.inner.call(request))
    }
}

#[cfg(test)]
mod tests;
