//! `POST /v1/chat/completions`: Ollama's OpenAI-compatible chat, driven by the same script queue
//! as `/api/chat`, answered as SSE (`"stream": true`) or one `chat.completion` object.

use std::sync::Arc;
use std::time::Instant;

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{StatusCode, header};
use serde_json::Value;

use super::checks::{find_model, model_field, parse_json, stream_flag};
use super::clock;
use super::errors::{Reject, cut_response, json_response, openai_body};
use super::messages::openai_messages;
use super::openai_render::OpenAiRender;
use super::runner::{Collected, Run, Start};
use super::schema::{check_tool_schemas, tools};
use super::script::Script;
use super::state::{InFlight, Shared};

const PATH: &str = "/v1/chat/completions";
const SSE: &str = "text/event-stream";
const JSON: &str = "application/json; charset=utf-8";

struct Plan {
    render: OpenAiRender,
    stream: bool,
    emit_thinking: bool,
    prompt_tokens: u64,
    script: Script,
}

/// The `/v1/chat/completions` handler.
pub(crate) async fn chat_completions(
    State(shared): State<Arc<Shared>>,
    Extension(guard): Extension<InFlight>,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let plan = match prepare(&shared, &body) {
        Ok(plan) => plan,
        Err(reject) => return reject.openai(&shared, PATH),
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
                [(header::CONTENT_TYPE, SSE)],
                Body::from_stream(run.into_stream(plan.render)),
            )
                .into_response(),
            Start::Error(status, message) => openai_body(status, &message),
            Start::Cut => cut_response(SSE),
        }
    } else {
        match run.collect().await {
            Collected::Reply(reply) => {
                json_response(StatusCode::OK, &plan.render.reply_json(&reply))
            }
            Collected::Error(status, message) => openai_body(status, &message),
            Collected::Cut => cut_response(JSON),
        }
    }
}

/// Checks the request; takes a script only when every check passed.
fn prepare(shared: &Shared, body: &[u8]) -> Result<Plan, Reject> {
    let req = parse_json(body)?;
    let name = model_field(&req)?;
    let conversation = openai_messages(&req)?;
    let tools = tools(&req)?;
    let stream = stream_flag(&req, false)?;
    let model = find_model(shared, &name)?;
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
    check_tool_schemas(&tools)?;
    if conversation.has_images && !model.has_capability("vision") {
        return Err(Reject::bad_request(
            "this model is missing data required for image input",
        ));
    }
    let include_usage = req
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let no_reasoning = req.get("reasoning_effort").and_then(Value::as_str) == Some("none");
    let (queued, id, echo_delay) = {
        let mut inner = shared.lock();
        inner.loaded.insert(model.name.clone());
        (inner.scripts.pop_front(), inner.next_id(), inner.echo_delay)
    };
    Ok(Plan {
        render: OpenAiRender {
            id: format!("chatcmpl-{id}"),
            created: clock::unix_now(),
            model: name,
            include_usage,
        },
        stream,
        emit_thinking: model.has_capability("thinking") && !no_reasoning,
        prompt_tokens: conversation.prompt_tokens,
        script: queued.unwrap_or_else(|| Script::echo(&conversation.last_user, echo_delay)),
    })
}
