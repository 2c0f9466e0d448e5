//! What the end-to-end tests of the adapter share: a bot running on FakeDiscord + FakeOllama
//! (+ the in-process test MCP server) + SQLite (or a PostgreSQL schema of its own), and helpers
//! to read what it posted.

// Each test binary uses its own part of this module.
#![allow(dead_code)]

// The engine tests' database helper (SQLite file or PostgreSQL schema), shared, not copied.
#[path = "../../../engine/tests/common/db.rs"]
pub mod db;

use std::time::Duration;

use mcpcord_discord::bot::{BotConfig, BotError, RestProxy};
use mcpcord_discord::throttle::ThrottleConfig;
use mcpcord_engine::{Engine, EngineConfig};
use mcpcord_llm::{BackendPool, BackendSpec, PoolOptions, ServerKind};
use mcpcord_mcp::{Callbacks, HostOptions, McpHost, ServerSpec, StreamConnector, ToolPolicy};
use mcpcord_memory::Store;
use mcpcord_testkit::fake_discord::{
    FakeDiscordBuilder, InjectedInteraction, InteractionResponse, MessageCreate, ResponseKind,
};
use mcpcord_testkit::fake_ollama::FakeModel;
use mcpcord_testkit::mcp_server::{self, TestMcpServer};
use mcpcord_testkit::{FakeDiscord, FakeOllama};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Longest any wait in these tests.
pub const WAIT: Duration = Duration::from_secs(20);

/// The bot's user id as Discord's JSON spells it.
pub const BOT_ID: &str = "1200000000000000001";

pub struct Bot {
    pub discord: FakeDiscord,
    pub ollama: FakeOllama,
    pub engine: Engine,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), BotError>>>,
    _database: db::Db,
}

/// The default model: tools, no vision.
pub fn model() -> FakeModel {
    FakeModel::new("llama3.2")
        .capabilities(&["completion", "tools"])
        .context_length(32_768)
}

/// What a bot is started with beyond the adapter's configuration.
pub struct Options {
    /// The test MCP server, with this tool policy; none when `None`.
    pub tools: Option<ToolPolicy>,
    /// The fake Discord.
    pub discord: FakeDiscordBuilder,
    /// The engine.
    pub engine: EngineConfig,
    /// The database; a SQLite file in a temporary folder when `None`.
    pub database: Option<db::Db>,
    /// An MCP host of the test's own (instead of the one `tools` starts).
    pub host: Option<McpHost>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            tools: None,
            discord: FakeDiscord::builder(),
            engine: EngineConfig {
                default_model: "llama3.2".into(),
                ..EngineConfig::default()
            },
            database: None,
            host: None,
        }
    }
}

pub async fn start(tools: Option<ToolPolicy>, tweak: impl FnOnce(&mut BotConfig)) -> Bot {
    start_with(
        Options {
            tools,
            ..Options::default()
        },
        tweak,
    )
    .await
}

pub async fn start_with(options: Options, tweak: impl FnOnce(&mut BotConfig)) -> Bot {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let discord = options.discord.start().await;
    let ollama = FakeOllama::start_with_models(vec![
        model(),
        FakeModel::new("llava").capabilities(&["completion", "vision"]),
    ])
    .await;
    let database = options.database.unwrap_or_else(db::Db::sqlite);
    let store = Store::connect(database.url()).await.unwrap();
    let pool = BackendPool::new(
        vec![BackendSpec::new(
            "fake",
            ServerKind::Ollama,
            ollama.url().parse().unwrap(),
        )],
        PoolOptions::default(),
    );
    let host = match options.tools {
        _ if options.host.is_some() => options.host,
        Some(policy) => {
            let server = TestMcpServer::new();
            let spec = ServerSpec::stream(
                "test",
                StreamConnector::new(move || {
                    let pipe = mcp_server::serve_in_process(server.clone());
                    async move { Ok(pipe) }
                }),
            )
            .with_tools(policy);
            let host = McpHost::start(vec![spec], HostOptions::default(), Callbacks::default());
            assert!(host.wait_ready(WAIT).await, "the test MCP server started");
            Some(host)
        }
        None => None,
    };
    let engine = Engine::new(pool, host, store, options.engine);
    let mut config = BotConfig::new(FakeDiscord::TOKEN);
    config.rest_proxy = Some(RestProxy {
        authority: discord.rest_addr_string(),
        http: true,
    });
    config.gateway_url = Some(discord.gateway_url());
    config.shard_count = Some(1.try_into().unwrap());
    config.throttle = ThrottleConfig {
        interval: Duration::from_millis(200),
        ..ThrottleConfig::default()
    };
    config.grace = Duration::from_secs(2);
    tweak(&mut config);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(mcpcord_discord::run(config, engine.clone(), async move {
        let _ = stopped.await;
    }));
    discord
        .wait_for_identify()
        .await
        .expect("the bot identified");
    // READY, then the guild: give the shard a moment to be in the session.
    tokio::time::sleep(Duration::from_millis(200)).await;
    Bot {
        discord,
        ollama,
        engine,
        stop: Some(stop),
        task: Some(task),
        _database: database,
    }
}

