//! Discord's documented limits on what a bot sends (message content, embeds, components,
//! autocomplete choices, modals, commands), enforced on top of the OpenAPI spec, which is looser
//! (it allows 4000 characters of content, for example).

use super::errors::FormErrors;
use serde_json::Value;
use std::collections::HashSet;
use std::time::Duration;

/// Characters of message content a bot may send.
pub const MAX_CONTENT_LENGTH: usize = 2000;
/// Embeds in one message.
pub const MAX_EMBEDS: usize = 10;
/// Characters of an embed title.
pub const MAX_EMBED_TITLE: usize = 256;
/// Characters of an embed description.
pub const MAX_EMBED_DESCRIPTION: usize = 4096;
/// Fields in one embed.
pub const MAX_EMBED_FIELDS: usize = 25;
/// Characters of an embed field name.
pub const MAX_EMBED_FIELD_NAME: usize = 256;
/// Characters of an embed field value.
pub const MAX_EMBED_FIELD_VALUE: usize = 1024;
/// Characters of an embed footer text.
pub const MAX_EMBED_FOOTER_TEXT: usize = 2048;
/// Characters of an embed author name.
pub const MAX_EMBED_AUTHOR_NAME: usize = 256;
/// Characters of all embed text (titles, descriptions, field names and values, footers,
/// author names) in one message.
pub const MAX_EMBED_TOTAL: usize = 6000;
/// Top-level action rows in a message (without the components-v2 flag).
pub const MAX_ACTION_ROWS: usize = 5;
/// Buttons in one action row.
pub const MAX_ROW_COMPONENTS: usize = 5;
/// Components in a message with the components-v2 flag.
pub const MAX_COMPONENTS_V2_TOTAL: usize = 40;
/// Options in a select menu.
pub const MAX_SELECT_OPTIONS: usize = 25;
/// Choices in an autocomplete result.
pub const MAX_AUTOCOMPLETE_CHOICES: usize = 25;
/// Characters of an autocomplete or command option choice name.
pub const MAX_CHOICE_NAME: usize = 100;
/// Characters of a component custom id.
pub const MAX_CUSTOM_ID: usize = 100;
/// Characters of a button label.
pub const MAX_BUTTON_LABEL: usize = 80;
/// Characters of a select menu placeholder.
pub const MAX_SELECT_PLACEHOLDER: usize = 150;
/// Characters of a modal title.
pub const MAX_MODAL_TITLE: usize = 45;
/// Top-level components in a modal.
pub const MAX_MODAL_COMPONENTS: usize = 5;
/// Global chat-input commands per application (and per guild).
pub const MAX_COMMANDS: usize = 100;
/// Options of one command.
pub const MAX_COMMAND_OPTIONS: usize = 25;
/// Characters of a command or option name.
pub const MAX_COMMAND_NAME: usize = 32;
/// Characters of a command or option description.
pub const MAX_COMMAND_DESCRIPTION: usize = 100;
/// Time a bot has to send the first response to an interaction.
pub const INTERACTION_DEADLINE: Duration = Duration::from_secs(3);
/// How long an interaction token works for followups.
pub const INTERACTION_TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// Message flag: only the invoking user sees the message.
pub const FLAG_EPHEMERAL: u64 = 1 << 6;
/// Message flag: the message is a deferred interaction response ("thinking").
pub const FLAG_LOADING: u64 = 1 << 7;
/// Message flag: the message uses the components-v2 layout.
pub const FLAG_IS_COMPONENTS_V2: u64 = 1 << 15;

const COMPONENT_ACTION_ROW: u64 = 1;
const COMPONENT_BUTTON: u64 = 2;
const COMPONENT_STRING_SELECT: u64 = 3;
const SELECT_TYPES: [u64; 5] = [3, 5, 6, 7, 8];

fn chars(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.chars().count())
}

fn sub(path: &[String], seg: impl ToString) -> Vec<String> {
    let mut p = path.to_vec();
    p.push(seg.to_string());
    p
}

fn check_len(errors: &mut FormErrors, path: Vec<String>, v: Option<&Value>, max: usize) {
    if let Some(v) = v
        && chars(v) > max
    {
        errors.max_length(&path, max);
    }
}

/// Checks a message-shaped body (create, edit, webhook, interaction data) found at `path`.
pub(crate) fn check_message(body: &Value, path: &[String], errors: &mut FormErrors) {
    let Some(obj) = body.as_object() else { return };
    check_len(
        errors,
        sub(path, "content"),
        obj.get("content"),
        MAX_CONTENT_LENGTH,
    );
    if let Some(embeds) = obj.get("embeds").and_then(Value::as_array) {
        check_embeds(embeds, &sub(path, "embeds"), errors);
    }
    let flags = obj.get("flags").and_then(Value::as_u64).unwrap_or(0);
    if let Some(components) = obj.get("components").and_then(Value::as_array) {
        check_components(
            components,
            flags & FLAG_IS_COMPONENTS_V2 != 0,
            &sub(path, "components"),
            errors,
        );
    }
}

