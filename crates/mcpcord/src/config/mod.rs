//! Configuration: one TOML file, environment overrides and `.env`, validated into typed values.
//!
//! Two stages, as ripgrep does with its flags: [`raw`] holds what was written, [`validate`]
//! builds the typed [`Config`] once everything is known and reports every problem at once,
//! each with its path (`backends[1].url: "htp://x" is not an http(s) URL`).

mod budgets;
mod env;
mod load;
mod mcp_auth;
pub mod raw;
mod report;
mod schema;
mod secret;
mod types;
mod validate;

use std::path::{Path, PathBuf};

pub use budgets::{BudgetLimitsConfig, BudgetsConfig};
pub use env::{CONVENTIONAL, Env, OLLAMA_HOST, PREFIX};
pub use mcp_auth::*;
pub use report::{ConfigError, InvalidConfig};
pub use secret::{REDACTED, Secret};
pub use types::*;
pub use validate::defaults;

/// The commented example configuration printed by `mcpcord config example`.
pub const EXAMPLE: &str = include_str!("example.toml");

/// The file read when neither `--config` nor `MCPCORD_CONFIG` names one.
pub const DEFAULT_FILE: &str = "mcpcord.toml";

/// Where the configuration comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A TOML file.
    File(PathBuf),
    /// No file: built-in defaults plus the environment.
    Defaults,
}

impl Source {
    /// `explicit` (from `--config` / `MCPCORD_CONFIG`), else `./mcpcord.toml` if present, else defaults.
    pub fn discover(explicit: Option<PathBuf>) -> Source {
        match explicit {
            Some(path) => Source::File(path),
            None if Path::new(DEFAULT_FILE).is_file() => Source::File(PathBuf::from(DEFAULT_FILE)),
            None => Source::Defaults,
        }
    }

    /// How to name this source in messages.
    pub fn describe(&self) -> String {
        match self {
            Source::File(path) => path.display().to_string(),
            Source::Defaults => "built-in defaults".into(),
        }
    }
}

impl Config {
    /// Reads, overrides and validates the configuration from `source` and `env`.
    pub fn load(source: &Source, env: &Env) -> Result<Config, InvalidConfig> {
        let mut report = report::Report::default();
        let text = match source {
            Source::File(path) => std::fs::read_to_string(path).unwrap_or_else(|error| {
                report.error("", format!("cannot read {}: {error}", path.display()));
                String::new()
            }),
            Source::Defaults => String::new(),
        };
        Self::from_toml_in(&text, env, source, &mut report).ok_or_else(|| InvalidConfig {
            source_name: source.describe(),
            errors: report.errors().to_vec(),
        })
    }

    /// Parses and validates a TOML document, as if read from `source`.
    pub fn from_toml(text: &str, env: &Env) -> Result<Config, InvalidConfig> {
        let mut report = report::Report::default();
        Self::from_toml_in(text, env, &Source::Defaults, &mut report).ok_or_else(|| InvalidConfig {
            source_name: "text".into(),
            errors: report.errors().to_vec(),
        })
    }

    fn from_toml_in(
        text: &str,
        env: &Env,
        source: &Source,
        report: &mut report::Report,
    ) -> Option<Config> {
        let mut raw = load::raw_from_toml(text, env, report);
        if let Some(file) = raw.mcp.config_file.clone() {
            let base = match source {
                Source::File(path) => path.parent().map(Path::to_path_buf).unwrap_or_default(),
                Source::Defaults => PathBuf::new(),
            };
            for (name, server) in load::mcp_json(&base.join(&file), report) {
                match raw.mcp.servers.entry(name) {
                    std::collections::btree_map::Entry::Occupied(inline) => report.error(
                        format!("mcp.servers.{}", inline.key()),
                        format!("is defined both here and in {file}: keep one"),
                    ),
                    std::collections::btree_map::Entry::Vacant(slot) => {
                        slot.insert(server);
                    }
                }
            }
        }
        validate::validate(raw, env, report)
    }

    /// The effective configuration as TOML, every secret replaced by `[redacted]`.
    pub fn to_redacted_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|error| format!("# cannot render: {error}\n"))
    }
}

/// A snapshot of the process environment.
pub fn process_env() -> Env {
    std::env::vars().collect()
}
