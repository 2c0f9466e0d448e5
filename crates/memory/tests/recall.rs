//! Embeddings, the vector index and hybrid recall against both databases: meaning-only hits,
//! scope (another person's, another guild's conversations and DMs never returned), replaced and
//! retention-deleted messages left out, the pending list resuming where embedding stopped, and
//! a new embedding model embedding everything again.
//!
//! Vectors come from FakeOllama's embedding function (a bag of concepts: "automobile" and "car"
//! are one), so a text and a query sharing no word can still be close.

#[macro_use]
mod common;

use std::time::{Duration, SystemTime};

use common::TestDb;
use mcpcord_memory::vectors::VectorIndex;
use mcpcord_memory::{
    ChannelId, ConversationId, GuildId, MessageId, NewMessage, RecallQuery, Scope, Snippet, Store,
    UserId,
};
use mcpcord_testkit::fake_ollama::embedding_vector;

on_both!(
    meaning_only_hits_are_recalled_and_scope_holds,
    replaced_and_expired_messages_are_never_recalled,
    pending_embeddings_resume_and_a_new_model_starts_over,
    the_texts_words_rerank_vector_hits_and_keywords_stand_alone_without_a_vector,
);

const GUILD: GuildId = GuildId::new(1_200_000_000_000_000_001);
const OTHER_GUILD: GuildId = GuildId::new(1_200_000_000_000_000_002);
const ALICE: UserId = UserId::new(1_200_000_000_000_000_003);
const BOB: UserId = UserId::new(1_200_000_000_000_000_004);
const MODEL: &str = "embed";
const DIMS: usize = 384;

const FACT: &str = "My favourite automobile is a crimson Volvo";
const QUERY: &str = "Which car do I like? Red?";

/// Stores `text` by `user` in a conversation `key` in `guild` (a DM without one).
async fn say(
    store: &Store,
    key: &str,
    guild: Option<GuildId>,
    user: UserId,
    text: &str,
) -> ConversationId {
    let scope = Scope {
        guild_id: guild,
        channel_id: Some(ChannelId::new(7)),
        user_id: Some(user),
    };
    common::talk(store, key, scope, user, text, &[]).await
}

/// Embeds every pending message (as the indexer does) and loads them into a fresh index.
async fn embed_all(store: &Store) -> VectorIndex {
    loop {
        let pending = store
            .pending_embeddings(MODEL, MessageId(0), 5)
            .await
            .unwrap();
        if pending.is_empty() {
            break;
        }
        let vectors: Vec<(MessageId, Vec<f32>)> = pending
            .iter()
            .map(|m| (m.id, embedding_vector(&m.content, DIMS)))
            .collect();
        store.save_embeddings(MODEL, &vectors).await.unwrap();
    }
    let index = VectorIndex::new(MODEL);
    let mut after = MessageId(0);
    loop {
        let page = store.embeddings_after(MODEL, after, 3).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.id;
        for stored in &page {
            assert!(index.insert(stored.id, stored.conversation, &stored.vector));
        }
    }
    index
}

/// Alice's recall of `text` in `guild`, leaving out conversation `current`.
async fn recall(
    store: &Store,
    index: &VectorIndex,
    guild: Option<GuildId>,
    current: Option<ConversationId>,
    text: &str,
) -> Vec<Snippet> {
    let conversations = store.recall_scope(ALICE, guild, current).await.unwrap();
    let vector = embedding_vector(text, DIMS);
    let query = RecallQuery {
        min_similarity: 0.5,
        ..query(&conversations, text, Some(&vector), Vec::new())
    };
    store.recall(Some(index), &query).await.unwrap()
}

/// A query for the 3 best snippets from `conversations`, ages halved at 30 days.
fn query<'a>(
    conversations: &'a [ConversationId],
    text: &'a str,
    vector: Option<&'a [f32]>,
    lists: Vec<Vec<MessageId>>,
) -> RecallQuery<'a> {
    RecallQuery {
        conversations,
        text,
        vector,
        lists,
        limit: 3,
        min_similarity: 0.3,
        half_life: Duration::from_secs(30 * 86_400),
        now: SystemTime::now(),
    }
}

