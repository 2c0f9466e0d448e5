//! The group commit's tests: concurrent writes landing, order across batches, bookkeeping.

use futures::future::join_all;

use crate::{ConversationId, ConversationKey, MemoryError, NewMessage, Scope, Store, UserId};

async fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/bot.sqlite", dir.path().display());
    (dir, Store::connect(&url).await.unwrap())
}

#[tokio::test]
async fn concurrent_turns_all_land_and_a_failing_write_fails_alone() {
    let (_dir, store) = store().await;
    // 100 conversations created at once: one transaction or a few, every one created once.
    let created = join_all((0..100).map(|n| {
        let store = store.clone();
        async move {
            let key = ConversationKey::new(format!("c{n}"));
            store
                .conversation(&key, Scope::default(), Some(UserId::new(n)))
                .await
        }
    }))
    .await;
    let ids: Vec<ConversationId> = created.into_iter().map(|c| c.unwrap().id).collect();
    assert_eq!(
        ids.iter().collect::<std::collections::BTreeSet<_>>().len(),
        100
    );

    // Their first messages at once, plus one for a conversation that does not exist.
    let missing = ConversationId(9_999);
    let writes = ids.iter().copied().chain([missing]).map(|id| {
        let store = store.clone();
        async move {
            let message = NewMessage::user(format!("hello from {id}"));
            (id, store.add_user_message(id, message).await)
        }
    });
    for (id, result) in join_all(writes).await {
        if id == missing {
            assert!(
                matches!(result, Err(MemoryError::NotFound { .. })),
                "the bad write fails alone, with its own error: {result:?}"
            );
        } else {
            result.unwrap();
        }
    }
    for id in ids {
        let history = store.history(id, 10).await.unwrap();
        assert_eq!(history.len(), 1, "conversation {id}");
        assert_eq!(history[0].content, format!("hello from {id}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bookkeeping_shares_the_queue_and_a_failing_record_fails_alone() {
    use crate::usage::UtcDay;
    use crate::{GuildId, MessageId, PostId};

    let (_dir, store) = store().await;
    let conversation = store
        .conversation(&ConversationKey::new("c"), Scope::default(), None)
        .await
        .unwrap();
    let answer = store
        .add_user_message(conversation.id, NewMessage::user("hello"))
        .await
        .unwrap();
    let day = UtcDay(20_000);
    let (user, guild) = (UserId::new(7), GuildId::new(8));
    // Fifty answers' records at once, and one for a message that is not stored.
    let usage = (0..50).map(|_| {
        let store = store.clone();
        async move { store.add_usage(day, Some(user), Some(guild), 10).await }
    });
    let (one, two) = ([PostId::new(1)], [PostId::new(2), PostId::new(3)]);
    let missing = store.set_discord_message_ids(MessageId(9_999), &one);
    let posts = store.set_discord_message_ids(answer, &two);
    let (usage, missing, posts) = tokio::join!(join_all(usage), missing, posts);
    assert!(usage.iter().all(Result::is_ok), "{usage:?}");
    assert!(
        matches!(missing, Err(MemoryError::NotFound { .. })),
        "the record of a message not stored fails alone: {missing:?}"
    );
    posts.unwrap();
    let counted = store.usage_on(day, Some(user), Some(guild)).await.unwrap();
    assert_eq!((counted.user, counted.guild), (500, 500));
    assert_eq!(
        store.discord_message_ids(answer).await.unwrap(),
        two.to_vec()
    );
}
#[tokio::test]
async fn one_conversation_keeps_its_order_across_batches() {
    let (_dir, store) = store().await;
    let key = ConversationKey::new("ordered");
    let conversation = store
        .conversation(&key, Scope::default(), None)
        .await
        .unwrap();
    // A turn's own writes come one after the other; others' writes crowd the batches.
    let noise = join_all((0..50).map(|n| {
        let store = store.clone();
        async move {
            let key = ConversationKey::new(format!("noise{n}"));
            let c = store.conversation(&key, Scope::default(), None).await?;
            store
                .commit_turn(c.id, vec![NewMessage::assistant("noise")])
                .await
        }
    }));
    let ordered = async {
        for n in 0..20 {
            store
                .add_user_message(conversation.id, NewMessage::user(format!("q{n}")))
                .await?;
            store
                .commit_turn(
                    conversation.id,
                    vec![NewMessage::assistant(format!("a{n}"))],
                )
                .await?;
        }
        Ok::<_, MemoryError>(())
    };
    let (noise, ordered) = tokio::join!(noise, ordered);
    ordered.unwrap();
    assert!(noise.iter().all(Result::is_ok));
    let history = store.history(conversation.id, 100).await.unwrap();
    let texts: Vec<&str> = history.iter().map(|m| m.content.as_str()).collect();
    let expected: Vec<String> = (0..20)
        .flat_map(|n| [format!("q{n}"), format!("a{n}")])
        .collect();
    assert_eq!(texts, expected);
}

#[tokio::test]
async fn a_batch_without_failures_commits_whole_and_indexed() {
    let (_dir, store) = store().await;
    let ids: Vec<ConversationId> = join_all((0..100).map(|n| {
        let store = store.clone();
        async move {
            let key = ConversationKey::new(format!("c{n}"));
            let created = store.conversation(&key, Scope::default(), None).await;
            created.unwrap().id
        }
    }))
    .await;
    // A hundred messages at once: one batch (the writer has not run yet), written without a
    // savepoint per message since none fails.
    let writes = ids.iter().map(|&id| {
        let store = store.clone();
        async move {
            let text = format!("message {id}: shared words");
            store.add_user_message(id, NewMessage::user(text)).await
        }
    });
    for written in join_all(writes).await {
        written.unwrap();
    }
    for &id in &ids {
        let history = store.history(id, 10).await.unwrap();
        assert_eq!(history.len(), 1, "conversation {id}");
        assert_eq!(history[0].content, format!("message {id}: shared words"));
    }
    let indexed: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM messages_fts WHERE messages_fts MATCH 'shared'")
            .fetch_one(&store.pool)
            .await
            .unwrap();
    assert_eq!(indexed, 100, "every message is in the full-text index");
}
