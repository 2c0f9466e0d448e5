//! The Ollama client over real HTTP against FakeOllama: streams, errors, metadata, schemas.

use std::time::Duration;

use futures::StreamExt;
use mcpcord_llm::{
    Backend, BackendSpec, Capability, ChatEvent, ChatRequest, FinishReason, LlmError, Message,
    ServerKind, ToolCall, ToolSpec, collect,
};
use mcpcord_testkit::FakeOllama;
use mcpcord_testkit::fake_ollama::{FakeModel, Script};
use serde_json::json;

fn spec(url: &str) -> BackendSpec {
    BackendSpec::new("local", ServerKind::Ollama, url.parse().unwrap())
}

fn backend(fake: &FakeOllama) -> Backend {
    Backend::new(spec(&fake.url()), mcpcord_llm::http_client())
}

fn model() -> FakeModel {
    FakeModel::new("llama3.2")
        .capabilities(&["completion", "tools", "thinking"])
        .context_length(131_072)
}

fn weather_tool() -> ToolSpec {
    ToolSpec {
        name: "get_weather".into(),
        description: "Weather for a city".into(),
        parameters: json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {
                "city": {"$ref": "#/$defs/City"},
                "unit": {"type": "string", "enum": ["c", "f"], "default": "c"},
            },
            "required": ["city"],
            "additionalProperties": false,
            "$defs": {"City": {"type": "string", "minLength": 1, "description": "City name"}},
        }),
    }
}

#[tokio::test]
async fn streams_text_thinking_and_tool_calls_collected_across_chunks() {
    let fake = FakeOllama::start_with_models([model()]).await;
    fake.push_script(
        Script::new()
            .thinking("The user wants weather. ")
            .thinking("I'll call the tool.")
            .text("Let me ")
            .text("check.")
            .tool_call("get_weather", json!({"city": "Paris"}))
            .tool_call("get_weather", json!({"city": "Oslo", "unit": "c"}))
            .usage(42, 7),
    );
    let mut request = ChatRequest::new(
        "llama3.2",
        vec![Message::user("Weather in Paris and Oslo?")],
    );
    request.tools = vec![weather_tool()];
    let mut stream = backend(&fake).chat(&request).await.unwrap();
    let mut events = Vec::new();
    while let Some(event) = stream.next().await {
        events.push(event.unwrap());
    }
    let texts: Vec<&ChatEvent> = events
        .iter()
        .filter(|e| matches!(e, ChatEvent::Text(_)))
        .collect();
    assert_eq!(texts.len(), 2, "text arrives as deltas: {events:?}");
    assert!(events.contains(&ChatEvent::Thinking("The user wants weather. ".into())));
    let calls: Vec<&Vec<ToolCall>> = events
        .iter()
        .filter_map(|e| match e {
            ChatEvent::ToolCalls(calls) => Some(calls),
            _ => None,
        })
        .collect();
    assert_eq!(
        calls.len(),
        1,
        "tool calls are given once, collected: {events:?}"
    );
    assert_eq!(calls[0].len(), 2);
    assert_eq!(calls[0][1].arguments, json!({"city": "Oslo", "unit": "c"}));
    let Some(ChatEvent::Done(usage)) = events.last() else {
        panic!("the stream ends with Done: {events:?}");
    };
    assert_eq!(
        (usage.prompt_tokens, usage.completion_tokens),
        (Some(42), Some(7))
    );
    assert_eq!(usage.finish_reason, FinishReason::ToolCalls);

    // The schema went out sanitized: FakeOllama rejects any keyword Ollama would drop.
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
    let sent = fake.last_chat_request().unwrap();
    let params = &sent["tools"][0]["function"]["parameters"];
    assert_eq!(params["properties"]["city"]["type"], "string");
    assert!(params.get("additionalProperties").is_none() && params.get("$defs").is_none());
}

