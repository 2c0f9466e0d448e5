//! The store against both databases: schema, conversations, turns, history, regenerate,
//! preferences, retention, Discord ids; SQLite's concurrent writers; connection errors.

#[macro_use]
mod common;

use std::time::{Duration, SystemTime};

use common::{TestDb, chain};
use mcpcord_memory::{
    Backend, ChannelId, ConversationId, ConversationKey, DisabledTool, GuildId, MemoryError,
    MessageId, NewMessage, PostId, PreferenceLevel, Role, Scope, Store, UserId,
};
use serde_json::json;
use tokio_util::sync::CancellationToken;

on_both!(
    migrations_run_on_a_fresh_database_and_again_on_reopen,
    conversations_are_got_or_created_by_key,
    new_conversation_archives_the_live_one,
    turns_are_stored_and_read_back_in_order,
    history_returns_the_newest_messages_in_order,
    a_turn_for_a_missing_conversation_writes_nothing,
    regenerate_replaces_the_whole_turn,
    discord_message_ids_find_their_message,
    preferences_are_kept_per_level,
    tools_are_disabled_and_enabled_per_channel,
    tools_disabled_before_0003_keep_their_meaning,
    users_and_guilds_are_upserted,
    retention_deletes_expired_conversations_of_a_guild,
    retention_rules_removed_from_the_configuration_are_removed,
    retention_outside_guilds_sweeps_dms_and_the_terminal,
    the_sweeper_runs_until_cancelled,
    concurrent_writers_do_not_fail,
);

const GUILD: GuildId = GuildId::new(1_100_000_000_000_000_001);
const CHANNEL: ChannelId = ChannelId::new(1_100_000_000_000_000_002);
const ALICE: UserId = UserId::new(1_100_000_000_000_000_003);
const BOB: UserId = UserId::new(1_100_000_000_000_000_004);

fn scope() -> Scope {
    Scope {
        guild_id: Some(GUILD),
        channel_id: Some(CHANNEL),
        user_id: Some(ALICE),
    }
}

fn key(text: &str) -> ConversationKey {
    ConversationKey::new(text)
}

async fn migrations_run_on_a_fresh_database_and_again_on_reopen(db: TestDb) {
    let store = db.connect().await;
    let expected = match db.kind {
        common::Kind::Sqlite => Backend::Sqlite,
        common::Kind::Postgres => Backend::Postgres,
    };
    assert_eq!(store.backend(), expected);
    let conversation = store
        .conversation(&key("cli:default"), Scope::default(), None)
        .await
        .unwrap();
    store
        .add_user_message(conversation.id, NewMessage::user("kept"))
        .await
        .unwrap();
    store.close().await;

    // Reopening runs the migrator again: nothing to do, and the data is still there.
    let store = db.connect().await;
    let again = store
        .find_conversation(&key("cli:default"))
        .await
        .unwrap()
        .expect("still there");
    assert_eq!(again.id, conversation.id);
    let history = store.history(conversation.id, 10).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].content, "kept");
    store.close().await;

    if db.kind == common::Kind::Sqlite {
        // WAL mode: the write-ahead log sits beside the database while it is open.
        let store = db.connect().await;
        let conversation = store
            .conversation(&key("cli:default"), Scope::default(), None)
            .await
            .unwrap();
        store
            .add_user_message(conversation.id, NewMessage::user("again"))
            .await
            .unwrap();
        let file = db.url().trim_start_matches("sqlite://").to_owned();
        assert!(
            std::path::Path::new(&format!("{file}-wal")).exists(),
            "no WAL file beside {file}"
        );
        store.close().await;
    }
}

