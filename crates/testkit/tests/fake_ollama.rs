//! FakeOllama driven over real HTTP with reqwest: both chat dialects, the scripted failures
//! (error status, mid-stream error, dropped connection, delay, stall), the checks that catch
//! deliberately wrong requests, the catalogue endpoints, embeddings and request recording.

use std::time::Duration;

use futures::StreamExt;
use mcpcord_testkit::FakeOllama;
use mcpcord_testkit::fake_ollama::{DoneReason, FakeModel, FakeToolCall, Script, embedding_vector};
use serde_json::{Value, json};

fn client() -> reqwest::Client {
    // reqwest is built without a default crypto provider; plain http still builds a TLS config.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("reqwest client")
}

/// A model that can do everything a chat test needs.
fn smart(name: &str) -> FakeModel {
    FakeModel::new(name)
        .capabilities(&["completion", "tools", "thinking"])
        .context_length(8192)
}

fn weather_tool() -> Value {
    json!({"type": "function", "function": {
        "name": "get_weather",
        "description": "Current weather of a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}
            },
            "required": ["city"]
        }
    }})
}

fn user(text: &str) -> Value {
    json!({"role": "user", "content": text})
}

async fn post(fake: &FakeOllama, path: &str, body: &Value) -> reqwest::Response {
    client()
        .post(format!("{}{path}", fake.url()))
        .json(body)
        .send()
        .await
        .expect("request sent")
}

async fn get_json(fake: &FakeOllama, path: &str) -> Value {
    let response = client()
        .get(format!("{}{path}", fake.url()))
        .send()
        .await
        .expect("request sent");
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().await.expect("json")
}

