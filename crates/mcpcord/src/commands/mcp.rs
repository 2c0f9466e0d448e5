//! `mcpcord mcp …`: start the configured MCP servers (only the one named, when a command names
//! one), wait for them, then list servers, tools, prompts or resources, or call one tool.

use std::time::Duration;

use anyhow::anyhow;
use mcpcord_mcp::{Approval, CallOptions, Callbacks, McpHost, ServerState, ServerStatus};

use super::Failure;
use super::models::table;
use super::status::server_table;
use crate::admin::view::ServerView;
use crate::cli::{McpCommand, ServersArgs};
use crate::config::{Config, McpProtocolVersion, McpServerConfig};
use crate::wiring::{mcp_host_options, mcp_server_spec};

/// Runs one `mcp` subcommand.
pub async fn run(config: &Config, command: McpCommand) -> Result<(), Failure> {
    match command {
        McpCommand::Servers(args) => servers(config, args).await,
        McpCommand::Tools { server } => tools(config, server.as_deref()).await,
        McpCommand::Call { server, tool, json } => call(config, &server, &tool, &json).await,
        McpCommand::Prompts => prompts(config).await,
        McpCommand::Resources => resources(config).await,
        McpCommand::Login(args) => super::login::login(config, args).await,
        McpCommand::Logout { server, revoke } => {
            super::login::logout(config, &server, revoke).await
        }
        McpCommand::ClientMetadata { server, port } => {
            super::login::client_metadata(config, &server, port)
        }
    }
}

/// Starts `servers` and waits for each to be ready or to fail its first start.
async fn start(config: &Config, servers: &[&McpServerConfig]) -> McpHost {
    // The operator typed the command: calls of `ask` tools are approved by typing it.
    let callbacks = Callbacks::default().with_approver(|_| async { Approval::Approved });
    let callbacks = crate::wiring::with_vault(callbacks, stored_logins(config, servers).await);
    let host = McpHost::start(
        servers.iter().map(|s| mcp_server_spec(s)).collect(),
        mcp_host_options(config),
        callbacks,
    );
    let wait = servers
        .iter()
        .map(|s| s.start_timeout)
        .max()
        .unwrap_or_default()
        + Duration::from_secs(1);
    host.wait_ready(wait).await;
    host
}

/// The stored OAuth logins, when one of `servers` has `auth = "oauth"`, a key is set and the
/// database opens (else the host reports the server as needing a login).
async fn stored_logins(
    config: &Config,
    servers: &[&McpServerConfig],
) -> Option<crate::vault::DbVault> {
    let key = config.mcp.secret_key.as_deref()?;
    servers.iter().find(|server| server.oauth().is_some())?;
    let store = mcpcord_memory::Store::connect(config.storage.url.expose().as_str())
        .await
        .map_err(|error| tracing::warn!(%error, "cannot open the database: no stored logins"))
        .ok()?;
    Some(crate::vault::DbVault::new(store, key.clone()))
}

fn enabled(config: &Config) -> Vec<&McpServerConfig> {
    config.mcp.servers.iter().filter(|s| !s.disabled).collect()
}

/// The one enabled server called `name`, or a usage error saying why not.
fn named<'a>(config: &'a Config, name: &str) -> Result<&'a McpServerConfig, Failure> {
    match config.mcp.servers.iter().find(|s| s.name == name) {
        Some(server) if server.disabled => Err(Failure::Usage(format!(
            "the MCP server `{name}` is disabled (mcp.servers.{name}.disabled)"
        ))),
        Some(server) => Ok(server),
        None => {
            let known: Vec<&str> = config.mcp.servers.iter().map(|s| s.name.as_str()).collect();
            Err(Failure::Usage(format!(
                "there is no MCP server `{name}` in the configuration; configured: {}",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            )))
        }
    }
}