async fn conversations_are_got_or_created_by_key(db: TestDb) {
    let store = db.connect().await;
    assert_eq!(
        store
            .find_conversation(&key("discord:thread:1"))
            .await
            .unwrap(),
        None
    );

    let first = store
        .conversation(&key("discord:thread:1"), scope(), Some(ALICE))
        .await
        .unwrap();
    assert_eq!(first.key, key("discord:thread:1"));
    assert_eq!(first.scope, scope());
    assert_eq!(first.owner, Some(ALICE));
    assert_eq!(
        (first.title.as_deref(), first.model.as_deref()),
        (None, None)
    );

    // The same key gives the same conversation, whoever asks and from where.
    let again = store
        .conversation(&key("discord:thread:1"), Scope::default(), Some(BOB))
        .await
        .unwrap();
    assert_eq!(again, first);
    let other = store
        .conversation(&key("discord:thread:2"), scope(), None)
        .await
        .unwrap();
    assert_ne!(other.id, first.id);

    // Concurrent first uses agree on one conversation.
    let racers: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .conversation(&key("discord:race"), scope(), None)
                    .await
            })
        })
        .collect();
    let mut ids = Vec::new();
    for racer in racers {
        ids.push(racer.await.unwrap().unwrap().id);
    }
    assert!(ids.windows(2).all(|pair| pair[0] == pair[1]), "{ids:?}");

    store.set_title(first.id, "Rust lifetimes").await.unwrap();
    store.set_model(first.id, Some("qwen3:8b")).await.unwrap();
    let found = store
        .find_conversation(&key("discord:thread:1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.title.as_deref(), Some("Rust lifetimes"));
    assert_eq!(found.model.as_deref(), Some("qwen3:8b"));
    store.set_model(first.id, None).await.unwrap();
    assert_eq!(store.get_conversation(first.id).await.unwrap().model, None);

    let missing = ConversationId(999_999);
    assert!(matches!(
        store.set_title(missing, "x").await,
        Err(MemoryError::NotFound {
            what: "conversation",
            id: 999_999
        })
    ));
    assert!(matches!(
        store.get_conversation(missing).await,
        Err(MemoryError::NotFound { .. })
    ));
    store.close().await;
}

async fn new_conversation_archives_the_live_one(db: TestDb) {
    let store = db.connect().await;
    let old = store
        .conversation(&key("discord:channel:9"), scope(), Some(ALICE))
        .await
        .unwrap();
    store
        .add_user_message(old.id, NewMessage::user("before /new"))
        .await
        .unwrap();

    let fresh = store
        .new_conversation(&key("discord:channel:9"), scope(), Some(ALICE))
        .await
        .unwrap();
    assert_ne!(fresh.id, old.id);
    assert_eq!(
        store
            .find_conversation(&key("discord:channel:9"))
            .await
            .unwrap()
            .unwrap()
            .id,
        fresh.id
    );
    assert_eq!(
        store
            .conversation(&key("discord:channel:9"), scope(), None)
            .await
            .unwrap()
            .id,
        fresh.id
    );
    assert!(store.history(fresh.id, 10).await.unwrap().is_empty());

    // The archived conversation keeps its messages, readable by id.
    assert_eq!(
        store.get_conversation(old.id).await.unwrap().key,
        key("discord:channel:9")
    );
    assert_eq!(
        store.history(old.id, 10).await.unwrap()[0].content,
        "before /new"
    );

    // `/new` on a key never used simply starts one.
    let first = store
        .new_conversation(&key("cli:other"), Scope::default(), None)
        .await
        .unwrap();
    assert_eq!(
        store
            .find_conversation(&key("cli:other"))
            .await
            .unwrap()
            .unwrap()
            .id,
        first.id
    );
    store.close().await;
}

async fn turns_are_stored_and_read_back_in_order(db: TestDb) {
    let store = db.connect().await;
    let conversation = store
        .conversation(&key("discord:thread:5"), scope(), Some(ALICE))
        .await
        .unwrap();
    let asked = SystemTime::UNIX_EPOCH + Duration::from_millis(1_750_000_000_123);

    let question = NewMessage::user("What is the weather in Oslo?")
        .with_author(ALICE, "Alice")
        .with_attachments(
            json!([{"filename": "map.png", "content_type": "image/png", "size": 1234}]),
        )
        .at(asked);
    let question_id = store
        .add_user_message(conversation.id, question.clone())
        .await
        .unwrap();

    let calls = json!([{"function": {"name": "weather", "arguments": {"city": "Oslo"}}}]);
    let turn = vec![
        NewMessage::assistant("")
            .with_model("qwen3:8b")
            .with_tool_calls(calls.clone()),
        NewMessage::tool_result("weather", "{\"celsius\": -3}").with_tool_call_id("call_1"),
        NewMessage::assistant("It is -3 °C in Oslo. ❄️")
            .with_model("qwen3:8b")
            .with_tokens(812, 17),
    ];
    let before = store
        .get_conversation(conversation.id)
        .await
        .unwrap()
        .updated_at;
    let ids = store
        .commit_turn(conversation.id, turn.clone())
        .await
        .unwrap();
    assert_eq!(ids.len(), 3);
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]) && question_id < ids[0]);
    assert!(
        store
            .get_conversation(conversation.id)
            .await
            .unwrap()
            .updated_at
            >= before
    );
    assert_eq!(
        store
            .commit_turn(conversation.id, Vec::new())
            .await
            .unwrap(),
        Vec::<MessageId>::new()
    );

    let history = store.history(conversation.id, 50).await.unwrap();
    let roles: Vec<Role> = history.iter().map(|m| m.role).collect();
    assert_eq!(
        roles,
        [Role::User, Role::Assistant, Role::Tool, Role::Assistant]
    );
    assert_eq!(
        history.iter().map(|m| m.id).collect::<Vec<_>>(),
        [question_id, ids[0], ids[1], ids[2]]
    );

    // Every field comes back as written.
    let stored = &history[0];
    assert_eq!(stored.conversation_id, conversation.id);
    assert_eq!(
        stored.author.as_ref().map(|a| (a.id, a.name.as_str())),
        Some((ALICE, "Alice"))
    );
    assert_eq!(stored.content, question.content);
    assert_eq!(stored.attachments, question.attachments);
    assert_eq!(stored.created_at, asked);
    assert!(!stored.interrupted && !stored.replaced);
    assert_eq!(history[1].tool_calls.as_ref(), Some(&calls));
    assert_eq!(history[1].model.as_deref(), Some("qwen3:8b"));
    assert_eq!(history[2].tool_name.as_deref(), Some("weather"));
    assert_eq!(history[2].tool_call_id.as_deref(), Some("call_1"));
    assert_eq!(history[3].content, "It is -3 °C in Oslo. ❄️");
    assert_eq!(
        (history[3].prompt_tokens, history[3].completion_tokens),
        (Some(812), Some(17))
    );
    assert_eq!(history[3].author, None);
    assert_eq!(store.message(ids[2]).await.unwrap(), history[3]);

    // A turn cut short by Stop is stored as such.
    store
        .add_user_message(conversation.id, NewMessage::user("Tell me a long story"))
        .await
        .unwrap();
    let cut = store
        .commit_turn(
            conversation.id,
            vec![NewMessage::assistant("Once upon a").interrupted()],
        )
        .await
        .unwrap();
    assert!(store.message(cut[0]).await.unwrap().interrupted);
    store.close().await;
}

