//! From text to [`RawConfig`]: parse the TOML, apply environment overrides, then read each
//! section on its own so that one bad section does not hide problems in the others.

use std::collections::BTreeMap;
use std::path::Path;

use serde::de::DeserializeOwned;
use toml::{Table, Value};

use super::env::{self, Env};
use super::raw::{RawConfig, RawMcpServer};
use super::report::Report;
use super::schema;

/// Parses `text` (a TOML document) with the overrides in `env` into a raw configuration.
pub fn raw_from_toml(text: &str, env: &Env, report: &mut Report) -> RawConfig {
    let mut table: Table = match toml::from_str(text) {
        Ok(table) => table,
        Err(error) => {
            report.error(
                "",
                format!("not valid TOML: {}", error.to_string().trim_end()),
            );
            Table::new()
        }
    };
    env::apply(&mut table, env, report);
    sections(table, report)
}

fn sections(table: Table, report: &mut Report) -> RawConfig {
    let mut raw = RawConfig::default();
    for (key, value) in table {
        match key.as_str() {
            "discord" => raw.discord = section(value, &key, report),
            "models" => raw.models = section(value, &key, report),
            "storage" => raw.storage = section(value, &key, report),
            "logging" => raw.logging = section(value, &key, report),
            "admin" => raw.admin = section(value, &key, report),
            "limits" => raw.limits = section(value, &key, report),
            "permissions" => raw.permissions = section(value, &key, report),
            "memory" => raw.memory = section(value, &key, report),
            "policy" => raw.policy = section(value, &key, report),
            "budgets" => raw.budgets = section(value, &key, report),
            "backends" => raw.backends = list(value, &key, report),
            "mcp" => mcp_section(value, &mut raw, report),
            unknown => unknown_key("", unknown, report),
        }
    }
    raw
}

/// `[mcp]` with its `servers` table, each server read on its own.
fn mcp_section(value: Value, raw: &mut RawConfig, report: &mut Report) {
    let Value::Table(mut mcp) = value else {
        report.error("mcp", "must be a table ([mcp])");
        return;
    };
    let servers = mcp.remove("servers");
    raw.mcp = section(Value::Table(mcp), "mcp", report);
    if let Some(servers) = servers {
        raw.mcp.servers = map(servers, "mcp.servers", report);
    }
}

/// Reads servers from a Claude Desktop style `mcp.json`.
pub fn mcp_json(path: &Path, report: &mut Report) -> BTreeMap<String, RawMcpServer> {
    let at = "mcp.config_file";
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) => {
            report.error(at, format!("cannot read {}: {error}", path.display()));
            return BTreeMap::new();
        }
    };
    let value: serde_json::Value = match serde_json::from_str(&text) {
        Ok(value) => value,
        Err(error) => {
            report.error(at, format!("{} is not valid JSON: {error}", path.display()));
            return BTreeMap::new();
        }
    };
    let servers = value.get("mcpServers").cloned().unwrap_or_default();
    let mut out = BTreeMap::new();
    let Some(entries) = servers.as_object() else {
        report.error(
            at,
            format!("{} has no \"mcpServers\" object", path.display()),
        );
        return out;
    };
    for (name, server) in entries {
        let here = format!("{} mcpServers.{name}", path.display());
        let mut unknown = Vec::new();
        let parsed: Result<RawMcpServer, _> =
            serde_ignored::deserialize(server, |p| unknown.push(p.to_string()));
        match parsed {
            Ok(server) => {
                // Other hosts' own keys in mcp.json are common; they are ignored, not errors.
                out.insert(name.clone(), server);
            }
            Err(error) => report.error(here, error.to_string()),
        }
    }
    out
}

/// How many type errors one section may report before the rest of it is skipped.
const MAX_ERRORS_PER_SECTION: usize = 32;

/// Deserializes one table, reporting unknown keys (with a hint) and type errors with their path.
/// After a type error the offending value is removed and the section read again, so every
/// problem in it is reported, not only the first.
fn section<T: DeserializeOwned + Default>(mut value: Value, path: &str, report: &mut Report) -> T {
    for _ in 0..MAX_ERRORS_PER_SECTION {
        let mut unknown = Vec::new();
        let mut track = serde_path_to_error::Track::new();
        let deserializer = serde_path_to_error::Deserializer::new(value.clone(), &mut track);
        let result = serde_ignored::deserialize(deserializer, |p| unknown.push(p.to_string()));
        let failed_at = track.path();
        match result {
            Ok(parsed) => {
                for key in unknown {
                    let (parent, leaf) = key.rsplit_once('.').unwrap_or(("", &key));
                    unknown_key(&join(path, parent), leaf, report);
                }
                return parsed;
            }
            Err(error) => {
                let first_line = error.to_string();
                let first_line = first_line.lines().next().unwrap_or_default();
                report.error(join(path, &failed_at.to_string()), describe(first_line));
                if !remove_at(&mut value, &failed_at) {
                    return T::default();
                }
            }
        }
    }
    T::default()
}

