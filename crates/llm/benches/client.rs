//! Client overhead against FakeOllama on 127.0.0.1: per request (compared with a bare reqwest
//! round trip to the same endpoint) and per streamed chunk.
//!
//! Run with `cargo bench -p mcpcord-llm`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::StreamExt;
use mcpcord_llm::{Backend, BackendSpec, ChatRequest, Message, ServerKind, collect};
use mcpcord_testkit::FakeOllama;
use mcpcord_testkit::fake_ollama::{FakeModel, Script};
use serde_json::json;

const CHUNKS: usize = 1000;

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let fake = runtime.block_on(FakeOllama::start_with_models([FakeModel::new("bench")]));
    let http = mcpcord_llm::http_client();
    let backend = Backend::new(
        BackendSpec::new("bench", ServerKind::Ollama, fake.url().parse().unwrap()),
        http.clone(),
    );
    let request = ChatRequest::new("bench", vec![Message::user("hi")]);

    let mut group = c.benchmark_group("request");
    group.bench_function("bare reqwest round trip", |b| {
        let url = format!("{}/api/chat", fake.url());
        let body = json!({"model": "bench", "messages": [{"role": "user", "content": "hi"}]});
        b.to_async(&runtime).iter(|| async {
            fake.push_script(Script::reply("ok"));
            let text = http
                .post(&url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(text.contains("\"done\":true"));
        });
    });
    group.bench_function("mcpcord-llm streamed request", |b| {
        b.to_async(&runtime).iter(|| async {
            fake.push_script(Script::reply("ok"));
            let response = collect(backend.chat(&request).await.unwrap())
                .await
                .unwrap();
            assert_eq!(response.text, "ok");
        });
    });
    group.finish();

    let mut group = c.benchmark_group("stream");
    group.throughput(Throughput::Elements(CHUNKS as u64));
    group.sample_size(20);
    let long = (0..CHUNKS).fold(Script::new(), |script, i| script.text(&format!("t{i} ")));
    group.bench_function("1000 chunks", |b| {
        b.to_async(&runtime).iter(|| async {
            fake.push_script(long.clone());
            let mut stream = backend.chat(&request).await.unwrap();
            let mut events = 0;
            while let Some(event) = stream.next().await {
                event.unwrap();
                events += 1;
            }
            assert_eq!(events, CHUNKS + 1);
        });
    });
    group.finish();
    fake.clear_requests();
}

criterion_group!(benches, bench);
criterion_main!(benches);
