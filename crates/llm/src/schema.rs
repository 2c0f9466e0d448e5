//! Tool parameter schemas made safe for model servers.
//!
//! Ollama silently drops JSON-Schema keywords it does not know, so a schema from an MCP server
//! is rewritten into the subset it keeps: `type, properties, required, items, enum,
//! description, anyOf`. Local `$ref`s are resolved, `oneOf` becomes `anyOf`, `allOf` is
//! merged, `const` becomes a one-value `enum`, an object without `properties` gets an empty one,
//! and boolean sub-schemas become permissive ones.

use serde_json::{Map, Value, json};

/// Keywords kept as they are (after their sub-schemas are sanitized).
pub const KEPT_KEYWORDS: [&str; 7] = [
    "type",
    "properties",
    "required",
    "items",
    "enum",
    "description",
    "anyOf",
];

/// How deep `$ref`s are followed before a recursive schema is cut off.
const MAX_DEPTH: usize = 16;

/// The sanitized form of a tool's `parameters` schema: always an object schema.
pub fn sanitize(schema: &Value) -> Value {
    let mut out = sanitize_node(schema, schema, 0);
    let object = out
        .as_object_mut()
        .expect("sanitize_node returns an object");
    if object.get("type").is_none_or(|t| t != "object") {
        // A tool's parameters are always an object; wrap anything else as permissive.
        return json!({"type": "object", "properties": {}});
    }
    object.entry("properties").or_insert_with(|| json!({}));
    out
}

fn sanitize_node(node: &Value, root: &Value, depth: usize) -> Value {
    let Some(map) = node.as_object() else {
        // `true`, `false`, or garbage: accept anything.
        return json!({});
    };
    if depth > MAX_DEPTH {
        return json!({});
    }
    if let Some(target) = map
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| resolve(root, r))
    {
        return referenced(target, map.get("description"), root, depth);
    }
    let mut out = Map::new();
    for (key, value) in map {
        keep(&mut out, key, value, root, depth);
    }
    if let Some(parts) = map.get("allOf").and_then(Value::as_array) {
        for part in parts {
            merge(&mut out, sanitize_node(part, root, depth + 1));
        }
    }
    if !out.contains_key("description")
        && let Some(title) = map.get("title")
    {
        out.insert("description".into(), title.clone());
    }
    complete_object(&mut out);
    Value::Object(out)
}

/// The schema a `$ref` points to, sanitized, with the referring node's `description`.
fn referenced(target: &Value, description: Option<&Value>, root: &Value, depth: usize) -> Value {
    let mut resolved = sanitize_node(target, root, depth + 1);
    if let (Some(description), Some(out)) = (description, resolved.as_object_mut()) {
        out.insert("description".into(), description.clone());
    }
    resolved
}

/// Copies `key` into `out` if Ollama keeps it (nested schemas sanitized, `oneOf` read as
/// `anyOf`, `const` as a one-value `enum`); drops it otherwise.
fn keep(out: &mut Map<String, Value>, key: &str, value: &Value, root: &Value, depth: usize) {
    let nested = |schema: &Value| sanitize_node(schema, root, depth + 1);
    match key {
        "type" | "enum" | "required" | "description" => {
            out.insert(key.to_owned(), value.clone());
        }
        "properties" => {
            let props = value
                .as_object()
                .map(|props| {
                    props
                        .iter()
                        .map(|(name, schema)| (name.clone(), nested(schema)))
                        .collect::<Map<_, _>>()
                })
                .unwrap_or_default();
            out.insert("properties".into(), Value::Object(props));
        }
        "items" => {
            out.insert("items".into(), nested(value));
        }
        "anyOf" | "oneOf" => {
            let variants: Vec<Value> = value
                .as_array()
                .map(|vs| vs.iter().map(nested).collect())
                .unwrap_or_default();
            out.insert("anyOf".into(), Value::Array(variants));
        }
        "const" => {
            out.insert("enum".into(), json!([value]));
        }
        _ => {}
    }
}

/// An object schema (by `type` or `properties`) gets both, as Ollama expects.
fn complete_object(out: &mut Map<String, Value>) {
    let is_object =
        out.get("type").is_some_and(|t| t == "object") || out.contains_key("properties");
    if is_object {
        out.entry("type").or_insert_with(|| json!("object"));
        out.entry("properties").or_insert_with(|| json!({}));
    }
}