/// Every NDJSON line of a complete streamed answer.
async fn ndjson(response: reqwest::Response) -> Vec<Value> {
    let text = response.text().await.expect("complete body");
    text.lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

/// The payloads of the `data:` events of a complete SSE answer.
async fn sse(response: reqwest::Response) -> Vec<String> {
    let text = response.text().await.expect("complete body");
    text.split("\n\n")
        .filter_map(|event| event.strip_prefix("data: "))
        .map(str::to_owned)
        .collect()
}

fn metric(chunk: &Value, key: &str) -> u64 {
    chunk[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} in {chunk}"))
}

#[tokio::test]
async fn streams_thinking_text_and_tool_calls_like_ollama() {
    let fake = FakeOllama::start_with_models([smart("qwen3")]).await;
    fake.push_script(
        Script::new()
            .thinking("The user wants weather.")
            .text("Let me")
            .text(" check.")
            .tool_call("get_weather", json!({"city": "Paris"})),
    );
    let response = post(
        &fake,
        "/api/chat",
        &json!({"model": "qwen3", "messages": [user("Weather in Paris?")], "tools": [weather_tool()]}),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let chunks = ndjson(response).await;
    assert_eq!(chunks.len(), 5, "{chunks:#?}");

    for chunk in &chunks {
        assert_eq!(chunk["model"], "qwen3");
        assert!(
            chunk["created_at"]
                .as_str()
                .is_some_and(|t| t.ends_with('Z'))
        );
        assert_eq!(chunk["message"]["role"], "assistant");
    }
    let (body, last) = chunks.split_at(4);
    assert!(body.iter().all(|c| c["done"] == false));
    assert_eq!(body[0]["message"]["thinking"], "The user wants weather.");
    let text: String = body
        .iter()
        .filter_map(|c| c["message"]["content"].as_str())
        .collect();
    assert_eq!(text, "Let me check.");

    let call = &body[3]["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(call["function"]["arguments"], json!({"city": "Paris"}));
    assert!(
        call["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("call_"))
    );

    let last = &last[0];
    assert_eq!(last["done"], true);
    assert_eq!(last["done_reason"], "stop");
    for key in [
        "total_duration",
        "load_duration",
        "prompt_eval_count",
        "prompt_eval_duration",
        "eval_count",
        "eval_duration",
    ] {
        assert!(metric(last, key) > 0, "{key}");
    }
    assert_eq!(fake.pending_scripts(), 0);
}

#[tokio::test]
async fn non_streaming_reply_is_one_object() {
    let fake = FakeOllama::start_with_models([smart("llama3.2")]).await;
    fake.push_script(
        Script::new()
            .text("Hel")
            .text("lo")
            .tool_calls(vec![
                FakeToolCall::new("a", json!({"x": 1})),
                FakeToolCall::new("b", json!({})),
            ])
            .done_reason(DoneReason::Length)
            .usage(12, 34),
    );
    let response = post(
        &fake,
        "/api/chat",
        &json!({"model": "llama3.2:latest", "stream": false, "messages": [user("hi")], "tools": [weather_tool()]}),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let reply: Value = response.json().await.unwrap();
    assert_eq!(reply["model"], "llama3.2:latest");
    assert_eq!(reply["done"], true);
    assert_eq!(reply["done_reason"], "length");
    assert_eq!(reply["message"]["content"], "Hello");
    assert_eq!(reply["message"]["tool_calls"][0]["function"]["name"], "a");
    assert_eq!(reply["message"]["tool_calls"][1]["function"]["index"], 1);
    assert_eq!(metric(&reply, "prompt_eval_count"), 12);
    assert_eq!(metric(&reply, "eval_count"), 34);
}

#[tokio::test]
async fn without_a_script_the_last_user_message_is_echoed() {
    let fake = FakeOllama::start_with_models([FakeModel::new("llama3.2")]).await;
    let messages =
        json!([user("first"), {"role": "assistant", "content": "ok"}, user("echo me please")]);
    let chunks = ndjson(
        post(
            &fake,
            "/api/chat",
            &json!({"model": "llama3.2", "messages": messages}),
        )
        .await,
    )
    .await;
    assert_eq!(chunks.len(), 4, "one chunk per word, then the final chunk");
    let text: String = chunks
        .iter()
        .filter_map(|c| c["message"]["content"].as_str())
        .collect();
    assert_eq!(text, "echo me please");
}

#[tokio::test]
async fn unknown_model_is_a_404_and_takes_no_script() {
    let fake = FakeOllama::start_with_models([FakeModel::new("llama3.2")]).await;
    fake.push_script(Script::reply("kept"));
    let response = post(
        &fake,
        "/api/chat",
        &json!({"model": "nope", "messages": [user("hi")]}),
    )
    .await;
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"error": "model \"nope\" not found, try pulling it first"})
    );
    assert_eq!(fake.pending_scripts(), 1);
    assert!(
        fake.violations().is_empty(),
        "a 404 is not a malformed request"
    );
}

#[tokio::test]
async fn deliberately_wrong_tool_schema_is_caught() {
    let fake = FakeOllama::start_with_models([smart("llama3.2")]).await;
    let tool = json!({"type": "function", "function": {"name": "remind", "parameters": {
        "type": "object",
        "$defs": {"When": {"type": "string"}},
        "properties": {
            "when": {"type": "string", "format": "date-time"},
            "repeat": {"type": "integer", "minimum": 1, "default": 1}
        },
        "additionalProperties": false
    }}});
    let body = json!({"model": "llama3.2", "messages": [user("remind me")], "tools": [tool]});
    let response = post(&fake, "/api/chat", &body).await;
    assert_eq!(response.status(), 400);
    let error = response.json::<Value>().await.unwrap()["error"]
        .as_str()
        .unwrap()
        .to_owned();
    for keyword in [
        "$defs",
        "when.format",
        "repeat.minimum",
        "repeat.default",
        "additionalProperties",
    ] {
        assert!(error.contains(keyword), "{keyword} named in: {error}");
    }
    let violations = fake.violations();
    assert_eq!(violations.len(), 1);
    assert_eq!(violations[0].path, "/api/chat");
    assert_eq!(violations[0].message, error);

    // The OpenAI-compatible endpoint applies the same rule, in its own error envelope.
    let response = post(&fake, "/v1/chat/completions", &body).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("additionalProperties")
    );
    assert_eq!(fake.violations().len(), 2);
}

#[tokio::test]
async fn capabilities_are_enforced() {
    let fake = FakeOllama::start_with_models([
        FakeModel::new("plain"),
        FakeModel::new("eyes").capabilities(&["completion", "vision"]),
    ])
    .await;
    let with_tools = json!({"model": "plain", "messages": [user("hi")], "tools": [weather_tool()]});
    let response = post(&fake, "/api/chat", &with_tools).await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "registry.ollama.ai/library/plain:latest does not support tools"
    );

    let image = json!({"role": "user", "content": "what is this?", "images": ["aGVsbG8="]});
    let response = post(
        &fake,
        "/api/chat",
        &json!({"model": "plain", "messages": [image]}),
    )
    .await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "this model is missing data required for image input"
    );
    let response = post(
        &fake,
        "/api/chat",
        &json!({"model": "eyes", "messages": [image]}),
    )
    .await;
    assert_eq!(response.status(), 200);

    let bad_image = json!({"role": "user", "content": "x", "images": ["not base64!"]});
    let response = post(
        &fake,
        "/api/chat",
        &json!({"model": "eyes", "messages": [bad_image]}),
    )
    .await;
    assert_eq!(response.status(), 400);

    let think = json!({"model": "plain", "think": true, "messages": [user("hi")]});
    let response = post(&fake, "/api/chat", &think).await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "\"plain\" does not support thinking"
    );
    assert_eq!(fake.violations().len(), 4);
}

