//! People's data rights against both databases: a person's export holds exactly their data
//! (their messages, the answers to them, their preferences, profile and tool switches) and
//! nobody else's; forgetting them leaves no trace in any table that holds a user id or their
//! text (messages, embeddings, keyword index, preferences, conversations, users, tool switches,
//! Discord post ids), keeps the other person's data whole, marks the answers they got in shared
//! conversations, and leaves nothing of theirs in what SQLite keeps in memory. And retention:
//! the default plus the guild rules leave no conversation kept forever.

#[macro_use]
mod common;

use common::{Kind, TestDb};
use mcpcord_memory::{
    ChannelId, ConversationId, ConversationKey, GuildId, MessageId, NewMessage, PersonalData,
    PostId, PreferenceLevel, REMOVED_NOTE, Role, Scope, SearchQuery, SearchScope, Store, UserId,
};

on_both!(
    the_export_holds_exactly_that_persons_data,
    forgetting_leaves_no_trace_and_keeps_the_others_data,
    forgetting_someone_unknown_changes_nothing,
    the_default_retention_covers_every_conversation,
);

const GUILD: GuildId = GuildId::new(1_300_000_000_000_000_001);
const CHANNEL: ChannelId = ChannelId::new(1_300_000_000_000_000_002);
const ALICE: UserId = UserId::new(1_300_000_000_000_000_003);
const BOB: UserId = UserId::new(1_300_000_000_000_000_004);
const ALICE_DM: ChannelId = ChannelId::new(1_300_000_000_000_000_005);
const BOB_DM: ChannelId = ChannelId::new(1_300_000_000_000_000_006);
const MODEL: &str = "embed-test";

/// Words only Alice wrote, and words only Bob wrote (or was answered with).
const ALICE_WORDS: [&str; 3] = ["quokkaxylophone", "flamingotuba", "alicesecret"];
const BOB_WORDS: [&str; 3] = ["pelicanbanjo", "answerforbob", "bobalone"];

fn in_channel(user: UserId) -> Scope {
    Scope {
        guild_id: Some(GUILD),
        channel_id: Some(CHANNEL),
        user_id: Some(user),
    }
}

fn dm(user: UserId, channel: ChannelId) -> Scope {
    Scope {
        guild_id: None,
        channel_id: Some(channel),
        user_id: Some(user),
    }
}

/// The seeded world's ids.
struct World {
    shared: ConversationId,
    alice_dm: ConversationId,
    bob_dm: ConversationId,
    alice_message: MessageId,
    answer_to_alice: MessageId,
}

/// Alice starts a channel conversation that Bob joins; each has a DM of their own; both have
/// preferences, a profile, a tool switch; every message has a vector; posts are recorded.
async fn seed(store: &Store) -> World {
    store.upsert_user(ALICE, "alice").await.unwrap();
    store.upsert_user(BOB, "bob").await.unwrap();
    // Token budgets: a day of Alice's (and the guild's), a day of Bob's.
    let day = mcpcord_memory::UtcDay(20_000);
    store
        .add_usage(day, Some(ALICE), Some(GUILD), 120)
        .await
        .unwrap();
    store.add_usage(day, Some(BOB), None, 80).await.unwrap();
    // The audit log: a refusal of Alice's, and one of Bob's.
    let refusal = |who| mcpcord_memory::AuditEntry::refusal(Some(who), Some(GUILD), "rate");
    store.append_audit(&refusal(ALICE)).await.unwrap();
    store.append_audit(&refusal(BOB)).await.unwrap();
    let shared = store
        .conversation(&"k:shared".into(), in_channel(ALICE), Some(ALICE))
        .await
        .unwrap()
        .id;
    let alice_message = say(store, shared, ALICE, "alice asks quokkaxylophone").await;
    let answer_to_alice = store
        .commit_turn(
            shared,
            vec![
                NewMessage::assistant("").with_tool_calls(serde_json::json!([{"name": "echo"}])),
                NewMessage::tool_result("echo", "echoed for her"),
                NewMessage::assistant("here you are alice").with_model("m"),
            ],
        )
        .await
        .unwrap()[2];
    say(store, shared, BOB, "bob says pelicanbanjo").await;
    answer(store, shared, "answerforbob indeed").await;

    let alice_dm = common::talk(
        store,
        "k:alice-dm",
        dm(ALICE, ALICE_DM),
        ALICE,
        "flamingotuba alicesecret",
        &["private answer"],
    )
    .await;
    let bob_dm = common::talk(
        store,
        "k:bob-dm",
        dm(BOB, BOB_DM),
        BOB,
        "bobalone here",
        &["bob's private answer"],
    )
    .await;

    let alice = PreferenceLevel::User(ALICE);
    store
        .set_preferred_model(alice, Some("alice-model"))
        .await
        .unwrap();
    store
        .set_system_prompt(alice, "talk like alicesecret")
        .await
        .unwrap();
    store.set_recall(alice, Some(false)).await.unwrap();
    let bob = PreferenceLevel::User(BOB);
    store
        .set_preferred_model(bob, Some("bob-model"))
        .await
        .unwrap();
    store
        .set_preferred_model(PreferenceLevel::Channel(CHANNEL), Some("channel-model"))
        .await
        .unwrap();
    store
        .disable_tool(CHANNEL, "srv", "alice-tool", Some(ALICE))
        .await
        .unwrap();
    store
        .disable_tool(CHANNEL, "srv", "bob-tool", Some(BOB))
        .await
        .unwrap();
    store
        .set_discord_message_ids(alice_message, &[PostId::new(900)])
        .await
        .unwrap();
    store
        .set_discord_message_ids(answer_to_alice, &[PostId::new(901)])
        .await
        .unwrap();
    embed_everything(store).await;
    World {
        shared,
        alice_dm,
        bob_dm,
        alice_message,
        answer_to_alice,
    }
}

