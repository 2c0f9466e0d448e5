//! A process killed (SIGKILL) in the middle of writing a turn: reopening the database shows every
//! finished turn and the user's message, and nothing of the unfinished turn.
//!
//! The test re-runs its own binary as the child, selecting the `crash_child` test, which does
//! nothing unless the parent set `MCPCORD_MEMORY_CRASH_URL`.

#![cfg(unix)]

#[macro_use]
mod common;

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::Duration;

use common::TestDb;
use mcpcord_memory::{ConversationKey, NewMessage, Scope, Store};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

/// Tells the child which database to write to.
const CHILD_URL: &str = "MCPCORD_MEMORY_CRASH_URL";
/// Printed by the child just before it starts the turn that will be cut.
const STARTED: &str = "MCPCORD-CRASH-CHILD: big turn started";
/// Printed by the child if that turn ever finishes (it must not, before the kill).
const COMMITTED: &str = "MCPCORD-CRASH-CHILD: big turn committed";
/// Messages in the turn that is cut: enough to take seconds to write.
const BIG_TURN: usize = 50_000;
/// How long the child writes before it is killed.
const KILL_AFTER: Duration = Duration::from_millis(300);

fn key() -> ConversationKey {
    ConversationKey::new("discord:thread:crash")
}

on_both!(a_crash_mid_turn_keeps_every_finished_turn_and_the_users_message);

/// The child's part; a no-op in an ordinary test run.
#[tokio::test]
async fn crash_child() {
    let Ok(url) = std::env::var(CHILD_URL) else {
        return;
    };
    let store = Store::connect(&url)
        .await
        .expect("the child opens the database");
    let conversation = store
        .conversation(&key(), Scope::default(), None)
        .await
        .unwrap();
    store
        .add_user_message(conversation.id, NewMessage::user("first question"))
        .await
        .unwrap();
    store
        .commit_turn(
            conversation.id,
            vec![
                NewMessage::assistant("")
                    .with_tool_calls(json!([{"function": {"name": "search"}}])),
                NewMessage::tool_result("search", "a result"),
                NewMessage::assistant("first answer"),
            ],
        )
        .await
        .unwrap();
    store
        .add_user_message(conversation.id, NewMessage::user("second question"))
        .await
        .unwrap();

    let big: Vec<NewMessage> = (0..BIG_TURN)
        .map(|n| NewMessage::assistant(format!("part {n} of an answer never finished")))
        .collect();
    println!("{STARTED}");
    store.commit_turn(conversation.id, big).await.unwrap();
    println!("{COMMITTED}");
    std::future::pending::<()>().await;
}

async fn a_crash_mid_turn_keeps_every_finished_turn_and_the_users_message(db: TestDb) {
    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_URL, db.url())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the child");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("the child starts its big turn within a minute")
            .unwrap();
        match line {
            Some(line) if line.contains(STARTED) => break,
            Some(_) => {}
            None => panic!(
                "the child exited before starting its big turn: {:?}",
                child.wait().await
            ),
        }
    }

    tokio::time::sleep(KILL_AFTER).await;
    child.start_kill().expect("SIGKILL the child");
    let status = child.wait().await.unwrap();
    assert_eq!(
        status.signal(),
        Some(9),
        "the child was killed by SIGKILL: {status:?}"
    );
    let mut rest = Vec::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        rest.push(line);
    }
    assert!(
        !rest.iter().any(|line| line.contains(COMMITTED)),
        "the big turn finished before the kill, so nothing was cut: raise BIG_TURN"
    );

    let store = db.connect().await;
    let conversation = store
        .find_conversation(&key())
        .await
        .unwrap()
        .expect("the conversation");
    let history = store.history(conversation.id, BIG_TURN * 2).await.unwrap();
    let contents: Vec<&str> = history.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(
        contents,
        [
            "first question",
            "",
            "a result",
            "first answer",
            "second question"
        ]
    );
    assert_eq!(
        history[1].tool_calls,
        Some(json!([{"function": {"name": "search"}}]))
    );

    // The store works on after the crash.
    store
        .commit_turn(
            conversation.id,
            vec![NewMessage::assistant("second answer")],
        )
        .await
        .unwrap();
    assert_eq!(
        store.history(conversation.id, 1).await.unwrap()[0].content,
        "second answer"
    );
    store.close().await;
}