/// Reports servers that did not start on stderr; an error when any did not.
fn not_ready(statuses: &[ServerStatus]) -> Result<(), Failure> {
    let failed: Vec<&ServerStatus> = statuses
        .iter()
        .filter(|s| s.state != ServerState::Ready)
        .collect();
    for status in &failed {
        eprintln!(
            "mcpcord: MCP server {} is {}: {}",
            status.name,
            status.state,
            status.last_error().unwrap_or("no error recorded")
        );
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::Runtime(anyhow!(
            "{} MCP server(s) not ready",
            failed.len()
        )))
    }
}

/// What `mcp servers` adds to a failure to reach the running bot.
const STANDALONE_HINT: &str =
    "`mcpcord mcp servers --standalone` starts copies of the servers here instead";

async fn servers(config: &Config, args: ServersArgs) -> Result<(), Failure> {
    if config.mcp.servers.is_empty() {
        println!("no MCP servers configured (see `mcpcord config example`, [mcp.servers.NAME])");
        return Ok(());
    }
    if !args.standalone {
        let status = super::status::fetch_status(config, args.url.as_deref())
            .await
            .map_err(|failure| match failure {
                Failure::Usage(text) => Failure::Usage(format!("{text}; {STANDALONE_HINT}")),
                Failure::Runtime(error) => Failure::Runtime(error.context(STANDALONE_HINT)),
                other => other,
            })?;
        print!("{}", servers_table(config, &status.mcp_servers));
        return not_ready_views(&status.mcp_servers);
    }
    let host = start(config, &enabled(config)).await;
    let statuses = host.status();
    let views: Vec<ServerView> = statuses.iter().map(ServerView::from).collect();
    print!("{}", servers_table(config, &views));
    host.shutdown().await;
    not_ready(&statuses)
}

/// Every configured server in configuration order: as `running` shows it, or as disabled.
fn servers_table(config: &Config, running: &[ServerView]) -> String {
    let rows: Vec<ServerView> = config
        .mcp
        .servers
        .iter()
        .map(|server| {
            running
                .iter()
                .find(|s| s.name == server.name)
                .cloned()
                .unwrap_or_else(|| disabled_view(server))
        })
        .collect();
    server_table(&rows, |view| {
        let server = config.mcp.servers.iter().find(|s| s.name == view.name)?;
        Some(protocol_cell(
            server.protocol_version,
            view.protocol.as_deref(),
        ))
    })
}

/// A row for a server the bot does not run.
fn disabled_view(server: &McpServerConfig) -> ServerView {
    ServerView {
        name: server.name.clone(),
        state: "disabled".into(),
        transport: match server.transport {
            crate::config::McpTransport::Stdio { .. } => "stdio",
            crate::config::McpTransport::Http { .. } => "http",
        }
        .into(),
        pids: Vec::new(),
        uptime_seconds: None,
        restarts: 0,
        tools: 0,
        rss_bytes: None,
        cpu_seconds: None,
        calls: 0,
        in_flight: 0,
        protocol: None,
        last_error: None,
    }
}

/// Like [`not_ready`], for the running bot's servers.
fn not_ready_views(servers: &[ServerView]) -> Result<(), Failure> {
    let failed: Vec<&ServerView> = servers.iter().filter(|s| s.state != "ready").collect();
    for server in &failed {
        eprintln!(
            "mcpcord: MCP server {} is {}: {}",
            server.name,
            server.state,
            server.last_error.as_deref().unwrap_or("no error recorded")
        );
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::Runtime(anyhow!(
            "{} MCP server(s) not ready",
            failed.len()
        )))
    }
}

/// The PROTOCOL cell: the setting, with the version negotiated under `auto`
/// (`auto (2025-11-25)`).
fn protocol_cell(setting: McpProtocolVersion, negotiated: Option<&str>) -> String {
    match (setting, negotiated) {
        (McpProtocolVersion::Auto, Some(version)) => format!("auto ({version})"),
        (setting, _) => setting.name().to_owned(),
    }
}

