//! Rolling summaries, titles, categories, entities and the background queue on both
//! databases: versions that cover more, the marker a turn leaves and the anti-join that finds
//! it again after a restart, titles only where none is set, and the daily token count per
//! guild.

#[macro_use]
mod common;

use common::TestDb;
use mcpcord_memory::{
    ChannelId, ConversationId, ConversationKey, Entity, EntityKind, GuildId, MessageId, NewMessage,
    NewSummary, Scope, Store, UserId, UtcDay,
};

on_both!(
    summaries_are_versioned_and_answer_the_marker,
    the_queue_finds_untitled_and_unsummarised_conversations_after_a_restart,
    topics_are_stored_and_entities_replaced,
    background_tokens_add_up_per_guild_and_day,
    forgetting_a_person_drops_what_was_written_from_their_words,
    the_export_holds_tags_summaries_and_topics_and_forgetting_drops_them,
);

const GUILD: GuildId = GuildId::new(1_300_000_000_000_000_001);
const ALICE: UserId = UserId::new(1_300_000_000_000_000_003);

/// A conversation `key` in the guild with `exchanges` question/answer pairs; their ids.
async fn conversation(
    store: &Store,
    key: &str,
    exchanges: usize,
) -> (ConversationId, Vec<MessageId>) {
    let scope = Scope {
        guild_id: Some(GUILD),
        channel_id: Some(ChannelId::new(7)),
        user_id: Some(ALICE),
    };
    let conversation = store
        .conversation(&ConversationKey::new(key), scope, Some(ALICE))
        .await
        .unwrap();
    let mut ids = Vec::new();
    for n in 0..exchanges {
        ids.extend(
            store
                .commit_turn(
                    conversation.id,
                    vec![
                        NewMessage::user(format!("question {n}")).with_author(ALICE, "alice"),
                        NewMessage::assistant(format!("answer {n}")).with_model("m"),
                    ],
                )
                .await
                .unwrap(),
        );
    }
    (conversation.id, ids)
}

fn summary(through: MessageId, text: &str) -> NewSummary {
    NewSummary {
        through,
        text: text.into(),
        model: "m".into(),
        tokens: 120,
        vector: Some(("embed".into(), vec![0.5, -0.25])),
    }
}

async fn summaries_are_versioned_and_answer_the_marker(db: TestDb) {
    let store = db.connect().await;
    let (id, messages) = conversation(&store, "chat:a", 4).await;
    assert_eq!(store.latest_summary(id).await.unwrap(), None);
    store.request_summary(id, messages[3]).await.unwrap();
    // A smaller request does not lower the marker.
    store.request_summary(id, messages[1]).await.unwrap();
    let jobs = store.background_jobs(ConversationId(0), 10).await.unwrap();
    assert_eq!(jobs[0].summarise_through, Some(messages[3]));

    let first = store
        .save_summary(id, summary(messages[3], "They asked 0 and 1."))
        .await
        .unwrap();
    assert_eq!(first.version, 1);
    assert_eq!(
        first.vector,
        Some(("embed".to_owned(), vec![0.5_f32, -0.25]))
    );
    assert!(!first.announced);
    let jobs = store.background_jobs(ConversationId(0), 10).await.unwrap();
    assert!(
        jobs.iter().all(|j| j.summarise_through.is_none()),
        "answered: {jobs:?}"
    );

    store.request_summary(id, messages[5]).await.unwrap();
    let second = store
        .save_summary(id, summary(messages[5], "They asked 0, 1 and 2."))
        .await
        .unwrap();
    assert_eq!(second.version, 2);
    store.announce_summary(id).await.unwrap();
    let latest = store.latest_summary(id).await.unwrap().unwrap();
    assert_eq!(latest.version, 2);
    assert_eq!(latest.through, messages[5]);
    assert_eq!(latest.text, "They asked 0, 1 and 2.");
    assert!(latest.announced);
    assert_eq!(store.summary_counts().await.unwrap(), (2, 1));

    // What the next summary reads: the messages after the last one covered.
    let sources = store
        .summary_sources(id, latest.through, None, 10)
        .await
        .unwrap();
    let texts: Vec<&str> = sources.iter().map(|s| s.content.as_str()).collect();
    assert_eq!(texts, ["question 3", "answer 3"]);
    assert_eq!(sources[0].author.as_deref(), Some("alice"));
}

