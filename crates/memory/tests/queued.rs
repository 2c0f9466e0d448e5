//! A person's message queued on the way to the model (`Store::conversation_with_message_queued`):
//! on SQLite its ids are given in memory and the write follows; what the store returned is what
//! is stored, in order, and writes that come after it (a model change, `/new`, forgetting a
//! person) find it written. On PostgreSQL the message is written before the call returns.

#[macro_use]
mod common;

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use common::{Kind, TestDb};
use futures::future::join_all;
use mcpcord_memory::{
    ChannelId, ConversationKey, GuildId, MemoryError, NewMessage, Role, Scope, UserId,
};

on_both!(queued_messages_are_stored_as_returned_and_in_order);

const GUILD: GuildId = GuildId::new(1_210_000_000_000_000_001);
const CHANNEL: ChannelId = ChannelId::new(1_210_000_000_000_000_002);
const ALICE: UserId = UserId::new(1_210_000_000_000_000_003);

fn scope() -> Scope {
    Scope {
        guild_id: Some(GUILD),
        channel_id: Some(CHANNEL),
        user_id: Some(ALICE),
    }
}

fn said(text: &str) -> NewMessage {
    NewMessage::user(text).with_author(ALICE, "alice")
}

async fn queued_messages_are_stored_as_returned_and_in_order(db: TestDb) {
    let store = db.connect().await;
    // 60 messages at once on 20 keys: three turns each, none known before.
    let queued = join_all((0..60).map(|n| {
        let store = store.clone();
        async move {
            let key = ConversationKey::new(format!("discord:channel:{}", n % 20));
            let message = said(&format!("m{n}"));
            store
                .conversation_with_message_queued(&key, scope(), Some(ALICE), message)
                .await
                .unwrap()
        }
    }))
    .await;
    let mut returned = Vec::new();
    for (started, written) in queued {
        written.wait().await.unwrap();
        returned.push(started);
    }
    let ids: BTreeSet<_> = returned.iter().map(|s| s.message.id).collect();
    assert_eq!(ids.len(), 60, "every message its own id");
    for key in 0..20 {
        let key = ConversationKey::new(format!("discord:channel:{key}"));
        let mut mine: Vec<_> = returned
            .iter()
            .filter(|s| s.conversation.key == key)
            .collect();
        let conversations: BTreeSet<_> = mine.iter().map(|s| s.conversation.id).collect();
        assert_eq!(conversations.len(), 1, "{key}: one conversation");
        let found = store.find_conversation(&key).await.unwrap().unwrap();
        assert_eq!(Some(&found.id), conversations.first());
        assert_eq!(found.owner, Some(ALICE));
        assert_eq!(found.scope, scope());
        if db.kind == Kind::Sqlite {
            // Created in memory with the first message: as stored.
            let created: Vec<_> = mine.iter().filter(|s| s.created).collect();
            assert_eq!(created.len(), 1, "{key}");
            let created = &created[0].conversation;
            assert_eq!(
                (&created.key, created.created_at),
                (&found.key, found.created_at)
            );
            assert_eq!(
                (created.title.as_ref(), created.model.as_ref()),
                (None, None)
            );
        }
        // What the store said it wrote is what the history reads back, in id order.
        mine.sort_by_key(|s| s.message.id);
        let expected: Vec<_> = mine.iter().map(|s| s.message.clone()).collect();
        assert_eq!(store.history(found.id, 10).await.unwrap(), expected);
        // The answer comes after the question.
        let answer = store
            .commit_turn(found.id, vec![NewMessage::assistant("ok")])
            .await
            .unwrap();
        assert!(answer[0] > expected.last().unwrap().id);
        let history = store.history(found.id, 10).await.unwrap();
        assert_eq!(history.last().unwrap().role, Role::Assistant);
    }
    store.close().await;
}

/// On SQLite ids are given from the largest the database ever gave, not the largest it holds:
/// the ids of deleted conversations and messages are not given again after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_ids_follow_the_largest_the_database_ever_gave() {
    let db = TestDb::new(Kind::Sqlite).await;
    let store = db.connect().await;
    let kept = ConversationKey::new("discord:channel:kept");
    let (first, written) = store
        .conversation_with_message_queued(&kept, scope(), Some(ALICE), said("hello"))
        .await
        .unwrap();
    written.wait().await.unwrap();
    // A DM conversation, the newest, removed by retention.
    let dm = ConversationKey::new("discord:dm:1");
    let dm_scope = Scope {
        guild_id: None,
        ..scope()
    };
    let gone = store
        .conversation_with_message(&dm, dm_scope, Some(ALICE), said("bye"))
        .await
        .unwrap();
    store
        .commit_turn(gone.conversation.id, vec![NewMessage::assistant("bye")])
        .await
        .unwrap();
    store.set_retention_outside_guilds(Some(Duration::from_secs(60)));
    let later = SystemTime::now() + Duration::from_secs(3600);
    assert_eq!(store.sweep_expired(later).await.unwrap(), 1);
    store.close().await;

    let store = db.connect().await;
    let (again, written) = store
        .conversation_with_message_queued(&dm, dm_scope, Some(ALICE), said("back"))
        .await
        .unwrap();
    written.wait().await.unwrap();
    assert!(again.created);
    assert!(again.conversation.id > gone.conversation.id);
    assert!(
        again.message.id.0 > gone.message.id.0 + 1,
        "past the answer too"
    );
    let (next, written) = store
        .conversation_with_message_queued(&kept, scope(), Some(ALICE), said("still here"))
        .await
        .unwrap();
    written.wait().await.unwrap();
    assert_eq!(next.conversation.id, first.conversation.id);
    assert!(next.message.id > again.message.id);
    let history = store.history(first.conversation.id, 10).await.unwrap();
    assert_eq!(history, [first.message, next.message]);
    store.close().await;
}

