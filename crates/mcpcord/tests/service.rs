//! Service mode and live reload, with the real binary against FakeDiscord and FakeOllama:
//! SIGHUP (and `mcpcord reload`) changing the next turn's system prompt, an invalid reload
//! keeping the running configuration, MCP servers added and removed while a turn runs, the PID
//! file lock, and systemd notifications on a test socket.

#![cfg(target_os = "linux")]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mcpcord_testkit::fake_discord::MessageCreate;
use mcpcord_testkit::fake_ollama::{FakeModel, Script};
use mcpcord_testkit::mcp_server::test_mcp_binary;
use mcpcord_testkit::{FakeDiscord, FakeOllama};
use serde_json::{Value, json};

mod common;

const WAIT: Duration = Duration::from_secs(30);

/// A bot process started in its own folder, with its configuration file and its log.
struct Bot {
    child: tokio::process::Child,
    dir: tempfile::TempDir,
}

impl Bot {
    /// Starts `mcpcord --config mcpcord.toml run EXTRA…` with `config` as the file, against
    /// the fakes; `env` adds variables.
    fn start(
        discord: &FakeDiscord,
        ollama: &FakeOllama,
        config: &str,
        extra: &[&str],
        env: &[(&str, String)],
    ) -> Bot {
        let dir = tempfile::tempdir().unwrap();
        Bot::start_in(dir, discord, ollama, config, extra, env)
    }

    fn start_in(
        dir: tempfile::TempDir,
        discord: &FakeDiscord,
        ollama: &FakeOllama,
        config: &str,
        extra: &[&str],
        env: &[(&str, String)],
    ) -> Bot {
        std::fs::write(dir.path().join("mcpcord.toml"), config).unwrap();
        let mut command = bot_command(dir.path(), discord, ollama);
        command.args(extra);
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command.spawn().expect("the binary starts");
        Bot { child, dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.path("stderr.log")).unwrap_or_default()
    }

    fn pid(&self) -> u32 {
        self.child.id().expect("running")
    }

    /// Rewrites the configuration file.
    fn configure(&self, config: &str) {
        std::fs::write(self.path("mcpcord.toml"), config).unwrap();
    }

    /// Waits until the log says `text` `times` times.
    async fn wait_log(&self, text: &str, times: usize) {
        let waited = tokio::time::timeout(WAIT, async {
            while self.log().matches(text).count() < times {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        assert!(
            waited.is_ok(),
            "no {text:?} (x{times}) in the log:\n{}",
            self.log()
        );
    }

    /// SIGTERM, then the exit status.
    async fn stop(&mut self) -> std::process::ExitStatus {
        signal(self.pid(), "TERM");
        let status = tokio::time::timeout(WAIT, self.child.wait())
            .await
            .expect("the bot stopped in time")
            .unwrap();
        assert!(status.success(), "exit {status:?}; log:\n{}", self.log());
        status
    }
}

fn bot_command(dir: &Path, discord: &FakeDiscord, ollama: &FakeOllama) -> tokio::process::Command {
    let mut command = common::mcpcord_async();
    common::on_fakes(&mut command, discord, ollama, &dir.join("stderr.log"))
        .args(["--config", "mcpcord.toml", "run"])
        .current_dir(dir)
        .env("PATH", "/usr/bin:/bin")
        .env("MCPCORD__DISCORD__SHUTDOWN_GRACE", "5s")
        .env("MCPCORD__LOGGING__FORMAT", "compact")
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/bot.sqlite", dir.display()),
        );
    command
}

fn signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name} {pid}");
}

async fn fake_ollama() -> FakeOllama {
    FakeOllama::start_with_models(vec![
        FakeModel::new("llama3.2").capabilities(&["completion", "tools"]),
    ])
    .await
}

async fn identified(discord: &FakeDiscord, bot: &Bot) {
    if discord.wait_for_identify().await.is_err() {
        panic!("the bot did not connect; log:\n{}", bot.log());
    }
    // The first shard's session: READY went out with the Identify answer.
    tokio::time::sleep(Duration::from_millis(200)).await;
}

fn ask(discord: &FakeDiscord, text: &str) {
    discord.inject_message_create(MessageCreate::new(format!(
        "<@{}> {text}",
        FakeDiscord::BOT_USER_ID
    )));
}

fn bot_messages(discord: &FakeDiscord, channel: u64) -> Vec<Value> {
    discord
        .messages_in(channel)
        .into_iter()
        .filter(|m| m["author"]["id"].as_str() == Some(&*FakeDiscord::BOT_USER_ID.to_string()))
        .collect()
}

