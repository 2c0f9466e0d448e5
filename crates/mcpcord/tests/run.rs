//! `mcpcord run`, the real binary, against FakeDiscord and FakeOllama on 127.0.0.1.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use mcpcord_testkit::fake_discord::MessageCreate;
use mcpcord_testkit::fake_ollama::{FakeModel, Script};
use mcpcord_testkit::{FakeDiscord, FakeOllama};
use serde_json::Value;

mod common;

const WAIT: Duration = Duration::from_secs(30);

/// Starts the binary against the fakes, with `grace` for shutdown.
fn spawn_bot(
    discord: &FakeDiscord,
    ollama: &FakeOllama,
    dir: &std::path::Path,
    grace: &str,
) -> tokio::process::Child {
    let mut command = common::mcpcord_async();
    common::on_fakes(&mut command, discord, ollama, &dir.join("stderr.log"))
        .arg("run")
        .current_dir(dir)
        .env("MCPCORD__DISCORD__SHUTDOWN_GRACE", grace)
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/bot.sqlite", dir.display()),
        );
    command.spawn().expect("the binary starts")
}

#[tokio::test]
async fn a_refused_token_exits_1_with_the_reason() {
    let discord = FakeDiscord::start().await;
    let ollama = FakeOllama::start().await;
    let dir = tempfile::tempdir().unwrap();
    // The fake accepts only its own token.
    let mut command = common::mcpcord_async();
    command
        .arg("run")
        .current_dir(dir.path())
        .env("DISCORD_TOKEN", "not-the-token")
        .env("MCPCORD__DISCORD__API_BASE_URL", discord.api_base())
        .env("MCPCORD__DISCORD__GATEWAY_URL", discord.gateway_url())
        .env("OLLAMA_HOST", ollama.url())
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/bot.sqlite", dir.path().display()),
        )
        .kill_on_drop(true);
    let out = tokio::time::timeout(WAIT, command.output())
        .await
        .expect("the binary gave up in time")
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot reach Discord"), "{stderr}");
}

#[tokio::test]
async fn disallowed_intents_on_the_gateway_exit_1_with_what_to_fix() {
    let discord = FakeDiscord::start().await;
    let ollama = FakeOllama::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut bot = spawn_bot(&discord, &ollama, dir.path(), "2s");
    discord
        .wait_for_identify()
        .await
        .expect("the bot identified");
    // Discord closes with 4014 when a privileged intent is not enabled for the application.
    discord.disconnect_all(4014);
    let status = tokio::time::timeout(WAIT, bot.wait())
        .await
        .expect("the bot stopped by itself")
        .unwrap();
    assert_eq!(status.code(), Some(1));
    let stderr = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap();
    assert!(stderr.contains("4014"), "{stderr}");
    assert!(stderr.contains("Privileged Gateway Intents"), "{stderr}");
}

fn bot_messages(discord: &FakeDiscord) -> Vec<Value> {
    discord
        .messages_in(FakeDiscord::CHANNEL_ID)
        .into_iter()
        .filter(|m| m["author"]["id"].as_str() == Some(&*FakeDiscord::BOT_USER_ID.to_string()))
        .collect()
}

fn has_stop(message: &Value) -> bool {
    message["components"].to_string().contains("\"stop:")
}