async fn history_returns_the_newest_messages_in_order(db: TestDb) {
    let store = db.connect().await;
    let conversation = store
        .conversation(&key("cli:default"), Scope::default(), None)
        .await
        .unwrap();
    let other = store
        .conversation(&key("cli:other"), Scope::default(), None)
        .await
        .unwrap();
    for n in 0..10 {
        store
            .add_user_message(conversation.id, NewMessage::user(format!("q{n}")))
            .await
            .unwrap();
        store
            .commit_turn(
                conversation.id,
                vec![NewMessage::assistant(format!("a{n}"))],
            )
            .await
            .unwrap();
        store
            .add_user_message(other.id, NewMessage::user("elsewhere"))
            .await
            .unwrap();
    }
    let contents = |messages: Vec<mcpcord_memory::StoredMessage>| {
        messages.into_iter().map(|m| m.content).collect::<Vec<_>>()
    };
    assert_eq!(
        contents(store.history(conversation.id, 3).await.unwrap()),
        ["a8", "q9", "a9"]
    );
    assert_eq!(store.history(conversation.id, 100).await.unwrap().len(), 20);
    assert_eq!(
        contents(store.history(conversation.id, 100).await.unwrap())[..2],
        ["q0", "a0"]
    );
    assert!(store.history(conversation.id, 0).await.unwrap().is_empty());
    assert!(
        store
            .history(ConversationId(424_242), 10)
            .await
            .unwrap()
            .is_empty()
    );
    store.close().await;
}

async fn a_turn_for_a_missing_conversation_writes_nothing(db: TestDb) {
    let store = db.connect().await;
    let missing = ConversationId(31_337);
    let error = store
        .commit_turn(
            missing,
            vec![NewMessage::assistant("lost"), NewMessage::assistant("lost")],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            MemoryError::NotFound {
                what: "conversation",
                id: 31_337
            }
        ),
        "{error}"
    );
    assert!(matches!(
        store
            .add_user_message(missing, NewMessage::user("lost"))
            .await,
        Err(MemoryError::NotFound { .. })
    ));
    assert!(store.history(missing, 10).await.unwrap().is_empty());
    store.close().await;
}

async fn regenerate_replaces_the_whole_turn(db: TestDb) {
    let store = db.connect().await;
    let conversation = store
        .conversation(&key("discord:thread:7"), scope(), None)
        .await
        .unwrap();
    let question = store
        .add_user_message(conversation.id, NewMessage::user("2+2?"))
        .await
        .unwrap();
    let first = store
        .commit_turn(
            conversation.id,
            vec![
                NewMessage::assistant("").with_tool_calls(json!([{"function": {"name": "calc"}}])),
                NewMessage::tool_result("calc", "4"),
                NewMessage::assistant("5"),
            ],
        )
        .await
        .unwrap();
    store
        .set_discord_message_ids(first[2], &[PostId::new(777)])
        .await
        .unwrap();

    // Regenerate: the button's message leads to the answer; its whole turn is replaced.
    let pressed = store
        .message_by_discord_id(PostId::new(777))
        .await
        .unwrap()
        .expect("the answer");
    assert_eq!(pressed.id, first[2]);
    assert_eq!(store.mark_replaced(pressed.id).await.unwrap(), 3);
    assert_eq!(store.mark_replaced(pressed.id).await.unwrap(), 0);
    let history = store.history(conversation.id, 10).await.unwrap();
    assert_eq!(history.iter().map(|m| m.id).collect::<Vec<_>>(), [question]);

    let second = store
        .commit_turn(conversation.id, vec![NewMessage::assistant("4")])
        .await
        .unwrap();
    let history = store.history(conversation.id, 10).await.unwrap();
    assert_eq!(
        history
            .iter()
            .map(|m| m.content.as_str())
            .collect::<Vec<_>>(),
        ["2+2?", "4"]
    );
    assert_eq!(history[1].id, second[0]);

    // The old answer is kept, marked.
    let old = store.message(first[2]).await.unwrap();
    assert!(old.replaced);
    assert_eq!(old.content, "5");
    assert!(
        store
            .message_by_discord_id(PostId::new(777))
            .await
            .unwrap()
            .unwrap()
            .replaced
    );
    assert!(matches!(
        store.mark_replaced(MessageId(123_456_789)).await,
        Err(MemoryError::NotFound {
            what: "message",
            ..
        })
    ));
    store.close().await;
}