async fn tools(config: &Config, server: Option<&str>) -> Result<(), Failure> {
    let servers = match server {
        Some(name) => vec![named(config, name)?],
        None => enabled(config),
    };
    let host = start(config, &servers).await;
    let mut rows = vec![["NAME", "SERVER", "TOOL", "APPROVAL", "DESCRIPTION"].map(String::from)];
    for tool in host.tools() {
        rows.push([
            tool.name,
            tool.server,
            tool.tool,
            tool.approval.name().to_owned(),
            first_line(&tool.description, 70),
        ]);
    }
    print!("{}", table(&rows));
    let statuses = host.status();
    host.shutdown().await;
    not_ready(&statuses)
}

async fn call(config: &Config, server: &str, tool: &str, json: &str) -> Result<(), Failure> {
    let arguments: serde_json::Value = serde_json::from_str(json)
        .map_err(|error| Failure::Usage(format!("the arguments are not valid JSON: {error}")))?;
    if !arguments.is_object() {
        return Err(Failure::Usage(
            "the arguments must be a JSON object, e.g. '{\"text\": \"hi\"}'".into(),
        ));
    }
    let entry = named(config, server)?;
    let host = start(config, &[entry]).await;
    let result = host
        .call_server_tool(server, tool, arguments, CallOptions::default())
        .await;
    host.shutdown().await;
    let output = result.map_err(|error| Failure::Runtime(anyhow!(error)))?;
    println!("{}", output.text);
    if output.is_error {
        return Err(Failure::Runtime(anyhow!(
            "the tool `{tool}` of `{server}` reported an error"
        )));
    }
    Ok(())
}

async fn prompts(config: &Config) -> Result<(), Failure> {
    let host = start(config, &enabled(config)).await;
    let listing = host.list_prompts().await;
    let mut rows = vec![["SERVER", "PROMPT", "ARGUMENTS", "DESCRIPTION"].map(String::from)];
    for prompt in listing.items {
        let arguments: Vec<String> = prompt
            .arguments
            .iter()
            .map(|a| {
                if a.required {
                    a.name.clone()
                } else {
                    format!("[{}]", a.name)
                }
            })
            .collect();
        rows.push([
            prompt.server,
            prompt.name,
            dash_if_empty(arguments.join(" ")),
            first_line(prompt.description.as_deref().unwrap_or_default(), 70),
        ]);
    }
    print!("{}", table(&rows));
    host.shutdown().await;
    listing_errors(&listing.errors)
}

async fn resources(config: &Config) -> Result<(), Failure> {
    let host = start(config, &enabled(config)).await;
    let listing = host.list_resources().await;
    let templates = host.list_resource_templates().await;
    let mut rows = vec![["SERVER", "URI", "NAME", "MIME", "DESCRIPTION"].map(String::from)];
    for resource in listing.items {
        rows.push([
            resource.server,
            resource.uri,
            resource.name,
            resource.mime_type.unwrap_or_else(|| "-".into()),
            first_line(resource.description.as_deref().unwrap_or_default(), 60),
        ]);
    }
    for template in templates.items {
        rows.push([
            template.server,
            template.uri_template,
            template.name,
            template.mime_type.unwrap_or_else(|| "-".into()),
            first_line(template.description.as_deref().unwrap_or_default(), 60),
        ]);
    }
    print!("{}", table(&rows));
    host.shutdown().await;
    let mut errors = listing.errors;
    errors.extend(templates.errors);
    errors.dedup_by(|a, b| a.0 == b.0);
    listing_errors(&errors)
}

fn listing_errors(errors: &[(String, mcpcord_mcp::HostError)]) -> Result<(), Failure> {
    for (server, error) in errors {
        eprintln!("mcpcord: MCP server {server}: {error}");
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Failure::Runtime(anyhow!(
            "{} MCP server(s) could not be asked",
            errors.len()
        )))
    }
}

fn dash_if_empty(text: String) -> String {
    if text.is_empty() { "-".into() } else { text }
}

/// The first line of `text`, cut to `max` characters with an ellipsis.
fn first_line(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or_default().trim();
    if line.chars().count() <= max {
        return line.to_owned();
    }
    let cut: String = line.chars().take(max.saturating_sub(1)).collect();
    format!("{cut}…")
}
