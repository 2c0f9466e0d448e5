//! `[permissions.roles]`: bot roles, who holds them and what they allow.
//!
//! Each entry is checked against what exists: command names against the commands the bot
//! declares, tool globs against the configured MCP servers; `admin` is built in and `default`
//! is held by everyone else, so neither names holders.

use std::collections::BTreeMap;
use std::num::NonZeroU64;

use super::{snowflake, valid_name};
use crate::config::raw::{RawId, RawRole};
use crate::config::report::Report;
use crate::config::types::{McpConfig, RoleConfig};

/// The built-in role of admins.
const ADMIN: &str = "admin";
/// The role of everyone holding no other.
const DEFAULT: &str = "default";

/// Validates `[permissions.roles]`: the configured roles (by name) and the default one.
pub(super) fn roles(
    raw: BTreeMap<String, RawRole>,
    mcp: &McpConfig,
    report: &mut Report,
) -> (Vec<RoleConfig>, RoleConfig) {
    let mut roles = Vec::new();
    let mut default_role = None;
    for (name, role) in raw {
        let path = format!("permissions.roles.{name}");
        if name == ADMIN {
            report.error(
                path,
                "`admin` is built in and may do everything: name its members in \
                 permissions.admin_users and permissions.admin_roles instead",
            );
            continue;
        }
        if !valid_name(&name) {
            report.error(
                path,
                "a role name is 1 to 64 letters, digits, `-` or `_` (e.g. `helper`)",
            );
            continue;
        }
        let role = role_config(name, role, &path, mcp, report);
        if role.name == DEFAULT {
            if !role.discord_roles.is_empty() || !role.users.is_empty() {
                report.error(
                    path,
                    "`default` is held by everyone with no other role: remove its \
                     discord_roles and users, or give them a role of their own",
                );
            }
            default_role = Some(role);
        } else {
            roles.push(role);
        }
    }
    let default_role = default_role.unwrap_or_else(|| RoleConfig {
        name: DEFAULT.to_owned(),
        discord_roles: Vec::new(),
        users: Vec::new(),
        commands: None,
        tools: None,
        models: None,
        approve_for_others: false,
    });
    (roles, default_role)
}

/// One role, every entry checked.
fn role_config(
    name: String,
    raw: RawRole,
    path: &str,
    mcp: &McpConfig,
    report: &mut Report,
) -> RoleConfig {
    let commands = raw
        .commands
        .map(|list| checked(list, &format!("{path}.commands"), report, command));
    let tools = raw.tools.map(|list| {
        checked(list, &format!("{path}.tools"), report, |entry| {
            tool(entry, mcp)
        })
    });
    let models = raw.models.map(|list| {
        checked(list, &format!("{path}.models"), report, |entry| {
            if entry.trim().is_empty() {
                Err("is empty: name a model (`llama3.2`) or a glob (`llama*`)".to_owned())
            } else {
                Ok(())
            }
        })
    });
    RoleConfig {
        discord_roles: ids(raw.discord_roles, &format!("{path}.discord_roles"), report),
        users: ids(raw.users, &format!("{path}.users"), report),
        name,
        commands,
        tools,
        models,
        approve_for_others: raw.approve_for_others.unwrap_or(false),
    }
}

/// The entries of `list` that pass `check`; each that does not is reported at `path[i]`.
fn checked(
    list: Vec<String>,
    path: &str,
    report: &mut Report,
    check: impl Fn(&str) -> Result<(), String>,
) -> Vec<String> {
    list.into_iter()
        .enumerate()
        .filter_map(|(i, entry)| match check(&entry) {
            Ok(()) => Some(entry),
            Err(problem) => {
                report.error(format!("{path}[{i}]"), problem);
                None
            }
        })
        .collect()
}

fn ids(values: Vec<RawId>, path: &str, report: &mut Report) -> Vec<NonZeroU64> {
    values
        .into_iter()
        .enumerate()
        .filter_map(|(i, id)| snowflake(Some(id), &format!("{path}[{i}]"), report))
        .collect()
}

/// A command name (`chat`), a command with its subcommand (`tools list`) or a glob (`*`).
fn command(entry: &str) -> Result<(), String> {
    if entry.contains('*') {
        return Ok(());
    }
    let known = known_commands();
    if known.iter().any(|k| k == entry) {
        return Ok(());
    }
    Err(format!(
        "there is no command `{entry}`; the commands are: {}",
        known.join(", ")
    ))
}

/// Every command name, and each `command subcommand`, the bot declares.
fn known_commands() -> Vec<String> {
    use twilight_model::application::command::CommandOptionType;
    let mut names = Vec::new();
    for info in mcpcord_discord::commands::catalogue() {
        let command = info.command;
        names.push(command.name.clone());
        names.extend(
            command
                .options
                .iter()
                .filter(|o| o.kind == CommandOptionType::SubCommand)
                .map(|o| format!("{} {}", command.name, o.name)),
        );
    }
    names
}

/// A tool as `server.tool` (`server.*`, or `*`) whose server is configured.
fn tool(entry: &str, mcp: &McpConfig) -> Result<(), String> {
    if entry == "*" {
        return Ok(());
    }
    let Some((server, tool)) = entry.split_once('.') else {
        return Err(format!(
            "`{entry}` names no server: write `server.tool`, `server.*` or `*`"
        ));
    };
    if tool.is_empty() {
        return Err(format!(
            "`{entry}` names no tool: write `{server}.TOOL` or `{server}.*`"
        ));
    }
    if server.contains('*') || mcp.servers.iter().any(|s| s.name == server) {
        return Ok(());
    }
    let names: Vec<&str> = mcp.servers.iter().map(|s| s.name.as_str()).collect();
    Err(format!(
        "there is no MCP server `{server}` in [mcp.servers]; servers: {}",
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    ))
}
