//! `/tools`: the MCP tools the model may call, and where.

use twilight_interactions::command::{CommandModel, CreateCommand};
use twilight_model::id::Id;
use twilight_model::id::marker::ChannelMarker;

use super::{Category, CommandInfo, Who};

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
