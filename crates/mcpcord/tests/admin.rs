//! The admin endpoint (`admin.listen`), the metrics, the per-turn log line and the commands
//! that read the running bot (`mcpcord status`, `mcpcord mcp servers`): the real binary
//! against FakeDiscord, FakeOllama, the test MCP server and (for a database that goes away) a
//! real PostgreSQL server.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use mcpcord_testkit::fake_discord::MessageCreate;
use mcpcord_testkit::fake_ollama::{FakeModel, Script};
use mcpcord_testkit::mcp_server::test_mcp_binary;
use mcpcord_testkit::{FakeDiscord, FakeOllama};
use serde_json::{Value, json};
use tokio::sync::watch;

mod common;

const WAIT: Duration = Duration::from_secs(30);
const TOKEN: &str = "admin-test-token-123";

/// A port on 127.0.0.1 free a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A TCP relay to `target` that holds every connection until opened: the bot's gateway
/// connection waits there, so the test sees the bot before it could Identify.
async fn gated_relay(target: SocketAddr) -> (SocketAddr, watch::Sender<bool>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (open, opened) = watch::channel(false);
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let mut opened = opened.clone();
            tokio::spawn(async move {
                if opened.wait_for(|open| *open).await.is_err() {
                    return;
                }
                let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            });
        }
    });
    (addr, open)
}

/// The running binary, its directory (config, logs) and its admin endpoint.
struct Bot {
    child: tokio::process::Child,
    dir: tempfile::TempDir,
    admin: String,
}