/// Writes that do not go through the queue come after what is queued, as they did when the
/// message was written before the model was asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_right_after_a_queued_message_come_after_it() {
    let db = TestDb::new(Kind::Sqlite).await;
    let store = db.connect().await;
    let key = ConversationKey::new("discord:channel:1");

    // A model chosen for the turn (`/chat model:`) is set on a conversation still queued.
    let (started, written) = store
        .conversation_with_message_queued(&key, scope(), Some(ALICE), said("first"))
        .await
        .unwrap();
    assert!(started.created);
    store
        .set_model(started.conversation.id, Some("qwen3"))
        .await
        .unwrap();
    written.wait().await.unwrap();
    let found = store.find_conversation(&key).await.unwrap().unwrap();
    assert_eq!(found.model.as_deref(), Some("qwen3"));

    // `/new` right after a message: the message stays in the conversation it was sent to,
    // which `/new` puts aside.
    let (second, written) = store
        .conversation_with_message_queued(&key, scope(), Some(ALICE), said("second"))
        .await
        .unwrap();
    let fresh = store.new_conversation(&key, scope(), None).await.unwrap();
    written.wait().await.unwrap();
    assert_eq!(second.conversation.id, started.conversation.id);
    let old = store.history(started.conversation.id, 10).await.unwrap();
    assert_eq!(old, [started.message, second.message]);
    let (third, written) = store
        .conversation_with_message_queued(&key, scope(), Some(ALICE), said("third"))
        .await
        .unwrap();
    written.wait().await.unwrap();
    assert_eq!(third.conversation.id, fresh.id);
    assert_eq!(store.history(fresh.id, 10).await.unwrap(), [third.message]);

    // Forgetting a person right after their message forgets that message too.
    let other = ConversationKey::new("discord:channel:2");
    let (last, written) = store
        .conversation_with_message_queued(&other, scope(), Some(ALICE), said("forget me"))
        .await
        .unwrap();
    store.forget_person(ALICE).await.unwrap();
    written.wait().await.unwrap();
    let left = store.history(last.conversation.id, 10).await.unwrap();
    assert!(
        left.iter()
            .all(|m| m.author.is_none() && m.content != "forget me"),
        "{left:?}"
    );
    store.close().await;
}

/// Two processes on one SQLite file, neither told that it shares it (`Store::set_shared`, set
/// from `discord.shard_ids`): both give the same ids. The queued write that loses fails with
/// the cause, nothing of it is stored, the process behaves as shared from then on, and its
/// next message goes to the conversation the other created. (Writes whose ids nobody saw yet
/// are simply written again with SQLite's ids: see `store.rs`'s concurrent writers.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_write_that_collides_fails_with_its_cause_and_leaves_nothing() {
    let db = TestDb::new(Kind::Sqlite).await;
    let (mine, theirs) = (db.connect().await, db.connect().await);
    let key = ConversationKey::new("discord:channel:1");
    let created = theirs
        .conversation_with_message(&key, scope(), Some(ALICE), said("theirs"))
        .await
        .unwrap();

    let (started, written) = mine
        .conversation_with_message_queued(&key, scope(), Some(ALICE), said("mine"))
        .await
        .unwrap();
    assert!(started.created, "this process knew no conversation there");
    let error = written.wait().await.unwrap_err();
    assert!(
        matches!(error, MemoryError::Conflict { .. }),
        "the cause, not a generic failure: {error:?}"
    );
    assert!(
        error.to_string().contains("send the message again"),
        "{error}"
    );
    let history = theirs.history(created.conversation.id, 10).await.unwrap();
    assert_eq!(history, std::slice::from_ref(&created.message));
    let conversations: i64 = {
        let url = db.url().to_owned();
        let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
            .await
            .unwrap();
        sqlx::query_scalar("SELECT COUNT(*) FROM conversations")
            .fetch_one(&mut conn)
            .await
            .unwrap()
    };
    assert_eq!(conversations, 1, "nothing half-written");

    // Sent again: this process now knows it shares the file (ids from SQLite, nothing kept
    // in memory), reads the conversation, and stores the message.
    let again = mine
        .conversation_with_message(&key, scope(), Some(ALICE), said("mine again"))
        .await
        .unwrap();
    assert_eq!(again.conversation.id, created.conversation.id);
    let history = mine.history(created.conversation.id, 10).await.unwrap();
    assert_eq!(history, [created.message, again.message]);
    mine.close().await;
    theirs.close().await;
}
