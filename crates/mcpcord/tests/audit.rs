//! `mcpcord audit export` through the real binary, on SQLite (the default database file) and on
//! PostgreSQL (`DATABASE_URL`): JSON Lines on stdout, oldest first, every field, ids as
//! strings; `--guild` and `--since` select; a bad `--since` is a usage error (exit 2).

use std::path::Path;
use std::process::Output;
use std::time::{Duration, SystemTime};

use mcpcord_engine::{AuditEntry, GuildId, UserId};
use mcpcord_memory::Store;
use serde_json::{Value, json};

mod common;

const GUILD: u64 = 1_300_000_000_000_000_011;
const OTHER_GUILD: u64 = 1_300_000_000_000_000_012;
const ALICE: u64 = 1_300_000_000_000_000_013;
const SERVER: &str = "postgres://postgres@127.0.0.1:5432";

/// A database of its own on the test PostgreSQL server, dropped at the end.
struct Database {
    name: String,
}

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
            "mcpcord_audit_{}_{}",
            std::process::id(),
            SystemTime::now()
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

/// `mcpcord ARGS` in `dir`, on `database` when given (else the default SQLite file there).
fn mcpcord(dir: &Path, database: Option<&str>, args: &[&str]) -> Output {
    let mut command = common::mcpcord();
    command.args(args).current_dir(dir);
    if let Some(url) = database {
        command.env("DATABASE_URL", url);
    }
    command.output().expect("the mcpcord binary runs")
}

/// The JSON objects printed one a line.
fn lines(out: &Output) -> Vec<Value> {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// Three entries: ten days ago in GUILD, an hour ago in OTHER_GUILD, a minute ago in GUILD.
async fn populate(url: &str) {
    let store = Store::connect(url).await.unwrap();
    let now = SystemTime::now();
    let ago = |seconds: u64| now - Duration::from_secs(seconds);
    store
        .append_audits(&[
            AuditEntry::tool_call(
                Some(UserId::new(ALICE)),
                Some(GuildId::new(GUILD)),
                "web",
                "fetch",
                &json!({"url": "https://example.com"}),
            )
            .with_detail("outcome", "ok")
            .at(ago(10 * 86_400)),
            AuditEntry::refusal(
                Some(UserId::new(ALICE)),
                Some(GuildId::new(OTHER_GUILD)),
                "blocked",
            )
            .at(ago(3_600)),
            AuditEntry::admin(
                Some(UserId::new(ALICE)),
                Some(GuildId::new(GUILD)),
                "tools.disable",
                json!({"tools": ["web › fetch"]}),
            )
            .at(ago(60)),
        ])
        .await
        .unwrap();
    store.close().await;
}

fn export_selects_and_prints_json_lines(dir: &Path, database: Option<&str>) {
    let all = lines(&mcpcord(dir, database, &["audit", "export"]));
    let actions: Vec<&str> = all.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        ["web/fetch", "blocked", "tools.disable"],
        "oldest first"
    );
    let first = &all[0];
    assert_eq!(first["kind"], "tool_call");
    assert_eq!(first["guild_id"], GUILD.to_string());
    assert_eq!(first["actor_id"], ALICE.to_string());
    assert_eq!(first["subject_id"], Value::Null);
    assert_eq!(first["detail"]["outcome"], "ok");
    assert_eq!(
        first["detail"]["arguments_sha256"].as_str().unwrap().len(),
        64
    );
    assert!(first["at"].as_str().unwrap().ends_with('Z'), "{first}");

    let guild = lines(&mcpcord(
        dir,
        database,
        &["audit", "export", "--guild", &GUILD.to_string()],
    ));
    let actions: Vec<&str> = guild
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["web/fetch", "tools.disable"]);
    let recent = lines(&mcpcord(
        dir,
        database,
        &["audit", "export", "--since", "2h"],
    ));
    let actions: Vec<&str> = recent
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["blocked", "tools.disable"]);
    let both = lines(&mcpcord(
        dir,
        database,
        &[
            "audit",
            "export",
            "--since",
            "7d",
            "--guild",
            &GUILD.to_string(),
        ],
    ));
    assert_eq!(both.len(), 1);
    assert_eq!(both[0]["action"], "tools.disable");

    let bad = mcpcord(dir, database, &["audit", "export", "--since", "last week"]);
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("2h or 7d"), "{stderr}");
}

#[tokio::test]
async fn audit_export_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    populate(&format!(
        "sqlite://{}/mcpcord.sqlite?mode=rwc",
        dir.path().display()
    ))
    .await;
    export_selects_and_prints_json_lines(dir.path(), None);
}

#[tokio::test]
async fn audit_export_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let database = Database::create();
    populate(&database.url()).await;
    export_selects_and_prints_json_lines(dir.path(), Some(&database.url()));
}

#[test]
fn audit_export_has_help() {
    let dir = tempfile::tempdir().unwrap();
    let out = mcpcord(dir.path(), None, &["audit", "export", "--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("JSON Lines") && help.contains("--since") && help.contains("--guild"),
        "{help}"
    );
}
