//! `[mcp.servers.NAME]`: one function per concern (transport, tool lists, approvals, restart,
//! memory, replicas), each reporting its own problems under the server's path.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{byte_size, duration, nonzero, tool_approval, url, valid_name, valid_tool_name};
use crate::config::env::Env;
use crate::config::raw::RawMcpServer;
use crate::config::report::Report;
use crate::config::secret::Secret;
use crate::config::types::{
    McpConfig, McpProtocolVersion, McpRestart, McpServerConfig, McpTransport, ToolApproval,
};

/// Most instances of one MCP server.
const MAX_REPLICAS: u32 = 16;

/// The transport types `mcp.json` files write; all but `stdio` mean Streamable HTTP.
const TRANSPORT_KINDS: [&str; 4] = ["stdio", "http", "streamable-http", "streamableHttp"];

/// Paths of one server's keys: `mcp.servers.NAME` and `mcp.servers.NAME.KEY`.
struct At<'a>(&'a str);

impl At<'_> {
    fn server(&self) -> String {
        format!("mcp.servers.{}", self.0)
    }

    fn key(&self, key: &str) -> String {
        format!("mcp.servers.{}.{key}", self.0)
    }
}

/// `[mcp]`: every server, and the secret key when one is set.
pub(super) fn mcp_config(
    servers: BTreeMap<String, RawMcpServer>,
    data_dir: &Path,
    env: &Env,
    report: &mut Report,
) -> McpConfig {
    McpConfig {
        servers: servers
            .into_iter()
            .filter_map(|(name, server)| mcp_server(name, server, data_dir, env, report))
            .collect(),
        secret_key: super::mcp_auth::secret_key(env, report),
    }
}

/// Validates one server; `None` (with the problems reported) when it cannot be built at all.
fn mcp_server(
    name: String,
    raw: RawMcpServer,
    data_dir: &Path,
    env: &Env,
    report: &mut Report,
) -> Option<McpServerConfig> {
    let at = At(&name);
    if !valid_name(&name) {
        report.error(
            at.server(),
            "server names are 1-64 letters, digits, '-' or '_'",
        );
        return None;
    }
    let call_timeout = duration(
        raw.call_timeout.clone(),
        "60s",
        &at.key("call_timeout"),
        report,
    );
    let start_timeout = duration(
        raw.start_timeout.clone(),
        "30s",
        &at.key("start_timeout"),
        report,
    );
    let transport = transport(&name, &raw, data_dir, env, report)?;
    tool_lists(&at, raw.allowed_tools.as_deref(), &raw.denied_tools, report);
    // Unwritten stays unset: each tool's annotations then decide (destructive tools ask).
    let approval = raw
        .approval
        .as_deref()
        .and_then(|text| tool_approval(text, &at.key("approval"), report));
    let tool_approval = approvals_per_tool(&at, &raw.tool_approval, report);
    let restart = restart(raw.restart.as_deref(), &at, report);
    let memory_limit = memory_limit(raw.memory_limit.as_deref(), &transport, &at, report);
    let replicas = replicas(raw.replicas, &at, report);
    let protocol_version = protocol_version(raw.protocol_version.as_deref(), &at, report);
    Some(McpServerConfig {
        name,
        transport,
        disabled: raw.disabled,
        call_timeout,
        start_timeout,
        allowed_tools: raw.allowed_tools,
        denied_tools: raw.denied_tools,
        approval,
        tool_approval,
        restart,
        memory_limit,
        replicas,
        allow_sampling: raw.allow_sampling,
        protocol_version,
    })
}

/// `auto` (unset), or a protocol version the bot speaks.
fn protocol_version(text: Option<&str>, at: &At, report: &mut Report) -> McpProtocolVersion {
    let Some(text) = text else {
        return McpProtocolVersion::Auto;
    };
    McpProtocolVersion::ALL
        .into_iter()
        .find(|version| version.name() == text)
        .unwrap_or_else(|| {
            report.error(
                at.key("protocol_version"),
                format!(
                    "{text:?} is not a protocol version the bot speaks; allowed: auto \
                     (discovery, falling back to initialize), 2025-11-25 (the initialize \
                     handshake, which older servers negotiate down from), 2026-07-28 \
                     (server/discover only)"
                ),
            );
            McpProtocolVersion::Auto
        })
}

