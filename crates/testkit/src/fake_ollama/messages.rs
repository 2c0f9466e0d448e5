//! Checks of the chat messages in both dialects (native: string content, `images`, object tool
//! arguments, `tool_name`; OpenAI: content parts, string tool arguments), and what they tell the
//! fake: the last user message to echo, whether images are present, a prompt token estimate.

use base64::Engine as _;
use serde_json::Value;

use super::errors::Reject;
use super::script::estimate_tokens;

/// What the checks learned from a conversation.
#[derive(Debug, Default)]
pub(crate) struct Conversation {
    pub count: usize,
    pub has_images: bool,
    pub last_user: String,
    pub prompt_tokens: u64,
}

fn messages(req: &Value) -> Result<&[Value], Reject> {
    match req.get("messages") {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(list)) => Ok(list),
        Some(_) => Err(Reject::bad_request("messages must be an array")),
    }
}

fn role(i: usize, m: &Value, roles: &[&str]) -> Result<String, Reject> {
    match m.get("role").and_then(Value::as_str) {
        Some(r) if roles.contains(&r) => Ok(r.to_owned()),
        Some(r) => Err(Reject::bad_request(format!(
            "messages[{i}].role \"{r}\" is not one of {}",
            roles.join(", ")
        ))),
        None => Err(Reject::bad_request(format!(
            "messages[{i}].role is required"
        ))),
    }
}

/// Checks native `/api/chat` messages. Stricter than Ollama: roles must be known, tool messages
/// need `tool_name`, tool call arguments must be objects.
pub(crate) fn native_messages(req: &Value) -> Result<Conversation, Reject> {
    let list = messages(req)?;
    let mut conv = Conversation {
        count: list.len(),
        ..Conversation::default()
    };
    for (i, m) in list.iter().enumerate() {
        if !m.is_object() {
            return Err(Reject::bad_request(format!(
                "messages[{i}] must be an object"
            )));
        }
        let role = role(i, m, &["system", "user", "assistant", "tool"])?;
        let content = match m.get("content") {
            None | Some(Value::Null) => "",
            Some(Value::String(s)) => s.as_str(),
            Some(_) => {
                return Err(Reject::bad_request(format!(
                    "messages[{i}].content must be a string (the native API takes no content parts)"
                )));
            }
        };
        conv.has_images |= native_images(i, m)?;
        native_tool_calls(i, m)?;
        if role == "tool"
            && m.get("tool_name")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
        {
            return Err(Reject::bad_request(format!(
                "messages[{i}]: a tool message needs tool_name"
            )));
        }
        if role == "user" {
            content.clone_into(&mut conv.last_user);
        }
        conv.prompt_tokens += estimate_tokens(content) + 4;
    }
    Ok(conv)
}

/// Checks `images` (base64 strings); true when there is at least one.
fn native_images(i: usize, m: &Value) -> Result<bool, Reject> {
    let images = match m.get("images") {
        None | Some(Value::Null) => return Ok(false),
        Some(Value::Array(list)) => list,
        Some(_) => {
            return Err(Reject::bad_request(format!(
                "messages[{i}].images must be an array"
            )));
        }
    };
    for (j, image) in images.iter().enumerate() {
        let ok = image
            .as_str()
            .is_some_and(|s| base64::engine::general_purpose::STANDARD.decode(s).is_ok());
        if !ok {
            return Err(Reject::bad_request(format!(
                "messages[{i}].images[{j}]: illegal base64 data"
            )));
        }
    }
    Ok(!images.is_empty())
}

/// Checks an assistant message's `tool_calls`: names and object arguments.
fn native_tool_calls(i: usize, m: &Value) -> Result<(), Reject> {
    let calls = match m.get("tool_calls") {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Array(list)) => list,
        Some(_) => {
            return Err(Reject::bad_request(format!(
                "messages[{i}].tool_calls must be an array"
            )));
        }
    };
    for (j, call) in calls.iter().enumerate() {
        let function = call.get("function");
        if function
            .and_then(|f| f.get("name"))
            .and_then(Value::as_str)
            .is_none()
        {
            return Err(Reject::bad_request(format!(
                "messages[{i}].tool_calls[{j}].function.name is required"
            )));
        }
        if !function
            .and_then(|f| f.get("arguments"))
            .is_some_and(Value::is_object)
        {
            return Err(Reject::bad_request(format!(
                "messages[{i}].tool_calls[{j}].function.arguments must be a JSON object"
            )));
        }
    }
    Ok(())
}

/// Checks OpenAI-style messages: content as a string or parts, tool call arguments as JSON
/// strings holding an object.
pub(crate) fn openai_messages(req: &Value) -> Result<Conversation, Reject> {
    let list = messages(req)?;
    let mut conv = Conversation {
        count: list.len(),
        ..Conversation::default()
    };
    for (i, m) in list.iter().enumerate() {
        if !m.is_object() {
            return Err(Reject::bad_request(format!(
                "messages[{i}] must be an object"
            )));
        }
        let role = role(i, m, &["system", "developer", "user", "assistant", "tool"])?;
        let (text, images) = openai_content(i, m.get("content"))?;
        conv.has_images |= images;
        openai_tool_calls(i, m)?;
        if role == "user" {
            conv.last_user.clone_from(&text);
        }
        conv.prompt_tokens += estimate_tokens(&text) + 4;
    }
    Ok(conv)
}

/// The text of an OpenAI `content` (string or parts) and whether it has an image.
fn openai_content(i: usize, content: Option<&Value>) -> Result<(String, bool), Reject> {
    let parts = match content {
        None | Some(Value::Null) => return Ok((String::new(), false)),
        Some(Value::String(s)) => return Ok((s.clone(), false)),
        Some(Value::Array(parts)) => parts,
        Some(_) => {
            return Err(Reject::bad_request(format!(
                "messages[{i}].content: invalid message content"
            )));
        }
    };
    let mut text = String::new();
    let mut images = false;
    for (j, part) in parts.iter().enumerate() {
        match part.get("type").and_then(Value::as_str) {
            Some("text") => {
                text.push_str(part.get("text").and_then(Value::as_str).unwrap_or_default())
            }
            Some("image_url") => images = true,
            _ => {
                return Err(Reject::bad_request(format!(
                    "messages[{i}].content[{j}]: invalid message format"
                )));
            }
        }
    }
    Ok((text, images))
}

/// Checks an OpenAI assistant message's `tool_calls`: arguments are a JSON string of an object.
fn openai_tool_calls(i: usize, m: &Value) -> Result<(), Reject> {
    let Some(calls) = m.get("tool_calls").filter(|c| !c.is_null()) else {
        return Ok(());
    };
    let Some(calls) = calls.as_array() else {
        return Err(Reject::bad_request(format!(
            "messages[{i}].tool_calls must be an array"
        )));
    };
    for (j, call) in calls.iter().enumerate() {
        let arguments = call
            .get("function")
            .and_then(|f| f.get("arguments"))
            .and_then(Value::as_str)
            .and_then(|s| serde_json::from_str::<Value>(s).ok());
        if !arguments.is_some_and(|a| a.is_object()) {
            return Err(Reject::bad_request(format!(
                "messages[{i}].tool_calls[{j}].function.arguments must be a string holding a JSON object"
            )));
        }
    }
    Ok(())
}
