//! The audit log from Discord end to end (FakeDiscord + FakeOllama + SQLite or PostgreSQL,
//! driving `mcpcord_discord::run`): a refusal at the gate is recorded (autocomplete's are not), an
//! admin-only command refused is recorded, an admin's tool switch is recorded, and `/audit`
//! (admins only, private) shows them filtered by user and kind.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::db::Db;
use common::*;
use mcpcord_engine::{AuditFilter, AuditKind, AuditRecord, GuildId, UserId};
use mcpcord_mcp::ToolPolicy;
use mcpcord_testkit::FakeDiscord;
use mcpcord_testkit::fake_discord::InteractionCreate;
use serde_json::Value;

on_both_databases!(refusals_and_admin_changes_are_recorded_and_shown_by_audit);

/// Blocked everywhere.
const STRANGER: u64 = 1_200_000_000_000_000_777;
/// Served, but not an admin.
const BOB: u64 = 1_200_000_000_000_000_301;

/// The audit log's entries of `kind`, once there are at least `count`.
async fn entries(bot: &Bot, kind: AuditKind, count: usize) -> Vec<AuditRecord> {
    let started = Instant::now();
    loop {
        let found = bot
            .engine
            .audit_log(&AuditFilter {
                kind: Some(kind),
                ..AuditFilter::default()
            })
            .await
            .unwrap();
        if found.len() >= count {
            return found;
        }
        assert!(
            started.elapsed() < WAIT,
            "waited for {count} {kind} entries: {found:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn text_of(body: &Value) -> String {
    body["embeds"][0]["description"]
        .as_str()
        .unwrap_or_else(|| panic!("an embed: {body:#}"))
        .to_owned()
}

async fn refusals_and_admin_changes_are_recorded_and_shown_by_audit(db: Db) {
    let options = Options {
        tools: Some(ToolPolicy::default()),
        database: Some(db),
        ..Options::default()
    };
    let mut bot = start_with(options, |c| {
        c.audience.blocked_users = HashSet::from([STRANGER]);
        c.admins.server_managers = false;
        c.admins.users = [twilight_model::id::Id::new(FakeDiscord::USER_ID)].into();
    })
    .await;
    let guild = Some(GuildId::new(FakeDiscord::GUILD_ID));

    // A blocked person mentions the bot, runs a command and types in an autocomplete field.
    bot.discord
        .inject_message_create(mention("hi").author(STRANGER, "mallory"));
    bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("help").user(STRANGER, "mallory"),
    );
    let complete = bot.discord.inject_interaction_create(
        InteractionCreate::autocomplete("chat", "model", "ll").user(STRANGER, "mallory"),
    );
    bot.callback(&complete).await;
    // Bob, who is no admin, asks for the audit log (`/status` is open to everyone: budgets).
    let status = bot
        .discord
        .inject_interaction_create(InteractionCreate::slash_command("audit").user(BOB, "bob"));
    private_answer(&bot, &status).await;
    // Alice, an admin, switches a tool off here.
    let disable = bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("tools")
            .subcommand("disable")
            .option("tool", "test › echo"),
    );
    private_answer(&bot, &disable).await;

    let refusals = entries(&bot, AuditKind::Refusal, 3).await;
    let mut seen: Vec<(Option<UserId>, &str, &Value)> = refusals
        .iter()
        .map(|r| {
            (
                r.entry.actor_id,
                r.entry.action.as_str(),
                r.entry.detail.get("door").unwrap_or(&Value::Null),
            )
        })
        .collect();
    seen.sort_by_key(|(_, action, door)| (action.to_string(), door.to_string()));
    assert_eq!(
        seen,
        [
            (Some(UserId::new(BOB)), "admin_only", &Value::Null),
            (
                Some(UserId::new(STRANGER)),
                "blocked",
                &Value::from("command")
            ),
            (
                Some(UserId::new(STRANGER)),
                "blocked",
                &Value::from("message")
            ),
        ],
        "no entry for autocomplete: {refusals:#?}"
    );
    assert!(refusals.iter().all(|r| r.entry.guild_id == guild));
    assert_eq!(
        refusals
            .iter()
            .find(|r| r.entry.action == "admin_only")
            .unwrap()
            .entry
            .detail["command"],
        "audit"
    );
    let changes = entries(&bot, AuditKind::AdminAction, 1).await;
    assert_eq!(changes.len(), 1, "{changes:#?}");
    assert_eq!(changes[0].entry.action, "tools.disable");
    assert_eq!(
        changes[0].entry.actor_id,
        Some(UserId::new(FakeDiscord::USER_ID))
    );
    assert_eq!(changes[0].entry.detail["tools"][0], "test › echo");

    // `/audit` for the admin: refusals of the stranger only.
    let audit = bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("audit")
            .typed_option("user", 6, STRANGER.to_string())
            .option("kind", "refusal"),
    );
    let text = text_of(&private_answer(&bot, &audit).await);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines
            .iter()
            .all(|l| l.contains(&format!("by <@{STRANGER}>"))),
        "{text}"
    );
    assert!(
        text.contains("door=message") && text.contains("door=command"),
        "{text}"
    );
    assert!(
        !text.contains("admin\\_only") && !text.contains("tools.disable"),
        "{text}"
    );

    // Bob's entries of every kind; then admin actions alone.
    let audit = bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("audit").typed_option("user", 6, BOB.to_string()),
    );
    let text = text_of(&private_answer(&bot, &audit).await);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.contains("**admin\\_only**") && text.contains("command=audit"),
        "{text}"
    );
    let audit = bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("audit").option("kind", "admin_action"),
    );
    let text = text_of(&private_answer(&bot, &audit).await);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("**tools.disable**"), "{text}");

    // `/audit` is for admins: Bob is refused, and that is recorded too.
    let audit = bot
        .discord
        .inject_interaction_create(InteractionCreate::slash_command("audit").user(BOB, "bob"));
    let body = private_answer(&bot, &audit).await;
    assert!(
        body["content"].as_str().unwrap_or_default().contains("🔒"),
        "{body:#}"
    );
    let refusals = entries(&bot, AuditKind::Refusal, 4).await;
    assert_eq!(
        refusals[0].entry.detail["command"], "audit",
        "{refusals:#?}"
    );
    bot.shutdown().await;
}