async fn discord_message_ids_find_their_message(db: TestDb) {
    let store = db.connect().await;
    let conversation = store
        .conversation(&key("discord:thread:8"), scope(), None)
        .await
        .unwrap();
    let question = store
        .add_user_message(conversation.id, NewMessage::user("long answer please"))
        .await
        .unwrap();
    let answer = store
        .commit_turn(conversation.id, vec![NewMessage::assistant("…")])
        .await
        .unwrap()[0];

    // Snowflakes use the high bits: the largest ones must survive the trip through i64.
    let parts = [
        PostId::new(1_300_000_000_000_000_003),
        PostId::new(1_300_000_000_000_000_001),
        PostId::new(u64::MAX - 1),
    ];
    store.set_discord_message_ids(answer, &parts).await.unwrap();
    store
        .set_discord_message_ids(question, &[PostId::new(42)])
        .await
        .unwrap();
    assert_eq!(store.discord_message_ids(answer).await.unwrap(), parts);
    for part in parts {
        assert_eq!(
            store.message_by_discord_id(part).await.unwrap().unwrap().id,
            answer
        );
    }
    assert_eq!(
        store
            .message_by_discord_id(PostId::new(42))
            .await
            .unwrap()
            .unwrap()
            .id,
        question
    );
    assert_eq!(
        store.message_by_discord_id(PostId::new(43)).await.unwrap(),
        None
    );

    // Recording again replaces the old set (an answer re-split after an edit).
    store
        .set_discord_message_ids(answer, &[parts[0]])
        .await
        .unwrap();
    assert_eq!(store.discord_message_ids(answer).await.unwrap(), [parts[0]]);
    assert_eq!(store.message_by_discord_id(parts[1]).await.unwrap(), None);
    assert!(matches!(
        store
            .set_discord_message_ids(MessageId(987_654), &[PostId::new(1)])
            .await,
        Err(MemoryError::NotFound {
            what: "message",
            id: 987_654
        })
    ));
    assert_eq!(
        store.message_by_discord_id(PostId::new(1)).await.unwrap(),
        None
    );
    store.close().await;
}

async fn preferences_are_kept_per_level(db: TestDb) {
    let store = db.connect().await;
    let empty = store.get_preferences(&scope()).await.unwrap();
    assert_eq!(empty, Default::default());

    store
        .set_preferred_model(PreferenceLevel::Guild(GUILD), Some("llama3.2:3b"))
        .await
        .unwrap();
    store
        .set_system_prompt(PreferenceLevel::Guild(GUILD), "Be brief.")
        .await
        .unwrap();
    store
        .set_system_prompt(PreferenceLevel::Channel(CHANNEL), "Speak like a pirate.")
        .await
        .unwrap();
    store
        .set_preferred_model(PreferenceLevel::User(ALICE), Some("qwen3:8b"))
        .await
        .unwrap();
    // Another user, channel and guild, to be left out.
    store
        .set_preferred_model(PreferenceLevel::User(BOB), Some("mistral"))
        .await
        .unwrap();
    store
        .set_system_prompt(
            PreferenceLevel::Guild(GuildId::new(GUILD.get() + 10)),
            "Other guild.",
        )
        .await
        .unwrap();

    let prefs = store.get_preferences(&scope()).await.unwrap();
    assert_eq!(prefs.user.model.as_deref(), Some("qwen3:8b"));
    assert_eq!(prefs.user.system_prompt, None);
    assert_eq!(prefs.channel.model, None);
    assert_eq!(
        prefs.channel.system_prompt.as_deref(),
        Some("Speak like a pirate.")
    );
    assert_eq!(prefs.guild.model.as_deref(), Some("llama3.2:3b"));
    assert_eq!(prefs.guild.system_prompt.as_deref(), Some("Be brief."));

    // Setting one field leaves the other; clearing goes back to nothing.
    store
        .set_preferred_model(PreferenceLevel::Guild(GUILD), Some("gemma3"))
        .await
        .unwrap();
    store
        .clear_system_prompt(PreferenceLevel::Channel(CHANNEL))
        .await
        .unwrap();
    store
        .set_preferred_model(PreferenceLevel::User(ALICE), None)
        .await
        .unwrap();
    let prefs = store.get_preferences(&scope()).await.unwrap();
    assert_eq!(prefs.guild.model.as_deref(), Some("gemma3"));
    assert_eq!(prefs.guild.system_prompt.as_deref(), Some("Be brief."));
    assert_eq!(prefs.channel.system_prompt, None);
    assert_eq!(prefs.user.model, None);

    // A DM: no guild, no channel preferences apply.
    let dm = Scope {
        guild_id: None,
        channel_id: None,
        user_id: Some(BOB),
    };
    let prefs = store.get_preferences(&dm).await.unwrap();
    assert_eq!(prefs.user.model.as_deref(), Some("mistral"));
    assert_eq!(
        (prefs.channel.clone(), prefs.guild.clone()),
        Default::default()
    );
    store.close().await;
}