impl Bot {
    pub async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(WAIT, task)
                .await
                .expect("the bot stopped in time")
                .unwrap()
                .unwrap();
        }
        if let Some(host) = self.engine.tools() {
            host.shutdown().await;
        }
    }

    /// Waits for the bot to stop by itself (nobody asked it to); returns how it ended.
    pub async fn exited(&mut self) -> Result<(), BotError> {
        let task = self.task.take().expect("the bot is running");
        let result = tokio::time::timeout(WAIT, task)
            .await
            .expect("the bot stopped by itself in time")
            .unwrap();
        if let Some(host) = self.engine.tools() {
            host.shutdown().await;
        }
        result
    }

    /// How many message edits (`PATCH …/messages/…`) the bot sent.
    pub fn message_edits(&self) -> usize {
        self.discord
            .requests()
            .iter()
            .filter(|r| r.method == "PATCH" && r.path.contains("/messages/"))
            .count()
    }

    /// Bot messages in `channel`.
    pub fn answers(&self, channel: u64) -> Vec<Value> {
        self.discord
            .messages_in(channel)
            .into_iter()
            .filter(|m| m["author"]["id"].as_str() == Some(BOT_ID))
            .collect()
    }

    /// Waits until `check` finds what it wants in the bot's messages of `channel`.
    pub async fn wait_answers<T>(
        &self,
        channel: u64,
        what: &str,
        mut check: impl FnMut(&[Value]) -> Option<T>,
    ) -> T {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let answers = self.answers(channel);
            if let Some(found) = check(&answers) {
                return found;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("timed out waiting for {what}; bot messages: {answers:#?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits for a finished answer (no Stop button) containing `text`; returns its messages.
    pub async fn finished_answer(&self, channel: u64, text: &str) -> Vec<Value> {
        self.wait_answers(channel, text, |answers| {
            let joined: String = answers
                .iter()
                .map(|m| m["content"].as_str().unwrap_or_default())
                .collect();
            (joined.contains(text) && !answers.iter().any(|m| has_button(m, "stop:")))
                .then(|| answers.to_vec())
        })
        .await
    }

    /// Waits until the bot has done `n` things with `interaction`; returns them.
    pub async fn responses(
        &self,
        interaction: &InjectedInteraction,
        n: usize,
    ) -> Vec<InteractionResponse> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let responses = self.discord.interaction_responses(interaction.id);
            if responses.len() >= n {
                return responses;
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "timed out waiting for {n} responses to interaction {}; got {responses:#?}",
                    interaction.id
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits for the bot's first answer to `interaction`; returns its JSON body.
    pub async fn callback(&self, interaction: &InjectedInteraction) -> Value {
        self.responses(interaction, 1).await[0]
            .body
            .clone()
            .expect("the callback has a body")
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

pub fn custom_ids(message: &Value) -> Vec<String> {
    let mut ids = Vec::new();
    for row in message["components"].as_array().into_iter().flatten() {
        for component in row["components"].as_array().into_iter().flatten() {
            if let Some(id) = component["custom_id"].as_str() {
                ids.push(id.to_owned());
            }
        }
    }
    ids
}

pub fn has_button(message: &Value, prefix: &str) -> bool {
    custom_ids(message).iter().any(|id| id.starts_with(prefix))
}

pub fn button(message: &Value, prefix: &str) -> String {
    custom_ids(message)
        .into_iter()
        .find(|id| id.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} button on {message:#}"))
}

pub fn id_of(message: &Value) -> u64 {
    message["id"].as_str().unwrap().parse().unwrap()
}

pub fn mention(text: &str) -> MessageCreate {
    MessageCreate::new(format!("<@{}> {text}", FakeDiscord::BOT_USER_ID))
}

/// The texts of the messages of the last chat request, in order.
pub fn last_prompt(ollama: &FakeOllama) -> Vec<String> {
    ollama.last_chat_request().unwrap()["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Every bot request that creates or edits a message sets `allowed_mentions` to nothing.
pub fn assert_no_pings(discord: &FakeDiscord) {
    for request in discord.requests() {
        let is_message = request.path.contains("/messages");
        let writes = request.method == "POST" || request.method == "PATCH";
        if !(is_message && writes) || request.path.ends_with("/typing") {
            continue;
        }
        let Some(body) = &request.body else { continue };
        if body.get("content").is_none() {
            continue;
        }
        assert_eq!(
            body["allowed_mentions"]["parse"],
            json!([]),
            "{} {} pings: {body:#}",
            request.method,
            request.path
        );
    }
}

/// The deferred, private answer to a command or press: its final body (the edit of the
/// deferral), after checking the deferral was private.
pub async fn private_answer(bot: &Bot, interaction: &InjectedInteraction) -> Value {
    let responses = bot.responses(interaction, 2).await;
    assert_eq!(
        responses[0].kind,
        ResponseKind::Callback(5),
        "{responses:#?}"
    );
    assert_eq!(
        responses[0].body.as_ref().unwrap()["data"]["flags"],
        64,
        "private: {responses:#?}"
    );
    responses
        .iter()
        .find(|r| r.kind == ResponseKind::EditOriginal)
        .unwrap_or_else(|| panic!("no edit of the deferred answer: {responses:#?}"))
        .body
        .clone()
        .unwrap()
}

/// What the deferred, private answer to `interaction` says in its content.
pub async fn private_text(bot: &Bot, interaction: &InjectedInteraction) -> String {
    private_answer(bot, interaction).await["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}