/// Waits for a bot message in `channel` whose content ends with `text` (its final edit; tool
/// progress comes before the answer).
async fn answered(discord: &FakeDiscord, channel: u64, text: &str, bot: &Bot) {
    let waited = tokio::time::timeout(WAIT, async {
        while !bot_messages(discord, channel)
            .iter()
            .any(|m| m["content"].as_str().is_some_and(|c| c.ends_with(text)))
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        waited.is_ok(),
        "no answer {text:?}: {:#?}\nlog:\n{}",
        bot_messages(discord, channel),
        bot.log()
    );
}

async fn chat_requests(ollama: &FakeOllama, count: usize) -> Vec<Value> {
    tokio::time::timeout(WAIT, async {
        loop {
            let requests = ollama.chat_requests();
            if requests.len() >= count {
                return requests;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{count} chat requests"))
}

fn system_prompt(request: &Value) -> String {
    let first = &request["messages"][0];
    assert_eq!(first["role"], "system", "{request:#}");
    first["content"].as_str().unwrap_or_default().to_owned()
}

fn tool_names(request: &Value) -> Vec<String> {
    let mut names: Vec<String> = request["tools"]
        .as_array()
        .map(|tools| {
            tools
                .iter()
                .filter_map(|t| t["function"]["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn prompt_config(prompt: &str) -> String {
    format!("[models]\nsystem_prompt = \"{prompt}\"\n")
}

#[tokio::test]
async fn sighup_changes_the_system_prompt_of_the_next_turn_and_an_invalid_reload_keeps_the_old() {
    let discord = FakeDiscord::start().await;
    let ollama = fake_ollama().await;
    ollama.push_scripts([
        Script::reply("first"),
        Script::reply("second"),
        Script::reply("third"),
    ]);
    let mut bot = Bot::start(
        &discord,
        &ollama,
        &prompt_config("You are Alpha."),
        &[],
        &[],
    );
    identified(&discord, &bot).await;
    ask(&discord, "one");
    answered(&discord, FakeDiscord::CHANNEL_ID, "first", &bot).await;
    assert!(system_prompt(&chat_requests(&ollama, 1).await[0]).contains("You are Alpha."));

    bot.configure(&prompt_config("You are Beta."));
    signal(bot.pid(), "HUP");
    bot.wait_log("configuration reloaded", 1).await;
    ask(&discord, "two");
    answered(&discord, FakeDiscord::CHANNEL_ID, "second", &bot).await;
    let second = system_prompt(&chat_requests(&ollama, 2).await[1]);
    assert!(second.contains("You are Beta."), "{second}");

    // Invalid: two problems, both logged; the running configuration stays. Through
    // `mcpcord reload` this time, which finds the bot by its PID file (the file is valid
    // TOML for the command itself only when checked by the bot, so the command gets the
    // valid one and the bot reads the broken one after).
    bot.configure(&format!(
        "{}\n[limits]\nmax_tool_rounds = 0\n[discord]\nglobal_rate_limit = 0\n",
        prompt_config("You are Gamma.")
    ));
    signal(bot.pid(), "HUP");
    bot.wait_log("the configuration was not reloaded", 1).await;
    let log = bot.log();
    assert!(log.contains("limits.max_tool_rounds"), "{log}");
    assert!(log.contains("discord.global_rate_limit"), "{log}");
    ask(&discord, "three");
    answered(&discord, FakeDiscord::CHANNEL_ID, "third", &bot).await;
    let third = system_prompt(&chat_requests(&ollama, 3).await[2]);
    assert!(
        third.contains("You are Beta."),
        "the old configuration runs on: {third}"
    );
    bot.stop().await;
}

#[tokio::test]
async fn mcpcord_reload_signals_the_bot_named_by_its_pid_file() {
    let discord = FakeDiscord::start().await;
    let ollama = fake_ollama().await;
    ollama.push_scripts([Script::reply("after")]);
    let mut bot = Bot::start(
        &discord,
        &ollama,
        &prompt_config("You are Alpha."),
        &[],
        &[],
    );
    identified(&discord, &bot).await;
    bot.configure(&prompt_config("You are Delta."));
    let out = common::mcpcord_async()
        .args(["--config", "mcpcord.toml", "reload"])
        .current_dir(bot.dir.path())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(&bot.pid().to_string()), "{stdout}");
    bot.wait_log("configuration reloaded", 1).await;
    ask(&discord, "hello");
    answered(&discord, FakeDiscord::CHANNEL_ID, "after", &bot).await;
    assert!(system_prompt(&chat_requests(&ollama, 1).await[0]).contains("You are Delta."));
    let pid_file = bot.path("data/mcpcord.pid");
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap().trim(),
        bot.pid().to_string()
    );
    let dir = bot.dir.path().to_path_buf();
    bot.stop().await;
    assert!(dir.is_dir());
    assert!(!pid_file.exists(), "the PID file is removed at exit");
    // No bot: the command says so and fails.
    let out = common::mcpcord()
        .args(["--config", "mcpcord.toml", "reload"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no mcpcord is running"));
}

fn servers_config(servers: &[(&str, &str)]) -> String {
    let binary = test_mcp_binary().display().to_string();
    servers
        .iter()
        .map(|(name, tool)| {
            format!(
                "[mcp.servers.{name}]\ncommand = {binary:?}\nallowed_tools = [{tool:?}]\napproval = \"auto\"\n"
            )
        })
        .collect()
}

#[tokio::test]
async fn a_reload_adds_and_removes_mcp_servers_while_a_tool_call_runs_and_drops_nothing() {
    let discord = FakeDiscord::start().await;
    let ollama = fake_ollama().await;
    ollama.push_scripts([
        // The first turn calls alpha's `sleep`, which is still running during the reload.
        Script::new().tool_call("sleep", json!({"ms": 2500})),
        Script::new()
            .text("The tool ")
            .delay(Duration::from_millis(300))
            .text("said it slept."),
        Script::reply("beta here"),
    ]);
    let mut bot = Bot::start(
        &discord,
        &ollama,
        &servers_config(&[("alpha", "sleep")]),
        &[],
        &[],
    );
    identified(&discord, &bot).await;
    let children = tokio::time::timeout(WAIT, async {
        loop {
            let children = common::children_of(bot.pid());
            if !children.is_empty() {
                return children;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("alpha started");
    let alpha = children[0];
    ask(&discord, "sleep please");
    let first = chat_requests(&ollama, 1).await;
    assert_eq!(tool_names(&first[0]), ["sleep"]);
    // The call is on its way to alpha: replace alpha by beta now.
    tokio::time::sleep(Duration::from_millis(700)).await;
    bot.configure(&servers_config(&[("beta", "echo")]));
    signal(bot.pid(), "HUP");
    bot.wait_log("configuration reloaded", 1).await;
    answered(
        &discord,
        FakeDiscord::CHANNEL_ID,
        "The tool said it slept.",
        &bot,
    )
    .await;
    let requests = chat_requests(&ollama, 2).await;
    let tool_result = requests[1]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "tool")
        .cloned()
        .expect("the tool's result went back to the model");
    assert!(
        tool_result["content"]
            .as_str()
            .unwrap()
            .contains("slept 2500 ms"),
        "the call finished on the removed server: {tool_result:#}"
    );
    // Alpha stops once its call is done; beta runs.
    let gone = tokio::time::timeout(Duration::from_secs(10), async {
        while common::alive(alpha) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        gone.is_ok(),
        "alpha ({alpha}) still runs; log:\n{}",
        bot.log()
    );
    tokio::time::timeout(WAIT, async {
        while common::children_of(bot.pid()).is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("beta started");
    // The next turn is offered beta's tools only (once beta listed them).
    tokio::time::sleep(Duration::from_millis(500)).await;
    ask(&discord, "and now?");
    answered(&discord, FakeDiscord::CHANNEL_ID, "beta here", &bot).await;
    let third = chat_requests(&ollama, 3).await;
    assert_eq!(tool_names(&third[2]), ["echo"], "{:#}", third[2]);
    bot.stop().await;
}

#[tokio::test]
async fn a_second_bot_with_the_same_pid_file_refuses_to_start() {
    let discord = FakeDiscord::start().await;
    let ollama = fake_ollama().await;
    let mut bot = Bot::start(&discord, &ollama, "", &["--pid-file", "run/bot.pid"], &[]);
    identified(&discord, &bot).await;
    let pid_file = bot.path("run/bot.pid");
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap().trim(),
        bot.pid().to_string()
    );
    // Same folder, same PID file: refused before it touches anything.
    let mut second = bot_command(bot.dir.path(), &discord, &ollama);
    second
        .args(["--pid-file", "run/bot.pid"])
        .stderr(Stdio::piped());
    let out = tokio::time::timeout(WAIT, second.output())
        .await
        .expect("the second bot gave up at once")
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("already running"), "{stderr}");
    assert!(stderr.contains(&bot.pid().to_string()), "{stderr}");
    assert_eq!(discord.identifies().len(), 1, "the second never connected");
    bot.stop().await;
}

/// Every notification received on `socket`, read in the background (as a service manager
/// does: a socket nobody reads fills up).
fn collect(socket: tokio::net::UnixDatagram) -> Arc<Mutex<Vec<String>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    tokio::spawn(async move {
        let mut buffer = vec![0u8; 4096];
        while let Ok(n) = socket.recv(&mut buffer).await {
            let message = String::from_utf8_lossy(&buffer[..n]).into_owned();
            sink.lock().unwrap().push(message);
        }
    });
    seen
}

/// Waits until `line` has been said `times` times; returns everything said so far.
async fn heard(seen: &Arc<Mutex<Vec<String>>>, line: &str, times: usize) -> Vec<String> {
    let waited = tokio::time::timeout(WAIT, async {
        while said(&seen.lock().unwrap(), line) < times {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let all = seen.lock().unwrap().clone();
    assert!(waited.is_ok(), "{line} x{times} never came: {all:#?}");
    all
}

fn said(seen: &[String], line: &str) -> usize {
    seen.iter()
        .filter(|message| message.lines().any(|l| l == line))
        .count()
}

#[tokio::test]
async fn systemd_hears_ready_watchdog_reloading_and_stopping_on_its_socket() {
    let discord = FakeDiscord::start().await;
    let ollama = fake_ollama().await;
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("notify.sock");
    let seen = collect(tokio::net::UnixDatagram::bind(&socket_path).unwrap());
    let mut bot = Bot::start_in(
        dir,
        &discord,
        &ollama,
        "",
        &[],
        &[
            ("NOTIFY_SOCKET", socket_path.display().to_string()),
            // Pinged every half of it: 100 ms.
            ("WATCHDOG_USEC", "200000".to_owned()),
        ],
    );
    let all = heard(&seen, "READY=1", 1).await;
    assert_eq!(
        discord.identifies().len(),
        1,
        "READY comes after the gateway session: {all:#?}"
    );
    let all = heard(&seen, "WATCHDOG=1", 3).await;
    assert_eq!(said(&all, "STOPPING=1"), 0, "{all:#?}");
    assert_eq!(said(&all, "RELOADING=1"), 0, "{all:#?}");
    signal(bot.pid(), "HUP");
    let all = heard(&seen, "READY=1", 2).await;
    let reloading = all
        .iter()
        .find(|m| m.lines().any(|l| l == "RELOADING=1"))
        .unwrap_or_else(|| panic!("RELOADING before the second READY: {all:#?}"));
    assert!(reloading.contains("MONOTONIC_USEC="), "{reloading}");
    bot.stop().await;
    let all = heard(&seen, "STOPPING=1", 1).await;
    assert!(said(&all, "STOPPING=1") >= 1);
}

#[tokio::test]
async fn daemon_mode_detaches_writes_its_pid_and_logs_to_a_file() {
    let discord = FakeDiscord::start().await;
    let ollama = fake_ollama().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("mcpcord.toml"), "").unwrap();
    let mut command = bot_command(dir.path(), &discord, &ollama);
    command
        .args(["--daemon", "--log-file", "logs/bot.log"])
        .stdout(Stdio::piped());
    let out = tokio::time::timeout(WAIT, command.output())
        .await
        .expect("the starting process returned")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(out.status.success(), "{stdout}");
    let pid: u32 = stdout.parse().expect("the daemon's pid on stdout");
    discord
        .wait_for_identify()
        .await
        .expect("the daemon connected");
    let pid_file = dir.path().join("data/mcpcord.pid");
    assert_eq!(std::fs::read_to_string(&pid_file).unwrap().trim(), stdout);
    // A session of its own (not ours), and not its leader (the second fork): no terminal.
    let session = |pid: &str| {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        stat.rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .nth(3)
            .unwrap()
            .to_owned()
    };
    let daemon_session = session(&stdout);
    assert_ne!(daemon_session, session("self"), "a new session");
    assert_ne!(daemon_session, stdout, "not the session's leader");
    signal(pid, "TERM");
    let gone = tokio::time::timeout(WAIT, async {
        while common::alive(pid) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let log = std::fs::read_to_string(dir.path().join("logs/bot.log")).unwrap_or_default();
    assert!(gone.is_ok(), "the daemon stopped on SIGTERM; log:\n{log}");
    assert!(log.contains("gateway ready"), "{log}");
    assert!(!pid_file.exists());
}

fn uids(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .unwrap()
        .split_whitespace()
        .skip(1)
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test]
async fn user_drops_root_once_the_database_and_pid_file_are_open() {
    if !nix::unistd::Uid::effective().is_root() {
        panic!(
            "this test starts the bot as root to see it drop to `nobody`: run the tests as root"
        );
    }
    let discord = FakeDiscord::start().await;
    let ollama = fake_ollama().await;
    let mut bot = Bot::start(&discord, &ollama, "", &["--user", "nobody"], &[]);
    identified(&discord, &bot).await;
    bot.wait_log("privileges dropped", 1).await;
    let nobody = nix::unistd::User::from_name("nobody")
        .unwrap()
        .expect("a `nobody` user")
        .uid
        .as_raw()
        .to_string();
    // Real, effective, saved and file-system ids: all of them, for good.
    assert_eq!(uids(bot.pid()), [nobody.as_str(); 4].join(" "));
    assert!(
        bot.path("data/mcpcord.pid").exists(),
        "the PID file stays locked"
    );
    bot.child.start_kill().unwrap();
    bot.child.wait().await.unwrap();
}