fn check_embeds(embeds: &[Value], path: &[String], errors: &mut FormErrors) {
    if embeds.len() > MAX_EMBEDS {
        errors.max_length(path, MAX_EMBEDS);
    }
    let mut total = 0;
    for (i, embed) in embeds.iter().enumerate() {
        let p = sub(path, i);
        let title = embed.get("title");
        let description = embed.get("description");
        check_len(errors, sub(&p, "title"), title, MAX_EMBED_TITLE);
        check_len(
            errors,
            sub(&p, "description"),
            description,
            MAX_EMBED_DESCRIPTION,
        );
        total += title.map_or(0, chars) + description.map_or(0, chars);
        if let Some(text) = embed.get("footer").and_then(|f| f.get("text")) {
            check_len(
                errors,
                sub(&sub(&p, "footer"), "text"),
                Some(text),
                MAX_EMBED_FOOTER_TEXT,
            );
            total += chars(text);
        }
        if let Some(name) = embed.get("author").and_then(|a| a.get("name")) {
            check_len(
                errors,
                sub(&sub(&p, "author"), "name"),
                Some(name),
                MAX_EMBED_AUTHOR_NAME,
            );
            total += chars(name);
        }
        if let Some(fields) = embed.get("fields").and_then(Value::as_array) {
            let fp = sub(&p, "fields");
            if fields.len() > MAX_EMBED_FIELDS {
                errors.max_length(&fp, MAX_EMBED_FIELDS);
            }
            for (j, field) in fields.iter().enumerate() {
                let name = field.get("name");
                let value = field.get("value");
                check_len(
                    errors,
                    sub(&sub(&fp, j), "name"),
                    name,
                    MAX_EMBED_FIELD_NAME,
                );
                check_len(
                    errors,
                    sub(&sub(&fp, j), "value"),
                    value,
                    MAX_EMBED_FIELD_VALUE,
                );
                total += name.map_or(0, chars) + value.map_or(0, chars);
            }
        }
    }
    if total > MAX_EMBED_TOTAL {
        errors.add(
            path,
            "MAX_EMBED_SIZE_EXCEEDED",
            &format!("Embed size exceeds maximum size of {MAX_EMBED_TOTAL}"),
        );
    }
}

fn check_components(components: &[Value], v2: bool, path: &[String], errors: &mut FormErrors) {
    if v2 {
        let total = count_components(components);
        if total > MAX_COMPONENTS_V2_TOTAL {
            errors.max_length(path, MAX_COMPONENTS_V2_TOTAL);
        }
    } else if components.len() > MAX_ACTION_ROWS {
        errors.max_length(path, MAX_ACTION_ROWS);
    }
    let mut seen = HashSet::new();
    for (i, component) in components.iter().enumerate() {
        check_component(component, &sub(path, i), &mut seen, errors);
    }
}

fn count_components(components: &[Value]) -> usize {
    components
        .iter()
        .map(|c| {
            1 + c
                .get("components")
                .and_then(Value::as_array)
                .map_or(0, |inner| count_components(inner))
                + c.get("accessory").map_or(0, |_| 1)
        })
        .sum()
}

fn check_component(
    component: &Value,
    path: &[String],
    seen: &mut HashSet<String>,
    errors: &mut FormErrors,
) {
    let kind = component.get("type").and_then(Value::as_u64).unwrap_or(0);
    if let Some(custom_id) = component.get("custom_id") {
        check_len(
            errors,
            sub(path, "custom_id"),
            Some(custom_id),
            MAX_CUSTOM_ID,
        );
        if let Some(id) = custom_id.as_str()
            && !seen.insert(id.to_owned())
        {
            errors.add(
                &sub(path, "custom_id"),
                "COMPONENT_CUSTOM_ID_DUPLICATED",
                "Component custom id cannot be duplicated",
            );
        }
    }
    match kind {
        COMPONENT_ACTION_ROW => {
            let inner = component
                .get("components")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let ip = sub(path, "components");
            if inner.len() > MAX_ROW_COMPONENTS {
                errors.max_length(&ip, MAX_ROW_COMPONENTS);
            }
            let has_select = inner.iter().any(|c| {
                c.get("type")
                    .and_then(Value::as_u64)
                    .is_some_and(|t| SELECT_TYPES.contains(&t))
            });
            if has_select && inner.len() > 1 {
                errors.add(
                    &ip,
                    "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                    "The specified component exceeds the maximum width",
                );
            }
            for (i, c) in inner.iter().enumerate() {
                check_component(c, &sub(&ip, i), seen, errors);
            }
        }
        COMPONENT_BUTTON => {
            check_len(
                errors,
                sub(path, "label"),
                component.get("label"),
                MAX_BUTTON_LABEL,
            );
        }
        t if SELECT_TYPES.contains(&t) => {
            check_len(
                errors,
                sub(path, "placeholder"),
                component.get("placeholder"),
                MAX_SELECT_PLACEHOLDER,
            );
            if t == COMPONENT_STRING_SELECT
                && let Some(options) = component.get("options").and_then(Value::as_array)
                && options.len() > MAX_SELECT_OPTIONS
            {
                errors.max_length(&sub(path, "options"), MAX_SELECT_OPTIONS);
            }
            for key in ["min_values", "max_values"] {
                if component
                    .get(key)
                    .and_then(Value::as_u64)
                    .is_some_and(|n| n as usize > MAX_SELECT_OPTIONS)
                {
                    errors.add(
                        &sub(path, key),
                        "NUMBER_TYPE_MAX",
                        &format!("int value should be less than or equal to {MAX_SELECT_OPTIONS}."),
                    );
                }
            }
        }
        _ => {
            if let Some(inner) = component.get("components").and_then(Value::as_array) {
                let ip = sub(path, "components");
                for (i, c) in inner.iter().enumerate() {
                    check_component(c, &sub(&ip, i), seen, errors);
                }
            }
        }
    }
}

