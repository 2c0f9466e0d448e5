//! Bot roles end to end (FakeDiscord + FakeOllama + the test MCP server + SQLite; the approval
//! by someone else and its audit entry on PostgreSQL too): a refused
//! command names the role it needs, `/help` differs by role, a model outside a role is refused,
//! only roles that approve for others may approve someone else's tool call, and the model is
//! offered only the tools the asker's roles allow.

mod common;

use std::collections::HashSet;

use common::db::Db;
use common::*;
use mcpcord_discord::bot::BotConfig;
use mcpcord_discord::roles::{BotRole, Roles};
use mcpcord_engine::Allowed;
use mcpcord_mcp::{ApprovalPolicy, ToolPolicy};
use mcpcord_testkit::FakeDiscord;
use mcpcord_testkit::fake_discord::{InteractionCreate, ResponseKind};
use mcpcord_testkit::fake_ollama::Script;
use serde_json::{Value, json};
use twilight_model::id::Id;

on_both_databases!(only_a_role_that_approves_for_others_approves_someone_elses_call);

const CHANNEL: u64 = FakeDiscord::CHANNEL_ID;
const GUESTS: u64 = 1_200_000_000_000_000_061;
const HELPERS: u64 = 1_200_000_000_000_000_060;
const HELPER_USER: u64 = 1_200_000_000_000_000_777;
const OTHER_USER: u64 = 1_200_000_000_000_000_778;

/// Admins are FakeDiscord's default user only; guests may chat and ask for help and use the
/// test server's echo; helpers may do what everyone may, see `/status`, approve for others.
fn with_roles(config: &mut BotConfig) {
    config.admins.server_managers = false;
    config.admins.users = HashSet::from([Id::new(FakeDiscord::USER_ID)]);
    let guest = BotRole {
        discord_roles: HashSet::from([Id::new(GUESTS)]),
        commands: Allowed::Only(vec!["chat".into(), "help".into()]),
        tools: Allowed::Only(vec!["test.echo".into()]),
        models: Some(Allowed::Only(vec!["llama3.2".into()])),
        ..BotRole::ordinary("guest")
    };
    let helper = BotRole {
        discord_roles: HashSet::from([Id::new(HELPERS)]),
        commands: Allowed::Only(vec!["*".into(), "status".into()]),
        approve_for_others: true,
        ..BotRole::ordinary("helper")
    };
    config.roles = Roles {
        roles: vec![guest, helper],
        ..Roles::default()
    };
}

/// The text of the first answer to `interaction` (immediate or deferred, message or embed).
async fn said(
    bot: &Bot,
    interaction: &mcpcord_testkit::fake_discord::InjectedInteraction,
) -> String {
    let first = bot.callback(interaction).await;
    let text = |body: &Value| {
        body["content"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| body["embeds"][0]["description"].as_str().map(str::to_owned))
    };
    if let Some(found) = text(&first["data"]) {
        return found;
    }
    // A deferred answer: edited in place, or (a refusal after a public deferral) the deferral
    // deleted and the text sent privately as a follow-up.
    let mut responses = Vec::new();
    for count in 2..=3 {
        responses = bot.responses(interaction, count).await;
        let found = responses
            .iter()
            .filter(|r| matches!(r.kind, ResponseKind::EditOriginal | ResponseKind::Followup))
            .filter_map(|r| r.body.as_ref())
            .find_map(text);
        if let Some(found) = found {
            return found;
        }
    }
    panic!("no text in {responses:#?}")
}

#[tokio::test]
async fn a_command_refused_for_a_role_is_allowed_for_an_admin_and_help_differs() {
    let mut bot = start(None, with_roles).await;
    let guest = |command: InteractionCreate| command.user(OTHER_USER, "gus").roles(&[GUESTS]);

    let refused = bot
        .discord
        .inject_interaction_create(guest(InteractionCreate::slash_command("status")));
    let text = said(&bot, &refused).await;
    assert!(
        // `/status` is everyone's (their budgets), so `default` allows it too.
        text.contains("`/status` needs the bot role admin or helper or default; yours: guest"),
        "{text}"
    );
    let search = bot.discord.inject_interaction_create(guest(
        InteractionCreate::slash_command("search").option("query", "x"),
    ));
    let text = said(&bot, &search).await;
    assert!(text.contains("`/search` needs the bot role"), "{text}");
    assert!(text.contains("default"), "everyone else may: {text}");

    let by_admin = bot
        .discord
        .inject_interaction_create(InteractionCreate::slash_command("status"));
    let responses = bot.responses(&by_admin, 2).await;
    let edit = responses
        .iter()
        .find(|r| r.kind == ResponseKind::EditOriginal)
        .and_then(|r| r.body.as_ref())
        .expect("the deferred /status was filled in")
        .to_string();
    assert!(!edit.contains("🔒"), "{edit}");

    let help_guest = bot
        .discord
        .inject_interaction_create(guest(InteractionCreate::slash_command("help")));
    let guest_help = said(&bot, &help_guest).await;
    let help_admin = bot
        .discord
        .inject_interaction_create(InteractionCreate::slash_command("help"));
    let admin_help = said(&bot, &help_admin).await;
    assert!(guest_help.contains("`/chat`") && guest_help.contains("`/help`"));
    assert!(!guest_help.contains("`/search`") && !guest_help.contains("`/status`"));
    assert!(admin_help.contains("`/search`") && admin_help.contains("`/status`"));

    // Typing `/help command:` offers the guest only their commands.
    let typing = bot
        .discord
        .inject_interaction_create(guest(InteractionCreate::autocomplete(
            "help", "command", "",
        )));
    let choices = bot.callback(&typing).await;
    let names: Vec<&str> = choices["data"]["choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["chat", "help"], "{choices:#}");
    bot.shutdown().await;
}

#[tokio::test]
async fn a_model_outside_the_role_is_refused() {
    let mut bot = start(None, with_roles).await;
    let chat = bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("chat")
            .option("prompt", "hi")
            .option("model", "llava")
            .user(OTHER_USER, "gus")
            .roles(&[GUESTS]),
    );
    let text = said(&bot, &chat).await;
    assert!(
        text.contains("`llava` is not among the models you may pick: llama3.2"),
        "{text}"
    );
    let set = bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("model")
            .subcommand("set")
            .option("name", "llava")
            .user(OTHER_USER, "gus")
            .roles(&[GUESTS]),
    );
    let text = said(&bot, &set).await;
    assert!(
        text.contains("needs the bot role"),
        "`/model` is not the guest's: {text}"
    );
    assert!(bot.ollama.chat_requests().is_empty(), "no model call");
    // The model refused by the role is in the audit log, with the role that refused it.
    let refusals = bot
        .engine
        .audit_log(&mcpcord_engine::AuditFilter {
            kind: Some(mcpcord_engine::AuditKind::Refusal),
            ..Default::default()
        })
        .await
        .unwrap();
    let by_role = refusals
        .iter()
        .map(mcpcord_engine::AuditRecord::to_json)
        .find(|entry| entry["action"] == "role")
        .unwrap_or_else(|| panic!("no refusal by role in {refusals:?}"));
    assert_eq!(by_role["detail"]["refused"], "model", "{by_role}");
    assert_eq!(by_role["detail"]["what"], "llava", "{by_role}");
    bot.shutdown().await;
}

