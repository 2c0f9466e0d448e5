//! The backend pool over several FakeOllama servers: routing, balancing, queueing, failover.

use std::time::Duration;

use mcpcord_llm::{
    BackendPool, BackendSpec, ChatRequest, LlmError, Message, PoolOptions, ServerKind, ToolSpec,
    collect,
};
use mcpcord_testkit::FakeOllama;
use mcpcord_testkit::fake_ollama::{FakeModel, Script};
use serde_json::json;

fn spec(name: &str, fake: &FakeOllama, max_concurrency: usize) -> BackendSpec {
    let mut spec = BackendSpec::new(name, ServerKind::Ollama, fake.url().parse().unwrap());
    spec.max_concurrency = max_concurrency;
    spec
}

fn request(model: &str) -> ChatRequest {
    ChatRequest::new(model, vec![Message::user("hi")])
}

fn slow_replies(fake: &FakeOllama, count: usize) {
    for _ in 0..count {
        fake.push_script(Script::new().delay(Duration::from_millis(150)).text("ok"));
    }
}

#[tokio::test]
async fn balances_concurrent_requests_by_load_within_each_limit() {
    let a = FakeOllama::start_with_models([FakeModel::new("llama3.2")]).await;
    let b = FakeOllama::start_with_models([FakeModel::new("llama3.2")]).await;
    slow_replies(&a, 8);
    slow_replies(&b, 8);
    let pool = BackendPool::new(
        vec![spec("a", &a, 2), spec("b", &b, 2)],
        PoolOptions::default(),
    );
    let answers = futures::future::join_all((0..8).map(|_| {
        let pool = pool.clone();
        async move { pool.complete(&request("llama3.2")).await }
    }))
    .await;
    assert!(
        answers
            .iter()
            .all(|a| a.as_ref().is_ok_and(|r| r.text == "ok")),
        "{answers:?}"
    );
    let (on_a, on_b) = (a.chat_requests().len(), b.chat_requests().len());
    assert_eq!(on_a + on_b, 8);
    assert!(on_a >= 3 && on_b >= 3, "balanced: a={on_a} b={on_b}");
    assert!(
        a.max_in_flight() <= 2 && b.max_in_flight() <= 2,
        "limits respected"
    );
    assert_eq!(pool.load("a") + pool.load("b"), 0, "leases released");
}

#[tokio::test]
async fn queues_instead_of_flooding_a_one_at_a_time_server() {
    let fake = FakeOllama::start_with_models([FakeModel::new("llama3.2")]).await;
    slow_replies(&fake, 4);
    let pool = BackendPool::new(vec![spec("only", &fake, 1)], PoolOptions::default());
    let request = request("llama3.2");
    let answers = futures::future::join_all((0..4).map(|_| pool.complete(&request))).await;
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    assert_eq!(fake.max_in_flight(), 1);
    assert_eq!(fake.chat_requests().len(), 4);
}