/// Alice's recall in `GUILD` with the parts of a query given apart: the `text` whose words
/// re-rank, the `vector` (if any), other ranked `lists`.
async fn recall_with(
    store: &Store,
    index: &VectorIndex,
    text: &str,
    vector: Option<&[f32]>,
    lists: Vec<Vec<MessageId>>,
) -> Vec<Snippet> {
    let conversations = store.recall_scope(ALICE, Some(GUILD), None).await.unwrap();
    let query = query(&conversations, text, vector, lists);
    store.recall(Some(index), &query).await.unwrap()
}

fn texts(snippets: &[Snippet]) -> Vec<&str> {
    snippets.iter().map(|s| s.content.as_str()).collect()
}

async fn meaning_only_hits_are_recalled_and_scope_holds(db: TestDb) {
    let store = db.connect().await;
    let mine = say(&store, "a:1", Some(GUILD), ALICE, FACT).await;
    say(
        &store,
        "a:1",
        Some(GUILD),
        ALICE,
        "The weather in Paris is rainy",
    )
    .await;
    say(
        &store,
        "a:2",
        Some(GUILD),
        ALICE,
        "Quantum chromodynamics lecture notes",
    )
    .await;
    // The same fact where Alice must not see it: Bob's conversation, another guild, her DMs.
    say(
        &store,
        "b:1",
        Some(GUILD),
        BOB,
        "My favourite automobile is a crimson Ferrari",
    )
    .await;
    say(
        &store,
        "a:other",
        Some(OTHER_GUILD),
        ALICE,
        "My favourite automobile is a crimson Fiat",
    )
    .await;
    say(
        &store,
        "a:dm",
        None,
        ALICE,
        "My favourite automobile is a crimson Saab",
    )
    .await;
    let current = say(&store, "a:now", Some(GUILD), ALICE, QUERY).await;
    let index = embed_all(&store).await;
    assert_eq!(index.len(), 7);
    assert_eq!(store.embedded_count(MODEL).await.unwrap(), 7);

    let query_words: Vec<String> = QUERY
        .split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .collect();
    assert!(
        FACT.split(' ')
            .all(|w| !query_words.contains(&w.to_lowercase())),
        "the fact and the query share no word"
    );
    let found = recall(&store, &index, Some(GUILD), Some(current), QUERY).await;
    assert_eq!(
        texts(&found),
        [FACT],
        "only Alice's guild conversation, by meaning"
    );
    assert_eq!(found[0].conversation, mine);
    assert_eq!(found[0].author.as_deref(), Some("someone"));

    // In a DM, only her DMs.
    let in_dm = recall(&store, &index, None, None, QUERY).await;
    assert_eq!(texts(&in_dm), ["My favourite automobile is a crimson Saab"]);
    // Never the current conversation: asked from the fact's own conversation, nothing else fits.
    let from_mine = recall(&store, &index, Some(GUILD), Some(mine), QUERY).await;
    assert!(
        from_mine.iter().all(|s| s.conversation != mine),
        "{from_mine:?}"
    );
    // Bob sees his own, never Alice's.
    let bobs = store.recall_scope(BOB, Some(GUILD), None).await.unwrap();
    assert_eq!(bobs.len(), 1);
    assert!(!bobs.contains(&mine));
}

async fn replaced_and_expired_messages_are_never_recalled(db: TestDb) {
    let store = db.connect().await;
    let old = say(&store, "a:1", Some(GUILD), ALICE, FACT).await;
    let current = say(&store, "a:now", Some(GUILD), ALICE, QUERY).await;
    let index = embed_all(&store).await;
    assert_eq!(
        texts(&recall(&store, &index, Some(GUILD), Some(current), QUERY).await),
        [FACT]
    );
    // Regenerated away: kept, but out of the history, and out of recall.
    let fact = store.history(old, 10).await.unwrap()[0].id;
    store.mark_replaced(fact).await.unwrap();
    assert!(
        recall(&store, &index, Some(GUILD), Some(current), QUERY)
            .await
            .is_empty()
    );

    // Retention: the conversation goes, with its vectors, though the index still has the code.
    let again = say(&store, "a:2", Some(GUILD), ALICE, FACT).await;
    let index = embed_all(&store).await;
    assert_eq!(
        recall(&store, &index, Some(GUILD), Some(current), QUERY).await[0].conversation,
        again
    );
    store
        .set_retention(GUILD, Some(Duration::from_secs(3600)))
        .await
        .unwrap();
    let later = SystemTime::now() + Duration::from_secs(7200);
    assert!(store.sweep_expired(later).await.unwrap() >= 2);
    assert_eq!(store.embedded_count(MODEL).await.unwrap(), 0);
    assert!(
        recall(&store, &index, Some(GUILD), None, QUERY)
            .await
            .is_empty(),
        "deleted messages are never recalled"
    );
}

