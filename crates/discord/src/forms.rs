//! MCP form requests as Discord modals, and the submitted text back as typed JSON.
//!
//! Owns the translation of an elicitation's requested schema (a flat JSON Schema object of
//! strings, numbers, integers, booleans and enums) into at most [`MAX_MODAL_FIELDS`] text fields
//! ([`form_fields`]), and of the strings a person typed into the JSON object the server expects
//! ([`form_values`]), checked against the schema with a message the person can act on.

use serde_json::{Map, Number, Value};

use crate::components::{CUSTOM_ID_LIMIT, FormField, MAX_MODAL_FIELDS};

/// A string field longer than this (or unbounded) gets a multi-line input.
pub const SHORT_TEXT_MAX: u64 = 100;

/// Why a schema cannot be shown as a modal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormError {
    /// Not an object schema with properties.
    #[error("the form is not a JSON Schema object with properties")]
    NotAnObject,
    /// More fields than a modal holds.
    #[error("the form has {0} fields; Discord forms hold at most {MAX_MODAL_FIELDS}")]
    TooManyFields(usize),
    /// A field of a kind a text input cannot carry (an array, an object).
    #[error("the field {0:?} is not a string, number, integer or boolean")]
    Unsupported(String),
    /// A field name too long for a custom id.
    #[error("the field name {0:?} is too long")]
    NameTooLong(String),
}

/// The modal fields for `schema`.
pub fn form_fields(schema: &Value) -> Result<Vec<FormField>, FormError> {
    let properties = properties(schema)?;
    if properties.len() > MAX_MODAL_FIELDS {
        return Err(FormError::TooManyFields(properties.len()));
    }
    let required = required(schema);
    properties
        .iter()
        .map(|(key, property)| field(key, property, required.contains(key)))
        .collect()
}

/// The modal field for `property` named `key`.
fn field(key: &str, property: &Value, required: bool) -> Result<FormField, FormError> {
    if key.chars().count() > CUSTOM_ID_LIMIT {
        return Err(FormError::NameTooLong(key.to_owned()));
    }
    let kind = kind(property).ok_or_else(|| FormError::Unsupported(key.to_owned()))?;
    let description = match (text_of(property, "description"), hint(&kind)) {
        (Some(d), Some(h)) => Some(format!("{d} ({h})")),
        (Some(d), None) => Some(d.to_owned()),
        (None, hint) => hint,
    };
    let long = matches!(kind, Kind::Text)
        && property
            .get("maxLength")
            .and_then(Value::as_u64)
            .is_none_or(|max| max > SHORT_TEXT_MAX);
    Ok(FormField {
        key: key.to_owned(),
        label: text_of(property, "title").unwrap_or(key).to_owned(),
        description,
        required,
        long,
        value: property.get("default").and_then(default_text),
    })
}

/// A non-empty text attribute of `property`.
fn text_of<'a>(property: &'a Value, name: &str) -> Option<&'a str> {
    property
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// What a field of `kind` takes, when its label alone does not say.
fn hint(kind: &Kind) -> Option<String> {
    match kind {
        Kind::Choice(options) => Some(format!("One of: {}", options.join(", "))),
        Kind::Integer => Some("A whole number".to_owned()),
        Kind::Number => Some("A number".to_owned()),
        Kind::Boolean => Some("yes or no".to_owned()),
        Kind::Text => None,
    }
}

