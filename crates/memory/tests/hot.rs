//! What SQLite keeps in memory (preferences, disabled tools, live conversations) follows every
//! change made through the store; on PostgreSQL nothing is kept, so a change through one store
//! (another process) is seen by another at once.

#[macro_use]
mod common;

use std::time::{Duration, SystemTime};

use common::{Kind, TestDb};
use futures::future::join_all;
use mcpcord_memory::{
    ChannelId, ConversationKey, DisabledTool, GuildId, NewMessage, PreferenceLevel, Role, Scope,
    Store, UserId,
};

on_both!(
    preference_changes_are_seen_by_the_next_read,
    disabled_tool_changes_are_seen_by_the_next_read,
    conversation_changes_are_seen_by_the_next_turn,
    a_conversation_and_its_first_message_are_written_together,
);

const GUILD: GuildId = GuildId::new(1_200_000_000_000_000_001);
const CHANNEL: ChannelId = ChannelId::new(1_200_000_000_000_000_002);
const ALICE: UserId = UserId::new(1_200_000_000_000_000_003);

fn scope() -> Scope {
    Scope {
        guild_id: Some(GUILD),
        channel_id: Some(CHANNEL),
        user_id: Some(ALICE),
    }
}

async fn preference_changes_are_seen_by_the_next_read(db: TestDb) {
    let store = db.connect().await;
    // Read first, so SQLite's copy is loaded before the changes.
    assert_eq!(
        store.get_preferences(&scope()).await.unwrap().user.model,
        None
    );
    store
        .set_preferred_model(PreferenceLevel::User(ALICE), Some("qwen3"))
        .await
        .unwrap();
    store
        .set_system_prompt(PreferenceLevel::Channel(CHANNEL), "Be brief.")
        .await
        .unwrap();
    store
        .set_recall(PreferenceLevel::Guild(GUILD), Some(false))
        .await
        .unwrap();
    let seen = store.get_preferences(&scope()).await.unwrap();
    assert_eq!(seen.user.model.as_deref(), Some("qwen3"));
    assert_eq!(seen.channel.system_prompt.as_deref(), Some("Be brief."));
    assert_eq!(seen.guild.recall, Some(false));

    store
        .set_preferred_model(PreferenceLevel::User(ALICE), None)
        .await
        .unwrap();
    store
        .clear_system_prompt(PreferenceLevel::Channel(CHANNEL))
        .await
        .unwrap();
    let seen = store.get_preferences(&scope()).await.unwrap();
    assert_eq!(seen.user.model, None);
    assert_eq!(seen.channel.system_prompt, None);
    assert_eq!(seen.guild.recall, Some(false));
    // Another scope is not confused with this one.
    let other = Scope {
        user_id: Some(UserId::new(ALICE.get() + 10)),
        ..scope()
    };
    assert_eq!(
        store.get_preferences(&other).await.unwrap().guild.recall,
        Some(false)
    );
    assert_eq!(
        store.get_preferences(&other).await.unwrap().user.model,
        None
    );
    if db.kind == Kind::Postgres {
        seen_by_another_store(&db, &store).await;
    }
    store.close().await;
}

/// PostgreSQL: a change through one store (another process) is seen by a second at once.
async fn seen_by_another_store(db: &TestDb, first: &Store) {
    let second = db.connect().await;
    assert_eq!(
        second.get_preferences(&scope()).await.unwrap().user.model,
        None
    );
    first
        .set_preferred_model(PreferenceLevel::User(ALICE), Some("mistral"))
        .await
        .unwrap();
    first
        .disable_tool(CHANNEL, "srv", "echo", None)
        .await
        .unwrap();
    assert_eq!(
        second
            .get_preferences(&scope())
            .await
            .unwrap()
            .user
            .model
            .as_deref(),
        Some("mistral")
    );
    assert_eq!(second.disabled_tools(CHANNEL).await.unwrap().len(), 1);
    let key = ConversationKey::new("discord:shared");
    let c = second.conversation(&key, scope(), None).await.unwrap();
    first.set_model(c.id, Some("phi4")).await.unwrap();
    let again = second.conversation(&key, scope(), None).await.unwrap();
    assert_eq!(again.model.as_deref(), Some("phi4"));
    second.close().await;
}

async fn disabled_tool_changes_are_seen_by_the_next_read(db: TestDb) {
    let store = db.connect().await;
    assert!(store.disabled_tools(CHANNEL).await.unwrap().is_empty());
    store
        .disable_tool(CHANNEL, "b", "two", Some(ALICE))
        .await
        .unwrap();
    store
        .disable_tool(CHANNEL, "a", "one", Some(ALICE))
        .await
        .unwrap();
    store
        .disable_tool(ChannelId::new(CHANNEL.get() + 1), "a", "one", None)
        .await
        .unwrap();
    let off = store.disabled_tools(CHANNEL).await.unwrap();
    let names: Vec<(&str, &str)> = off
        .iter()
        .map(|t: &DisabledTool| (t.server.as_str(), t.tool.as_str()))
        .collect();
    assert_eq!(
        names,
        [("a", "one"), ("b", "two")],
        "sorted, this channel's only"
    );
    assert!(store.enable_tool(CHANNEL, "a", "one").await.unwrap());
    let off = store.disabled_tools(CHANNEL).await.unwrap();
    assert_eq!(off.len(), 1);
    assert_eq!(off[0].tool, "two");
    assert_eq!(
        store
            .disabled_tools(ChannelId::new(CHANNEL.get() + 1))
            .await
            .unwrap()
            .len(),
        1
    );
    store.close().await;
}