async fn pending_embeddings_resume_and_a_new_model_starts_over(db: TestDb) {
    let store = db.connect().await;
    for i in 0..5 {
        say(
            &store,
            "a:1",
            Some(GUILD),
            ALICE,
            &format!("message number {i}"),
        )
        .await;
    }
    let conversation = say(&store, "a:1", Some(GUILD), ALICE, "last").await;
    // Tool results and empty messages are not embedded.
    store
        .commit_turn(
            conversation,
            vec![
                NewMessage::assistant(""),
                NewMessage::tool_result("time", "12:00"),
                NewMessage::assistant("It is noon"),
            ],
        )
        .await
        .unwrap();
    let first = store
        .pending_embeddings(MODEL, MessageId(0), 3)
        .await
        .unwrap();
    assert_eq!(first.len(), 3);
    let vectors: Vec<(MessageId, Vec<f32>)> = first
        .iter()
        .map(|m| (m.id, embedding_vector(&m.content, DIMS)))
        .collect();
    store.save_embeddings(MODEL, &vectors).await.unwrap();
    // Saving twice keeps the first vector and fails nothing.
    store.save_embeddings(MODEL, &vectors).await.unwrap();
    // A restart asks from the start: the anti-join skips what is done.
    let rest = store
        .pending_embeddings(MODEL, MessageId(0), 100)
        .await
        .unwrap();
    let rest_texts: Vec<&str> = rest.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(
        rest_texts,
        ["message number 3", "message number 4", "last", "It is noon"]
    );
    assert!(rest.iter().all(|m| m.conversation == conversation));
    // Another model has everything to do.
    let other = store
        .pending_embeddings("other-model", MessageId(0), 100)
        .await
        .unwrap();
    assert_eq!(other.len(), 7);
    // Vectors read back as stored.
    let back = store
        .embeddings_of(MODEL, &[first[1].id, MessageId(999_999)])
        .await
        .unwrap();
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].vector, vectors[1].1);
}

async fn the_texts_words_rerank_vector_hits_and_keywords_stand_alone_without_a_vector(db: TestDb) {
    let store = db.connect().await;
    // By meaning the first is nearer "red car" (nothing else in it); the second holds the words.
    const NEAR: &str = "automobile crimson";
    const WORDS: &str = "red car zebra giraffe";
    say(&store, "a:1", Some(GUILD), ALICE, NEAR).await;
    say(&store, "a:2", Some(GUILD), ALICE, WORDS).await;
    say(&store, "a:3", Some(GUILD), ALICE, "Quantum chromodynamics").await;
    let index = embed_all(&store).await;
    let vector = embedding_vector("red car", DIMS);

    let by_meaning = recall_with(&store, &index, "", Some(&vector), Vec::new()).await;
    assert_eq!(
        texts(&by_meaning),
        [NEAR, WORDS],
        "no words: meaning decides"
    );
    let with_words = recall_with(&store, &index, "Red car?", Some(&vector), Vec::new()).await;
    assert_eq!(
        texts(&with_words),
        [WORDS, NEAR],
        "the hit holding the words comes first"
    );

    // Without a vector, keyword hits are recalled alone; beside one, never a hit outside the
    // vector hits (the unrelated message is below `min_similarity`).
    let keyword = store
        .keyword_search(&mcpcord_memory::SearchQuery::new(
            "quantum",
            mcpcord_memory::SearchScope::person(ALICE, Some(GUILD)),
        ))
        .await
        .unwrap();
    let hits: Vec<MessageId> = keyword.iter().map(|hit| hit.message_id).collect();
    assert_eq!(hits.len(), 1);
    let alone = recall_with(&store, &index, "quantum", None, vec![hits.clone()]).await;
    assert_eq!(texts(&alone), ["Quantum chromodynamics"]);
    let beside = recall_with(&store, &index, "red car", Some(&vector), vec![hits]).await;
    assert_eq!(texts(&beside), [WORDS, NEAR]);
}
