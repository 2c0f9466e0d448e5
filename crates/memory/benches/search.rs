//! Keyword search latency at 100k messages (1M with `MCPCORD_BENCH_MESSAGES=1000000`), on SQLite
//! and PostgreSQL (`TEST_DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/test`; a
//! schema of its own, dropped at the end).
//!
//! The corpus is synthetic chat: words drawn from a 5,000-word vocabulary with Zipf
//! frequencies, 5–30 words a message, 100 messages a conversation, conversations spread over
//! 8 guilds (a tenth outside any guild) and 50 people. Queries run from a person's scope (their
//! conversations in one guild) and the operator's (everything): two mid-frequency words (AND),
//! and one frequent word (the slow case of both indexes).
//!
//! Run with `cargo bench -p mcpcord-memory --bench search`. Prints p50 / p95 per query kind,
//! then criterion's own report of the person's two-word query.

use std::time::{Duration, Instant};

use criterion::Criterion;
use mcpcord_memory::{GuildId, SearchQuery, SearchScope, Store, UserId};
use sqlx::Connection;

/// Messages in the corpus unless `MCPCORD_BENCH_MESSAGES` says otherwise.
const DEFAULT_MESSAGES: usize = 100_000;
const PER_CONVERSATION: usize = 100;
const GUILDS: u64 = 8;
const PEOPLE: u64 = 50;
const VOCABULARY: usize = 5_000;
/// Queries per kind for the percentiles.
const QUERIES: usize = 50;
/// Rows per insert transaction.
const BATCH: usize = 5_000;

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

    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}/bench.sqlite", dir.path().display());
    runtime.block_on(populate(&sqlite, messages));
    bench("SQLite", &sqlite, &runtime, &mut criterion);

    let server = std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let schema = format!("mcpcord_bench_{}", uuid::Uuid::new_v4().simple());
    runtime.block_on(admin(&server, &format!("CREATE SCHEMA {schema}")));
    let separator = if server.contains('?') { '&' } else { '?' };
    let postgres = format!("{server}{separator}options[search_path]={schema}");
    runtime.block_on(populate(&postgres, messages));
    bench("PostgreSQL", &postgres, &runtime, &mut criterion);
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
/// it as the store's writes would), after the store created the schema.
async fn populate(url: &str, messages: usize) {
    let store = Store::connect(url).await.unwrap();
    store.close().await;
    sqlx::any::install_default_drivers();
    let url = if url.starts_with("sqlite") {
        format!("{url}?mode=rwc")
    } else {
        url.to_owned()
    };
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
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
    pool.close().await;
    eprintln!(
        "{url}: {messages} messages written and indexed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
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

fn bench(name: &str, url: &str, runtime: &tokio::runtime::Runtime, criterion: &mut Criterion) {
    let store = runtime.block_on(Store::connect(url)).unwrap();
    for (kind, words, scope) in queries() {
        let query = SearchQuery::new(words, scope);
        let mut samples = Vec::with_capacity(QUERIES);
        let mut found = 0;
        runtime.block_on(async {
            // Warm the caches first.
            for _ in 0..10 {
                store.keyword_search(&query).await.unwrap();
            }
            for _ in 0..QUERIES {
                let started = Instant::now();
                found = store.keyword_search(&query).await.unwrap().len();
                samples.push(started.elapsed());
            }
        });
        let (p50, p95) = percentiles(samples);
        println!(
            "{name}: keyword search, {kind}: p50 {:.2} ms, p95 {:.2} ms ({found} hits)",
            ms(p50),
            ms(p95)
        );
    }
    let (_, words, scope) = queries().remove(0);
    let query = SearchQuery::new(words, scope);
    criterion.bench_function(&format!("{name} keyword search, person, two words"), |b| {
        b.to_async(runtime)
            .iter(|| async { store.keyword_search(&query).await.unwrap() })
    });
    runtime.block_on(store.close());
}

fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.95))
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