async fn the_queue_finds_untitled_and_unsummarised_conversations_after_a_restart(db: TestDb) {
    let store = db.connect().await;
    let (silent, _) = conversation(&store, "chat:silent", 0).await;
    let (untitled, _) = conversation(&store, "chat:untitled", 1).await;
    let (titled, messages) = conversation(&store, "chat:titled", 3).await;
    store.set_title(titled, "Already named").await.unwrap();
    store.request_summary(titled, messages[2]).await.unwrap();
    store.close().await;

    // A new process: the same work is found, a conversation without an answer is not.
    let store = db.connect().await;
    let jobs = store.background_jobs(ConversationId(0), 10).await.unwrap();
    let ids: Vec<ConversationId> = jobs.iter().map(|j| j.conversation).collect();
    assert_eq!(ids, [untitled, titled]);
    assert!(!ids.contains(&silent));
    assert!(!jobs[0].titled);
    assert_eq!(jobs[0].summarise_through, None);
    assert_eq!(jobs[0].guild, Some(GUILD));
    assert!(jobs[1].titled);
    assert_eq!(jobs[1].summarise_through, Some(messages[2]));
    // Paged by id.
    let rest = store.background_jobs(untitled, 10).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].conversation, titled);
    let none = store.background_jobs(titled, 10).await.unwrap();
    assert!(none.is_empty());
}

async fn topics_are_stored_and_entities_replaced(db: TestDb) {
    let store = db.connect().await;
    let (id, _) = conversation(&store, "chat:t", 1).await;
    let volvo = Entity {
        kind: EntityKind::Product,
        name: "Volvo".into(),
    };
    let oslo = Entity {
        kind: EntityKind::Place,
        name: "Oslo".into(),
    };
    store
        .save_topics(
            id,
            Some("Cars"),
            Some("hobbies"),
            &[volvo.clone(), oslo.clone(), volvo.clone()],
        )
        .await
        .unwrap();
    let topics = store.topics(id).await.unwrap();
    assert_eq!(topics.title.as_deref(), Some("Cars"));
    assert_eq!(topics.category.as_deref(), Some("hobbies"));
    assert_eq!(topics.entities, [oslo.clone(), volvo.clone()]);
    let conversation = store.get_conversation(id).await.unwrap();
    assert_eq!(conversation.title.as_deref(), Some("Cars"));
    // A title set stays; the category and entities follow the newest pass.
    let bob = Entity {
        kind: EntityKind::People,
        name: "Bob".into(),
    };
    store
        .save_topics(id, Some("Other"), Some("work"), std::slice::from_ref(&bob))
        .await
        .unwrap();
    let topics = store.topics(id).await.unwrap();
    assert_eq!(topics.title.as_deref(), Some("Cars"));
    assert_eq!(topics.category.as_deref(), Some("work"));
    assert_eq!(topics.entities, [bob]);
    // Titled now: no more title work.
    let jobs = store.background_jobs(ConversationId(0), 10).await.unwrap();
    assert!(jobs.is_empty(), "{jobs:?}");
}

async fn background_tokens_add_up_per_guild_and_day(db: TestDb) {
    let store = db.connect().await;
    let today = UtcDay(20_000);
    store
        .add_background_tokens(today, Some(GUILD), 100)
        .await
        .unwrap();
    store
        .add_background_tokens(today, Some(GUILD), 50)
        .await
        .unwrap();
    store.add_background_tokens(today, None, 7).await.unwrap();
    assert_eq!(
        store.background_tokens(today, Some(GUILD)).await.unwrap(),
        150
    );
    assert_eq!(store.background_tokens(today, None).await.unwrap(), 7);
    assert_eq!(
        store
            .background_tokens(today.next(), Some(GUILD))
            .await
            .unwrap(),
        0
    );
}

