//! Conversation tags and a person's recent conversations, against both databases: tags added
//! once, removed, found through search's `tag` filter within the person's scope; the listing
//! newest first with title or first message, archived or live, where it lives and its last
//! post; scope as search (their own, DMs only from a DM, a guild's only from that guild); a
//! title search; tags going with a conversation and losing a forgotten person's name.

#[macro_use]
mod common;

use std::time::Duration;

use common::{Kind, TestDb, dm};
use mcpcord_memory::{
    ChannelId, ConversationKey, Entity, EntityKind, GuildId, MAX_TAGS_PER_CONVERSATION, Named,
    NewMessage, PostId, Scope, SearchQuery, SearchScope, Tagged, UserId, tag_name,
};

on_both!(
    tags_are_added_once_and_removed,
    a_tag_narrows_a_search_within_the_persons_scope,
    a_category_and_an_entity_narrow_a_search,
    recent_conversations_newest_first_with_what_a_list_shows,
    recent_conversations_follow_the_scope_rules,
    a_title_search_matches_titles_and_first_messages,
    tags_go_with_their_conversation_and_lose_a_forgotten_name,
);

const GUILD: GuildId = GuildId::new(1_300_000_000_000_000_001);
const OTHER_GUILD: GuildId = GuildId::new(1_300_000_000_000_000_002);
const CHANNEL: ChannelId = ChannelId::new(1_300_000_000_000_000_003);
const ALICE: UserId = UserId::new(1_300_000_000_000_000_005);
const BOB: UserId = UserId::new(1_300_000_000_000_000_006);

/// The scope of a message `user` sends in [`CHANNEL`] of `guild`.
fn in_guild(guild: GuildId, user: UserId) -> Scope {
    common::in_guild(guild, CHANNEL, user)
}

#[test]
fn tag_names_are_one_spelling() {
    assert_eq!(tag_name("  #Recipes ").as_deref(), Some("recipes"));
    assert_eq!(
        tag_name("road trip 2026").as_deref(),
        Some("road-trip-2026")
    );
    assert_eq!(tag_name("Café").as_deref(), Some("café"));
    for bad in ["", "#", "   ", "a/b", "x".repeat(41).as_str(), "<@123>"] {
        assert_eq!(tag_name(bad), None, "{bad}");
    }
}

async fn tags_are_added_once_and_removed(db: TestDb) {
    let store = db.connect().await;
    let id = common::talk(
        &store,
        "k:1",
        in_guild(GUILD, ALICE),
        ALICE,
        "hi",
        &["hello"],
    )
    .await;
    let tagged = store.tag_conversation(id, "recipes", Some(ALICE)).await;
    assert_eq!(tagged.unwrap(), Tagged::Added);
    let again = store.tag_conversation(id, "recipes", Some(BOB)).await;
    assert_eq!(again.unwrap(), Tagged::AlreadyThere);
    store.tag_conversation(id, "pasta", None).await.unwrap();
    assert_eq!(
        store.conversation_tags(id).await.unwrap(),
        vec!["pasta", "recipes"]
    );
    assert!(store.untag_conversation(id, "pasta").await.unwrap());
    assert!(!store.untag_conversation(id, "pasta").await.unwrap());
    assert_eq!(store.conversation_tags(id).await.unwrap(), vec!["recipes"]);

    for n in 1..MAX_TAGS_PER_CONVERSATION {
        let added = store.tag_conversation(id, &format!("t{n}"), None).await;
        assert_eq!(added.unwrap(), Tagged::Added);
    }
    let full = store.tag_conversation(id, "one-too-many", None).await;
    assert_eq!(full.unwrap(), Tagged::Full);

    let missing = mcpcord_memory::ConversationId(id.0 + 1000);
    let error = store
        .tag_conversation(missing, "x", None)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("does not exist"), "{error}");
}

