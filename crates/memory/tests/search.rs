//! Search against both databases: keyword hits, recency among equals, scope (other people's,
//! other guilds' and DM conversations never returned), deleted, replaced and expired messages
//! never returned, the backfill of messages stored before the index existed, stats and reindex.

#[macro_use]
mod common;

use std::time::{Duration, SystemTime};

use common::{Kind, TestDb, dm, in_guild};
use mcpcord_memory::{
    ChannelId, ConversationId, ConversationKey, GuildId, MessageId, NewMessage, Role, Scope,
    SearchQuery, SearchScope, Store, UserId,
};

on_both!(
    keyword_search_finds_user_and_assistant_messages,
    newer_messages_come_first_among_equals,
    a_person_finds_only_their_own_conversations_of_the_place,
    filters_narrow_the_scope,
    the_operator_sees_every_conversation_or_one_guilds,
    deleted_replaced_and_expired_messages_are_never_found,
    messages_stored_before_the_index_are_backfilled,
    stats_count_and_reindex_rebuilds,
);

const GUILD: GuildId = GuildId::new(1_200_000_000_000_000_001);
const OTHER_GUILD: GuildId = GuildId::new(1_200_000_000_000_000_002);
const CHANNEL: ChannelId = ChannelId::new(1_200_000_000_000_000_003);
const OTHER_CHANNEL: ChannelId = ChannelId::new(1_200_000_000_000_000_004);
const ALICE: UserId = UserId::new(1_200_000_000_000_000_005);
const BOB: UserId = UserId::new(1_200_000_000_000_000_006);
const DAY: Duration = Duration::from_secs(86_400);

/// A conversation under `key` where `user` says `text` and the model answers `answer`.
async fn talk(
    store: &Store,
    key: &str,
    scope: Scope,
    user: UserId,
    text: &str,
    answer: &str,
) -> ConversationId {
    common::talk(store, key, scope, user, text, &[answer]).await
}

async fn search(store: &Store, text: &str, scope: SearchScope) -> Vec<String> {
    store
        .keyword_search(&SearchQuery::new(text, scope))
        .await
        .unwrap()
        .into_iter()
        .map(|hit| hit.content)
        .collect()
}

async fn keyword_search_finds_user_and_assistant_messages(db: TestDb) {
    let store = db.connect().await;
    let scope = in_guild(GUILD, CHANNEL, ALICE);
    let conversation = talk(
        &store,
        "k:1",
        scope,
        ALICE,
        "How long should carbonara pasta cook?",
        "Cook the spaghetti for nine minutes, then toss it with eggs and guanciale.",
    )
    .await;
    store
        .commit_turn(
            conversation,
            vec![
                NewMessage::assistant("").with_tool_calls(serde_json::json!([{"name": "timer"}])),
                NewMessage::tool_result("timer", "guanciale timer set"),
                NewMessage::new(Role::System, "guanciale system prompt"),
            ],
        )
        .await
        .unwrap();
    let alice = SearchScope::guild(ALICE, GUILD);

    let hits = store
        .keyword_search(&SearchQuery::new("CARBONARA", alice.clone()))
        .await
        .unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].role, Role::User);
    assert_eq!(hits[0].author.as_ref().map(|a| a.id), Some(ALICE));
    assert_eq!(hits[0].conversation_id, conversation);
    assert_eq!(
        (hits[0].guild_id, hits[0].channel_id),
        (Some(GUILD), Some(CHANNEL))
    );
    assert!(hits[0].snippet.contains("carbonara"), "{}", hits[0].snippet);

    // The model's answer is indexed; tool results and system prompts are not.
    let hits = search(&store, "guanciale", alice.clone()).await;
    assert_eq!(
        hits,
        vec!["Cook the spaghetti for nine minutes, then toss it with eggs and guanciale."]
    );

    // Every word first; when no message has them all, any of them.
    assert_eq!(
        search(&store, "spaghetti eggs", alice.clone()).await.len(),
        1
    );
    assert_eq!(
        search(&store, "carbonara spaghetti", alice.clone())
            .await
            .len(),
        2
    );
    assert!(search(&store, "lasagne", alice.clone()).await.is_empty());

    // Operators and punctuation are words or nothing, never a syntax error.
    assert_eq!(
        search(&store, "\"pasta\" (NEAR*", alice.clone())
            .await
            .len(),
        1
    );
    assert!(search(&store, "*:() '\"", alice.clone()).await.is_empty());
    assert!(search(&store, "", alice).await.is_empty());

    // Long messages are cut around the word found.
    let long = format!(
        "{} the secret word is zanzibar {}",
        "filler ".repeat(60),
        "tail ".repeat(60)
    );
    talk(&store, "k:2", scope, ALICE, &long, "noted").await;
    let hits = store
        .keyword_search(&SearchQuery::new(
            "zanzibar",
            SearchScope::guild(ALICE, GUILD),
        ))
        .await
        .unwrap();
    assert!(hits[0].snippet.contains("zanzibar"), "{}", hits[0].snippet);
    assert!(hits[0].snippet.starts_with('…') && hits[0].snippet.ends_with('…'));
    assert!(hits[0].snippet.chars().count() < long.chars().count() / 2);
    store.close().await;
}

