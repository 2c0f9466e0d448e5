//! `mcpcord memory …` through the real binary, on a SQLite database written by the store:
//! the operator's search (every guild and DM, one guild's, one user's, by tag, category or
//! entity; lines or JSON), stats, reindex, and the facts remembered about a person.

use std::path::Path;
use std::process::Output;

use mcpcord_memory::{
    ChannelId, ConversationKey, Entity, EntityKind, GuildId, NewMessage, Scope, Store, UserId,
};
use serde_json::Value;

mod common;

const GUILD: u64 = 1_300_000_000_000_000_001;
const OTHER_GUILD: u64 = 1_300_000_000_000_000_002;
const ALICE: u64 = 1_300_000_000_000_000_003;
const BOB: u64 = 1_300_000_000_000_000_004;

fn mcpcord(dir: &Path, args: &[&str]) -> Output {
    common::mcpcord()
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the mcpcord binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Three conversations in the default database file of `dir`: Alice's in a guild (with the
/// model's answer and a tool result), Bob's in another guild, Alice's DM.
async fn populate(dir: &Path) {
    let url = format!("sqlite://{}/mcpcord.sqlite", dir.display());
    let store = Store::connect(&url).await.unwrap();
    let talks = [
        ("a", Some(GUILD), ALICE, "the aurora was green tonight"),
        ("b", Some(OTHER_GUILD), BOB, "aurora over the fjord"),
        ("c", None, ALICE, "aurora photos in my dm"),
    ];
    for (key, guild, user, words) in talks {
        let scope = Scope {
            guild_id: guild.map(GuildId::new),
            channel_id: Some(ChannelId::new(77)),
            user_id: Some(UserId::new(user)),
        };
        let conversation = store
            .conversation(&ConversationKey::new(key), scope, Some(UserId::new(user)))
            .await
            .unwrap();
        store
            .add_user_message(
                conversation.id,
                NewMessage::user(words).with_author(UserId::new(user), "someone"),
            )
            .await
            .unwrap();
        if key == "b" {
            let place = Entity {
                kind: EntityKind::Place,
                name: "Tromsø".into(),
            };
            store
                .save_topics(conversation.id, None, Some("hobbies"), &[place])
                .await
                .unwrap();
        }
        if key == "c" {
            store
                .tag_conversation(conversation.id, "photos", Some(UserId::new(user)))
                .await
                .unwrap();
        }
        if key == "a" {
            store
                .commit_turn(
                    conversation.id,
                    vec![
                        NewMessage::tool_result("weather", "aurora forecast tool output"),
                        NewMessage::assistant("An aurora is charged particles meeting the air."),
                    ],
                )
                .await
                .unwrap();
        }
    }
    store.close().await;
}

fn json_hits(out: &Output) -> Vec<Value> {
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap_or_else(|e| panic!("JSON on stdout ({e}): {}", text(&out.stdout)))
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn memory_search_stats_and_reindex_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    populate(dir.path()).await;
    let dir = dir.path();

    // The operator sees every guild and DM; tool output is not indexed.
    let all = json_hits(&mcpcord(dir, &["memory", "search", "aurora", "--json"]));
    assert_eq!(all.len(), 4, "{all:#?}");
    assert!(all.iter().all(|hit| hit["role"] != "tool"));
    let dm = all.iter().find(|hit| hit["guild_id"].is_null()).unwrap();
    assert_eq!(dm["content"], "aurora photos in my dm");
    assert_eq!(dm["author_id"], ALICE.to_string());

    // One guild; one user; a limit; several words.
    let guild = json_hits(&mcpcord(
        dir,
        &[
            "memory",
            "search",
            "aurora",
            "--guild",
            &GUILD.to_string(),
            "--json",
        ],
    ));
    assert_eq!(guild.len(), 2, "{guild:#?}");
    let guild_id = GUILD.to_string();
    assert!(guild.iter().all(|hit| hit["guild_id"] == guild_id.as_str()));
    let bob = json_hits(&mcpcord(
        dir,
        &[
            "memory",
            "search",
            "aurora",
            "--user",
            &BOB.to_string(),
            "--json",
        ],
    ));
    assert_eq!(bob.len(), 1);
    assert_eq!(bob[0]["content"], "aurora over the fjord");
    let one = json_hits(&mcpcord(
        dir,
        &["memory", "search", "aurora", "-n", "1", "--json"],
    ));
    assert_eq!(one.len(), 1);
    let words = json_hits(&mcpcord(
        dir,
        &["memory", "search", "charged", "particles", "--json"],
    ));
    assert_eq!(words.len(), 1);
    assert_eq!(words[0]["role"], "assistant");

    // A tag, a category, an entity (any case).
    let only = |filter: &[&str]| {
        let mut args = vec!["memory", "search", "aurora", "--json"];
        args.extend_from_slice(filter);
        let hits = json_hits(&mcpcord(dir, &args));
        hits.iter()
            .map(|hit| hit["content"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(only(&["--tag", "#Photos"]), ["aurora photos in my dm"]);
    assert_eq!(only(&["--category", "Hobbies"]), ["aurora over the fjord"]);
    assert_eq!(only(&["--entity", "tromsø"]), ["aurora over the fjord"]);
    assert!(only(&["--category", "work"]).is_empty());
    let out = mcpcord(dir, &["memory", "search", "aurora", "--tag", "a/b"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("cannot be a tag"),
        "{}",
        text(&out.stderr)
    );

    // Lines for people.
    let out = mcpcord(dir, &["memory", "search", "fjord"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("WHEN"), "{stdout}");
    assert!(
        stdout.contains(&format!("guild {OTHER_GUILD} #77")),
        "{stdout}"
    );
    assert!(stdout.contains("aurora over the fjord"), "{stdout}");
    let out = mcpcord(dir, &["memory", "search", "nowhere"]);
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), "");
    assert!(text(&out.stderr).contains("nothing found"));

    // Stats and reindex.
    let out = mcpcord(dir, &["memory", "stats"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stats = text(&out.stdout);
    let value = |name: &str| {
        stats
            .lines()
            .find(|line| line.starts_with(name))
            .and_then(|line| line.split("  ").filter(|s| !s.is_empty()).nth(1))
            .unwrap_or_else(|| panic!("no {name} in {stats}"))
            .trim()
            .to_owned()
    };
    assert_eq!(value("messages"), "5");
    assert_eq!(value("indexed"), "4");
    assert_eq!(value("embedded"), "0");
    assert!(value("index size").ends_with('B'), "{stats}");
    assert_eq!(value("summaries"), "0 (of 0 conversations)");
    let out = mcpcord(dir, &["memory", "reindex"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "reindexed: 4 messages in the keyword index\n"
    );
    assert_eq!(
        json_hits(&mcpcord(dir, &["memory", "search", "aurora", "--json"])).len(),
        4
    );

    // A search needs words.
    let out = mcpcord(dir, &["memory", "search"]);
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test]
async fn memory_facts_lists_a_persons_facts_in_every_scope() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/mcpcord.sqlite", dir.path().display());
    let store = Store::connect(&url).await.unwrap();
    let alice = UserId::new(ALICE);
    store
        .add_fact(alice, Some(GuildId::new(GUILD)), "likes green tea", None)
        .await
        .unwrap();
    store
        .add_fact(alice, None, "is learning Welsh", None)
        .await
        .unwrap();
    store
        .add_fact(UserId::new(BOB), None, "plays the harp", None)
        .await
        .unwrap();
    store.close().await;
    let dir = dir.path();
    let alice_id = ALICE.to_string();

    let json = json_hits(&mcpcord(
        dir,
        &["memory", "facts", "--user", &alice_id, "--json"],
    ));
    assert_eq!(json.len(), 2, "{json:#?}");
    assert_eq!(json[0]["fact"], "likes green tea");
    assert_eq!(json[0]["guild_id"], GUILD.to_string());
    assert_eq!(json[0]["user_id"], alice_id);
    assert_eq!(json[1]["fact"], "is learning Welsh");
    assert!(json[1]["guild_id"].is_null() && json[1]["message_id"].is_null());

    let out = mcpcord(dir, &["memory", "facts", "--user", &alice_id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(table.starts_with("ID"), "{table}");
    assert!(table.contains(&format!("guild {GUILD}")) && table.contains("likes green tea"));
    assert!(table.contains("DM") && table.contains("is learning Welsh"));
    assert!(!table.contains("harp"), "{table}");

    let out = mcpcord(dir, &["memory", "facts", "--user", "5"]);
    assert!(out.status.success() && out.stdout.is_empty());
    assert!(text(&out.stderr).contains("nothing is remembered about user 5"));

    // The user is required, and --help says what it does.
    assert_eq!(mcpcord(dir, &["memory", "facts"]).status.code(), Some(2));
    let help = text(&mcpcord(dir, &["memory", "facts", "--help"]).stdout);
    assert!(
        help.contains("--user <ID>") && help.contains("--json"),
        "{help}"
    );
}