async fn a_tag_narrows_a_search_within_the_persons_scope(db: TestDb) {
    let store = db.connect().await;
    let tagged = common::talk(
        &store,
        "k:1",
        in_guild(GUILD, ALICE),
        ALICE,
        "a carbonara recipe please",
        &["eggs, guanciale, pecorino"],
    )
    .await;
    common::talk(
        &store,
        "k:2",
        in_guild(GUILD, ALICE),
        ALICE,
        "carbonara history",
        &["Rome, 1944"],
    )
    .await;
    let bobs = common::talk(
        &store,
        "k:3",
        in_guild(GUILD, BOB),
        BOB,
        "carbonara for bob",
        &["sure"],
    )
    .await;
    store
        .tag_conversation(tagged, "recipes", Some(ALICE))
        .await
        .unwrap();
    store
        .tag_conversation(bobs, "recipes", Some(BOB))
        .await
        .unwrap();

    let search = |scope: SearchScope| {
        let store = store.clone();
        async move {
            let hits = store
                .keyword_search(&SearchQuery::new("carbonara", scope))
                .await
                .unwrap();
            let mut ids: Vec<i64> = hits.iter().map(|h| h.conversation_id.0).collect();
            ids.dedup();
            ids
        }
    };
    assert_eq!(search(SearchScope::guild(ALICE, GUILD)).await.len(), 2);
    assert_eq!(
        search(SearchScope::guild(ALICE, GUILD).with_tag("recipes")).await,
        vec![tagged.0],
        "Bob's tagged conversation stays out of Alice's search"
    );
    assert!(
        search(SearchScope::guild(ALICE, GUILD).with_tag("nothing"))
            .await
            .is_empty()
    );
    assert!(
        search(SearchScope::guild(ALICE, OTHER_GUILD).with_tag("recipes"))
            .await
            .is_empty()
    );

    // Autocomplete: the tags of the person's own conversations from there.
    store
        .tag_conversation(bobs, "bobs-tag", None)
        .await
        .unwrap();
    let tags = |scope: SearchScope| {
        let store = store.clone();
        async move { store.names_in_scope(Named::Tags, &scope, 25).await.unwrap() }
    };
    assert_eq!(
        tags(SearchScope::guild(ALICE, GUILD)).await,
        vec!["recipes"]
    );
    assert_eq!(
        tags(SearchScope::guild(BOB, GUILD)).await,
        vec!["bobs-tag", "recipes"]
    );
    assert!(tags(SearchScope::direct(ALICE)).await.is_empty());
}

async fn a_category_and_an_entity_narrow_a_search(db: TestDb) {
    let store = db.connect().await;
    let cooking = common::talk(
        &store,
        "k:1",
        in_guild(GUILD, ALICE),
        ALICE,
        "dinner plans with Ada",
        &["pasta it is"],
    )
    .await;
    let work = common::talk(
        &store,
        "k:2",
        in_guild(GUILD, ALICE),
        ALICE,
        "dinner after the Falcon release",
        &["ship first"],
    )
    .await;
    let bobs = common::talk(
        &store,
        "k:3",
        in_guild(GUILD, BOB),
        BOB,
        "dinner with ada",
        &["sure"],
    )
    .await;
    let ada = Entity {
        kind: EntityKind::People,
        name: "Ada Lovelace".into(),
    };
    let falcon = Entity {
        kind: EntityKind::Project,
        name: "Falcon".into(),
    };
    for (id, category, entities) in [
        (cooking, "Cooking", vec![ada.clone()]),
        (work, "Work", vec![falcon]),
        (bobs, "Cooking", vec![ada]),
    ] {
        store
            .save_topics(id, None, Some(category), &entities)
            .await
            .unwrap();
    }

    let search = |scope: SearchScope| {
        let store = store.clone();
        async move {
            let hits = store
                .keyword_search(&SearchQuery::new("dinner", scope))
                .await
                .unwrap();
            let mut ids: Vec<i64> = hits.iter().map(|h| h.conversation_id.0).collect();
            ids.sort_unstable();
            ids.dedup();
            ids
        }
    };
    let alice = || SearchScope::guild(ALICE, GUILD);
    assert_eq!(search(alice()).await, vec![cooking.0, work.0]);
    assert_eq!(
        search(alice().with_category("cooking")).await,
        vec![cooking.0],
        "case aside, and Bob's cooking conversation stays out of Alice's search"
    );
    assert_eq!(search(alice().with_category(" Work ")).await, vec![work.0]);
    assert!(search(alice().with_category("Travel")).await.is_empty());
    assert_eq!(
        search(alice().with_entity("ada lovelace")).await,
        vec![cooking.0],
        "an entity's whole name, case aside"
    );
    assert_eq!(search(alice().with_entity("FALCON")).await, vec![work.0]);
    assert!(search(alice().with_entity("Ada")).await.is_empty());
    assert!(
        search(alice().with_category("Cooking").with_entity("Falcon"))
            .await
            .is_empty()
    );
    // Autocomplete: the entity names of the person's own conversations from there, once each.
    let entities = |scope: SearchScope| {
        let store = store.clone();
        async move {
            store
                .names_in_scope(Named::Entities, &scope, 25)
                .await
                .unwrap()
        }
    };
    assert_eq!(entities(alice()).await, vec!["Ada Lovelace", "Falcon"]);
    assert_eq!(
        entities(SearchScope::guild(BOB, GUILD)).await,
        vec!["Ada Lovelace"]
    );
    assert!(entities(SearchScope::direct(ALICE)).await.is_empty());
    assert_eq!(
        store
            .conversations_in_scope(&SearchScope::operator(None).with_category("Cooking"))
            .await
            .unwrap(),
        vec![cooking, bobs]
    );
    assert_eq!(
        store
            .conversations_in_scope(&SearchScope::operator(None).with_entity("Ada Lovelace"))
            .await
            .unwrap(),
        vec![cooking, bobs]
    );
}

