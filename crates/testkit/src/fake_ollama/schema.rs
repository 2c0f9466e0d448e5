//! The tool-definition check, stricter than Ollama: Ollama silently drops JSON-Schema keywords it
//! does not know from tool parameters, so the fake rejects them and proves the client sanitizes
//! its schemas. Kept: `type, properties, required, items, enum, description, anyOf`.

use serde_json::Value;

use super::errors::Reject;

/// The JSON-Schema keywords Ollama keeps in tool parameters.
pub const ALLOWED_SCHEMA_KEYWORDS: &[&str] = &[
    "type",
    "properties",
    "required",
    "items",
    "enum",
    "description",
    "anyOf",
];

/// Checks the `tools` array's shape (as Ollama parses it) and returns its definitions.
pub(crate) fn tools(req: &Value) -> Result<Vec<&Value>, Reject> {
    let list = match req.get("tools") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(Reject::bad_request("tools must be an array")),
    };
    for (i, tool) in list.iter().enumerate() {
        let kind = tool.get("type").and_then(Value::as_str);
        if kind.is_some_and(|k| k != "function") {
            return Err(Reject::bad_request(format!(
                "tools[{i}].type must be \"function\""
            )));
        }
        let name = tool
            .get("function")
            .and_then(|f| f.get("name"))
            .and_then(Value::as_str);
        if name.is_none_or(str::is_empty) {
            return Err(Reject::bad_request(format!(
                "tools[{i}].function.name is required"
            )));
        }
    }
    Ok(list.iter().collect())
}

/// Rejects tool parameter schemas that use keywords outside [`ALLOWED_SCHEMA_KEYWORDS`] or that
/// have a shape Ollama cannot read; the message names every offending place.
pub(crate) fn check_tool_schemas(tools: &[&Value]) -> Result<(), Reject> {
    let mut problems = Vec::new();
    for (i, tool) in tools.iter().enumerate() {
        match tool.get("function").and_then(|f| f.get("parameters")) {
            None | Some(Value::Null) => {}
            Some(schema) => walk(
                schema,
                &format!("tools[{i}].function.parameters"),
                &mut problems,
            ),
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(Reject::bad_request(format!(
        "tool parameter schema not accepted (Ollama keeps only {}): {}",
        ALLOWED_SCHEMA_KEYWORDS.join(", "),
        problems.join("; ")
    )))
}

/// Collects the problems of the schema at `at`.
fn walk(schema: &Value, at: &str, problems: &mut Vec<String>) {
    let Some(object) = schema.as_object() else {
        problems.push(format!("{at} is not a schema object"));
        return;
    };
    for (key, value) in object {
        let here = format!("{at}.{key}");
        if !ALLOWED_SCHEMA_KEYWORDS.contains(&key.as_str()) {
            problems.push(format!("{here}: unsupported keyword `{key}`"));
            continue;
        }
        match (key.as_str(), value) {
            ("properties", Value::Object(props)) => {
                for (name, sub) in props {
                    walk(sub, &format!("{here}.{name}"), problems);
                }
            }
            ("items", Value::Array(list)) | ("anyOf", Value::Array(list)) => {
                for (n, sub) in list.iter().enumerate() {
                    walk(sub, &format!("{here}[{n}]"), problems);
                }
            }
            ("items", sub) => walk(sub, &here, problems),
            ("type", Value::String(_)) | ("description", Value::String(_)) => {}
            ("type", Value::Array(list)) | ("required", Value::Array(list))
                if list.iter().all(Value::is_string) => {}
            ("enum", Value::Array(_)) => {}
            _ => problems.push(format!("{here}: unexpected value {value}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn finds_nested_unknown_keywords() {
        let tool = json!({"type": "function", "function": {"name": "f", "parameters": {
            "type": "object",
            "properties": {
                "when": {"type": "string", "format": "date-time"},
                "tags": {"type": "array", "items": {"type": "string", "minLength": 1}},
                "mode": {"anyOf": [{"type": "string", "enum": ["a"]}, {"$ref": "#/$defs/x"}]}
            },
            "required": ["when"],
            "additionalProperties": false
        }}});
        let err = check_tool_schemas(&[&tool]).unwrap_err();
        for needle in [
            "properties.when.format",
            "items.minLength",
            "anyOf[1].$ref",
            "parameters.additionalProperties",
        ] {
            assert!(err.message.contains(needle), "{needle} in {}", err.message);
        }
        assert!(!err.message.contains("properties.when.type"));
    }

    #[test]
    fn accepts_the_kept_keywords() {
        let tool = json!({"type": "function", "function": {"name": "f", "parameters": {
            "type": "object",
            "description": "d",
            "properties": {"a": {"type": ["string", "null"], "enum": ["x", null]}},
            "required": ["a"]
        }}});
        assert_eq!(check_tool_schemas(&[&tool]), Ok(()));
    }
}
