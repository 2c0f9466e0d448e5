//! `mcpcord privacy …` through the real binary, on a SQLite database written by the store:
//! export prints exactly the person's data as JSON; forget refuses without confirmation when
//! nobody can be asked, forgets with --yes and says what went; the other person stays whole.

use std::path::Path;
use std::process::{Output, Stdio};

use mcpcord_memory::{ChannelId, ConversationKey, GuildId, NewMessage, Scope, Store, UserId};
use serde_json::Value;

mod common;

const GUILD: u64 = 1_400_000_000_000_000_001;
const ALICE: u64 = 1_400_000_000_000_000_003;
const BOB: u64 = 1_400_000_000_000_000_004;

fn mcpcord(dir: &Path, args: &[&str]) -> Output {
    common::mcpcord()
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("the mcpcord binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// One shared channel conversation (Alice asks, Bob asks, each answered) and a DM each.
async fn populate(dir: &Path) {
    let url = format!("sqlite://{}/mcpcord.sqlite", dir.display());
    let store = Store::connect(&url).await.unwrap();
    store
        .upsert_user(UserId::new(ALICE), "alice")
        .await
        .unwrap();
    store.upsert_user(UserId::new(BOB), "bob").await.unwrap();
    let channel = Scope {
        guild_id: Some(GuildId::new(GUILD)),
        channel_id: Some(ChannelId::new(77)),
        user_id: Some(UserId::new(ALICE)),
    };
    let shared = store
        .conversation(
            &ConversationKey::new("shared"),
            channel,
            Some(UserId::new(ALICE)),
        )
        .await
        .unwrap()
        .id;
    for (who, name, words) in [(ALICE, "alice", "tapirlute"), (BOB, "bob", "ibisdrum")] {
        let user = UserId::new(who);
        store
            .add_user_message(shared, NewMessage::user(words).with_author(user, name))
            .await
            .unwrap();
        store
            .commit_turn(
                shared,
                vec![NewMessage::assistant(format!("answer to {name}"))],
            )
            .await
            .unwrap();
        let dm = Scope {
            guild_id: None,
            channel_id: Some(ChannelId::new(who ^ 1)),
            user_id: Some(user),
        };
        common_talk(
            &store,
            &format!("dm-{name}"),
            dm,
            user,
            &format!("{name} private"),
        )
        .await;
    }
    store.close().await;
}

async fn common_talk(store: &Store, key: &str, scope: Scope, user: UserId, words: &str) {
    let conversation = store
        .conversation(&ConversationKey::new(key), scope, Some(user))
        .await
        .unwrap();
    store
        .add_user_message(
            conversation.id,
            NewMessage::user(words).with_author(user, "x"),
        )
        .await
        .unwrap();
}

fn export(dir: &Path, user: u64) -> (Value, String) {
    let out = mcpcord(dir, &["privacy", "export", "--user", &user.to_string()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let raw = text(&out.stdout);
    let json = serde_json::from_str(&raw).unwrap_or_else(|e| panic!("JSON ({e}): {raw}"));
    (json, raw)
}

#[tokio::test]
async fn privacy_export_and_forget_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    populate(dir.path()).await;
    let dir = dir.path();

    let (alice, raw) = export(dir, ALICE);
    assert_eq!(alice["user"], ALICE.to_string());
    assert_eq!(alice["profile"]["name"], "alice");
    assert_eq!(alice["conversations"].as_array().unwrap().len(), 2);
    assert!(raw.contains("tapirlute") && raw.contains("answer to alice"));
    assert!(raw.contains("alice private"));
    for foreign in ["ibisdrum", "answer to bob", "bob private", &BOB.to_string()] {
        assert!(!raw.contains(foreign), "{foreign} in Alice's export: {raw}");
    }

    // Nobody at a terminal to ask: refused, nothing changed.
    let refused = mcpcord(dir, &["privacy", "forget", "--user", &ALICE.to_string()]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        text(&refused.stderr).contains("--yes"),
        "{}",
        text(&refused.stderr)
    );
    assert_eq!(
        export(dir, ALICE).0["conversations"],
        alice["conversations"]
    );

    let forgot = mcpcord(
        dir,
        &["privacy", "forget", "--user", &ALICE.to_string(), "--yes"],
    );
    assert!(forgot.status.success(), "{}", text(&forgot.stderr));
    let said = text(&forgot.stdout);
    assert!(said.contains("conversations deleted: 1"), "{said}");
    assert!(said.contains("replaced by a note: 1"), "{said}");
    assert!(said.contains("profile deleted: yes"), "{said}");

    let (after, raw) = export(dir, ALICE);
    assert!(after["profile"].is_null(), "{raw}");
    assert_eq!(after["conversations"], Value::Array(Vec::new()));
    assert!(!raw.contains("tapirlute"));
    let search = mcpcord(dir, &["memory", "search", "tapirlute", "--json"]);
    assert_eq!(text(&search.stdout).trim(), "[]");

    let (bob, raw) = export(dir, BOB);
    assert_eq!(bob["conversations"].as_array().unwrap().len(), 2, "{raw}");
    assert!(
        raw.contains("ibisdrum") && raw.contains("answer to bob") && raw.contains("bob private")
    );

    // Forgetting again finds nothing.
    let again = mcpcord(
        dir,
        &["privacy", "forget", "--user", &ALICE.to_string(), "--yes"],
    );
    assert!(text(&again.stdout).contains("nothing was stored"));
}
