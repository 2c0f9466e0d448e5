//! Configuration problems, collected so that all of them are reported at once.

use std::fmt;

/// One problem: where it is and what is allowed there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The key's path, e.g. `backends[1].url`; empty for the file as a whole.
    pub path: String,
    /// What is wrong and what would be right. Never contains a secret.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Every problem found in one configuration, in the order found.
#[derive(Debug, Default, Clone)]
pub struct Report {
    errors: Vec<ConfigError>,
}

impl Report {
    /// Records a problem at `path`.
    pub fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(ConfigError {
            path: path.into(),
            message: message.into(),
        });
    }

    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// The problems found.
    pub fn errors(&self) -> &[ConfigError] {
        &self.errors
    }
}

/// The error `Config::load` returns: every problem, with where the configuration came from.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", self.render())]
pub struct InvalidConfig {
    /// Where the configuration was read from (a path, or "built-in defaults").
    pub source_name: String,
    /// The problems.
    pub errors: Vec<ConfigError>,
}

impl InvalidConfig {
    fn render(&self) -> String {
        let count = self.errors.len();
        let mut out = format!(
            "the configuration ({}) has {count} problem{}:",
            self.source_name,
            if count == 1 { "" } else { "s" }
        );
        for error in &self.errors {
            out.push_str("\n  - ");
            out.push_str(&error.to_string());
        }
        out
    }
}