async fn recent_conversations_newest_first_with_what_a_list_shows(db: TestDb) {
    let store = db.connect().await;
    let scope = in_guild(GUILD, ALICE);
    let first = common::talk(&store, "k:1", scope, ALICE, "  sourdough starter ", &["ok"]).await;
    let key = ConversationKey::new("k:1");
    let fresh = store
        .new_conversation(&key, scope, Some(ALICE))
        .await
        .unwrap();
    // A conversation nobody wrote in yet is not listed.
    let listed = store
        .recent_conversations(&SearchScope::guild(ALICE, GUILD), None, 10)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].archived);
    assert_eq!(listed[0].label(), "sourdough starter");
    assert_eq!(listed[0].key, key);

    let answer = common::talk(&store, "k:1", scope, ALICE, "rye bread", &["knead it"]).await;
    assert_eq!(answer, fresh.id);
    let stored = store.history(answer, 100).await.unwrap();
    let last = stored.last().unwrap().id;
    store
        .set_discord_message_ids(last, &[PostId::new(77), PostId::new(78)])
        .await
        .unwrap();
    store.set_title(first, "Sourdough").await.unwrap();
    store
        .tag_conversation(first, "bread", Some(ALICE))
        .await
        .unwrap();

    let listed = store
        .recent_conversations(&SearchScope::guild(ALICE, GUILD), None, 10)
        .await
        .unwrap();
    let ids: Vec<_> = listed.iter().map(|c| c.id).collect();
    assert_eq!(ids, vec![fresh.id, first], "newest first");
    let (live, old) = (&listed[0], &listed[1]);
    assert!(!live.archived && old.archived);
    assert_eq!(live.label(), "rye bread");
    assert_eq!(old.label(), "Sourdough");
    assert_eq!(old.tags, vec!["bread"]);
    assert_eq!(
        (live.guild_id, live.channel_id, live.last_post),
        (Some(GUILD), Some(CHANNEL), Some(PostId::new(77)))
    );
    assert_eq!(old.last_post, None);
    assert!(live.last_message_at >= old.last_message_at);

    let one = store
        .recent_conversations(&SearchScope::guild(ALICE, GUILD), None, 1)
        .await
        .unwrap();
    assert_eq!(one.len(), 1);
}