fn off(server: &str, tool: &str) -> DisabledTool {
    DisabledTool {
        server: server.into(),
        tool: tool.into(),
    }
}

async fn tools_are_disabled_and_enabled_per_channel(db: TestDb) {
    let store = db.connect().await;
    assert_eq!(store.disabled_tools(CHANNEL).await.unwrap(), []);

    store
        .disable_tool(CHANNEL, "web", "fetch", Some(ALICE))
        .await
        .unwrap();
    store
        .disable_tool(CHANNEL, "test", "echo", None)
        .await
        .unwrap();
    // Twice is the same as once.
    store
        .disable_tool(CHANNEL, "test", "echo", Some(BOB))
        .await
        .unwrap();
    // The same tool name on another server is another tool.
    store
        .disable_tool(CHANNEL, "other", "echo", None)
        .await
        .unwrap();
    // Another channel, to be left out; a channel id above i64::MAX round-trips.
    store
        .disable_tool(
            ChannelId::new(CHANNEL.get() + 1),
            "sh",
            "shell",
            Some(ALICE),
        )
        .await
        .unwrap();
    store
        .disable_tool(ChannelId::new(u64::MAX), "test", "echo", None)
        .await
        .unwrap();

    assert_eq!(
        store.disabled_tools(CHANNEL).await.unwrap(),
        [
            off("other", "echo"),
            off("test", "echo"),
            off("web", "fetch")
        ]
    );
    assert_eq!(
        store
            .disabled_tools(ChannelId::new(CHANNEL.get() + 1))
            .await
            .unwrap(),
        [off("sh", "shell")]
    );
    assert_eq!(
        store
            .disabled_tools(ChannelId::new(u64::MAX))
            .await
            .unwrap(),
        [off("test", "echo")]
    );

    assert!(store.enable_tool(CHANNEL, "test", "echo").await.unwrap());
    assert!(
        !store.enable_tool(CHANNEL, "test", "echo").await.unwrap(),
        "already on"
    );
    assert!(
        !store.enable_tool(CHANNEL, "sh", "shell").await.unwrap(),
        "off elsewhere only"
    );
    assert!(
        !store.enable_tool(CHANNEL, "fetch", "web").await.unwrap(),
        "server and tool are not interchangeable"
    );
    assert_eq!(
        store.disabled_tools(CHANNEL).await.unwrap(),
        [off("other", "echo"), off("web", "fetch")]
    );
    assert_eq!(
        store
            .disabled_tools(ChannelId::new(CHANNEL.get() + 1))
            .await
            .unwrap(),
        [off("sh", "shell")]
    );

    // Kept across a reopen.
    store.close().await;
    let store = db.connect().await;
    assert_eq!(
        store.disabled_tools(CHANNEL).await.unwrap(),
        [off("other", "echo"), off("web", "fetch")]
    );
    store.close().await;
}

/// A database written before migration 0003 (tools keyed by the name the model saw): its rows
/// are kept, a prefixed `server__tool` split into server and tool, any other name kept as the
/// tool on any server.
async fn tools_disabled_before_0003_keep_their_meaning(db: TestDb) {
    sqlx::any::install_default_drivers();
    let url = match db.kind {
        common::Kind::Sqlite => format!("{}?mode=rwc", db.url()),
        common::Kind::Postgres => db.url().to_owned(),
    };
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let folder = match db.kind {
        common::Kind::Sqlite => "migrations/sqlite",
        common::Kind::Postgres => "migrations/postgres",
    };
    let all =
        sqlx::migrate::Migrator::new(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(folder))
            .await
            .unwrap();
    let before: Vec<_> = all.iter().filter(|m| m.version < 3).cloned().collect();
    assert_eq!(before.len(), 2, "migrations 0001 and 0002");
    let old = sqlx::migrate::Migrator {
        migrations: before.into(),
        ..sqlx::migrate::Migrator::DEFAULT
    };
    old.run(&pool).await.unwrap();
    for (channel, tool) in [
        (CHANNEL, "echo"),
        (CHANNEL, "web__fetch"),
        (CHANNEL, "__odd"),
        (CHANNEL, "odd__"),
        (ChannelId::new(u64::MAX), "a__b__c"),
    ] {
        sqlx::query(
            "INSERT INTO disabled_tools (channel_id, tool, disabled_by, created_at) \
             VALUES ($1, $2, NULL, 0)",
        )
        .bind(i64::from_ne_bytes(channel.get().to_ne_bytes()))
        .bind(tool)
        .execute(&pool)
        .await
        .unwrap();
    }
    pool.close().await;

    let store = db.connect().await;
    assert_eq!(
        store.disabled_tools(CHANNEL).await.unwrap(),
        [
            off("", "__odd"),
            off("", "echo"),
            off("", "odd__"),
            off("web", "fetch")
        ]
    );
    assert_eq!(
        store
            .disabled_tools(ChannelId::new(u64::MAX))
            .await
            .unwrap(),
        [off("a", "b__c")]
    );
    // An old entry without a server matches the tool on any server, and enabling the tool of
    // one server clears it.
    let old_echo = &store.disabled_tools(CHANNEL).await.unwrap()[1];
    assert!(old_echo.matches("test", "echo") && old_echo.matches("other", "echo"));
    assert!(store.enable_tool(CHANNEL, "test", "echo").await.unwrap());
    assert_eq!(
        store.disabled_tools(CHANNEL).await.unwrap(),
        [off("", "__odd"), off("", "odd__"), off("web", "fetch")]
    );
    store.close().await;
}