async fn conversation_changes_are_seen_by_the_next_turn(db: TestDb) {
    let store = db.connect().await;
    let key = ConversationKey::new("discord:thread:1");
    let first = store
        .conversation(&key, scope(), Some(ALICE))
        .await
        .unwrap();
    assert_eq!(
        store.conversation(&key, scope(), None).await.unwrap(),
        first
    );

    store.set_model(first.id, Some("qwen3")).await.unwrap();
    store.set_title(first.id, "Volvos").await.unwrap();
    let changed = store.conversation(&key, scope(), None).await.unwrap();
    assert_eq!(changed.id, first.id);
    assert_eq!(changed.model.as_deref(), Some("qwen3"));
    assert_eq!(changed.title.as_deref(), Some("Volvos"));

    // `/new`: the next turn gets the new conversation, not the archived one.
    let fresh = store.new_conversation(&key, scope(), None).await.unwrap();
    assert_ne!(fresh.id, first.id);
    let next = store
        .conversation_with_message(&key, scope(), None, NewMessage::user("hello again"))
        .await
        .unwrap();
    assert_eq!(next.conversation.id, fresh.id);
    assert!(!next.created);
    let history = store.history(fresh.id, 10).await.unwrap();
    assert_eq!(history, [next.message]);
    assert_eq!(store.history(first.id, 10).await.unwrap().len(), 0);

    // Retention deleted it: the next turn starts a new one instead of writing to a ghost.
    store.set_retention_outside_guilds(Some(Duration::from_secs(60)));
    let dm = ConversationKey::new("discord:dm:9");
    let dm_scope = Scope {
        guild_id: None,
        channel_id: Some(ChannelId::new(9)),
        user_id: Some(ALICE),
    };
    let old = store.conversation(&dm, dm_scope, None).await.unwrap();
    let later = SystemTime::now() + Duration::from_secs(3600);
    assert!(store.sweep_expired(later).await.unwrap() >= 1);
    let after = store
        .conversation_with_message(&dm, dm_scope, None, NewMessage::user("still there?"))
        .await
        .unwrap();
    assert_ne!(after.conversation.id, old.id);
    // Created with the message on SQLite; on PostgreSQL found or created first.
    assert_eq!(after.created, db.kind == Kind::Sqlite);
    // What the store says it wrote is what the history reads back.
    assert_eq!(
        store.history(after.conversation.id, 10).await.unwrap(),
        [after.message]
    );

    // A second store on the database reads what the first wrote.
    store.close().await;
    let reopened = db.connect().await;
    let seen = reopened.conversation(&key, scope(), None).await.unwrap();
    assert_eq!(seen.id, fresh.id);
    reopened.close().await;
}

async fn a_conversation_and_its_first_message_are_written_together(db: TestDb) {
    let store = db.connect().await;
    // Many turns at once, several on the same new key: one conversation per key, every
    // message stored in its conversation.
    let writes = (0..40).map(|n| {
        let store = store.clone();
        async move {
            let key = ConversationKey::new(format!("discord:reply:{}", n % 10));
            let message = NewMessage::user(format!("m{n}")).with_author(ALICE, "alice");
            let started = store
                .conversation_with_message(&key, scope(), Some(ALICE), message)
                .await
                .unwrap();
            (n % 10, started.conversation.id, started.message.id)
        }
    });
    let written = join_all(writes).await;
    for key in 0..10 {
        let ids: std::collections::BTreeSet<_> = written
            .iter()
            .filter(|(k, _, _)| *k == key)
            .map(|(_, conversation, _)| *conversation)
            .collect();
        assert_eq!(ids.len(), 1, "key {key}: one conversation");
        let conversation = *ids.first().unwrap();
        let history = store.history(conversation, 10).await.unwrap();
        assert_eq!(history.len(), 4, "key {key}");
        assert!(
            history
                .iter()
                .all(|m| m.role == Role::User
                    && m.author.as_ref().is_some_and(|a| a.name == "alice"))
        );
        let found = store
            .find_conversation(&ConversationKey::new(format!("discord:reply:{key}")))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.id, conversation);
        assert_eq!(found.owner, Some(ALICE));
    }
    store.close().await;
}

/// Several processes on one SQLite file (each running part of the shards) keep nothing in
/// memory once told so: a change through one store is seen by the other at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_sqlite_file_keeps_nothing_in_memory() {
    let db = TestDb::new(Kind::Sqlite).await;
    let (first, second) = (db.connect().await, db.connect().await);
    first.set_shared(true);
    second.set_shared(true);
    let key = ConversationKey::new("discord:thread:7");
    let conversation = second.conversation(&key, scope(), None).await.unwrap();
    assert_eq!(
        second.get_preferences(&scope()).await.unwrap().user.model,
        None
    );
    assert!(second.disabled_tools(CHANNEL).await.unwrap().is_empty());

    first
        .set_preferred_model(PreferenceLevel::User(ALICE), Some("qwen3"))
        .await
        .unwrap();
    first
        .disable_tool(CHANNEL, "srv", "echo", None)
        .await
        .unwrap();
    first
        .set_model(conversation.id, Some("phi4"))
        .await
        .unwrap();
    assert_eq!(
        second
            .get_preferences(&scope())
            .await
            .unwrap()
            .user
            .model
            .as_deref(),
        Some("qwen3")
    );
    assert_eq!(second.disabled_tools(CHANNEL).await.unwrap().len(), 1);
    let seen = second
        .conversation_with_message(&key, scope(), None, NewMessage::user("hi"))
        .await
        .unwrap();
    assert_eq!(seen.conversation.model.as_deref(), Some("phi4"));
    first.close().await;
    second.close().await;
}
