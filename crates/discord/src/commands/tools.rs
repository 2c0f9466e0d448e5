//! `/tools`: the MCP tools the model may call, and where.

use twilight_interactions::command::{CommandModel, CreateCommand};
use twilight_model::id::Id;
use twilight_model::id::marker::ChannelMarker;

use super::{Category, CommandInfo, Who};
use mcpcord_engine::{ITEM_SEPARATOR, ToolSwitch};

use crate::commands::Call;
use crate::components::shorten;
use crate::ids::ToEngine;
use crate::middleware::{CommandError, CommandResponse, CommandResult};

/// `/tools list`, `/tools enable tool [channel]`, `/tools disable tool [channel]`.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(
    name = "tools",
    desc = "List the tools the model can use, or turn them on and off in a channel",
    contexts = "guild",
    integration_types = "guild_install"
)]
pub enum ToolsCommand {
    /// List them.
    #[command(name = "list")]
    List(ToolsList),
    /// Allow one in a channel.
    #[command(name = "enable")]
    Enable(ToolsToggle),
    /// Forbid one in a channel.
    #[command(name = "disable")]
    Disable(ToolsToggleOff),
}

/// `/tools list`.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(name = "list", desc = "List the tools and where they are enabled")]
pub struct ToolsList {
    /// Only the tools of this MCP server
    #[command(autocomplete = true, max_length = 100)]
    pub server: Option<String>,
}

/// `/tools enable`.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(name = "enable", desc = "Let the model use a tool in a channel")]
pub struct ToolsToggle {
    /// The tool (server › tool), or a server to enable all of its tools
    #[command(autocomplete = true, max_length = 100)]
    pub tool: String,
    /// The channel (default: this one)
    pub channel: Option<Id<ChannelMarker>>,
}

/// `/tools disable`.
#[derive(Debug, Clone, PartialEq, CommandModel, CreateCommand)]
#[command(name = "disable", desc = "Stop the model using a tool in a channel")]
pub struct ToolsToggleOff {
    /// The tool (server › tool), or a server to disable all of its tools
    #[command(autocomplete = true, max_length = 100)]
    pub tool: String,
    /// The channel (default: this one)
    pub channel: Option<Id<ChannelMarker>>,
}

/// How `/help` presents `/tools`.
pub fn info() -> CommandInfo {
    CommandInfo::new::<ToolsCommand>(
        Category::Tools,
        Who::Mixed("everyone; `enable` and `disable`: admins"),
        &[
            "/tools list",
            "/tools disable tool:filesystem › write_file",
            "/tools enable tool:weather channel:#travel",
        ],
    )
}

impl ToolsCommand {
    /// Runs `/tools list`, `/tools enable` or `/tools disable`.
    pub async fn run(self, call: Call<'_>) -> CommandResult {
        match self {
            Self::List(list) => list.run(call).await,
            Self::Enable(toggle) => switch(call, &toggle.tool, toggle.channel, true).await,
            Self::Disable(toggle) => switch(call, &toggle.tool, toggle.channel, false).await,
        }
    }
}

impl ToolsList {
    /// The tools (of one server, if named), each marked when off in this channel.
    async fn run(self, call: Call<'_>) -> CommandResult {
        let engine = &call.ctx.engine;
        if !engine.has_tools() {
            return Ok(CommandResponse::private("No MCP servers are configured."));
        }
        let channel = call.invoker.channel.map(ToEngine::to_engine);
        let tools = engine.tool_listing(channel, self.server.as_deref()).await?;
        let mut lines: Vec<String> = tools
            .iter()
            .map(|t| {
                let off = if t.off_here {
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
        if lines.is_empty() {
            lines.push("No tools.".into());
        }
        Ok(CommandResponse::private(lines.join("\n")))
    }
}

/// `/tools enable` (`on`) and `/tools disable`: switches the tools `typed` names in `channel`
/// (default: where the command was run), for the engine to offer or withhold there.
async fn switch(
    call: Call<'_>,
    typed: &str,
    channel: Option<Id<ChannelMarker>>,
    on: bool,
) -> CommandResult {
    let channel = channel_to_switch(call, channel).await?;
    let switch = call
        .ctx
        .engine
        .switch_tools(
            channel.to_engine(),
            typed,
            on,
            Some(call.invoker.user.to_engine()),
        )
        .await?;
    crate::audit::tools_switched(call.ctx, call.invoker, channel, on, &switch.changed);
    Ok(CommandResponse::private(switched(&switch, channel, on)))
}

/// The channel a switch applies to: the one named (only a channel of this server: an admin
/// here is not an admin elsewhere), or where the command was run.
async fn channel_to_switch(
    call: Call<'_>,
    named: Option<Id<ChannelMarker>>,
) -> Result<Id<ChannelMarker>, CommandError> {
    if let Some(named) = named {
        let guild = crate::gateway::channel_info(call.ctx, named).await.guild;
        if guild.is_none() || guild != call.invoker.guild.map(Id::get) {
            return Err(CommandError::Invalid(format!(
                "<#{named}> is not a channel of this server"
            )));
        }
    }
    named.or(call.invoker.channel).ok_or_else(|| {
        CommandError::Invalid("run this in a channel, or name one with `channel:`".into())
    })
}

/// What a switch says it did.
fn switched(switch: &ToolSwitch, channel: Id<ChannelMarker>, on: bool) -> String {
    let place = format!("<#{channel}>");
    let names = |names: &[String]| {
        names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut lines = Vec::new();
    if !switch.changed.is_empty() {
        let changed = names(&switch.changed);
        lines.push(if on {
            format!("✅ Back on in {place}: {changed}.")
        } else {
            format!("🚫 Off in {place}: {changed}. The model is no longer offered it there.")
        });
    }
    if !switch.unchanged.is_empty() {
        let state = if on { "on" } else { "off" };
        lines.push(format!(
            "Already {state} in {place}: {}.",
            names(&switch.unchanged)
        ));
    }
    lines.join("\n")
}
