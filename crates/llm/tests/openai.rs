//! The OpenAI-compatible client over real HTTP against FakeOllama's `/v1`.

use mcpcord_llm::{
    Backend, BackendSpec, ChatRequest, FinishReason, LlmError, Message, ServerKind, ToolSpec,
    collect,
};
use mcpcord_testkit::FakeOllama;
use mcpcord_testkit::fake_ollama::{FakeModel, Script};
use serde_json::json;

fn backend(fake: &FakeOllama, key: Option<&str>) -> Backend {
    let mut spec = BackendSpec::new(
        "compat",
        ServerKind::OpenAi,
        fake.openai_url().parse().unwrap(),
    );
    spec.api_key = key.map(str::to_string);
    Backend::new(spec, mcpcord_llm::http_client())
}

#[tokio::test]
async fn streams_sse_with_tool_call_deltas_joined() {
    let fake = FakeOllama::start_with_models([FakeModel::new("qwen3").capabilities(&[
        "completion",
        "tools",
        "thinking",
    ])])
    .await;
    fake.push_script(
        Script::new()
            .thinking("hmm")
            .text("Calling ")
            .text("tools.")
            .tool_call("add", json!({"a": 1, "b": 2}))
            .tool_call(
                "echo",
                json!({"text": "a long argument string that is split"}),
            )
            .usage(11, 5),
    );
    let mut request = ChatRequest::new("qwen3", vec![Message::user("1+2?")]);
    request.tools = vec![ToolSpec {
        name: "add".into(),
        description: "Adds".into(),
        parameters: json!({"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}}),
    }];
    let response = collect(backend(&fake, None).chat(&request).await.unwrap())
        .await
        .unwrap();
    assert_eq!(response.text, "Calling tools.");
    assert_eq!(response.thinking, "hmm");
    assert_eq!(response.tool_calls.len(), 2, "{response:?}");
    assert_eq!(response.tool_calls[0].arguments, json!({"a": 1, "b": 2}));
    assert_eq!(
        response.tool_calls[1].arguments["text"],
        "a long argument string that is split"
    );
    assert!(response.tool_calls.iter().all(|c| c.id.is_some()));
    assert_eq!(response.usage.finish_reason, FinishReason::ToolCalls);
    assert_eq!(response.usage.prompt_tokens, Some(11));
    let sent = &fake.openai_chat_requests()[0];
    assert_eq!(sent["stream"], true);
    assert_eq!(sent["stream_options"]["include_usage"], true);
}

#[tokio::test]
async fn non_streaming_models_and_embeddings() {
    let fake =
        FakeOllama::start_with_models([FakeModel::new("qwen3"), FakeModel::embedding("embed")])
            .await;
    fake.push_script(Script::reply("Hi there"));
    let backend = backend(&fake, None);
    let response = backend
        .complete(&ChatRequest::new("qwen3", vec![Message::user("hi")]))
        .await
        .unwrap();
    assert_eq!(response.text, "Hi there");
    let names: Vec<String> = backend
        .list_models()
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert!(names.iter().any(|n| n.starts_with("qwen3")), "{names:?}");
    let vectors = backend
        .embed("embed", &["a".into(), "b".into()])
        .await
        .unwrap();
    assert_eq!(vectors.len(), 2);
}

#[tokio::test]
async fn the_api_key_is_sent_and_a_refusal_is_named() {
    let fake = FakeOllama::start_with_models([FakeModel::new("qwen3")]).await;
    fake.require_api_key("sk-test");
    let error = backend(&fake, None)
        .chat(&ChatRequest::new("qwen3", vec![Message::user("hi")]))
        .await
        .err()
        .unwrap();
    assert!(
        matches!(error, LlmError::Unauthorized { status: 401, .. }),
        "{error:?}"
    );
    fake.push_script(Script::reply("authorized"));
    let response = collect(
        backend(&fake, Some("sk-test"))
            .chat(&ChatRequest::new("qwen3", vec![Message::user("hi")]))
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(response.text, "authorized");
}