#[tokio::test]
async fn malformed_requests_are_400() {
    let fake = FakeOllama::start_with_models([smart("llama3.2")]).await;
    let raw = |body: &'static str| {
        client()
            .post(format!("{}/api/chat", fake.url()))
            .body(body)
            .send()
    };
    let response = raw("{\"model\": \"llama3.2\", ").await.unwrap();
    assert_eq!(response.status(), 400);
    assert!(
        response.json::<Value>().await.unwrap()["error"]
            .as_str()
            .unwrap()
            .contains("JSON")
    );
    let response = raw("").await.unwrap();
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "missing request body"
    );

    // Stricter than Ollama: tool results need tool_name, tool call arguments are objects.
    let tool_result = json!({"role": "tool", "content": "22 C"});
    let response = post(
        &fake,
        "/api/chat",
        &json!({"model": "llama3.2", "messages": [tool_result]}),
    )
    .await;
    assert_eq!(response.status(), 400);
    let string_args = json!({"role": "assistant", "content": "", "tool_calls": [
        {"function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}
    ]});
    let response = post(
        &fake,
        "/api/chat",
        &json!({"model": "llama3.2", "messages": [string_args]}),
    )
    .await;
    assert_eq!(response.status(), 400);
    let parts = json!({"role": "user", "content": [{"type": "text", "text": "hi"}]});
    let response = post(
        &fake,
        "/api/chat",
        &json!({"model": "llama3.2", "messages": [parts]}),
    )
    .await;
    assert_eq!(response.status(), 400);
    assert_eq!(fake.violations().len(), 5);

    // The well-formed tool round trip is accepted.
    let ok = json!({"model": "llama3.2", "messages": [
        user("weather?"),
        {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
        {"role": "tool", "tool_name": "get_weather", "content": "22 C"}
    ]});
    assert_eq!(post(&fake, "/api/chat", &ok).await.status(), 200);
}

#[tokio::test]
async fn dropped_connection_is_an_error_for_the_client() {
    let fake = FakeOllama::start_with_models([FakeModel::new("llama3.2")]).await;
    fake.push_script(Script::new().text("partial answer").drop_connection());
    let response = post(
        &fake,
        "/api/chat",
        &json!({"model": "llama3.2", "messages": [user("hi")]}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let mut stream = response.bytes_stream();
    let mut received = Vec::new();
    let mut error = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(bytes) => received.extend_from_slice(&bytes),
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    let received = String::from_utf8(received).unwrap();
    assert!(received.contains("partial answer"), "{received}");
    assert!(!received.contains("\"done\":true"), "{received}");
    assert!(
        error.is_some(),
        "the cut body must surface as an error, got a clean end"
    );

    // Non-streaming: the client cannot read a complete answer either.
    fake.push_script(Script::new().text("x").drop_connection());
    let result = client()
        .post(format!("{}/api/chat", fake.url()))
        .json(&json!({"model": "llama3.2", "stream": false, "messages": [user("hi")]}))
        .send()
        .await;
    if let Ok(response) = result {
        assert!(
            response.bytes().await.is_err(),
            "a cut body cannot be read whole"
        );
    }
}

#[tokio::test]
async fn delays_hold_back_the_next_chunk() {
    let fake = FakeOllama::start_with_models([FakeModel::new("llama3.2")]).await;
    fake.push_script(
        Script::new()
            .text("a")
            .delay(Duration::from_millis(300))
            .text("b"),
    );
    let response = post(
        &fake,
        "/api/chat",
        &json!({"model": "llama3.2", "messages": [user("hi")]}),
    )
    .await;
    let mut stream = response.bytes_stream();
    let first = stream.next().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("\"content\":\"a\""));
    let at = std::time::Instant::now();
    let mut rest = Vec::new();
    while let Some(chunk) = stream.next().await {
        rest.extend_from_slice(&chunk.unwrap());
    }
    assert!(
        at.elapsed() >= Duration::from_millis(250),
        "{:?}",
        at.elapsed()
    );
    assert!(String::from_utf8_lossy(&rest).contains("\"content\":\"b\""));
}

#[tokio::test]
async fn scripted_errors_keep_ollamas_shape() {
    let fake = FakeOllama::start_with_models([FakeModel::new("llama3.2")]).await;
    let body = json!({"model": "llama3.2", "messages": [user("hi")]});

    fake.push_script(Script::error(503, "server busy, please try again"));
    let response = post(&fake, "/api/chat", &body).await;
    assert_eq!(response.status(), 503);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"error": "server busy, please try again"})
    );

    // After a chunk, Ollama reports the failure inside the stream and ends it.
    fake.push_script(
        Script::new()
            .text("so far")
            .stream_error("model runner crashed"),
    );
    let response = post(&fake, "/api/chat", &body).await;
    assert_eq!(response.status(), 200);
    let lines = ndjson(response).await;
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1], json!({"error": "model runner crashed"}));

    fake.push_script(
        Script::new()
            .text("so far")
            .stream_error("model runner crashed"),
    );
    let mut whole = body.clone();
    whole["stream"] = json!(false);
    let response = post(&fake, "/api/chat", &whole).await;
    assert_eq!(response.status(), 500);
    assert!(
        fake.violations().is_empty(),
        "scripted errors are not client violations"
    );
}