impl Bot {
    /// Starts `mcpcord run` with `config` (TOML; `TEST_MCP` stands for the test MCP server)
    /// against `discord` (its gateway at `gateway`) and `ollama`, with the admin endpoint on a
    /// free port and its token in `ADMIN_TOKEN`.
    fn start(
        discord: &FakeDiscord,
        gateway: &str,
        ollama: &FakeOllama,
        config: &str,
        database: Option<&str>,
    ) -> Bot {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = config.replace("TEST_MCP", &test_mcp_binary().display().to_string());
        let config = format!(
            "[admin]\nlisten = \"127.0.0.1:{port}\"\ntoken_env = \"ADMIN_TOKEN\"\n\n\
             [logging]\nformat = \"json\"\nlevel = \"info\"\nresource_interval = \"1s\"\n\n{config}"
        );
        std::fs::write(dir.path().join("mcpcord.toml"), config).unwrap();
        let database = database.map_or_else(
            || format!("sqlite://{}/bot.sqlite", dir.path().display()),
            str::to_owned,
        );
        let mut command = common::mcpcord_async();
        let child = common::on_fakes(
            &mut command,
            discord,
            ollama,
            &dir.path().join("stderr.log"),
        )
        .arg("run")
        .current_dir(dir.path())
        .env("ADMIN_TOKEN", TOKEN)
        .env("MCPCORD__DISCORD__GATEWAY_URL", gateway)
        .env("MCPCORD__DISCORD__SHUTDOWN_GRACE", "2s")
        .env("DATABASE_URL", database)
        .spawn()
        .expect("the binary starts");
        Bot {
            child,
            dir,
            admin: format!("http://127.0.0.1:{port}"),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    /// The JSON log records of `target`.
    fn records(&self, target: &str) -> Vec<Value> {
        self.log()
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|record| record["target"] == target)
            .collect()
    }

    /// The JSON log records of `target`, waiting (up to `WAIT`) for the first one.
    async fn wait_records(&self, target: &str) -> Vec<Value> {
        let started = tokio::time::Instant::now();
        loop {
            let records = self.records(target);
            if !records.is_empty() {
                return records;
            }
            assert!(
                started.elapsed() < WAIT,
                "no {target} line within {WAIT:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// GET `path` of the admin endpoint, with `token` if any: the status and the body.
    async fn get(&self, path: &str, token: Option<&str>) -> (u16, String) {
        let mut request = reqwest::Client::new().get(format!("{}{path}", self.admin));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}\n{}", self.log()));
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    /// Waits until the endpoint serves `/healthz`.
    async fn wait_serving(&self) {
        let started = tokio::time::Instant::now();
        loop {
            let request = reqwest::Client::new()
                .get(format!("{}/healthz", self.admin))
                .send()
                .await;
            if request.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            assert!(
                started.elapsed() < WAIT,
                "the admin endpoint never served; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until `/readyz` answers `code`; its last body.
    async fn wait_ready(&self, code: u16) -> Value {
        let started = tokio::time::Instant::now();
        loop {
            let (status, body) = self.get("/readyz", Some(TOKEN)).await;
            if status == code {
                return serde_json::from_str(&body).expect("/readyz answers JSON");
            }
            assert!(
                started.elapsed() < WAIT,
                "/readyz never answered {code}; last {status} {body}; log:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Runs `mcpcord ARGS` in the bot's directory (same configuration, same token).
    async fn command(&self, args: &[&str]) -> std::process::Output {
        tokio::time::timeout(
            WAIT,
            common::mcpcord_async()
                .args(args)
                .current_dir(self.dir.path())
                .env("ADMIN_TOKEN", TOKEN)
                .env("MCPCORD__LOGGING__LEVEL", "warn")
                .output(),
        )
        .await
        .expect("the command finishes")
        .expect("the binary runs")
    }
}

fn install_tls() {
    mcpcord::wiring::install_tls_provider();
}

const TOOLS: &str = r#"
[mcp.servers.t]
command = "TEST_MCP"
approval = "auto"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_only_after_identify_and_every_endpoint_but_healthz_wants_the_token() {
    install_tls();
    let discord = FakeDiscord::start().await;
    let ollama = FakeOllama::start().await;
    let (relay, open) = gated_relay(discord.rest_addr()).await;
    let mut bot = Bot::start(&discord, &format!("ws://{relay}"), &ollama, TOOLS, None);
    bot.wait_serving().await;

    // The gateway connection is held: no Identify yet, so not ready.
    let (status, body) = bot.get("/readyz", Some(TOKEN)).await;
    assert_eq!(status, 503, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["ready"], false);
    assert_eq!(body["gateway"]["ok"], false, "{body}");
    assert_eq!(body["database"]["ok"], true, "{body}");
    assert_eq!(body["backends"]["ok"], true, "{body}");
    assert!(discord.identifies().is_empty());

    // The token: /healthz is open; the others refuse a missing or wrong one.
    assert_eq!(bot.get("/healthz", None).await.0, 200);
    for path in ["/readyz", "/metrics", "/status"] {
        assert_eq!(bot.get(path, None).await.0, 401, "{path} without a token");
        assert_eq!(
            bot.get(path, Some("admin-test-token-12")).await.0,
            401,
            "{path} with a wrong token"
        );
    }

    open.send(true).unwrap();
    discord
        .wait_for_identify()
        .await
        .expect("the bot identified");
    let body = bot.wait_ready(200).await;
    assert_eq!(body["gateway"]["ok"], true, "{body}");

    // /status: the shard, the backend, the MCP server with its pid, this process.
    let (code, text) = bot.get("/status", Some(TOKEN)).await;
    assert_eq!(code, 200, "{text}");
    let status: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(status["pid"], bot.child.id().unwrap(), "{status}");
    assert_eq!(status["shards"][0]["connected"], true, "{status}");
    assert_eq!(status["backends"][0]["name"], "ollama", "{status}");
    assert_eq!(status["mcp_servers"][0]["name"], "t", "{status}");
    assert_eq!(status["mcp_servers"][0]["state"], "ready", "{status}");
    let server_pid = status["mcp_servers"][0]["pids"][0].as_u64().expect("a pid");
    assert!(status["rss_bytes"].as_u64().unwrap() > 1 << 20, "{status}");
    assert_eq!(status["turns"]["in_flight"], 0);

    // `mcpcord status` and `mcpcord mcp servers` read the running bot.
    let out = bot.command(&["status"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for part in [
        "SHARDS",
        "BACKENDS",
        "MCP SERVERS",
        "ollama",
        "turns: 0 running",
    ] {
        assert!(stdout.contains(part), "{part} in\n{stdout}");
    }
    let out = bot.command(&["status", "--json"]).await;
    let json: Value = serde_json::from_slice(&out.stdout).expect("--json prints JSON");
    assert_eq!(json["pid"], status["pid"]);
    let out = bot.command(&["mcp", "servers"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let row = stdout
        .lines()
        .find(|l| l.starts_with("t "))
        .expect("t listed");
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[1], "ready", "{row}");
    assert_eq!(
        cells[3],
        server_pid.to_string(),
        "the bot's own server, not a copy: {row}"
    );
    bot.child.start_kill().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_running_bot_status_and_mcp_servers_say_how_to_do_without() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    std::fs::write(
        dir.path().join("mcpcord.toml"),
        format!("[admin]\nlisten = \"127.0.0.1:{port}\"\n{TOOLS}")
            .replace("TEST_MCP", &test_mcp_binary().display().to_string()),
    )
    .unwrap();
    let run = |args: &'static [&'static str]| {
        common::mcpcord()
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let out = run(&["status"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not reachable"), "{stderr}");
    let out = run(&["mcp", "servers"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--standalone"), "{stderr}");
    // Without admin.listen there is nothing to ask: a usage error naming both ways out.
    std::fs::write(
        dir.path().join("mcpcord.toml"),
        TOOLS.replace("TEST_MCP", &test_mcp_binary().display().to_string()),
    )
    .unwrap();
    let out = run(&["mcp", "servers"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("admin.listen") && stderr.contains("--standalone"),
        "{stderr}"
    );
}

/// Prometheus text as `name{labels}` → value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| {
            let (key, value) = line.rsplit_once(' ')?;
            Some((key.to_string(), value.parse().ok()?))
        })
        .collect()
}

/// The value of the sample `key`, which must be there.
fn sample(samples: &BTreeMap<String, f64>, key: &str) -> f64 {
    *samples
        .get(key)
        .unwrap_or_else(|| panic!("{key} missing; samples:\n{samples:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_with_a_tool_call_shows_in_every_metric_and_in_one_log_line() {
    install_tls();
    let discord = FakeDiscord::builder()
        .heartbeat_interval(Duration::from_millis(300))
        .start()
        .await;
    let ollama = FakeOllama::start_with_models(vec![
        FakeModel::new("llama3.2").capabilities(&["completion", "tools"]),
    ])
    .await;
    ollama.push_scripts([
        Script::new()
            .tool_call("echo", json!({"text": "ping"}))
            .usage(40, 3),
        Script::new().text("The tool said ping.").usage(55, 6),
    ]);
    let mut bot = Bot::start(&discord, &discord.gateway_url(), &ollama, TOOLS, None);
    bot.wait_serving().await;
    discord
        .wait_for_identify()
        .await
        .expect("the bot identified");
    bot.wait_ready(200).await;
    discord.inject_message_create(MessageCreate::new(format!(
        "<@{}> use the tool",
        FakeDiscord::BOT_USER_ID
    )));
    tokio::time::timeout(WAIT, async {
        while bot.records("mcpcord::turn").is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no turn line; log:\n{}", bot.log()));
    // A heartbeat acknowledged since, for the gateway latency.
    tokio::time::sleep(Duration::from_millis(700)).await;

    let (code, text) = bot.get("/metrics", Some(TOKEN)).await;
    assert_eq!(code, 200);
    let s = samples(&text);
    let model = r#"model="llama3.2""#;
    assert_eq!(
        sample(&s, r#"mcpcord_turns_total{outcome="answered"}"#),
        1.0
    );
    assert_eq!(
        sample(
            &s,
            &format!("mcpcord_turn_duration_seconds_count{{{model}}}")
        ),
        1.0
    );
    assert!(sample(&s, &format!("mcpcord_turn_duration_seconds_sum{{{model}}}")) > 0.0);
    assert_eq!(
        sample(
            &s,
            &format!("mcpcord_time_to_first_token_seconds_count{{{model}}}")
        ),
        1.0
    );
    assert_eq!(
        sample(
            &s,
            &format!(r#"mcpcord_tokens_total{{{model},kind="prompt"}}"#)
        ),
        95.0
    );
    assert_eq!(
        sample(
            &s,
            &format!(r#"mcpcord_tokens_total{{{model},kind="completion"}}"#)
        ),
        9.0
    );
    assert_eq!(
        sample(
            &s,
            r#"mcpcord_tool_calls_total{server="t",tool="echo",outcome="ok"}"#
        ),
        1.0
    );
    assert_eq!(
        sample(
            &s,
            r#"mcpcord_tool_call_duration_seconds_count{server="t",tool="echo"}"#
        ),
        1.0
    );
    assert_eq!(sample(&s, r#"mcpcord_mcp_server_up{server="t"}"#), 1.0);
    assert_eq!(
        sample(&s, r#"mcpcord_mcp_server_restarts_total{server="t"}"#),
        0.0
    );
    assert!(sample(&s, r#"mcpcord_mcp_server_memory_bytes{server="t"}"#) > 0.0);
    assert_eq!(
        sample(&s, r#"mcpcord_backend_in_flight{backend="ollama"}"#),
        0.0
    );
    assert_eq!(
        sample(&s, r#"mcpcord_backend_queue_depth{backend="ollama"}"#),
        0.0
    );
    assert_eq!(
        sample(&s, r#"mcpcord_db_pool_connections{state="max"}"#),
        4.0
    );
    assert!(sample(&s, r#"mcpcord_db_pool_connections{state="idle"}"#) >= 1.0);
    assert_eq!(sample(&s, "mcpcord_turns_in_flight"), 0.0);
    assert!(
        sample(
            &s,
            r#"mcpcord_discord_requests_total{route="POST /channels/{}/messages",status="200"}"#
        ) >= 1.0
    );
    assert!(sample(&s, "mcpcord_discord_ratelimit_wait_seconds_count") >= 1.0);
    let latency = sample(&s, r#"mcpcord_gateway_latency_seconds{shard="0"}"#);
    assert!((0.0..5.0).contains(&latency), "{latency}");
    assert!(sample(&s, "process_resident_memory_bytes") > f64::from(1u32 << 20));
    assert!(sample(&s, "process_cpu_seconds_total") > 0.0);

    // The one line of the turn, with every fact.
    let lines = bot.records("mcpcord::turn");
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let line = &lines[0];
    assert_eq!(line["outcome"], "answered", "{line}");
    assert_eq!(line["model"], "llama3.2", "{line}");
    assert_eq!(line["backend"], "ollama", "{line}");
    assert_eq!(line["tools"], "echo", "{line}");
    assert_eq!(line["tool_calls"], 1, "{line}");
    assert_eq!(line["prompt_tokens"], 95, "{line}");
    assert_eq!(line["answer_tokens"], 9, "{line}");
    assert_eq!(line["user"], FakeDiscord::USER_ID, "{line}");
    assert_eq!(line["guild"], FakeDiscord::GUILD_ID, "{line}");
    assert!(line["duration_ms"].as_u64().is_some(), "{line}");
    assert!(line["ttft_ms"].as_u64().unwrap() <= line["duration_ms"].as_u64().unwrap());
    assert!(!line["conversation"].as_str().unwrap().is_empty(), "{line}");
    // And the resource line, every second here.
    let resources = bot.wait_records("mcpcord::resources").await;
    assert!(
        resources[0]["rss_bytes"].as_u64().unwrap() > 0,
        "{}",
        resources[0]
    );
    eprintln!("sample turn line: {line}");
    eprintln!("sample /metrics:\n{text}");
    bot.child.start_kill().unwrap();
}

/// The PostgreSQL server the tests may create databases on.
fn postgres_server() -> String {
    std::env::var("TEST_POSTGRES_SERVER")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

async fn postgres(database: &str, sql: &str) {
    use sqlx::Connection as _;
    let url = format!("{}/{database}", postgres_server());
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap_or_else(|e| {
        panic!(
            "cannot reach PostgreSQL at {url}: {e}\nThis test needs a real PostgreSQL server \
             (trust authentication, user postgres) on 127.0.0.1:5432, or TEST_POSTGRES_SERVER"
        )
    });
    sqlx::query(sql).execute(&mut admin).await.unwrap();
    admin.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_is_503_naming_the_database_once_it_is_gone() {
    install_tls();
    let discord = FakeDiscord::start().await;
    let ollama = FakeOllama::start().await;
    let name = format!("mcpcord_admin_{}", std::process::id());
    postgres("postgres", &format!("DROP DATABASE IF EXISTS {name}")).await;
    postgres("postgres", &format!("CREATE DATABASE {name}")).await;
    let url = format!("{}/{name}", postgres_server());
    let mut bot = Bot::start(&discord, &discord.gateway_url(), &ollama, "", Some(&url));
    bot.wait_serving().await;
    discord
        .wait_for_identify()
        .await
        .expect("the bot identified");
    bot.wait_ready(200).await;

    postgres("postgres", &format!("DROP DATABASE {name} WITH (FORCE)")).await;
    let body = bot.wait_ready(503).await;
    assert_eq!(body["database"]["ok"], false, "{body}");
    assert!(body["database"]["error"].as_str().is_some(), "{body}");
    assert_eq!(body["gateway"]["ok"], true, "{body}");
    assert_eq!(body["backends"]["ok"], true, "{body}");
    bot.child.start_kill().unwrap();
}

#[test]
fn a_bare_port_listens_on_loopback_and_the_token_variable_must_be_set() {
    let env = |pairs: &[(&str, &str)]| -> mcpcord::config::Env {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let config = mcpcord::config::Config::from_toml(
        "[admin]\nlisten = \"9464\"\ntoken_env = \"T\"\n[logging]\nresource_interval = \"0\"\n",
        &env(&[("T", "secret-value")]),
    )
    .unwrap();
    assert_eq!(config.admin.listen, Some("127.0.0.1:9464".parse().unwrap()));
    assert_eq!(
        config.admin.token.as_ref().unwrap().expose(),
        "secret-value"
    );
    assert!(config.logging.resource_interval.is_zero());
    assert!(
        config
            .secrets()
            .iter()
            .any(|s| s.expose() == "secret-value")
    );
    let error = mcpcord::config::Config::from_toml("[admin]\ntoken_env = \"T\"\n", &env(&[]))
        .unwrap_err()
        .to_string();
    assert!(error.contains("admin.token_env"), "{error}");
    let default = mcpcord::config::Config::from_toml("", &env(&[])).unwrap();
    assert_eq!(default.logging.resource_interval, Duration::from_secs(60));
    assert_eq!(default.admin.listen, None);
}
