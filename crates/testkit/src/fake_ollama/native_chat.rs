//! `POST /api/chat`: Ollama's native chat. The request is checked the way Ollama checks it (and a
//! little stricter), then answered from the script queue, or by echoing the last user message
//! when the queue is empty, as an NDJSON stream or one JSON object (`"stream": false`).

use std::sync::Arc;
use std::time::Instant;

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{StatusCode, header};
use serde_json::{Value, json};

use super::checks::{Think, find_model, model_field, options, parse_json, stream_flag, think};
use super::clock;
use super::errors::{Reject, cut_response, json_response, native_body};
use super::messages::native_messages;
use super::model::FakeModel;
use super::native_render::{NativeRender, reply_json};
use super::runner::{Collected, Run, Start};
use super::schema::{check_tool_schemas, tools};
use super::script::Script;
use super::state::{InFlight, Shared};

const PATH: &str = "/api/chat";
const NDJSON: &str = "application/x-ndjson";
const JSON: &str = "application/json; charset=utf-8";

/// A checked request, ready to be answered.
struct Plan {
    model: String,
    stream: bool,
    emit_thinking: bool,
    prompt_tokens: u64,
    script: Script,
}

enum Prepared {
    /// No messages: Ollama just loads (or, with `keep_alive: 0`, unloads) the model.
    Load(Response),
    Chat(Plan),
}

/// The `/api/chat` handler.
pub(crate) async fn chat(
    State(shared): State<Arc<Shared>>,
    Extension(guard): Extension<InFlight>,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let plan = match prepare(&shared, &body) {
        Ok(Prepared::Chat(plan)) => plan,
        Ok(Prepared::Load(response)) => return response,
        Err(reject) => return reject.native(&shared, PATH),
    };
    let run = Run {
        script: plan.script,
        emit_thinking: plan.emit_thinking,
        prompt_tokens: plan.prompt_tokens,
        started,
        cancel: shared.shutdown.clone(),
        guard,
    };
    if plan.stream {
        match run.start().await {
            Start::Go(run) => (
                [(header::CONTENT_TYPE, NDJSON)],
                Body::from_stream(run.into_stream(NativeRender::new(&plan.model))),
            )
                .into_response(),
            Start::Error(status, message) => native_body(status, &message),
            Start::Cut => cut_response(NDJSON),
        }
    } else {
        match run.collect().await {
            Collected::Reply(reply) => {
                json_response(StatusCode::OK, &reply_json(&plan.model, &reply))
            }
            Collected::Error(status, message) => native_body(status, &message),
            Collected::Cut => cut_response(JSON),
        }
    }
}

/// Checks the request in Ollama's order; takes a script only when every check passed.
fn prepare(shared: &Shared, body: &[u8]) -> Result<Prepared, Reject> {
    let req = parse_json(body)?;
    let name = model_field(&req)?;
    let conversation = native_messages(&req)?;
    let tools = tools(&req)?;
    let stream = stream_flag(&req, true)?;
    let think = think(&req)?;
    options(&req)?;
    let model = find_model(shared, &name)?;
    if conversation.count == 0 {
        return Ok(Prepared::Load(load_or_unload(shared, &req, &name, &model)));
    }
    if !model.has_capability("completion") {
        return Err(Reject::bad_request(format!(
            "\"{name}\" does not support chat"
        )));
    }
    if !tools.is_empty() && !model.has_capability("tools") {
        return Err(Reject::bad_request(format!(
            "{} does not support tools",
            model.registry_name()
        )));
    }
    let thinking = model.has_capability("thinking");
    if think == Think::On && !thinking {
        return Err(Reject::bad_request(format!(
            "\"{name}\" does not support thinking"
        )));
    }
    check_tool_schemas(&tools)?;
    if conversation.has_images && !model.has_capability("vision") {
        return Err(Reject::bad_request(
            "this model is missing data required for image input",
        ));
    }
    let (queued, echo_delay) = {
        let mut inner = shared.lock();
        inner.loaded.insert(model.name.clone());
        (inner.scripts.pop_front(), inner.echo_delay)
    };
    Ok(Prepared::Chat(Plan {
        model: name,
        stream,
        emit_thinking: thinking && think != Think::Off,
        prompt_tokens: conversation.prompt_tokens,
        script: queued.unwrap_or_else(|| Script::echo(&conversation.last_user, echo_delay)),
    }))
}

/// The answer to a chat without messages: `done_reason` `load`, or `unload` with `keep_alive: 0`.
fn load_or_unload(shared: &Shared, req: &Value, name: &str, model: &FakeModel) -> Response {
    let unload = match req.get("keep_alive") {
        Some(Value::Number(n)) => n.as_f64() == Some(0.0),
        Some(Value::String(s)) => matches!(s.as_str(), "0" | "0s" | "0m"),
        _ => false,
    };
    let mut inner = shared.lock();
    let reason = if unload {
        inner.loaded.remove(&model.name);
        "unload"
    } else {
        inner.loaded.insert(model.name.clone());
        "load"
    };
    json_response(
        StatusCode::OK,
        &json!({
            "model": name,
            "created_at": clock::now(),
            "message": { "role": "assistant", "content": "" },
            "done": true,
            "done_reason": reason,
        }),
    )
}
