//! Request checks shared by the handlers: JSON body, `model`, `stream`, `think` and `options`,
//! with the status and wording Ollama uses where it has one.

use serde_json::Value;

use super::errors::Reject;
use super::model::FakeModel;
use super::state::Shared;

/// How the request set `think`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Think {
    Unset,
    Off,
    On,
}

/// The body as a JSON object (Ollama: "missing request body", or the parse error).
pub(crate) fn parse_json(body: &[u8]) -> Result<Value, Reject> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Reject::bad_request("missing request body"));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| Reject::bad_request(format!("invalid JSON body: {e}")))?;
    if !value.is_object() {
        return Err(Reject::bad_request("request body must be a JSON object"));
    }
    Ok(value)
}

/// The `model` field, required and non-empty.
pub(crate) fn model_field(req: &Value) -> Result<String, Reject> {
    match req.get("model") {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        None | Some(Value::Null) | Some(Value::String(_)) => {
            Err(Reject::bad_request("model is required"))
        }
        Some(_) => Err(Reject::bad_request("model must be a string")),
    }
}

/// The registered model called `name`, or Ollama's 404.
pub(crate) fn find_model(shared: &Shared, name: &str) -> Result<FakeModel, Reject> {
    shared.lock().find_model(name).cloned().ok_or_else(|| {
        Reject::not_found(format!("model \"{name}\" not found, try pulling it first"))
    })
}

/// `stream` (default `default`).
pub(crate) fn stream_flag(req: &Value, default: bool) -> Result<bool, Reject> {
    match req.get("stream") {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(Reject::bad_request("stream must be a boolean")),
    }
}

/// `think`: a boolean, or a level `high`, `medium`, `low`.
pub(crate) fn think(req: &Value) -> Result<Think, Reject> {
    match req.get("think") {
        None | Some(Value::Null) => Ok(Think::Unset),
        Some(Value::Bool(false)) => Ok(Think::Off),
        Some(Value::Bool(true)) => Ok(Think::On),
        Some(Value::String(s)) if ["high", "medium", "low"].contains(&s.as_str()) => Ok(Think::On),
        Some(other) => Err(Reject::bad_request(format!("invalid think value: {other}"))),
    }
}

/// `options`: an object whose integer options are integers (Ollama's `FromMap` wording).
pub(crate) fn options(req: &Value) -> Result<(), Reject> {
    let options = match req.get("options") {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Object(o)) => o,
        Some(_) => return Err(Reject::bad_request("options must be an object")),
    };
    for key in ["num_ctx", "num_predict", "seed", "top_k", "num_keep"] {
        if let Some(v) = options.get(key).filter(|v| !v.is_null())
            && !(v.is_i64() || v.is_u64())
        {
            return Err(Reject::bad_request(format!(
                "option \"{key}\" must be of type integer"
            )));
        }
    }
    Ok(())
}
