//! Reopening a conversation ("Continue this conversation" from a search) on both databases: the
//! conversation becomes the live one under the new key with its messages, the one live there
//! is archived (still readable), the old key is free, and an unknown id changes nothing.

#[macro_use]
mod common;

use common::{TestDb, talk};
use mcpcord_memory::{
    ChannelId, ConversationId, ConversationKey, GuildId, MemoryError, Scope, UserId,
};

on_both!(reopening_moves_a_conversation_to_a_new_place);

const GUILD: GuildId = GuildId::new(1_300_000_000_000_000_001);
const ALICE: UserId = UserId::new(1_300_000_000_000_000_002);

fn scope() -> Scope {
    Scope {
        guild_id: Some(GUILD),
        channel_id: Some(ChannelId::new(7)),
        user_id: Some(ALICE),
    }
}

async fn reopening_moves_a_conversation_to_a_new_place(db: TestDb) {
    let store = db.connect().await;
    let old = talk(
        &store,
        "discord:reply:1",
        scope(),
        ALICE,
        "the zeppelin keys",
        &["hangar nine"],
    )
    .await;
    // Archived by /new: still reopenable.
    let archived = talk(
        &store,
        "discord:dm:5",
        scope(),
        ALICE,
        "my diary",
        &["noted"],
    )
    .await;
    store
        .new_conversation(&ConversationKey::new("discord:dm:5"), scope(), Some(ALICE))
        .await
        .unwrap();
    let here = talk(&store, "discord:dm:5", scope(), ALICE, "pancakes", &[]).await;
    assert_ne!(here, archived);

    // The live one moves: the old key is free, its history comes along.
    let moved = store
        .reopen_conversation(old, &ConversationKey::new("discord:reply:99"))
        .await
        .unwrap();
    assert_eq!(moved.id, old);
    assert_eq!(moved.key.as_str(), "discord:reply:99");
    assert_eq!(moved.owner, Some(ALICE));
    let found = store
        .find_conversation(&ConversationKey::new("discord:reply:99"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, old);
    assert!(
        store
            .find_conversation(&ConversationKey::new("discord:reply:1"))
            .await
            .unwrap()
            .is_none()
    );
    let history = store.history(old, 10).await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].content, "the zeppelin keys");

    // The archived one comes back where another is live: that one is put aside, kept.
    let back = store
        .reopen_conversation(archived, &ConversationKey::new("discord:dm:5"))
        .await
        .unwrap();
    assert_eq!(back.id, archived);
    let live = store
        .find_conversation(&ConversationKey::new("discord:dm:5"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(live.id, archived);
    assert_eq!(store.history(here, 10).await.unwrap().len(), 1);
    // Reopening it again where it is changes nothing.
    let same = store
        .reopen_conversation(archived, &ConversationKey::new("discord:dm:5"))
        .await
        .unwrap();
    assert_eq!(same.id, archived);

    // An unknown conversation: an error, and the live one stays.
    let missing = store
        .reopen_conversation(
            ConversationId(9_999_999),
            &ConversationKey::new("discord:dm:5"),
        )
        .await;
    assert!(
        matches!(missing, Err(MemoryError::NotFound { .. })),
        "{missing:?}"
    );
    let live = store
        .find_conversation(&ConversationKey::new("discord:dm:5"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(live.id, archived);
    store.close().await;
}
