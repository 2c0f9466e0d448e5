//! A harness for engine tests: FakeOllama, the in-process test MCP server, SQLite in a tempdir.

#![allow(dead_code)] // Each test file uses a different part.

pub mod db;

use std::time::Duration;

use mcpcord_engine::{
    Approval, AuditFilter, AuditRecord, Engine, EngineConfig, Place, Speaker, TurnAction,
    TurnEvent, TurnRequest, TurnSummary, UserMessage,
};
use mcpcord_llm::{BackendPool, BackendSpec, PoolOptions, ServerKind};
use mcpcord_mcp::{
    ApprovalPolicy, Callbacks, HostOptions, McpHost, ServerSpec, StreamConnector, ToolPolicy,
};
use mcpcord_memory::{ChannelId, ConversationKey, GuildId, Scope, Store, UserId};
use mcpcord_testkit::FakeOllama;
use mcpcord_testkit::fake_ollama::FakeModel;
use mcpcord_testkit::mcp_server::{self, TestMcpServer};

/// The audit log as `filter` selects it, newest first, once every entry written so far is in
/// the database.
pub async fn audit_log(engine: &Engine, filter: &AuditFilter) -> Vec<AuditRecord> {
    engine.audit_flush().await;
    engine.audit_log(filter).await.expect("the audit log")
}

/// Longest a test waits for a turn.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// A backend pool of one Ollama backend: `fake`.
pub fn fake_pool(fake: &FakeOllama) -> BackendPool {
    BackendPool::new(
        vec![BackendSpec::new(
            "fake",
            ServerKind::Ollama,
            fake.url().parse().unwrap(),
        )],
        PoolOptions::default(),
    )
}

/// An engine over `store` answering from `fake`, without MCP servers.
pub fn engine_on(fake: &FakeOllama, store: Store, config: EngineConfig) -> Engine {
    Engine::new(fake_pool(fake), None, store, config)
}

/// Waits until `done` holds, polling (at most [`TIMEOUT`]).
pub async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let started = std::time::Instant::now();
    while !done().await {
        assert!(started.elapsed() < TIMEOUT, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Everything a test needs, kept alive together.
pub struct Harness {
    pub fake: FakeOllama,
    pub engine: Engine,
    pub server: TestMcpServer,
    _dir: tempfile::TempDir,
}

/// A model that can call tools, with a generous context.
pub fn tool_model() -> FakeModel {
    FakeModel::new("llama3.2")
        .capabilities(&["completion", "tools"])
        .context_length(32_768)
}

/// Starts a harness with `models`; tools from the test MCP server when `policy` is given.
pub async fn harness(
    models: Vec<FakeModel>,
    policy: Option<ToolPolicy>,
    config: EngineConfig,
) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}/engine.sqlite", dir.path().display()))
        .await
        .unwrap();
    harness_on(store, dir, models, policy, config).await
}

/// [`harness`] over `store` (kept open with `dir`, which may hold nothing).
pub async fn harness_on(
    store: Store,
    dir: tempfile::TempDir,
    models: Vec<FakeModel>,
    policy: Option<ToolPolicy>,
    config: EngineConfig,
) -> Harness {
    let fake = FakeOllama::start_with_models(models).await;
    let pool = fake_pool(&fake);
    let server = TestMcpServer::new();
    let host = match policy {
        Some(policy) => {
            let shared = server.clone();
            let spec = ServerSpec::stream(
                "test",
                StreamConnector::new(move || {
                    let pipe = mcp_server::serve_in_process(shared.clone());
                    async move { Ok(pipe) }
                }),
            )
            .with_tools(policy);
            let host = McpHost::start(vec![spec], HostOptions::default(), Callbacks::default());
            assert!(
                host.wait_ready(TIMEOUT).await,
                "the test MCP server started"
            );
            Some(host)
        }
        None => None,
    };
    let engine = Engine::new(pool, host, store, config);
    Harness {
        fake,
        engine,
        server,
        _dir: dir,
    }
}

impl Harness {
    /// The stored history of conversation `key` (at most 100 messages), oldest first.
    pub async fn history(&self, key: &str) -> Vec<mcpcord_memory::StoredMessage> {
        let store = self.engine.store();
        let conversation = store
            .find_conversation(&ConversationKey::new(key))
            .await
            .unwrap()
            .expect("the conversation exists");
        store.history(conversation.id, 100).await.unwrap()
    }
}

