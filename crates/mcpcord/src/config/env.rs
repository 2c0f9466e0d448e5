//! Environment overrides: `MCPCORD__SECTION__KEY=value` for any key, plus the names people
//! already use (`DISCORD_TOKEN`, `DISCORD_TOKEN_FILE`, `DATABASE_URL`, `DEFAULT_MODEL`, `OLLAMA_HOST`).
//!
//! Precedence, lowest first: the file, the conventional names, `MCPCORD__…`.

use std::collections::BTreeMap;

use toml::{Table, Value};

use super::report::Report;
use super::schema;

/// Prefix of generic overrides; path segments are separated by `__`.
pub const PREFIX: &str = "MCPCORD__";

/// Conventional variables and the key each one sets.
pub const CONVENTIONAL: [(&str, &str); 4] = [
    ("DISCORD_TOKEN", "discord.token"),
    ("DISCORD_TOKEN_FILE", "discord.token_file"),
    ("DATABASE_URL", "storage.url"),
    ("DEFAULT_MODEL", "models.default"),
];

/// `OLLAMA_HOST` sets the URL of the default backend (used when no `[[backends]]` are written).
pub const OLLAMA_HOST: &str = "OLLAMA_HOST";

/// systemd's directory of credentials (`LoadCredential=`), where `discord_token` is looked for.
pub const CREDENTIALS_DIRECTORY: &str = "CREDENTIALS_DIRECTORY";

/// The credential name read from [`CREDENTIALS_DIRECTORY`].
pub const TOKEN_CREDENTIAL: &str = "discord_token";

/// systemd's `StateDirectory=`, the default data folder when set.
pub const STATE_DIRECTORY: &str = "STATE_DIRECTORY";

/// A snapshot of the process environment, so loading is a pure function of its inputs.
pub type Env = BTreeMap<String, String>;

/// Applies every override found in `env` to `table`, reporting overrides that cannot apply.
pub fn apply(table: &mut Table, env: &Env, report: &mut Report) {
    for (var, key) in CONVENTIONAL {
        if let Some(value) = env.get(var).filter(|v| !v.is_empty()) {
            let path: Vec<&str> = key.split('.').collect();
            if let Err(message) = set(table, &path, value) {
                report.error(var, message);
            }
        }
    }
    for (var, value) in env {
        let Some(rest) = var.strip_prefix(PREFIX) else {
            continue;
        };
        let lowered = rest.to_ascii_lowercase();
        let path: Vec<&str> = lowered.split("__").collect();
        if path.iter().any(|segment| segment.is_empty()) {
            report.error(var, "empty path segment: write MCPCORD__SECTION__KEY");
            continue;
        }
        if let Err(message) = set(table, &path, value) {
            report.error(var, message);
        }
    }
}

/// Turns Ollama's `OLLAMA_HOST` convention (`0.0.0.0`, `host:port`, or a URL) into a URL.
pub fn ollama_host_url(host: &str) -> String {
    let with_scheme = if host.contains("://") {
        host.to_string()
    } else {
        format!("http://{host}")
    };
    let authority = with_scheme.split("://").nth(1).unwrap_or_default();
    let host_part = authority.split('/').next().unwrap_or_default();
    let has_port = host_part
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok());
    if has_port {
        with_scheme
    } else {
        let (scheme, rest) = with_scheme.split_once("://").unwrap_or(("http", ""));
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let sep = if path.is_empty() { "" } else { "/" };
        format!("{scheme}://{authority}:11434{sep}{path}")
    }
}

/// Sets the value at `path`, creating tables (and appending list entries) on the way.
fn set(table: &mut Table, path: &[&str], raw: &str) -> Result<(), String> {
    let value = typed_value(path, raw);
    let mut root = Value::Table(std::mem::take(table));
    let result = set_in(&mut root, path, value);
    if let Value::Table(restored) = root {
        *table = restored;
    }
    result
}

fn set_in(root: &mut Value, path: &[&str], value: Value) -> Result<(), String> {
    let (last, parents) = path.split_last().ok_or("empty path")?;
    let mut current = root;
    for (depth, segment) in parents.iter().enumerate() {
        current = step(current, segment, &path[..=depth])?;
    }
    match current {
        Value::Table(t) => {
            t.insert((*last).to_string(), value);
            Ok(())
        }
        Value::Array(items) => {
            let index = index_in(items, last)?;
            if index == items.len() {
                items.push(value);
            } else {
                items[index] = value;
            }
            Ok(())
        }
        _ => Err(format!("`{}` is not a table", parents.join("."))),
    }
}

fn step<'a>(
    current: &'a mut Value,
    segment: &str,
    so_far: &[&str],
) -> Result<&'a mut Value, String> {
    match current {
        Value::Table(t) => {
            let is_list = schema::type_at(so_far) == Some("array");
            Ok(t.entry(segment.to_string()).or_insert_with(|| {
                if is_list {
                    Value::Array(Vec::new())
                } else {
                    Value::Table(Table::new())
                }
            }))
        }
        Value::Array(items) => {
            let index = index_in(items, segment)?;
            if index == items.len() {
                items.push(Value::Table(Table::new()));
            }
            Ok(&mut items[index])
        }
        _ => Err(format!(
            "`{}` is not a table",
            so_far[..so_far.len() - 1].join(".")
        )),
    }
}

fn index_in(items: &[Value], segment: &str) -> Result<usize, String> {
    let index: usize = segment
        .parse()
        .map_err(|_| format!("`{segment}` is not a list index (0, 1, …)"))?;
    if index > items.len() {
        return Err(format!(
            "index {index} skips entries: the list has {} (use {} to add one)",
            items.len(),
            items.len()
        ));
    }
    Ok(index)
}

/// Reads the variable as the type the schema expects there; strings stay strings.
fn typed_value(path: &[&str], raw: &str) -> Value {
    let parsed = |literal: &str| -> Option<Value> {
        let doc: Table = toml::from_str(&format!("v = {literal}")).ok()?;
        doc.get("v").cloned()
    };
    match schema::type_at(path) {
        Some("integer" | "number" | "boolean") => {
            parsed(raw).unwrap_or_else(|| Value::String(raw.into()))
        }
        Some("array") if raw.trim_start().starts_with('[') => {
            parsed(raw).unwrap_or_else(|| Value::String(raw.into()))
        }
        Some("array") => Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.into()))
                .collect(),
        ),
        _ => Value::String(raw.into()),
    }
}
