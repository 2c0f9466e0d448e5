//! Slash and context-menu commands: read against their declarations, deferred unless they
//! answer at once, run through the one middleware stack ([`crate::middleware::service`]) to
//! their own `run` ([`BotCommand::run`]), and answered.

use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use futures::future::BoxFuture;
use tower::{Service, ServiceExt as _};
use twilight_model::application::interaction::{Interaction, InteractionData};

use super::{Reply, defer, deliver, private, respond};
use crate::bot::Context;
use crate::commands::{BotCommand, Call};
use crate::middleware::{
    self, CommandError, CommandRequest, CommandResponse, CommandResult, Invoker,
};

/// What a command handler receives: the parsed command and its interaction.
pub type Body = (BotCommand, Box<Interaction>);

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
        Box::pin(async move {
            let (command, interaction) = request.body;
            let call = Call {
                ctx: &ctx,
                interaction: &interaction,
                invoker: &request.invoker,
            };
            command.run(call).await
        })
    }
}

/// Handles a command interaction.
pub(super) async fn on_command(ctx: &Arc<Context>, interaction: Interaction) -> Reply {
    let command = match parse(&interaction) {
        Ok(Some(command)) => command,
        Ok(None) => return Ok(()),
        Err(why) => return private(ctx, &interaction, why).await,
    };
    let Some(invoker) = Invoker::from_interaction(&interaction) else {
        return Ok(());
    };
    let now = command.immediate();
    if !now {
        defer(ctx, &interaction, !command.public()).await?;
    }
    let request = CommandRequest {
        command: command.path(),
        access: command.access(),
        invoker,
        body: (command, Box::new(interaction.clone())),
    };
    let engine = ctx.engine.clone();
    let on_forbidden = middleware::OnForbidden::new(move |invoker, command| {
        engine.audit(crate::audit::admin_only(invoker, command));
    });
    let stack = middleware::service_reporting(
        Handler { ctx: ctx.clone() },
        ctx.config().admins.clone(),
        on_forbidden,
    );
    let response = match stack.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    answer(ctx, &interaction, response, now).await
}

/// The command `interaction` carries (`None` when it carries none), or what to tell a person
/// whose Discord has an older declaration of it.
fn parse(interaction: &Interaction) -> Result<Option<BotCommand>, &'static str> {
    let Some(InteractionData::ApplicationCommand(data)) = interaction.data.clone() else {
        return Ok(None);
    };
    BotCommand::parse(*data).map(Some).map_err(|error| {
        tracing::info!(%error, "a command does not match its declaration");
        "This command changed since Discord last loaded it; try again in a minute."
    })
}

/// Sends a command's `response`: at once, or as the edit of the deferred answer.
async fn answer(
    ctx: &Context,
    interaction: &Interaction,
    response: CommandResponse,
    now: bool,
) -> Reply {
    if !now {
        return deliver(ctx, interaction, response).await;
    }
    match response.into_interaction_response() {
        Some(full) => respond(ctx, interaction, &full).await,
        None => Ok(()),
    }
}