/// Removes the value at `at` so the rest of the section can be read; false if there is none.
fn remove_at(value: &mut Value, at: &serde_path_to_error::Path) -> bool {
    use serde_path_to_error::Segment;
    let segments: Vec<&Segment> = at.iter().collect();
    let Some((last, parents)) = segments.split_last() else {
        return false;
    };
    let Some(current) = parents
        .iter()
        .try_fold(value, |current, segment| child(current, segment))
    else {
        return false;
    };
    match (last, current) {
        (Segment::Map { key }, Value::Table(t)) => t.remove(key.as_str()).is_some(),
        (Segment::Seq { index }, Value::Array(items)) if *index < items.len() => {
            items.remove(*index);
            true
        }
        _ => false,
    }
}

/// The value under `segment` of `value`, if there is one.
fn child<'v>(
    value: &'v mut Value,
    segment: &serde_path_to_error::Segment,
) -> Option<&'v mut Value> {
    use serde_path_to_error::Segment;
    match (segment, value) {
        (Segment::Map { key }, Value::Table(t)) => t.get_mut(key.as_str()),
        (Segment::Seq { index }, Value::Array(items)) => items.get_mut(*index),
        _ => None,
    }
}

fn list<T: DeserializeOwned + Default>(value: Value, path: &str, report: &mut Report) -> Vec<T> {
    match value {
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| section(item, &format!("{path}[{i}]"), report))
            .collect(),
        _ => {
            report.error(path, format!("must be a list ([[{path}]] entries)"));
            Vec::new()
        }
    }
}

fn map<T: DeserializeOwned + Default>(
    value: Value,
    path: &str,
    report: &mut Report,
) -> BTreeMap<String, T> {
    match value {
        Value::Table(entries) => entries
            .into_iter()
            .map(|(name, item)| {
                let parsed = section(item, &format!("{path}.{name}"), report);
                (name, parsed)
            })
            .collect(),
        _ => {
            report.error(path, "must be a table of named entries");
            BTreeMap::new()
        }
    }
}

fn unknown_key(parent: &str, key: &str, report: &mut Report) {
    let segments: Vec<&str> = parent
        .split(['.', '['])
        .map(|s| s.trim_end_matches(']'))
        .filter(|s| !s.is_empty())
        .collect();
    let allowed = schema::keys_at(&segments);
    let hint = match schema::did_you_mean(key, &allowed) {
        Some(close) => format!("; did you mean `{close}`?"),
        None if allowed.is_empty() => String::new(),
        None => format!("; allowed here: {}", allowed.join(", ")),
    };
    report.error(join(parent, key), format!("unknown key{hint}"));
}

fn join(parent: &str, child: &str) -> String {
    match (parent.is_empty(), child.is_empty() || child == ".") {
        (_, true) => parent.to_string(),
        (true, false) => child.to_string(),
        (false, false) if child.starts_with('[') => format!("{parent}{child}"),
        (false, false) => format!("{parent}.{child}"),
    }
}

/// Serde's messages, phrased for someone editing a TOML file, without echoing the value
/// (which may be a secret).
fn describe(message: &str) -> String {
    let found = message
        .strip_prefix("invalid type: ")
        .and_then(|rest| rest.split_whitespace().next())
        .map(|kind| kind.trim_end_matches(','));
    let expected = message.rsplit_once(", expected ").map(|(_, e)| e);
    match (found, expected) {
        (Some(found), Some(expected)) => {
            let expected = expected
                .replace("u64", "a whole number")
                .replace("u32", "a whole number")
                .replace("f64", "a number");
            format!("expected {expected}, found {}", article(found))
        }
        _ => message.to_string(),
    }
}

fn article(kind: &str) -> String {
    match kind {
        "integer" | "array" | "option" => format!("an {kind}"),
        other => format!("a {other}"),
    }
}