#[tokio::test]
async fn routes_to_the_backend_that_has_the_model() {
    let a = FakeOllama::start_with_models([FakeModel::new("llama3.2")]).await;
    let b = FakeOllama::start_with_models([FakeModel::new("qwen3")]).await;
    b.push_script(Script::reply("from b"));
    let pool = BackendPool::new(
        vec![spec("a", &a, 1), spec("b", &b, 1)],
        PoolOptions::default(),
    );
    let answer = pool.complete(&request("qwen3")).await.unwrap();
    assert_eq!(answer.text, "from b");
    assert!(a.chat_requests().is_empty());

    let error = pool.complete(&request("mistral")).await.err().unwrap();
    assert!(
        matches!(error, LlmError::NoBackendForModel { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("a, b"), "{error}");
    assert!(
        error.to_string().contains("`ollama pull mistral`"),
        "{error}"
    );

    // A near miss names the models that are there.
    let error = pool.complete(&request("qwen")).await.err().unwrap();
    let said = error.to_string();
    assert!(
        said.contains("`ollama pull qwen`") && said.contains("choose one of: qwen3"),
        "{said}"
    );
}

#[tokio::test]
async fn fails_over_when_a_backend_fails_before_the_first_token() {
    let a = FakeOllama::start_with_models([FakeModel::new("llama3.2")]).await;
    let b = FakeOllama::start_with_models([FakeModel::new("llama3.2")]).await;
    a.push_script(Script::error(503, "loading failed"));
    b.push_script(Script::reply("rescued"));
    let pool = BackendPool::new(
        vec![spec("a", &a, 1), spec("b", &b, 1)],
        PoolOptions::default(),
    );
    let answer = pool.complete(&request("llama3.2")).await.unwrap();
    assert_eq!(answer.text, "rescued");
    assert_eq!(a.chat_requests().len(), 1, "a was tried first");

    // A backend that went away entirely is skipped the same way.
    a.shutdown().await;
    b.push_script(Script::reply("still here"));
    assert_eq!(
        pool.complete(&request("llama3.2")).await.unwrap().text,
        "still here"
    );
}

#[tokio::test]
async fn asks_for_the_models_context_capped_by_configuration() {
    let fake = FakeOllama::start_with_models([
        FakeModel::new("big").context_length(131_072),
        FakeModel::new("small").context_length(4096),
    ])
    .await;
    fake.push_scripts([Script::reply("a"), Script::reply("b")]);
    let options = PoolOptions {
        max_context: Some(16_384),
        ..PoolOptions::default()
    };
    let pool = BackendPool::new(vec![spec("only", &fake, 1)], options);
    pool.complete(&request("big")).await.unwrap();
    pool.complete(&request("small")).await.unwrap();
    let sent = fake.chat_requests();
    assert_eq!(sent[0]["options"]["num_ctx"], 16_384);
    assert_eq!(sent[1]["options"]["num_ctx"], 4096);
}

#[tokio::test]
async fn a_model_without_tools_is_refused_before_sending_so_the_caller_can_retry() {
    let fake =
        FakeOllama::start_with_models([FakeModel::new("gemma").capabilities(&["completion"])])
            .await;
    let pool = BackendPool::new(vec![spec("only", &fake, 1)], PoolOptions::default());
    let mut with_tools = request("gemma");
    with_tools.tools = vec![ToolSpec {
        name: "echo".into(),
        description: "Echo".into(),
        parameters: json!({"type": "object", "properties": {}}),
    }];
    let error = pool.chat(&with_tools).await.err().unwrap();
    assert!(
        matches!(error, LlmError::ToolsUnsupported { .. }),
        "{error:?}"
    );
    assert!(fake.chat_requests().is_empty(), "nothing was sent");
    fake.push_script(Script::reply("without tools"));
    let answer = collect(pool.chat(&request("gemma")).await.unwrap())
        .await
        .unwrap();
    assert_eq!(answer.text, "without tools");
}

#[tokio::test]
async fn lists_models_with_capabilities_and_reports_health() {
    let fake = FakeOllama::start_with_models([FakeModel::new("llama3.2")
        .capabilities(&["completion", "tools"])
        .context_length(8192)])
    .await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = BackendSpec::new(
        "dead",
        ServerKind::Ollama,
        format!("http://127.0.0.1:{port}").parse().unwrap(),
    );
    let pool = BackendPool::new(vec![spec("live", &fake, 1), dead], PoolOptions::default());
    let lists = pool.list_models().await;
    let live = lists[0].models.as_ref().unwrap();
    assert_eq!(live[0].context_length, Some(8192));
    assert!(live[0].capabilities.as_ref().unwrap().len() == 2);
    assert!(matches!(lists[1].models, Err(LlmError::Unreachable { .. })));
    let health = pool.refresh().await;
    assert!(health[0].result.is_ok() && health[1].result.is_err());
}

#[tokio::test]
async fn a_reload_swaps_the_backends_and_a_running_stream_finishes_where_it_started() {
    let a = FakeOllama::start_with_models([FakeModel::new("llama3.2")]).await;
    let b = FakeOllama::start_with_models([FakeModel::new("llama3.2")]).await;
    a.push_script(
        Script::new()
            .text("old ")
            .delay(Duration::from_millis(400))
            .text("backend"),
    );
    b.push_script(Script::reply("new backend"));
    let pool = BackendPool::new(vec![spec("a", &a, 1)], PoolOptions::default());
    let running = {
        let pool = pool.clone();
        tokio::spawn(async move { pool.complete(&request("llama3.2")).await })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(pool.load("a"), 1);
    pool.reconfigure(vec![spec("b", &b, 1)], PoolOptions::default());
    let names: Vec<String> = pool.specs().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["b"]);
    let answer = pool.complete(&request("llama3.2")).await.unwrap();
    assert_eq!(answer.text, "new backend");
    let old = running.await.unwrap().unwrap();
    assert_eq!(old.text, "old backend", "the running stream was not cut");
    assert_eq!((a.chat_requests().len(), b.chat_requests().len()), (1, 1));

    // An unchanged backend keeps its state (its requests in flight count); a changed one
    // (another concurrency) starts afresh.
    b.push_script(Script::new().delay(Duration::from_millis(300)).text("slow"));
    let held = {
        let pool = pool.clone();
        tokio::spawn(async move { pool.complete(&request("llama3.2")).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    pool.reconfigure(vec![spec("b", &b, 1)], PoolOptions::default());
    assert_eq!(pool.load("b"), 1, "same spec: same backend state");
    pool.reconfigure(vec![spec("b", &b, 2)], PoolOptions::default());
    assert_eq!(pool.load("b"), 0, "changed spec: a fresh backend");
    held.await.unwrap().unwrap();
}