async fn newer_messages_come_first_among_equals(db: TestDb) {
    let store = db.connect().await;
    let scope = in_guild(GUILD, CHANNEL, ALICE);
    let now = SystemTime::now();
    // Written oldest last, so that neither id order nor write order explains the result.
    let mut expected = Vec::new();
    for (index, age_days) in [3u32, 30, 1, 300].into_iter().enumerate() {
        let conversation = store
            .conversation(
                &ConversationKey::new(format!("r:{index}")),
                scope,
                Some(ALICE),
            )
            .await
            .unwrap();
        let id = store
            .add_user_message(
                conversation.id,
                NewMessage::user("the quarterly budget review")
                    .with_author(ALICE, "alice")
                    .at(now - DAY * age_days),
            )
            .await
            .unwrap();
        expected.push((age_days, id));
    }
    expected.sort();
    let hits = store
        .keyword_search(&SearchQuery::new(
            "budget review",
            SearchScope::guild(ALICE, GUILD),
        ))
        .await
        .unwrap();
    let found: Vec<MessageId> = hits.iter().map(|hit| hit.message_id).collect();
    let newest_first: Vec<MessageId> = expected.into_iter().map(|(_, id)| id).collect();
    assert_eq!(found, newest_first);
    assert!(hits.windows(2).all(|pair| pair[0].score > pair[1].score));

    // A limit keeps the best.
    let hits = store
        .keyword_search(&SearchQuery::new("budget", SearchScope::guild(ALICE, GUILD)).with_limit(2))
        .await
        .unwrap();
    assert_eq!(hits.len(), 2);
    assert_eq!(hits[0].message_id, newest_first[0]);
    store.close().await;
}

/// Alice's conversations in the guild, Bob's there, Alice's in another guild and the DMs of
/// both: the conversations each sees from where.
struct World {
    alice_guild: ConversationId,
    alice_archived: ConversationId,
    shared: ConversationId,
    bob_guild: ConversationId,
    alice_other_guild: ConversationId,
    alice_dm: ConversationId,
    bob_dm: ConversationId,
}

async fn world(store: &Store) -> World {
    let here = in_guild(GUILD, CHANNEL, ALICE);
    let alice_archived = talk(store, "w:alice", here, ALICE, "falcon archived", "falcon").await;
    store
        .new_conversation(&ConversationKey::new("w:alice"), here, Some(ALICE))
        .await
        .unwrap();
    let alice_guild = talk(store, "w:alice", here, ALICE, "falcon live", "falcon").await;
    // Bob's thread where Alice wrote too: she took part.
    let shared = talk(
        store,
        "w:shared",
        in_guild(GUILD, OTHER_CHANNEL, BOB),
        BOB,
        "falcon shared",
        "falcon",
    )
    .await;
    store
        .add_user_message(
            shared,
            NewMessage::user("me too").with_author(ALICE, "alice"),
        )
        .await
        .unwrap();
    let bob_guild = talk(
        store,
        "w:bob",
        in_guild(GUILD, CHANNEL, BOB),
        BOB,
        "falcon bob",
        "falcon",
    )
    .await;
    let alice_other_guild = talk(
        store,
        "w:alice-elsewhere",
        in_guild(OTHER_GUILD, CHANNEL, ALICE),
        ALICE,
        "falcon elsewhere",
        "falcon",
    )
    .await;
    let alice_dm = talk(store, "w:alice-dm", dm(ALICE), ALICE, "falcon dm", "falcon").await;
    let bob_dm = talk(store, "w:bob-dm", dm(BOB), BOB, "falcon bob dm", "falcon").await;
    World {
        alice_guild,
        alice_archived,
        shared,
        bob_guild,
        alice_other_guild,
        alice_dm,
        bob_dm,
    }
}

