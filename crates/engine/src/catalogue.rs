//! What a front end shows and offers of the MCP servers: tools (and switching them off per
//! channel), prompts and resources, named `server › item` as people pick them, and the model
//! backends with their models.

use std::collections::BTreeMap;

use mcpcord_llm::BackendModels;
use mcpcord_mcp::{
    Catalogue, McpHost, PromptDescriptor, ResourceDescriptor, ServerStatus, ToolDescriptor,
};
use mcpcord_memory::{ChannelId, DisabledTool, UserId};

use crate::engine::Engine;
use crate::error::EngineError;
use crate::request::UserMessage;

/// The separator between a server and an item in names people pick (`git › summarize`).
pub const ITEM_SEPARATOR: &str = " › ";

/// `server › item`.
fn item_name(server: &str, item: &str) -> String {
    format!("{server}{ITEM_SEPARATOR}{item}")
}

/// Splits `server › item`; without a separator, the server is empty.
pub fn split_item(value: &str) -> (&str, &str) {
    value.split_once(ITEM_SEPARATOR).unwrap_or(("", value))
}

/// One tool as a listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolListing {
    /// The MCP server.
    pub server: String,
    /// The tool's own name on that server.
    pub tool: String,
    /// What it does.
    pub description: String,
    /// Whether it is switched off where the listing was asked for.
    pub off_here: bool,
}

/// What switching tools on or off did, as `server › tool` names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolSwitch {
    /// Tools whose state changed.
    pub changed: Vec<String>,
    /// Tools that were in that state already.
    pub unchanged: Vec<String>,
}

impl Engine {
    /// The MCP host, or [`EngineError::NoTools`].
    fn host(&self) -> Result<&McpHost, EngineError> {
        self.tools().ok_or(EngineError::NoTools)
    }

    /// Whether MCP servers are configured (so there are tools, prompts and resources).
    pub fn has_tools(&self) -> bool {
        self.tools()
            .is_some_and(|host| !host.server_names().is_empty())
    }

    /// Every backend with its models (or why they cannot be listed).
    pub async fn backends(&self) -> Vec<BackendModels> {
        self.pool().list_models().await
    }

    /// Every MCP server's state (none without MCP servers).
    pub fn servers(&self) -> Vec<ServerStatus> {
        self.tools().map(McpHost::status).unwrap_or_default()
    }

    /// The MCP servers' names.
    pub fn server_names(&self) -> Vec<String> {
        self.tools().map(McpHost::server_names).unwrap_or_default()
    }