#[tokio::test]
async fn a_stall_sends_nothing_until_shutdown_cuts_it() {
    let fake = FakeOllama::start_with_models([FakeModel::new("llama3.2")]).await;
    fake.push_script(Script::new().text("thinking about it").stall());
    let response = post(
        &fake,
        "/api/chat",
        &json!({"model": "llama3.2", "messages": [user("hi")]}),
    )
    .await;
    let mut stream = response.bytes_stream();
    let first = stream.next().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("thinking about it"));
    let waited = tokio::time::timeout(Duration::from_millis(300), stream.next()).await;
    assert!(waited.is_err(), "nothing may arrive during a stall");
    assert_eq!(fake.in_flight(), 1);

    let url = fake.url();
    tokio::time::timeout(Duration::from_secs(5), fake.shutdown())
        .await
        .expect("shutdown does not wait for the stalled stream");
    let end = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .unwrap();
    assert!(
        matches!(end, Some(Err(_))),
        "the stalled stream is cut: {end:?}"
    );
    assert!(
        client().get(url).send().await.is_err(),
        "the server is gone"
    );
}

#[tokio::test]
async fn show_tags_ps_and_version_describe_the_models() {
    let fake = FakeOllama::start_with_models([
        smart("qwen3:8b")
            .family("qwen3")
            .parameter_size("8.2B")
            .context_length(40960),
        FakeModel::embedding("nomic-embed-text"),
    ])
    .await;
    let show = post(&fake, "/api/show", &json!({"model": "qwen3:8b"})).await;
    assert_eq!(show.status(), 200);
    let show: Value = show.json().await.unwrap();
    assert_eq!(
        show["capabilities"],
        json!(["completion", "tools", "thinking"])
    );
    assert_eq!(show["model_info"]["qwen3.context_length"], 40960);
    assert_eq!(show["model_info"]["general.architecture"], "qwen3");
    assert_eq!(show["details"]["parameter_size"], "8.2B");
    assert!(show["template"].is_string() && show["parameters"].is_string());

    let missing = post(&fake, "/api/show", &json!({"model": "ghost"})).await;
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.json::<Value>().await.unwrap()["error"],
        "model 'ghost' not found"
    );

    let tags = get_json(&fake, "/api/tags").await;
    let names: Vec<&str> = tags["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["nomic-embed-text:latest", "qwen3:8b"]);
    assert_eq!(tags["models"][1]["details"]["family"], "qwen3");
    assert_eq!(tags["models"][1]["digest"].as_str().unwrap().len(), 64);

    assert_eq!(get_json(&fake, "/api/ps").await["models"], json!([]));
    let chat = post(
        &fake,
        "/api/chat",
        &json!({"model": "qwen3:8b", "messages": [user("hi")]}),
    )
    .await;
    assert_eq!(chat.status(), 200);
    let ps = get_json(&fake, "/api/ps").await;
    assert_eq!(ps["models"][0]["name"], "qwen3:8b");
    assert_eq!(ps["models"][0]["context_length"], 40960);

    fake.set_version("0.99.0");
    assert_eq!(
        get_json(&fake, "/api/version").await,
        json!({"version": "0.99.0"})
    );
    let models = get_json(&fake, "/v1/models").await;
    assert_eq!(models["object"], "list");
    assert_eq!(models["data"][1]["id"], "qwen3:8b");
}

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[tokio::test]
async fn embeddings_are_deterministic_normalized_vectors() {
    let fake = FakeOllama::start_with_models([
        FakeModel::embedding("nomic-embed-text").embedding_length(64)
    ])
    .await;
    let embed = |input: Value| {
        let fake = &fake;
        async move {
            let response = post(
                fake,
                "/api/embed",
                &json!({"model": "nomic-embed-text", "input": input}),
            )
            .await;
            assert_eq!(response.status(), 200);
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["model"], "nomic-embed-text");
            serde_json::from_value::<Vec<Vec<f64>>>(body["embeddings"].clone()).unwrap()
        }
    };
    let single = embed(json!("the cat sat on the mat")).await;
    let many = embed(json!([
        "the cat sat on the mat",
        "a cat on a mat",
        "quantum chromodynamics"
    ]))
    .await;
    assert_eq!(single.len(), 1);
    assert_eq!(many.len(), 3);
    assert_eq!(single[0], many[0], "same text, same vector");
    assert_eq!(single[0].len(), 64);
    assert!(
        (cosine(&single[0], &single[0]) - 1.0).abs() < 1e-5,
        "normalized"
    );
    assert!(
        cosine(&many[0], &many[1]) > cosine(&many[0], &many[2]),
        "shared words are closer"
    );
    let expected: Vec<f64> = embedding_vector("the cat sat on the mat", 64)
        .into_iter()
        .map(f64::from)
        .collect();
    assert!(
        single[0]
            .iter()
            .zip(&expected)
            .all(|(a, b)| (a - b).abs() < 1e-6)
    );

    let v1 = post(
        &fake,
        "/v1/embeddings",
        &json!({"model": "nomic-embed-text", "input": ["x y"], "dimensions": 16}),
    )
    .await;
    let v1: Value = v1.json().await.unwrap();
    assert_eq!(v1["object"], "list");
    assert_eq!(v1["data"][0]["object"], "embedding");
    assert_eq!(v1["data"][0]["embedding"].as_array().unwrap().len(), 16);
    assert!(v1["usage"]["prompt_tokens"].as_u64().unwrap() > 0);

    let legacy = post(
        &fake,
        "/api/embeddings",
        &json!({"model": "nomic-embed-text", "prompt": "the cat sat on the mat"}),
    )
    .await;
    let legacy: Value = legacy.json().await.unwrap();
    assert_eq!(
        serde_json::from_value::<Vec<f64>>(legacy["embedding"].clone()).unwrap(),
        single[0]
    );

    let unknown = post(
        &fake,
        "/api/embed",
        &json!({"model": "ghost", "input": "x"}),
    )
    .await;
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn openai_stream_splits_tool_call_arguments_like_openai() {
    let fake = FakeOllama::start_with_models([smart("llama3.2")]).await;
    let arguments = json!({"city": "Paris", "unit": "celsius"});
    fake.push_script(
        Script::new()
            .thinking("hmm")
            .text("Checking")
            .tool_call("get_weather", arguments.clone()),
    );
    let response = post(
        &fake,
        "/v1/chat/completions",
        &json!({"model": "llama3.2", "stream": true, "stream_options": {"include_usage": true},
                "messages": [user("weather?")], "tools": [weather_tool()]}),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let events = sse(response).await;
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    for chunk in &chunks {
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["model"], "llama3.2");
        assert!(chunk["id"].as_str().unwrap().starts_with("chatcmpl-"));
    }
    let deltas: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"].get(0))
        .map(|c| &c["delta"])
        .collect();
    let content: String = deltas
        .iter()
        .filter_map(|d| d["content"].as_str())
        .collect();
    assert_eq!(content, "Checking");
    let reasoning: String = deltas
        .iter()
        .filter_map(|d| d["reasoning"].as_str())
        .collect();
    assert_eq!(reasoning, "hmm");

    let calls: Vec<&Value> = deltas
        .iter()
        .filter_map(|d| d["tool_calls"].get(0))
        .collect();
    assert!(
        calls.len() >= 3,
        "name first, then the arguments in pieces: {calls:#?}"
    );
    assert_eq!(calls[0]["index"], 0);
    assert_eq!(calls[0]["type"], "function");
    assert_eq!(calls[0]["function"]["name"], "get_weather");
    assert!(calls[0]["id"].as_str().unwrap().starts_with("call_"));
    assert!(
        calls[1..]
            .iter()
            .all(|c| c["index"] == 0 && c.get("id").is_none())
    );
    let joined: String = calls
        .iter()
        .filter_map(|c| c["function"]["arguments"].as_str())
        .collect();
    assert_eq!(serde_json::from_str::<Value>(&joined).unwrap(), arguments);

    let finish: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"].get(0))
        .map(|c| &c["finish_reason"])
        .filter(|f| !f.is_null())
        .collect();
    assert_eq!(finish, [&json!("tool_calls")]);
    let usage = &chunks.last().unwrap();
    assert_eq!(usage["choices"], json!([]));
    let u = &usage["usage"];
    assert_eq!(
        u["total_tokens"].as_u64().unwrap(),
        u["prompt_tokens"].as_u64().unwrap() + u["completion_tokens"].as_u64().unwrap()
    );
}

