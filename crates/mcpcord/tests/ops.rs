//! The operations parts in process: a live reload applied to a running application (and refused
//! when the file is wrong), what a reload cannot change, and the admin endpoint started by
//! `Operations::start`. The binary's own tests (service.rs, admin.rs) drive the same code
//! through signals and HTTP; these reach the branches a signal cannot aim at.

use std::path::Path;
use std::time::Duration;

use mcpcord::admin::Operations;
use mcpcord::app::App;
use mcpcord::commands::bot_config;
use mcpcord::config::{Config, Env, Source};
use mcpcord::reload::{Outcome, Reloader, needs_restart};
use mcpcord_discord::status::GatewayStatus;
use mcpcord_testkit::FakeOllama;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "ops-test-admin-token";

/// A configuration file for the fake backend and a database in `dir`, with `extra` TOML.
fn write_config(dir: &Path, ollama: &FakeOllama, prompt: &str, extra: &str) {
    let text = format!(
        "[[backends]]\nname = \"local\"\nurl = \"{url}\"\n\n\
         [models]\ndefault = \"llama3.2\"\nsystem_prompt = \"{prompt}\"\n\n\
         [storage]\nurl = \"sqlite://{db}/bot.sqlite?mode=rwc\"\ndata_dir = \"{db}/data\"\n\n\
         {extra}",
        url = ollama.url(),
        db = dir.display(),
    );
    std::fs::write(dir.join("mcpcord.toml"), text).unwrap();
}

fn env() -> Env {
    [
        ("DISCORD_TOKEN".to_owned(), "token-one".to_owned()),
        ("OPS_ADMIN_TOKEN".to_owned(), TOKEN.to_owned()),
    ]
    .into()
}

#[tokio::test]
async fn a_reload_applies_a_valid_file_in_place_and_refuses_a_wrong_one() {
    let ollama = FakeOllama::start().await;
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &ollama, "You are Alpha.", "");
    let source = Source::File(dir.path().join("mcpcord.toml"));
    let config = Config::load(&source, &env()).expect("a valid configuration");
    let app = App::start(&config).await.expect("the application starts");
    let (updates, bot) = watch::channel(bot_config(&config).unwrap());
    let mut reloader = Reloader::new(
        source.clone(),
        env(),
        config.clone(),
        app.engine.clone(),
        updates,
    );
    assert!(bot.borrow().audience.allow_dms);

    // A new prompt, a smaller turn limit, no DMs and a retention rule: all in force at once.
    write_config(
        dir.path(),
        &ollama,
        "You are Beta.",
        "[permissions]\nallow_dms = false\n\n[limits]\nmax_tool_rounds = 3\n\n\
         [storage.retention]\n\"42\" = \"1d\"\n",
    );
    assert_eq!(reloader.reload().await, Outcome::Applied);
    let engine = app.engine.config();
    assert_eq!(engine.system_prompt, "You are Beta.");
    assert_eq!(engine.max_tool_rounds, 3);
    assert!(!bot.borrow().audience.allow_dms, "the adapter heard of it");
    let guild = app
        .engine
        .store()
        .guild(mcpcord_engine::GuildId::new(42))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(guild.retention, Some(Duration::from_secs(86_400)));

    // Two problems: both counted, and the running configuration stays.
    write_config(
        dir.path(),
        &ollama,
        "You are Gamma.",
        "[limits]\nmax_tool_rounds = 0\nturn_timeout = \"soon\"\n",
    );
    assert_eq!(reloader.reload().await, Outcome::Refused(2));
    assert_eq!(app.engine.config().system_prompt, "You are Beta.");

    // The file gone: refused too, with the reason.
    std::fs::remove_file(dir.path().join("mcpcord.toml")).unwrap();
    assert!(matches!(reloader.reload().await, Outcome::Refused(n) if n >= 1));
    assert_eq!(app.engine.config().system_prompt, "You are Beta.");
    app.stop(Duration::from_secs(1)).await;
}

#[test]
fn settings_a_running_bot_cannot_change_are_named() {
    let base = "[discord]\nshards = 2\n";
    let old = Config::from_toml(base, &env()).unwrap();
    assert!(needs_restart(&old, &old.clone()).is_empty());

    let mut other_env = env();
    other_env.insert("DISCORD_TOKEN".into(), "token-two".into());
    let new = Config::from_toml(
        "[discord]\nshards = 4\ngateway_url = \"ws://127.0.0.1:1\"\n\
         [storage]\nurl = \"sqlite://other.sqlite\"\ndata_dir = \"elsewhere\"\n\
         [logging]\nformat = \"json\"\n[admin]\nlisten = \"127.0.0.1:9464\"\n\
         [models]\nsystem_prompt = \"changes in place\"\n",
        &other_env,
    )
    .unwrap();
    assert_eq!(
        needs_restart(&old, &new),
        [
            "discord.token",
            "discord.gateway_url",
            "discord.shards",
            "storage.url",
            "storage.data_dir",
            "logging",
            "admin",
        ]
    );
}

/// GET `path` on the admin endpoint; the status code and the body.
async fn get(base: &str, path: &str, token: Option<&str>) -> (u16, String) {
    let mut request = reqwest::Client::new().get(format!("{base}{path}"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("the endpoint answers");
    let code = response.status().as_u16();
    (code, response.text().await.unwrap())
}

#[tokio::test]
async fn operations_serve_the_admin_endpoint_only_when_asked_and_stop() {
    mcpcord::wiring::install_tls_provider();
    let ollama = FakeOllama::start().await;
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &ollama, "You are Alpha.", "");
    let source = Source::File(dir.path().join("mcpcord.toml"));
    let config = Config::load(&source, &env()).unwrap();
    let app = App::start(&config).await.unwrap();

    // No admin.listen: nothing listens.
    let quiet = Operations::start(
        &config,
        &app.engine,
        GatewayStatus::default(),
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(quiet.local_addr, None);
    quiet.stop().await;

    // With admin.listen (once per process: the metrics recorder is global).
    let open = "[admin]\nlisten = \"127.0.0.1:0\"\ntoken_env = \"OPS_ADMIN_TOKEN\"\n";
    write_config(dir.path(), &ollama, "You are Alpha.", open);
    let config = Config::load(&source, &env()).unwrap();
    let operations = Operations::start(
        &config,
        &app.engine,
        GatewayStatus::default(),
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    let base = format!("http://{}", operations.local_addr.expect("it listens"));
    assert_eq!(get(&base, "/healthz", None).await, (200, "ok\n".into()));
    assert_eq!(get(&base, "/status", None).await.0, 401);
    assert_eq!(get(&base, "/status", Some("wrong")).await.0, 401);
    let (code, status) = get(&base, "/status", Some(TOKEN)).await;
    assert_eq!(code, 200, "{status}");
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert!(status["backends"].is_array(), "{status}");
    // No gateway in this process: not ready, and the body says which part.
    let (code, ready) = get(&base, "/readyz", Some(TOKEN)).await;
    assert_eq!(code, 503, "{ready}");
    let ready: serde_json::Value = serde_json::from_str(&ready).unwrap();
    assert_eq!(ready["gateway"]["ok"], false, "{ready}");
    assert_eq!(ready["database"]["ok"], true, "{ready}");
    let (code, metrics) = get(&base, "/metrics", Some(TOKEN)).await;
    assert_eq!(code, 200);
    assert!(metrics.contains("mcpcord_"), "{metrics}");

    operations.stop().await;
    assert!(
        reqwest::get(format!("{base}/healthz")).await.is_err(),
        "stopped: nothing listens"
    );
    app.stop(Duration::from_secs(1)).await;
}