    /// Every tool as `server › tool`.
    pub fn tool_names(&self) -> Vec<String> {
        self.tools()
            .map(|h| {
                h.tools()
                    .iter()
                    .map(|t| item_name(&t.server, &t.tool))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every prompt as `server › prompt`.
    pub async fn prompt_names(&self) -> Vec<String> {
        self.prompts()
            .await
            .iter()
            .map(|p| item_name(&p.server, &p.name))
            .collect()
    }

    /// Every resource as `server › uri`.
    pub async fn resource_names(&self) -> Vec<String> {
        match self.tools() {
            Some(host) => host
                .list_resources()
                .await
                .items
                .iter()
                .map(|r| item_name(&r.server, &r.uri))
                .collect(),
            None => Vec::new(),
        }
    }

    /// The tools of `server` (all servers when `None`), sorted, each marked if switched off in
    /// `channel`.
    pub async fn tool_listing(
        &self,
        channel: Option<ChannelId>,
        server: Option<&str>,
    ) -> Result<Vec<ToolListing>, EngineError> {
        let host = self.host()?;
        let disabled = match channel {
            Some(channel) => self.store().disabled_tools(channel).await?,
            None => Vec::new(),
        };
        let mut tools: Vec<ToolListing> = host
            .tools()
            .into_iter()
            .filter(|t| server.is_none_or(|s| s == t.server))
            .map(|t| ToolListing {
                off_here: disabled.iter().any(|d| d.matches(&t.server, &t.tool)),
                server: t.server,
                tool: t.tool,
                description: t.description,
            })
            .collect();
        tools.sort_by(|a, b| (&a.server, &a.tool).cmp(&(&b.server, &b.tool)));
        Ok(tools)
    }

    /// Switches the tools `typed` names on or off in `channel` (see [`tools_named`]); `by` is
    /// who switched them off. A tool switched off before its server went away can still be
    /// switched back on by name.
    pub async fn switch_tools(
        &self,
        channel: ChannelId,
        typed: &str,
        on: bool,
        by: Option<UserId>,
    ) -> Result<ToolSwitch, EngineError> {
        let store = self.store();
        let already_off = store.disabled_tools(channel).await?;
        let tools = self.tools_to_switch(typed.trim(), on, &already_off)?;
        let mut switch = ToolSwitch::default();
        for (server, tool) in tools {
            let switched = if on {
                store.enable_tool(channel, &server, &tool).await?
            } else {
                store.disable_tool(channel, &server, &tool, by).await?;
                !already_off.iter().any(|d| d.matches(&server, &tool))
            };
            let list = if switched {
                &mut switch.changed
            } else {
                &mut switch.unchanged
            };
            list.push(item_name(&server, &tool));
        }
        Ok(switch)
    }

    /// The (server, tool) pairs `typed` names (see [`tools_named`]); switching on, also a tool
    /// switched off before its server went away.
    fn tools_to_switch(
        &self,
        typed: &str,
        on: bool,
        already_off: &[DisabledTool],
    ) -> Result<Vec<(String, String)>, EngineError> {
        let catalogue = self.tools().map(McpHost::catalogue).unwrap_or_default();
        let mut tools: Vec<(String, String)> = tools_named(&catalogue, typed)
            .into_iter()
            .map(|t| (t.server.clone(), t.tool.clone()))
            .collect();
        if tools.is_empty() && on {
            tools.extend(
                already_off
                    .iter()
                    .filter(|d| d.tool == typed || item_name(&d.server, &d.tool) == typed)
                    .map(|d| (d.server.clone(), d.tool.clone())),
            );
        }
        if tools.is_empty() {
            return Err(EngineError::NotFound {
                kind: "tool or MCP server",
                name: typed.to_owned(),
            });
        }
        Ok(tools)
    }

    /// Every prompt the servers offer (none without MCP servers).
    pub async fn prompts(&self) -> Vec<PromptDescriptor> {
        match self.tools() {
            Some(host) => host.list_prompts().await.items,
            None => Vec::new(),
        }
    }

    /// The prompt `typed` names: `server › prompt`, or a prompt's own name.
    pub async fn find_prompt(&self, typed: &str) -> Result<PromptDescriptor, EngineError> {
        self.host()?;
        let (server, name) = split_item(typed);
        self.prompts()
            .await
            .into_iter()
            .find(|p| p.name == name && (server.is_empty() || p.server == server))
            .ok_or_else(|| EngineError::NotFound {
                kind: "prompt",
                name: typed.to_owned(),
            })
    }

    /// The message prompt `name` of `server` makes with `arguments`, to start a turn with.
    pub async fn prompt_message(
        &self,
        server: &str,
        name: &str,
        arguments: BTreeMap<String, String>,
    ) -> Result<UserMessage, EngineError> {
        let content = self
            .host()?
            .get_prompt(server, name, arguments)
            .await
            .map_err(|source| EngineError::Tools {
                what: "the prompt",
                source,
            })?;
        let text: Vec<String> = content.messages.into_iter().map(|m| m.text).collect();
        Ok(UserMessage::text(text.join("\n\n")))
    }

    /// The message that attaches the resource `typed` names (`server › uri`, or a URI one
    /// server lists): its text parts as documents, binary parts named as unreadable.
    pub async fn resource_message(&self, typed: &str) -> Result<UserMessage, EngineError> {
        let host = self.host()?;
        let (server, uri) = split_item(typed);
        let server = if server.is_empty() {
            find_resource(host.list_resources().await.items, uri)?
        } else {
            server.to_owned()
        };
        let parts =
            host.read_resource(&server, uri)
                .await
                .map_err(|source| EngineError::Tools {
                    what: "reading the resource",
                    source,
                })?;
        let mut message = UserMessage::text(format!("(attached the resource {uri})"));
        for part in parts {
            match part.text {
                Some(text) => message.documents.push((part.uri, text)),
                None => message
                    .skipped
                    .push((part.uri, "binary resources cannot be read".into())),
            }
        }
        Ok(message)
    }
}

/// The server that lists resource `uri`.
fn find_resource(resources: Vec<ResourceDescriptor>, uri: &str) -> Result<String, EngineError> {
    resources
        .into_iter()
        .find(|r| r.uri == uri)
        .map(|r| r.server)
        .ok_or_else(|| EngineError::NotFound {
            kind: "resource",
            name: uri.to_owned(),
        })
}

/// The tools `typed` names: one tool as people pick it (`server › tool`), by the name the model
/// sees (`server__tool` when two servers share a name), or by its own name when only one server
/// has it; or every tool of a server.
pub fn tools_named<'a>(catalogue: &'a Catalogue, typed: &'a str) -> Vec<&'a ToolDescriptor> {
    let typed = typed.trim();
    if let Some((server, tool)) = typed.split_once(ITEM_SEPARATOR.trim()) {
        return catalogue
            .find(server.trim(), tool.trim())
            .into_iter()
            .collect();
    }
    if let Some(tool) = catalogue.get(typed) {
        return vec![tool];
    }
    let mut by_own_name = catalogue.tools().iter().filter(|t| t.tool == typed);
    if let (Some(tool), None) = (by_own_name.next(), by_own_name.next()) {
        return vec![tool];
    }
    catalogue.of_server(typed).collect()
}
