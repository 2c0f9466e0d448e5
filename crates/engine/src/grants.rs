//! What one person may use: commands, tools, models, and whether they may approve tool calls
//! on behalf of others.
//!
//! Owns the permission value a front end resolves from the person's roles and hands to the
//! engine with each [`TurnRequest`](crate::TurnRequest). The engine reads its tools part: the
//! catalogue offered to the model leaves out the tools the person may not use, and a call to one
//! of them is refused. Commands, models and approvals are the front end's to check, with the
//! same value, so one resolution serves every check.

/// Names a person may use, written as globs where `*` matches any run of characters
/// (`fetch.*`, `llama*`, `*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allowed {
    /// Every name.
    All,
    /// Only names matching one of these globs (none when empty).
    Only(Vec<String>),
}

impl Allowed {
    /// Whether `name` is allowed.
    pub fn allows(&self, name: &str) -> bool {
        match self {
            Self::All => true,
            Self::Only(globs) => globs.iter().any(|g| glob_matches(g, name)),
        }
    }

    /// Whether `name` is allowed by a glob naming it without `*` (an explicit grant, as
    /// opposed to everything being allowed).
    pub fn names(&self, name: &str) -> bool {
        match self {
            Self::All => false,
            Self::Only(globs) => globs.iter().any(|g| g == name),
        }
    }

    /// Everything either allows.
    pub fn union(&self, other: &Self) -> Self {
        match (self, other) {
            (Self::Only(a), Self::Only(b)) => {
                let mut all = a.clone();
                all.extend(b.iter().filter(|g| !a.contains(g)).cloned());
                Self::Only(all)
            }
            _ => Self::All,
        }
    }

    /// Whether nothing at all is allowed.
    pub fn is_nothing(&self) -> bool {
        matches!(self, Self::Only(globs) if globs.is_empty())
    }
}

/// What a person may use, resolved from their roles by the front end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grants {
    /// Commands, by name (a front end's own names, e.g. `chat`, `tools list`).
    pub commands: Allowed,
    /// Tools, as `server.tool` (`server.*` for a whole server).
    pub tools: Allowed,
    /// Models a person may choose.
    pub models: Allowed,
    /// Whether they may approve tool calls of other people's turns.
    pub approve_for_others: bool,
}

impl Grants {
    /// Everything: what an admin, or the operator at the terminal, may do.
    pub fn everything() -> Self {
        Self {
            commands: Allowed::All,
            tools: Allowed::All,
            models: Allowed::All,
            approve_for_others: true,
        }
    }

    /// Nothing at all.
    pub fn nothing() -> Self {
        Self {
            commands: Allowed::Only(Vec::new()),
            tools: Allowed::Only(Vec::new()),
            models: Allowed::Only(Vec::new()),
            approve_for_others: false,
        }
    }

    /// Whether `server`'s `tool` may be used.
    pub fn may_use_tool(&self, server: &str, tool: &str) -> bool {
        self.tools.allows(&tool_name(server, tool))
    }

    /// What a person holding both may do.
    pub fn union(&self, other: &Self) -> Self {
        Self {
            commands: self.commands.union(&other.commands),
            tools: self.tools.union(&other.tools),
            models: self.models.union(&other.models),
            approve_for_others: self.approve_for_others || other.approve_for_others,
        }
    }
}

/// The name a tool is granted by: `server.tool`.
pub fn tool_name(server: &str, tool: &str) -> String {
    format!("{server}.{tool}")
}

/// Whether `name` matches `glob`, where `*` matches any run of characters (none included) and
/// everything else matches itself.
pub fn glob_matches(glob: &str, name: &str) -> bool {
    let mut parts = glob.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        // No `*`: the whole name must be the glob.
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_with_stars_only() {
        assert!(glob_matches("*", ""));
        assert!(glob_matches("*", "anything.at.all"));
        assert!(glob_matches("fetch.*", "fetch.get"));
        assert!(!glob_matches("fetch.*", "fetcher.get"));
        assert!(glob_matches("test.echo", "test.echo"));
        assert!(!glob_matches("test.echo", "test.echoes"));
        assert!(glob_matches("llama*", "llama3.2"));
        assert!(glob_matches("*.get_*", "time.get_time"));
        assert!(!glob_matches("a*b*c", "acb"));
        assert!(glob_matches("a*b*c", "axxbyyc"));
        assert!(!glob_matches("ab*ba", "aba"), "the ends may not overlap");
    }

    #[test]
    fn grants_combine_and_name() {
        let some = Grants {
            commands: Allowed::Only(vec!["chat".into()]),
            tools: Allowed::Only(vec!["test.echo".into()]),
            models: Allowed::Only(Vec::new()),
            approve_for_others: false,
        };
        assert!(some.may_use_tool("test", "echo"));
        assert!(!some.may_use_tool("test", "sleep"));
        assert!(some.models.is_nothing());
        assert!(some.commands.names("chat"));
        assert!(!Allowed::All.names("chat"));
        let more = Grants {
            commands: Allowed::Only(vec!["status".into(), "chat".into()]),
            tools: Allowed::All,
            models: Allowed::Only(vec!["llama*".into()]),
            approve_for_others: true,
        };
        let both = some.union(&more);
        assert_eq!(
            both.commands,
            Allowed::Only(vec!["chat".into(), "status".into()])
        );
        assert_eq!(both.tools, Allowed::All);
        assert!(both.models.allows("llama3.2"));
        assert!(both.approve_for_others);
        assert_eq!(Grants::everything().union(&some), Grants::everything());
    }
}
