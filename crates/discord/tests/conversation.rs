//! Conversation identity for Discord places, with a real engine over SQLite: which stored
//! conversation a message continues.

use mcpcord_discord::conversation::{
    RecentAnswers, Whereabouts, chain_key, channel_key, dm_key, identify, thread_key,
};
use mcpcord_engine::Engine;
use twilight_model::id::Id;

fn at(message: u64) -> Whereabouts {
    Whereabouts {
        message: Id::new(message),
        channel: Id::new(10),
        dm: false,
        thread: false,
        always: false,
        reply_to: None,
    }
}

/// An engine over an empty database and no backends.
async fn engine(dir: &tempfile::TempDir) -> Engine {
    let store =
        mcpcord_memory::Store::connect(&format!("sqlite://{}/c.sqlite", dir.path().display()))
            .await
            .unwrap();
    let pool = mcpcord_llm::BackendPool::new(Vec::new(), Default::default());
    Engine::new(pool, None, store, Default::default())
}

#[tokio::test]
async fn places_map_to_keys() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&dir).await;
    assert_eq!(
        identify(&engine, &RecentAnswers::default(), &at(5)).await,
        chain_key(5)
    );
    let dm = Whereabouts { dm: true, ..at(5) };
    assert_eq!(
        identify(&engine, &RecentAnswers::default(), &dm).await,
        dm_key(10)
    );
    let thread = Whereabouts {
        thread: true,
        ..at(5)
    };
    assert_eq!(
        identify(&engine, &RecentAnswers::default(), &thread).await,
        thread_key(10)
    );
    let reply = Whereabouts {
        reply_to: Some(Id::new(3)),
        ..at(5)
    };
    assert_eq!(
        identify(&engine, &RecentAnswers::default(), &reply).await,
        chain_key(3)
    );
    let always = Whereabouts {
        always: true,
        ..at(5)
    };
    assert_eq!(
        identify(&engine, &RecentAnswers::default(), &always).await,
        channel_key(10)
    );
}

#[tokio::test]
async fn a_reply_to_an_answer_not_yet_stored_continues_its_conversation() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&dir).await;
    let recent = RecentAnswers::default();
    recent.remember(Id::new(3), dm_key(99));
    let reply = Whereabouts {
        reply_to: Some(Id::new(3)),
        ..at(5)
    };
    assert_eq!(identify(&engine, &recent, &reply).await, dm_key(99));
}