#[tokio::test]
async fn sigterm_during_a_stream_lets_the_answer_finish_with_a_final_edit() {
    let discord = FakeDiscord::start().await;
    let ollama = FakeOllama::start_with_models(vec![
        FakeModel::new("llama3.2").capabilities(&["completion"]),
    ])
    .await;
    ollama.push_script(
        Script::new()
            .text("Partial")
            .delay(Duration::from_millis(1500))
            .text(" and the rest."),
    );
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_bot(&discord, &ollama, dir.path(), "20s");
    let log = || std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();
    if discord.wait_for_identify().await.is_err() {
        panic!(
            "the binary did not connect to the gateway; stderr:\n{}",
            log()
        );
    }
    assert!(
        !discord.global_commands().is_empty(),
        "the commands were registered"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    discord.inject_message_create(MessageCreate::new(format!(
        "<@{}> tell me",
        FakeDiscord::BOT_USER_ID
    )));
    tokio::time::timeout(WAIT, async {
        while bot_messages(&discord).is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the answer started");

    let pid = child.id().expect("running").to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::time::timeout(WAIT, child.wait())
        .await
        .expect("the bot exited in time")
        .unwrap();
    let stderr = log();
    assert!(exit.success(), "exit {exit:?}; stderr:\n{stderr}");
    let answers = bot_messages(&discord);
    assert_eq!(answers.len(), 1, "{answers:#?}");
    assert_eq!(
        answers[0]["content"], "Partial and the rest.",
        "nothing lost"
    );
    assert!(!has_stop(&answers[0]), "the final edit removed Stop");
}

/// Starts `mcpcord run` with an MCP server that never finishes its handshake (`sleep`), so
/// the bot stays in start-up; returns the bot and the pid of its MCP child once it runs.
/// `more_servers` is added to the configuration.
async fn bot_stuck_in_start_up(
    dir: &std::path::Path,
    more_servers: &str,
) -> (tokio::process::Child, u32) {
    std::fs::write(
        dir.join("mcpcord.toml"),
        format!(
            "[mcp.servers.slow]\ncommand = \"sleep\"\nargs = [\"120\"]\nstart_timeout = \"120s\"\n{more_servers}"
        ),
    )
    .unwrap();
    let mut command = common::mcpcord_async();
    command
        .arg("run")
        .current_dir(dir)
        .env("PATH", "/usr/bin:/bin")
        .env("DISCORD_TOKEN", FakeDiscord::TOKEN)
        // Nothing listens there: start-up never gets that far.
        .env("MCPCORD__DISCORD__API_BASE_URL", "http://127.0.0.1:9")
        .env("MCPCORD__DISCORD__GATEWAY_URL", "ws://127.0.0.1:9")
        .env("OLLAMA_HOST", "http://127.0.0.1:9")
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/bot.sqlite?mode=rwc", dir.display()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("stderr.log")).unwrap())
        .kill_on_drop(true);
    let bot = command.spawn().expect("the binary starts");
    let pid = bot.id().expect("running");
    let child = tokio::time::timeout(WAIT, async {
        loop {
            if let Some(&child) = common::children_of(pid).first() {
                return child;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the bot launched its MCP server");
    (bot, child)
}

fn signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name} {pid}");
}

async fn gone(pid: u32) -> bool {
    tokio::time::timeout(Duration::from_secs(10), async {
        while common::alive(pid) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .is_ok()
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn sigterm_during_start_up_stops_the_mcp_servers_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let (mut bot, mcp_child) = bot_stuck_in_start_up(dir.path(), "").await;
    // The bot is waiting for its MCP server to become ready.
    tokio::time::sleep(Duration::from_millis(300)).await;
    signal(bot.id().unwrap(), "TERM");
    let exit = tokio::time::timeout(WAIT, bot.wait())
        .await
        .expect("the bot exited in time")
        .unwrap();
    let stderr = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();
    assert_eq!(exit.code(), Some(0), "stderr:\n{stderr}");
    assert!(
        gone(mcp_child).await,
        "the MCP server {mcp_child} outlived the bot; stderr:\n{stderr}"
    );
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_second_sigint_exits_at_once_with_130() {
    let dir = tempfile::tempdir().unwrap();
    // A server that is ready but lingers after its stdin closes: a clean shutdown waits for
    // it (seconds), the second SIGINT does not.
    let lingering = format!(
        "[mcp.servers.lingering]\ncommand = \"python3\"\nargs = [{:?}]\nenv = {{ SPY_LINGER = \"60\" }}\n",
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/scripts/spy_mcp_server.py")
            .display()
            .to_string()
    );
    let (mut bot, _) = bot_stuck_in_start_up(dir.path(), &lingering).await;
    let pid = bot.id().unwrap();
    tokio::time::timeout(WAIT, async {
        while common::children_of(pid).len() < 2 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("both MCP servers started");
    let mcp_children = common::children_of(pid);
    // Time for the lingering server's handshake.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    signal(pid, "INT");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let asked = std::time::Instant::now();
    signal(pid, "INT");
    let exit = tokio::time::timeout(WAIT, bot.wait())
        .await
        .expect("the bot exited in time")
        .unwrap();
    let stderr = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();
    assert_eq!(exit.code(), Some(130), "stderr:\n{stderr}");
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "exited {:?} after the second SIGINT",
        asked.elapsed()
    );
    for child in mcp_children {
        assert!(gone(child).await, "the MCP server {child} outlived the bot");
    }
}

/// The database of a bot run in `dir`, opened apart from the bot.
async fn open_database(dir: &Path) -> sqlx::SqliteConnection {
    let url = format!("sqlite://{}/bot.sqlite", dir.display());
    <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap()
}

/// Every stored message, (role, content) in id order, after SQLite's integrity and foreign-key
/// checks passed; and how many conversations there are.
async fn stored(dir: &Path) -> (Vec<(String, String)>, i64) {
    let mut db = open_database(dir).await;
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(integrity, "ok");
    let orphans: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pragma_foreign_key_check")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(orphans, 0, "rows without their parent");
    let messages = sqlx::query_as("SELECT role, content FROM messages ORDER BY id")
        .fetch_all(&mut db)
        .await
        .unwrap();
    let conversations = sqlx::query_scalar("SELECT COUNT(*) FROM conversations")
        .fetch_one(&mut db)
        .await
        .unwrap();
    (messages, conversations)
}

/// Killed (SIGKILL) the moment its model request arrives, while the person's message may still
/// be queued for writing (SQLite gives its ids in memory, see the memory crate's `group.rs`):
/// the database has that message with its conversation, or nothing of the turn, never an answer
/// or a conversation without it; restarted, the bot answers the next message and stores it.
#[cfg(unix)]
#[tokio::test]
async fn sigkill_right_after_the_model_request_leaves_the_message_or_nothing() {
    use std::os::unix::process::ExitStatusExt;

    let discord = FakeDiscord::start().await;
    let ollama = FakeOllama::start_with_models(vec![
        FakeModel::new("llama3.2").capabilities(&["completion"]),
    ])
    .await;
    ollama.push_script(Script::new().stall());
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_bot(&discord, &ollama, dir.path(), "2s");
    let log = || std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();
    if discord.wait_for_identify().await.is_err() {
        panic!("the binary did not connect; stderr:\n{}", log());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    discord.inject_message_create(MessageCreate::new(format!(
        "<@{}> first question",
        FakeDiscord::BOT_USER_ID
    )));
    tokio::time::timeout(WAIT, async {
        while ollama.count("/api/chat") == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no model request; stderr:\n{}", log()));
    child.start_kill().expect("SIGKILL");
    let status = child.wait().await.unwrap();
    assert_eq!(status.signal(), Some(9), "{status:?}");

    let (messages, conversations) = stored(dir.path()).await;
    match messages.as_slice() {
        [] => assert_eq!(conversations, 0, "a conversation without its first message"),
        [(role, content)] => {
            assert_eq!(role, "user");
            assert!(content.contains("first question"), "{content}");
            assert_eq!(conversations, 1);
        }
        more => panic!("more than the person's message: {more:?}"),
    }
    eprintln!("after the kill: {} message(s) stored", messages.len());

    // Restarted on the same database: the next message is answered and stored after it.
    let discord = FakeDiscord::start().await;
    let ollama = FakeOllama::start_with_models(vec![
        FakeModel::new("llama3.2").capabilities(&["completion"]),
    ])
    .await;
    let _again = spawn_bot(&discord, &ollama, dir.path(), "2s");
    if discord.wait_for_identify().await.is_err() {
        panic!("the restarted binary did not connect; stderr:\n{}", log());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    discord.inject_message_create(MessageCreate::new(format!(
        "<@{}> second question",
        FakeDiscord::BOT_USER_ID
    )));
    let after = tokio::time::timeout(WAIT, async {
        loop {
            let (after, _) = stored(dir.path()).await;
            if after.iter().any(|(role, _)| role == "assistant") {
                return after;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the restarted bot stored no answer; stderr:\n{}", log()));
    let (last_question, answer) = (&after[after.len() - 2], &after[after.len() - 1]);
    assert_eq!(after.len(), messages.len() + 2, "{after:?}");
    assert_eq!(&after[..messages.len()], messages.as_slice());
    assert!(last_question.1.contains("second question"), "{after:?}");
    assert_eq!(answer.0, "assistant", "{after:?}");
}