/// Tools offered with the default policy, except those named with `ask`.
pub fn asking(tools: &[&str]) -> ToolPolicy {
    let mut policy = ToolPolicy::default();
    for tool in tools {
        policy
            .approval
            .insert((*tool).to_string(), ApprovalPolicy::Ask);
    }
    policy
}

/// A config for `model` with the defaults otherwise.
pub fn config(model: &str) -> EngineConfig {
    EngineConfig {
        default_model: model.into(),
        ..EngineConfig::default()
    }
}

/// A turn request in conversation `key` from alice.
pub fn request(key: &str, action: TurnAction) -> TurnRequest {
    TurnRequest {
        key: ConversationKey::new(key),
        scope: Scope {
            guild_id: Some(GuildId::new(1)),
            channel_id: Some(ChannelId::new(2)),
            user_id: Some(UserId::new(42)),
        },
        author: Speaker {
            id: Some(UserId::new(42)),
            name: "alice".into(),
        },
        place: Place {
            user: "alice".into(),
            server: Some("Test Server".into()),
            channel: Some("general".into()),
        },
        action,
        model: None,
        grants: mcpcord_engine::Grants::everything(),
    }
}

/// A message turn.
pub fn say(key: &str, text: &str) -> TurnRequest {
    request(key, TurnAction::Message(UserMessage::text(text)))
}

/// Runs a turn to its end, answering approvals with `approval`; returns the events (approval
/// requests replaced by notices) and the summary.
pub async fn run_with(
    engine: &Engine,
    request: TurnRequest,
    approval: Approval,
) -> (Vec<String>, TurnSummary) {
    let mut turn = engine.start_turn(request);
    let mut seen = Vec::new();
    let outcome = tokio::time::timeout(TIMEOUT, async {
        while let Some(event) = turn.next().await {
            match event {
                TurnEvent::ApprovalNeeded(request) => {
                    seen.push(format!("approval {}", request.tool));
                    let _ = request.reply.send(approval);
                }
                TurnEvent::Done(summary) => return Ok(summary),
                TurnEvent::Failed(error) => return Err(error),
                other => seen.push(describe(&other)),
            }
        }
        panic!("the turn ended without Done or Failed: {seen:?}");
    })
    .await
    .expect("the turn finished in time");
    match outcome {
        Ok(summary) => (seen, summary),
        Err(error) => panic!("the turn failed: {error}; events: {seen:?}"),
    }
}

/// Runs a turn, approving every tool call.
pub async fn run(engine: &Engine, request: TurnRequest) -> (Vec<String>, TurnSummary) {
    run_with(engine, request, Approval::Approve).await
}

/// Runs a turn to its end, whether it answers or fails: its events (described) and how it
/// ended.
pub async fn outcome(
    engine: &Engine,
    request: TurnRequest,
) -> (
    Vec<String>,
    Result<TurnSummary, mcpcord_engine::EngineError>,
) {
    let mut turn = engine.start_turn(request);
    let mut seen = Vec::new();
    tokio::time::timeout(TIMEOUT, async {
        while let Some(event) = turn.next().await {
            match event {
                TurnEvent::Done(summary) => return (seen, Ok(summary)),
                TurnEvent::Failed(error) => return (seen, Err(error)),
                other => seen.push(describe(&other)),
            }
        }
        panic!("the turn ended without Done or Failed: {seen:?}");
    })
    .await
    .expect("the turn finished in time")
}

/// A short text for an event, for assertions and failure messages.
pub fn describe(event: &TurnEvent) -> String {
    match event {
        TurnEvent::Started { model } => format!("started {model}"),
        TurnEvent::Text(t) => format!("text {t}"),
        TurnEvent::Rewritten(t) => format!("rewritten {t}"),
        TurnEvent::Thinking(t) => format!("thinking {t}"),
        TurnEvent::ToolStarted { server, tool, .. } => format!("tool {server}/{tool}"),
        TurnEvent::ToolProgress { .. } => "progress".into(),
        TurnEvent::ToolFinished { ok, summary, .. } => format!("finished {ok} {summary}"),
        TurnEvent::Notice(n) => format!("notice {n}"),
        TurnEvent::InputRequested(_) => "input".into(),
        TurnEvent::ApprovalNeeded(r) => format!("approval {}", r.tool),
        TurnEvent::Done(_) => "done".into(),
        TurnEvent::Failed(e) => format!("failed {e}"),
    }
}