async fn users_and_guilds_are_upserted(db: TestDb) {
    let store = db.connect().await;
    assert_eq!(store.user(ALICE).await.unwrap(), None);
    store.upsert_user(ALICE, "alice").await.unwrap();
    let first = store.user(ALICE).await.unwrap().unwrap();
    assert_eq!((first.id, first.name.as_str()), (ALICE, "alice"));
    store.upsert_user(ALICE, "alice").await.unwrap();
    assert_eq!(store.user(ALICE).await.unwrap().unwrap(), first);
    store.upsert_user(ALICE, "Alice Liddell").await.unwrap();
    let renamed = store.user(ALICE).await.unwrap().unwrap();
    assert_eq!(renamed.name, "Alice Liddell");
    assert_eq!(renamed.created_at, first.created_at);

    // A guild configured before it is seen, then seen: the retention stays.
    store
        .set_retention(GUILD, Some(Duration::from_secs(86_400)))
        .await
        .unwrap();
    assert_eq!(store.guild(GUILD).await.unwrap().unwrap().name, None);
    store.upsert_guild(GUILD, "Rustaceans").await.unwrap();
    let guild = store.guild(GUILD).await.unwrap().unwrap();
    assert_eq!(guild.name.as_deref(), Some("Rustaceans"));
    assert_eq!(guild.retention, Some(Duration::from_secs(86_400)));
    assert_eq!(
        store.guild(GuildId::new(GUILD.get() + 1)).await.unwrap(),
        None
    );
    store.close().await;
}

async fn retention_deletes_expired_conversations_of_a_guild(db: TestDb) {
    let store = db.connect().await;
    let short = GUILD;
    let forever = GuildId::new(GUILD.get() + 1);
    store
        .set_retention(short, Some(Duration::from_secs(3600)))
        .await
        .unwrap();
    store
        .set_retention(forever, Some(Duration::from_secs(1)))
        .await
        .unwrap();
    store.set_retention(forever, None).await.unwrap();

    let in_guild = |guild| Scope {
        guild_id: Some(guild),
        channel_id: Some(CHANNEL),
        user_id: Some(ALICE),
    };
    let expiring = store
        .conversation(&key("discord:a"), in_guild(short), None)
        .await
        .unwrap();
    let archived = store
        .conversation(&key("discord:b"), in_guild(short), None)
        .await
        .unwrap();
    store
        .new_conversation(&key("discord:b"), in_guild(short), None)
        .await
        .unwrap();
    let kept = store
        .conversation(&key("discord:c"), in_guild(forever), None)
        .await
        .unwrap();
    let dm = store
        .conversation(
            &key("discord:dm:1"),
            Scope {
                user_id: Some(ALICE),
                ..Scope::default()
            },
            None,
        )
        .await
        .unwrap();
    let answer = {
        store
            .add_user_message(expiring.id, NewMessage::user("hello"))
            .await
            .unwrap();
        store
            .commit_turn(expiring.id, vec![NewMessage::assistant("hi")])
            .await
            .unwrap()[0]
    };
    store
        .set_discord_message_ids(answer, &[PostId::new(5_000)])
        .await
        .unwrap();

    let now = SystemTime::now();
    assert_eq!(
        store.sweep_expired(now).await.unwrap(),
        0,
        "nothing is an hour old yet"
    );
    // Two hours on: the short-lived guild's conversations (live and archived) go, with their
    // messages and Discord ids; the other guild's and the DM stay.
    let later = now + Duration::from_secs(2 * 3600);
    assert_eq!(store.sweep_expired(later).await.unwrap(), 3);
    for gone in [expiring.id, archived.id] {
        assert!(matches!(
            store.get_conversation(gone).await,
            Err(MemoryError::NotFound { .. })
        ));
        assert!(store.history(gone, 10).await.unwrap().is_empty());
    }
    assert!(matches!(
        store.message(answer).await,
        Err(MemoryError::NotFound { .. })
    ));
    assert_eq!(
        store
            .message_by_discord_id(PostId::new(5_000))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.find_conversation(&key("discord:b")).await.unwrap(),
        None
    );
    assert_eq!(store.get_conversation(kept.id).await.unwrap().id, kept.id);
    assert_eq!(store.get_conversation(dm.id).await.unwrap().id, dm.id);
    assert_eq!(store.sweep_expired(later).await.unwrap(), 0);

    // A conversation in use stays: its last update counts, not its start.
    let busy = store
        .conversation(&key("discord:busy"), in_guild(short), None)
        .await
        .unwrap();
    store
        .add_user_message(busy.id, NewMessage::user("still here"))
        .await
        .unwrap();
    assert_eq!(
        store
            .sweep_expired(SystemTime::now() + Duration::from_secs(1800))
            .await
            .unwrap(),
        0
    );
    store.close().await;
}

