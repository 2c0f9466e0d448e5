//! What keys exist where, read from the JSON schema of the raw configuration.
//!
//! Used for "did you mean" hints on unknown keys and to type environment overrides.

use std::sync::LazyLock;

use serde_json::Value;

use super::raw::RawConfig;

static SCHEMA: LazyLock<Value> = LazyLock::new(|| schemars::schema_for!(RawConfig).to_value());

/// The schema node for the key at `path` (segments such as `["backends", "0", "url"]`).
fn node_at(path: &[&str]) -> Option<&'static Value> {
    let root: &'static Value = &SCHEMA;
    let mut node = resolve(root, root);
    for segment in path {
        node = resolve(root, child(node, segment)?);
    }
    Some(node)
}

/// Follows `$ref` and unwraps `Option`'s `anyOf: [T, null]`.
fn resolve<'a>(root: &'a Value, mut node: &'a Value) -> &'a Value {
    loop {
        if let Some(reference) = node.get("$ref").and_then(Value::as_str) {
            let name = reference.rsplit('/').next().unwrap_or_default();
            match root.get("$defs").and_then(|defs| defs.get(name)) {
                Some(target) => node = target,
                None => return node,
            }
        } else if let Some(variants) = node.get("anyOf").and_then(Value::as_array) {
            match variants
                .iter()
                .find(|v| v.get("type") != Some(&Value::from("null")))
            {
                Some(inner) => node = inner,
                None => return node,
            }
        } else {
            return node;
        }
    }
}

fn child<'a>(node: &'a Value, segment: &str) -> Option<&'a Value> {
    if let Some(property) = node.get("properties").and_then(|p| p.get(segment)) {
        return Some(property);
    }
    if let Some(items) = node.get("items") {
        return segment.parse::<usize>().is_ok().then_some(items);
    }
    node.get("additionalProperties").filter(|v| v.is_object())
}

/// The keys allowed in the table at `path`.
pub fn keys_at(path: &[&str]) -> Vec<&'static str> {
    node_at(path)
        .and_then(|node| node.get("properties"))
        .and_then(Value::as_object)
        .map(|props| props.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

/// The JSON type of the value at `path` (`string`, `integer`, `boolean`, `array`, …), if known.
pub fn type_at(path: &[&str]) -> Option<&'static str> {
    let node = node_at(path)?;
    match node.get("type")? {
        Value::String(kind) => Some(kind.as_str()),
        Value::Array(kinds) => kinds
            .iter()
            .filter_map(Value::as_str)
            .find(|k| *k != "null"),
        _ => None,
    }
}

/// The allowed key closest to `unknown`, when one is close enough to be a likely typo.
pub fn did_you_mean(unknown: &str, allowed: &[&'static str]) -> Option<&'static str> {
    allowed
        .iter()
        .map(|candidate| (strsim::jaro_winkler(unknown, candidate), *candidate))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys_in_nested_tables_lists_and_maps() {
        assert!(keys_at(&[]).contains(&"discord"));
        assert!(keys_at(&["discord"]).contains(&"token"));
        assert!(keys_at(&["backends", "3"]).contains(&"max_concurrency"));
        assert!(keys_at(&["mcp", "servers", "anything"]).contains(&"command"));
        assert_eq!(type_at(&["discord", "application_id"]), Some("integer"));
        assert_eq!(type_at(&["discord", "token"]), Some("string"));
        assert_eq!(
            type_at(&["mcp", "servers", "fs", "disabled"]),
            Some("boolean")
        );
        assert_eq!(type_at(&["discord", "intents"]), Some("array"));
    }

    #[test]
    fn suggests_close_keys_only() {
        let keys = keys_at(&["discord"]);
        assert_eq!(did_you_mean("tokne", &keys), Some("token"));
        assert_eq!(did_you_mean("zzzzzz", &keys), None);
    }
}