async fn say(store: &Store, conversation: ConversationId, who: UserId, text: &str) -> MessageId {
    let name = if who == ALICE { "alice" } else { "bob" };
    store
        .add_user_message(conversation, NewMessage::user(text).with_author(who, name))
        .await
        .unwrap()
}

async fn answer(store: &Store, conversation: ConversationId, text: &str) -> MessageId {
    store
        .commit_turn(conversation, vec![NewMessage::assistant(text)])
        .await
        .unwrap()[0]
}

async fn embed_everything(store: &Store) {
    let pending = store
        .pending_embeddings(MODEL, MessageId(0), 1000)
        .await
        .unwrap();
    assert!(!pending.is_empty());
    let vectors: Vec<(MessageId, Vec<f32>)> = pending
        .iter()
        .map(|m| (m.id, vec![1.0, (m.id.0 % 7) as f32, -0.5]))
        .collect();
    let stored = store.save_embeddings(MODEL, &vectors).await.unwrap();
    assert_eq!(stored.len(), vectors.len());
}

/// A pool on the test database beside the store, for reading tables directly.
async fn raw_pool(db: &TestDb) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    let url = match db.kind {
        Kind::Sqlite => format!("{}?mode=rw", db.url()),
        Kind::Postgres => db.url().to_owned(),
    };
    sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap()
}