/// The conversations of the hits for "falcon" in `scope`, sorted, each once.
async fn found_in(store: &Store, scope: SearchScope) -> Vec<ConversationId> {
    let mut found: Vec<ConversationId> = store
        .keyword_search(&SearchQuery::new("falcon", scope).with_limit(100))
        .await
        .unwrap()
        .into_iter()
        .map(|hit| hit.conversation_id)
        .collect();
    found.sort();
    found.dedup();
    found
}

fn sorted(mut ids: Vec<ConversationId>) -> Vec<ConversationId> {
    ids.sort();
    ids
}

async fn a_person_finds_only_their_own_conversations_of_the_place(db: TestDb) {
    let store = db.connect().await;
    let w = world(&store).await;

    let alice_here = SearchScope::guild(ALICE, GUILD);
    let expected = sorted(vec![w.alice_archived, w.alice_guild, w.shared]);
    assert_eq!(found_in(&store, alice_here.clone()).await, expected);
    assert_eq!(
        store.conversations_in_scope(&alice_here).await.unwrap(),
        expected
    );

    // Bob here: his own and the shared one; never Alice's.
    let bob_here = SearchScope::guild(BOB, GUILD);
    assert_eq!(
        found_in(&store, bob_here).await,
        sorted(vec![w.shared, w.bob_guild])
    );

    // Alice in the other guild: only that guild's.
    assert_eq!(
        found_in(&store, SearchScope::guild(ALICE, OTHER_GUILD)).await,
        vec![w.alice_other_guild]
    );

    // In a DM: her own DMs only; a DM never surfaces in a guild (above), nor a guild in a DM.
    let alice_dm = SearchScope::person(ALICE, None);
    assert_eq!(found_in(&store, alice_dm.clone()).await, vec![w.alice_dm]);
    assert_eq!(
        store.conversations_in_scope(&alice_dm).await.unwrap(),
        vec![w.alice_dm]
    );
    assert_eq!(
        found_in(&store, SearchScope::direct(BOB)).await,
        vec![w.bob_dm]
    );

    // A stranger finds nothing anywhere.
    let stranger = UserId::new(1_200_000_000_000_000_099);
    assert!(
        found_in(&store, SearchScope::guild(stranger, GUILD))
            .await
            .is_empty()
    );
    assert!(
        found_in(&store, SearchScope::direct(stranger))
            .await
            .is_empty()
    );

    // Candidates from another ranking are checked in the database the same way.
    let bob_message = store.history(w.bob_guild, 1).await.unwrap()[0].id;
    let alice_message = store.history(w.alice_guild, 1).await.unwrap()[0].id;
    let dm_message = store.history(w.alice_dm, 1).await.unwrap()[0].id;
    assert_eq!(
        store
            .messages_in_scope(
                &SearchScope::guild(ALICE, GUILD),
                &[bob_message, alice_message, dm_message, MessageId(9_999_999)]
            )
            .await
            .unwrap(),
        vec![alice_message]
    );
    store.close().await;
}

async fn filters_narrow_the_scope(db: TestDb) {
    let store = db.connect().await;
    let w = world(&store).await;
    let alice = SearchScope::guild(ALICE, GUILD);

    // Only the conversations shared with Bob.
    assert_eq!(
        found_in(&store, alice.clone().with_user(BOB)).await,
        vec![w.shared]
    );
    // One channel.
    assert_eq!(
        found_in(&store, alice.clone().in_channel(OTHER_CHANNEL)).await,
        vec![w.shared]
    );
    // A time window over the messages.
    let conversation = talk(
        &store,
        "w:old",
        in_guild(GUILD, CHANNEL, ALICE),
        ALICE,
        "placeholder",
        "placeholder",
    )
    .await;
    let old = SystemTime::now() - DAY * 10;
    store
        .add_user_message(
            conversation,
            NewMessage::user("falcon of old")
                .with_author(ALICE, "a")
                .at(old),
        )
        .await
        .unwrap();
    let before = store
        .keyword_search(&SearchQuery::new("falcon", alice.clone().before(old + DAY)))
        .await
        .unwrap();
    assert_eq!(
        before
            .iter()
            .map(|hit| hit.content.as_str())
            .collect::<Vec<_>>(),
        vec!["falcon of old"]
    );
    let after = found_in(&store, alice.clone().after(old + DAY)).await;
    assert_eq!(
        after,
        sorted(vec![w.alice_archived, w.alice_guild, w.shared])
    );
    store.close().await;
}

