//! Scale out: two `mcpcord run` processes, shards 0-0 and 1-1 of 2, sharing one PostgreSQL
//! database, against one FakeDiscord: each answers only the guilds of its shard (each process
//! has its own FakeOllama, so the model requests say who answered), and one conversation's
//! turns come back in order.

#![cfg(target_os = "linux")]

use std::path::Path;
use std::time::Duration;

use mcpcord_testkit::fake_discord::{GuildConfig, MessageCreate};
use mcpcord_testkit::fake_ollama::{FakeModel, Script};
use mcpcord_testkit::{FakeDiscord, FakeOllama};
use serde_json::Value;

mod common;

const WAIT: Duration = Duration::from_secs(30);

/// A guild on shard 0 of 2 (`(id >> 22) % 2`); the default guild is on shard 1.
const SHARD0_GUILD: u64 = 1_200_000_000_004_194_404;
const SHARD0_CHANNEL: u64 = 1_200_000_000_004_194_500;

/// A database of its own on the test PostgreSQL server, dropped at the end.
struct Database {
    name: String,
}

const SERVER: &str = "postgres://postgres@127.0.0.1:5432";

fn psql(sql: &str) {
    let out = std::process::Command::new("psql")
        .args([
            &format!("{SERVER}/postgres"),
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql {sql}: {} (these tests need PostgreSQL on 127.0.0.1:5432, trust auth)",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Database {
    fn create() -> Database {
        let name = format!(
            "mcpcord_shards_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        psql(&format!("CREATE DATABASE {name}"));
        Database { name }
    }

    fn url(&self) -> String {
        format!("{SERVER}/{}", self.name)
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = std::process::Command::new("psql")
            .args([
                &format!("{SERVER}/postgres"),
                "-c",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .output();
    }
}

fn spawn(
    dir: &Path,
    discord: &FakeDiscord,
    ollama: &FakeOllama,
    database: &str,
    shards: &str,
) -> tokio::process::Child {
    // The shard-1 channel answers everything: one rolling conversation, for the order check.
    std::fs::write(
        dir.join("mcpcord.toml"),
        format!(
            "[discord]\nalways_answer_channels = [\"{}\"]\n",
            FakeDiscord::CHANNEL_ID
        ),
    )
    .unwrap();
    let mut command = common::mcpcord_async();
    common::on_fakes(&mut command, discord, ollama, &dir.join("stderr.log"))
        .arg("run")
        .current_dir(dir)
        .env("MCPCORD__DISCORD__SHARDS", "2")
        .env("MCPCORD__DISCORD__SHARD_IDS", shards)
        .env("MCPCORD__DISCORD__SHUTDOWN_GRACE", "5s")
        .env("DATABASE_URL", database);
    command.spawn().expect("the binary starts")
}

async fn ollama() -> FakeOllama {
    FakeOllama::start_with_models(vec![
        FakeModel::new("llama3.2").capabilities(&["completion"]),
    ])
    .await
}

fn answers(discord: &FakeDiscord, channel: u64) -> Vec<String> {
    discord
        .messages_in(channel)
        .into_iter()
        .filter(|m| m["author"]["id"].as_str() == Some(&*FakeDiscord::BOT_USER_ID.to_string()))
        .filter_map(|m: Value| m["content"].as_str().map(str::to_owned))
        .collect()
}

async fn wait_answers(discord: &FakeDiscord, channel: u64, wanted: &[&str], logs: &str) {
    let waited = tokio::time::timeout(WAIT, async {
        while answers(discord, channel) != wanted {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        waited.is_ok(),
        "answers in {channel}: {:?}, wanted {wanted:?}\n{logs}",
        answers(discord, channel)
    );
}

fn ask(discord: &FakeDiscord, channel: u64, text: &str) {
    discord.inject_message_create(
        MessageCreate::new(format!("<@{}> {text}", FakeDiscord::BOT_USER_ID)).channel(channel),
    );
}

#[tokio::test]
async fn two_processes_each_answer_only_their_shards_guilds_sharing_postgres() {
    let database = Database::create();
    let discord = FakeDiscord::builder()
        .shards(2)
        .guild(
            GuildConfig::new(SHARD0_GUILD, "shard zero")
                .text_channel(SHARD0_CHANNEL, "general")
                .member(FakeDiscord::USER_ID),
        )
        .start()
        .await;
    let (ollama0, ollama1) = (ollama().await, ollama().await);
    ollama0.push_scripts([Script::reply("zero answers")]);
    ollama1.push_scripts([
        Script::new()
            .text("first, ")
            .delay(Duration::from_millis(500))
            .text("slowly"),
        Script::reply("second"),
    ]);
    let (dir0, dir1) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut bot0 = spawn(dir0.path(), &discord, &ollama0, &database.url(), "0-0");
    let mut bot1 = spawn(dir1.path(), &discord, &ollama1, &database.url(), "1");
    let logs = || {
        format!(
            "shard 0:\n{}\nshard 1:\n{}",
            std::fs::read_to_string(dir0.path().join("stderr.log")).unwrap_or_default(),
            std::fs::read_to_string(dir1.path().join("stderr.log")).unwrap_or_default()
        )
    };
    if discord.wait_for_identifies(2).await.is_err() {
        panic!("both processes did not identify\n{}", logs());
    }
    let mut shards: Vec<[u64; 2]> = discord
        .identifies()
        .iter()
        .filter_map(|i| i.shard)
        .collect();
    shards.sort();
    assert_eq!(shards, [[0, 2], [1, 2]], "one shard each");
    tokio::time::sleep(Duration::from_millis(300)).await;

    ask(&discord, SHARD0_CHANNEL, "hello zero");
    wait_answers(&discord, SHARD0_CHANNEL, &["zero answers"], &logs()).await;
    // Two turns of one conversation on shard 1, the first slow: answered in order.
    ask(&discord, FakeDiscord::CHANNEL_ID, "one");
    tokio::time::sleep(Duration::from_millis(100)).await;
    ask(&discord, FakeDiscord::CHANNEL_ID, "two");
    wait_answers(
        &discord,
        FakeDiscord::CHANNEL_ID,
        &["first, slowly", "second"],
        &logs(),
    )
    .await;
    assert_eq!(
        ollama0.chat_requests().len(),
        1,
        "shard 0's process: its guild only"
    );
    assert_eq!(
        ollama1.chat_requests().len(),
        2,
        "shard 1's process: its guild only"
    );
    let second = &ollama1.chat_requests()[1];
    let history: Vec<&str> = second["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["content"].as_str())
        .collect();
    assert!(
        history.iter().any(|c| c.contains("first, slowly")),
        "the second turn saw the first one's answer: {history:?}"
    );
    for bot in [&mut bot0, &mut bot1] {
        let pid = bot.id().unwrap().to_string();
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        let status = tokio::time::timeout(WAIT, bot.wait())
            .await
            .expect("stopped")
            .unwrap();
        assert!(status.success(), "{}", logs());
    }
}