/// Checks autocomplete result data (`{"choices": [...]}`) found at `path`.
pub(crate) fn check_autocomplete(data: &Value, path: &[String], errors: &mut FormErrors) {
    if let Some(choices) = data.get("choices").and_then(Value::as_array) {
        let cp = sub(path, "choices");
        if choices.len() > MAX_AUTOCOMPLETE_CHOICES {
            errors.max_length(&cp, MAX_AUTOCOMPLETE_CHOICES);
        }
        for (i, choice) in choices.iter().enumerate() {
            check_len(
                errors,
                sub(&sub(&cp, i), "name"),
                choice.get("name"),
                MAX_CHOICE_NAME,
            );
        }
    }
}

/// Checks modal data (`{"custom_id", "title", "components"}`) found at `path`.
pub(crate) fn check_modal(data: &Value, path: &[String], errors: &mut FormErrors) {
    check_len(
        errors,
        sub(path, "title"),
        data.get("title"),
        MAX_MODAL_TITLE,
    );
    check_len(
        errors,
        sub(path, "custom_id"),
        data.get("custom_id"),
        MAX_CUSTOM_ID,
    );
    if let Some(components) = data.get("components").and_then(Value::as_array)
        && components.len() > MAX_MODAL_COMPONENTS
    {
        errors.max_length(&sub(path, "components"), MAX_MODAL_COMPONENTS);
    }
}

/// Checks one application command (name, description, options, choices) found at `path`.
pub(crate) fn check_command(command: &Value, path: &[String], errors: &mut FormErrors) {
    let kind = command.get("type").and_then(Value::as_u64).unwrap_or(1);
    if let Some(name) = command.get("name").and_then(Value::as_str) {
        let valid = !name.is_empty()
            && name.chars().count() <= MAX_COMMAND_NAME
            && (kind != 1
                || name
                    .chars()
                    .all(|c| c == '-' || c == '_' || (c.is_alphanumeric() && !c.is_uppercase())));
        if !valid {
            errors.add(
                &sub(path, "name"),
                "APPLICATION_COMMAND_INVALID_NAME",
                "Command name is invalid",
            );
        }
    }
    check_len(
        errors,
        sub(path, "description"),
        command.get("description"),
        MAX_COMMAND_DESCRIPTION,
    );
    if let Some(options) = command.get("options").and_then(Value::as_array) {
        let op = sub(path, "options");
        if options.len() > MAX_COMMAND_OPTIONS {
            errors.max_length(&op, MAX_COMMAND_OPTIONS);
        }
        for (i, option) in options.iter().enumerate() {
            check_command(option, &sub(&op, i), errors);
            if let Some(choices) = option.get("choices").and_then(Value::as_array)
                && choices.len() > MAX_AUTOCOMPLETE_CHOICES
            {
                errors.max_length(&sub(&sub(&op, i), "choices"), MAX_AUTOCOMPLETE_CHOICES);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errs(body: Value) -> Value {
        let mut e = FormErrors::new();
        check_message(&body, &[], &mut e);
        e.into_value()
    }

    #[test]
    fn content_over_limit() {
        let e = errs(json!({"content": "x".repeat(2001)}));
        assert_eq!(
            e["content"]["_errors"][0]["code"],
            json!("BASE_TYPE_MAX_LENGTH")
        );
        assert!(
            errs(json!({"content": "é".repeat(2000)}))
                .as_object()
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn embed_total_and_rows() {
        let big = json!({"description": "x".repeat(4000), "title": "t"});
        let e = errs(json!({"embeds": [big.clone(), big]}));
        assert_eq!(
            e["embeds"]["_errors"][0]["code"],
            json!("MAX_EMBED_SIZE_EXCEEDED")
        );
        let button =
            |i: usize| json!({"type": 2, "style": 1, "label": "b", "custom_id": format!("b{i}")});
        let row = json!({"type": 1, "components": (0..6).map(button).collect::<Vec<_>>()});
        let e = errs(json!({"components": [row]}));
        assert!(e["components"]["0"]["components"]["_errors"].is_array());
    }
}