async fn forgetting_a_person_drops_what_was_written_from_their_words(db: TestDb) {
    let store = db.connect().await;
    let (shared, messages) = conversation(&store, "chat:shared", 2).await;
    let bob = UserId::new(1_300_000_000_000_000_004);
    store
        .commit_turn(
            shared,
            vec![NewMessage::user("bob was here").with_author(bob, "bob")],
        )
        .await
        .unwrap();
    let (other, _) = conversation(&store, "chat:other", 1).await;
    for id in [shared, other] {
        store
            .save_summary(id, summary(messages[1], "Alice talked about her plans."))
            .await
            .unwrap();
        store
            .save_topics(
                id,
                Some("Alice's plans"),
                Some("planning"),
                &[Entity {
                    kind: EntityKind::People,
                    name: "Alice".into(),
                }],
            )
            .await
            .unwrap();
    }
    store.request_summary(shared, messages[3]).await.unwrap();
    let report = store.forget_person(ALICE).await.unwrap();
    assert_eq!(
        report.conversations_deleted, 1,
        "the one only she took part in"
    );
    // The shared conversation stays, without what was written from her words.
    assert_eq!(store.latest_summary(shared).await.unwrap(), None);
    assert_eq!(store.topics(shared).await.unwrap(), Default::default());
    assert_eq!(store.summary_counts().await.unwrap(), (0, 0));
    let jobs = store.background_jobs(ConversationId(0), 10).await.unwrap();
    assert!(
        jobs.iter().all(|j| j.summarise_through.is_none()),
        "{jobs:?}"
    );
}

async fn the_export_holds_tags_summaries_and_topics_and_forgetting_drops_them(db: TestDb) {
    let store = db.connect().await;
    let (id, messages) = conversation(&store, "chat:export", 2).await;
    let bob = UserId::new(1_300_000_000_000_000_004);
    assert!(!store.others_wrote(id, ALICE).await.unwrap());
    store
        .save_summary(id, summary(messages[1], "Alice planned a trip."))
        .await
        .unwrap();
    store
        .save_topics(
            id,
            Some("Trip"),
            Some("Travel"),
            &[Entity {
                kind: EntityKind::Place,
                name: "Lisbon".into(),
            }],
        )
        .await
        .unwrap();
    store
        .tag_conversation(id, "holidays", Some(ALICE))
        .await
        .unwrap();
    store.tag_conversation(id, "bobs", Some(bob)).await.unwrap();

    let data = store.personal_data(ALICE).await.unwrap();
    let exported = &data.conversations[0];
    assert_eq!(exported.category.as_deref(), Some("Travel"));
    assert_eq!(exported.title.as_deref(), Some("Trip"));
    assert_eq!(
        (
            exported.entities[0].kind.as_str(),
            exported.entities[0].name.as_str()
        ),
        ("place", "Lisbon")
    );
    assert_eq!(exported.summaries.len(), 1);
    assert_eq!(exported.summaries[0].text, "Alice planned a trip.");
    assert_eq!(exported.summaries[0].through, messages[1]);
    let tags: Vec<(&str, bool)> = exported
        .tags
        .iter()
        .map(|t| (t.tag.as_str(), t.by_you))
        .collect();
    assert_eq!(tags, vec![("bobs", false), ("holidays", true)]);
    let json = serde_json::to_value(&data).unwrap();
    assert_eq!(json["conversations"][0]["summaries"][0]["version"], 1);
    assert_eq!(json["conversations"][0]["tags"][1]["by_you"], true);

    // Bob writes in it: its summary now holds someone else's words.
    store
        .commit_turn(id, vec![NewMessage::user("me too").with_author(bob, "bob")])
        .await
        .unwrap();
    assert!(store.others_wrote(id, ALICE).await.unwrap());
    assert!(store.others_wrote(id, bob).await.unwrap());

    store.forget_person(bob).await.unwrap();
    let data = store.personal_data(ALICE).await.unwrap();
    let exported = &data.conversations[0];
    assert!(
        exported.summaries.is_empty(),
        "written from Bob's words too"
    );
    assert!(exported.entities.is_empty());
    assert_eq!(exported.category, None);
    let tags: Vec<(&str, bool)> = exported
        .tags
        .iter()
        .map(|t| (t.tag.as_str(), t.by_you))
        .collect();
    assert_eq!(
        tags,
        vec![("bobs", false), ("holidays", true)],
        "tags stay, nameless"
    );
}