/// A child process (`command`) or a remote endpoint (`url`), exactly one of them.
fn transport(
    name: &str,
    raw: &RawMcpServer,
    data_dir: &Path,
    env: &Env,
    report: &mut Report,
) -> Option<McpTransport> {
    let at = At(name);
    if let Some(kind) = raw.kind.as_deref().filter(|k| !TRANSPORT_KINDS.contains(k)) {
        report.error(
            at.key("type"),
            format!("{kind:?} is not supported; allowed: stdio, http, streamable-http"),
        );
        return None;
    }
    match (&raw.command, &raw.url) {
        (Some(_), Some(_)) => {
            report.error(at.server(), "has both `command` and `url`: keep one");
            None
        }
        (Some(command), None) => {
            super::mcp_auth::no_auth_for_stdio(&at.server(), raw, report);
            Some(McpTransport::Stdio {
                command: command.clone(),
                args: raw.args.clone(),
                env: secrets(&raw.env),
                // Its own folder unless configured: relative reads (`.env`, `mcpcord.toml`, the
                // SQLite file) must not reach the bot's files.
                cwd: raw
                    .cwd
                    .as_ref()
                    .map_or_else(|| data_dir.join("mcp").join(name), PathBuf::from),
            })
        }
        (None, Some(text)) => {
            let url = url(text, &at.key("url"), &["http", "https"], report)?;
            let auth = super::mcp_auth::auth(name, raw, &url, env, report);
            Some(McpTransport::Http {
                url,
                headers: secrets(&raw.headers),
                auth,
            })
        }
        (None, None) => {
            report.error(
                at.server(),
                "needs `command` (a program to launch) or `url` (a Streamable HTTP endpoint)",
            );
            None
        }
    }
}

/// Environment variables or headers: values the logs and `config show` must never print.
fn secrets(map: &BTreeMap<String, String>) -> BTreeMap<String, Secret> {
    map.iter()
        .map(|(key, value)| (key.clone(), Secret::new(value.clone())))
        .collect()
}

/// `allowed_tools` and `denied_tools`: tool names, and no tool in both.
fn tool_lists(at: &At, allowed: Option<&[String]>, denied: &[String], report: &mut Report) {
    if let Some(allowed) = allowed {
        tool_names(at, allowed, "allowed_tools", report);
    }
    tool_names(at, denied, "denied_tools", report);
    let Some(allowed) = allowed else { return };
    for (i, tool) in denied.iter().enumerate() {
        if allowed.contains(tool) {
            report.error(
                at.key(&format!("denied_tools[{i}]")),
                format!("{tool:?} is also in allowed_tools: keep it in one list"),
            );
        }
    }
}

/// Reports every entry of the list `key` that is not an MCP tool name.
fn tool_names(at: &At, names: &[String], key: &str, report: &mut Report) {
    for (i, tool) in names.iter().enumerate() {
        if !valid_tool_name(tool) {
            report.error(
                at.key(&format!("{key}[{i}]")),
                format!("{tool:?} is not a tool name (1-128 letters, digits, '_', '-', '.')"),
            );
        }
    }
}

/// `tool_approval`: a policy per tool name.
fn approvals_per_tool(
    at: &At,
    raw: &BTreeMap<String, String>,
    report: &mut Report,
) -> BTreeMap<String, ToolApproval> {
    let mut approvals = BTreeMap::new();
    for (tool, text) in raw {
        let path = at.key(&format!("tool_approval.{tool}"));
        if !valid_tool_name(tool) {
            report.error(
                &path,
                "is not a tool name (1-128 letters, digits, '_', '-', '.')",
            );
        } else if let Some(policy) = tool_approval(text, &path, report) {
            approvals.insert(tool.clone(), policy);
        }
    }
    approvals
}

/// `restart`: `always` (the default), `on-failure` or `never`.
fn restart(text: Option<&str>, at: &At, report: &mut Report) -> McpRestart {
    match text {
        None | Some("always") => McpRestart::Always,
        Some("on-failure") => McpRestart::OnFailure,
        Some("never") => McpRestart::Never,
        Some(other) => {
            report.error(
                at.key("restart"),
                format!("{other:?} is not a restart policy; allowed: always, on-failure, never"),
            );
            McpRestart::Always
        }
    }
}

/// `memory_limit`: a size, for stdio servers only (a remote server's memory is not ours to see).
fn memory_limit(
    text: Option<&str>,
    transport: &McpTransport,
    at: &At,
    report: &mut Report,
) -> Option<u64> {
    let text = text?;
    let bytes = byte_size(text);
    if bytes.is_none() {
        report.error(
            at.key("memory_limit"),
            format!("{text:?} is not a size; e.g. \"512MiB\", \"1GiB\", \"300M\""),
        );
    } else if !matches!(transport, McpTransport::Stdio { .. }) {
        report.error(
            at.key("memory_limit"),
            "applies to stdio servers only (the bot cannot see a remote server's memory)",
        );
    }
    bytes
}

/// `replicas`: 1 to [`MAX_REPLICAS`].
fn replicas(value: Option<u32>, at: &At, report: &mut Report) -> std::num::NonZeroU32 {
    let replicas = nonzero(value, 1, &at.key("replicas"), report);
    if replicas.get() > MAX_REPLICAS {
        report.error(
            at.key("replicas"),
            format!("{replicas} is more than the limit of {MAX_REPLICAS}"),
        );
    }
    replicas
}