#[tokio::test]
async fn an_unsanitized_schema_would_have_been_caught() {
    // The fake is stricter than Ollama: the same schema sent raw is refused, proving the check.
    let fake = FakeOllama::start_with_models([model()]).await;
    let response = mcpcord_llm::http_client()
        .post(format!("{}/api/chat", fake.url()))
        .json(&json!({
            "model": "llama3.2",
            "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"type": "function", "function": {"name": "get_weather", "description": "w", "parameters": weather_tool().parameters}}],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(!fake.violations().is_empty());
}

#[tokio::test]
async fn tool_results_and_images_go_back_in_ollamas_shape() {
    let fake = FakeOllama::start_with_models([FakeModel::new("llava").capabilities(&[
        "completion",
        "vision",
        "tools",
    ])])
    .await;
    fake.push_script(Script::reply("A cat."));
    let call = ToolCall {
        id: None,
        name: "get_weather".into(),
        arguments: json!({"city": "Paris"}),
    };
    let image = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
    let request = ChatRequest::new(
        "llava",
        vec![
            Message::user("Weather?"),
            Message::assistant_tool_calls("", vec![call.clone()]),
            Message::tool_result(&call, "sunny, 21°C"),
            Message::user("And what is in this picture?").with_images(vec![image.into()]),
        ],
    );
    let response = backend(&fake).complete(&request).await.unwrap();
    assert_eq!(response.text, "A cat.");
    let sent = fake.last_chat_request().unwrap();
    assert_eq!(sent["stream"], false);
    assert_eq!(
        sent["messages"][1]["tool_calls"][0]["function"]["arguments"],
        json!({"city": "Paris"})
    );
    assert_eq!(
        sent["messages"][2],
        json!({"role": "tool", "content": "sunny, 21°C", "tool_name": "get_weather"})
    );
    assert_eq!(sent["messages"][3]["images"][0], image);
}

#[tokio::test]
async fn metadata_calls_read_capabilities_context_length_and_more() {
    let fake = FakeOllama::start_with_models([
        model()
            .family("llama")
            .parameter_size("3.2B")
            .quantization("Q4_K_M"),
        FakeModel::embedding("nomic-embed-text"),
    ])
    .await;
    let backend = backend(&fake);
    let Backend::Ollama(client) = &backend else {
        unreachable!()
    };
    let info = backend.model_info("llama3.2").await.unwrap();
    assert_eq!(info.context_length, Some(131_072));
    assert!(
        info.can(Capability::Tools)
            && info.can(Capability::Thinking)
            && !info.can(Capability::Vision)
    );
    let models = backend.list_models().await.unwrap();
    assert_eq!(models.len(), 2);
    assert!(
        models
            .iter()
            .any(|m| m.details.as_deref() == Some("llama 3.2B Q4_K_M")),
        "{models:?}"
    );
    assert!(!client.version().await.unwrap().is_empty());
    assert!(backend.health().await.unwrap().starts_with("Ollama "));
    client.running().await.unwrap();
    let inputs = vec![
        "hello".to_string(),
        "world".to_string(),
        "hello".to_string(),
    ];
    let vectors = backend.embed("nomic-embed-text", &inputs).await.unwrap();
    assert_eq!(vectors.len(), 3);
    assert_eq!(vectors[0], vectors[2], "deterministic");
    assert_ne!(vectors[0], vectors[1]);
}

#[tokio::test]
async fn an_unreachable_server_is_named_by_its_backend_name_and_the_fix() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let backend = Backend::new(
        spec(&format!("http://127.0.0.1:{port}")),
        mcpcord_llm::http_client(),
    );
    let error = backend
        .chat(&ChatRequest::new("llama3.2", vec![Message::user("hi")]))
        .await
        .err()
        .unwrap();
    assert!(matches!(error, LlmError::Unreachable { .. }), "{error:?}");
    // What users see names the backend, never its address.
    let message = error.to_string();
    assert!(
        message.contains("cannot reach the model server \"local\"")
            && message.contains("ollama serve")
            && !message.contains("127.0.0.1"),
        "{message}"
    );
    // Operators get the URL too.
    let detail = error.detail();
    assert!(
        detail.contains(&format!("127.0.0.1:{port}")) && detail.contains("ollama serve"),
        "{detail}"
    );
}

#[tokio::test]
async fn an_unreachable_server_never_shows_the_credentials_in_its_url() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let backend = Backend::new(
        spec(&format!(
            "http://bot:pa55word@127.0.0.1:{port}/?api_key=k3y-value"
        )),
        mcpcord_llm::http_client(),
    );
    let error = backend
        .chat(&ChatRequest::new("llama3.2", vec![Message::user("hi")]))
        .await
        .err()
        .unwrap();
    assert!(matches!(error, LlmError::Unreachable { .. }), "{error:?}");
    for text in [error.to_string(), error.detail(), format!("{error:?}")] {
        assert!(
            !text.contains("pa55word") && !text.contains("k3y-value"),
            "{text}"
        );
    }
    assert!(
        error.detail().contains("bot:[redacted]@127.0.0.1"),
        "{}",
        error.detail()
    );
}

#[tokio::test]
async fn an_unknown_model_suggests_pulling_it() {
    let fake = FakeOllama::start_with_models([model()]).await;
    let error = backend(&fake)
        .chat(&ChatRequest::new("qwen3", vec![Message::user("hi")]))
        .await
        .err()
        .unwrap();
    assert!(
        matches!(&error, LlmError::ModelNotFound { model, .. } if model == "qwen3"),
        "{error:?}"
    );
    assert!(error.to_string().contains("ollama pull qwen3"), "{error}");
}

#[tokio::test]
async fn a_server_error_is_reported_with_its_status() {
    let fake = FakeOllama::start_with_models([model()]).await;
    fake.push_script(Script::error(500, "out of memory"));
    let error = backend(&fake)
        .chat(&ChatRequest::new("llama3.2", vec![Message::user("hi")]))
        .await
        .err()
        .unwrap();
    assert!(
        matches!(&error, LlmError::Server { status: 500, message, .. } if message == "out of memory"),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_cut_stream_keeps_the_partial_text() {
    let fake = FakeOllama::start_with_models([model()]).await;
    fake.push_script(
        Script::new()
            .text("Half an ")
            .text("answer")
            .drop_connection(),
    );
    let mut stream = backend(&fake)
        .chat(&ChatRequest::new("llama3.2", vec![Message::user("hi")]))
        .await
        .unwrap();
    let mut error = None;
    while let Some(event) = stream.next().await {
        if let Err(e) = event {
            error = Some(e);
        }
    }
    let error = error.expect("the cut is an error, not a clean end");
    assert!(matches!(error, LlmError::StreamCut { .. }), "{error:?}");
    assert_eq!(error.partial_text(), Some("Half an answer"));
}

#[tokio::test]
async fn a_slow_first_load_is_waited_for_but_a_stall_is_detected() {
    let fake = FakeOllama::start_with_models([model()]).await;
    let mut spec = spec(&fake.url());
    spec.request_timeout = Duration::from_secs(5);
    spec.stall_timeout = Duration::from_millis(300);
    let backend = Backend::new(spec, mcpcord_llm::http_client());
    let request = ChatRequest::new("llama3.2", vec![Message::user("hi")]);

    // A first chunk after 600 ms (a model load) is fine: only the stall timeout is shorter.
    fake.push_script(
        Script::new()
            .delay(Duration::from_millis(600))
            .text("loaded"),
    );
    let response = collect(backend.chat(&request).await.unwrap())
        .await
        .unwrap();
    assert_eq!(response.text, "loaded");

    // Silence after the first chunk is a stall, reported with what arrived.
    fake.push_script(Script::new().text("thinking about").stall());
    let error = collect(backend.chat(&request).await.unwrap())
        .await
        .err()
        .unwrap();
    assert!(matches!(error, LlmError::Stalled { .. }), "{error:?}");
    assert_eq!(error.partial_text(), Some("thinking about"));
}

#[tokio::test]
async fn no_first_token_within_the_request_timeout_is_named() {
    let fake = FakeOllama::start_with_models([model()]).await;
    let mut spec = spec(&fake.url());
    spec.request_timeout = Duration::from_millis(300);
    let backend = Backend::new(spec, mcpcord_llm::http_client());
    fake.push_script(Script::new().stall());
    let error = backend
        .chat(&ChatRequest::new("llama3.2", vec![Message::user("hi")]))
        .await
        .err()
        .unwrap();
    assert!(
        matches!(error, LlmError::FirstTokenTimeout { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("request_timeout"));
}