#[tokio::test]
async fn openai_non_streaming_and_errors() {
    let fake = FakeOllama::start_with_models([smart("llama3.2")]).await;
    fake.push_script(
        Script::new()
            .text("Sure.")
            .tool_call("get_weather", json!({"city": "Oslo"})),
    );
    let response = post(
        &fake,
        "/v1/chat/completions",
        &json!({"model": "llama3.2", "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["object"], "chat.completion");
    let choice = &body["choices"][0];
    assert_eq!(choice["message"]["content"], "Sure.");
    assert_eq!(choice["finish_reason"], "tool_calls");
    let arguments = choice["message"]["tool_calls"][0]["function"]["arguments"]
        .as_str()
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(arguments).unwrap(),
        json!({"city": "Oslo"})
    );
    assert!(body["usage"]["total_tokens"].as_u64().unwrap() > 0);

    // No script: the echo works here too.
    let echo = post(
        &fake,
        "/v1/chat/completions",
        &json!({"model": "llama3.2", "messages": [user("ping")]}),
    )
    .await;
    assert_eq!(
        echo.json::<Value>().await.unwrap()["choices"][0]["message"]["content"],
        "ping"
    );

    let unknown = post(
        &fake,
        "/v1/chat/completions",
        &json!({"model": "ghost", "messages": [user("x")]}),
    )
    .await;
    assert_eq!(unknown.status(), 404);
    let error: Value = unknown.json().await.unwrap();
    assert_eq!(error["error"]["type"], "not_found_error");
    assert_eq!(
        error["error"]["message"],
        "model \"ghost\" not found, try pulling it first"
    );

    fake.push_script(Script::error(500, "boom"));
    let failed = post(
        &fake,
        "/v1/chat/completions",
        &json!({"model": "llama3.2", "stream": true, "messages": [user("x")]}),
    )
    .await;
    assert_eq!(failed.status(), 500);
    assert_eq!(
        failed.json::<Value>().await.unwrap()["error"]["message"],
        "boom"
    );

    let string_args_ok = json!({"model": "llama3.2", "messages": [
        user("weather?"),
        {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "5 C"}
    ]});
    assert_eq!(
        post(&fake, "/v1/chat/completions", &string_args_ok)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn think_false_hides_the_thinking() {
    let fake = FakeOllama::start_with_models([smart("qwen3")]).await;
    fake.push_script(Script::new().thinking("secret").text("answer"));
    let body = json!({"model": "qwen3", "think": false, "stream": false, "messages": [user("hi")]});
    let reply: Value = post(&fake, "/api/chat", &body).await.json().await.unwrap();
    assert_eq!(reply["message"]["content"], "answer");
    assert!(reply["message"].get("thinking").is_none(), "{reply}");
}

#[tokio::test]
async fn a_chat_without_messages_loads_the_model() {
    let fake = FakeOllama::start_with_models([FakeModel::new("llama3.2")]).await;
    let load: Value = post(
        &fake,
        "/api/chat",
        &json!({"model": "llama3.2", "messages": []}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(load["done_reason"], "load");
    assert_eq!(fake.loaded_models(), ["llama3.2:latest"]);
    let unload: Value = post(
        &fake,
        "/api/chat",
        &json!({"model": "llama3.2", "messages": [], "keep_alive": 0}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(unload["done_reason"], "unload");
    assert!(fake.loaded_models().is_empty());
}

#[tokio::test]
async fn every_request_is_recorded() {
    let fake = FakeOllama::start_with_models([FakeModel::new("llama3.2")]).await;
    let response = client()
        .post(format!("{}/api/chat", fake.url()))
        .header("x-request-id", "abc-123")
        .json(&json!({"model": "llama3.2", "options": {"num_ctx": 8192}, "messages": [user("remember me")]}))
        .send()
        .await
        .unwrap();
    response.text().await.unwrap();
    get_json(&fake, "/api/tags").await;
    let missing = client()
        .get(format!("{}/api/nothing", fake.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    let requests = fake.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(fake.request_count(), 3);
    assert_eq!(requests[0].method, "POST");
    assert_eq!(requests[0].path, "/api/chat");
    assert_eq!(requests[0].header("x-request-id"), Some("abc-123"));
    assert_eq!(requests[0].status.map(|s| s.as_u16()), Some(200));
    assert_eq!(requests[1].path, "/api/tags");
    assert_eq!(requests[2].status.map(|s| s.as_u16()), Some(404));
    assert!(requests[0].received_at <= requests[1].received_at);
    // The streamed answer was read to its end: its end is recorded.
    let finished = requests[0].finished_at.expect("the chat answer finished");
    assert!(finished >= requests[0].received_at);
    assert!(requests[2].finished_at.is_some());
    assert_eq!(fake.count("/api/chat"), 1);

    let chats = fake.chat_requests();
    assert_eq!(chats.len(), 1);
    assert_eq!(chats[0]["options"]["num_ctx"], 8192);
    assert_eq!(chats[0]["messages"][0]["content"], "remember me");
    assert_eq!(fake.last_chat_request(), Some(chats[0].clone()));

    fake.clear_requests();
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn concurrent_requests_are_counted_in_flight() {
    let fake = FakeOllama::start_with_models([FakeModel::new("llama3.2")]).await;
    fake.push_scripts((0..3).map(|i| {
        Script::new()
            .delay(Duration::from_millis(300))
            .text(&format!("reply {i}"))
    }));
    let body = json!({"model": "llama3.2", "messages": [user("hi")]});
    let answers = futures::future::join_all(
        (0..3).map(|_| async { post(&fake, "/api/chat", &body).await.text().await.unwrap() }),
    )
    .await;
    assert_eq!(answers.len(), 3);
    assert_eq!(fake.max_in_flight(), 3);
    assert_eq!(fake.in_flight(), 0);
}

#[tokio::test]
async fn an_api_key_can_be_required() {
    let fake = FakeOllama::start_with_models([FakeModel::new("llama3.2")]).await;
    fake.require_api_key("sk-test");
    let url = format!("{}/v1/models", fake.url());
    let denied = client().get(&url).send().await.unwrap();
    assert_eq!(denied.status(), 401);
    let wrong = client()
        .get(&url)
        .bearer_auth("sk-wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let allowed = client()
        .get(&url)
        .bearer_auth("sk-test")
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200);
    let native = client()
        .get(format!("{}/api/tags", fake.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(native.status(), 401);
    assert_eq!(
        native.json::<Value>().await.unwrap(),
        json!({"error": "unauthorized"})
    );
}