async fn recent_conversations_follow_the_scope_rules(db: TestDb) {
    let store = db.connect().await;
    let here = common::talk(&store, "k:1", in_guild(GUILD, ALICE), ALICE, "here", &[]).await;
    let there = common::talk(
        &store,
        "k:2",
        in_guild(OTHER_GUILD, ALICE),
        ALICE,
        "there",
        &[],
    )
    .await;
    let private = common::talk(&store, "k:3", dm(ALICE), ALICE, "private", &[]).await;
    let bobs = common::talk(&store, "k:4", in_guild(GUILD, BOB), BOB, "bob's", &[]).await;
    // Alice wrote in Bob's conversation: it is hers too.
    let joined = common::talk(&store, "k:5", in_guild(GUILD, BOB), BOB, "joined", &[]).await;
    store
        .add_user_message(
            joined,
            NewMessage::user("me too").with_author(ALICE, "alice"),
        )
        .await
        .unwrap();

    let ids = |scope: SearchScope| {
        let store = store.clone();
        async move {
            let mut ids: Vec<i64> = store
                .recent_conversations(&scope, None, 25)
                .await
                .unwrap()
                .iter()
                .map(|c| c.id.0)
                .collect();
            ids.sort_unstable();
            ids
        }
    };
    assert_eq!(
        ids(SearchScope::guild(ALICE, GUILD)).await,
        vec![here.0, joined.0]
    );
    assert_eq!(
        ids(SearchScope::guild(ALICE, OTHER_GUILD)).await,
        vec![there.0]
    );
    assert_eq!(ids(SearchScope::direct(ALICE)).await, vec![private.0]);
    assert_eq!(
        ids(SearchScope::guild(BOB, GUILD)).await,
        vec![bobs.0, joined.0]
    );
    assert!(ids(SearchScope::direct(BOB)).await.is_empty());

    // Expired by the guild's retention: gone from the list before any sweep.
    store
        .set_retention(GUILD, Some(Duration::from_millis(1)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(ids(SearchScope::guild(ALICE, GUILD)).await.is_empty());
}

async fn a_title_search_matches_titles_and_first_messages(db: TestDb) {
    let store = db.connect().await;
    let scope = in_guild(GUILD, ALICE);
    let titled = common::talk(&store, "k:1", scope, ALICE, "hello there", &["hi"]).await;
    store.set_title(titled, "Trip to Lisbon").await.unwrap();
    let untitled = common::talk(&store, "k:2", scope, ALICE, "Plan a LISBON walk", &[]).await;
    common::talk(&store, "k:3", scope, ALICE, "50% off_sale", &[]).await;
    let find = |text: &'static str| {
        let store = store.clone();
        async move {
            store
                .recent_conversations(&SearchScope::guild(ALICE, GUILD), Some(text), 25)
                .await
                .unwrap()
                .iter()
                .map(|c| c.id.0)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(find("lisbon").await, vec![untitled.0, titled.0]);
    assert_eq!(find("TRIP").await, vec![titled.0]);
    // The title stands for the conversation: its first message is not searched then.
    assert!(find("hello").await.is_empty());
    // LIKE's wildcards are plain characters.
    assert_eq!(find("%").await.len(), 1);
    assert_eq!(find("f_s").await.len(), 1);
    assert!(find("o_f").await.is_empty());
    assert_eq!(find("   ").await.len(), 3);
}

async fn tags_go_with_their_conversation_and_lose_a_forgotten_name(db: TestDb) {
    let store = db.connect().await;
    let alone = common::talk(&store, "k:1", in_guild(GUILD, BOB), BOB, "bob alone", &[]).await;
    let shared = common::talk(&store, "k:2", in_guild(GUILD, ALICE), ALICE, "shared", &[]).await;
    store
        .add_user_message(shared, NewMessage::user("bob here").with_author(BOB, "bob"))
        .await
        .unwrap();
    store
        .tag_conversation(alone, "mine", Some(BOB))
        .await
        .unwrap();
    store
        .tag_conversation(shared, "ours", Some(BOB))
        .await
        .unwrap();
    store.forget_person(BOB).await.unwrap();

    let by_tag = |tag: &'static str| {
        let store = store.clone();
        async move {
            store
                .conversations_in_scope(&SearchScope::operator(None).with_tag(tag))
                .await
                .unwrap()
        }
    };
    assert!(
        by_tag("mine").await.is_empty(),
        "deleted with Bob's conversation"
    );
    assert_eq!(by_tag("ours").await, vec![shared]);
    let kept: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM conversation_tags WHERE conversation_id = $1 \
         AND tagged_by IS NULL",
    )
    .bind(shared.0)
    .fetch_one(&raw_pool(&db).await)
    .await
    .unwrap();
    assert_eq!(kept, 1, "the tag stays, without Bob's id");
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