/// The approval buttons of the answer waiting for one.
async fn approval_buttons(bot: &Bot) -> (Value, String) {
    let asking = bot
        .wait_answers(CHANNEL, "an approval row", |answers| {
            answers.iter().find(|m| has_button(m, "tool:")).cloned()
        })
        .await;
    let approve = custom_ids(&asking)
        .into_iter()
        .find(|id| id.starts_with("tool:") && id.ends_with(":y"))
        .unwrap();
    (asking, approve)
}

async fn only_a_role_that_approves_for_others_approves_someone_elses_call(db: Db) {
    let mut policy = ToolPolicy::default();
    policy.approval.insert("echo".into(), ApprovalPolicy::Ask);
    let options = Options {
        tools: Some(policy),
        database: Some(db),
        ..Options::default()
    };
    let mut bot = start_with(options, with_roles).await;
    bot.ollama
        .push_script(Script::new().tool_call("echo", json!({"text": "pong"})));
    bot.ollama.push_script(Script::reply("The tool said pong."));
    bot.discord.inject_message_create(mention("ping the tool"));
    let (asking, approve) = approval_buttons(&bot).await;

    // Someone holding no role that approves for others is refused.
    let other = bot.discord.inject_interaction_create(
        InteractionCreate::button(approve.clone(), id_of(&asking))
            .user(OTHER_USER, "gus")
            .roles(&[GUESTS]),
    );
    let refusal = bot.callback(&other).await;
    assert_eq!(refusal["data"]["flags"], 64, "{refusal:#}");
    assert!(
        refusal["data"]["content"]
            .as_str()
            .unwrap()
            .contains("approves for others"),
        "{refusal:#}"
    );
    // A helper may approve it.
    bot.discord.inject_interaction_create(
        InteractionCreate::button(approve, id_of(&asking))
            .user(HELPER_USER, "hal")
            .roles(&[HELPERS]),
    );
    let done = bot.finished_answer(CHANNEL, "The tool said pong.").await;
    let content = done[0]["content"].as_str().unwrap();
    assert!(content.contains('✓') || content.contains("✅"), "{content}");
    // The audit log names the helper who pressed, not the person whose turn it was.
    let calls = bot
        .engine
        .audit_log(&mcpcord_engine::AuditFilter {
            kind: Some(mcpcord_engine::AuditKind::ToolCall),
            ..Default::default()
        })
        .await
        .unwrap();
    let call = calls
        .first()
        .map(mcpcord_engine::AuditRecord::to_json)
        .expect("the tool call is in the audit log");
    assert_eq!(call["detail"]["approval"], "approved", "{call}");
    assert_eq!(
        call["detail"]["approved_by"],
        HELPER_USER.to_string(),
        "{call}"
    );
    bot.shutdown().await;
}

#[tokio::test]
async fn a_guest_is_offered_only_their_tool() {
    let mut bot = start(Some(ToolPolicy::default()), with_roles).await;
    bot.ollama.push_script(Script::reply("Hello."));
    let chat = bot.discord.inject_interaction_create(
        InteractionCreate::slash_command("chat")
            .option("prompt", "hi")
            .user(OTHER_USER, "gus")
            .roles(&[GUESTS]),
    );
    bot.callback(&chat).await;
    let request = tokio::time::timeout(WAIT, async {
        loop {
            if let Some(request) = bot.ollama.last_chat_request() {
                return request;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the model was asked");
    let names: Vec<&str> = request["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["function"]["name"].as_str())
        .collect();
    assert_eq!(names, ["echo"]);
    bot.shutdown().await;
}
