//! Hybrid search at 100k messages (1M with `MCPCORD_BENCH_MESSAGES=1000000`), on SQLite and
//! PostgreSQL (`TEST_DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/test`; a schema
//! of its own, dropped at the end).
//!
//! The corpus is synthetic chat: words drawn from a 5,000-word vocabulary with Zipf
//! frequencies, 5–30 words a message, 100 messages a conversation, conversations spread over
//! 8 guilds (a tenth outside any guild) and 50 people; every message has a 384-dimension vector
//! clustered like real embeddings (a thousand topics of twenty subtopics, as in the `vectors`
//! bench). Per database it reports:
//!
//! - writing the corpus (the keyword index kept by the triggers / generated column) and its
//!   vectors; then the statistics each database gathers on its own soon after a bulk load
//!   (`settle`);
//! - loading the in-process vector index from the database, as the indexer does at start, and
//!   the RSS it added per million messages: as measured, then once the heap's freed pages are
//!   given back (glibc keeps the loader's freed pages, 10,000 vectors of 1.5 kB a page, in
//!   its per-thread arenas), and what the index itself holds. What stays above the index is
//!   the database's own: SQLite's page cache (2 MB per pooled connection), the driver's
//!   buffers and threads; fixed costs, so at 100 k, scaled to a million, they weigh ten times
//!   what they do at 1 M;
//! - keyword search p50 / p95 from a person's scope and the operator's (two mid-frequency words,
//!   and one frequent word: the slow case of both indexes);
//! - the hybrid recall query p50 / p95, as a turn runs it with a query vector: the person's
//!   scope, then the vector candidates re-ranked exactly from the database and by the text's
//!   words, fused by reciprocal rank with recency decay (`Store::recall`); and its parts (the
//!   scope query, the scoped code scan, reading the candidates' stored vectors);
//! - recall@10 of the vector part (binary codes: a Hamming shortlist ranked by agreement with the
//!   query, its top 200 re-ranked exactly from the database) against exact search, over every
//!   stored vector and over the person's scope.
//!
//! Run with `cargo bench -p mcpcord-memory --bench search`; criterion then times the person's
//! hybrid query.

use std::time::{Duration, Instant};

mod common;

use common::{Rng, Space, release_free_heap, rss_bytes};
use criterion::Criterion;
use mcpcord_memory::vectors::{DEFAULT_CANDIDATES, VectorIndex, cosine, rerank};
use mcpcord_memory::{GuildId, MessageId, RecallQuery, SearchQuery, SearchScope, Store, UserId};
use sqlx::Connection;

/// Messages in the corpus unless `MCPCORD_BENCH_MESSAGES` says otherwise.
const DEFAULT_MESSAGES: usize = 100_000;
const PER_CONVERSATION: usize = 100;
const GUILDS: u64 = 8;
const PEOPLE: u64 = 50;
const VOCABULARY: usize = 5_000;
/// Queries per kind for the percentiles.
const QUERIES: usize = 100;
/// Rows per insert transaction.
const BATCH: usize = 5_000;
/// The embedding model the vectors are stored under.
const MODEL: &str = "bench";
/// Queries compared with exact search for recall@10 (each reads every vector once).
const EXACT_QUERIES: usize = 30;
const TOP: usize = 10;
/// The vectors' generator's seed: the same corpus on every run and database.
const VECTOR_SEED: u64 = 0x2545_F491_4F6C_DD1D;
/// The query vectors' seed.
const QUERY_SEED: u64 = 0x9E37_79B9;