async fn retention_rules_removed_from_the_configuration_are_removed(db: TestDb) {
    let store = db.connect().await;
    let (kept, dropped, changed, added) = (
        GUILD,
        GuildId::new(GUILD.get() + 1),
        GuildId::new(GUILD.get() + 2),
        GuildId::new(GUILD.get() + 3),
    );
    let day = Duration::from_secs(86_400);
    // Last start's configuration: three guilds with rules, one of them also seen by the bot.
    store.upsert_guild(dropped, "Dropped").await.unwrap();
    let rules = [(kept, day), (dropped, day), (changed, day)]
        .into_iter()
        .collect();
    store.replace_retention(&rules).await.unwrap();
    assert_eq!(
        store.guild(dropped).await.unwrap().unwrap().retention,
        Some(day)
    );

    // This start's configuration: one rule removed, one changed, one added.
    let rules = [(kept, day), (changed, 2 * day), (added, 3 * day)]
        .into_iter()
        .collect();
    store.replace_retention(&rules).await.unwrap();
    let retention = |guild| {
        let store = store.clone();
        async move { store.guild(guild).await.unwrap().unwrap().retention }
    };
    assert_eq!(retention(kept).await, Some(day));
    assert_eq!(
        retention(dropped).await,
        None,
        "removed from the configuration"
    );
    assert_eq!(retention(changed).await, Some(2 * day));
    assert_eq!(retention(added).await, Some(3 * day));
    let seen = store.guild(dropped).await.unwrap().unwrap();
    assert_eq!(
        seen.name.as_deref(),
        Some("Dropped"),
        "the guild itself stays"
    );

    // A conversation of the guild whose rule was removed is kept, however old.
    let in_dropped = store
        .conversation(
            &key("discord:dropped"),
            Scope {
                guild_id: Some(dropped),
                channel_id: Some(CHANNEL),
                user_id: Some(ALICE),
            },
            None,
        )
        .await
        .unwrap();
    let far = SystemTime::now() + 100 * day;
    store.sweep_expired(far).await.unwrap();
    assert!(store.get_conversation(in_dropped.id).await.is_ok());

    // An empty configuration leaves no rule at all.
    store.replace_retention(&Default::default()).await.unwrap();
    for guild in [kept, dropped, changed, added] {
        assert_eq!(retention(guild).await, None);
    }
    store.close().await;
}

async fn retention_outside_guilds_sweeps_dms_and_the_terminal(db: TestDb) {
    let store = db.connect().await;
    let hour = Duration::from_secs(3600);
    let dm = store
        .conversation(
            &key("discord:dm:1"),
            Scope {
                user_id: Some(ALICE),
                ..Scope::default()
            },
            None,
        )
        .await
        .unwrap();
    let terminal = store
        .conversation(&key("terminal:alice"), Scope::default(), None)
        .await
        .unwrap();
    let in_guild = store
        .conversation(&key("discord:g"), scope(), None)
        .await
        .unwrap();
    store
        .add_user_message(dm.id, NewMessage::user("hello"))
        .await
        .unwrap();
    let later = SystemTime::now() + 2 * hour;

    // Unset (the default): kept forever.
    assert_eq!(store.retention_outside_guilds(), None);
    assert_eq!(store.sweep_expired(later).await.unwrap(), 0);

    // Set: clones share it, and the sweep takes DMs and terminal conversations, not a guild's
    // conversation (its guild has no rule).
    store.clone().set_retention_outside_guilds(Some(hour));
    assert_eq!(store.retention_outside_guilds(), Some(hour));
    assert_eq!(
        store.sweep_expired(SystemTime::now()).await.unwrap(),
        0,
        "nothing is an hour old yet"
    );
    assert_eq!(store.sweep_expired(later).await.unwrap(), 2);
    for gone in [dm.id, terminal.id] {
        assert!(matches!(
            store.get_conversation(gone).await,
            Err(MemoryError::NotFound { .. })
        ));
    }
    assert!(store.history(dm.id, 10).await.unwrap().is_empty());
    assert!(store.get_conversation(in_guild.id).await.is_ok());

    // The sweeper applies it too.
    let doomed = store
        .conversation(&key("discord:dm:2"), Scope::default(), None)
        .await
        .unwrap();
    store.set_retention_outside_guilds(Some(Duration::ZERO));
    let cancel = CancellationToken::new();
    let sweeper = store.spawn_sweeper(Duration::from_millis(20), cancel.clone());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while store.get_conversation(doomed.id).await.is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the sweeper never deleted it"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cancel.cancel();
    sweeper.await.unwrap();
    assert!(store.get_conversation(in_guild.id).await.is_ok());
    store.close().await;
}

