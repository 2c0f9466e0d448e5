//! The `openai` backend against a real small model (SmolLM2-135M) served by llama.cpp.

use futures::StreamExt;
use mcpcord_llm::{
    Backend, BackendSpec, ChatEvent, ChatRequest, FinishReason, Message, ServerKind, ToolChoice,
    ToolSpec,
};
use mcpcord_testkit::llama::{LlamaServer, MODEL};
use serde_json::json;

fn backend(server: &LlamaServer) -> Backend {
    let spec = BackendSpec::new(
        "llamacpp",
        ServerKind::OpenAi,
        server.url().parse().unwrap(),
    );
    Backend::new(spec, mcpcord_llm::http_client())
}

#[tokio::test]
async fn streams_a_real_completion() {
    let server = LlamaServer::start().await;
    let backend = backend(&server);
    let models = backend
        .list_models()
        .await
        .expect("the server lists its model");
    assert!(models.iter().any(|m| m.name == MODEL), "{models:?}");

    let mut request = ChatRequest::new(MODEL, vec![Message::user("Say hello to Discord.")]);
    request.options.max_tokens = Some(24);
    request.options.temperature = Some(0.0);
    let mut stream = backend
        .chat(&request)
        .await
        .expect("the request is accepted");
    let (mut text, mut deltas, mut done) = (String::new(), 0, None);
    while let Some(event) = stream.next().await {
        match event.expect("the stream completes") {
            ChatEvent::Text(delta) => {
                deltas += 1;
                text.push_str(&delta);
            }
            ChatEvent::Done(usage) => done = Some(usage),
            other => panic!("unexpected event {other:?}"),
        }
    }
    assert!(deltas > 1, "the answer arrived in pieces, got {deltas}");
    assert!(!text.trim().is_empty(), "the model said something");
    let usage = done.expect("the stream ends with Done");
    assert!(matches!(
        usage.finish_reason,
        FinishReason::Stop | FinishReason::Length
    ));
}

#[tokio::test]
async fn gets_a_real_tool_call_back() {
    let server = LlamaServer::start().await;
    let backend = backend(&server);
    let mut request = ChatRequest::new(MODEL, vec![Message::user("What is the weather in Paris?")]);
    request.tools = vec![ToolSpec {
        name: "get_weather".into(),
        description: "Get the current weather for a city".into(),
        parameters: json!({
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name", "minLength": 1}},
            "required": ["city"],
            "additionalProperties": false,
        }),
    }];
    request.options.tool_choice = Some(ToolChoice::Function("get_weather".into()));
    request.options.max_tokens = Some(60);
    request.options.temperature = Some(0.0);

    let response = backend.complete(&request).await.expect("a completion");
    assert_eq!(response.tool_calls.len(), 1, "{response:?}");
    let call = &response.tool_calls[0];
    assert_eq!(call.name, "get_weather");
    assert!(
        call.arguments.get("city").is_some_and(|c| c.is_string()),
        "{call:?}"
    );
    assert!(call.id.is_some(), "OpenAI-compatible servers give call ids");
    assert_eq!(response.usage.finish_reason, FinishReason::ToolCalls);

    // The same request streamed: the call arrives as deltas and is collected once.
    let streamed = mcpcord_llm::collect(backend.chat(&request).await.expect("a stream"))
        .await
        .expect("the stream completes");
    assert_eq!(streamed.tool_calls.len(), 1, "{streamed:?}");
    assert_eq!(streamed.tool_calls[0].name, "get_weather");
    assert!(streamed.tool_calls[0].arguments.is_object(), "{streamed:?}");
}
