//! Facts remembered about a person, on both databases: stored with provenance, read back only in
//! their scope (a guild's, or the DMs'), never twice, forgotten one at a time or all at once
//! (nobody else's, no other scope's), and part of the person's export and of forgetting them.

use mcpcord_memory::{FactId, GuildId, MessageId, Scope, UserId};

#[macro_use]
mod common;
use common::{TestDb, talk};

const ALICE: UserId = UserId::new(11);
const BOB: UserId = UserId::new(12);
const GUILD: GuildId = GuildId::new(500);
const OTHER_GUILD: GuildId = GuildId::new(501);

on_both!(
    facts_are_stored_with_provenance_in_their_scope,
    forgetting_one_or_all_touches_nothing_else,
    the_export_has_them_and_forgetting_the_person_deletes_them,
);

/// The first message of a conversation in `guild` (or a DM) by `user`.
async fn said(store: &mcpcord_memory::Store, guild: Option<GuildId>, user: UserId) -> MessageId {
    let scope = Scope {
        guild_id: guild,
        channel_id: None,
        user_id: Some(user),
    };
    let key = format!("facts:{guild:?}:{user}");
    let conversation = talk(
        store,
        &key,
        scope,
        user,
        "remember that I like tea",
        &["ok"],
    )
    .await;
    store.history(conversation, 10).await.unwrap()[0].id
}

async fn facts_are_stored_with_provenance_in_their_scope(db: TestDb) {
    let store = db.connect().await;
    let message = said(&store, Some(GUILD), ALICE).await;
    let tea = store
        .add_fact(ALICE, Some(GUILD), "likes tea", Some(message))
        .await
        .unwrap();
    assert_eq!(
        (tea.user, tea.guild, tea.text.as_str(), tea.message),
        (ALICE, Some(GUILD), "likes tea", Some(message))
    );
    assert!(tea.created_at > std::time::UNIX_EPOCH);
    // The same fact again is the same row.
    let again = store
        .add_fact(ALICE, Some(GUILD), "likes tea", None)
        .await
        .unwrap();
    assert_eq!(again, tea);
    let dm = store
        .add_fact(ALICE, None, "is learning Welsh", None)
        .await
        .unwrap();
    store
        .add_fact(BOB, Some(GUILD), "likes coffee", None)
        .await
        .unwrap();

    let in_guild = store.facts(ALICE, Some(GUILD)).await.unwrap();
    assert_eq!(in_guild, vec![tea.clone()]);
    assert_eq!(store.facts(ALICE, None).await.unwrap(), vec![dm.clone()]);
    assert!(
        store
            .facts(ALICE, Some(OTHER_GUILD))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.all_facts(ALICE).await.unwrap(), vec![tea, dm]);
}

async fn forgetting_one_or_all_touches_nothing_else(db: TestDb) {
    let store = db.connect().await;
    let tea = store
        .add_fact(ALICE, Some(GUILD), "likes tea", None)
        .await
        .unwrap();
    let cats = store
        .add_fact(ALICE, Some(GUILD), "has two cats", None)
        .await
        .unwrap();
    let dm = store
        .add_fact(ALICE, None, "lives in Cardiff", None)
        .await
        .unwrap();
    let bobs = store
        .add_fact(BOB, Some(GUILD), "likes coffee", None)
        .await
        .unwrap();

    // Not hers, not this scope, not there: nothing happens.
    assert_eq!(
        store
            .forget_fact(ALICE, Some(GUILD), bobs.id)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.forget_fact(ALICE, Some(GUILD), dm.id).await.unwrap(),
        None
    );
    assert_eq!(
        store.forget_fact(ALICE, None, FactId(9_999)).await.unwrap(),
        None
    );

    let forgotten = store.forget_fact(ALICE, Some(GUILD), tea.id).await.unwrap();
    assert_eq!(forgotten, Some(tea));
    assert_eq!(
        store.facts(ALICE, Some(GUILD)).await.unwrap(),
        vec![cats.clone()]
    );

    let cleared = store.clear_facts(ALICE, Some(GUILD)).await.unwrap();
    assert_eq!(cleared, vec![cats]);
    assert!(store.facts(ALICE, Some(GUILD)).await.unwrap().is_empty());
    assert_eq!(store.facts(ALICE, None).await.unwrap(), vec![dm]);
    assert_eq!(store.facts(BOB, Some(GUILD)).await.unwrap(), vec![bobs]);
    assert!(texts_in_table(&db, "likes tea").await == 0);
    assert!(texts_in_table(&db, "has two cats").await == 0);
}

async fn the_export_has_them_and_forgetting_the_person_deletes_them(db: TestDb) {
    let store = db.connect().await;
    let message = said(&store, None, ALICE).await;
    store
        .add_fact(ALICE, None, "likes tea", Some(message))
        .await
        .unwrap();
    store
        .add_fact(ALICE, Some(GUILD), "plays the harp", None)
        .await
        .unwrap();
    store
        .add_fact(BOB, Some(GUILD), "likes coffee", None)
        .await
        .unwrap();

    let data = store.personal_data(ALICE).await.unwrap();
    let facts: Vec<&str> = data.facts.iter().map(|f| f.fact.as_str()).collect();
    assert_eq!(facts, ["likes tea", "plays the harp"]);
    let json = serde_json::to_value(&data).unwrap();
    assert_eq!(json["facts"][0]["message"], message.0);
    assert_eq!(json["facts"][1]["guild"], "500");

    let report = store.forget_person(ALICE).await.unwrap();
    assert_eq!(report.facts_deleted, 2);
    assert!(store.all_facts(ALICE).await.unwrap().is_empty());
    assert_eq!(texts_in_table(&db, "plays the harp").await, 0);
    assert_eq!(store.all_facts(BOB).await.unwrap().len(), 1);
}

/// Rows of `person_facts` holding `text`, read around the store.
async fn texts_in_table(db: &TestDb, text: &str) -> i64 {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(db.url()).await.unwrap();
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM person_facts WHERE fact = $1")
        .bind(text)
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    count
}
