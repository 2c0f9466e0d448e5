//! The in-process vector index at 100 k and 1 M synthetic 384-dimension vectors: query p50 /
//! p95 (a Hamming shortlist ranked by agreement, its top 200 re-ranked exactly, top 10),
//! recall@10 against exact search, build time, RSS added per million vectors, and (100 k,
//! SQLite) loading the index from the store.
//!
//! The vectors are clustered like real embeddings, in two levels: a thousand random topics with
//! twenty subtopics each; a vector is its topic, plus its subtopic's direction (weight 0.6), plus
//! noise (weight 0.4), normalized; queries are fresh vectors drawn the same way. (With flat noise
//! as large as the topic itself, nearly random data, the binary codes find far less: recall@10
//! about 0.67 at 100 k; real embeddings are structured.) Re-ranking reads the
//! f32 vectors from RAM here (in the bot they come from the database by primary key), so the
//! query time is the index's own.
//!
//! Run with `cargo bench -p mcpcord-memory --bench vectors`; `VECTORS_MAX=100000` skips the 1 M
//! run. Prints one line per size; criterion times the 100 k query as well.

use std::time::{Duration, Instant};

mod common;

use common::{Rng, Space, rss_bytes};
use criterion::Criterion;
use mcpcord_memory::vectors::{DEFAULT_CANDIDATES, VectorIndex, cosine, rerank};
use mcpcord_memory::{ConversationId, ConversationKey, MessageId, NewMessage, Scope, Store};

const QUERIES: usize = 300;
const EXACT_QUERIES: usize = 50;
const TOP: usize = 10;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// The index's answer: its candidates re-ranked exactly from `data`.
fn search(index: &VectorIndex, data: &[Vec<f32>], query: &[f32]) -> Vec<MessageId> {
    let candidates = index.candidates(query, None, DEFAULT_CANDIDATES);
    let pairs: Vec<(MessageId, Vec<f32>)> = candidates
        .into_iter()
        .map(|id| (id, data[id.0 as usize].clone()))
        .collect();
    rerank(query, &pairs, TOP)
        .into_iter()
        .map(|(id, _)| id)
        .collect()
}

/// The exact top 10 by brute force.
fn exact(data: &[Vec<f32>], query: &[f32]) -> Vec<MessageId> {
    let mut scored: Vec<(usize, f32)> = data
        .iter()
        .enumerate()
        .map(|(i, v)| (i, cosine(query, v)))
        .collect();
    scored.select_nth_unstable_by(TOP, |a, b| b.1.total_cmp(&a.1));
    scored.truncate(TOP);
    scored
        .into_iter()
        .map(|(i, _)| MessageId(i as i64))
        .collect()
}

fn run(n: usize, criterion: &mut Criterion) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let space = Space::new(&mut rng);
    let data = space.vectors(n, &mut rng);
    let queries = space.vectors(QUERIES, &mut rng);

    let before = rss_bytes();
    let started = Instant::now();
    let index = VectorIndex::new("bench");
    for (i, v) in data.iter().enumerate() {
        index.insert(MessageId(i as i64), ConversationId((i % 5_000) as i64), v);
    }
    index.shrink_to_fit();
    let build = started.elapsed();
    let added = rss_bytes().saturating_sub(before);

    let mut times: Vec<Duration> = queries
        .iter()
        .map(|q| {
            let t = Instant::now();
            std::hint::black_box(search(&index, &data, q));
            t.elapsed()
        })
        .collect();
    times.sort();
    let hits: usize = queries[..EXACT_QUERIES]
        .iter()
        .map(|q| {
            let truth = exact(&data, q);
            search(&index, &data, q)
                .iter()
                .filter(|id| truth.contains(id))
                .count()
        })
        .sum();
    let recall = hits as f64 / (EXACT_QUERIES * TOP) as f64;
    let per_million = |bytes: usize| bytes as f64 / n as f64 * 1e6 / 1_048_576.0;
    println!(
        "{n:>8} vectors: query p50 {:?} p95 {:?}; recall@10 {recall:.3}; build {build:?}; \
         RSS added {:.1} MB per million ({:.1} MB per million counted by the index)",
        percentile(&times, 0.5),
        percentile(&times, 0.95),
        per_million(added),
        per_million(index.heap_bytes()),
    );
    if n <= 100_000 {
        let query = queries[0].clone();
        criterion.bench_function(&format!("query {n}"), |b| {
            b.iter(|| search(&index, &data, &query));
        });
    }
}

/// Loading 100 k stored vectors from SQLite into a fresh index, as the indexer does at start.
async fn load_from_sqlite(n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}/bench.sqlite", dir.path().display()))
        .await
        .unwrap();
    let conversation = store
        .conversation(&ConversationKey::new("bench"), Scope::default(), None)
        .await
        .unwrap();
    let mut rng = Rng(42);
    let space = Space::new(&mut rng);
    for _ in 0..n / 1_000 {
        let messages = (0..1_000)
            .map(|i| NewMessage::user(format!("m{i}")))
            .collect();
        let ids = store.commit_turn(conversation.id, messages).await.unwrap();
        let data = space.vectors(ids.len(), &mut rng);
        let pairs: Vec<(MessageId, Vec<f32>)> = ids.into_iter().zip(data).collect();
        store.save_embeddings("bench", &pairs).await.unwrap();
    }
    let started = Instant::now();
    let index = VectorIndex::new("bench");
    let mut after = MessageId(0);
    loop {
        let page = store
            .embeddings_after("bench", after, 10_000)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = last.id;
        for e in &page {
            index.insert(e.id, e.conversation, &e.vector);
        }
    }
    println!(
        "{:>8} vectors loaded from SQLite in {:?}",
        index.len(),
        started.elapsed()
    );
}

fn main() {
    let max: usize = std::env::var("VECTORS_MAX")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    for n in [100_000, 1_000_000] {
        if n <= max {
            run(n, &mut criterion);
        }
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(load_from_sqlite(100_000));
    criterion.final_summary();
}