/// A default value as the text a field starts with.
fn default_text(default: &Value) -> Option<String> {
    match default {
        Value::String(s) => Some(s.clone()),
        Value::Bool(true) => Some("yes".to_owned()),
        Value::Bool(false) => Some("no".to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The JSON object for what was submitted (`(field key, text)` pairs), or a message saying
/// what to fix. Empty optional fields are left out.
pub fn form_values(schema: &Value, submitted: &[(String, String)]) -> Result<Value, String> {
    let properties = properties(schema).map_err(|e| e.to_string())?;
    let required = required(schema);
    let mut out = Map::new();
    for (key, property) in properties {
        let label = property.get("title").and_then(Value::as_str).unwrap_or(key);
        let typed = submitted
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.trim())
            .unwrap_or("");
        if typed.is_empty() {
            if required.contains(key) {
                return Err(format!("“{label}” is required."));
            }
            continue;
        }
        out.insert(key.clone(), value_of(label, property, typed)?);
    }
    Ok(Value::Object(out))
}

/// The JSON value of `typed` into the field `label` described by `property`, or what to fix.
fn value_of(label: &str, property: &Value, typed: &str) -> Result<Value, String> {
    let kind = kind(property).ok_or_else(|| format!("“{label}” cannot be filled in here."))?;
    match kind {
        Kind::Text => text_value(label, property, typed),
        Kind::Choice(options) => options
            .iter()
            .find(|o| o.eq_ignore_ascii_case(typed))
            .map(|chosen| Value::String(chosen.clone()))
            .ok_or_else(|| format!("“{label}” must be one of: {}.", options.join(", "))),
        Kind::Integer => integer_value(label, property, typed),
        Kind::Number => number_value(label, property, typed),
        Kind::Boolean => boolean_value(label, typed),
    }
}

/// A whole number within the field's bounds.
fn integer_value(label: &str, property: &Value, typed: &str) -> Result<Value, String> {
    let n: i64 = typed
        .parse()
        .map_err(|_| format!("“{label}” must be a whole number."))?;
    in_range(label, n as f64, property)?;
    Ok(Value::Number(n.into()))
}

/// Yes or no, in the words people type.
fn boolean_value(label: &str, typed: &str) -> Result<Value, String> {
    match typed.to_lowercase().as_str() {
        "yes" | "y" | "true" | "1" | "on" => Ok(Value::Bool(true)),
        "no" | "n" | "false" | "0" | "off" => Ok(Value::Bool(false)),
        _ => Err(format!("“{label}” must be yes or no.")),
    }
}

/// A text within the field's `minLength` and `maxLength`.
fn text_value(label: &str, property: &Value, typed: &str) -> Result<Value, String> {
    let length = typed.chars().count() as u64;
    let bound = |name: &str, default: u64| {
        property
            .get(name)
            .and_then(Value::as_u64)
            .unwrap_or(default)
    };
    let (min, max) = (bound("minLength", 0), bound("maxLength", u64::MAX));
    if length < min || length > max {
        return Err(format!("“{label}” must be {min} to {max} characters long."));
    }
    Ok(Value::String(typed.to_owned()))
}

/// A finite number within the field's bounds.
fn number_value(label: &str, property: &Value, typed: &str) -> Result<Value, String> {
    let n: f64 = typed
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite())
        .ok_or_else(|| format!("“{label}” must be a number."))?;
    in_range(label, n, property)?;
    Ok(Value::Number(Number::from_f64(n).expect("finite")))
}

enum Kind {
    Text,
    Choice(Vec<String>),
    Integer,
    Number,
    Boolean,
}

fn kind(property: &Value) -> Option<Kind> {
    let strings = |values: &Value| -> Option<Vec<String>> {
        values
            .as_array()?
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    if let Some(options) = property.get("enum").and_then(strings) {
        return Some(Kind::Choice(options));
    }
    if let Some(one_of) = property.get("oneOf").and_then(Value::as_array) {
        let options: Option<Vec<String>> = one_of
            .iter()
            .map(|o| o.get("const").and_then(Value::as_str).map(str::to_owned))
            .collect();
        return options.map(Kind::Choice);
    }
    match property.get("type").and_then(Value::as_str) {
        Some("string") => Some(Kind::Text),
        Some("integer") => Some(Kind::Integer),
        Some("number") => Some(Kind::Number),
        Some("boolean") => Some(Kind::Boolean),
        _ => None,
    }
}

fn properties(schema: &Value) -> Result<&Map<String, Value>, FormError> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .filter(|p| !p.is_empty())
        .ok_or(FormError::NotAnObject)
}

fn required(schema: &Value) -> Vec<String> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn in_range(label: &str, n: f64, property: &Value) -> Result<(), String> {
    let min = property.get("minimum").and_then(Value::as_f64);
    let max = property.get("maximum").and_then(Value::as_f64);
    if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
        let bound = |b: Option<f64>| b.map_or("…".to_owned(), |b| b.to_string());
        return Err(format!(
            "“{label}” must be between {} and {}.",
            bound(min),
            bound(max)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::components::{CustomId, modal};
    use serde_json::json;

    fn seat_schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "name": {"type": "string", "title": "Your name", "maxLength": 50},
                "notes": {"type": "string", "description": "Anything we should know"},
                "seat": {"type": "string", "enum": ["window", "aisle"], "default": "aisle"},
                "bags": {"type": "integer", "minimum": 0, "maximum": 3},
                "vegetarian": {"type": "boolean", "default": false}
            },
            "required": ["name", "seat"]
        })
    }

    #[test]
    fn a_flat_schema_becomes_modal_fields() {
        let fields = form_fields(&seat_schema()).unwrap();
        let keys: Vec<&str> = fields.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(keys, ["bags", "name", "notes", "seat", "vegetarian"]);
        let name = &fields[1];
        assert_eq!(
            (name.label.as_str(), name.required, name.long),
            ("Your name", true, false)
        );
        assert!(fields[2].long, "unbounded text is multi-line");
        assert_eq!(
            fields[3].description.as_deref(),
            Some("One of: window, aisle")
        );
        assert_eq!(fields[3].value.as_deref(), Some("aisle"));
        assert_eq!(fields[4].value.as_deref(), Some("no"));
        modal(
            CustomId::ElicitForm { turn: 1, call: 0 },
            "travel asks",
            &fields,
        )
        .unwrap();
    }

    #[test]
    fn submitted_text_becomes_typed_json() {
        let submitted = [
            ("name", "Ada"),
            ("seat", "Window"),
            ("bags", "2"),
            ("vegetarian", "yes"),
            ("notes", ""),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        assert_eq!(
            form_values(&seat_schema(), &submitted).unwrap(),
            json!({"name": "Ada", "seat": "window", "bags": 2, "vegetarian": true})
        );
        let bad = |pairs: &[(&str, &str)]| {
            let pairs: Vec<(String, String)> = pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            form_values(&seat_schema(), &pairs).unwrap_err()
        };
        assert_eq!(bad(&[("seat", "aisle")]), "“Your name” is required.");
        assert_eq!(
            bad(&[("name", "A"), ("seat", "middle")]),
            "“seat” must be one of: window, aisle."
        );
        assert_eq!(
            bad(&[("name", "A"), ("seat", "aisle"), ("bags", "4")]),
            "“bags” must be between 0 and 3."
        );
        assert_eq!(
            bad(&[("name", "A"), ("seat", "aisle"), ("bags", "two")]),
            "“bags” must be a whole number."
        );
        assert_eq!(
            bad(&[("name", "A"), ("seat", "aisle"), ("vegetarian", "maybe")]),
            "“vegetarian” must be yes or no."
        );
    }

    #[test]
    fn schemas_a_modal_cannot_carry_are_refused() {
        assert_eq!(
            form_fields(&json!({"type": "object"})),
            Err(FormError::NotAnObject)
        );
        let six: Map<String, Value> = (0..6)
            .map(|i| (format!("f{i}"), json!({"type": "string"})))
            .collect();
        assert_eq!(
            form_fields(&json!({"properties": six})),
            Err(FormError::TooManyFields(6))
        );
        assert_eq!(
            form_fields(&json!({"properties": {"tags": {"type": "array"}}})),
            Err(FormError::Unsupported("tags".into()))
        );
        let choice = json!({"properties": {"size": {"type": "string", "oneOf": [{"const": "s", "title": "Small"}, {"const": "l", "title": "Large"}]}}});
        assert_eq!(
            form_fields(&choice).unwrap()[0].description.as_deref(),
            Some("One of: s, l")
        );
    }
}
