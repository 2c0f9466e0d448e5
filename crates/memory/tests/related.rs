//! Related conversations on both databases: a person's other conversation whose newest
//! summary is close in meaning is found, an unrelated one and the current one are not, nor
//! another person's, nor one from another guild, nor a summary under another embedding model;
//! and the `related` preference is stored per level.

#[macro_use]
mod common;

use common::TestDb;
use mcpcord_memory::{
    ChannelId, ConversationId, ConversationKey, GuildId, NewMessage, NewSummary, PreferenceLevel,
    RelatedQuery, Scope, Store, UserId,
};

on_both!(
    only_the_persons_close_conversations_in_scope_are_related,
    the_related_switch_is_stored_per_level,
);

const GUILD: GuildId = GuildId::new(1_400_000_000_000_000_001);
const OTHER_GUILD: GuildId = GuildId::new(1_400_000_000_000_000_002);
const ALICE: UserId = UserId::new(1_400_000_000_000_000_003);
const BOB: UserId = UserId::new(1_400_000_000_000_000_004);

/// A conversation `key` of `who` in `guild` with one exchange and a summary embedded by
/// `model` as `vector`.
async fn summarised(
    store: &Store,
    key: &str,
    who: UserId,
    guild: GuildId,
    model: &str,
    vector: Vec<f32>,
) -> ConversationId {
    let scope = Scope {
        guild_id: Some(guild),
        channel_id: Some(ChannelId::new(7)),
        user_id: Some(who),
    };
    let conversation = store
        .conversation(&ConversationKey::new(key), scope, Some(who))
        .await
        .unwrap();
    let ids = store
        .commit_turn(
            conversation.id,
            vec![
                NewMessage::user(format!("about {key}")).with_author(who, "someone"),
                NewMessage::assistant("an answer").with_model("m"),
            ],
        )
        .await
        .unwrap();
    let summary = NewSummary {
        through: ids[1],
        text: format!("They talked about {key}."),
        model: "m".into(),
        tokens: 10,
        vector: Some((model.into(), vector)),
    };
    store.save_summary(conversation.id, summary).await.unwrap();
    conversation.id
}

async fn only_the_persons_close_conversations_in_scope_are_related(db: TestDb) {
    let store = db.connect().await;
    let current = summarised(
        &store,
        "chat:now",
        ALICE,
        GUILD,
        "embed",
        vec![1.0, 0.0, 0.1],
    )
    .await;
    let close = summarised(
        &store,
        "chat:close",
        ALICE,
        GUILD,
        "embed",
        vec![0.9, 0.0, 0.2],
    )
    .await;
    let near = summarised(
        &store,
        "chat:near",
        ALICE,
        GUILD,
        "embed",
        vec![0.8, 0.3, 0.0],
    )
    .await;
    let _far = summarised(
        &store,
        "chat:far",
        ALICE,
        GUILD,
        "embed",
        vec![0.0, 1.0, 0.0],
    )
    .await;
    let _bobs = summarised(&store, "chat:bob", BOB, GUILD, "embed", vec![1.0, 0.0, 0.1]).await;
    let _away = summarised(
        &store,
        "chat:away",
        ALICE,
        OTHER_GUILD,
        "embed",
        vec![1.0, 0.0, 0.1],
    )
    .await;
    let _model = summarised(
        &store,
        "chat:model",
        ALICE,
        GUILD,
        "other",
        vec![1.0, 0.0, 0.1],
    )
    .await;

    let mut query = RelatedQuery {
        user: ALICE,
        guild: Some(GUILD),
        current,
        model: "embed",
        vector: &[1.0, 0.0, 0.1],
        min_similarity: 0.9,
        limit: 3,
    };
    let found = store.related_conversations(&query).await.unwrap();
    let ids: Vec<_> = found.iter().map(|hit| hit.conversation).collect();
    assert_eq!(ids, vec![close, near], "{found:?}");
    assert!(found[0].similarity > found[1].similarity);
    assert!(found.iter().all(|hit| hit.similarity >= 0.9));

    query.limit = 1;
    let best = store.related_conversations(&query).await.unwrap();
    assert_eq!(best.len(), 1);
    assert_eq!(best[0].conversation, close);

    query.limit = 3;
    query.min_similarity = 0.99;
    let strict = store.related_conversations(&query).await.unwrap();
    assert_eq!(
        strict
            .iter()
            .map(|hit| hit.conversation)
            .collect::<Vec<_>>(),
        vec![close]
    );

    // A newer summary replaces the older one's vector: the close one moves away.
    let ids = store
        .commit_turn(close, vec![NewMessage::assistant("more").with_model("m")])
        .await
        .unwrap();
    let newer = NewSummary {
        through: ids[0],
        text: "Now something else.".into(),
        model: "m".into(),
        tokens: 10,
        vector: Some(("embed".into(), vec![0.0, 0.0, 1.0])),
    };
    store.save_summary(close, newer).await.unwrap();
    assert!(
        store
            .related_conversations(&query)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn the_related_switch_is_stored_per_level(db: TestDb) {
    let store = db.connect().await;
    let scope = Scope {
        guild_id: Some(GUILD),
        channel_id: Some(ChannelId::new(7)),
        user_id: Some(ALICE),
    };
    let before = store.get_preferences(&scope).await.unwrap();
    assert_eq!((before.user.related, before.guild.related), (None, None));
    store
        .set_related(PreferenceLevel::User(ALICE), Some(false))
        .await
        .unwrap();
    store
        .set_related(PreferenceLevel::Guild(GUILD), Some(true))
        .await
        .unwrap();
    store
        .set_recall(PreferenceLevel::User(ALICE), Some(true))
        .await
        .unwrap();
    let after = store.get_preferences(&scope).await.unwrap();
    assert_eq!(after.user.related, Some(false));
    assert_eq!(after.user.recall, Some(true), "switches are kept apart");
    assert_eq!(after.guild.related, Some(true));
    store
        .set_related(PreferenceLevel::User(ALICE), None)
        .await
        .unwrap();
    let cleared = store.get_preferences(&scope).await.unwrap();
    assert_eq!(cleared.user.related, None);
    assert_eq!(cleared.user.recall, Some(true));
}
