//! Built-in tools: tools the engine runs itself rather than an MCP server, offered to the model
//! beside the MCP catalogue. Today `remember` and `forget` (facts about the person whose turn it
//! is, in the turn's scope: see `facts.rs`).
//!
//! They are named as if a server called [`BUILTIN_SERVER`] offered them (`mcpcord__remember`),
//! and an MCP tool exposed under one of these names is not offered (the built-in answers that
//! name), so the two never clash. A call to one takes the path of every tool call: refused when
//! switched off in the channel (`/tools disable tool:mcpcord__remember`) or not granted to the
//! asker's roles (as `mcpcord.remember`), reported to the front end as it starts and ends, and
//! written to the audit log. They ask no approval: they only touch the asker's own facts, which
//! the asker sees in the tool line and can undo with `/memory forget`.

use mcpcord_llm::{ToolCall, ToolSpec};
use mcpcord_memory::DisabledTool;
use serde_json::{Value, json};

use crate::Engine;
use crate::events::TurnEvent;
use crate::grants::Grants;
use crate::tools::{CallResult, Refusal, ToolRun, is_disabled, summary, text};

/// The server name built-in tools are switched, granted and audited under.
pub const BUILTIN_SERVER: &str = "mcpcord";

/// A built-in tool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Builtin {
    /// Remember a fact about the person.
    Remember,
    /// Forget a fact about the person.
    Forget,
}

impl Builtin {
    /// Every built-in tool, in the order they are offered.
    const ALL: [Builtin; 2] = [Self::Remember, Self::Forget];

    /// The built-in the model calls by `name`, if any.
    pub(crate) fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.name() == name)
    }

    /// The name the model sees.
    fn name(self) -> &'static str {
        match self {
            Self::Remember => "mcpcord__remember",
            Self::Forget => "mcpcord__forget",
        }
    }

    /// The tool's own name (as switched, granted and audited, under [`BUILTIN_SERVER`]).
    fn tool(self) -> &'static str {
        match self {
            Self::Remember => "remember",
            Self::Forget => "forget",
        }
    }

    /// What the model is told of it.
    fn spec(self) -> ToolSpec {
        let (description, fact) = match self {
            Self::Remember => (
                "Remember a fact about the person you are talking with, for later \
                 conversations. Only call it when they ask you to remember something.",
                "The fact, short, in the third person (\"likes green tea\")",
            ),
            Self::Forget => (
                "Forget a fact you remembered about the person you are talking with, when \
                 they ask you to.",
                "The fact's words, or its #id",
            ),
        };
        ToolSpec {
            name: self.name().to_owned(),
            description: description.to_owned(),
            parameters: json!({
                "type": "object",
                "properties": { "fact": { "type": "string", "description": fact } },
                "required": ["fact"],
            }),
        }
    }
}

/// The built-in tools offered in a turn: none switched off in the channel or not granted.
pub(crate) fn offered(disabled: &[DisabledTool], grants: &Grants) -> Vec<ToolSpec> {
    Builtin::ALL
        .into_iter()
        .filter(|b| !is_disabled(disabled, BUILTIN_SERVER, b.tool()))
        .filter(|b| grants.may_use_tool(BUILTIN_SERVER, b.tool()))
        .map(Builtin::spec)
        .collect()
}

/// Whether `name` is a built-in's: an MCP tool exposed under it is not offered.
pub(crate) fn reserved(name: &str) -> bool {
    Builtin::named(name).is_some()
}

impl ToolRun {
    /// Runs built-in `builtin` as call number `index` of the turn, reporting it like any call.
    pub(crate) async fn builtin(
        &self,
        index: usize,
        builtin: Builtin,
        call: &ToolCall,
    ) -> CallResult {
        let (server, tool) = (BUILTIN_SERVER.to_owned(), builtin.tool().to_owned());
        if is_disabled(&self.disabled, &server, &tool) {
            return self
                .refuse(index, server, tool, call, Refusal::Disabled)
                .await;
        }
        if !self.grants.may_use_tool(&server, &tool) {
            return self
                .refuse(index, server, tool, call, Refusal::NotGranted)
                .await;
        }
        let started = std::time::Instant::now();
        self.send(TurnEvent::ToolStarted {
            call: index,
            server: server.clone(),
            tool: tool.clone(),
            arguments: call.arguments.clone(),
        })
        .await;
        let outcome = self.run_builtin(builtin, &call.arguments).await;
        let label = if outcome.is_ok() { "ok" } else { "error" };
        crate::telemetry::tool_call(&server, &tool, label, started.elapsed());
        self.audit(&server, &tool, call, None, label);
        let content = outcome.unwrap_or_else(|error| format!("Error: {error}"));
        self.send(TurnEvent::ToolFinished {
            call: index,
            ok: label == "ok",
            elapsed: started.elapsed(),
            summary: summary(&content),
        })
        .await;
        text(content)
    }

    /// What `builtin` does with `arguments`: the text the model gets back, or why it failed.
    async fn run_builtin(&self, builtin: Builtin, arguments: &Value) -> Result<String, String> {
        let Some(user) = self.user else {
            return Err("nobody is known in this conversation to remember anything about".into());
        };
        let Some(fact) = arguments.get("fact").and_then(Value::as_str) else {
            return Err("the argument `fact` (a string) is missing".into());
        };
        let engine = Engine::from_inner(self.inner.clone());
        match builtin {
            Builtin::Remember => engine
                .remember(user, self.guild, fact, self.asked)
                .await
                .map(|fact| {
                    format!(
                        "Remembered (#{}): {}. They can see and remove it with /memory.",
                        fact.id, fact.text
                    )
                }),
            Builtin::Forget => engine
                .forget_facts(user, self.guild, fact)
                .await
                .map(|gone| {
                    let texts: Vec<&str> = gone.iter().map(|f| f.text.as_str()).collect();
                    format!("Forgotten: {}", texts.join("; "))
                }),
        }
        .map_err(|error| error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_ins_are_named_apart_and_offered_as_switched_and_granted() {
        assert_eq!(Builtin::named("mcpcord__remember"), Some(Builtin::Remember));
        assert_eq!(Builtin::named("remember"), None);
        assert!(reserved("mcpcord__forget") && !reserved("forget"));
        let all = offered(&[], &Grants::everything());
        let names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["mcpcord__remember", "mcpcord__forget"]);
        assert_eq!(all[0].parameters["required"], json!(["fact"]));
        assert!(offered(&[], &Grants::nothing()).is_empty());
    }
}