async fn count(pool: &sqlx::AnyPool, sql: &str, bind: i64) -> i64 {
    sqlx::query_scalar(sql)
        .bind(bind)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn count_text(pool: &sqlx::AnyPool, sql: &str, bind: &str) -> i64 {
    sqlx::query_scalar(sql)
        .bind(bind)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Every place the person's id or one of their `words` is found, one line each: every table
/// that holds a user id or a person's text, and the keyword index.
async fn traces(pool: &sqlx::AnyPool, kind: Kind, user: UserId, words: &[&str]) -> Vec<String> {
    let id = user.get() as i64;
    let mut found = Vec::new();
    for sql in [
        "SELECT COUNT(*) FROM users WHERE id = $1",
        "SELECT COUNT(*) FROM conversations WHERE owner_id = $1 OR user_id = $1",
        "SELECT COUNT(*) FROM messages WHERE author_id = $1",
        "SELECT COUNT(*) FROM preferences WHERE level = 'user' AND target_id = $1",
        "SELECT COUNT(*) FROM disabled_tools WHERE disabled_by = $1",
        "SELECT COUNT(*) FROM token_usage WHERE subject = 'user' AND subject_id = $1",
        "SELECT COUNT(*) FROM message_embeddings e JOIN messages m ON m.id = e.message_id \
         WHERE m.author_id = $1",
        "SELECT COUNT(*) FROM message_discord_ids d JOIN messages m ON m.id = d.message_id \
         WHERE m.author_id = $1",
    ] {
        if count(pool, sql, id).await > 0 {
            found.push(sql.to_owned());
        }
    }
    for word in words {
        let like = format!("%{word}%");
        for sql in [
            "SELECT COUNT(*) FROM messages WHERE content LIKE $1 OR author_name LIKE $1 \
             OR attachments LIKE $1 OR tool_calls LIKE $1",
            "SELECT COUNT(*) FROM preferences WHERE system_prompt LIKE $1 OR model LIKE $1",
            "SELECT COUNT(*) FROM users WHERE name LIKE $1",
        ] {
            if count_text(pool, sql, &like).await > 0 {
                found.push(format!("{sql} [{word}]"));
            }
        }
        let index = match kind {
            Kind::Sqlite => vec![
                "SELECT COUNT(*) FROM messages_fts WHERE messages_fts MATCH $1",
                // The index's own storage, not only what a query finds.
                "SELECT COUNT(*) FROM messages_fts_data WHERE instr(block, CAST($1 AS BLOB)) > 0",
            ],
            Kind::Postgres => {
                vec!["SELECT COUNT(*) FROM messages WHERE search @@ to_tsquery('simple', $1)"]
            }
        };
        for sql in index {
            if count_text(pool, sql, word).await > 0 {
                found.push(format!("{sql} [{word}]"));
            }
        }
    }
    found
}

fn text_of(data: &PersonalData) -> String {
    serde_json::to_string(data).unwrap()
}

async fn the_export_holds_exactly_that_persons_data(db: TestDb) {
    let store = db.connect().await;
    let world = seed(&store).await;
    let data = store.personal_data(ALICE).await.unwrap();

    assert_eq!(data.user, ALICE);
    assert_eq!(data.profile.as_ref().unwrap().name, "alice");
    let ids: Vec<ConversationId> = data.conversations.iter().map(|c| c.id).collect();
    assert_eq!(ids, [world.shared, world.alice_dm]);
    let shared = &data.conversations[0];
    assert!(shared.shared && shared.started_by_you);
    let contents: Vec<&str> = shared.messages.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(
        contents,
        [
            "alice asks quokkaxylophone",
            "",
            "echoed for her",
            "here you are alice"
        ]
    );
    assert!(shared.messages[0].yours && !shared.messages[3].yours);
    assert_eq!(shared.messages[3].id, world.answer_to_alice);
    let private = &data.conversations[1];
    assert!(!private.shared);
    assert_eq!(private.messages.len(), 2);
    let preferences = data.preferences.as_ref().unwrap();
    assert_eq!(preferences.model.as_deref(), Some("alice-model"));
    assert_eq!(
        preferences.system_prompt.as_deref(),
        Some("talk like alicesecret")
    );
    assert_eq!(preferences.recall, Some(false));
    assert_eq!(data.tool_switches.len(), 1);
    assert_eq!(data.tool_switches[0].tool, "alice-tool");
    // Her day of tokens (not the guild's, not Bob's); 20,000 days after 1970-01-01.
    assert_eq!(
        data.token_usage,
        vec![mcpcord_memory::UsageData {
            day: "2024-10-04".into(),
            tokens: 120
        }]
    );
    assert_eq!(data.audit.len(), 1, "{:?}", data.audit);
    assert_eq!(data.audit[0]["actor_id"], ALICE.get().to_string());

    // Nothing of Bob's: not his words, his answers, his name, his id, his choices.
    let json = text_of(&data);
    for word in ALICE_WORDS {
        assert!(json.contains(word), "{word} missing from {json}");
    }
    for foreign in BOB_WORDS
        .iter()
        .copied()
        .chain(["bob-model", "bob-tool", "channel-model", "\"bob\""])
        .chain([BOB.to_string().as_str()])
    {
        assert!(
            !json.contains(foreign),
            "{foreign} in Alice's export: {json}"
        );
    }

    // And Bob's export is his: his DM, and the shared conversation with only his part.
    let bob = store.personal_data(BOB).await.unwrap();
    let ids: Vec<ConversationId> = bob.conversations.iter().map(|c| c.id).collect();
    assert_eq!(ids, [world.shared, world.bob_dm]);
    let json = text_of(&bob);
    for word in ALICE_WORDS {
        assert!(!json.contains(word), "{word} in Bob's export");
    }
    assert!(!json.contains("here you are alice") && json.contains("answerforbob"));
    store.close().await;
}

async fn forgetting_leaves_no_trace_and_keeps_the_others_data(db: TestDb) {
    let store = db.connect().await;
    let world = seed(&store).await;
    let pool = raw_pool(&db).await;
    // What SQLite keeps in memory is loaded: preferences, tool switches, conversations.
    let alice_place = in_channel(ALICE);
    let before = store.get_preferences(&alice_place).await.unwrap();
    assert_eq!(before.user.model.as_deref(), Some("alice-model"));
    assert_eq!(store.disabled_tools(CHANNEL).await.unwrap().len(), 2);
    let dm_key = ConversationKey::new("k:alice-dm");
    let kept = store
        .conversation(&dm_key, dm(ALICE, ALICE_DM), Some(ALICE))
        .await
        .unwrap();
    assert_eq!(kept.id, world.alice_dm);
    let bob_before = store.personal_data(BOB).await.unwrap();

    // The checks find her before: they look in the right places.
    let found = traces(&pool, db.kind, ALICE, &ALICE_WORDS).await;
    assert!(
        found.len() >= 12,
        "too few traces before forgetting: {found:#?}"
    );

    let report = store.forget_person(ALICE).await.unwrap();
    assert_eq!(report.conversations_deleted, 1, "{report:?}");
    assert_eq!(report.messages_deleted, 2, "{report:?}");
    assert_eq!(report.messages_replaced_by_note, 1, "{report:?}");
    assert_eq!(report.embeddings_deleted, 3, "{report:?}");
    assert_eq!(report.preferences_deleted, 1);
    assert_eq!(report.tool_switches_cleared, 1);
    assert_eq!(report.usage_days_deleted, 1);
    assert_eq!(report.conversations_unlinked, 1);
    assert!(report.profile_deleted && !report.is_empty());
    assert_eq!(report.messages.len(), 3);
    assert!(report.messages.contains(&world.alice_message));

    let found = traces(&pool, db.kind, ALICE, &ALICE_WORDS).await;
    assert!(found.is_empty(), "traces of Alice left: {found:#?}");
    // The Discord id of her message, in the table itself (not only through the store).
    let posts = "SELECT COUNT(*) FROM message_discord_ids WHERE discord_message_id = $1";
    assert_eq!(
        count(&pool, posts, 900).await,
        0,
        "her message's Discord id"
    );
    assert_eq!(count(&pool, posts, 901).await, 1, "the answer's stays");
    assert!(
        store
            .discord_message_ids(world.alice_message)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.get_conversation(world.alice_dm).await.is_err());
    let hits = store
        .keyword_search(&SearchQuery::new(
            "quokkaxylophone",
            SearchScope::operator(None),
        ))
        .await
        .unwrap();
    assert!(hits.is_empty(), "{hits:?}");

    // The shared conversation: her question is a note, the answers she got stay.
    let history = store.history(world.shared, 50).await.unwrap();
    let shape: Vec<(Role, &str)> = history
        .iter()
        .map(|m| (m.role, m.content.as_str()))
        .collect();
    assert_eq!(
        shape,
        [
            (Role::System, REMOVED_NOTE),
            (Role::Assistant, ""),
            (Role::Tool, "echoed for her"),
            (Role::Assistant, "here you are alice"),
            (Role::User, "bob says pelicanbanjo"),
            (Role::Assistant, "answerforbob indeed"),
        ]
    );
    assert!(history[0].author.is_none());
    assert_eq!(
        store
            .discord_message_ids(world.answer_to_alice)
            .await
            .unwrap(),
        [PostId::new(901)]
    );
    let shared = store.get_conversation(world.shared).await.unwrap();
    assert_eq!((shared.owner, shared.scope.user_id), (None, None));

    // Bob is whole: his export, his search hits, his vectors, his choices.
    let bob_after = store.personal_data(BOB).await.unwrap();
    let messages = |d: &PersonalData| {
        d.conversations
            .iter()
            .map(|c| (c.id, c.messages.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(messages(&bob_after), messages(&bob_before));
    assert_eq!(bob_after.preferences, bob_before.preferences);
    assert_eq!(bob_after.tool_switches, bob_before.tool_switches);
    assert_eq!(bob_after.profile, bob_before.profile);
    for word in BOB_WORDS {
        let hits = store
            .keyword_search(&SearchQuery::new(word, SearchScope::operator(None)))
            .await
            .unwrap();
        assert_eq!(hits.len(), 1, "{word}");
    }
    let bob_vectors = count(
        &pool,
        "SELECT COUNT(*) FROM message_embeddings e JOIN messages m ON m.id = e.message_id \
         WHERE m.conversation_id = $1",
        world.bob_dm.0,
    )
    .await;
    assert_eq!(bob_vectors, 2);
    // The channel's own choice and Alice's tool switch stay; only her name left them.
    let tools = store.disabled_tools(CHANNEL).await.unwrap();
    assert_eq!(tools.len(), 2);

    // Nothing of hers comes back from memory.
    let after = store.get_preferences(&alice_place).await.unwrap();
    assert_eq!(after.user, Default::default());
    assert_eq!(after.channel.model.as_deref(), Some("channel-model"));
    let fresh = store
        .conversation(&dm_key, dm(ALICE, ALICE_DM), Some(ALICE))
        .await
        .unwrap();
    assert_ne!(fresh.id, world.alice_dm);
    assert!(store.history(fresh.id, 10).await.unwrap().is_empty());

    // Her export is now empty but for the conversation just started.
    let empty = store.personal_data(ALICE).await.unwrap();
    assert!(empty.profile.is_none() && empty.preferences.is_none());
    assert!(empty.tool_switches.is_empty());
    assert!(empty.token_usage.is_empty());
    assert_eq!(empty.conversations.len(), 1);
    assert!(empty.conversations[0].messages.is_empty());
    pool.close().await;
    store.close().await;
}

async fn forgetting_someone_unknown_changes_nothing(db: TestDb) {
    let store = db.connect().await;
    seed(&store).await;
    let before = store.search_stats().await.unwrap();
    let report = store.forget_person(UserId::new(42)).await.unwrap();
    assert!(report.is_empty(), "{report:?}");
    assert!(report.messages.is_empty());
    assert_eq!(store.search_stats().await.unwrap(), before);
    assert!(store.personal_data(BOB).await.unwrap().profile.is_some());
    store.close().await;
}

async fn the_default_retention_covers_every_conversation(db: TestDb) {
    use std::collections::BTreeMap;
    use std::time::{Duration, SystemTime};
    const DAY: Duration = Duration::from_secs(86_400);
    let store = db.connect().await;
    let ruled = GuildId::new(11);
    let unruled = GuildId::new(12);
    let never_seen = GuildId::new(13);
    store.upsert_guild(unruled, "no rule").await.unwrap();
    store
        .replace_retention(&BTreeMap::from([(ruled, DAY)]))
        .await
        .unwrap();
    let place = |guild: Option<GuildId>| Scope {
        guild_id: guild,
        channel_id: Some(CHANNEL),
        user_id: Some(ALICE),
    };
    for (key, guild) in [
        ("ruled", Some(ruled)),
        ("unruled", Some(unruled)),
        ("never-seen", Some(never_seen)),
        ("dm", None),
    ] {
        common::talk(&store, key, place(guild), ALICE, "hello", &["hi"]).await;
    }
    let now = SystemTime::now();
    // Without a default, only the guild with a rule loses its conversation.
    assert_eq!(store.sweep_expired(now + 3 * DAY).await.unwrap(), 1);
    // With one, every other conversation has a limit too: DMs and guilds without a rule.
    store.set_retention_outside_guilds(Some(2 * DAY));
    store.set_retention_other_guilds(Some(2 * DAY));
    assert_eq!(store.retention_other_guilds(), Some(2 * DAY));
    assert_eq!(store.sweep_expired(now + DAY).await.unwrap(), 0);
    assert_eq!(store.sweep_expired(now + 3 * DAY).await.unwrap(), 3);
    for key in ["ruled", "unruled", "never-seen", "dm"] {
        assert!(
            store
                .find_conversation(&key.into())
                .await
                .unwrap()
                .is_none(),
            "{key}"
        );
    }
    store.close().await;
}
