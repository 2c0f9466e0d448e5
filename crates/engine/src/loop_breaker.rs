//! Breaks tool loops: the model calling the same tool with the same arguments again.

use std::collections::HashSet;

use serde_json::Value;

/// Remembers the calls made in one turn.
#[derive(Debug, Default)]
pub struct LoopBreaker {
    seen: HashSet<(String, String)>,
}

impl LoopBreaker {
    /// Records `tool(arguments)`; false if this exact call was made before in the turn.
    pub fn first_time(&mut self, tool: &str, arguments: &Value) -> bool {
        self.seen.insert((tool.to_string(), canonical(arguments)))
    }
}

/// JSON with object keys sorted, so `{"a":1,"b":2}` and `{"b":2,"a":1}` are the same call.
fn canonical(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::String(k.clone()), canonical(&map[k])))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(canonical).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_same_call_twice_is_a_loop_whatever_the_key_order() {
        let mut breaker = LoopBreaker::default();
        assert!(breaker.first_time("add", &json!({"a": 1, "b": 2})));
        assert!(breaker.first_time("add", &json!({"a": 1, "b": 3})));
        assert!(!breaker.first_time("add", &json!({"b": 2, "a": 1})));
        assert!(breaker.first_time("echo", &json!({"a": 1, "b": 2})));
    }
}
