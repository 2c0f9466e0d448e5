//! `mcpcord mcp …`: start the configured MCP servers (only the one named, when a command names
//! one), wait for them, then list servers, tools, prompts or resources, or call one tool.

use std::time::Duration;

use anyhow::anyhow;
use mcpcord_mcp::{
    Approval, CallOptions, Callbacks, McpHost, ServerState, ServerStatus, format_bytes,
};

use super::Failure;
use super::models::table;
use crate::cli::McpCommand;
use crate::config::{Config, McpProtocolVersion, McpServerConfig};
use crate::wiring::{mcp_host_options, mcp_server_spec};

/// Runs one `mcp` subcommand.
pub async fn run(config: &Config, command: McpCommand) -> Result<(), Failure> {
    match command {
        McpCommand::Servers => servers(config).await,
        McpCommand::Tools { server } => tools(config, server.as_deref()).await,
        McpCommand::Call { server, tool, json } => call(config, &server, &tool, &json).await,
        McpCommand::Prompts => prompts(config).await,
        McpCommand::Resources => resources(config).await,
    }
}

/// Starts `servers` and waits for each to be ready or to fail its first start.
async fn start(config: &Config, servers: &[&McpServerConfig]) -> McpHost {
    // The operator typed the command: calls of `ask` tools are approved by typing it.
    let callbacks = Callbacks::default().with_approver(|_| async { Approval::Approved });
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

async fn servers(config: &Config) -> Result<(), Failure> {
    if config.mcp.servers.is_empty() {
        println!("no MCP servers configured (see `mcpcord config example`, [mcp.servers.NAME])");
        return Ok(());
    }
    let host = start(config, &enabled(config)).await;
    let statuses = host.status();
    let mut rows = vec![
        [
            "NAME",
            "STATE",
            "TRANSPORT",
            "PID",
            "UPTIME",
            "RESTARTS",
            "TOOLS",
            "MEMORY",
            "CPU",
            "PROTOCOL",
        ]
        .map(String::from),
    ];
    for server in &config.mcp.servers {
        let Some(status) = statuses.iter().find(|s| s.name == server.name) else {
            let transport = match server.transport {
                crate::config::McpTransport::Stdio { .. } => "stdio",
                crate::config::McpTransport::Http { .. } => "http",
            };
            rows.push(
                [
                    &server.name,
                    "disabled",
                    transport,
                    "-",
                    "-",
                    "-",
                    "-",
                    "-",
                    "-",
                    server.protocol_version.name(),
                ]
                .map(String::from),
            );
            continue;
        };
        let pids: Vec<String> = status
            .replicas
            .iter()
            .filter_map(|r| r.pid.map(|p| p.to_string()))
            .collect();
        let uptime = status.replicas.iter().filter_map(|r| r.uptime).max();
        let cpu = status
            .replicas
            .iter()
            .filter_map(|r| r.stats.map(|s| s.cpu_time))
            .reduce(|a, b| a + b);
        rows.push([
            status.name.clone(),
            status.state.to_string(),
            status.transport.to_owned(),
            dash_if_empty(pids.join(",")),
            uptime.map_or_else(|| "-".into(), |u| format!("{}s", u.as_secs())),
            status.restarts().to_string(),
            status.tools.to_string(),
            status.rss_bytes().map_or_else(|| "-".into(), format_bytes),
            cpu.map_or_else(|| "-".into(), |c| format!("{:.2}s", c.as_secs_f64())),
            protocol_cell(server.protocol_version, status.protocol.as_deref()),
        ]);
    }
    print!("{}", table(&rows));
    host.shutdown().await;
    not_ready(&statuses)
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