async fn the_operator_sees_every_conversation_or_one_guilds(db: TestDb) {
    let store = db.connect().await;
    let w = world(&store).await;
    let everything = sorted(vec![
        w.alice_guild,
        w.alice_archived,
        w.shared,
        w.bob_guild,
        w.alice_other_guild,
        w.alice_dm,
        w.bob_dm,
    ]);
    assert_eq!(
        found_in(&store, SearchScope::operator(None)).await,
        everything
    );
    assert_eq!(
        found_in(&store, SearchScope::operator(Some(GUILD))).await,
        sorted(vec![w.alice_guild, w.alice_archived, w.shared, w.bob_guild])
    );
    assert_eq!(
        found_in(&store, SearchScope::operator(None).with_user(BOB)).await,
        sorted(vec![w.shared, w.bob_guild, w.bob_dm])
    );
    store.close().await;
}

async fn deleted_replaced_and_expired_messages_are_never_found(db: TestDb) {
    let store = db.connect().await;
    let here = in_guild(GUILD, CHANNEL, ALICE);
    let alice = SearchScope::guild(ALICE, GUILD);

    // Regenerated: the replaced answer leaves the search with the history.
    let conversation = talk(
        &store,
        "d:1",
        here,
        ALICE,
        "tell me of birds",
        "osprey first answer",
    )
    .await;
    let first = store.history(conversation, 1).await.unwrap()[0].id;
    store.mark_replaced(first).await.unwrap();
    store
        .commit_turn(
            conversation,
            vec![NewMessage::assistant("osprey second answer")],
        )
        .await
        .unwrap();
    let found = search(&store, "osprey", alice.clone()).await;
    assert_eq!(found, vec!["osprey second answer"]);

    // A deleted message leaves the index with its row.
    let pool = raw_pool(&db).await;
    let indexed = store.search_stats().await.unwrap().indexed;
    sqlx::query("DELETE FROM messages WHERE content = 'osprey second answer'")
        .execute(&pool)
        .await
        .unwrap();
    assert!(search(&store, "osprey", alice.clone()).await.is_empty());
    assert_eq!(store.search_stats().await.unwrap().indexed, indexed - 1);
    pool.close().await;

    // Expired by the guild's retention: out of the search before the sweeper runs, and out of
    // the index after.
    talk(&store, "d:2", here, ALICE, "heron facts", "heron answer").await;
    talk(
        &store,
        "d:3",
        in_guild(OTHER_GUILD, CHANNEL, ALICE),
        ALICE,
        "heron elsewhere",
        "x",
    )
    .await;
    assert_eq!(search(&store, "heron", alice.clone()).await.len(), 2);
    store
        .set_retention(GUILD, Some(Duration::from_millis(1)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(search(&store, "heron", alice.clone()).await.is_empty());
    assert!(
        store
            .conversations_in_scope(&alice)
            .await
            .unwrap()
            .is_empty()
    );
    let elsewhere = SearchScope::guild(ALICE, OTHER_GUILD);
    assert_eq!(search(&store, "heron", elsewhere).await.len(), 1);
    let before_sweep = store.search_stats().await.unwrap().indexed;
    assert!(store.sweep_expired(SystemTime::now()).await.unwrap() >= 2);
    assert!(store.search_stats().await.unwrap().indexed < before_sweep);
    assert!(
        search(&store, "heron", SearchScope::operator(Some(GUILD)))
            .await
            .is_empty()
    );

    // Outside guilds: the store's rule.
    talk(
        &store,
        "d:dm",
        dm(ALICE),
        ALICE,
        "kestrel in a dm",
        "kestrel",
    )
    .await;
    assert_eq!(
        search(&store, "kestrel", SearchScope::direct(ALICE))
            .await
            .len(),
        2
    );
    store.set_retention_outside_guilds(Some(Duration::from_millis(1)));
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(
        search(&store, "kestrel", SearchScope::direct(ALICE))
            .await
            .is_empty()
    );
    assert!(
        search(&store, "kestrel", SearchScope::operator(None))
            .await
            .is_empty()
    );
    store.close().await;
}

/// A pool on the test database without the store (for what no store method does).
async fn raw_pool(db: &TestDb) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    let url = match db.kind {
        Kind::Sqlite => format!("{}?mode=rwc", db.url()),
        Kind::Postgres => db.url().to_owned(),
    };
    sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap()
}

async fn messages_stored_before_the_index_are_backfilled(db: TestDb) {
    // The schema as it was before 0004, from the migrations shipped with the crate.
    let folder = match db.kind {
        Kind::Sqlite => "sqlite",
        Kind::Postgres => "postgres",
    };
    let old = tempfile::tempdir().unwrap();
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(folder);
    for entry in std::fs::read_dir(&source).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.as_str() < "0004" {
            std::fs::copy(&path, old.path().join(&name)).unwrap();
        }
    }
    let pool = raw_pool(&db).await;
    sqlx::migrate::Migrator::new(old.path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    let now = 1_700_000_000_000_i64;
    let alice = i64::from_ne_bytes(ALICE.get().to_ne_bytes());
    let guild = i64::from_ne_bytes(GUILD.get().to_ne_bytes());
    sqlx::query(
        "INSERT INTO conversations (key, guild_id, channel_id, user_id, owner_id, created_at, \
         updated_at) VALUES ('old', $1, 7, $2, $2, $3, $3)",
    )
    .bind(guild)
    .bind(alice)
    .bind(now)
    .execute(&pool)
    .await
    .unwrap();
    for (role, content) in [
        ("user", "pelican from before"),
        ("assistant", "pelican answer from before"),
        ("tool", "pelican tool output"),
    ] {
        sqlx::query(
            "INSERT INTO messages (conversation_id, turn_id, role, author_id, content, created_at) \
             SELECT id, 't', $1, $2, $3, $4 FROM conversations WHERE key = 'old'",
        )
        .bind(role)
        .bind(alice)
        .bind(content)
        .bind(now)
        .execute(&pool)
        .await
        .unwrap();
    }
    pool.close().await;

    // Opening the store runs 0004, which indexes what is there.
    let store = db.connect().await;
    let mut found = search(&store, "pelican", SearchScope::guild(ALICE, GUILD)).await;
    found.sort();
    assert_eq!(
        found,
        vec!["pelican answer from before", "pelican from before"]
    );
    let stats = store.search_stats().await.unwrap();
    assert_eq!((stats.messages, stats.indexed), (3, 2));
    store.close().await;
}

async fn stats_count_and_reindex_rebuilds(db: TestDb) {
    let store = db.connect().await;
    let empty = store.search_stats().await.unwrap();
    assert_eq!((empty.messages, empty.indexed, empty.embedded), (0, 0, 0));
    let conversation = talk(
        &store,
        "s:1",
        in_guild(GUILD, CHANNEL, ALICE),
        ALICE,
        "swift",
        "swift reply",
    )
    .await;
    store
        .commit_turn(
            conversation,
            vec![NewMessage::tool_result("t", "swift tool")],
        )
        .await
        .unwrap();
    let stats = store.search_stats().await.unwrap();
    assert_eq!((stats.messages, stats.indexed, stats.embedded), (3, 2, 0));
    assert!(stats.index_bytes > 0, "{stats:?}");

    assert_eq!(store.reindex().await.unwrap(), 2);
    assert_eq!(
        search(&store, "swift", SearchScope::operator(None))
            .await
            .len(),
        2
    );
    assert_eq!(store.search_stats().await.unwrap().indexed, 2);

    // Embedded messages are counted, once each whatever the number of models.
    let first = store.history(conversation, 10).await.unwrap()[0].id;
    for model in ["one", "two"] {
        store
            .save_embeddings(model, &[(first, vec![0.5, -0.5])])
            .await
            .unwrap();
    }
    assert_eq!(store.search_stats().await.unwrap().embedded, 1);
    store.close().await;
}
