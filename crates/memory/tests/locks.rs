//! Conversation locks: one turn of a conversation at a time, in the order asked, across two
//! stores on one database (two bot processes on PostgreSQL), and within one process on SQLite.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mcpcord_memory::{ConversationKey, Store};

#[macro_use]
mod common;
use common::{Kind, TestDb};

/// A key no other test (or earlier run) uses: advisory locks are server-wide.
fn fresh_key() -> ConversationKey {
    ConversationKey::new(format!("test:locks:{}", uuid::Uuid::new_v4().simple()))
}

/// Three holders ask in turn while the first holds the lock; each records when it got in and
/// out. Returns the record.
async fn take_in_turn(stores: [Store; 3], key: &ConversationKey) -> Vec<String> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let first = stores[0]
        .conversation_lock(key)
        .await
        .expect("the first lock");
    log.lock().unwrap().push("0 in".to_owned());
    let mut waiting = Vec::new();
    for (i, store) in stores.iter().enumerate().skip(1) {
        let (store, key, log) = (store.clone(), key.clone(), log.clone());
        waiting.push(tokio::spawn(async move {
            let held = store.conversation_lock(&key).await.expect("a lock");
            log.lock().unwrap().push(format!("{i} in"));
            tokio::time::sleep(Duration::from_millis(50)).await;
            log.lock().unwrap().push(format!("{i} out"));
            drop(held);
        }));
        // Each asks after the one before is in line.
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert_eq!(*log.lock().unwrap(), ["0 in"], "the others wait");
    log.lock().unwrap().push("0 out".to_owned());
    drop(first);
    for task in waiting {
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("every waiter got the lock")
            .unwrap();
    }
    log.lock().unwrap().clone()
}

on_both!(turns_of_one_conversation_run_one_at_a_time_in_order_across_stores);

/// Three stores on one database: as good as three processes on PostgreSQL (each lock is held
/// on a session of its own); one process's in-process locks on SQLite (a single-process
/// database: each store here has its own locks, so one store serves all three).
async fn turns_of_one_conversation_run_one_at_a_time_in_order_across_stores(db: TestDb) {
    let one = db.connect().await;
    let stores = match db.kind {
        Kind::Postgres => [one, db.connect().await, db.connect().await],
        Kind::Sqlite => [one.clone(), one.clone(), one],
    };
    let key = fresh_key();
    let record = take_in_turn(stores.clone(), &key).await;
    assert_eq!(record, ["0 in", "0 out", "1 in", "1 out", "2 in", "2 out"]);
    // Another conversation is not held up by this one.
    let held = stores[0].conversation_lock(&key).await.unwrap();
    let other = tokio::time::timeout(
        Duration::from_secs(5),
        stores[1].conversation_lock(&fresh_key()),
    )
    .await
    .expect("another conversation's lock is free")
    .unwrap();
    drop((held, other));
    // Released on drop: the next one gets it.
    let next = tokio::time::timeout(Duration::from_secs(5), stores[2].conversation_lock(&key))
        .await
        .expect("released")
        .unwrap();
    drop(next);
}