/// Merges an `allOf` part into `out`: properties and required lists are joined.
fn merge(out: &mut Map<String, Value>, part: Value) {
    let Value::Object(part) = part else { return };
    for (key, value) in part {
        match (key.as_str(), out.get_mut(&key)) {
            ("properties", Some(Value::Object(existing))) => {
                if let Value::Object(more) = value {
                    existing.extend(more);
                }
            }
            ("required", Some(Value::Array(existing))) => {
                if let Value::Array(more) = value {
                    existing.extend(
                        more.into_iter()
                            .filter(|v| !existing.contains(v))
                            .collect::<Vec<_>>(),
                    );
                }
            }
            (_, Some(_)) => {}
            (_, None) => {
                out.insert(key, value);
            }
        }
    }
}

/// Resolves a local reference such as `#/$defs/Point` or `#/definitions/Point`.
fn resolve<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    root.pointer(pointer)
}

/// The request's tools in the `{"type": "function", "function": {…}}` shape both APIs take,
/// with sanitized parameter schemas.
pub(crate) fn function_tools(request: &crate::ChatRequest) -> Vec<Value> {
    request
        .tools
        .iter()
        .map(|t| {
            json!({
                "type": "function",
                "function": {"name": t.name, "description": t.description, "parameters": sanitize(&t.parameters)},
            })
        })
        .collect()
}

/// Whether `schema` uses only the keywords Ollama keeps (recursively).
pub fn is_sanitized(schema: &Value) -> bool {
    match schema {
        Value::Object(map) => map.iter().all(|(key, value)| {
            KEPT_KEYWORDS.contains(&key.as_str())
                && match key.as_str() {
                    "properties" => value
                        .as_object()
                        .is_some_and(|p| p.values().all(is_sanitized)),
                    "items" => is_sanitized(value),
                    "anyOf" => value
                        .as_array()
                        .is_some_and(|vs| vs.iter().all(is_sanitized)),
                    _ => true,
                }
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_what_ollama_keeps() {
        let schema = json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "title": "Args",
            "additionalProperties": false,
            "properties": {
                "path": {"type": "string", "format": "uri", "minLength": 1, "description": "Where"},
                "mode": {"const": "fast"},
                "count": {"type": ["integer", "null"], "minimum": 0, "default": 3},
                "tags": {"type": "array", "items": {"type": "string", "pattern": "^[a-z]+$"}},
                "any": true,
                "choice": {"oneOf": [{"type": "string"}, {"type": "number", "exclusiveMaximum": 3}]},
            },
            "required": ["path"],
        });
        let clean = sanitize(&schema);
        assert!(is_sanitized(&clean), "{clean:#}");
        assert_eq!(
            clean["properties"]["path"],
            json!({"type": "string", "description": "Where"})
        );
        assert_eq!(clean["properties"]["mode"], json!({"enum": ["fast"]}));
        assert_eq!(clean["properties"]["any"], json!({}));
        assert_eq!(
            clean["properties"]["choice"]["anyOf"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        assert_eq!(clean["required"], json!(["path"]));
        assert_eq!(clean["description"], "Args");
    }

    #[test]
    fn resolves_local_refs_and_survives_recursion() {
        let schema = json!({
            "type": "object",
            "properties": {
                "start": {"$ref": "#/$defs/Point", "description": "Start point"},
                "tree": {"$ref": "#/definitions/Node"},
            },
            "$defs": {"Point": {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]}},
            "definitions": {"Node": {"type": "object", "properties": {"child": {"$ref": "#/definitions/Node"}}}},
        });
        let clean = sanitize(&schema);
        assert!(is_sanitized(&clean), "{clean:#}");
        assert_eq!(
            clean["properties"]["start"]["properties"]["x"]["type"],
            "number"
        );
        assert_eq!(clean["properties"]["start"]["description"], "Start point");
        assert!(clean.get("$defs").is_none());
    }

    #[test]
    fn objects_always_have_properties_and_odd_roots_become_objects() {
        assert_eq!(
            sanitize(&json!({"type": "object"})),
            json!({"type": "object", "properties": {}})
        );
        assert_eq!(
            sanitize(&json!(true)),
            json!({"type": "object", "properties": {}})
        );
        let merged = sanitize(&json!({"allOf": [
            {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
            {"properties": {"b": {"type": "number"}}, "required": ["b"]},
        ]}));
        assert_eq!(merged["properties"].as_object().unwrap().len(), 2);
        assert_eq!(merged["required"], json!(["a", "b"]));
    }
}
