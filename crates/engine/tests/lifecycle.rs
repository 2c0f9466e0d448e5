//! The engine as one part of a process: built under the process's token, cancelling that token
//! stops its running turns at once (they are saved as interrupted), while the engine's own
//! orderly stop (`shutdown`) leaves the process's token alone.

mod common;

use std::time::{Duration, Instant};

use common::{TIMEOUT, say, tool_model};
use mcpcord_engine::{Engine, EngineConfig, TurnEvent, TurnSummary};
use mcpcord_memory::Store;
use mcpcord_testkit::FakeOllama;
use mcpcord_testkit::fake_ollama::Script;
use tokio_util::sync::CancellationToken;

/// An engine under `parent`, over the fake model server and a fresh database.
async fn engine_under(
    fake: &FakeOllama,
    dir: &tempfile::TempDir,
    parent: &CancellationToken,
) -> Engine {
    let store = Store::connect(&format!("sqlite://{}/engine.sqlite", dir.path().display()))
        .await
        .unwrap();
    let pool = common::fake_pool(fake);
    let config = EngineConfig {
        default_model: "llama3.2".into(),
        ..EngineConfig::default()
    };
    Engine::new_under(pool, None, store, config, parent)
}

/// Runs the turn until its first text arrives, then calls `then`, and returns its summary.
async fn first_text_then(engine: &Engine, then: impl FnOnce()) -> TurnSummary {
    let mut turn = engine.start_turn(say("c1", "talk slowly"));
    let mut then = Some(then);
    tokio::time::timeout(TIMEOUT, async {
        while let Some(event) = turn.next().await {
            match event {
                TurnEvent::Text(_) => {
                    if let Some(then) = then.take() {
                        then();
                    }
                }
                TurnEvent::Done(summary) => return summary,
                TurnEvent::Failed(error) => panic!("{error}"),
                _ => {}
            }
        }
        panic!("no Done");
    })
    .await
    .expect("the turn ended in time")
}

#[tokio::test]
async fn cancelling_the_process_token_stops_running_turns() {
    let fake = FakeOllama::start_with_models(vec![tool_model()]).await;
    let dir = tempfile::tempdir().unwrap();
    let root = CancellationToken::new();
    let engine = engine_under(&fake, &dir, &root).await;
    fake.push_script(Script::new().text("Once upon ").stall());

    let started = Instant::now();
    let summary = first_text_then(&engine, || root.cancel()).await;
    assert!(summary.interrupted, "{summary:?}");
    assert!(summary.text.starts_with("Once upon"), "{summary:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "stopped promptly"
    );
    // The orderly stop after the hard one still returns (nothing is left to drain).
    tokio::time::timeout(TIMEOUT, engine.shutdown(Duration::from_secs(5)))
        .await
        .expect("the engine stopped");
}

#[tokio::test]
async fn the_engines_own_stop_leaves_the_process_token_alone() {
    let fake = FakeOllama::start_with_models(vec![tool_model()]).await;
    let dir = tempfile::tempdir().unwrap();
    let root = CancellationToken::new();
    let engine = engine_under(&fake, &dir, &root).await;
    fake.push_script(Script::new().text("Once upon ").stall());

    let stopping = engine.clone();
    let summary = first_text_then(&engine, move || {
        // No grace: the running turn is cut by the engine's own token.
        tokio::spawn(async move { stopping.shutdown(Duration::ZERO).await });
    })
    .await;
    assert!(summary.interrupted, "{summary:?}");
    assert!(!engine.accepting());
    assert!(
        !root.is_cancelled(),
        "a part's stop never cancels the process"
    );
}