fn main() {
    let messages = std::env::var("MCPCORD_BENCH_MESSAGES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(DEFAULT_MESSAGES);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut criterion = Criterion::default()
        .configure_from_args()
        .sample_size(50)
        .measurement_time(Duration::from_secs(5));

    let space = Space::new(&mut Rng(42));
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}/bench.sqlite", dir.path().display());
    runtime.block_on(populate(&sqlite, messages, &space));
    bench("SQLite", &sqlite, &runtime, &mut criterion, &space);

    let server = std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let schema = format!("mcpcord_bench_{}", uuid::Uuid::new_v4().simple());
    runtime.block_on(admin(&server, &format!("CREATE SCHEMA {schema}")));
    let separator = if server.contains('?') { '&' } else { '?' };
    let postgres = format!("{server}{separator}options[search_path]={schema}");
    runtime.block_on(populate(&postgres, messages, &space));
    bench("PostgreSQL", &postgres, &runtime, &mut criterion, &space);
    runtime.block_on(admin(&server, &format!("DROP SCHEMA {schema} CASCADE")));
    criterion.final_summary();
}

/// Runs one statement on the server (not in the bench's schema).
async fn admin(server: &str, sql: &str) {
    let mut conn = sqlx::PgConnection::connect(server)
        .await
        .unwrap_or_else(|e| panic!("the benchmark needs PostgreSQL at {server}: {e}"));
    sqlx::query(sql).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
}

/// A small deterministic generator (xorshift64*): the same corpus on every run and database.
struct Words(u64);

impl Words {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A word rank with Zipf-like frequencies: rank r about as often as 1 / r.
    fn zipf(&mut self) -> usize {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        let rank = (VOCABULARY as f64).powf(u);
        (rank as usize).clamp(1, VOCABULARY) - 1
    }