async fn the_sweeper_runs_until_cancelled(db: TestDb) {
    let store = db.connect().await;
    store
        .set_retention(GUILD, Some(Duration::ZERO))
        .await
        .unwrap();
    let cancel = CancellationToken::new();
    let sweeper = store.spawn_sweeper(Duration::from_millis(20), cancel.clone());

    let doomed = store
        .conversation(&key("discord:doomed"), scope(), None)
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while store.get_conversation(doomed.id).await.is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the sweeper never deleted it"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(5), sweeper)
        .await
        .expect("the sweeper stops when cancelled")
        .expect("the sweeper did not panic");
    store.close().await;
}

/// Many writers at once, through two stores (two processes' worth of pools) on one database:
/// SQLite's WAL and busy timeout make them wait their turn instead of failing.
async fn concurrent_writers_do_not_fail(db: TestDb) {
    const WRITERS: usize = 8;
    const TURNS: usize = 25;
    let stores = [db.connect().await, db.connect().await];
    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let store = stores[writer % 2].clone();
        tasks.push(tokio::spawn(async move {
            let key = key(&format!("writer:{}", writer % 4));
            for turn in 0..TURNS {
                let conversation = store.conversation(&key, Scope::default(), None).await?;
                store
                    .add_user_message(
                        conversation.id,
                        NewMessage::user(format!("{writer}/{turn}")),
                    )
                    .await?;
                store
                    .commit_turn(
                        conversation.id,
                        vec![
                            NewMessage::tool_result("t", "r"),
                            NewMessage::assistant(format!("{writer}/{turn}")),
                        ],
                    )
                    .await?;
                store.history(conversation.id, 5).await?;
            }
            Ok::<_, MemoryError>(())
        }));
    }
    for task in tasks {
        if let Err(error) = task.await.unwrap() {
            panic!("a concurrent writer failed: {}", chain(&error));
        }
    }
    let mut total = 0;
    for n in 0..4 {
        let conversation = stores[0]
            .find_conversation(&key(&format!("writer:{n}")))
            .await
            .unwrap()
            .unwrap();
        total += stores[1]
            .history(conversation.id, 10_000)
            .await
            .unwrap()
            .len();
    }
    assert_eq!(total, WRITERS * TURNS * 3);
    for store in stores {
        store.close().await;
    }
}

#[tokio::test]
async fn unknown_databases_are_refused_with_the_forms_that_work() {
    let error = Store::connect("mysql://root:secret@localhost/mcpcord")
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, MemoryError::InvalidUrl { .. }), "{text}");
    assert!(
        text.contains("sqlite://FILE") && text.contains("postgres://"),
        "{text}"
    );
    assert!(!text.contains("secret"), "the password leaked: {text}");
}

#[tokio::test]
async fn a_sqlite_file_that_cannot_be_created_says_what_to_check() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/no/such/folder/db.sqlite", dir.path().display());
    let error = Store::connect(&url).await.unwrap_err();
    let text = error.to_string();
    assert!(
        matches!(error, MemoryError::Connect { .. }),
        "{}",
        chain(&error)
    );
    assert!(
        text.contains("no/such/folder") && text.contains("folder exists"),
        "{text}"
    );
}

#[tokio::test]
async fn a_missing_postgres_database_is_reported_without_the_password() {
    // The server is real; the database is not. The password must not be printed.
    let server = url::Url::parse(&common::postgres_url()).expect("TEST_DATABASE_URL is a URL");
    let mut url = server.clone();
    url.set_path("/mcpcord_no_such_database");
    url.set_password(Some("hunter2")).unwrap();
    let error = Store::connect(url.as_str()).await.unwrap_err();
    let text = chain(&error);
    assert!(matches!(error, MemoryError::Connect { .. }), "{text}");
    assert!(
        text.contains("mcpcord_no_such_database") && text.contains("PostgreSQL is running"),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "the password leaked: {text}");
}

#[tokio::test]
async fn an_in_memory_sqlite_database_lives_as_long_as_the_store() {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    let conversation = store
        .conversation(&key("cli:default"), Scope::default(), None)
        .await
        .unwrap();
    store
        .add_user_message(conversation.id, NewMessage::user("hi"))
        .await
        .unwrap();
    store
        .commit_turn(conversation.id, vec![NewMessage::assistant("hello")])
        .await
        .unwrap();
    assert_eq!(store.history(conversation.id, 10).await.unwrap().len(), 2);
    store.close().await;
}
