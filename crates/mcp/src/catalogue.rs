//! The one list of tools the model is offered: every server's tools that its policy offers,
//! under unique valid names, each mapped back to its server and original name.

use std::collections::{BTreeMap, HashMap};

use rmcp::model::Tool;
use serde::Serialize;
use serde_json::Value;

use crate::naming;
use crate::spec::{ApprovalPolicy, ToolHints, ToolPolicy};

/// One tool as offered to the model. The `llm` crate's tool spec is built from `name`,
/// `description` and `input_schema` (which it sanitizes for the backend).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ToolDescriptor {
    /// The exposed name: unique, `[A-Za-z0-9_-]{1,64}`.
    pub name: String,
    /// The server that has it.
    pub server: String,
    /// The server's own name for it (what is called).
    pub tool: String,
    /// Display title, when the server gives one.
    pub title: Option<String>,
    /// What it does, for the model.
    pub description: String,
    /// JSON Schema of its arguments, as the server sent it.
    pub input_schema: Value,
    /// JSON Schema of its structured output, when declared.
    pub output_schema: Option<Value>,
    /// Whether a person approves each call (never [`ApprovalPolicy::Deny`]: those are not here).
    pub approval: ApprovalPolicy,
    /// The server's hint that the tool only reads.
    pub read_only: Option<bool>,
    /// The server's hint that the tool may destroy data.
    pub destructive: Option<bool>,
}

/// The tool catalogue at one moment; rebuilt whenever a server's tool list changes.
#[derive(Clone, Debug, Default)]
pub struct Catalogue {
    tools: Vec<ToolDescriptor>,
    by_name: HashMap<String, usize>,
}

impl Catalogue {
    /// Every offered tool, by server name then in the server's order.
    pub fn tools(&self) -> &[ToolDescriptor] {
        &self.tools
    }

    /// The tool with this exposed name.
    pub fn get(&self, exposed: &str) -> Option<&ToolDescriptor> {
        self.by_name.get(exposed).map(|&i| &self.tools[i])
    }

    /// The tool `tool` (the server's own name) of `server`.
    pub fn find(&self, server: &str, tool: &str) -> Option<&ToolDescriptor> {
        self.tools
            .iter()
            .find(|t| t.server == server && t.tool == tool)
    }

    /// The tools of one server.
    pub fn of_server<'a>(&'a self, server: &'a str) -> impl Iterator<Item = &'a ToolDescriptor> {
        self.tools.iter().filter(move |t| t.server == server)
    }

    /// How many tools are offered.
    pub fn len(&self) -> usize {
        self.tools.len()
    }

    /// Whether no tool is offered.
    pub fn is_empty(&self) -> bool {
        self.tools.is_empty()
    }

    /// Builds the catalogue from each server's listed tools and its policy.
    pub(crate) fn build(listings: &BTreeMap<String, (ToolPolicy, Vec<Tool>)>) -> Catalogue {
        let mut offered = Vec::new();
        for (server, (policy, tools)) in listings {
            for tool in tools {
                let annotations = tool.annotations.as_ref();
                let hints = ToolHints {
                    read_only: annotations.and_then(|a| a.read_only_hint),
                    destructive: annotations.and_then(|a| a.destructive_hint),
                };
                let approval = policy.policy_with_hints(&tool.name, hints);
                if approval != ApprovalPolicy::Deny {
                    offered.push((server.clone(), tool, approval));
                }
            }
        }
        let pairs: Vec<(String, String)> = offered
            .iter()
            .map(|(server, tool, _)| (server.clone(), tool.name.to_string()))
            .collect();
        let names = naming::assign(&pairs);
        let tools: Vec<ToolDescriptor> = offered
            .into_iter()
            .zip(names)
            .map(|((server, tool, approval), name)| describe(name, server, tool, approval))
            .collect();
        let by_name = tools
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect();
        Catalogue { tools, by_name }
    }
}

fn describe(name: String, server: String, tool: &Tool, approval: ApprovalPolicy) -> ToolDescriptor {
    let annotations = tool.annotations.as_ref();
    ToolDescriptor {
        name,
        server,
        tool: tool.name.to_string(),
        title: tool
            .title
            .clone()
            .or_else(|| annotations.and_then(|a| a.title.clone())),
        description: tool.description.as_deref().unwrap_or_default().to_owned(),
        input_schema: Value::Object(tool.input_schema.as_ref().clone()),
        output_schema: tool
            .output_schema
            .as_ref()
            .map(|schema| Value::Object(schema.as_ref().clone())),
        approval,
        read_only: annotations.and_then(|a| a.read_only_hint),
        destructive: annotations.and_then(|a| a.destructive_hint),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn tool(name: &str) -> Tool {
        Tool::new(
            name.to_owned(),
            format!("the {name} tool"),
            Arc::new(Default::default()),
        )
    }

    #[test]
    fn denied_and_unlisted_tools_are_not_offered_and_names_map_back() {
        let mut listings = BTreeMap::new();
        let mut policy = ToolPolicy::default();
        policy.denied.insert("rm".into());
        policy.approval.insert("write".into(), ApprovalPolicy::Ask);
        listings.insert(
            "fs".to_owned(),
            (policy, vec![tool("read"), tool("write"), tool("rm")]),
        );
        let only = ToolPolicy {
            allowed: Some(["read".to_owned()].into()),
            ..ToolPolicy::default()
        };
        listings.insert("other".to_owned(), (only, vec![tool("read"), tool("x.y")]));
        let catalogue = Catalogue::build(&listings);
        let names: Vec<&str> = catalogue.tools().iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["fs__read", "write", "other__read"]);
        let write = catalogue.get("write").unwrap();
        assert_eq!(
            (write.server.as_str(), write.approval),
            ("fs", ApprovalPolicy::Ask)
        );
        assert_eq!(catalogue.get("other__read").unwrap().server, "other");
        assert!(catalogue.find("fs", "rm").is_none());
        assert_eq!(catalogue.of_server("fs").count(), 2);
    }
}