    fn sentence(&mut self) -> String {
        let count = 5 + self.below(26) as usize;
        (0..count)
            .map(|_| word(self.zipf()))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The word of a rank: letters only, distinct per rank.
fn word(rank: usize) -> String {
    let letters = b"abcdefghijklmnopqrstuvwxyz";
    let mut n = rank + 26 * 26;
    let mut out = String::new();
    while n > 0 {
        out.push(letters[n % 26] as char);
        n /= 26;
    }
    out
}

fn guild_of(conversation: u64) -> Option<u64> {
    (!conversation.is_multiple_of(10)).then_some(1 + conversation % GUILDS)
}

fn person_of(conversation: u64) -> u64 {
    1_000 + conversation % PEOPLE
}

/// Writes the corpus through plain SQL in batches (the triggers and the generated column index
/// it as the store's writes would), after the store created the schema; then its vectors
/// through the store, as the indexer saves them. Message `i` gets id `i + 1`.
async fn populate(url: &str, messages: usize, space: &Space) {
    let store = Store::connect(url).await.unwrap();
    store.close().await;
    sqlx::any::install_default_drivers();
    let any_url = if url.starts_with("sqlite") {
        format!("{url}?mode=rwc")
    } else {
        url.to_owned()
    };
    let pool = sqlx::AnyPool::connect(&any_url).await.unwrap();
    let started = Instant::now();
    let now = 1_760_000_000_000_i64;
    let conversations = messages.div_ceil(PER_CONVERSATION) as u64;
    let mut words = Words(0x9E37_79B9_7F4A_7C15);
    for conversation in 0..conversations {
        sqlx::query(
            "INSERT INTO conversations (id, key, guild_id, channel_id, user_id, owner_id, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5, $6, $6)",
        )
        .bind(conversation as i64 + 1)
        .bind(format!("bench:{conversation}"))
        .bind(guild_of(conversation).map(|g| g as i64))
        .bind(conversation as i64 % 40)
        .bind(person_of(conversation) as i64)
        .bind(now)
        .execute(&pool)
        .await
        .unwrap();
    }
    let mut written = 0;
    while written < messages {
        let mut tx = pool.begin().await.unwrap();
        for index in written..(written + BATCH).min(messages) {
            let conversation = (index / PER_CONVERSATION) as u64;
            let user = index.is_multiple_of(2);
            let age_ms = words.below(365 * 86_400_000) as i64;
            sqlx::query(
                "INSERT INTO messages (conversation_id, turn_id, role, author_id, content, \
                 created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(conversation as i64 + 1)
            .bind(format!("t{index}"))
            .bind(if user { "user" } else { "assistant" })
            .bind(user.then(|| person_of(conversation) as i64))
            .bind(words.sentence())
            .bind(now - age_ms)
            .execute(&mut *tx)
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
        written = (written + BATCH).min(messages);
    }
    let last: i64 = sqlx::query_scalar("SELECT MAX(id) FROM messages")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(last, messages as i64, "message ids are 1..=N");
    pool.close().await;
    println!(
        "{}: {messages} messages written and keyword-indexed in {:.1} s",
        backend(url),
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let store = Store::connect(url).await.unwrap();
    let mut rng = Rng(VECTOR_SEED);
    let mut written = 0;
    while written < messages {
        let end = (written + BATCH).min(messages);
        let batch: Vec<(MessageId, Vec<f32>)> = (written..end)
            .map(|i| (MessageId(i as i64 + 1), space.vector(&mut rng)))
            .collect();
        store.save_embeddings(MODEL, &batch).await.unwrap();
        written = end;
    }
    store.close().await;
    println!(
        "{}: {messages} vectors stored in {:.1} s",
        backend(url),
        started.elapsed().as_secs_f64()
    );
    settle(url).await;
}

/// What a database does on its own soon after a bulk load, done at once: PostgreSQL's
/// autovacuum analyses the grown tables (and merges the GIN index's pending list) within a
/// minute; SQLite has no such daemon, so its statistics are gathered too (`ANALYZE`), as
/// `PRAGMA optimize` would. Without statistics PostgreSQL plans a frequent word's search as if
/// it were rare.
async fn settle(url: &str) {
    let sql = if url.starts_with("sqlite") {
        "ANALYZE"
    } else {
        "VACUUM ANALYZE"
    };
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    sqlx::query(sql).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
}

fn backend(url: &str) -> &'static str {
    if url.starts_with("sqlite") {
        "SQLite"
    } else {
        "PostgreSQL"
    }
}

/// The query kinds: a name, the words, the scope.
fn queries() -> Vec<(&'static str, String, SearchScope)> {
    let person = person_of(1);
    let guild = guild_of(1).unwrap();
    let pair = format!("{} {}", word(40), word(90));
    vec![
        (
            "person, two words",
            pair.clone(),
            SearchScope::guild(UserId::new(person), GuildId::new(guild)),
        ),
        ("operator, two words", pair, SearchScope::operator(None)),
        (
            "person, a frequent word",
            word(0),
            SearchScope::guild(UserId::new(person), GuildId::new(guild)),
        ),
        (
            "operator, a frequent word",
            word(0),
            SearchScope::operator(None),
        ),
    ]
}

fn bench(
    name: &str,
    url: &str,
    runtime: &tokio::runtime::Runtime,
    criterion: &mut Criterion,
    space: &Space,
) {
    let store = runtime.block_on(Store::connect(url)).unwrap();
    let index = runtime.block_on(load(name, &store));
    let (store, index) = (&store, &index);
    for (kind, words, scope) in queries() {
        let query = &SearchQuery::new(words, scope);
        let (samples, found) = runtime.block_on(sample(move || async move {
            store.keyword_search(query).await.unwrap().len()
        }));
        let (p50, p95) = percentiles(samples);
        println!(
            "{name}: keyword search, {kind}: p50 {:.2} ms, p95 {:.2} ms ({found} hits)",
            ms(p50),
            ms(p95)
        );
    }

    let mut rng = Rng(QUERY_SEED);
    let vectors: Vec<Vec<f32>> = (0..QUERIES).map(|_| space.vector(&mut rng)).collect();
    let mut next = vectors.iter().cycle();
    let (samples, found) = runtime.block_on(sample(move || {
        let vector = next.next().unwrap();
        hybrid(store, index, vector)
    }));
    let (p50, p95) = percentiles(samples);
    println!(
        "{name}: hybrid recall, person, a sentence: p50 {:.2} ms, p95 {:.2} ms ({found} snippets)",
        ms(p50),
        ms(p95)
    );

    runtime.block_on(parts(name, store, index, &vectors));

    let recall = runtime.block_on(vector_recall(
        store,
        index,
        space,
        &vectors[..EXACT_QUERIES],
    ));
    println!(
        "{name}: vector part recall@{TOP} against exact search: {:.3} over every vector, \
         {:.3} over the person's scope",
        recall.0, recall.1
    );

    let vector = vectors[0].clone();
    criterion.bench_function(&format!("{name} hybrid recall, person"), |b| {
        b.to_async(runtime).iter(|| hybrid(store, index, &vector))
    });
    runtime.block_on(store.close());
}

/// Times `run` `QUERIES` times, after ten runs to warm the caches; with what the last gave.
async fn sample<F: std::future::Future<Output = usize>>(
    mut run: impl FnMut() -> F,
) -> (Vec<Duration>, usize) {
    for _ in 0..10 {
        run().await;
    }
    let mut samples = Vec::with_capacity(QUERIES);
    let mut last = 0;
    for _ in 0..QUERIES {
        let started = Instant::now();
        last = run().await;
        samples.push(started.elapsed());
    }
    (samples, last)
}

/// Loads the in-process index from the database in pages, as the indexer does at start;
/// prints the time and the RSS it added.
async fn load(name: &str, store: &Store) -> VectorIndex {
    release_free_heap();
    let before = rss_bytes();
    let started = Instant::now();
    let index = VectorIndex::new(MODEL);
    let mut after = MessageId(0);
    loop {
        let page = store.embeddings_after(MODEL, after, 10_000).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.id;
        for e in &page {
            index.insert(e.id, e.conversation, &e.vector);
        }
    }
    index.shrink_to_fit();
    let elapsed = started.elapsed();
    let added = rss_bytes().saturating_sub(before);
    release_free_heap();
    let held = rss_bytes().saturating_sub(before);
    let per_million = |bytes: usize| bytes as f64 / index.len().max(1) as f64 * 1e6 / 1_048_576.0;
    println!(
        "{name}: {} vectors loaded into the index in {:.2} s; RSS added {:.1} MB per million, \
         {:.1} MB once the loader's freed pages are given back (malloc_trim); the index holds \
         {:.1} MB per million",
        index.len(),
        elapsed.as_secs_f64(),
        per_million(added),
        per_million(held),
        per_million(index.heap_bytes()),
    );
    index
}

/// The person's hybrid recall, as a turn runs it with a query vector: the person's scope, then
/// the vector candidates re-ranked from the database, re-ranked by the text's words, fused with
/// recency. How many snippets.
async fn hybrid(store: &Store, index: &VectorIndex, vector: &[f32]) -> usize {
    let person = UserId::new(person_of(1));
    let guild = guild_of(1).map(GuildId::new);
    let text = format!("{} {}", word(40), word(90));
    let conversations = store.recall_scope(person, guild, None).await.unwrap();
    let query = RecallQuery {
        conversations: &conversations,
        text: &text,
        vector: Some(vector),
        lists: Vec::new(),
        limit: 3,
        min_similarity: 0.0,
        half_life: Duration::from_secs(30 * 86_400),
        now: std::time::SystemTime::now(),
    };
    store.recall(Some(index), &query).await.unwrap().len()
}

/// Where a person's hybrid recall spends its time: the scope query, the scoped code scan,
/// reading the candidates' stored vectors; p50 / p95 of each.
async fn parts(name: &str, store: &Store, index: &VectorIndex, vectors: &[Vec<f32>]) {
    let person = UserId::new(person_of(1));
    let guild = guild_of(1).map(GuildId::new);
    let (samples, found) =
        sample(|| async { store.recall_scope(person, guild, None).await.unwrap().len() }).await;
    report(name, "scope", samples, found, "conversations");
    let scope = store.recall_scope(person, guild, None).await.unwrap();
    let mut next = vectors.iter().cycle();
    let (samples, found) = sample(|| {
        let vector = next.next().unwrap();
        let found = index
            .candidates(vector, Some(&scope), DEFAULT_CANDIDATES)
            .len();
        async move { found }
    })
    .await;
    report(name, "scoped code scan", samples, found, "candidates");
    let candidates = index.candidates(&vectors[0], Some(&scope), DEFAULT_CANDIDATES);
    let (samples, found) =
        sample(|| async { store.vectors_of(MODEL, &candidates).await.unwrap().len() }).await;
    report(name, "candidates' stored vectors", samples, found, "read");
}

fn report(name: &str, part: &str, samples: Vec<Duration>, found: usize, what: &str) {
    let (p50, p95) = percentiles(samples);
    println!(
        "{name}: hybrid recall part, {part}: p50 {:.2} ms, p95 {:.2} ms ({found} {what})",
        ms(p50),
        ms(p95)
    );
}

/// Recall@10 of the vector part, over every stored vector and over the person's scope: Hamming
/// candidates (scoped: only the scope's codes) re-ranked exactly from the database, against the
/// exact top 10 (the vectors generated again, in one pass for all queries).
async fn vector_recall(
    store: &Store,
    index: &VectorIndex,
    space: &Space,
    queries: &[Vec<f32>],
) -> (f64, f64) {
    let person = UserId::new(person_of(1));
    let scope = store
        .recall_scope(person, guild_of(1).map(GuildId::new), None)
        .await
        .unwrap();
    let mut found = Vec::with_capacity(queries.len());
    let mut found_scoped = Vec::with_capacity(queries.len());
    for query in queries {
        found.push(reranked(store, index, query, None).await);
        found_scoped.push(reranked(store, index, query, Some(&scope)).await);
    }
    let in_scope: std::collections::HashSet<i64> = scope.iter().map(|c| c.0).collect();
    let mut best = vec![Vec::with_capacity(TOP + 1); queries.len()];
    let mut best_scoped = best.clone();
    let mut rng = Rng(VECTOR_SEED);
    for i in 0..index.len() {
        let vector = space.vector(&mut rng);
        let id = MessageId(i as i64 + 1);
        let scoped = in_scope.contains(&((i / PER_CONVERSATION) as i64 + 1));
        for (q, query) in queries.iter().enumerate() {
            let similarity = cosine(query, &vector);
            keep_best(&mut best[q], similarity, id);
            if scoped {
                keep_best(&mut best_scoped[q], similarity, id);
            }
        }
    }
    (
        share_found(&found, &best),
        share_found(&found_scoped, &best_scoped),
    )
}

/// The top 10 of the index's candidates (among `scope`'s conversations) re-ranked exactly.
async fn reranked(
    store: &Store,
    index: &VectorIndex,
    query: &[f32],
    scope: Option<&[mcpcord_memory::ConversationId]>,
) -> Vec<MessageId> {
    let candidates = index.candidates(query, scope, DEFAULT_CANDIDATES);
    let pairs = store.vectors_of(MODEL, &candidates).await.unwrap();
    rerank(query, &pairs, TOP)
        .into_iter()
        .map(|(id, _)| id)
        .collect()
}

/// Keeps `top` the best 10 offered, best first.
fn keep_best(top: &mut Vec<(f32, MessageId)>, similarity: f32, id: MessageId) {
    if top.len() < TOP || similarity > top[TOP - 1].0 {
        top.push((similarity, id));
        top.sort_by(|a, b| b.0.total_cmp(&a.0));
        top.truncate(TOP);
    }
}

/// The share of the exact top 10s found.
fn share_found(found: &[Vec<MessageId>], truth: &[Vec<(f32, MessageId)>]) -> f64 {
    let hits: usize = found
        .iter()
        .zip(truth)
        .map(|(got, truth)| {
            got.iter()
                .filter(|id| truth.iter().any(|(_, t)| t == *id))
                .count()
        })
        .sum();
    hits as f64 / (found.len() * TOP) as f64
}

fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.95))
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
